"""Benchmark of a waves rollout (playbooks/rollout.yml) against a lab fleet, next to Ansible's own floor.

Starts ``python -m lab serve --clients N`` in a subprocess (loopback only, a random free 127.x.y.1 range, the
lab backend on; the lab's users close Office as soon as they are asked, so the Office gate costs one poll),
then measures, against the same fleet and with the same forks:

- the floor: one ``ansible.builtin.debug`` task per host (Ansible's cost of a task result, no connection), and
  one ``rollout.windows.product_info`` task per host (one WinRM command: a connection, NTLM, a shell, a command);
- the real ``ansible-playbook playbooks/rollout.yml``: a first install of 9.3.0 over the lab's waves (pilot,
  wave_1..wave_3, each cut at the backend's max parallel syncs), then a rerun (the resumed rollout: nothing to do).

Per case: wall time, controller CPU per host (user + sys of the ansible-playbook process tree, from the
children's rusage) and its ratio to each floor (the figure that counts on a shared machine), WinRM commands,
HTTP requests and body bytes per host (the lab hosts' counters), task results per host (skipped included;
``run_once`` results apart) from ``bench/callback_plugins/task_counts.py``, and for the rollout the lower
bound of its WinRM commands and of its time (the sum over batches of the slowest msiexec).

    .venv/bin/python bench/rollout.py --clients 200 [--forks 50] [--floor-only] [--json PATH]
    .venv/bin/python bench/rollout.py --clients 200 --forks-sweep 10,25,50 [--with-install]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for the shared helper

from _ansible_lab import BIN, CALLBACKS, REPO, Lab, run_playbook, write_floor_playbooks

from lab.msi import build_packages

sys.path.insert(0, str(CALLBACKS))
import worker_phases  # bench/callback_plugins: the summary of what --phases recorded

MAX_CLIENTS = 1000
PHASES = (("install", "9.3.0"), ("rerun", "9.3.0"))
# Not asserted: what the rollout should cost the controller, in one-WinRM-task floors (CPU per host).
GOALS = {"install": 2.0, "rerun": 1.2}
# The lab backend's sync throttle that the rollout applies first and then caps every batch at.
MAX_PARALLEL_SYNCS = 200
# An install's least WinRM work: read the products, the cache with the package inline (a package up to 1 MiB
# travels in that command) and the Office gate's first poll in the same command, msiexec (its command also reads
# what it registered).
INSTALL_COMMANDS_MIN = 3


def _rollout_extra(src: Path) -> dict[str, t.Any]:
    return {
        "rollout_package_src": str(src),
        "rollout_backend_settings": {"max_parallel_syncs": MAX_PARALLEL_SYNCS},
        "office_gate_interval": 1,
        "office_gate_attempts": 30,
    }


def _measure(
    lab: Lab,
    case: str,
    playbook: Path,
    extra: dict[str, t.Any],
    *,
    forks: int,
    log: Path,
    until: float,
    phases: bool,
) -> dict[str, t.Any]:
    """One playbook run against the whole fleet, with the lab's counters reset before it (``phases``: --phases)."""
    left = until - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"time budget spent before {case}")
    lab.control.reset_counters()
    lab_cpu = lab.cpu()
    phases_dir = log.with_suffix(".phases") if phases else None
    run = run_playbook(lab.inventory, playbook, extra, forks=forks, timeout=left, log=log, phases=phases_dir)
    if run.rc != 0:
        # The first failures say why; the recap at the end only says how many.
        fatal = [line for line in run.output.splitlines() if line.startswith(("fatal:", "failed:", "ERROR"))][:3]
        raise RuntimeError(f"{case}: ansible-playbook rc {run.rc}:\n" + "\n".join(fatal) + run.output[-2000:])
    hosts = len(lab.hosts)
    row: dict[str, t.Any] = {
        "clients": hosts,
        "case": case,
        "forks": forks,
        "wall": run.wall,
        "controller_cpu": run.cpu,
        "cpu_host": run.cpu / hosts,
        "lab_cpu": lab.cpu() - lab_cpu,
        "tasks_host": run.results_per_host(hosts),
        "run_once": run.run_once_results(),
        "tasks": run.counts.get("tasks", {}),
        **lab.wire(),
    }
    if phases_dir is not None:
        row["phases"] = worker_phases.summarize(phases_dir, hosts)
    return row


def _plan_batches(log: Path) -> list[tuple[str, int]]:
    """The batches the rollout printed in its plan ("batch 2: wave_1 part 1/2, 159 host(s)")."""
    batches = []
    for raw in log.read_text().splitlines():
        line = raw.strip().strip('",')
        if line.startswith("batch ") and "host(s)" in line:
            wave = line.split(": ", 1)[1].split(",")[0].split(" part ")[0]
            batches.append((wave, int(line.rsplit(", ", 1)[1].split()[0])))
    return batches


