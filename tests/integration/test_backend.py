"""backend_settings, backend_info and update_lock through real ansible-playbook against the lab backend.

The plays target a lab Windows host from the inventory, as a playbook would; the
modules run on the controller and talk to the backend over HTTPS with the lab CA.
The host's WinRM counters prove they never connect to it.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lab.backend import BackendServer
from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet
from lab.tls import LabCA

from .conftest import Ansible

HOST = "client-0001"
DEFAULTS = {
    "update_check_interval": 86400,
    "error_interval": 3600,
    "download_attempts": 5,
    "process_check_interval": 120,
    "process_check_attempts": 120,
    "install_attempts": 5,
}


def _fleet_and_ansible(version: str, fleet_name: str) -> tuple[t.Any, t.Any]:
    """A fresh lab fleet per test (one client) with a backend of ``version``, and the ansible runner for it."""

    @pytest.fixture
    def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
        running = start_test_fleet(
            tmp_path_factory.mktemp("backend"), clients=1, servers=0, backend=True, backend_version=version
        )
        try:
            yield running
        finally:
            running.stop()

    @pytest.fixture
    def ansible(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Ansible:
        running: FleetThread = request.getfixturevalue(fleet_name)
        assert running.config.inventory is not None
        return Ansible(running.config.inventory, tmp_path_factory.mktemp("plays"))

    return fleet, ansible


fleet93, play93 = _fleet_and_ansible("9.3.2", "fleet93")
fleet92, play92 = _fleet_and_ansible("9.2.4", "fleet92")


def server_of(fleet: FleetThread) -> BackendServer:
    return fleet.fleet.backend


def backend_settings(fleet: FleetThread) -> dict[str, t.Any]:
    return dict(fleet.run_sync(lambda: dict(server_of(fleet).backend.settings)))


def reset_settings(fleet: FleetThread, **extra: t.Any) -> None:
    def reset() -> None:
        server = server_of(fleet)
        server.backend.settings.update(DEFAULTS)
        server.backend.settings.update(extra)

    fleet.run_sync(reset)


def settings_task(name: str, options: dict[str, t.Any], extra: str = "") -> str:
    lines = [f"- name: {name}", "  rollout.windows.backend_settings:"]
    lines += [
        f"    {key}: {value!r}" if isinstance(value, str) else f"    {key}: {value}" for key, value in options.items()
    ]
    return "\n".join(lines) + ("\n" + extra if extra else "") + "\n"


# ---- backend_settings ---------------------------------------------------------------------------------


def test_every_setting_is_applied_then_a_second_run_changes_nothing(play93: Ansible, fleet93: FleetThread) -> None:
    reset_settings(fleet93, max_parallel_syncs=None)
    wanted = {
        "update_check_interval": "2h",
        "error_interval": "30m",
        "download_attempts": 7,
        "process_check_interval": "90s",
        "process_check_attempts": 60,
        "install_attempts": 3,
        "max_parallel_syncs": 20,
    }
    task = settings_task("settings", wanted)
    first = play93.playbook(task, hosts=HOST, diff=True)
    assert first.rc == 0, first.stdout
    result = first.result(HOST, "settings")
    expected = {
        "update_check_interval": 7200,
        "error_interval": 1800,
        "download_attempts": 7,
        "process_check_interval": 90,
        "process_check_attempts": 60,
        "install_attempts": 3,
        "max_parallel_syncs": 20,
    }
    assert result["_status"] == "changed"
    assert result["settings"] == expected
    assert sorted(result["changes"]) == sorted(expected)
    assert result["diff"]["before"] == {**DEFAULTS, "max_parallel_syncs": None}
    assert result["diff"]["after"] == expected
    assert backend_settings(fleet93) == expected
    assert fleet93.run_sync(lambda: server_of(fleet93).backend.throttle.limit) == 20

    # Same values, other spellings of the intervals: nothing to change.
    same = {**wanted, "update_check_interval": 7200, "error_interval": "1800s", "process_check_interval": "90"}
    second = play93.playbook(settings_task("settings", same), hosts=HOST)
    assert second.rc == 0, second.stdout
    assert second.result(HOST, "settings")["_status"] == "ok"
    assert second.result(HOST, "settings")["changes"] == []

    # 0 lifts the limit; only the options given change.
    third = play93.playbook(settings_task("settings", {"max_parallel_syncs": 0, "error_interval": "1d"}), hosts=HOST)
    assert third.rc == 0, third.stdout
    assert third.result(HOST, "settings")["changes"] == ["error_interval", "max_parallel_syncs"]
    assert backend_settings(fleet93) == {**expected, "max_parallel_syncs": None, "error_interval": 86400}


def test_check_mode_reports_the_change_and_changes_nothing(play93: Ansible, fleet93: FleetThread) -> None:
    reset_settings(fleet93, max_parallel_syncs=50)
    run = play93.playbook(
        settings_task("settings", {"install_attempts": 9, "max_parallel_syncs": 10}), hosts=HOST, check=True, diff=True
    )
    assert run.rc == 0, run.stdout
    result = run.result(HOST, "settings")
    assert result["_status"] == "changed"
    assert result["changes"] == ["install_attempts", "max_parallel_syncs"]
    assert result["diff"]["after"]["install_attempts"] == 9
    assert result["settings"]["max_parallel_syncs"] == 10
    assert backend_settings(fleet93) == {**DEFAULTS, "max_parallel_syncs": 50}


BAD_VALUES = [
    ("negative_attempts", {"download_attempts": -5}, "download_attempts must be from 1 to 100, got -5"),
    ("zero_attempts", {"install_attempts": 0}, "install_attempts must be from 1 to 100, got 0"),
    ("zero_checks", {"process_check_attempts": 0}, "process_check_attempts must be from 1 to 10000, got 0"),
    ("negative_interval", {"error_interval": "-5m"}, "error_interval: '-5m' is negative"),
    ("negative_seconds", {"update_check_interval": -60}, "update_check_interval must be from 5m to 30d"),
    ("zero_interval", {"process_check_interval": 0}, "process_check_interval must be from 10s to 1h"),
    ("wrong_unit", {"update_check_interval": "2w"}, "update_check_interval: '2w' is not an interval"),
    ("fraction", {"error_interval": "1.5h"}, "error_interval: '1.5h' is not an interval"),
    ("words", {"process_check_interval": "2 minutes"}, "process_check_interval: '2 minutes' is not an interval"),
    ("too_short", {"update_check_interval": "1m"}, "update_check_interval must be from 5m to 30d"),
    ("too_many_slots", {"max_parallel_syncs": 100001}, "max_parallel_syncs must be from 1 to 100000"),
    ("negative_slots", {"max_parallel_syncs": -1}, "max_parallel_syncs must be from 1 to 100000 (0 means no limit)"),
    # One bad value fails the task before anything is sent: the good one beside it is not applied either.
    ("one_of_two_bad", {"download_attempts": 9, "install_attempts": 101}, "install_attempts must be from 1 to 100"),
]


def test_bad_values_fail_with_the_option_named_and_change_nothing(play93: Ansible, fleet93: FleetThread) -> None:
    reset_settings(fleet93, max_parallel_syncs=None)
    requests_before = fleet93.run_sync(lambda: server_of(fleet93).backend.throttle.granted_total)
    tasks = "".join(settings_task(name, options, "  ignore_errors: true") for name, options, _msg in BAD_VALUES)
    run = play93.playbook(tasks, hosts=HOST)
    for name, _options, message in BAD_VALUES:
        result = run.result(HOST, name)
        assert result["_status"] == "failed", name
        assert message in result["msg"], (name, result["msg"])
    assert "whole seconds (3600) or a whole number with s, m, h or d" in run.result(HOST, "wrong_unit")["msg"]
    assert backend_settings(fleet93) == {**DEFAULTS, "max_parallel_syncs": None}
    assert fleet93.run_sync(lambda: server_of(fleet93).backend.throttle.granted_total) == requests_before


def test_backend_92_refuses_the_throttle_and_takes_the_rest(play92: Ansible, fleet92: FleetThread) -> None:
    run = play92.playbook(
        settings_task("throttle", {"max_parallel_syncs": 20, "download_attempts": 8}, "  ignore_errors: true")
        + settings_task("other", {"download_attempts": 8})
        + "- name: info\n  rollout.windows.backend_info:\n",
        hosts=HOST,
    )
    refused = run.result(HOST, "throttle")
    assert refused["_status"] == "failed"
    assert "max_parallel_syncs: the sync throttle needs backend 9.3 or later" in refused["msg"]
    assert "runs 9.2.4" in refused["msg"]
    assert run.result(HOST, "other")["_status"] == "changed"
    info = run.result(HOST, "info")
    assert info["version"] == "9.2.4"
    assert "sync_throttle" not in info["features"]
    assert info["throttle"] is None
    assert "max_parallel_syncs" not in info["settings"]
    assert backend_settings(fleet92)["download_attempts"] == 8


# ---- backend_info -------------------------------------------------------------------------------------


def test_info_reports_version_features_settings_and_throttle_usage(play93: Ansible, fleet93: FleetThread) -> None:
    reset_settings(fleet93, max_parallel_syncs=2)
    server = server_of(fleet93)
    fleet93.run_sync(lambda: server.backend.throttle.set_limit(2))
    headers = {"Authorization": f"Bearer {server.config.client_token}"}
    url = server.api_url + "/sync-slots"
    taken = [requests.post(url, json={"client": f"pc{i}"}, headers=headers, verify=server.ca_path) for i in range(3)]
    assert [r.status_code for r in taken] == [201, 201, 429]
    try:
        run = play93.playbook("- name: info\n  rollout.windows.backend_info:\n", hosts=HOST)
        assert run.rc == 0, run.stdout
        info = run.result(HOST, "info")
        assert info["_status"] == "ok"
        assert info["version"] == "9.3.2"
        assert "sync_throttle" in info["features"]
        assert info["settings"] == {**DEFAULTS, "max_parallel_syncs": 2}
        assert info["throttle"]["in_use"] == 2
        assert info["throttle"]["waiting"] == 1
        assert info["throttle"]["max_parallel_syncs"] == 2
        assert info["update_lock"]["state"] in ("released", "announced", "locked")
    finally:
        for response in taken[:2]:
            requests.delete(f"{url}/{response.json()['slot_id']}", headers=headers, verify=server.ca_path)


# ---- auth, TLS, connection ----------------------------------------------------------------------------


def test_wrong_token_unknown_ca_and_refused_connection_fail_clearly(
    play93: Ansible, fleet93: FleetThread, tmp_path: Path
) -> None:
    server = server_of(fleet93)
    other_ca = LabCA(tmp_path / "other-ca").ca_path
    wrong = "not-the-token-0123456789"
    run = play93.playbook(
        f"""
        - name: wrong_token
          rollout.windows.backend_settings:
            backend_token: {wrong}
            install_attempts: 6
          ignore_errors: true
        - name: client_token
          rollout.windows.update_lock:
            backend_token: {server.config.client_token}
            state: locked
          ignore_errors: true
        - name: unknown_ca
          rollout.windows.backend_info:
            ca_path: {other_ca}
          ignore_errors: true
        - name: system_cas
          rollout.windows.backend_info:
            ca_path: ""
          vars:
            rollout_backend_ca_path: null
          ignore_errors: true
        - name: no_validation
          rollout.windows.backend_info:
            ca_path: {other_ca}
            validate_certs: false
        - name: refused
          rollout.windows.backend_info:
            backend_url: https://127.0.0.1:1
          ignore_errors: true
        """,
        hosts=HOST,
    )
    wrong_token = run.result(HOST, "wrong_token")
    assert wrong_token["_status"] == "failed"
    assert "refused the token (401 Unauthorized)" in wrong_token["msg"]
    assert "backend_token" in wrong_token["msg"]
    assert wrong not in run.stdout
    assert wrong not in str(wrong_token)
    client = run.result(HOST, "client_token")
    assert "403 Forbidden" in client["msg"]
    assert "admin token" in client["msg"]
    unknown = run.result(HOST, "unknown_ca")
    assert unknown["_status"] == "failed"
    assert "could not be verified" in unknown["msg"]
    assert f"ca_path ({other_ca})" in unknown["msg"]
    assert "Set ca_path" in unknown["msg"]
    assert "the system's trusted CAs" in run.result(HOST, "system_cas")["msg"]
    assert run.result(HOST, "no_validation")["_status"] == "ok"
    refused = run.result(HOST, "refused")
    assert "cannot connect to backend https://127.0.0.1:1: connection refused" in refused["msg"]
    assert fleet93.run_sync(lambda: server.backend.settings["install_attempts"]) != 6


# ---- update_lock --------------------------------------------------------------------------------------


class Clients:
    """What the application does at the backend: start, choose a restart, close (client token)."""

    def __init__(self, server: BackendServer) -> None:
        self.url = server.api_url + "/sessions"
        self.verify = str(server.ca_path)
        self.headers = {"Authorization": f"Bearer {server.config.client_token}"}

    def start(self, host: str, user: str, override: bool = False) -> requests.Response:
        body = {"host": host, "user": user, "override": override}
        return requests.post(self.url, json=body, headers=self.headers, verify=self.verify, timeout=10)

    def restart_after_update(self, session_id: str) -> None:
        body = {"restart_after_update": True}
        response = requests.patch(
            f"{self.url}/{session_id}", json=body, headers=self.headers, verify=self.verify, timeout=10
        )
        assert response.status_code == 200, response.text

    def close(self, session_id: str) -> None:
        response = requests.delete(f"{self.url}/{session_id}", headers=self.headers, verify=self.verify, timeout=10)
        assert response.status_code == 204, response.text


LOCK = """
- name: lock
  rollout.windows.update_lock:
    state: "{{ lock_state }}"
    message: "{{ lock_message | default(omit) }}"
    override_users: "{{ lock_admins | default(omit) }}"
