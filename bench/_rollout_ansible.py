"""Mode B of bench/autoupdate_rollout.py: playbooks/rollout.yml against a WinRM lab fleet, by auto-updater and by push.

Kept apart from the virtual-clock Mode A: this half drives the real ansible-playbook and measures the controller.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from _ansible_lab import PlaybookRun, run_playbook  # noqa: E402  (bench/, the script's own folder)

from lab.controlclient import ControlClient  # noqa: E402
from lab.fleet import FleetThread  # noqa: E402
from lab.host.updater_state import HiveState  # noqa: E402
from lab.msi import build_packages  # noqa: E402
from lab.testing import start_test_fleet  # noqa: E402

FORKS = 50
FROM, TO = "9.3.0", "9.3.1"  # the rollout of both modes: per-user FROM installed, TO rolled out


def _cpu() -> float:
    """User + sys seconds of this process: the in-process lab fleet's, with the bench's own little."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _fleet(workdir: Path, args: argparse.Namespace, packages: Path) -> FleetThread:
    """An in-process lab fleet: its backend's channel can be set back to the version before the rollout's."""
    return start_test_fleet(
        workdir,
        clients=args.clients,
        servers=0,
        transport="ntlm",
        backend=True,
        backend_packages=packages,
        time_scale=args.time_scale,
    )


def _playbook(inventory: Path, playbook: Path, extra: dict[str, t.Any], timeout: float, log: Path) -> PlaybookRun:
    """One ansible-playbook run (bench/_ansible_lab.py: CPU of the process tree, task results from task_counts)."""
    return run_playbook(inventory, playbook, extra, forks=FORKS, timeout=timeout, log=log)


def _prepare_updaters(fleet: FleetThread, control: ControlClient, hosts: list[str], workdir: Path) -> None:
    """Per-user FROM on every host, the updater enabled and checked once (nothing new): not part of the figures."""

    def channel() -> None:
        assert fleet.fleet.backend is not None
        fleet.fleet.backend.backend.channels["stable"] = FROM

    fleet.run_sync(channel)
    users = {}
    for host in hosts:
        snapshot = control.host(host)
        for session in snapshot["sessions"]:
            control.logoff(host, session["user"])
        users[host] = next(u for u in snapshot["users"] if u.lower() != "administrator")
        answer = control.request("POST", f"/hosts/{host}/suite-install", {"user": users[host], "version": FROM})
        if answer["rc"] != 0:
            raise RuntimeError(f"suite install on {host}: {answer}")
    play = workdir / "enable.yml"
    play.write_text(
        "- hosts: lab_clients\n  gather_facts: false\n  tasks:\n    - name: enable\n"
        "      rollout.windows.autoupdater:\n        name: Example Office Suite\n        state: enabled\n"
        '        backend_url: "{{ rollout_backend_url }}"\n',
        encoding="utf-8",
    )
    assert fleet.config.inventory is not None
    enabled = _playbook(fleet.config.inventory, play, {}, 600, workdir / "enable.log")
    if enabled.rc != 0:
        raise RuntimeError(f"enabling the updaters failed:\n{enabled.output[-3000:]}")
    for host in hosts:
        control.reboot(host, 0)  # the startup task starts the updater, which checks once

    def outcomes() -> set[str]:
        return {HiveState(fleet.fleet.hosts[h].host, users[h]).read().LastOutcome for h in hosts}

    deadline = time.monotonic() + 300
    while (seen := fleet.run_sync(outcomes)) != {"no_update"}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the updaters did not all check once: {seen}")
        time.sleep(0.5)


