"""playbooks/rollout.yml end to end: real ansible-playbook over real WinRM against a lab fleet, the lab's own
pilot and wave groups, faults injected through the lab control API, outcomes read back from the lab.

Each test gets a fresh fleet and arranges the state its step of an admin's story starts from (a stopped
rollout, then its resumption) itself, so the tests pass alone and in any order.
"""

from __future__ import annotations

import json
import re
import subprocess
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from .conftest import BIN, ROOT, TIME_SCALE, Ansible, report_env

PLAYBOOK = ROOT / "playbooks" / "rollout.yml"
# lab.fleet.assign_waves: 31 clients make a pilot of 2 and waves of 10, 10 and 9, so one failure in
# wave_1 is exactly 10 %.
CLIENTS = 31
# The lab's users have Office open and some ignore the message: poll every second, close after five.
FAST_GATE = {
    "office_gate_interval": 1,
    "office_gate_attempts": 30,
    "office_gate_force": True,
    "office_gate_deadline": 5,
}
_RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class Rollout:
    rc: int
    output: str
    report: dict[str, t.Any]

    def recap(self) -> dict[str, dict[str, int]]:
        return {
            m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
            for m in _RECAP.findall(self.output)
        }

    @property
    def failed_hosts(self) -> dict[str, str]:
        return {f["host"]: f["msg"] for f in self.report.get("failed_hosts", [])}


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Iterator[FleetThread]:
    """Overrides conftest's fleet: more clients, and the lab backend whose URL and token go into the inventory."""
    running = start_test_fleet(
        tmp_path_factory.mktemp("rollout"),
        clients=CLIENTS,
        servers=0,
        time_scale=TIME_SCALE,
        backend=True,
        backend_packages=packages,
    )
    yield running
    running.stop()


@pytest.fixture
def waves(fleet: FleetThread) -> dict[str, list[str]]:
    assert fleet.config.inventory is not None
    inventory = yaml.safe_load(fleet.config.inventory.read_text())
    groups = inventory["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["children"]
    found = {name: sorted(group["hosts"]) for name, group in groups.items()}
    assert [len(found[w]) for w in ("pilot", "wave_1", "wave_2", "wave_3")] == [2, 10, 10, 9]
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def install_913(fleet: FleetThread, workdir: Path, packages: Path, hosts: list[str]) -> None:
    """What an earlier rollout left on ``hosts``: 9.3.1 installed, put there by msi_package directly."""
    assert fleet.config.inventory is not None
    (workdir / "arrange").mkdir(exist_ok=True)
    ansible = Ansible(fleet.config.inventory, workdir / "arrange")
    run = ansible.playbook(
        """
        - name: install
          rollout.windows.msi_package:
            src: "{{ src }}"
        """,
        hosts=":".join(hosts),
        extra_vars={"src": str(packages / "machine-9.3.1")},
    )
    assert run.rc == 0, run.stdout


def rollout(
    fleet: FleetThread,
    workdir: Path,
    packages: Path,
    name: str,
    extra: dict[str, t.Any] | None = None,
    *,
    inventory: Path | None = None,
    args: tuple[str, ...] = (),
    timeout: int = 300,
) -> Rollout:
    """playbooks/rollout.yml as an admin runs it, without a terminal (stdin is /dev/null, as in CI)."""
    reports = workdir / f"reports-{name}"
    extra_vars = {"rollout_package_src": str(packages / "machine-9.3.1"), **FAST_GATE, **(extra or {})}
    env = report_env(workdir, reports)
    inventory = inventory or fleet.config.inventory
    assert inventory is not None
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(PLAYBOOK),
        "-e",
        json.dumps(extra_vars),
        *args,
    ]
    proc = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = proc.stdout + proc.stderr
    report_file = reports / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Rollout(proc.returncode, output, report)


def machine_versions(control: ControlClient, hosts: list[str]) -> dict[str, list[str]]:
    return {host: [p["version"] for p in control.host(host)["products"] if p["scope"] == "machine"] for host in hosts}


def commands(control: ControlClient, hosts: list[str]) -> dict[str, int]:
    return {host: control.counters(host).get("commands", 0) for host in hosts}


