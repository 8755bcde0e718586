"""Benchmark of the lab's WinRM fleet: start-up time, memory, and sustained WinRM commands per second.

Starts ``python -m lab serve`` with N clients (one process, one event loop), then
drives it from K client processes running pywinrm (loopback only) for D seconds.
Each client process keeps one shell per host it talks to, like ansible-core's
winrm connection does, and runs the ``Get-HostInfo`` primitive over and over
(Command, Send, Receive, Signal: four HTTP requests per command).

    .venv/bin/python bench/lab_winrm.py --clients 1000 --workers 4 --duration 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from lab import collection  # noqa: E402

MAX_WORKERS = 16
MAX_DURATION = 300.0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(job: dict[str, t.Any], queue: t.Any) -> None:
    try:
        queue.put(_load(job["hosts"], job["scheme"], job["ca"], job["duration"], job["seed"]))
    except BaseException as exc:
        # Always report, so the parent never waits for a result that will not come.
        queue.put({"commands": 0, "errors": 1, "latencies": [], "shells": 0, "crash": repr(exc)})
        raise


def _load(hosts: list[dict[str, t.Any]], scheme: str, ca: str, duration: float, seed: int) -> dict[str, t.Any]:
    import base64

    import winrm

    winhost = collection.winhost()
    # What WinHost.run sends: the fixed bootstrap on the command line, the primitive on stdin.
    script = winhost.bootstrap_script()
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    args = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand", encoded]
    stdin = winhost.build_stdin("Get-HostInfo", {})
    rng = random.Random(seed)
    rng.shuffle(hosts)
    shells: dict[str, tuple[winrm.Protocol, str]] = {}
    done = errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + duration
    i = 0
    while time.monotonic() < deadline:
        h = hosts[i % len(hosts)]
        i += 1
        try:
            if h["name"] not in shells:
                p = winrm.Protocol(
                    f"{scheme}://{h['ansible_host']}:{h['ansible_port']}/wsman",
                    transport=h["ansible_winrm_transport"],
                    username=h["ansible_user"],
                    password=h["ansible_password"],
                    server_cert_validation="validate",
                    ca_trust_path=ca,
                    message_encryption=h["ansible_winrm_message_encryption"],
                )
                shells[h["name"]] = (p, p.open_shell(codepage=65001))
            p, shell = shells[h["name"]]
            started = time.monotonic()
            command_id = p.run_command(shell, "PowerShell", args)
            p.send_command_input(shell, command_id, stdin, end=True)
            _out, _err, rc = p.get_command_output(shell, command_id)
            p.cleanup_command(shell, command_id)
            latencies.append(time.monotonic() - started)
            if rc == 0:
                done += 1
            else:
                errors += 1
        except Exception:
            errors += 1
            shells.pop(h["name"], None)
    for p, shell in shells.values():
        with contextlib.suppress(Exception):
            p.close_shell(shell)
    return {"commands": done, "errors": errors, "latencies": latencies, "shells": len(shells)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help=f"parallel pywinrm client processes (<= {MAX_WORKERS})")
    parser.add_argument("--duration", type=float, default=20.0, help=f"seconds of load (<= {MAX_DURATION:g})")
    parser.add_argument("--transport", choices=("basic", "ntlm"), default="ntlm")
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--hosts-per-worker", type=int, default=50, help="distinct hosts each worker talks to")
    parser.add_argument("--base-address", default="127.200.1.1")
    args = parser.parse_args()
    workers = max(1, min(args.workers, MAX_WORKERS))
    duration = max(1.0, min(args.duration, MAX_DURATION))

    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        inventory = Path(tmp) / "hosts.yml"
        state = Path(tmp) / "state"
        cmd = [sys.executable, "-m", "lab", "serve", "--clients", str(args.clients), "--inventory", str(inventory)]
        cmd += ["--state-dir", str(state), "--transport", args.transport, "--base-address", args.base_address]
        if args.https:
            cmd.append("--https")
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline().strip()
            startup = time.monotonic() - started
            if not ready.startswith("lab ready"):
                print(f"fleet failed to start: {ready!r}", file=sys.stderr)
                return 1
            rss_idle = _rss_kib(proc.pid)
            import yaml

            inv = yaml.safe_load(inventory.read_text())
            hosts_map = inv["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["hosts"]
            hosts = [dict(v, name=k) for k, v in hosts_map.items()]
            scheme = "https" if args.https else "http"
            ca = str(state / "ca.pem")
            queue: t.Any = multiprocessing.Queue()
            per = max(1, min(args.hosts_per_worker, len(hosts)))
            procs = []
            cpu_before = _cpu_seconds(proc.pid)
            load_started = time.monotonic()
            for w in range(workers):
                subset = [hosts[(w * per + j) % len(hosts)] for j in range(per)]
                job = {"hosts": subset, "scheme": scheme, "ca": ca, "duration": duration, "seed": w}
                p = multiprocessing.Process(target=_worker, args=(job, queue))
                p.start()
                procs.append(p)
            results = [queue.get(timeout=duration + 120) for _ in procs]
            elapsed = time.monotonic() - load_started
            for p in procs:
                p.join(30)
            cpu = _cpu_seconds(proc.pid) - cpu_before
            rss_loaded = _rss_kib(proc.pid)
            control = json.loads((state / "lab.json").read_text())["control_url"]
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(60)

    commands = sum(r["commands"] for r in results)
    errors = sum(r["errors"] for r in results)
    lat = sorted(x for r in results for x in r["latencies"])

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    report = {
        "hosts_started": args.clients,
        "transport": f"{args.transport}/{'https' if args.https else 'http'}",
        "startup_seconds": round(startup, 2),
        "rss_mib_idle": round(rss_idle / 1024, 1),
        "rss_mib_after_load": round(rss_loaded / 1024, 1),
        "workers": workers,
        "hosts_exercised": min(len(hosts), workers * per),
        "load_seconds": round(elapsed, 1),
        "commands": commands,
        "errors": errors,
        "commands_per_second": round(commands / elapsed, 1),
        "http_requests_per_second": round(4 * commands / elapsed, 1),
        "latency_ms_p50": round(pct(0.5), 1),
        "latency_ms_p99": round(pct(0.99), 1),
        "server_cpu_percent": round(100 * cpu / elapsed, 1),
        "control_url": control,
        "serve_exit_code": rc,
        "worker_crashes": [r["crash"] for r in results if "crash" in r],
    }
    print(json.dumps(report, indent=2))
    return 0 if errors == 0 and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
