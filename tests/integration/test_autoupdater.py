"""autoupdater and autoupdater_info over real WinRM against lab clients, and the cross-check of the schedule.

The fleet here runs one simulated second per real second and carries the lab backend, its built packages
and the simulated auto-updater (lab/host/autoupdater.py). Time that matters is moved with the control API's
clock (``POST /clock/advance``), so what a test asserts never depends on how fast the machine is.
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.host.updater_state import HiveState
from lab.testing import start_test_fleet

from .conftest import Ansible

Arrange = t.Callable[[Ansible, ControlClient, str, Path], None]

ENABLE = """
- name: enable
  rollout.windows.autoupdater:
    name: Example Office Suite
    users: "{{ users | default(omit) }}"
    state: "{{ state | default('enabled') }}"
    backend_url: "{{ rollout_backend_url }}"
"""
INFO = """
- name: info
  rollout.windows.autoupdater_info:
    name: Example Office Suite
    users: "{{ users | default(omit) }}"
"""


@pytest.fixture
def fleet(tmp_path: Path, packages: Path) -> Iterator[FleetThread]:
    """One client, the lab backend with the built packages, real time (advanced through the control API)."""
    (tmp_path / "fleet").mkdir()
    running = start_test_fleet(
        tmp_path / "fleet", clients=1, servers=0, backend=True, backend_packages=packages, time_scale=1.0
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def host(control: ControlClient, clients: list[str]) -> str:
    """The client, nobody logged on, installs take one simulated second."""
    name = clients[0]
    for session in control.host(name)["sessions"]:
        control.logoff(name, session["user"])
    control.control(name, {"behaviour": {"msiexec_duration": [1, 1]}})
    return name


def suite_install(control: ControlClient, host: str, user: str, version: str = "9.3.0") -> None:
    answer = control.request("POST", f"/hosts/{host}/suite-install", {"user": user, "version": version})
    assert answer["rc"] == 0, answer


def backend(fleet: FleetThread, *, stable: str | None = None, **settings: int) -> None:
    """The release the updaters are offered and the settings they load, set in the lab backend itself."""

    def apply() -> None:
        server = fleet.fleet.backend
        assert server is not None
        state = server.backend
        if stable is not None:
            state.channels["stable"] = stable
        state.settings.update(settings)

    fleet.run_sync(apply)


def hive(fleet: FleetThread, host: str, user: str) -> dict[str, t.Any]:
    """What the simulated updater left in the user's hive, read in the lab (no WinRM command)."""

    def read() -> dict[str, t.Any]:
        return dict(vars(HiveState(fleet.fleet.hosts[host].host, user).read()))

    return fleet.run_sync(read)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def lab_now(fleet: FleetThread) -> datetime:
    clock = fleet.fleet.clock
    assert clock is not None
    return fleet.run_sync(clock.now)


def advance_to(control: ControlClient, when: datetime) -> datetime:
    return datetime.fromisoformat(control.request("POST", "/clock/advance", {"to": when.isoformat()})["now"])


