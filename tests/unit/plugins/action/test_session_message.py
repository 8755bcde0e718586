"""session_message against the lab's primitives: who gets the message, what check mode and refusals do."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import session_message
from tests.unit.plugins.action.fakehost import FakeHost, action_for


def logged_on() -> FakeHost:
    """anna, ben and carl logged on to PC in sessions 1, 2 and 3; dora has an account but no session."""
    host = FakeHost("pc", users=["anna", "ben", "carl", "dora"])
    for user in ("anna", "ben", "carl"):
        host.lab.logon(user)
    return host


def send(host: FakeHost, check_mode: bool = False, **options: t.Any) -> dict[str, t.Any]:
    return action_for(session_message, host, options, check_mode=check_mode).run(task_vars={})


def shown(host: FakeHost) -> list[tuple[str, str, str]]:
    """What the users saw, as the lab host recorded it."""
    return [(m["user"], m["title"], m["text"]) for m in host.lab.messages]


def test_session_message_to_everybody() -> None:
    host = logged_on()
    result = send(host, message="Bye 'all' & \"you\"")
    assert result["changed"] is True
    assert [s["session_id"] for s in result["sessions"] if s["sent"]] == [1, 2, 3]
    assert host.calls[0] == ("Get-SessionProcess", {})
    assert host.calls[1][1]["text"] == "Bye 'all' & \"you\""
    assert result["users_without_session"] == []
    title = "Message from your IT department"
    assert shown(host) == [(user, title, "Bye 'all' & \"you\"") for user in ("anna", "ben", "carl")]


def test_session_message_to_named_users_reports_who_has_no_session() -> None:
    host = logged_on()
    result = send(host, message="hi", users=["ANNA", "PC\\carl", "dora"])
    assert [(s["session_id"], s["user"]) for s in result["sessions"]] == [(1, "PC\\anna"), (3, "PC\\carl")]
    assert result["users_without_session"] == ["dora"]
    assert host.calls[1][1]["session_ids"] == [1, 3]
    assert [user for user, _title, _text in shown(host)] == ["anna", "carl"]


def test_session_message_to_nobody_logged_on_is_one_command_and_no_change() -> None:
    host = logged_on()
    result = send(host, message="hi", users=["dora"])
    assert result["changed"] is False
    assert host.names() == ["Get-SessionProcess"]
    assert result["winrm"]["commands"] == 1
    assert host.lab.messages == []


def test_session_message_check_mode_sends_nothing() -> None:
    host = logged_on()
    result = send(host, check_mode=True, message="hi", users=["ben"])
    assert result["changed"] is True
    assert result["sessions"] == [{"session_id": 2, "user": "PC\\ben", "sent": False, "error": None}]
    assert host.names() == ["Get-SessionProcess"]
    assert host.lab.messages == []


def test_hostile_text_and_title_reach_the_user_literally() -> None:
    host = logged_on()
    text = "Quotes ' \" `$(whoami)` & | ; %PATH%\r\nline two ü"
    result = send(host, message=text, title='Upd"ate $env:X', users=["ben"])
    assert result["changed"] is True
    assert shown(host) == [("ben", 'Upd"ate $env:X', text)]


def test_a_session_that_is_gone_by_the_time_of_the_message_fails_naming_it() -> None:
    host = logged_on()

    def ben_logs_off_in_between(args: dict[str, t.Any]) -> dict[str, t.Any]:
        found = host.twin("Get-SessionProcess", args)
        host.lab.logoff("ben")
        return found

    host.answer("Get-SessionProcess", ben_logs_off_in_between)
    result = send(host, message="hi")
    assert result["failed"] is True
    assert "could not message session 2 (PC\\ben): The specified session cannot be found." in result["msg"]
    # The others got it: a failure for one session does not hold back the rest.
    assert [(s["session_id"], s["sent"]) for s in result["sessions"]] == [(1, True), (2, False), (3, True)]
    assert result["changed"] is True


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"message": "x" * 256}, "message must have at most 255"),
        ({"message": "hi", "title": "x" * 65}, "title must have at most 64"),
        ({"message": "hi", "users": ["anna", " "]}, "users must not contain an empty name"),
    ],
)
def test_bad_options_fail_before_the_host_is_touched(options: dict[str, t.Any], match: str) -> None:
    host = logged_on()
    result = send(host, **options)
    assert result["failed"] is True
    assert match in result["msg"]
    assert host.calls == []
    assert result["winrm"]["commands"] == 0


def test_a_message_is_required() -> None:
    host = logged_on()
    with pytest.raises(AnsibleActionFail, match="missing required arguments: message"):
        send(host)
    assert host.calls == []
