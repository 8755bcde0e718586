# ruff: noqa: F811  # the imported fixtures fleet and host are test parameters by name
"""autoupdater_nudge over real WinRM against a lab client: the nudged updater reports at once, others wait."""

from __future__ import annotations

import time
import typing as t
from datetime import datetime, timedelta

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.host.updater_state import POLICY_KEY

from .conftest import Ansible

# The same fixtures as the auto-updater's tests (one client, the lab backend, real time); tests name them.
from .test_autoupdater import (  # noqa: F401  # pylint: disable=unused-import
    advance_to,
    backend,
    enable,
    fleet,
    hive,
    host,
    lab_now,
    restart,
    suite_install,
    user_of,
    wait_for,
)

NUDGE = """
- name: nudge
  rollout.windows.autoupdater_nudge:
    users: "{{ users | default(omit) }}"
"""


def nudge(ansible: Ansible, host: str, check: bool = False, **extra: t.Any) -> dict[str, t.Any]:
    run = ansible.playbook(NUDGE, hosts=host, extra_vars=extra or None, check=check)
    return run.result(host, "nudge")


def checked_once(ansible: Ansible, control: ControlClient, fleet: FleetThread, host: str) -> tuple[str, str]:
    """The user's updater enabled and through its first check (no update): (user, LastCheck)."""
    user = user_of(control, host)
    suite_install(control, host, user)
    backend(fleet, stable="9.3.0")
    assert enable(ansible, host)["_status"] == "changed"
    restart(control, host)
    state = wait_for(fleet, host, user, lambda s: s["LastOutcome"] == "no_update")
    assert state["LastOutcome"] == "no_update", state
    return user, state["LastCheck"]


def reports(fleet: FleetThread) -> dict[str, dict[str, t.Any]]:
    def read() -> dict[str, dict[str, t.Any]]:
        server = fleet.fleet.backend
        assert server is not None
        return {c["client"].rsplit("\\", 1)[-1].lower(): c for c in server.backend.clients.listing()}

    return fleet.run_sync(read)


def test_a_nudged_updater_reports_soon_after(
    ansible: Ansible, control: ControlClient, fleet: FleetThread, host: str
) -> None:
    user, first = checked_once(ansible, control, fleet, host)
    later = advance_to(control, lab_now(fleet) + timedelta(hours=2))  # the day's interval has not elapsed
    assert hive(fleet, host, user)["LastCheck"] == first
    result = nudge(ansible, host)
    assert result["_status"] == "changed", result
    assert result["winrm"]["commands"] == 1
    assert [(u["user"].rsplit("\\", 1)[-1], u["started"]) for u in result["users"]] == [(user, True)]
    state = wait_for(fleet, host, user, lambda s: s["LastCheck"] != first)
    assert state["LastCheck"] != first, state
    report = reports(fleet)[user.lower()]
    assert report["last_check"] == state["LastCheck"]
    checked = datetime.fromisoformat(report["last_check"].replace("Z", "+00:00"))
    assert later - timedelta(seconds=1) <= checked <= later + timedelta(minutes=5)  # now, not a day later
    tasks = control.host(host)["tasks"]
    assert not [name for name in tasks if "CheckNow" in name]  # the one-shot task is gone


def test_a_user_not_enabled_is_not_started_and_check_mode_starts_nothing(
    ansible: Ansible, control: ControlClient, fleet: FleetThread, host: str
) -> None:
    user, first = checked_once(ansible, control, fleet, host)
    advance_to(control, lab_now(fleet) + timedelta(hours=2))
    check = nudge(ansible, host, check=True)
    assert check["_status"] == "changed", check
    assert [u["started"] for u in check["users"]] == [True]
    time.sleep(1)
    assert hive(fleet, host, user)["LastCheck"] == first

    def turn_off() -> None:
        lab_host = fleet.fleet.hosts[host].host
        sid = lab_host.sid_of(user)
        with lab_host.registry.loaded(sid):
            lab_host.registry.set_value(f"HKU\\{sid}\\{POLICY_KEY}", "Enabled", 0, "REG_DWORD")

    fleet.run_sync(turn_off)
    off = nudge(ansible, host)
    assert off["_status"] == "ok", off
    assert off["users"] == []
    assert [s["user"].rsplit("\\", 1)[-1] for s in off["not_started"]] == [user]
    assert hive(fleet, host, user)["LastCheck"] == first
