"""Waves as Ansible runs them: the wave_serial filter, max_fail_percentage gates and the progress callback,
with real ansible-playbook over real WinRM against lab hosts."""

from __future__ import annotations

import json
import subprocess
import textwrap
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ansible_collections.rollout.windows.plugins.plugin_utils import _plan
from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from .conftest import BIN, TIME_SCALE, report_env

WAVES = ["pilot", "wave_1", "wave_2", "wave_3"]
MAX_BATCH = 2


@dataclass
class Rollout:
    rc: int
    output: str
    report: dict[str, t.Any]

    @property
    def batches(self) -> list[list[str]]:
        return [batch["hosts"] for batch in self.report["plays"][0]["batches"]]


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    """Overrides conftest's fleet (and so its control) with 8 clients: a pilot of 1 and waves of 3, 2 and 2,
    so that a cap of 2 cuts wave_1 in two."""
    running = start_test_fleet(tmp_path_factory.mktemp("waves"), clients=8, servers=0, time_scale=TIME_SCALE)
    yield running
    running.stop()


@pytest.fixture
def groups(fleet: FleetThread) -> dict[str, list[str]]:
    assert fleet.config.inventory is not None
    lab_clients = yaml.safe_load(fleet.config.inventory.read_text())["all"]["children"]["rollout_clients"]["children"][
        "lab_clients"
    ]
    found = {name: list(group["hosts"]) for name, group in lab_clients["children"].items()}
    found["rollout_clients"] = list(lab_clients["hosts"])
    return found


