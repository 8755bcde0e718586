"""office_processes, session_message and the office_gate role over real WinRM against lab users.

The fleet runs TIME_SCALE simulated seconds per real second; intervals and deadlines are real
seconds on the controller, close delays simulated seconds on the lab host.
"""

from __future__ import annotations

import threading
import time
import typing as t
from datetime import datetime, timedelta
from pathlib import Path

from lab.control import ControlClient

from .conftest import TIME_SCALE

OFFICE = {"WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE", "OUTLOOK.EXE", "ONENOTE.EXE", "NOTEPAD.EXE"}
WAIT = """
- name: gate
  rollout.windows.office_processes:
    state: absent
    interval: 1
    attempts: "{{ attempts | default(10) }}"
    notify: "{{ notify | default(true) }}"
    force: "{{ force | default(false) }}"
    deadline: "{{ deadline | default(omit) }}"
    processes: "{{ processes | default(omit) }}"
"""


def desktop(
    control: ControlClient, host: str, apps: dict[str, list[str]], reactions: dict[str, tuple[str, float]]
) -> None:
    """Exactly these users logged on with these applications; reactions: user -> (close|ignore, delay)."""
    for session in control.host(host)["sessions"]:
        control.logoff(host, session["user"])
    for user, names in apps.items():
        control.logon(host, user)
        for name in names:
            control.start_process(host, user, name)
    if reactions:
        users = {u: {"on_message": mode, "close_delay": delay} for u, (mode, delay) in reactions.items()}
        control.control(host, {"behaviour": {"users": users}})
    control.reset_counters([host])


def running(control: ControlClient, host: str) -> set[tuple[str, str]]:
    return {(p["user"], p["name"]) for p in control.host(host)["processes"] if p["name"] in OFFICE}


def messages_since(control: ControlClient, host: str, count: int) -> list[dict[str, t.Any]]:
    return control.host(host)["messages"][count:]


def primitives(control: ControlClient, host: str) -> dict[str, int]:
    return {k.split(":", 1)[1]: v for k, v in control.counters(host).items() if k.startswith("primitive:")}


def test_nobody_logged_on_passes_at_once_in_one_command(ansible, control, clients) -> None:
    host = clients[0]
    desktop(control, host, {}, {})
    run = ansible.playbook(
        """
        - name: gate
          ansible.builtin.include_role:
            name: rollout.windows.office_gate
          vars:
            office_gate_force: true
            office_gate_deadline: 60
        """,
        hosts=host,
    )
    result = run.result(host, "rollout.windows.office_gate : Wait until no Office application runs")
    assert result["_status"] == "ok", run.stdout
    assert result["polls"] == 1
    assert result["winrm"]["commands"] == 1
    assert primitives(control, host) == {"Get-SessionProcess": 1}


def test_users_who_close_after_the_message_pass_several_sessions(ansible, control, clients) -> None:
    host = clients[1]
    # Two and three real seconds after the message.
    desktop(
        control,
        host,
        {"alice": ["WINWORD.EXE", "EXCEL.EXE"], "bob": ["ONENOTE.EXE"], "carl": []},
        {"alice": ("close", 2 * TIME_SCALE), "bob": ("close", 3 * TIME_SCALE), "carl": ("ignore", 0)},
    )
    before = len(control.host(host)["messages"])
    run = ansible.playbook(WAIT, hosts=host)
    result = run.result(host, "gate")
    assert result["_status"] == "changed", run.stdout
    assert result["users"] == [f"{host.upper()}\\alice", f"{host.upper()}\\bob"]
    assert result["remaining"] == []
    assert result["closed"] == []
    assert [(n["user"].split("\\")[1], n["sent"], n["reminder"]) for n in result["notified"]] == [
        ("alice", True, False),
        ("bob", True, False),
    ]
    # The gate kept polling after the message until bob, the last one, had closed; how many polls that
    # took depends on how fast the controller is, so only "more than the first" is asserted.
    assert 2 <= result["polls"] <= 10
    assert running(control, host) == set()
    told = messages_since(control, host, before)
    assert sorted(m["user"] for m in told) == ["alice", "bob"]  # carl has no Office open: not bothered
    assert {s["user"] for s in control.host(host)["sessions"]} == {"alice", "bob", "carl"}
    # A poll per interval and one round of messages.
    assert primitives(control, host) == {"Get-SessionProcess": result["polls"], "Send-SessionMessage": 1}
    assert result["winrm"]["commands"] == result["polls"] + 1

    again = ansible.playbook(WAIT, hosts=host).result(host, "gate")
    assert again["_status"] == "ok"
    assert again["winrm"]["commands"] == 1


