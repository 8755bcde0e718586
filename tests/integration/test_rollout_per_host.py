"""playbooks/rollout.yml with a rollout setting that differs between clients (issue 17).

Every decision of the rollout (the plan, the backend settings, the gate, soak and approval of each
batch) is made once with one host's values. A value set for one client or one wave only must be
refused before any client is contacted, not silently replaced by the first client's value.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from . import test_rollout as base
from .conftest import TIME_SCALE

CLIENTS = 8


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    running = start_test_fleet(tmp_path_factory.mktemp("per-host"), clients=CLIENTS, servers=0, time_scale=TIME_SCALE)
    yield running
    running.stop()


@pytest.fixture
def control(fleet: FleetThread) -> ControlClient:
    return ControlClient(fleet.control_url)


def clients_by_wave(fleet: FleetThread) -> dict[str, list[str]]:
    assert fleet.config.inventory is not None
    inventory = yaml.safe_load(fleet.config.inventory.read_text())
    groups = inventory["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["children"]
    return {name: sorted(group["hosts"]) for name, group in groups.items()}


def overlay(fleet: FleetThread, tmp_path: Path, folder: str, name: str, values: dict[str, t.Any]) -> Path:
    """The lab inventory with a host_vars or group_vars file next to it, as an admin would write one."""
    assert fleet.config.inventory is not None
    inventory = tmp_path / "inventory"
    (inventory / folder).mkdir(parents=True)
    (inventory / "lab.yml").write_text(fleet.config.inventory.read_text(), encoding="utf-8")
    (inventory / folder / f"{name}.yml").write_text(yaml.safe_dump(values), encoding="utf-8")
    return inventory


# Each decision the rollout makes once, with a value for one client or one wave that differs from the rest.
DECISIONS = [
    pytest.param(("host_vars", "rollout_success_percentage", 50), id="gate-success-criterion"),
    pytest.param(("host_vars", "rollout_soak_seconds", 600), id="soak"),
    pytest.param(("group_vars", "rollout_approval", False), id="approval-prompt"),
    pytest.param(("group_vars", "rollout_approve_waves", ["wave_2"]), id="approved-waves"),
    pytest.param(("host_vars", "rollout_big_bang_confirm", True), id="big-bang-confirmation"),
    pytest.param(("host_vars", "rollout_max_batch", 1), id="batch-cap"),
    pytest.param(("group_vars", "rollout_max_fail_percentage", 50), id="max-fail-percentage"),
    pytest.param(("host_vars", "rollout_strategy", "big_bang"), id="strategy"),
    pytest.param(("host_vars", "rollout_backend_settings", {"max_parallel_syncs": 1}), id="backend-settings"),
    # The install's arguments are built once, with the first client's values, for every client.
    pytest.param(("host_vars", "office_gate_message", "Bitte Office schliessen"), id="office-gate-message"),
    pytest.param(("group_vars", "msi_install_reboot", True), id="install-reboot"),
]


@pytest.mark.parametrize("case", DECISIONS)
def test_a_setting_for_some_clients_only_is_refused_before_any_client_is_contacted(
    fleet: FleetThread, control: ControlClient, packages: Path, tmp_path: Path, case: tuple[str, str, t.Any]
) -> None:
    folder, variable, value = case
    waves = clients_by_wave(fleet)
    clients = sorted(h for hosts in waves.values() for h in hosts)
    # Not the first client: the one whose values a run_once decision reads.
    name = "wave_1" if folder == "group_vars" else clients[-1]
    inventory = overlay(fleet, tmp_path, folder, name, {variable: value})
    control.reset_counters(clients)
    run = base.rollout(fleet, tmp_path, packages, variable, inventory=inventory, timeout=120)
    assert run.rc != 0, run.output
    assert f"{variable} differs between clients" in run.output, run.output
    assert "set these for all of rollout_clients" in run.output
    assert base.commands(control, clients) == dict.fromkeys(clients, 0)
    assert base.machine_versions(control, clients) == {h: [] for h in clients}


def test_restart_manager_enable_without_force_is_refused_before_any_client_is_contacted(
    fleet: FleetThread, control: ControlClient, packages: Path, tmp_path: Path
) -> None:
    clients = sorted(h for hosts in clients_by_wave(fleet).values() for h in hosts)
    control.reset_counters(clients)
    run = base.rollout(
        fleet,
        tmp_path,
        packages,
        "restart-manager",
        {"msi_install_restart_manager": "enable", "office_gate_force": False},
    )
    assert run.rc != 0, run.output
    assert "msi_install_restart_manager=enable lets msiexec shut down" in run.output, run.output
    assert "set office_gate_force to true to confirm" in run.output
    assert base.commands(control, clients) == dict.fromkeys(clients, 0)
    assert base.machine_versions(control, clients) == {h: [] for h in clients}


def test_every_input_problem_is_named_at_once_before_any_client_is_contacted(
    fleet: FleetThread, control: ControlClient, packages: Path, tmp_path: Path
) -> None:
    # No package, a backend setting that does not exist, and a wave group outside rollout_clients (the waves are
    # the wave_N groups found in the inventory).
    waves = clients_by_wave(fleet)
    clients = sorted(h for hosts in waves.values() for h in hosts)
    assert fleet.config.inventory is not None
    inventory = yaml.safe_load(fleet.config.inventory.read_text())
    inventory["all"]["children"]["wave_9"] = {"hosts": {"stray-pc": {"ansible_host": "127.0.0.1"}}}
    path = tmp_path / "stray.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    control.reset_counters(clients)
    run = base.rollout(
        fleet,
        tmp_path,
        packages,
        "inputs",
        {"rollout_package_src": "", "rollout_backend_settings": {"colour": "blue"}},
        inventory=path,
    )
    assert run.rc != 0, run.output
    assert "Set rollout_package_src to the package folder on the controller" in run.output, run.output
    assert "rollout_backend_settings: unknown setting(s) colour; accepted: update_check_interval," in run.output
    assert "1 host(s) of the wave groups are not in rollout_clients: stray-pc" in run.output
    assert base.commands(control, clients) == dict.fromkeys(clients, 0)
    assert base.machine_versions(control, clients) == {h: [] for h in clients}
