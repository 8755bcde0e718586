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
# The lab clock's resolution as the cross-check sees it: the updater records whole seconds, the model's
# prediction starts from them, and a timer due at T runs at T plus the real time one event-loop round takes.
RESOLUTION = 2.0


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
        state = fleet.fleet.backend.backend  # type: ignore[union-attr]
        if stable is not None:
            state.channels["stable"] = stable
        state.settings.update(settings)

    fleet.run_sync(apply)


def hive(fleet: FleetThread, host: str, user: str) -> dict[str, t.Any]:
    """What the simulated updater left in the user's hive, read in the lab (no WinRM command)."""
    return fleet.run_sync(lambda: HiveState(fleet.fleet.hosts[host].host, user).read().__dict__.copy())


def lab_now(fleet: FleetThread) -> datetime:
    return fleet.run_sync(lambda: fleet.fleet.clock.now())  # type: ignore[union-attr]


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
    return next(u for u in snapshot["users"] if u.lower() != "administrator")


def enable(ansible: t.Any, host: str, **extra: t.Any) -> dict[str, t.Any]:
    run = ansible.playbook(ENABLE, hosts=host, extra_vars=extra or None)
    return run.result(host, "enable")


def info(ansible: t.Any, host: str, **extra: t.Any) -> dict[str, t.Any]:
    run = ansible.playbook(INFO, hosts=host, extra_vars=extra or None)
    result = run.result(host, "info")
    assert result["_status"] == "ok", run.stdout
    return result


# ---- enabling, disabling, check mode ---------------------------------------------------------------------


def test_enable_and_disable_each_change_once_then_one_command(ansible, control, host) -> None:
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


def test_check_mode_changes_nothing(ansible, control, host) -> None:
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


def _machine_install(ansible: t.Any, control: ControlClient, host: str, packages: Path) -> None:
    run = ansible.playbook(
        "- name: install\n  rollout.windows.msi_package:\n    src: \"{{ src }}\"\n",
        hosts=host,
        extra_vars={"src": str(packages / "machine-9.3.0")},
    )
    assert run.rc == 0, run.stdout


def _user_install_by_msi_package(ansible: t.Any, control: ControlClient, host: str, packages: Path) -> None:
    control.logon(host, user_of(control, host))  # msi_package scope=user installs in the user's session
    run = ansible.playbook(
        "- name: install\n  rollout.windows.msi_package:\n    src: \"{{ src }}\"\n    scope: user\n",
        hosts=host,
        extra_vars={"src": str(packages / "user-9.3.0")},
    )
    assert run.rc == 0, run.stdout


def _old_version(ansible: t.Any, control: ControlClient, host: str, packages: Path) -> None:
    suite_install(control, host, user_of(control, host), "8.3.0")


def _no_webview2(ansible: t.Any, control: ControlClient, host: str, packages: Path) -> None:
    suite_install(control, host, user_of(control, host))
    control.control(host, {"behaviour": {"webview2": "none"}})


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (_machine_install, "the auto-updater exists only in the per-user variant"),
        (_old_version, "version 8.3.0 has no auto-updater (it comes with version 8.4 and later)"),
        (_no_webview2, "the WebView2 Runtime is not installed"),
        (_user_install_by_msi_package, "not installed by the suite installer (its installation source is "),
    ],
    ids=["per-machine", "8.3.0", "no-webview2", "msi_package-scope-user"],
)
def test_refusal_changes_nothing_in_one_command(ansible, control, host, packages: Path, arrange, reason) -> None:
    arrange(ansible, control, host, packages)
    tasks = control.host(host)["tasks"]
    result = enable(ansible, host)
    assert result["_status"] == "failed", result
    assert reason in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"]
    assert result["winrm"]["commands"] == 1
    assert control.host(host)["tasks"] == tasks


def test_refusal_of_an_install_not_made_by_the_suite_names_the_cache(ansible, control, host, packages) -> None:
    _user_install_by_msi_package(ansible, control, host, packages)
    result = enable(ansible, host)
    assert "AppData\\Local\\Package Cache)" in result["msg"], result["msg"]
    (refusal,) = result["refusals"]
    assert refusal["user"].rsplit("\\", 1)[-1] == user_of(control, host)


# ---- reports -----------------------------------------------------------------------------------------------