def test_a_user_who_ignores_it_fails_the_wait_without_force_and_nothing_is_closed(ansible, control, clients) -> None:
    host = clients[2]
    desktop(control, host, {"dora": ["EXCEL.EXE"]}, {"dora": ("ignore", 0)})
    run = ansible.playbook(WAIT, hosts=host, extra_vars={"attempts": 3})
    result = run.result(host, "gate")
    assert result["_status"] == "failed", run.stdout
    assert f"{host.upper()}\\dora (EXCEL.EXE)" in result["msg"]
    assert "Nothing was closed" in result["msg"]
    assert result["users_still_working"] == [f"{host.upper()}\\dora"]
    assert result["polls"] == 3
    assert running(control, host) == {("dora", "EXCEL.EXE")}
    assert "Stop-SessionProcess" not in primitives(control, host)


def test_force_closes_after_the_deadline_and_reports_process_user_and_data_loss(ansible, control, clients) -> None:
    host = clients[2]
    desktop(
        control,
        host,
        {"dora": ["EXCEL.EXE"], "emil": ["WINWORD.EXE"]},
        {"dora": ("ignore", 0), "emil": ("close", TIME_SCALE / 2)},
    )
    excel = next(p for p in control.host(host)["processes"] if p["name"] == "EXCEL.EXE")
    run = ansible.playbook(WAIT, hosts=host, extra_vars={"force": True, "deadline": 3, "attempts": 10})
    result = run.result(host, "gate")
    assert result["_status"] == "changed", run.stdout
    assert [(p["pid"], p["name"], p["user"]) for p in result["closed"]] == [
        (excel["pid"], "EXCEL.EXE", f"{host.upper()}\\dora")
    ]
    assert result["closed"][0]["elapsed"] >= 3
    assert result["unsaved_data_lost"] is True
    assert "unsaved data lost" in result["msg"]
    assert any("unsaved data in them is lost" in w and "dora (EXCEL.EXE)" in w for w in result["warnings"])
    assert "[WARNING]" in run.stdout
    assert "unsaved data in them is lost" in run.stdout
    assert running(control, host) == set()
    assert {s["user"] for s in control.host(host)["sessions"]} == {"dora", "emil"}  # only the application closed
    counts = primitives(control, host)
    assert counts["Stop-SessionProcess"] == 1
    assert counts["Send-SessionMessage"] == 1
    # Polls at 0, 1, 2, 3 s with the close at the 3 s poll, then one confirming query.
    assert counts["Get-SessionProcess"] == result["polls"]
    assert result["winrm"]["commands"] == result["polls"] + 2


def test_custom_process_list(ansible, control, clients) -> None:
    host = clients[3]
    desktop(control, host, {"fred": ["NOTEPAD.EXE", "EXCEL.EXE"]}, {"fred": ("ignore", 0)})
    run = ansible.playbook(
        "- name: query\n  rollout.windows.office_processes:\n    processes: [notepad, WINWORD.EXE]\n" + WAIT,
        hosts=host,
        extra_vars={"processes": ["Notepad.exe"], "force": True, "deadline": 0, "notify": False},
    )
    query = run.result(host, "query")
    assert query["_status"] == "ok", run.stdout
    assert [p["name"] for p in query["processes"]] == ["NOTEPAD.EXE"]
    gate = run.result(host, "gate")
    assert [p["name"] for p in gate["closed"]] == ["NOTEPAD.EXE"]
    assert running(control, host) == {("fred", "EXCEL.EXE")}  # not on the list: left alone


def test_check_mode_messages_and_closes_nothing(ansible, control, clients) -> None:
    host = clients[3]
    desktop(control, host, {"gina": ["WINWORD.EXE"]}, {"gina": ("close", 0)})
    before = len(control.host(host)["messages"])
    run = ansible.playbook(WAIT, hosts=host, check=True, extra_vars={"force": True, "deadline": 0})
    result = run.result(host, "gate")
    assert result["_status"] == "changed", run.stdout
    assert [s["user"] for s in result["would_notify"]] == [f"{host.upper()}\\gina"]
    assert [p["name"] for p in result["would_close"]] == ["WINWORD.EXE"]
    assert messages_since(control, host, before) == []
    assert running(control, host) == {("gina", "WINWORD.EXE")}
    assert primitives(control, host) == {"Get-SessionProcess": 1}


HOSTILE = "Sag \"Hallo\" & 'tschüß' $(whoami) `$env:PATH` %PATH% | ; <>\r\nZeile 2\n\tÜnïcødé 😀 ✓"


