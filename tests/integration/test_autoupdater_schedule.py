"""The cross-check: what autoupdater_info predicts against what the lab's simulated updater then does.

For each row of the interval table (docs/autoupdater.md, seed 003) a test brings a user's updater there with
the lab's faults, asks autoupdater_info for ``row`` and ``next_check.utc``, moves the lab clock to just
before that time (nothing may happen) and just after it (the updater must act), and compares what it
recorded. The two are written independently (the lab never imports the model), so an agreement here is
evidence, not an echo.
"""

from __future__ import annotations

import time
import typing as t
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from lab.control import ControlClient
from lab.fleet import FleetThread

from . import test_autoupdater as base
from .conftest import Ansible
from .test_autoupdater import (
    _utc,
    advance_to,
    backend,
    by_user,
    enable,
    hive,
    info,
    lab_now,
    restart,
    suite_install,
    user_of,
    wait_for,
)

# The per-test fleet (one client, the lab backend, real time) and its client, as the module tests have them.
fleet = base.fleet
host = base.host
# The lab clock's resolution as the cross-check sees it: the updater records whole seconds, the model's
# prediction starts from them, and a timer due at T runs at T plus the real time one event-loop round takes.
RESOLUTION = 2.0


def _predicted(ansible: Ansible, host: str, user: str) -> tuple[str, datetime, dict[str, t.Any]]:
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
    started = _utc(state["LastCheck"])
    assert abs((started - due).total_seconds()) <= RESOLUTION, (started.isoformat(), due.isoformat())


def _prepare(ansible: Ansible, control: ControlClient, fleet: FleetThread, host: str, **settings: t.Any) -> str:
    user = user_of(control, host)
    suite_install(control, host, user)
    backend(fleet, **settings)
    assert enable(ansible, host)["_status"] == "changed"
    return user


SETTINGS = {"error_interval": 900, "process_check_interval": 60, "process_check_attempts": 2, "install_attempts": 2}


def test_default_row_next_check_after_update_check_interval(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.0", update_check_interval=7200, **SETTINGS)
    restart(control, host)
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "no_update")
    row, due, _entry = _predicted(ansible, host, user)
    assert row == "default"
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_error_row_backend_unreachable(ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread) -> None:
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


def test_error_row_broken_download(ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread) -> None:
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


def test_after_install_row_the_install_is_checked_5_minutes_later(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] in ("installing", "checking_install"))
    row, due, _entry = _predicted(ansible, host, user)
    assert row == "after_install"
    _checked_at(started, due - timedelta(seconds=300))
    # msiexec ending moves installing to checking_install, on its own time: on a busy machine that can come
    # after the baseline below was taken. The 5-minute check is what is timed, so it starts from the ended install.
    ended = wait_for(fleet, host, user, lambda s: s["Phase"] == "checking_install")
    assert ended["Phase"] == "checking_install", ended
    state = _happens_at(fleet, control, host, user, due)
    assert (state["LastOutcome"], state["UpdaterVersion"]) == ("installed", "9.3.1"), state


def test_after_a_verified_install_the_next_check_is_where_the_model_says(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] == "checking_install")  # msiexec has ended
    advance_to(control, _utc(started["LastCheck"]) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "installed")
    row, due, _entry = _predicted(ansible, host, user)
    assert row == "default"
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_error_row_install_failure(ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] == "checking_install")  # msiexec has ended
    advance_to(control, _utc(started["LastCheck"]) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "error")
    row, due, entry = _predicted(ansible, host, user)
    assert (row, entry["install_attempts"]) == ("error", 1), entry["why"]
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_apps_running_row_next_local_midnight(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **SETTINGS)
    control.control(host, {"faults": {"office_never_closed": True}})
    restart(control, host)
    control.logon(host, user)  # logged on again after the restart, before the updater's first poll
    polling = wait_for(fleet, host, user, lambda s: s["Phase"] == "waiting_for_apps")
    advance_to(control, _utc(polling["LastCheck"]) + timedelta(seconds=62))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "apps_running")
    row, due, entry = _predicted(ansible, host, user)
    assert row == "apps_running", entry["why"]
    assert "T00:00:00+0" in entry["next_check"]["local"], entry["next_check"]  # Berlin: +01:00 or +02:00
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_unrecoverable_row_after_7_days(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **{**SETTINGS, "install_attempts": 1})
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    restart(control, host)
    started = wait_for(fleet, host, user, lambda s: s["Phase"] == "checking_install")  # msiexec has ended
    advance_to(control, _utc(started["LastCheck"]) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "unrecoverable")
    row, due, entry = _predicted(ansible, host, user)
    assert row == "unrecoverable", entry["why"]
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)


def test_apps_running_row_when_the_polls_cross_local_midnight(
    ansible: Ansible, control: ControlClient, host: str, fleet: FleetThread
) -> None:
    user = _prepare(ansible, control, fleet, host, stable="9.3.1", **{**SETTINGS, "process_check_interval": 300})
    control.control(host, {"faults": {"office_never_closed": True}})
    berlin = ZoneInfo("Europe/Berlin")  # the lab hosts' default zone
    tomorrow = (lab_now(fleet) + timedelta(minutes=10)).astimezone(berlin).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, datetime.min.time(), tzinfo=berlin).astimezone(UTC)
    advance_to(control, midnight - timedelta(minutes=2))  # the check starts at 23:58, its last poll is at 00:03
    restart(control, host)
    control.logon(host, user)
    polling = wait_for(fleet, host, user, lambda s: s["Phase"] == "waiting_for_apps")
    advance_to(control, _utc(polling["LastCheck"]) + timedelta(seconds=302))
    wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "apps_running")
    row, due, _entry = _predicted(ansible, host, user)
    assert row == "apps_running"
    state = _happens_at(fleet, control, host, user, due)
    _checked_at(state, due)
