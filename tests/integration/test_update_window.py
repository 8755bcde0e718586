"""The update_window role end to end: playbooks/update_window.yml against lab clients and the lab backend.

Two clients: on client-0001 anna closes Word when asked and ben ignores the message and keeps Excel
open; on client-0002 carl has Word open, asked the backend for a restart after the update and closes
when asked, and dora is logged on without the application. Lab processes do not register at the
backend by themselves, so the test opens their sessions through the backend API with the client token,
as the application would.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from .conftest import ROOT, TIME_SCALE, Ansible

PLAYBOOK = ROOT / "playbooks" / "update_window.yml"
PROGRAM = "C:\\Program Files\\Office Apps\\WINWORD.EXE"
ANNOUNCE = "Update now: please save and close Office."
DONE = "The update is done, you can start the application again."
LOCK_MESSAGE = "Updating, please wait."
# The update tasks the caller passes in: they assert from the backend that the application is locked,
# and that a user's start is refused while an override user's start works.
UPDATE_TASKS = """
- name: Read the backend while the update runs
  rollout.windows.backend_info:
  run_once: true
  register: update_backend

- name: The application is locked while the update runs
  ansible.builtin.assert:
    that:
      - update_backend.update_lock.state == 'locked'
      - update_backend.update_lock.override_users == ['CORP\\\\admin']

- name: A user's start is refused
  ansible.builtin.uri:
    url: "{{ rollout_backend_url }}/api/v1/sessions"
    method: POST
    ca_path: "{{ rollout_backend_ca_path }}"
    headers:
      Authorization: "Bearer {{ lab_backend_client_token }}"
    body_format: json
    body: {host: "{{ inventory_hostname }}", user: erik}
    status_code: 423
  delegate_to: localhost
  run_once: true

- name: The update itself
  ansible.builtin.debug:
    msg: "updating {{ inventory_hostname }}"
"""
FAILING_UPDATE = """
- name: The update itself fails
  ansible.builtin.fail:
    msg: the package did not install
  when: inventory_hostname == 'client-0002'
"""


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    """Two clients with the backend: the shared fixture of conftest.py starts no backend."""
    running = start_test_fleet(
        tmp_path_factory.mktemp("window"), clients=2, servers=0, backend=True, time_scale=TIME_SCALE
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def ansible(fleet: FleetThread, tmp_path: Path) -> Ansible:
    """One per test: run_file keeps no run count, so each test's results file is its own."""
    assert fleet.config.inventory is not None
    (tmp_path / "plays").mkdir()
    return Ansible(fleet.config.inventory, tmp_path / "plays")


class Application:
    """What the application does at the backend: start (open a session) and ask for a restart."""

    def __init__(self, fleet: FleetThread) -> None:
        server = fleet.fleet.backend
        self.url = server.api_url + "/sessions"
        self.verify = str(server.ca_path)
        self.headers = {"Authorization": f"Bearer {server.config.client_token}"}

    def start(self, host: str, user: str, restart: bool = False) -> str:
        body = {"host": host, "user": user, "override": False}
        response = requests.post(self.url, json=body, headers=self.headers, verify=self.verify, timeout=10)
        assert response.status_code == 201, response.text
        session_id = response.json()["session_id"]
        if restart:
            response = requests.patch(
                f"{self.url}/{session_id}",
                json={"restart_after_update": True},
                headers=self.headers,
                verify=self.verify,
                timeout=10,
            )
            assert response.status_code == 200, response.text
        return str(session_id)


def lock_state(fleet: FleetThread) -> dict[str, t.Any]:
    backend = fleet.fleet.backend.backend
    return dict(fleet.run_sync(lambda: {"state": backend.lock.state, "message": backend.lock.message}))


SEEN: dict[str, int] = {}