def test_info_before_and_after_a_check(ansible, control, host, fleet) -> None:
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
    assert last == datetime.fromisoformat(state["LastCheck"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(after["next_check"]["utc"]) == last + timedelta(seconds=7200)
    assert after["next_check"]["due"] is False


def test_two_users_on_one_host_one_enabled(ansible, control, host) -> None:
    suite_install(control, host, "anna")
    suite_install(control, host, "ben")
    result = enable(ansible, host, users=["anna"])
    assert result["_status"] == "changed", result
    assert [e["user"].rsplit("\\", 1)[-1] for e in result["users"]] == ["anna"]
    report = by_user(info(ansible, host))
    assert (report["anna"]["enabled"], report["anna"]["task_in_place"]) == (True, True)
    assert (report["ben"]["enabled"], report["ben"]["task_in_place"], report["ben"]["task"]) == (False, False, None)
    assert report["ben"]["requirements_unmet"] == []


# ---- the cross-check: the model's prediction against what the simulated updater does --------------------


def _predicted(ansible: t.Any, host: str, user: str) -> tuple[str, datetime, dict[str, t.Any]]:
    entry = by_user(info(ansible, host))[user]
    assert entry["problems"] == [], entry["problems"]
    return entry["row"], datetime.fromisoformat(entry["next_check"]["utc"]), entry


def _happens_at(fleet: FleetThread, control: ControlClient, host: str, user: str, due: datetime) -> dict[str, t.Any]:
    """Assert the updater does nothing until just before ``due`` and acts just after it; its state then."""
    quiet = hive(fleet, host, user)
    advance_to(control, due - timedelta(seconds=RESOLUTION))
    time.sleep(0.2)  # lets a timer that should not be due yet show itself if it were
    assert hive(fleet, host, user) == quiet, f"the updater acted before {due.isoformat()}"
    advance_to(control, due + timedelta(seconds=RESOLUTION))
    state = wait_for(fleet, host, user, lambda s: s != quiet)
    assert state != quiet, f"the updater did nothing by {due.isoformat()} (lab clock {lab_now(fleet).isoformat()})"
    return state


def _checked_at(state: dict[str, t.Any], due: datetime) -> None:
    """The check the updater recorded started when the model said (LastCheck, whole seconds)."""
    started = datetime.fromisoformat(state["LastCheck"].replace("Z", "+00:00"))
    assert abs((started - due).total_seconds()) <= RESOLUTION, (started.isoformat(), due.isoformat())


def _prepare(ansible: t.Any, control: ControlClient, fleet: FleetThread, host: str, **settings: t.Any) -> str:
    user = user_of(control, host)
    suite_install(control, host, user)
    backend(fleet, **settings)
    assert enable(ansible, host)["_status"] == "changed"
    return user


SETTINGS = {"error_interval": 900, "process_check_interval": 60, "process_check_attempts": 2, "install_attempts": 2}


def test_default_row_next_check_after_update_check_interval(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.0", update_check_interval=7200, **SETTINGS)
    restart(control, host)
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "no_update")
    row, due, _ = _predicted(ansible, host, user)
    assert row == "default"
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_error_row_backend_unreachable(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"faults": {"backend_unreachable": True}})
    restart(control, host)
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "error")
    row, due, entry = _predicted(ansible, host, user)
    assert row == "error", entry["why"]
    assert entry["settings_source"] == "defaults"  # it never reached the backend: the product's 60 minutes
    assert due == datetime.fromisoformat(entry["last_check"]) + timedelta(seconds=3600)
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_error_row_broken_download(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"faults": {"download_corrupt": 1}})
    restart(control, host)
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "error")
    row, due, entry = _predicted(ansible, host, user)
    assert (row, entry["download_attempts"]) == ("error", 1), entry["why"]
    assert due == datetime.fromisoformat(entry["last_check"]) + timedelta(seconds=900)
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)
    # The retry downloads a good package and installs it: the model's after_install row follows.
    wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    assert _predicted(ansible, host, user)[0] == "after_install"


def test_after_install_row_the_install_is_checked_5_minutes_later(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    row, due, _ = _predicted(ansible, host, user)
    assert row == "after_install"
    _checked_at(started, due - timedelta(seconds=300))
    state = _happens_at(fleet, control, host, user, due)
    assert (state["LastOutcome"], state["UpdaterVersion"]) == ("installed", "9.3.1"), state


@pytest.mark.xfail(
    strict=True,
    reason="model and lab disagree after a verified install: the lab checks again 5 minutes after it found the "
    "install done (seed row 'restart after an install'), the model applies update_check_interval from LastCheck",
)
def test_after_a_verified_install_the_next_check_is_where_the_model_says(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    advance_to(control, datetime.fromisoformat(started["LastCheck"].replace("Z", "+00:00")) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "installed")
    row, due, _ = _predicted(ansible, host, user)
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


@pytest.mark.xfail(
    strict=True,
    reason="the lab does not rewrite LastCheck when the check of the install fails (the contract's clarification "
    "says it must), so the model counts the error interval from the check's start, the lab from the failed check",
)
def test_error_row_install_failure(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    advance_to(control, datetime.fromisoformat(started["LastCheck"].replace("Z", "+00:00")) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "error")
    row, due, entry = _predicted(ansible, host, user)
    assert (row, entry["install_attempts"]) == ("error", 1), entry["why"]
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_apps_running_row_next_local_midnight(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"faults": {"office_never_closed": True}})
    restart(control, host)
    control.logon(host, user)  # logged on again after the restart, before the updater's first poll
    polling = wait_for(fleet, host, user, lambda s: s["Phase"] == "waiting_for_apps")
    advance_to(control, datetime.fromisoformat(polling["LastCheck"].replace("Z", "+00:00")) + timedelta(seconds=62))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "apps_running")
    row, due, entry = _predicted(ansible, host, user)
    assert row == "apps_running", entry["why"]
    assert entry["next_check"]["local"].endswith("T00:00:00+01:00"), entry["next_check"]  # Berlin, in December
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


@pytest.mark.xfail(
    strict=True,
    reason="the lab does not rewrite LastCheck when the last install attempt fails (the contract's clarification "
    "says it must), so the model counts 7 days from the check's start, the lab from the failed check",
)
def test_unrecoverable_row_after_7_days(ansible, control, host, fleet) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **{**SETTINGS, "install_attempts": 1})
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    advance_to(control, datetime.fromisoformat(started["LastCheck"].replace("Z", "+00:00")) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "unrecoverable")
    row, due, entry = _predicted(ansible, host, user)
    assert row == "unrecoverable", entry["why"]
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