"""


def test_update_lock_announce_lock_release_with_sessions(play93: Ansible, fleet93: FleetThread) -> None:
    server = server_of(fleet93)
    apps = Clients(server)
    ignores = apps.start("pc-1", "anna").json()  # keeps working through the announcement
    asks = apps.start("pc-2", "ben").json()  # asks for a restart, then closes
    apps.restart_after_update(asks["session_id"])
    message = "The suite is updated at 18:00; please close Office."

    def lock(**extra_vars: t.Any) -> dict[str, t.Any]:
        run = play93.playbook(LOCK, hosts=HOST, diff=True, check=extra_vars.pop("check", False), extra_vars=extra_vars)
        assert run.rc == 0, run.stdout
        return run.result(HOST, "lock")

    # Check mode: reported, not done.
    checked = lock(lock_state="announced", lock_message=message, check=True)
    assert checked["_status"] == "changed"
    assert checked["state"] == "announced"
    assert fleet93.run_sync(lambda: server.backend.lock.state) == "released"

    announced = lock(lock_state="announced", lock_message=message)
    assert announced["_status"] == "changed"
    assert (announced["previous_state"], announced["state"]) == ("released", "announced")
    assert announced["diff"]["before"]["state"] == "released"
    assert announced["diff"]["after"] == {"state": "announced", "message": message, "override_users": []}
    assert announced["window_started_at"]
    assert announced["open_sessions"] == 2
    assert {s["user"] for s in announced["sessions"]} == {"anna", "ben"}
    assert [r["user"] for r in announced["restart_requested"]] == ["ben"]
    # A start while announced works and carries the message.
    late = apps.start("pc-3", "carl")
    assert late.status_code == 201
    assert late.json()["notice"] == message
    apps.close(late.json()["session_id"])

    again = lock(lock_state="announced")  # message left out: kept
    assert again["_status"] == "ok"
    assert again["message"] == message

    apps.close(asks["session_id"])
    locked = lock(lock_state="locked", lock_admins=["CORP\\admin"])
    assert locked["_status"] == "changed"
    assert locked["override_users"] == ["CORP\\admin"]
    assert [s["user"] for s in locked["sessions"]] == ["anna"]
    assert [(r["user"], r["state"]) for r in locked["restart_requested"]] == [("ben", "closed")]
    refused = apps.start("pc-4", "dora")
    assert refused.status_code == 423
    assert refused.json()["message"] == message
    assert apps.start("pc-4", "dora", override=True).status_code == 403
    admin = apps.start("pc-5", "corp\\ADMIN", override=True)
    assert admin.status_code == 201
    apps.close(admin.json()["session_id"])

    apps.close(ignores["session_id"])
    released = lock(lock_state="released", lock_admins=[])
    assert released["_status"] == "changed"
    assert (released["previous_state"], released["state"]) == ("locked", "released")
    assert released["open_sessions"] == 0
    # Who asked for a restart during the window is still known after the release.
    assert [r["user"] for r in released["restart_requested"]] == ["ben"]
    assert apps.start("pc-4", "dora").status_code == 201

    idle = lock(lock_state="released")
    assert idle["_status"] == "ok"


def test_backend_modules_never_connect_to_the_target_host(play93: Ansible, fleet93: FleetThread) -> None:
    control = ControlClient(fleet93.control_url)
    run = play93.playbook(
        """
        - name: info
          rollout.windows.backend_info:
        - name: settings
          rollout.windows.backend_settings:
            download_attempts: 5
        - name: lock
          rollout.windows.update_lock:
            state: released
        """,
        hosts=HOST,
    )
    assert run.rc == 0, run.stdout
    # Every backend module ran with this host as its target: WinRM never saw a request.
    assert control.counters(HOST).get("requests", 0) == 0
    assert control.counters(HOST).get("commands", 0) == 0
