"""Windows PowerShell 5.1 behaviours of the session and per-user task primitives, in the lab.

The controller's msi_package logic runs here against the lab's primitives (each call parsed by
_winhost, as over WinRM), so what a user of the module would see is asserted end to end.
"""

from __future__ import annotations

import asyncio
import types
import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from ansible_collections.rollout.windows.plugins.plugin_utils._msi import command_line
from lab import collection
from lab.primitives import core

winhost = collection.winhost()
TASK_PATH = "\\rollout.windows\\"


class LabWinHost:
    """The WinHost interface over a lab host: one event loop, so tasks run on between commands."""

    def __init__(self, host: t.Any) -> None:
        self.host = host
        self.loop = asyncio.new_event_loop()
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.before: dict[str, t.Callable[[dict[str, t.Any]], None]] = {}

    def run(self, name: str, args: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        args = dict(args or {})
        if name in self.before:
            self.before.pop(name)(args)
        self.calls.append((name, args))
        rc, out, err = self.loop.run_until_complete(core.run(self.host, name, args, self.host.username))
        return winhost.parse_output(name, rc, out, err)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def lab(kit: t.Any) -> t.Iterator[LabWinHost]:
    host = kit.host(users=["alice", "bob"])
    for session in list(host.sessions.values()):
        host.logoff(session["user"])
    adapter = LabWinHost(host)
    yield adapter
    adapter.close()


def user_install(lab: LabWinHost, kit: t.Any, **overrides: t.Any) -> dict[str, t.Any]:
    msi = kit.stage(lab.host, "user-9.3.0")
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    info = kit.packages["user-9.3.0"]
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update(path=msi, scope="user", product_code=info["product_code"], upgrade_code=info["upgrade_code"])
    args.update({"version": "9.3.0", "user_timeout": 1800, **overrides})
    return action._run(lab, args)


# -- RemoteApp sessions and replaced shells ----------------------------------------------------------


def test_remoteapp_session_without_explorer_is_found_by_every_primitive(lab: LabWinHost) -> None:
    host = lab.host
    host.logon("alice")
    session = host.logon("bob", shell="remoteapp")
    word = host.start_process("bob", "WINWORD.EXE")
    assert "explorer.exe" not in {p["name"] for p in host.list_processes() if p["user"] == "bob"}

    listed = lab.run("Get-SessionProcess", {"names": ["WINWORD"]})
    assert [(s["id"], s["user"]) for s in listed["sessions"]] == [(1, "PC001\\alice"), (session["id"], "PC001\\bob")]
    assert [(p["pid"], p["session_id"], p["user"]) for p in listed["processes"]] == [
        (word["pid"], session["id"], "PC001\\bob")
    ]
    users = lab.run("Get-InstallUser", {"users": [], "logged_on": True})["users"]
    assert [(u["account"], u["session_id"]) for u in users] == [("PC001\\alice", 1), ("PC001\\bob", session["id"])]
    info = lab.run("Get-HostInfo")
    assert info["logged_on_users"] == ["PC001\\alice", "PC001\\bob"]
    assert info["logged_on_users_error"] is None


def test_a_session_is_the_users_whose_processes_run_in_it_not_explorers(lab: LabWinHost) -> None:
    host = lab.host
    host.logon("alice")
    (explorer,) = [p for p in host.list_processes() if p["name"] == "explorer.exe"]
    host.start_process("alice", "customshell.exe")
    host.stop_process(explorer["pid"])  # a replaced shell: the session goes on without explorer.exe
    assert [s["user"] for s in lab.run("Get-SessionProcess", {})["sessions"]] == ["PC001\\alice"]
    host.logoff("alice")
    assert lab.run("Get-SessionProcess", {})["sessions"] == []
    assert lab.run("Get-HostInfo")["logged_on_users"] == []


# -- task results of 0x80000000 and above ----------------------------------------------------------------


def test_task_launch_failure_comes_back_unsigned_and_the_task_is_removed(lab: LabWinHost) -> None:
    host = lab.host
    host.logon("alice")
    host.task_launch_failures["alice"] = 0x8007052E
    task = {"task_name": "t", "task_path": TASK_PATH}
    lab.run("Register-UserInstallTask", {**task, "user": "alice", "command_line": command_line(["/i", "C:\\x.msi"])})
    done = lab.run("Wait-UserInstallTask", {**task, "wait_seconds": 5})
    # LastTaskResult is a uint32: 2147943726, not the Int32 -2147023570, and no cast overflowed on the way.
    assert (done["finished"], done["rc"], done["task_result"]) == (True, 0x8007052E, 0x8007052E)
    assert host.tasks == {}
    assert host.msiexec_history == []


@pytest.mark.parametrize(
    ("hresult", "words"),
    [(0x8007052E, "user name or password is incorrect"), (0x800710E0, "refused the request")],
)
def test_controller_reports_a_task_launch_failure_per_user(
    lab: LabWinHost, kit: t.Any, hresult: int, words: str
) -> None:
    lab.host.logon("alice")
    lab.host.task_launch_failures["alice"] = hresult
    result = user_install(lab, kit)
    assert result["failed"] is True
    (alice,) = result["users"]
    assert alice["status"] == "failed"
    assert f"0x{hresult:08X}" in alice["msg"]
    assert words in alice["msg"]
    assert alice["exit_code"] is None  # no msiexec exit code was ever produced
    assert lab.host.tasks == {}


def test_task_launch_error_reads_unsigned_results() -> None:
    assert _msi.task_launch_error(0) is None
    assert _msi.task_launch_error(1603) is None
    assert _msi.task_launch_error(0x800710E0) == (
        "0x800710E0: The operator or administrator has refused the request (ERROR_REQUEST_REFUSED)."
    )
    # A signed reading of the same bits means the same failure.
    assert _msi.task_launch_error(0x8007052E - 0x100000000) == _msi.task_launch_error(0x8007052E)
    assert _msi.task_launch_error(0xC0000005) == "0xC0000005: HRESULT -1073741819."


# -- a user who logs off while their task waits --------------------------------------------------------


def test_wait_returns_at_once_when_the_tasks_user_has_logged_off(lab: LabWinHost) -> None:
    host = lab.host
    host.logon("bob")
    host.logoff("bob")  # before the task could start: interactive-only, it never will
    task = {"task_name": "t", "task_path": TASK_PATH}
    started = lab.run("Register-UserInstallTask", {**task, "user": "bob", "command_line": command_line(["/i", "x"])})
    assert started["state"] == "Ready"
    out = lab.run("Wait-UserInstallTask", {**task, "wait_seconds": 30, "user_sid": host.sid_of("bob")})
    assert (out["finished"], out["state"], out["rc"]) == (False, "UserLoggedOff", None)
    assert host.tasks == {}


def test_wait_without_a_user_sid_still_only_reports_not_finished(lab: LabWinHost) -> None:
    host = lab.host
    task = {"task_name": "t", "task_path": TASK_PATH}
    lab.run("Register-UserInstallTask", {**task, "user": "bob", "command_line": command_line(["/i", "x"])})
    out = lab.run("Wait-UserInstallTask", {**task, "wait_seconds": 0})
    assert (out["finished"], out["state"]) == (False, "Ready")
    assert len(host.tasks) == 1


def test_controller_reports_a_user_who_logged_off_as_pending_without_waiting(lab: LabWinHost, kit: t.Any) -> None:
    host = lab.host
    host.logon("bob")
    # Between Get-InstallUser (bob has a session) and his task: bob logs off.
    lab.before["Register-UserInstallTask"] = lambda _args: host.logoff("bob")
    result = user_install(lab, kit, user_timeout=1800)
    (bob,) = result["users"]
    assert bob["status"] == "pending"
    assert "logged off before msiexec install could start" in bob["msg"]
    assert result["pending"] == ["PC001\\bob"]
    assert result.get("failed") is None
    assert result["changed"] is False
    waits = [a for n, a in lab.calls if n == "Wait-UserInstallTask"]
    assert len(waits) == 1
    assert waits[0]["user_sid"] == host.sid_of("bob")
    assert host.tasks == {}