def wait_for(fleet: FleetThread, host: str, user: str, ready: t.Callable[[dict[str, t.Any]], bool]) -> dict[str, t.Any]:
    """The hive once ``ready`` holds: the updater's step runs its backend requests in real time (bounded)."""
    deadline = time.monotonic() + 20
    while True:
        state = hive(fleet, host, user)
        if ready(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def restart(control: ControlClient, host: str) -> None:
    """A system restart: the startup task starts every enabled user's updater once the host is up."""
    control.reboot(host, 0)


def by_user(result: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {entry["user"].rsplit("\\", 1)[-1]: entry for entry in result["users"]}


def user_of(control: ControlClient, host: str) -> str:
    """The seeded account of the client (it has a profile and NTUSER.DAT)."""
    snapshot = control.host(host)
    return str(next(u for u in snapshot["users"] if u.lower() != "administrator"))


def enable(ansible: Ansible, host: str, **extra: t.Any) -> dict[str, t.Any]:
    run = ansible.playbook(ENABLE, hosts=host, extra_vars=extra or None)
    return run.result(host, "enable")


def info(ansible: Ansible, host: str, **extra: t.Any) -> dict[str, t.Any]:
    run = ansible.playbook(INFO, hosts=host, extra_vars=extra or None)
    result = run.result(host, "info")
    assert result["_status"] == "ok", run.stdout
    return result


# ---- enabling, disabling, check mode ---------------------------------------------------------------------


def test_enable_and_disable_each_change_once_then_one_command(
    ansible: Ansible, control: ControlClient, host: str
) -> None:
    user = user_of(control, host)
    suite_install(control, host, user)
    first = enable(ansible, host)
    assert first["_status"] == "changed", first
    assert first["winrm"]["commands"] == 2  # one read, one write for every user
    entry = by_user(first)[user]
    assert (entry["before"]["enabled"], entry["after"]["enabled"]) == (False, True)
    tasks = control.host(host)["tasks"]
    sid = control.host(host)["users"][user]
    assert f"\\rollout.windows\\AutoUpdater\\{sid}" in tasks
    again = enable(ansible, host)
    assert again["_status"] == "ok", again
    assert again["winrm"]["commands"] == 1

    off = enable(ansible, host, state="disabled")
    assert off["_status"] == "changed", off
    assert off["winrm"]["commands"] == 2
    assert by_user(off)[user]["after"]["policy"]["Enabled"] == 0
    assert f"\\rollout.windows\\AutoUpdater\\{sid}" not in control.host(host)["tasks"]
    off_again = enable(ansible, host, state="disabled")
    assert off_again["_status"] == "ok", off_again
    assert off_again["winrm"]["commands"] == 1


def test_check_mode_changes_nothing(ansible: Ansible, control: ControlClient, host: str) -> None:
    user = user_of(control, host)
    suite_install(control, host, user)
    before = control.host(host)["tasks"]
    run = ansible.playbook(ENABLE, hosts=host, check=True, diff=True)
    result = run.result(host, "enable")
    assert result["_status"] == "changed", run.stdout
    assert result["winrm"]["commands"] == 1
    assert by_user(result)[user]["after"]["enabled"] is True
    assert control.host(host)["tasks"] == before
    assert by_user(info(ansible, host))[user]["enabled"] is False


# ---- refusals --------------------------------------------------------------------------------------------


def _machine_install(ansible: Ansible, control: ControlClient, host: str, packages: Path) -> None:
    run = ansible.playbook(
        '- name: install\n  rollout.windows.msi_package:\n    src: "{{ src }}"\n',
        hosts=host,
        extra_vars={"src": str(packages / "machine-9.3.0")},
    )
    assert run.rc == 0, run.stdout


def _user_install_by_msi_package(ansible: Ansible, control: ControlClient, host: str, packages: Path) -> None:
    control.logon(host, user_of(control, host))  # msi_package scope=user installs in the user's session
    run = ansible.playbook(
        '- name: install\n  rollout.windows.msi_package:\n    src: "{{ src }}"\n    scope: user\n',
        hosts=host,
        extra_vars={"src": str(packages / "user-9.3.0")},
    )
    assert run.rc == 0, run.stdout


def _old_version(ansible: Ansible, control: ControlClient, host: str, packages: Path) -> None:
    suite_install(control, host, user_of(control, host), "8.3.0")


def _no_webview2(ansible: Ansible, control: ControlClient, host: str, packages: Path) -> None:
    suite_install(control, host, user_of(control, host))
    control.control(host, {"behaviour": {"webview2": "none"}})


@pytest.mark.parametrize(
    "case",
    [
        ((_machine_install, "the auto-updater exists only in the per-user variant")),
        ((_old_version, "version 8.3.0 has no auto-updater (it comes with version 8.4 and later)")),
        ((_no_webview2, "the WebView2 Runtime is not installed")),
        ((_user_install_by_msi_package, "not installed by the suite installer (its installation source is ")),
    ],
    ids=["per-machine", "8.3.0", "no-webview2", "msi_package-scope-user"],
)
def test_refusal_changes_nothing_in_one_command(
    ansible: Ansible, control: ControlClient, host: str, packages: Path, case: tuple[Arrange, str]
) -> None:
    arrange, reason = case
    arrange(ansible, control, host, packages)
    tasks = control.host(host)["tasks"]
    result = enable(ansible, host)
    assert result["_status"] == "failed", result
    assert reason in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"]
    assert result["winrm"]["commands"] == 1
    assert control.host(host)["tasks"] == tasks


def test_refusal_of_an_install_not_made_by_the_suite_names_the_cache(
    ansible: Ansible, control: ControlClient, host: str, packages: Path
) -> None:
    _user_install_by_msi_package(ansible, control, host, packages)
    result = enable(ansible, host)
    assert "AppData\\Local\\Package Cache)" in result["msg"], result["msg"]
    (refusal,) = result["refusals"]
    assert refusal["user"].rsplit("\\", 1)[-1] == user_of(control, host)


# ---- reports -----------------------------------------------------------------------------------------------


def test_info_before_and_after_a_check(ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread) -> None:
    user = user_of(control, host)
    suite_install(control, host, user)
    backend(fleet, stable="9.3.0", update_check_interval=7200)  # nothing newer: the check ends with no_update
    before = by_user(info(ansible, host))[user]
    assert (before["enabled"], before["row"], before["next_check"], before["last_check"]) == (False, None, None, None)
    assert before["requirements_unmet"] == []
    assert before["why"].startswith("The updater has recorded no check yet")
    assert before["settings_source"] == "defaults"

    assert enable(ansible, host)["_status"] == "changed"
    restart(control, host)
    state = wait_for(fleet, host, user, lambda s: s["LastOutcome"] != "none")
    assert state["LastOutcome"] == "no_update", state

    result = info(ansible, host)
    assert result["winrm"]["commands"] == 1
    after = by_user(result)[user]
    assert (after["enabled"], after["task_in_place"], after["last_outcome"], after["row"]) == (
        True,
        True,
        "no_update",
        "default",
    )
    assert after["settings_source"] == "updater"
    assert after["settings"]["update_check_interval"] == 7200
    last = datetime.fromisoformat(after["last_check"])
    assert last == _utc(state["LastCheck"])
    assert datetime.fromisoformat(after["next_check"]["utc"]) == last + timedelta(seconds=7200)
    assert after["next_check"]["due"] is False


def test_two_users_on_one_host_one_enabled(ansible: Ansible, control: ControlClient, host: str) -> None:
    suite_install(control, host, "anna")
    suite_install(control, host, "ben")
    result = enable(ansible, host, users=["anna"])
    assert result["_status"] == "changed", result
    assert [e["user"].rsplit("\\", 1)[-1] for e in result["users"]] == ["anna"]
    report = by_user(info(ansible, host))
    assert (report["anna"]["enabled"], report["anna"]["task_in_place"]) == (True, True)
    assert (report["ben"]["enabled"], report["ben"]["task_in_place"], report["ben"]["task"]) == (False, False, None)
    assert report["ben"]["requirements_unmet"] == []