def _measure(method: str, args: argparse.Namespace, packages: Path, workdir: Path, until: float) -> dict[str, t.Any]:
    """One fresh fleet rolled out to TO by ``method``, run again while the rollout says it is not done."""
    fleet = _fleet(workdir, args, packages)
    try:
        control = ControlClient(fleet.control_url)
        hosts = sorted(h["name"] for h in control.hosts() if h["kind"] == "client")
        for host in hosts:
            # Users close Office the moment they are asked, as in bench/rollout.py: the push's gate costs one poll.
            control.control(host, {"behaviour": {"on_message": "close", "close_delay": [0, 0]}})
        extra: dict[str, t.Any] = {"rollout_backend_settings": {"max_parallel_syncs": args.max_parallel_syncs}}
        if method == "autoupdater":
            _prepare_updaters(fleet, control, hosts, workdir)
            extra |= {"rollout_method": "autoupdater", "rollout_version": TO, "rollout_adoption_poll": 2}
            extra["rollout_adoption_timeout"] = args.adoption_timeout
        else:
            extra |= {"rollout_package_src": str(packages / f"machine-{TO}"), "office_gate_interval": 1}
        control.reset_counters()
        lab0, wall0 = _cpu(), time.monotonic()
        runs: list[PlaybookRun] = []
        assert fleet.config.inventory is not None
        while len(runs) < args.max_runs:
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"--max-seconds spent during the {method} rollout")
            log = workdir / f"{method}-{len(runs) + 1}.log"
            runs.append(_playbook(fleet.config.inventory, REPO / "playbooks" / "rollout.yml", extra, left, log))
            if runs[-1].rc != 0:
                raise RuntimeError(f"{method} rollout failed, rc {runs[-1].rc}:\n{runs[-1].output[-4000:]}")
            if f"rollout of {TO} not done" not in runs[-1].output:
                break
        wall, lab_cpu = time.monotonic() - wall0, _cpu() - lab0
        counters = [control.counters(h) for h in hosts]
        scope = "user" if method == "autoupdater" else "machine"
        done = sum(any(p["scope"] == scope and p["version"] == TO for p in control.host(h)["products"]) for h in hosts)
        # Task results as the default callback prints them: one per host, a run_once task's once.
        results = sum(run.results_per_host(1) + run.run_once_results() for run in runs)
        cpu = sum(run.cpu for run in runs)
    finally:
        fleet.stop()
    return {
        "method": method,
        "runs": len(runs),
        "done": done,
        "wall": wall,
        "cpu": cpu,
        "cpu_host": cpu / len(hosts),
        "lab_cpu": lab_cpu,
        "commands": statistics.fmean(c.get("commands", 0) for c in counters),
        "commands_max": max(c.get("commands", 0) for c in counters),
        "results": results / len(hosts),
        "kinds": {
            k: round(sum(c.get(k, 0) for c in counters) / len(hosts), 2)
            for k in sorted({k for c in counters for k in c})
            if k.startswith(("primitive:", "builtin:"))
        },
    }


def ansible_rollouts(args: argparse.Namespace) -> int:
    """Both fleets measured one after another and the table printed; 1 unless every host ends on TO."""
    packages = REPO / ".tmp" / "lab-msi"
    build_packages(packages)
    until = time.monotonic() + args.max_seconds
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-autoupdate-ansible-") as tmp:
        for method in ("autoupdater", "push"):
            (Path(tmp) / method).mkdir()
            rows.append(_measure(method, args, packages, Path(tmp) / method, until))
            print(f"{method}: {rows[-1]}", flush=True)
    print(f"{args.clients} clients, forks {FORKS}, time scale {args.time_scale:g}, rollout of {TO}")
    print(
        "| method | runs | hosts on 9.3.1 | wall | controller CPU (per host) | lab CPU | WinRM cmds/host (max) "
        "| task results/host |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['method']} | {row['runs']} | {row['done']} | {row['wall']:.1f} s | {row['cpu']:.1f} s "
            f"({row['cpu_host']:.2f} s) | {row['lab_cpu']:.1f} s | {row['commands']:.2f} ({row['commands_max']}) "
            f"| {row['results']:.2f} |"
        )
    return 0 if all(row["done"] == args.clients for row in rows) else 1