def test_session_message_passes_hostile_text_literally_and_names_users_without_session(
    ansible, control, clients
) -> None:
    host = clients[0]
    desktop(control, host, {"hans": [], "ida": []}, {"hans": ("ignore", 0), "ida": ("ignore", 0)})
    before = len(control.host(host)["messages"])
    run = ansible.playbook(
        """
        - name: tell
          rollout.windows.session_message:
            message: "{{ text }}"
            title: "{{ title }}"
            users: [HANS, nobody]
        - name: tell everybody
          rollout.windows.session_message:
            message: plain
        """,
        hosts=host,
        extra_vars={"text": HOSTILE, "title": 'Ti"tle 😀'},
    )
    result = run.result(host, "tell")
    assert result["_status"] == "changed", run.stdout
    assert [(s["user"], s["sent"]) for s in result["sessions"]] == [(f"{host.upper()}\\hans", True)]
    assert result["users_without_session"] == ["nobody"]
    assert result["winrm"]["commands"] == 2
    told = messages_since(control, host, before)
    assert (told[0]["user"], told[0]["title"], told[0]["text"]) == ("hans", 'Ti"tle 😀', HOSTILE)
    everybody = run.result(host, "tell everybody")
    assert sorted(s["user"].split("\\")[1] for s in everybody["sessions"]) == ["hans", "ida"]
    assert [m["user"] for m in told[1:]] == ["hans", "ida"]


def test_over_long_message_is_refused_before_the_host_is_touched(ansible, control, clients) -> None:
    host = clients[0]
    control.reset_counters([host])
    run = ansible.playbook(
        """
        - name: tell
          rollout.windows.session_message:
            message: "{{ 'x' * 254 ~ '😀' }}"
        """,
        hosts=host,
    )
    result = run.result(host, "tell")
    assert result["_status"] == "failed"
    assert "at most 255 characters" in result["msg"]
    assert "got 256" in result["msg"]
    assert control.counters(host).get("commands", 0) == 0


def test_a_host_that_drops_during_the_wait_is_unreachable(ansible, control, clients) -> None:
    host = clients[1]
    desktop(control, host, {"jan": ["WINWORD.EXE"]}, {"jan": ("ignore", 0)})
    outcome: dict[str, t.Any] = {}
    worker = threading.Thread(
        target=lambda: outcome.update(run=ansible.playbook(WAIT, hosts=host, extra_vars={"attempts": 60}))
    )
    worker.start()
    try:
        while primitives(control, host).get("Get-SessionProcess", 0) < 2 and worker.is_alive():
            time.sleep(0.2)
        control.control(host, {"faults": {"unreachable": True}})
        worker.join()  # bounded by the playbook's own timeout
    finally:
        control.control(host, {"faults": {"unreachable": False}})
    run = outcome["run"]
    # Unreachable (not "failed" after 60 attempts): the gate gives up at the first poll that cannot connect.
    assert run.result(host, "gate")["_status"] == "unreachable", run.stdout


def test_msi_install_runs_msiexec_only_after_office_is_closed(ansible, control, clients, packages: Path) -> None:
    host = clients[3]
    desktop(control, host, {"kai": ["WINWORD.EXE"]}, {"kai": ("close", 3 * TIME_SCALE)})
    before = len(control.host(host)["messages"])
    run = ansible.playbook(
        """
        - name: install
          ansible.builtin.include_role:
            name: rollout.windows.msi_install
          vars:
            msi_install_src: "{{ src }}"
            office_gate_interval: 1
            office_gate_attempts: 20
        """,
        hosts=host,
        extra_vars={"src": str(packages / "machine-9.3.0")},
    )
    assert run.rc == 0, run.stdout
    snapshot = control.host(host)
    told = messages_since(control, host, before)
    assert [m["user"] for m in told] == ["kai"]
    install = snapshot["msiexec_history"][-1]
    began = datetime.fromisoformat(install["time"]) - timedelta(seconds=install["duration"])
    # kai closed Word three real seconds after the message; msiexec began after that.
    assert began >= datetime.fromisoformat(told[0]["time"]) + timedelta(seconds=3 * TIME_SCALE)
    assert running(control, host) == set()
    # A second run changes nothing, so nobody is asked again, and it costs what it cost without the gate:
    # the one task reads the installed products, and that read is also the check of the version.
    control.reset_counters([host])
    rerun = ansible.playbook(
        "- name: install\n  ansible.builtin.include_role:\n    name: rollout.windows.msi_install\n"
        '  vars:\n    msi_install_src: "{{ src }}"\n',
        hosts=host,
        extra_vars={"src": str(packages / "machine-9.3.0")},
    )
    assert rerun.rc == 0, rerun.stdout
    assert len(control.host(host)["messages"]) == before + 1
    assert primitives(control, host) == {"Get-InstalledProduct": 1}
    again = rerun.result(
        host,
        "rollout.windows.msi_install : Install, upgrade or remove the package",
    )
    assert again["_status"] == "ok"
    assert again["verified"]["found"] == ["9.3.0"]
    assert "office_gate" not in again
