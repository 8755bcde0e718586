"""office_processes with the lab's primitives behind a fake host: what runs, in which order, what it reports."""

from __future__ import annotations

import types
import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.action import office_processes
from ansible_collections.rollout.windows.plugins.plugin_utils._action import unreachable_on_connection_loss
from tests.unit.plugins.action.fakehost import START_O as START
from tests.unit.plugins.action.fakehost import FakeHost


def desktop(ignore: str = "ben") -> tuple[FakeHost, dict[str, int]]:
    """Word open for anna (session 1), Excel for ben (session 2), carl logged on idle (session 3).

    Everybody but ``ignore`` closes Office five seconds after a message; the PIDs are the lab's.
    """
    host = FakeHost("pc", users=["anna", "ben", "carl"])
    for user in ("anna", "ben", "carl"):
        host.lab.logon(user)
    pids = {
        "word": host.lab.start_process("anna", "WINWORD.EXE")["pid"],
        "excel": host.lab.start_process("ben", "EXCEL.EXE")["pid"],
    }
    reactions = {
        user: {"on_message": "ignore"} if user == ignore else {"on_message": "close", "close_delay": 5}
        for user in ("anna", "ben", "carl")
    }
    host.lab.apply_control({"behaviour": {"users": reactions}})
    return host, pids


def action(module: t.Any, check_mode: bool = False) -> t.Any:
    plugin = module.ActionModule.__new__(module.ActionModule)
    plugin._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    return plugin


def args(module: t.Any, **overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in module.ARGUMENT_SPEC.items()}
    base.update(overrides)
    return base


def wait(host: FakeHost, check_mode: bool = False, **overrides: t.Any) -> dict[str, t.Any]:
    return action(office_processes, check_mode)._run(
        host, args(office_processes, state="absent", **overrides), clock=host.clock, sleep=host.sleep
    )


def test_query_reports_processes_users_and_sessions_in_one_command() -> None:
    host, pids = desktop()
    result = action(office_processes)._run(host, args(office_processes))
    assert result["changed"] is False
    assert [(p["pid"], p["user"]) for p in result["processes"]] == [
        (pids["word"], "PC\\anna"),
        (pids["excel"], "PC\\ben"),
    ]
    assert result["users"] == ["PC\\anna", "PC\\ben"]
    assert host.names() == ["Get-SessionProcess"]
    assert host.calls[0][1]["names"] == list(office_processes.ARGUMENT_SPEC["processes"]["default"])


def test_custom_process_list_is_passed_without_exe() -> None:
    host, _pids = desktop()
    result = action(office_processes)._run(host, args(office_processes, processes=["excel.exe", "Teams"]))
    assert host.calls[0][1] == {"names": ["excel", "Teams"]}
    assert [p["name"] for p in result["processes"]] == ["EXCEL.EXE"]


def test_notify_then_fail_naming_the_user_who_ignores_and_close_nothing() -> None:
    host, _pids = desktop()
    result = wait(host, notify=True, interval=10, attempts=4, message='say "hi"\nnow ü')
    assert result["failed"] is True
    assert "PC\\ben (EXCEL.EXE)" in result["msg"]
    assert "Nothing was closed" in result["msg"]
    assert result["users_still_working"] == ["PC\\ben"]
    assert result["changed"] is True  # the messages were shown
    assert "Stop-SessionProcess" not in host.names()
    sent = [c[1] for c in host.calls if c[0] == "Send-SessionMessage"]
    assert sent == [{"session_ids": [1, 2], "title": "Software update", "text": 'say "hi"\nnow ü'}]
    assert host.names().count("Get-SessionProcess") == 4
    # What the users saw, as the lab recorded it.
    assert [(m["user"], m["text"]) for m in host.lab.messages] == [
        ("anna", 'say "hi"\nnow ü'),
        ("ben", 'say "hi"\nnow ü'),
    ]