def rollout(
    fleet: FleetThread,
    workdir: Path,
    name: str,
    *,
    fail: list[str],
    gate: str,
    cap: int = MAX_BATCH,
    hosts: str = "pilot:wave_1:wave_2:wave_3",
    planned_hosts: str = "ansible_play_hosts_all",
    args: tuple[str, ...] = (),
) -> Rollout:
    """One wave rollout play as an admin writes it; hosts in ``fail`` fail their second task."""
    play = workdir / f"{name}.yml"
    play.write_text(
        textwrap.dedent(
            f"""\
            - name: Roll out in waves
              hosts: "{hosts}"
              order: inventory
              gather_facts: false
              serial: "{{{{ {planned_hosts} | rollout.windows.wave_serial(groups, max_batch={cap}) }}}}"
              {gate}
              tasks:
                - name: Read the installed products
                  rollout.windows.product_info:
                    name: nothing*
                - name: Install
                  ansible.builtin.fail:
                    msg: "injected failure on {{{{ inventory_hostname }}}}"
                  when: inventory_hostname in {fail!r}
            """
        ),
        encoding="utf-8",
    )
    reports = workdir / f"reports-{name}"
    env = report_env(workdir, reports)
    assert fleet.config.inventory is not None
    command = [str(BIN / "ansible-playbook"), "-i", str(fleet.config.inventory), str(play), *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert (reports / "report.json").exists(), output
    return Rollout(proc.returncode, output, json.loads((reports / "report.json").read_text()))


def planned(groups: dict[str, list[str]], cap: int = MAX_BATCH) -> list[list[str]]:
    return [list(batch.hosts) for batch in _plan.plan(groups["rollout_clients"], groups, max_batch=cap)]


def touched(control: ControlClient, hosts: list[str]) -> dict[str, int]:
    return {host: control.counters(host).get("primitive:Get-InstalledProduct", 0) for host in hosts}


def test_batches_as_ansible_ran_them_are_the_waves(
    fleet: FleetThread, groups: dict[str, list[str]], tmp_path: Path
) -> None:
    in_wave_order = [host for wave in WAVES for host in groups[wave]]
    # The lab lists clients by name and shuffles the waves: the play must not follow the listing.
    assert in_wave_order != groups["rollout_clients"]
    assert [len(groups[wave]) for wave in WAVES] == [1, 3, 2, 2]
    run = rollout(fleet, tmp_path, "all-ok", fail=[], gate="max_fail_percentage: 0")
    assert run.rc == 0, run.output
    expected = [groups["pilot"], groups["wave_1"][:2], groups["wave_1"][2:], groups["wave_2"], groups["wave_3"]]
    assert run.batches == expected == planned(groups)
    assert [batch["waves"] for batch in run.report["plays"][0]["batches"]] == [
        ["pilot"],
        ["wave_1"],
        ["wave_1"],
        ["wave_2"],
        ["wave_3"],
    ]
    assert all(wave["done"] == wave["total"] for wave in run.report["plays"][0]["waves"])
    assert "rollout wave_3: done 2/2, failed 0, remaining 0" in run.output


def test_a_failure_in_wave_1_stops_the_rollout_and_later_waves_are_untouched(
    fleet: FleetThread, groups: dict[str, list[str]], control: ControlClient, tmp_path: Path
) -> None:
    control.request("POST", "/counters/reset", {})
    bad = groups["wave_1"][0]
    run = rollout(fleet, tmp_path, "stop", fail=[bad], gate="max_fail_percentage: 0")
    assert run.rc == 2, run.output
    assert run.batches == planned(groups)[:2]  # the pilot, then the first piece of wave_1
    later = groups["wave_1"][2:] + groups["wave_2"] + groups["wave_3"]
    assert set(touched(control, groups["pilot"] + groups["wave_1"][:2]).values()) == {1}
    assert set(touched(control, later).values()) == {0}, "a later wave was touched"
    assert run.report["failed_hosts"] == [
        {
            "host": bad,
            "play": "Roll out in waves",
            "wave": "wave_1",
            "status": "failed",
            "task": "Install",
            "msg": f"injected failure on {bad}",
        }
    ]
    waves = {wave["wave"]: wave for wave in run.report["plays"][0]["waves"]}
    assert (waves["wave_1"]["failed"], waves["wave_1"]["stopped"], waves["wave_2"]["remaining"]) == (1, 1, 2)
    assert bad in (tmp_path / "reports-stop" / "report.md").read_text()
    assert bad in (tmp_path / "reports-stop" / "report.html").read_text()


def test_max_fail_percentage_must_be_exceeded(fleet: FleetThread, groups: dict[str, list[str]], tmp_path: Path) -> None:
    # 1 failure in a batch of 2 is 50 %: not more than 50, so the rollout goes on to every wave.
    bad = groups["wave_1"][0]
    run = rollout(fleet, tmp_path, "at-limit", fail=[bad], gate="max_fail_percentage: 50")
    assert run.rc == 2, run.output  # the failed host still fails the run
    assert run.batches == planned(groups)
    assert [f["host"] for f in run.report["failed_hosts"]] == [bad]


def test_a_batch_where_every_host_fails_always_stops(
    fleet: FleetThread, groups: dict[str, list[str]], control: ControlClient, tmp_path: Path
) -> None:
    control.request("POST", "/counters/reset", {})
    both = groups["wave_1"][:2]
    # No max_fail_percentage at all: Ansible still ends the play after a batch that failed entirely.
    run = rollout(fleet, tmp_path, "all-fail", fail=both, gate="")
    assert run.rc == 2, run.output
    assert run.batches == planned(groups)[:2]
    assert set(touched(control, both).values()) == {1}
    assert set(touched(control, groups["wave_1"][2:] + groups["wave_2"] + groups["wave_3"]).values()) == {0}
    assert sorted(f["host"] for f in run.report["failed_hosts"]) == sorted(both)


def test_limit_and_a_templated_pattern_keep_batches_on_the_waves(
    fleet: FleetThread, groups: dict[str, list[str]], tmp_path: Path
) -> None:
    # With hosts templated, ansible_play_hosts_all is every host within --limit: narrow it to the clients.
    limit = [groups["wave_3"][0], groups["wave_1"][2], *groups["pilot"], groups["wave_1"][0]]
    run = rollout(
        fleet,
        tmp_path,
        "limited",
        fail=[],
        gate="max_fail_percentage: 0",
        hosts="{{ groups | rollout.windows.wave_pattern }}",
        planned_hosts="ansible_play_hosts_all | intersect(groups['rollout_clients'])",
        args=("--limit", ",".join(limit)),
    )
    assert run.rc == 0, run.output
    assert run.batches == [groups["pilot"], [groups["wave_1"][0], groups["wave_1"][2]], [groups["wave_3"][0]]]


def test_an_unreachable_host_does_not_trip_max_fail_percentage(
    fleet: FleetThread, groups: dict[str, list[str]], control: ControlClient, tmp_path: Path
) -> None:
    # Ansible counts failed hosts only: the rollout goes on past an unreachable one. The report names it,
    # and a success criterion after each wave (issue 7's gate) is what has to stop the rollout.
    away = groups["wave_1"][0]
    control.control(away, {"faults": {"unreachable": True}})
    try:
        run = rollout(fleet, tmp_path, "unreachable", fail=[], gate="max_fail_percentage: 0")
    finally:
        control.control(away, {"faults": {"unreachable": False}})
    assert run.rc == 4, run.output
    assert run.batches == planned(groups)
    (entry,) = run.report["failed_hosts"]
    assert (entry["host"], entry["status"], entry["task"]) == (away, "unreachable", "Read the installed products")
