"""Benchmark of msi_package over real WinRM: commands, HTTP requests and bytes per host, and wall time.

Starts a lab fleet in this process (loopback only, a random free 127.x.y.1 range), then
runs the real ``ansible-playbook playbooks/rollout.yml`` (the msi_install role:
msi_package, then product_info to verify) against it in four phases:

- ``install``: first install of 9.3.0 (package copied into the host cache, msiexec)
- ``rerun``: the same again (nothing to do: the idempotent case of every re-run rollout)
- ``upgrade``: 9.3.1 over 9.3.0 (new package copied, major upgrade)
- ``rerun``: 9.3.1 again

Per host it reports what the module counted itself (its ``winrm`` result: WinRM commands
including file transfers, and the bytes it sent) and what the lab's hosts counted for the
whole playbook (WinRM commands, HTTP requests, HTTP body bytes in and out).

    .venv/bin/python bench/msi_package.py --hosts 20 200
"""

from __future__ import annotations

import argparse
import json
import os
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
from lab.testing import start_test_fleet  # noqa: E402

BIN = Path(sys.executable).parent
MAX_HOSTS = 1000
PHASES = (("install", "9.3.0"), ("rerun", "9.3.0"), ("upgrade", "9.3.1"), ("rerun", "9.3.1"))
MODULE_TASK = "Install, upgrade or remove the package"
# A host that already has the release stops at the rollout's own check (roles/rollout).
CHECK_TASK = "Find out whether the host already has the release"


def _module_result(host_results: dict[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    """The msi_package run that decided this host: the install when there was one, else the check."""
    for suffix in (MODULE_TASK, CHECK_TASK):
        for name, result in host_results.items():
            if name.endswith(suffix) and result.get("_status") != "skipped":
                return result
    raise LookupError(f"no msi_package result among {sorted(host_results)}")


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _playbook(inventory: Path, src: Path, capture: Path, forks: int, timeout: float) -> tuple[int, float, str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tmp" / "collections"),
        # The integration tests' callback hands every task result over as JSON.
        "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "capture_results",
        "CAPTURE_RESULTS_FILE": str(capture),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": str(forks),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(REPO / "playbooks" / "rollout.yml"),
        # The lab's settings (a fast Office gate for its seeded users), as `make demo` has them.
        "-e",
        f"@{REPO / 'inventories' / 'lab' / 'group_vars' / 'all.yml'}",
        "-e",
        json.dumps({"rollout_package_src": str(src)}),
    ]
    start = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, time.monotonic() - start, proc.stdout + proc.stderr


def _phase(
    control: ControlClient, hosts: list[str], inventory: Path, src: Path, workdir: Path, *, forks: int, timeout: float
) -> dict[str, t.Any]:
    control.reset_counters()
    capture = workdir / "results.json"
    capture.unlink(missing_ok=True)
    rc, wall, output = _playbook(inventory, src, capture, forks, timeout)
    if rc != 0:
        raise RuntimeError(f"ansible-playbook failed with rc {rc}:\n{output[-4000:]}")
    results = json.loads(capture.read_text())
    # Role task names come prefixed with the role ("<role> : <task>").
    module = [_module_result(results[h]) for h in hosts]
    counters = [control.counters(h) for h in hosts]
    return {
        "wall": wall,
        "changed": sum(1 for r in module if r.get("changed")),
        "actions": sorted({r["action"] for r in module}),
        "module_commands": _mean([r["winrm"]["commands"] for r in module]),
        "module_bytes_sent": _mean([r["winrm"]["bytes_sent"] for r in module]),
        "commands": _mean([c.get("commands", 0) for c in counters]),
        "requests": _mean([c.get("requests", 0) for c in counters]),
        "bytes_in": _mean([c.get("bytes_in", 0) for c in counters]),
        "bytes_out": _mean([c.get("bytes_out", 0) for c in counters]),
        # What the commands were (primitives, ansible-core's own scripts), summed over the fleet.
        "kinds": {
            k: sum(c.get(k, 0) for c in counters)
            for k in sorted({k for c in counters for k in c})
            if k.startswith(("primitive:", "builtin:", "not_implemented"))
        },
    }


def bench(size: int, args: argparse.Namespace, packages: Path, deadline: float) -> list[dict[str, t.Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"bench-msi-{size}-") as tmp:
        workdir = Path(tmp)
        fleet = start_test_fleet(workdir, clients=size, servers=0, transport=args.transport, time_scale=args.time_scale)
        try:
            assert fleet.config.inventory is not None
            control = ControlClient(fleet.control_url)
            hosts = sorted(h["name"] for h in control.hosts() if h["kind"] == "client")
            for phase, version in PHASES:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"time budget of {args.max_seconds:g}s spent before {phase} {version}")
                src = packages / f"machine-{version}"
                row = _phase(control, hosts, fleet.config.inventory, src, workdir, forks=args.forks, timeout=left)
                rows.append({"hosts": size, "phase": f"{phase} {version}", **row})
                print(_format_row(rows[-1]), flush=True)
        finally:
            fleet.stop()
    return rows


HEADER = (
    "| hosts | phase | wall | changed | module cmds | module bytes sent | WinRM cmds | HTTP requests "
    "| bytes in | bytes out |\n|---|---|---|---|---|---|---|---|---|---|"
)


def _format_row(row: dict[str, t.Any]) -> str:
    return (
        f"| {row['hosts']} | {row['phase']} | {row['wall']:.1f} s | {row['changed']} "
        f"| {row['module_commands']:.1f} | {row['module_bytes_sent']:,.0f} | {row['commands']:.1f} "
        f"| {row['requests']:.1f} | {row['bytes_in']:,.0f} | {row['bytes_out']:,.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[20, 200], help=f"fleet sizes (<= {MAX_HOSTS})")
    parser.add_argument("--transport", choices=("basic", "ntlm", "mixed"), default="ntlm")
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=120.0, help="simulated seconds per real second")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="time budget for the whole run")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if any(not 0 < size <= MAX_HOSTS for size in args.hosts):
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")

    deadline = time.monotonic() + args.max_seconds
    packages = REPO / ".tmp" / "lab-msi"
    build_packages(packages)
    print(f"msi_package over {args.transport}, forks {args.forks}; figures are means per host\n")
    print(HEADER, flush=True)
    rows = []
    for size in args.hosts:
        rows += bench(size, args, packages, deadline)
    print("\nWinRM commands per host by kind (lab counters):")
    for row in rows:
        kinds = ", ".join(f"{k.split(':', 1)[-1]} {v / row['hosts']:g}" for k, v in row["kinds"].items())
        print(f"  {row['hosts']:>4} hosts, {row['phase']}: {kinds}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