def _lower_bound_seconds(lab: Lab, log: Path, scale: float) -> tuple[int, float]:
    """Batches, and the sum over them of the longest msiexec (simulated seconds) divided by the time scale."""
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
    durations = {}
    for host in lab.hosts:
        history = lab.control.host(host)["msiexec_history"]
        durations[host] = history[-1]["duration"] if history else 0.0
    total, offsets = 0.0, {}
    for wave, size in plan:
        members = inventory.get(wave, {}).get("hosts", [])
        start = offsets.get(wave, 0)
        batch = members[start : start + size]
        offsets[wave] = start + size
        total += max((durations.get(h, 0.0) for h in batch), default=0.0)
    return len(plan), total / scale


def _floors(
    lab: Lab, floors: dict[str, Path], forks: int, workdir: Path, until: float, *, phases: bool
) -> list[dict[str, t.Any]]:
    return [
        _measure(
            lab,
            f"floor: {name}",
            path,
            {},
            forks=forks,
            log=workdir / f"floor-{name}-{forks}.log",
            until=until,
            phases=phases,
        )
        for name, path in floors.items()
    ]


def _rollout(
    lab: Lab,
    phase: str,
    version: str,
    *,
    forks: int,
    args: argparse.Namespace,
    workdir: Path,
    until: float,
    phases: bool,
) -> dict[str, t.Any]:
    log = workdir / f"{phase}-{forks}.log"
    src = args.packages / f"machine-{version}"
    row = _measure(
        lab,
        phase,
        REPO / "playbooks" / "rollout.yml",
        _rollout_extra(src),
        forks=forks,
        log=log,
        until=until,
        phases=phases,
    )
    installing = phase.startswith("install")
    row["commands_min"] = INSTALL_COMMANDS_MIN if installing else 1
    row["batches"], row["time_min"] = _lower_bound_seconds(lab, log, args.time_scale)
    if not installing:
        row["time_min"] = 0.0
    return row


