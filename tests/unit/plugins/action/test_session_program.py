"""session_program against the lab: whom it starts the program for, what the host gets, how arguments are quoted."""

from __future__ import annotations

import types
import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import session_program
from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline
from tests.unit.plugins.action.fakehost import FakeHost

PATH = "C:\\Program Files\\Suite\\suite.exe"


def desktop() -> FakeHost:
    """anna (session 1) and ben (session 2) logged on, suite.exe installed; ben already runs it."""
    host = FakeHost("pc", users=["anna", "ben", "carl"])
    host.put(PATH, b"MZ")
    for user in ("anna", "ben"):
        host.lab.logon(user)
    host.lab.start_process("ben", "suite.exe")
    return host


def suites(host: FakeHost) -> list[tuple[int, str]]:
    """(session, user) of every suite.exe the lab host runs."""
    return sorted((p["session_id"], p["user"]) for p in host.lab.processes.values() if p["name"] == "suite.exe")


def run(host: FakeHost, check_mode: bool = False, **overrides: t.Any) -> dict[str, t.Any]:
    plugin = session_program.ActionModule.__new__(session_program.ActionModule)
    plugin._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    args = {"path": PATH, "arguments": [], "users": ["anna", "ben", "carl"], **overrides}
    return plugin._run(host, args)


def test_starts_for_logged_on_users_not_running_it_and_reports_the_rest() -> None:
    host = desktop()
    result = run(host, arguments=["/restore", "My file.docx"])
    assert result["changed"] is True
    assert result["started"] == [{"session_id": 1, "user": "PC\\anna", "started": True, "error": None}]
    assert result["already_running"] == [{"session_id": 2, "user": "PC\\ben"}]
    assert result["users_without_session"] == ["carl"]
    assert host.calls[0] == ("Get-SessionProcess", {"names": ["suite"]})
    assert host.calls[1] == (
        "Start-SessionProgram",
        {
            "path": PATH,
            "command_line": '/restore "My file.docx"',
            "task_path": "\\rollout.windows\\",
            "users": ["PC\\anna"],
        },
    )
    # The lab started it in anna's session with that command line, and left no task behind.
    assert suites(host) == [(1, "anna"), (2, "ben")]
    started = next(p for p in host.lab.processes.values() if p["name"] == "suite.exe" and p["user"] == "anna")
    assert started["command_line"] == '/restore "My file.docx"'
    assert not [task for task in host.lab.tasks.values() if task["path"] == "\\rollout.windows\\"]


def test_second_run_and_check_mode_start_nothing() -> None:
    host = desktop()
    again = run(host, users=["ben"])
    assert again["changed"] is False
    assert [c[0] for c in host.calls] == ["Get-SessionProcess"]
    checked_host = desktop()
    checked = run(checked_host, check_mode=True)
    assert checked["changed"] is True
    assert checked["started"] == [{"session_id": 1, "user": "PC\\anna", "started": False, "error": None}]
    assert checked_host.names() == ["Get-SessionProcess"]
    assert suites(host) == suites(checked_host) == [(2, "ben")]


def test_a_failed_start_fails_naming_the_user() -> None:
    host = desktop()
    host.answer(
        "Start-SessionProgram",
        lambda args: {"users": [{"user": user, "started": False, "error": "access denied"} for user in args["users"]]},
    )
    result = run(host)
    assert result["failed"] is True
    assert "PC\\anna (session 1): access denied" in result["msg"]


def test_a_start_the_lab_refuses_fails_naming_the_user() -> None:
    # Without the program on disk the task runs but cannot start it: Task Scheduler's own error.
    host = desktop()
    host.lab.files.remove(PATH)
    result = run(host)
    assert result["failed"] is True
    assert "PC\\anna (session 1): the task did not start the program (task result 0x80070002)" in result["msg"]
    assert suites(host) == [(2, "ben")]


def test_no_users_touches_nothing() -> None:
    host = desktop()
    assert run(host, users=[])["changed"] is False
    assert host.calls == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"path": "suite.exe"}, "path must be the absolute Windows path of an .exe"),
        ({"path": "C:\\Suite\\suite.bat"}, "path must be the absolute Windows path of an .exe"),
        ({"path": 'C:\\Su"ite\\suite.exe'}, "path must be the absolute Windows path of an .exe"),
        ({"arguments": ["a\x00b"]}, "must not contain a NUL character"),
        ({"arguments": ["x" * 33000]}, "Windows takes 32767"),
        ({"users": ["anna", " "]}, "users must not contain an empty name"),
    ],
)
def test_bad_input_fails_before_the_host_is_touched(overrides: dict[str, t.Any], message: str) -> None:
    host = desktop()
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        run(host, **overrides)
    assert host.calls == []


def argv(line: str) -> list[str]:
    """CommandLineToArgvW's reading of the arguments after the program name (the rules of the MS C runtime)."""
    args: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        token, quoted = [], False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                k = i
                while k < n and line[k] == "\\":
                    k += 1
                if k < n and line[k] == '"':
                    token.append("\\" * ((k - i) // 2))
                    if (k - i) % 2:
                        token.append('"')
                        i = k + 1
                    else:
                        i = k
                    continue
                token.append(line[i:k])
                i = k
            elif line[i] == '"':
                quoted = not quoted
                i += 1
            else:
                token.append(line[i])
                i += 1
        args.append("".join(token))
    return args


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["/restore", "My file.docx"],
        ["", "a b", 'say "hi"', "C:\\dir with space\\", "back\\\\slash", 'x\\"y', "tab\there"],
        ["PROP=va lue", 'PROP2="q"', "-o:", "$(whoami)", "a;b&c|d"],
    ],
)
def test_command_line_splits_back_into_the_same_arguments(arguments: list[str]) -> None:
    assert argv(_cmdline.command_line(arguments)) == arguments
