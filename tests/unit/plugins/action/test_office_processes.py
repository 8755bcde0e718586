"""office_processes and session_message with a fake host: what runs, in which order, what they report."""

from __future__ import annotations

import types
import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.action import office_processes, session_message
from ansible_collections.rollout.windows.plugins.plugin_utils._action import unreachable_on_connection_loss

START = "2025-03-04T07:00:00.0000000Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeHost:
    """Word open for anna (session 1, closes when told) and ben (session 2, ignores it); carl logged on idle."""

    def __init__(self, clock: FakeClock, procs: list[dict[str, t.Any]] | None = None, ignore: str = "ben") -> None:
        self.clock = clock
        self.ignore = ignore
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.sessions = [{"id": 1, "user": "PC\\anna"}, {"id": 2, "user": "PC\\ben"}, {"id": 3, "user": "PC\\carl"}]
        self.procs = (
            procs
            if procs is not None
            else [
                {"pid": 400, "name": "WINWORD.EXE", "session_id": 1, "user": "PC\\anna", "start_time": START},
                {"pid": 404, "name": "EXCEL.EXE", "session_id": 2, "user": "PC\\ben", "start_time": START},
            ]
        )
        self.fail_after: int | None = None

    def run(self, name: str, args: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        self.calls.append((name, dict(args or {})))
        if self.fail_after is not None and len(self.calls) > self.fail_after:
            raise ConnectionResetError(104, "Connection reset by peer")
        if name == "Get-SessionProcess":
            names = {n.lower() for n in args["names"]} if args and "names" in args else set()
            procs = [p for p in self.procs if p["name"].lower().removesuffix(".exe") in names]
            return {"sessions": self.sessions, "processes": procs}
        if name == "Send-SessionMessage":
            told = set(args["session_ids"])
            self.procs = [p for p in self.procs if p["session_id"] not in told or p["user"].endswith(self.ignore)]
            return {"sessions": [{"session_id": i, "sent": i != 99, "error": None} for i in args["session_ids"]]}
        if name == "Stop-SessionProcess":
            pids = {p["pid"] for p in args["processes"]}
            self.procs = [p for p in self.procs if p["pid"] not in pids]
            return {"processes": [{**p, "status": "stopped", "error": None} for p in args["processes"]]}
        raise AssertionError(name)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


def action(module: t.Any, check_mode: bool = False) -> t.Any:
    plugin = module.ActionModule.__new__(module.ActionModule)
    plugin._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    return plugin


def args(module: t.Any, **overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in module.ARGUMENT_SPEC.items()}
    base.update(overrides)
    return base


def wait(host: FakeHost, clock: FakeClock, check_mode: bool = False, **overrides: t.Any) -> dict[str, t.Any]:
    return action(office_processes, check_mode)._run(
        host, args(office_processes, state="absent", **overrides), clock=clock, sleep=clock.sleep
    )


def test_query_reports_processes_users_and_sessions_in_one_command() -> None:
    host = FakeHost(FakeClock())
    result = action(office_processes)._run(host, args(office_processes))
    assert result["changed"] is False
    assert [(p["pid"], p["user"]) for p in result["processes"]] == [(400, "PC\\anna"), (404, "PC\\ben")]
    assert result["users"] == ["PC\\anna", "PC\\ben"]
    assert host.names() == ["Get-SessionProcess"]
    assert host.calls[0][1]["names"] == list(office_processes.ARGUMENT_SPEC["processes"]["default"])


def test_custom_process_list_is_passed_without_exe() -> None:
    host = FakeHost(FakeClock())
    result = action(office_processes)._run(host, args(office_processes, processes=["excel.exe", "Teams"]))
    assert host.calls[0][1] == {"names": ["excel", "Teams"]}
    assert [p["name"] for p in result["processes"]] == ["EXCEL.EXE"]


def test_notify_then_fail_naming_the_user_who_ignores_and_close_nothing() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    result = wait(host, clock, notify=True, interval=10, attempts=4, message='say "hi"\nnow ü')
    assert result["failed"] is True
    assert "PC\\ben (EXCEL.EXE)" in result["msg"]
    assert "Nothing was closed" in result["msg"]
    assert result["users_still_working"] == ["PC\\ben"]
    assert result["changed"] is True  # the messages were shown
    assert "Stop-SessionProcess" not in host.names()
    sent = [c[1] for c in host.calls if c[0] == "Send-SessionMessage"]
    assert sent == [{"session_ids": [1, 2], "title": "Software update", "text": 'say "hi"\nnow ü'}]
    assert host.names().count("Get-SessionProcess") == 4


def test_force_closes_after_the_deadline_and_warns_about_data_loss() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    result = wait(host, clock, notify=True, interval=10, attempts=10, force=True, deadline=25)
    assert "failed" not in result
    assert [(p["user"], p["name"], p["pid"]) for p in result["closed"]] == [("PC\\ben", "EXCEL.EXE", 404)]
    assert result["unsaved_data_lost"] is True
    assert any("unsaved data in them is lost" in w and "PC\\ben (EXCEL.EXE)" in w for w in result["warnings"])
    assert "unsaved data lost" in result["msg"]
    stops = [c[1] for c in host.calls if c[0] == "Stop-SessionProcess"]
    assert stops == [{"processes": [{"pid": 404, "name": "EXCEL.EXE", "start_time": START}]}]
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


def test_check_mode_polls_once_and_says_who_would_be_messaged_and_closed() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    result = wait(host, clock, check_mode=True, notify=True, force=True, deadline=60)
    assert result["changed"] is True
    assert host.names() == ["Get-SessionProcess"]
    assert result["would_notify"] == [
        {"session_id": 1, "user": "PC\\anna"},
        {"session_id": 2, "user": "PC\\ben"},
    ]
    assert [p["pid"] for p in result["would_close"]] == [400, 404]
    assert "unsaved data would be lost" in result["msg"]
    assert clock.now == 0


def test_check_mode_without_notify_or_force_changes_nothing() -> None:
    clock = FakeClock()
    result = wait(FakeHost(clock), clock, check_mode=True)
    assert result["changed"] is False
    assert result["would_notify"] == []


def test_nobody_with_office_open_is_one_command_and_no_change() -> None:
    clock = FakeClock()
    host = FakeHost(clock, procs=[])
    result = wait(host, clock, notify=True, force=True, deadline=60)
    assert result["changed"] is False
    assert host.names() == ["Get-SessionProcess"]
    assert result["polls"] == 1


def test_a_message_windows_refused_is_a_warning() -> None:
    clock = FakeClock()
    host = FakeHost(clock, ignore="nobody")
    host.procs[0]["session_id"] = 99
    result = wait(host, clock, notify=True, interval=10, attempts=3)
    assert any("could not message session 99" in w for w in result["warnings"])


def test_a_dropped_connection_is_unreachable_not_a_failure() -> None:
    clock = FakeClock()
    host = FakeHost(clock, ignore="ben")
    host.fail_after = 3
    with pytest.raises(AnsibleConnectionFailure, match="Connection reset"), unreachable_on_connection_loss():
        wait(host, clock, notify=True, interval=10, attempts=10)


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
    host = FakeHost(FakeClock())
    with pytest.raises(ValueError, match=match):
        action(office_processes)._run(host, args(office_processes, **overrides))
    assert host.calls == []


# -- session_message ---------------------------------------------------------------------------------------
def test_session_message_to_everybody() -> None:
    host = FakeHost(FakeClock())
    result = action(session_message)._run(host, args(session_message, message="Bye 'all' & \"you\""))
    assert result["changed"] is True
    assert [s["session_id"] for s in result["sessions"] if s["sent"]] == [1, 2, 3]
    assert host.calls[0] == ("Get-SessionProcess", {})
    assert host.calls[1][1]["text"] == "Bye 'all' & \"you\""
    assert result["users_without_session"] == []


def test_session_message_to_named_users_reports_who_has_no_session() -> None:
    host = FakeHost(FakeClock())
    result = action(session_message)._run(host, args(session_message, message="hi", users=["ANNA", "PC\\carl", "dora"]))
    assert [(s["session_id"], s["user"]) for s in result["sessions"]] == [(1, "PC\\anna"), (3, "PC\\carl")]
    assert result["users_without_session"] == ["dora"]
    assert host.calls[1][1]["session_ids"] == [1, 3]


def test_session_message_to_nobody_logged_on_is_one_command_and_no_change() -> None:
    host = FakeHost(FakeClock())
    result = action(session_message)._run(host, args(session_message, message="hi", users=["dora"]))
    assert result["changed"] is False
    assert host.names() == ["Get-SessionProcess"]


def test_session_message_check_mode_sends_nothing() -> None:
    host = FakeHost(FakeClock())
    result = action(session_message, check_mode=True)._run(host, args(session_message, message="hi", users=["ben"]))
    assert result["changed"] is True
    assert result["sessions"] == [{"session_id": 2, "user": "PC\\ben", "sent": False, "error": None}]
    assert host.names() == ["Get-SessionProcess"]


def test_session_message_too_long_is_refused_before_the_host() -> None:
    host = FakeHost(FakeClock())
    with pytest.raises(ValueError, match="message must have at most 255"):
        action(session_message)._run(host, args(session_message, message="x" * 256))
    assert host.calls == []