def _with_ratios(rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Each row's CPU per host over the floors measured with the same forks in the same run."""
    for row in rows:
        same = {r["case"]: r["cpu_host"] for r in rows if r["forks"] == row["forks"] and r["case"].startswith("floor")}
        for key, floor in (("ratio_debug", "floor: debug"), ("ratio_winrm", "floor: product_info")):
            row[key] = row["cpu_host"] / same[floor] if same.get(floor) else None
        goal = GOALS.get(row["case"].split()[0])
        row["goal_winrm"] = goal
    return rows


def _rerun_pairs(
    lab: Lab, floors: dict[str, Path], forks: int, args: argparse.Namespace, *, workdir: Path, until: float
) -> list[float]:
    """--rerun-pairs: the one-WinRM-task floor and a rerun back to back, that many times; each pair's ratio.

    On a shared machine the load moves between two runs a minute apart, and a ratio of one floor and one
    rerun moves with it; the median of pairs measured next to each other is the figure to compare. Neither run
    of a pair carries --phases' timers: they cost the rerun's workers more than the floor's."""
    ratios = []
    for _ in range(args.rerun_pairs):
        (floor,) = _floors(lab, {"product_info": floors["product_info"]}, forks, workdir, until, phases=False)
        rerun = _rollout(
            lab, "rerun", PHASES[-1][1], forks=forks, args=args, workdir=workdir, until=until, phases=False
        )
        ratios.append(rerun["cpu_host"] / floor["cpu_host"])
    return ratios


def _setup_users(lab: Lab) -> None:
    for host in lab.hosts:
        # Users close Office the moment they are asked: the gate costs one poll, not a user's reaction time.
        lab.control.control(host, {"behaviour": {"on_message": "close", "close_delay": [0, 0]}})


def bench(clients: int, forks_list: list[int], args: argparse.Namespace, until: float) -> list[dict[str, t.Any]]:
    """One fleet: the floors and the rollout at each forks value (a fresh fleet per value with --with-install)."""
    rows: list[dict[str, t.Any]] = []
    fresh_per_forks = args.with_install and len(forks_list) > 1
    groups = [[f] for f in forks_list] if fresh_per_forks else [forks_list]
    for group in groups:
        with tempfile.TemporaryDirectory(prefix=f"bench-rollout-{clients}-") as tmp:
            workdir = Path(tmp)
            started = time.monotonic()
            lab = Lab(clients, workdir, args.time_scale, args.packages)
            try:
                print(f"lab of {clients} clients up in {time.monotonic() - started:.1f} s", flush=True)
                _setup_users(lab)
                floors = write_floor_playbooks(workdir)
                sweep_setup = not args.floor_only and not args.with_install and len(forks_list) > 1
                if sweep_setup:
                    # The reruns need an installed fleet: one install first, at the largest forks value.
                    rows.append(
                        _rollout(
                            lab,
                            "install (set-up)",
                            "9.3.0",
                            forks=max(group),
                            args=args,
                            workdir=workdir,
                            until=until,
                            phases=args.phases,
                        )
                    )
                    print(_format_row(rows[-1]), flush=True)
                for forks in group:
                    new = []
                    for phase, version in () if args.floor_only else PHASES:
                        if phase == "install" and sweep_setup:
                            continue
                        if phase == "rerun":
                            # The floors after the install, before the rerun: a host in the rerun's state (the
                            # product there, the primitive the floor runs already on the host).
                            new += _floors(lab, floors, forks, workdir, until, phases=args.phases)
                        new.append(
                            _rollout(
                                lab,
                                phase,
                                version,
                                forks=forks,
                                args=args,
                                workdir=workdir,
                                until=until,
                                phases=args.phases,
                            )
                        )
                        print(f"  {phase}: {new[-1]['kinds']}", flush=True)
                    if args.floor_only:
                        new += _floors(lab, floors, forks, workdir, until, phases=args.phases)
                    elif args.rerun_pairs:
                        rerun = next(row for row in new if row["case"] == "rerun")
                        rerun["pair_ratios"] = _rerun_pairs(lab, floors, forks, args, workdir=workdir, until=until)
                    rows += new
                    _with_ratios(rows)
                    for row in new:
                        print(_format_row(row), flush=True)
            finally:
                lab.stop()
    return _with_ratios(rows)


HEADER = (
    "| clients | case | forks | wall | CPU/host | x debug floor | x one-WinRM-task floor (goal) "
    "| WinRM cmds/host (max) | HTTP requests/host | bytes in / out per host | tasks/host (+ run_once) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _format_row(row: dict[str, t.Any]) -> str:
    goal = f" (≤ {row['goal_winrm']:.1f}x)" if row.get("goal_winrm") else ""
    return (
        f"| {row['clients']} | {row['case']} | {row['forks']} | {row['wall']:.1f} s | {row['cpu_host']:.3f} s "
        f"| {_ratio(row.get('ratio_debug'))} | {_ratio(row.get('ratio_winrm'))}{goal} "
        f"| {row['commands']:.2f} ({row['commands_max']}) | {row['requests']:.1f} "
        f"| {row['bytes_in']:,.0f} / {row['bytes_out']:,.0f} | {row['tasks_host']:.2f} (+{row['run_once']}) |"
    )


def _detail(row: dict[str, t.Any]) -> str:
    return (
        f"  {row['clients']} {row['case']} forks {row['forks']}: batches {row['batches']}, time lower bound "
        f"{row['time_min']:.1f} s, commands lower bound {row['commands_min']}, controller CPU "
        f"{row['controller_cpu']:.1f} s, lab CPU {row['lab_cpu']:.1f} s"
    )


def _sweep_table(rows: list[dict[str, t.Any]]) -> str:
    lines = ["| forks | case | wall | CPU/host | x one-WinRM-task floor |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["forks"], r["case"])):
        lines.append(
            f"| {row['forks']} | {row['case']} | {row['wall']:.1f} s | {row['cpu_host']:.3f} s "
            f"| {_ratio(row.get('ratio_winrm'))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[200])
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--forks-sweep", help="comma-separated forks values, e.g. 10,25,50: floors and rerun at each")
    parser.add_argument("--with-install", action="store_true", help="in a sweep, the install too (a fresh fleet each)")
    parser.add_argument("--floor-only", action="store_true", help="only the two floors (checks that a fleet comes up)")
    parser.add_argument("--time-scale", type=float, default=120.0)
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="time budget for the whole benchmark")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--phases", action="store_true", help="also where each worker's CPU goes, in ms per host (a few %% more CPU)"
    )
    parser.add_argument(
        "--rerun-pairs",
        type=int,
        default=0,
        help="then N more pairs of the one-WinRM-task floor and a rerun, back to back: each ratio and the median",
    )
    args = parser.parse_args(argv)
    if any(not 1 <= n <= MAX_CLIENTS for n in args.clients):
        parser.error(f"--clients must be from 1 to {MAX_CLIENTS}")
    try:
        forks_list = [int(f) for f in args.forks_sweep.split(",")] if args.forks_sweep else [args.forks]
    except ValueError:
        parser.error("--forks-sweep takes integers separated by commas, e.g. 10,25,50")
    if any(not 1 <= f <= 500 for f in forks_list):
        parser.error("forks must be from 1 to 500")
    if not 0 <= args.rerun_pairs <= 20:
        parser.error("--rerun-pairs must be from 0 to 20")
    args.packages = REPO / ".tmp" / "lab-msi"
    build_packages(args.packages)
    until = time.monotonic() + args.max_seconds
    print(HEADER, flush=True)
    rows = [row for clients in args.clients for row in bench(clients, forks_list, args, until)]
    print("\n" + HEADER)
    for row in rows:
        print(_format_row(row))
    for row in rows:
        if "batches" in row:
            print(_detail(row))
    for row in rows:
        if "phases" in row:
            print(f"  {row['clients']} {row['case']} CPU in ms per host: {json.dumps(row['phases'])}")
    for row in rows:
        if row.get("pair_ratios"):
            ratios = ", ".join(f"{r:.2f}x" for r in row["pair_ratios"])
            median = statistics.median(row["pair_ratios"])
            print(f"  {row['clients']} rerun, floor and rerun back to back: {ratios}; median {median:.2f}x")
    print("Goals (not asserted): install ≤ 2.0x and rerun ≤ 1.2x the one-WinRM-task floor's CPU per host.")
    if len(forks_list) > 1:
        print("\n" + _sweep_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