def reset(fleet: FleetThread, control: ControlClient) -> None:
    """Released lock and no sessions at the backend; the desktops of the module docstring on the hosts."""

    def backend() -> None:
        state = fleet.fleet.backend.backend
        state.lock.state = "released"
        state.lock.override_users = []
        for session_id in list(state.sessions.open):
            state.sessions.close(session_id)

    fleet.run_sync(backend)
    for host, users in {"client-0001": ["anna", "ben"], "client-0002": ["carl", "dora"]}.items():
        SEEN[host] = len(control.host(host)["messages"])
        for session in control.host(host)["sessions"]:
            control.logoff(host, session["user"])
        for user in users:
            control.logon(host, user)
        model = fleet.fleet.hosts[host].host

        def install(model: t.Any = model) -> None:
            model.files.mkdir(PROGRAM.rsplit("\\", 1)[0], parents=True)
            model.files.write_bytes(PROGRAM, b"MZ lab")

        fleet.run_sync(install)
    control.start_process("client-0001", "anna", "WINWORD.EXE")
    control.start_process("client-0001", "ben", "EXCEL.EXE")
    control.start_process("client-0002", "carl", "WINWORD.EXE")
    reactions = {
        "client-0001": {"anna": {"on_message": "close", "close_delay": 60}, "ben": {"on_message": "ignore"}},
        "client-0002": {"carl": {"on_message": "close", "close_delay": 60}, "dora": {"on_message": "ignore"}},
    }
    for host, users in reactions.items():
        control.control(host, {"behaviour": {"users": users}})
    app = Application(fleet)
    app.start("client-0001", "anna")
    app.start("client-0001", "ben")
    app.start("client-0002", "carl", restart=True)


def result(run: t.Any, host: str, task: str) -> dict[str, t.Any]:
    """A task's result by its name, with or without the role's prefix ("rollout.windows.update_window : ")."""
    found = [v for k, v in run.results.get(host, {}).items() if k == task or k.endswith(" : " + task)]
    assert found, (host, task, list(run.results.get(host, {})))
    return found[0]


def ran(run: t.Any, host: str, task: str) -> bool:
    return any(k == task or k.endswith(" : " + task) for k in run.results.get(host, {}))


def messages(control: ControlClient, host: str, text: str | None = None) -> list[str]:
    """Who got a message box (with this text) since reset(): the host's message log only grows."""
    log = control.host(host)["messages"][SEEN.get(host, 0) :]
    return sorted(m["user"] for m in log if text is None or m["text"] == text)


def office(control: ControlClient, host: str) -> list[tuple[str, str]]:
    return sorted((p["user"], p["name"]) for p in control.host(host)["processes"] if p["name"] != "explorer.exe")


def run_window(ansible: Ansible, tmp_path: Path, tasks: str, **extra: t.Any) -> t.Any:
    update = tmp_path / "update.yml"
    update.write_text(tasks, encoding="utf-8")
    return ansible.run_file(
        PLAYBOOK,
        extra_vars={
            "update_window_update_tasks": str(update),
            "update_window_restart_program": PROGRAM,
            "update_window_restart_arguments": ["/restore", "Quarterly report.docx"],
            "update_window_message": ANNOUNCE,
            "update_window_lock_message": LOCK_MESSAGE,
            "update_window_override_users": ["CORP\\admin"],
            # Two seconds of real time for the users: four simulated minutes at the fleet's time scale.
            "update_window_interval": 1,
            "update_window_attempts": 3,
            **extra,
        },
    )


@pytest.fixture
def control(fleet: FleetThread) -> ControlClient:
    return ControlClient(fleet.control_url)


