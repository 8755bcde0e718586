"""The lab side of Start-SessionProgram, called as the WinRM server calls it."""

from __future__ import annotations

import asyncio
from typing import Any

from lab import collection
from lab.clock import Clock
from lab.host import make_host
from lab.host.blobs import BlobStore
from lab.primitives import core

winhost = collection.winhost()
PROGRAM = "C:\\Program Files\\Suite\\suite.exe"
TASKS = "\\rollout.windows\\"


def call(host: Any, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    rc, out, err = asyncio.run(core.run(host, "Start-SessionProgram", args, host.username))
    try:
        return rc, winhost.parse_output("Start-SessionProgram", rc, out, err)
    except winhost.PrimitiveError as exc:
        return rc, {"failed": True, "msg": exc.msg}


def desktop() -> Any:
    host = make_host("pc001", "client", seed=3, clock=Clock(1.0), blobs=BlobStore(), users=["alice", "bob"])
    for user in ("alice", "bob"):
        host.logoff(user)
    host.logon("alice")
    host.files.mkdir("C:\\Program Files\\Suite", parents=True)
    host.files.write_bytes(PROGRAM, b"MZ")
    return host


def test_starts_the_program_in_the_users_session_with_its_command_line_and_leaves_no_task() -> None:
    host = desktop()
    rc, out = call(
        host, {"path": PROGRAM, "command_line": '/open "a b.docx"', "task_path": TASKS, "users": ["PC001\\alice"]}
    )
    assert rc == 0
    [entry] = out["users"]
    assert (entry["user"], entry["started"], entry["task_result"], entry["error"]) == ("PC001\\alice", True, 0, None)
    assert entry["task_name"].startswith("start-")
    [proc] = [p for p in host.list_processes(["suite.exe"])]
    assert (proc["user"], proc["session_id"], proc["command_line"]) == ("alice", 1, '/open "a b.docx"')
    assert host.tasks == {}


def test_a_user_without_session_an_unknown_user_and_a_missing_program_start_nothing() -> None:
    host = desktop()
    rc, out = call(host, {"path": PROGRAM, "task_path": TASKS, "users": ["bob", "CORP\\nobody"]})
    assert rc == 0
    bob, nobody = out["users"]
    assert (bob["started"], bob["task_result"]) == (False, 267011)
    assert "0x00041303" in bob["error"]
    assert nobody["started"] is False
    assert nobody["error"] == "No mapping between account names and security IDs was done."
    rc, out = call(host, {"path": "C:\\Nowhere\\suite.exe", "task_path": TASKS, "users": ["alice"]})
    assert out["users"][0]["error"] == "the task did not start the program (task result 0x80070002)"
    assert host.list_processes(["suite.exe"]) == []
    assert host.tasks == {}


def test_a_path_that_is_no_exe_fails() -> None:
    rc, out = call(desktop(), {"path": "C:\\x.bat", "task_path": TASKS, "users": ["alice"]})
    assert rc == 1
    assert out["failed"] is True
