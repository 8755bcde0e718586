"""Benchmark of a waves rollout (playbooks/rollout.yml) against a lab fleet, with its lower bound.

Starts ``python -m lab serve --clients N`` in a subprocess (loopback only, a random free
127.x.y.1 range, the lab backend on), then runs the real ``ansible-playbook playbooks/rollout.yml``
twice: a first install of 9.3.0 over the lab's waves (pilot, wave_1..wave_3, each cut at the
backend's max parallel syncs), and a rerun (the resumption case: nothing left to do). The lab's
users are set to close Office as soon as they are asked, so the Office gate costs one poll, not
a user's reaction time.

Per phase it reports wall time, controller CPU (user + sys of the ansible-playbook process tree,
from the children's rusage), the lab process's CPU, and WinRM commands per host from the lab's
counters, next to the lower bound of the same work:

- commands: one per step that must touch the host - read the installed products, look for Office
  processes, create the package cache, one per package file copied (the .msi and its payload
  files), msiexec; a rerun needs only the first.
- time: the batches run one after another and a batch lasts at least as long as its slowest
  msiexec, so the sum over batches of the longest msiexec (simulated seconds, from the lab's
  msiexec history) divided by the time scale.

    .venv/bin/python bench/rollout.py --clients 200 [1000] [--forks 50] [--time-scale 120]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from lab.control import ControlClient  # noqa: E402
from lab.msi import build_packages  # noqa: E402

BIN = Path(sys.executable).parent
MAX_CLIENTS = 1000
PHASES = (("install", "9.3.0"), ("rerun", "9.3.0"))
# The lab backend's sync throttle that the rollout applies first and then caps every batch at.
MAX_PARALLEL_SYNCS = 200
READY_SECONDS = 120


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """User + sys seconds of a running process (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _clock_ticks()


class Lab:
    """``python -m lab serve`` in a subprocess, stopped on exit whatever happens."""

    def __init__(self, clients: int, workdir: Path, time_scale: float) -> None:
        self.inventory = workdir / "hosts.yml"
        out = workdir / "serve.out"
        for _ in range(8):
            base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.1"
            with out.open("w") as handle:
                self.proc = subprocess.Popen(
                    [
                        str(BIN / "python"),
                        "-m",
                        "lab",
                        "serve",
                        "--clients",
                        str(clients),
                        "--time-scale",
                        str(time_scale),
                        "--base-address",
                        base,
                        "--address-mode",
                        "ip",
                        "--state-dir",
                        str(workdir / "state"),
                        "--inventory",
                        str(self.inventory),
                        "--backend-packages",
                        str(REPO / ".tmp" / "lab-msi"),
                    ],
                    cwd=REPO,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + READY_SECONDS
            while time.monotonic() < deadline and self.proc.poll() is None:
                if "lab ready" in out.read_text():
                    self.control = ControlClient(
                        json.loads((workdir / "state" / "lab.json").read_text())["control_url"]
                    )
                    return
                time.sleep(0.2)
            text = out.read_text()
            self.stop()
            if "address already in use" not in text.lower():
                raise RuntimeError(f"the lab did not start:\n{text[-2000:]}")
        raise RuntimeError("no free loopback range for the lab after 8 attempts")

    def cpu(self) -> float:
        return _proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _playbook(inventory: Path, src: Path, forks: int, timeout: float, log: Path) -> tuple[int, float, float]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tmp" / "collections"),
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    extra = {
        "rollout_package_src": str(src),
        "rollout_backend_settings": {"max_parallel_syncs": MAX_PARALLEL_SYNCS},
        "office_gate_interval": 1,
        "office_gate_attempts": 30,
    }
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "rollout.yml")]
    command += ["-e", json.dumps(extra)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with log.open("w") as handle:
        proc = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu


def _plan_batches(log: Path) -> list[tuple[str, int]]:
    """The batches the rollout printed in its plan ("batch 2: wave_1 part 1/2, 159 host(s)")."""
    batches = []
    for raw in log.read_text().splitlines():
        line = raw.strip().strip('",')
        if line.startswith("batch ") and "host(s)" in line:
            wave = line.split(": ", 1)[1].split(",")[0].split(" part ")[0]
            batches.append((wave, int(line.rsplit(", ", 1)[1].split()[0])))
    return batches


def _lower_bound_seconds(control: ControlClient, hosts: list[str], batch_hosts: list[list[str]], scale: float) -> float:
    durations = {}
    for host in hosts:
        history = control.host(host)["msiexec_history"]
        durations[host] = history[-1]["duration"] if history else 0.0
    return sum(max(durations[h] for h in batch) for batch in batch_hosts if batch) / scale


def bench(clients: int, args: argparse.Namespace, deadline: float) -> list[dict[str, t.Any]]:
    rows: list[dict[str, t.Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-rollout-{clients}-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        lab = Lab(clients, workdir, args.time_scale)
        try:
            startup = time.monotonic() - started
            control = lab.control
            hosts = sorted(h["name"] for h in control.hosts() if h["kind"] == "client")
            for host in hosts:
                # Users close Office the moment they are asked: the gate costs one poll.
                control.control(host, {"behaviour": {"on_message": "close", "close_delay": [0, 0]}})
            for phase, version in PHASES:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"time budget of {args.max_seconds:g}s spent before {phase}")
                control.reset_counters()
                lab_cpu = lab.cpu()
                log = workdir / f"{phase}.log"
                rc, wall, cpu = _playbook(lab.inventory, args.packages / f"machine-{version}", args.forks, left, log)
                if rc != 0:
                    raise RuntimeError(f"ansible-playbook failed with rc {rc}:\n{log.read_text()[-4000:]}")
                counters = [control.counters(h) for h in hosts]
                plan = _plan_batches(log)
                inventory = json.loads(
                    subprocess.run(
                        [str(BIN / "ansible-inventory"), "-i", str(lab.inventory), "--list"],
                        capture_output=True,
                        text=True,
                        check=True,
                        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
                    ).stdout
                )
                # Rebuild the batches' hosts from the waves in play order, cut as the plan printed them.
                batch_hosts: list[list[str]] = []
                offsets: dict[str, int] = {}
                for wave, size in plan:
                    members = inventory.get(wave, {}).get("hosts", [])
                    start = offsets.get(wave, 0)
                    batch_hosts.append(members[start : start + size])
                    offsets[wave] = start + size
                files = 4  # the .msi and the three payload files of the lab package
                installing = phase == "install"
                rows.append(
                    {
                        "clients": clients,
                        "phase": phase,
                        "startup": startup,
                        "batches": len(plan),
                        "wall": wall,
                        "controller_cpu": cpu,
                        "lab_cpu": lab.cpu() - lab_cpu,
                        "commands": statistics.fmean(c.get("commands", 0) for c in counters),
                        "commands_max": max(c.get("commands", 0) for c in counters),
                        "commands_min": (1 + 1 + 1 + files + 1) if installing else 1,
                        "time_min": _lower_bound_seconds(control, hosts, batch_hosts, args.time_scale)
                        if installing
                        else 0.0,
                        "kinds": {
                            k: round(sum(c.get(k, 0) for c in counters) / len(hosts), 2)
                            for k in sorted({k for c in counters for k in c})
                            if k.startswith(("primitive:", "builtin:"))
                        },
                    }
                )
                print(_format_row(rows[-1]), flush=True)
                print(f"  per host: {rows[-1]['kinds']}", flush=True)
        finally:
            lab.stop()
    return rows


HEADER = (
    "| clients | phase | batches | wall | lower bound | controller CPU | lab CPU "
    "| WinRM cmds/host (max) | lower bound |\n|---|---|---|---|---|---|---|---|---|"
)


def _format_row(row: dict[str, t.Any]) -> str:
    return (
        f"| {row['clients']} | {row['phase']} | {row['batches']} | {row['wall']:.1f} s | {row['time_min']:.1f} s "
        f"| {row['controller_cpu']:.1f} s | {row['lab_cpu']:.1f} s | {row['commands']:.2f} ({row['commands_max']}) "
        f"| {row['commands_min']} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[200])
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=120.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="time budget for the whole benchmark")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if any(not 1 <= n <= MAX_CLIENTS for n in args.clients):
        parser.error(f"--clients must be from 1 to {MAX_CLIENTS}")
    args.packages = REPO / ".tmp" / "lab-msi"
    build_packages(args.packages)
    deadline = time.monotonic() + args.max_seconds
    print(HEADER, flush=True)
    rows = [row for clients in args.clients for row in bench(clients, args, deadline)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
