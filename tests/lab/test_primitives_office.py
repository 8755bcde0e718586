"""The lab side of Send-SessionMessage and Stop-SessionProcess, called as the WinRM server calls them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lab import collection
from lab.clock import Clock
from lab.host import make_host
from lab.host.blobs import BlobStore
from lab.primitives import core

winhost = collection.winhost()


def call(host: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    rc, out, err = asyncio.run(core.run(host, name, args, host.username))
    return winhost.parse_output(name, rc, out, err)


def desktop() -> Any:
    """alice (closes 60 simulated seconds after a message) with Word and OneNote; bob (ignores) with Excel."""
    host = make_host("pc001", "client", seed=3, clock=Clock(1.0), blobs=BlobStore(), users=["alice", "bob"])
    for user in ("alice", "bob"):
        host.logoff(user)
    host.logon("alice")
    host.start_process("alice", "WINWORD.EXE")
    host.start_process("alice", "ONENOTE.EXE")
    host.logon("bob")
    host.start_process("bob", "EXCEL.EXE")
    host.apply_control(
        {"behaviour": {"users": {"alice": {"on_message": "close", "close_delay": 60}, "bob": {"on_message": "ignore"}}}}
    )
    return host


def office(host: Any) -> set[tuple[str, str]]:
    return {(p["user"], p["name"]) for p in host.list_processes() if p["name"] != "explorer.exe"}


def test_message_reaches_the_sessions_literally_and_users_react() -> None:
    host = desktop()
    text = "Quotes ' \" `$(x)` & | ; \r\nline two ü 😀"
    out = call(host, "Send-SessionMessage", {"session_ids": [1, 2, 7], "title": 'Upd"ate', "text": text})
    assert out["sessions"] == [
        {"session_id": 1, "sent": True, "error": None},
        {"session_id": 2, "sent": True, "error": None},
        {"session_id": 7, "sent": False, "error": "The specified session cannot be found."},
    ]
    assert [(m["user"], m["title"], m["text"], m["reaction"]) for m in host.messages] == [
        ("alice", 'Upd"ate', text, "close"),
        ("bob", 'Upd"ate', text, "ignore"),
    ]
    host.clock.advance(59)
    assert ("alice", "ONENOTE.EXE") in office(host)
    host.clock.advance(2)
    # alice closes every Office application (OneNote too), bob never does.
    assert office(host) == {("bob", "EXCEL.EXE")}


def test_stop_only_the_given_pids_with_matching_name_and_start_time() -> None:
    host = desktop()
    listed = call(host, "Get-SessionProcess", {"names": ["WINWORD", "EXCEL", "ONENOTE"]})["processes"]
    word, onenote, excel = (
        next(p for p in listed if p["name"] == n) for n in ("WINWORD.EXE", "ONENOTE.EXE", "EXCEL.EXE")
    )
    targets = [
        {"pid": word["pid"], "name": word["name"], "start_time": word["start_time"]},
        # Same PID, other start time: the PID was reused by another program meanwhile.
        {"pid": excel["pid"], "name": excel["name"], "start_time": "2020-01-01T00:00:00.0000000Z"},
        # Same PID, other name.
        {"pid": onenote["pid"], "name": "WINWORD.EXE", "start_time": onenote["start_time"]},
        {"pid": 999_999, "name": "VISIO.EXE", "start_time": word["start_time"]},
        {"pid": onenote["pid"], "name": onenote["name"], "start_time": None},
    ]
    out = call(host, "Stop-SessionProcess", {"processes": targets})
    assert [(p["pid"], p["status"]) for p in out["processes"]] == [
        (word["pid"], "stopped"),
        (excel["pid"], "recycled"),
        (onenote["pid"], "recycled"),
        (999_999, "gone"),
        (onenote["pid"], "unverified"),
    ]
    assert office(host) == {("alice", "ONENOTE.EXE"), ("bob", "EXCEL.EXE")}
    assert host.list_processes(["explorer"])  # sessions untouched


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("Send-SessionMessage", {"session_ids": ["1"], "text": "x"}, "list of integers"),
        ("Send-SessionMessage", {"session_ids": [1], "text": 5}, "must be strings"),
        ("Stop-SessionProcess", {"processes": [{"pid": "1"}]}, "pid must be an integer"),
        ("Stop-SessionProcess", {"processes": "x"}, "list of"),
    ],
)
def test_bad_arguments_fail_like_the_powershell(name: str, args: dict[str, Any], match: str) -> None:
    with pytest.raises(winhost.PrimitiveError, match=match):
        call(desktop(), name, args)