def test_force_closes_after_the_deadline_and_warns_about_data_loss() -> None:
    host, pids = desktop()
    result = wait(host, notify=True, interval=10, attempts=10, force=True, deadline=25)
    assert "failed" not in result
    assert [(p["user"], p["name"], p["pid"]) for p in result["closed"]] == [("PC\\ben", "EXCEL.EXE", pids["excel"])]
    assert result["unsaved_data_lost"] is True
    assert any("unsaved data in them is lost" in w and "PC\\ben (EXCEL.EXE)" in w for w in result["warnings"])
    assert "unsaved data lost" in result["msg"]
    stops = [c[1] for c in host.calls if c[0] == "Stop-SessionProcess"]
    assert stops == [{"processes": [{"pid": pids["excel"], "name": "EXCEL.EXE", "start_time": START}]}]
    # 0, 10, 20, deadline 25 (+ close + confirm)
    assert host.names() == [
        "Get-SessionProcess",
        "Send-SessionMessage",
        "Get-SessionProcess",
        "Get-SessionProcess",
        "Get-SessionProcess",
        "Stop-SessionProcess",
        "Get-SessionProcess",
    ]
    assert pids["excel"] not in host.lab.processes


def test_check_mode_polls_once_and_says_who_would_be_messaged_and_closed() -> None:
    host, pids = desktop()
    result = wait(host, check_mode=True, notify=True, force=True, deadline=60)
    assert result["changed"] is True
    assert host.names() == ["Get-SessionProcess"]
    assert result["would_notify"] == [
        {"session_id": 1, "user": "PC\\anna"},
        {"session_id": 2, "user": "PC\\ben"},
    ]
    assert [p["pid"] for p in result["would_close"]] == [pids["word"], pids["excel"]]
    assert "unsaved data would be lost" in result["msg"]
    assert host.clock() == 0
    assert host.lab.messages == []


def test_check_mode_without_notify_or_force_changes_nothing() -> None:
    host, _pids = desktop()
    result = wait(host, check_mode=True)
    assert result["changed"] is False
    assert result["would_notify"] == []


def test_nobody_with_office_open_is_one_command_and_no_change() -> None:
    host = FakeHost("pc", users=["anna"])
    host.lab.logon("anna")
    result = wait(host, notify=True, force=True, deadline=60)
    assert result["changed"] is False
    assert host.names() == ["Get-SessionProcess"]
    assert result["polls"] == 1


def test_a_message_windows_refused_is_a_warning() -> None:
    host, _pids = desktop(ignore="nobody")

    def word_in_a_session_that_is_gone(query: dict[str, t.Any]) -> dict[str, t.Any]:
        found = host.twin("Get-SessionProcess", query)
        for proc in found["processes"]:
            if proc["name"] == "WINWORD.EXE":
                proc["session_id"] = 99
        return found

    host.answer("Get-SessionProcess", word_in_a_session_that_is_gone)
    result = wait(host, notify=True, interval=10, attempts=3)
    assert any("could not message session 99" in w for w in result["warnings"])


def test_a_dropped_connection_is_unreachable_not_a_failure() -> None:
    host, _pids = desktop(ignore="ben")
    host.drop(after=3)
    with pytest.raises(AnsibleConnectionFailure, match="Connection reset"), unreachable_on_connection_loss():
        wait(host, notify=True, interval=10, attempts=10)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"state": "query", "notify": True}, "notify apply only with state=absent"),
        ({"state": "query", "force": True, "deadline": 5}, "force, deadline apply only with state=absent"),
        ({"state": "absent", "interval": 0}, "interval must be more than 0"),
        ({"state": "absent", "deadline": 5}, "deadline applies only with force=true"),
        ({"state": "absent", "notify": True, "message": "x" * 256}, "at most 255"),
        ({"state": "absent", "notify": True, "title": "x" * 65}, "title must have at most 64"),
        ({"state": "absent", "processes": ["C:\\Office\\WINWORD.EXE"]}, "not a process name"),
    ],
)
def test_bad_options_fail_before_the_host_is_touched(overrides: dict[str, t.Any], match: str) -> None:
    host, _pids = desktop()
    with pytest.raises(ValueError, match=match):
        action(office_processes)._run(host, args(office_processes, **overrides))
    assert host.calls == []
