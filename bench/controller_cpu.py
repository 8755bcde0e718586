"""Controller-side CPU cost of the rollout's pure-Python parts, printed, never asserted.

Two figures that used to be test assertions (a test must not depend on how fast the machine is):

- ``rollout_progress`` callback: microseconds per task result it handles (2,000 hosts in three
  waves, five rounds of ``v2_runner_on_ok``, no report written). The budget it was held to was
  200 us per result, small next to Ansible's own cost of a task per host (about 50 ms, see
  ``bench/rollout.py``).
- ``wave_serial`` filter: seconds to plan 1,000 and 10,000 hosts (pilot 5 %, three waves, batches
  of 200). The budget was 1 s.

    .venv/bin/python bench/controller_cpu.py [--hosts 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".tmp" / "collections"


def _import_collection() -> None:
    """The collection is importable as ansible_collections.rollout.windows through the tests' symlink."""
    link = COLLECTIONS / "ansible_collections" / "rollout" / "windows"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../../../.."), target_is_directory=True)
    for entry in (str(REPO), str(COLLECTIONS)):
        if entry not in sys.path:
            sys.path.insert(0, entry)


@dataclass
class _Group:
    name: str


@dataclass
class _Host:
    name: str
    groups: list[_Group] = field(default_factory=list)

    def get_name(self) -> str:
        return self.name

    def get_groups(self) -> list[_Group]:
        return self.groups


class _Inventory:
    def __init__(self, hosts: list[_Host]) -> None:
        self.hosts = hosts

    def get_hosts(self, pattern: t.Any, order: t.Any = None, ignore_restrictions: bool = False) -> list[_Host]:
        return list(self.hosts)


class _Play:
    def __init__(self, inventory: _Inventory) -> None:
        self.name, self._uuid, self.hosts, self.order = "bench", "u", ["all"], "inventory"
        self._inventory = inventory
        self.play_vars: dict[str, t.Any] = {}

    def get_name(self) -> str:
        return self.name

    def get_variable_manager(self) -> t.Any:
        return self

    def get_vars(self, **kwargs: t.Any) -> dict[str, t.Any]:
        return self.play_vars if "host" not in kwargs else {}


@dataclass
class _Task:
    name: str
    run_once: bool = False

    def get_name(self) -> str:
        return self.name


@dataclass
class _Result:
    host: _Host
    task: _Task
    result: dict[str, t.Any]


class _Display:
    verbosity = 0

    def display(self, msg: str, **kwargs: t.Any) -> None:
        pass


def callback_overhead(hosts: int, rounds: int) -> float:
    """Seconds per task result in the rollout_progress callback."""
    from ansible_collections.rollout.windows.plugins.callback import rollout_progress as rp

    with tempfile.TemporaryDirectory() as tmp:
        callback = rp.CallbackModule(display=_Display())
        callback._plugin_options = {
            "report_dir": tmp,
            "report_name": "report",
            "formats": [],
            "interval": 30.0,
            "wave_groups": r"pilot|wave_\d+",
            "wave_var": None,
        }
        callback.progress = rp.RolloutProgress()
        fleet = [_Host(f"h{i}", [_Group(f"wave_{i % 3 + 1}")]) for i in range(hosts)]
        callback.v2_playbook_on_play_start(_Play(_Inventory(fleet)))
        task = _Task("t")
        start = time.perf_counter()
        for _round in range(rounds):
            for host in fleet:
                callback.v2_runner_on_ok(_Result(host, task, {"changed": False}))
        return (time.perf_counter() - start) / (rounds * hosts)


def planning_seconds(size: int) -> float:
    from ansible_collections.rollout.windows.plugins.filter import plan as filters

    hosts = [f"pc-{i:05d}.corp.example.com" for i in range(size)]
    pilot = size // 20
    third = (size - pilot) // 3
    groups = {
        "pilot": hosts[:pilot],
        "wave_1": hosts[pilot : pilot + third],
        "wave_2": hosts[pilot + third : pilot + 2 * third],
        "wave_3": hosts[pilot + 2 * third :],
        "rollout_clients": hosts,
    }
    start = time.perf_counter()
    serial = filters.wave_serial(list(reversed(hosts)), groups, max_batch=200)
    elapsed = time.perf_counter() - start
    if sum(serial) != size:
        raise SystemExit(f"wave_serial planned {sum(serial)} of {size} hosts")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000, help="hosts for the callback figure (1..100000)")
    parser.add_argument("--rounds", type=int, default=5, help="results per host (1..100)")
    args = parser.parse_args()
    if not (1 <= args.hosts <= 100_000 and 1 <= args.rounds <= 100):
        parser.error("--hosts must be 1..100000 and --rounds 1..100")
    _import_collection()
    per_result = callback_overhead(args.hosts, args.rounds)
    print(f"rollout_progress: {per_result * 1e6:.1f} us per result ({args.hosts} hosts x {args.rounds} rounds)")
    for size in (1_000, 10_000):
        print(f"wave_serial: {planning_seconds(size):.3f} s to plan {size} hosts")


if __name__ == "__main__":
    main()