def test_a_failed_wave_stops_the_rollout_and_later_waves_are_untouched(
    fleet: FleetThread, control: ControlClient, waves: dict[str, list[str]], workdir: Path, packages: Path
) -> None:
    bad = waves["wave_1"][:2]
    for host in bad:
        control.control(host, {"behaviour": {"msiexec_results": [1603] * 5}})
    control.reset_counters()
    # 2 failures in a batch of 10 are 20 %: more than 10, so Ansible stops the batch.
    run = rollout(fleet, workdir, packages, "max-fail", {"rollout_max_fail_percentage": 10})
    assert run.rc == 2, run.output
    later = waves["wave_2"] + waves["wave_3"]
    assert set(commands(control, later).values()) == {0}, "a later wave was touched"
    assert set(map(tuple, machine_versions(control, later).values())) == {()}
    assert machine_versions(control, waves["pilot"]) == {host: ["9.3.1"] for host in waves["pilot"]}
    for host in bad:
        assert "1603" in run.failed_hosts[host]
        assert machine_versions(control, [host])[host] == []
    progress = {wave["wave"]: wave for wave in run.report["plays"][-1]["waves"]}
    assert (progress["wave_2"]["remaining"], progress["wave_3"]["remaining"]) == (10, 9)


def test_the_success_criterion_stops_a_wave_with_10_percent_failures(
    fleet: FleetThread, control: ControlClient, waves: dict[str, list[str]], workdir: Path, packages: Path
) -> None:
    bad = waves["wave_1"][0]
    # Where a first, stopped rollout left the fleet: the pilot done, wave_1 not begun, one host still failing.
    install_913(fleet, workdir, packages, waves["pilot"])
    control.control(bad, {"behaviour": {"msiexec_results": [1603] * 5}})
    control.reset_counters()
    # 1 failure in 10 does not exceed a max_fail_percentage of 20: only the success criterion (95 %) stops it.
    run = rollout(fleet, workdir, packages, "criterion", {"rollout_max_fail_percentage": 20})
    assert run.rc == 2, run.output
    assert (
        "rollout stopped after wave_1: 9 of 10 host(s) (90.0 %) have 9.3.1, below the success criterion of 95 %. "
        f"Failed or unreachable: {bad}. Later waves were not touched." in run.output
    )
    assert set(commands(control, waves["wave_2"] + waves["wave_3"]).values()) == {0}, "a later wave was touched"
    others = [host for host in waves["wave_1"] if host != bad]
    assert machine_versions(control, others) == {host: ["9.3.1"] for host in others}
    assert machine_versions(control, [bad]) == {bad: []}
    # The pilot finished in the first run: this one only looked.
    assert commands(control, waves["pilot"]) == {host: 1 for host in waves["pilot"]}


def test_a_rerun_after_the_fix_resumes_the_rollout(
    fleet: FleetThread, control: ControlClient, waves: dict[str, list[str]], workdir: Path, packages: Path
) -> None:
    bad = waves["wave_1"][0]
    # Where the stopped rollouts left the fleet: the pilot and wave_1 done but for one host, now fixed.
    install_913(fleet, workdir, packages, waves["pilot"] + [host for host in waves["wave_1"] if host != bad])
    control.reset_counters()
    run = rollout(fleet, workdir, packages, "resume")
    assert run.rc == 0, run.output
    everyone = [host for hosts in waves.values() for host in hosts]
    assert machine_versions(control, everyone) == {host: ["9.3.1"] for host in everyone}
    finished = waves["pilot"] + [host for host in waves["wave_1"] if host != bad]
    recap = run.recap()
    cost = commands(control, finished)
    # Finished hosts: one WinRM command (the installed products) and nothing changed.
    assert set(cost.values()) == {1}, cost
    assert {host: recap[host]["changed"] for host in finished} == dict.fromkeys(finished, 0)
    assert all(recap[host]["changed"] > 0 for host in [bad, *waves["wave_2"], *waves["wave_3"]])
    assert all(commands(control, [host])[host] > 2 for host in [bad, *waves["wave_2"]])
    assert run.report["ok"] is True
    # What each host had before, as its install task found it: the report counts them by version.
    before = sorted(
        [{"version": "9.3.1", "hosts": len(finished)}, {"version": None, "hosts": len(everyone) - len(finished)}],
        key=lambda entry: -entry["hosts"],
    )
    assert run.report["rollout"]["version_before"] == before
    assert run.report["rollout"]["version_after"] == "9.3.1"