def test_without_confirmation_the_role_names_who_still_works_and_leaves_the_update_announced(
    ansible: Ansible, fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    reset(fleet, control)
    run = run_window(ansible, tmp_path, UPDATE_TASKS)
    assert run.rc != 0, run.stdout
    stop = result(run, "client-0001", "Stop when users are still working and closing their work is not confirmed")
    assert stop["_status"] == "failed"
    assert "1 user(s) still have the application open" in stop["msg"]
    assert "CLIENT-0001\\ben on client-0001" in stop["msg"]
    assert "anna" not in stop["msg"]
    assert "update_window_force_confirm=true" in stop["msg"]
    # Told: everybody with the application open, nobody else; anna and carl closed, ben did not.
    assert messages(control, "client-0001", ANNOUNCE) == ["anna", "ben"]
    assert messages(control, "client-0002", ANNOUNCE) == ["carl"]
    assert office(control, "client-0001") == [("ben", "EXCEL.EXE")]
    assert office(control, "client-0002") == []
    # Nothing closed, nothing locked, no update: the window stays announced for a run with the confirmation.
    assert lock_state(fleet) == {"state": "announced", "message": ANNOUNCE}
    assert not ran(
        run,
        "client-0001",
        "Lock the application at the backend (new starts are refused; override users may still start it)",
    )
    assert not ran(run, "client-0001", "The update itself")


def test_with_confirmation_the_window_closes_locks_updates_releases_and_restarts(
    ansible: Ansible, fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    reset(fleet, control)
    run = run_window(ansible, tmp_path, UPDATE_TASKS, update_window_force_confirm=True)
    assert run.rc == 0, run.stdout
    # ben's Excel was closed after the wait, and reported with his name.
    forced = result(
        run, "client-0001", "Close the application for the users still working (confirmed; their unsaved work is lost)"
    )
    assert [(p["user"], p["name"]) for p in forced["closed"]] == [("CLIENT-0001\\ben", "EXCEL.EXE")]
    assert forced["unsaved_data_lost"] is True
    assert (
        result(
            run,
            "client-0002",
            "Close the application for the users still working (confirmed; their unsaved work is lost)",
        )["_status"]
        == "skipped"
    )
    lost = result(run, "client-0001", "Report whose unsaved work was lost")["msg"]
    assert "1 application(s) closed" in lost
    assert "CLIENT-0001\\\\ben" in lost or "CLIENT-0001\\ben" in lost
    # The update tasks ran on both hosts while locked (their asserts read the backend).
    for host in ("client-0001", "client-0002"):
        assert result(run, host, "The application is locked while the update runs")["_status"] == "ok"
        assert result(run, host, "The update itself")["msg"] == f"updating {host}"
    assert result(run, "client-0001", "A user's start is refused")["status"] == 423
    # Released; carl asked for a restart: Word runs again in his session with the arguments given.
    assert lock_state(fleet)["state"] == "released"
    carl = [p for p in control.host("client-0002")["processes"] if p["user"] == "carl" and p["name"] == "WINWORD.EXE"]
    assert len(carl) == 1
    assert carl[0]["command_line"] == '/restore "Quarterly report.docx"'
    restarted = result(run, "client-0002", "Restart the application for the users of this host who asked for it")
    assert [(s["user"], s["started"]) for s in restarted["started"]] == [("CLIENT-0002\\carl", True)]
    assert (
        result(run, "client-0001", "Restart the application for the users of this host who asked for it")["_status"]
        == "skipped"
    )
    # The others who had it open get the message; carl (restarted) and dora (never had it open) do not.
    assert messages(control, "client-0001", DONE) == ["anna", "ben"]
    assert messages(control, "client-0002", DONE) == []
    assert messages(control, "client-0002") == ["carl"]
    report = result(run, "client-0001", "Report the update window")["msg"]
    assert "restarted for 1 user(s): CLIENT-0002\\carl on client-0002" in report


def test_a_failed_update_leaves_the_application_locked(
    ansible: Ansible, fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    reset(fleet, control)
    control.stop_process(
        "client-0001",
        next(
            p["pid"]
            for p in control.host("client-0001")["processes"]
            if p["user"] == "ben" and p["name"] == "EXCEL.EXE"
        ),
    )
    run = run_window(ansible, tmp_path, FAILING_UPDATE)
    assert run.rc != 0, run.stdout
    assert result(run, "client-0002", "The update itself fails")["_status"] == "failed"
    # Nobody is told the update is done, nobody restarted, and starts stay refused.
    assert lock_state(fleet) == {"state": "locked", "message": LOCK_MESSAGE}
    assert not ran(run, "client-0001", "Release the application at the backend")
    assert messages(control, "client-0001", DONE) == []
    assert office(control, "client-0002") == []


# ---- values that differ between hosts (issue 17): no decision may read the first host's value for all ----

FORCED = "Close the application for the users still working (confirmed; their unsaved work is lost)"
STOP = "Stop when users are still working and closing their work is not confirmed"


def per_host_ansible(fleet: FleetThread, tmp_path: Path, host_vars: dict[str, dict[str, t.Any]]) -> Ansible:
    """The lab inventory plus host_vars files next to it, as an admin would set a value for some hosts."""
    assert fleet.config.inventory is not None
    inventory = tmp_path / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "lab.yml").write_text(fleet.config.inventory.read_text(), encoding="utf-8")
    for host, values in host_vars.items():
        (inventory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values), encoding="utf-8")
    (tmp_path / "per-host-plays").mkdir()
    return Ansible(inventory, tmp_path / "per-host-plays")


def test_an_unconfirmed_host_stops_the_window_even_when_the_first_host_confirmed(
    fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    # The reported case: client-0001 confirmed, client-0002 has "false" (a string) and carl keeps Word open.
    reset(fleet, control)
    control.control("client-0002", {"behaviour": {"users": {"carl": {"on_message": "ignore"}}}})
    ansible = per_host_ansible(
        fleet,
        tmp_path,
        {"client-0001": {"update_window_force_confirm": True}, "client-0002": {"update_window_force_confirm": "false"}},
    )
    run = run_window(ansible, tmp_path, UPDATE_TASKS)
    assert run.rc != 0, run.stdout
    stop = result(run, "client-0001", STOP)
    assert stop["_status"] == "failed", run.stdout
    assert "CLIENT-0002\\carl on client-0002" in stop["msg"]
    assert "update_window_force_confirm=true for client-0002 " in stop["msg"]
    assert "ben" not in stop["msg"]  # client-0001 confirmed: not the reason to stop
    # Nothing closed on either host (not even on the one that confirmed), nothing locked, no update.
    assert office(control, "client-0001") == [("ben", "EXCEL.EXE")]
    assert office(control, "client-0002") == [("carl", "WINWORD.EXE")]
    assert not ran(run, "client-0001", FORCED)
    assert not ran(run, "client-0002", FORCED)
    assert lock_state(fleet) == {"state": "announced", "message": ANNOUNCE}
    assert not ran(run, "client-0002", "The update itself")


def test_a_confirmed_host_after_an_unconfirmed_one_is_closed_and_its_lost_work_reported(
    fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    # The first host has "false" but nobody left working there; the second confirmed and carl keeps Word open.
    reset(fleet, control)
    control.control("client-0001", {"behaviour": {"users": {"ben": {"on_message": "close", "close_delay": 60}}}})
    control.control("client-0002", {"behaviour": {"users": {"carl": {"on_message": "ignore"}}}})
    ansible = per_host_ansible(
        fleet,
        tmp_path,
        {"client-0001": {"update_window_force_confirm": "false"}, "client-0002": {"update_window_force_confirm": True}},
    )
    run = run_window(ansible, tmp_path, UPDATE_TASKS)
    assert run.rc == 0, run.stdout
    assert result(run, "client-0001", STOP)["_status"] == "skipped"
    assert result(run, "client-0001", FORCED)["_status"] == "skipped"
    forced = result(run, "client-0002", FORCED)
    assert [(p["user"], p["name"]) for p in forced["closed"]] == [("CLIENT-0002\\carl", "WINWORD.EXE")]
    # Reported although the first host's own value is "false".
    lost = result(run, "client-0001", "Report whose unsaved work was lost")
    assert lost["_status"] == "ok", lost
    assert "1 application(s) closed" in lost["msg"]
    assert "carl" in lost["msg"]
    for host in ("client-0001", "client-0002"):
        assert result(run, host, "The update itself")["msg"] == f"updating {host}"
    assert lock_state(fleet)["state"] == "released"


def test_backend_settings_that_differ_between_hosts_are_refused_before_anyone_is_told(
    fleet: FleetThread, control: ControlClient, tmp_path: Path
) -> None:
    # The backend has one list of override users: client-0002's own list would be dropped without a word.
    reset(fleet, control)
    ansible = per_host_ansible(fleet, tmp_path, {"client-0002": {"update_window_override_users": ["CORP\\other"]}})
    update = tmp_path / "update.yml"
    update.write_text(UPDATE_TASKS, encoding="utf-8")
    run = ansible.run_file(
        PLAYBOOK,
        extra_vars={
            "update_window_update_tasks": str(update),
            "update_window_restart_program": PROGRAM,
            "update_window_message": ANNOUNCE,
            "update_window_lock_message": LOCK_MESSAGE,
            "update_window_interval": 1,
            "update_window_attempts": 3,
            "update_window_force_confirm": True,
        },
    )
    assert run.rc != 0, run.stdout
    check = result(run, "client-0001", "Check that the window's backend settings are the same for every host")
    assert check["_status"] == "failed"
    assert "update_window_override_users differs between clients (client-0001, client-0002" in check["msg"]
    assert "The backend keeps one value for the whole update window" in check["msg"]
    # Refused before the announcement: no notice, nobody told, nothing closed.
    assert lock_state(fleet)["state"] == "released"
    assert messages(control, "client-0001") == []
    assert messages(control, "client-0002") == []
    assert office(control, "client-0001") == [("anna", "WINWORD.EXE"), ("ben", "EXCEL.EXE")]