def test_no_approval_in_a_run_without_a_terminal_stops_with_a_clear_message(
    fleet: FleetThread, control: ControlClient, waves: dict[str, list[str]], workdir: Path, packages: Path
) -> None:
    # A fleet already on 9.3.1 (what a finished rollout leaves): an approved wave costs one command a host.
    install_913(fleet, workdir, packages, [host for hosts in waves.values() for host in hosts])
    control.reset_counters()
    run = rollout(fleet, workdir, packages, "no-approval", {"rollout_approval": True}, timeout=120)
    assert run.rc == 2, run.output
    assert "rollout stopped before wave_1: not approved" in run.output
    assert '-e \'{"rollout_approve_waves": ["wave_1"]}\'' in run.output
    assert set(commands(control, waves["wave_1"]).values()) == {0}, "wave_1 ran without approval"

    # Pre-approved waves go on; the first wave that is not approved stops the rollout.
    control.reset_counters()
    run = rollout(
        fleet, workdir, packages, "approved-1", {"rollout_approval": True, "rollout_approve_waves": ["wave_1"]}
    )
    assert run.rc == 2, run.output
    assert "rollout stopped before wave_2: not approved" in run.output
    assert set(commands(control, waves["wave_1"]).values()) == {1}
    assert set(commands(control, waves["wave_2"]).values()) == {0}

    # CI: every wave approved, as -e key=value passes it (a string).
    run = rollout(
        fleet, workdir, packages, "approved-all", {"rollout_approval": True}, args=("-e", "rollout_approve_waves=true")
    )
    assert run.rc == 0, run.output


def test_the_backend_throttle_caps_every_batch(
    fleet: FleetThread, control: ControlClient, waves: dict[str, list[str]], workdir: Path, packages: Path
) -> None:
    try:
        run = rollout(fleet, workdir, packages, "throttle", {"rollout_backend_settings": {"max_parallel_syncs": 4}})
        assert run.rc == 0, run.output
        assert "batch cap 4 (backend max parallel syncs 4)" in run.output
        sizes = [len(batch["hosts"]) for batch in run.report["plays"][-1]["batches"]]
        assert sizes == [2, 4, 3, 3, 4, 3, 3, 3, 3, 3]
        # rollout_max_batch lower than the throttle wins.
        run = rollout(fleet, workdir, packages, "throttle-and-cap", {"rollout_max_batch": 2})
        assert run.rc == 0, run.output
        assert "batch cap 2 (backend max parallel syncs 4, rollout_max_batch 2)" in run.output
    finally:
        rollout(fleet, workdir, packages, "throttle-off", {"rollout_backend_settings": {"max_parallel_syncs": 0}})


def test_big_bang_refuses_more_than_1000_hosts_before_contacting_any(
    fleet: FleetThread, control: ControlClient, workdir: Path, packages: Path
) -> None:
    assert fleet.config.inventory is not None
    lab = yaml.safe_load(fleet.config.inventory.read_text())
    real = lab["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["hosts"]
    connections = list(real.values())
    # 1,001 entries, each a real lab host under another name: any contact would show in the lab's counters.
    hosts = {f"pc-{i:04d}": connections[i % len(connections)] for i in range(1001)}
    inventory = workdir / "big.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"vars": lab["all"]["vars"], "children": {"rollout_clients": {"hosts": hosts}}}}),
        encoding="utf-8",
    )
    control.reset_counters()
    run = rollout(fleet, workdir, packages, "big-bang", {"rollout_strategy": "big_bang"}, inventory=inventory)
    assert run.rc != 0, run.output
    assert "a big bang to 1001 hosts is above the recommended maximum of 1000" in run.output
    assert "rollout_big_bang_confirm=true" in run.output
    assert control.fleet_counters().get("requests", 0) == 0, "a host was contacted"
