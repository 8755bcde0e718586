"""The lab does with the host-cache loaders what Windows does: keeps, checks, refuses, over real WinRM."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import winrm
from _winrm_client import encoded, run

from lab.fleet import FleetHost, FleetThread
from lab.host import filesystem as fs
from lab.primitives import cache
from lab.testing import start_test_fleet
from lab.winrm.commands import winhost

NAME = "Get-HostInfo"
FOLDER = "C:\\ProgramData\\rollout.windows\\primitives"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetThread]:
    ft = start_test_fleet(tmp_path, clients=1, servers=0, transport="basic")
    try:
        yield ft
    finally:
        ft.stop()


@pytest.fixture
def fh(fleet: FleetThread) -> FleetHost:
    return fleet.fleet.hosts["client-0001"]


def send(fh: FleetHost, stdin: bytes) -> tuple[int, list[dict[str, t.Any]], bytes]:
    p = winrm.Protocol(
        f"http://{fh.address}:{fh.http_port}/wsman",
        transport="basic",
        username=fh.host.username,
        password=fh.host.password,
    )
    command, args = encoded(winhost.bootstrap_script())
    rc, out, err = run(p, command, args, stdin)
    return rc, [json.loads(line) for line in out.decode("utf-8").splitlines() if line.startswith("{")], err


def kept(name: str = NAME) -> str:
    return f"{FOLDER}\\{winhost.cached_file_name(name, winhost.script_sha256(name))}"


def test_a_stored_primitive_is_kept_for_administrators_and_then_runs_from_its_hash(
    fleet: FleetThread, fh: FleetHost
) -> None:
    rc, lines, err = send(fh, winhost.build_store_stdin(NAME, {}))
    assert rc == 0, err
    report, result = lines
    assert report["rw_cache"] == {"stored": True, "dir": FOLDER, "acl": "created", "removed": []}
    assert result["computer_name"]
    files = fh.host.files
    assert files.read_bytes(kept()) == winhost.build_script(NAME).encode("ascii")
    security = files.security(FOLDER)
    assert (security["owner"], security["protected"]) == (fs.ADMINISTRATORS, True)
    assert {a["sid"] for a in t.cast("list[dict[str, t.Any]]", security["aces"])} == {fs.SYSTEM, fs.ADMINISTRATORS}
    assert [n for n in files.listdir(FOLDER) if n.endswith(".tmp")] == []
    rc, lines, err = send(fh, winhost.build_cached_stdin(NAME, {}))
    assert rc == 0, err
    assert lines[-1]["computer_name"] == result["computer_name"]
    assert fh.host.counters["cache:hit"] == 1
    # Storing again (two commands at once, or a stale record) replaces the copy in one step.
    assert send(fh, winhost.build_store_stdin(NAME, {}))[1][0]["rw_cache"]["acl"] == "ok"


def test_a_host_without_the_file_answers_a_miss_and_runs_nothing(fh: FleetHost) -> None:
    rc, lines, _err = send(fh, winhost.build_cached_stdin("Restart-Host", {"command_line": "shutdown /r /t 0"}))
    assert rc == 1
    assert lines == [
        {
            "failed": True,
            "cache_miss": "Restart-Host",
            "sha256": winhost.script_sha256("Restart-Host"),
            "reason": "absent",
        }
    ]
    assert fh.host.reboots == []
    assert fh.host.scheduled_restart is None
    assert fh.host.counters["cache:miss"] == 1


def test_a_tampered_copy_is_refused_and_never_run(fleet: FleetThread, fh: FleetHost) -> None:
    send(fh, winhost.build_store_stdin(NAME, {}))
    # A standard user cannot change the kept file: the folder's ACL gives users nothing.
    user = fh.host.users[0]
    evil = winhost.build_script("Restart-Host").encode("ascii")
    with pytest.raises(PermissionError) as denied:
        fh.host.files.write_bytes(kept(), evil, principal=fs.user_principal(fh.host.sid_of(user)))
    assert denied.value.strerror == f"Access to the path '{kept()}' is denied."
    # An administrator can; the copy no longer has the hash the controller sends, so it is not run.
    fh.host.files.write_bytes(kept(), evil)
    rc, lines, _err = send(fh, winhost.build_cached_stdin(NAME, {"command_line": "shutdown /r /t 0"}))
    assert rc == 1
    assert lines[-1]["reason"] == "mismatch"
    assert "computer_name" not in lines[-1]
    assert fh.host.reboots == []
    assert fh.host.scheduled_restart is None


def test_a_folder_others_may_write_to_is_made_anew(fh: FleetHost) -> None:
    files = fh.host.files
    files.mkdir(FOLDER)  # inherits ProgramData's ACL: users may create files in it
    mallory = fs.user_principal(fh.host.sid_of(fh.host.users[0]))
    files.write_bytes(kept(), b"# planted", principal=mallory)
    rc, lines, err = send(fh, winhost.build_store_stdin(NAME, {}))
    assert rc == 0, err
    assert lines[0]["rw_cache"]["acl"] == "reset"
    assert lines[0]["rw_cache"]["removed"] == [winhost.cached_file_name(NAME, winhost.script_sha256(NAME))]
    assert files.read_bytes(kept()) == winhost.build_script(NAME).encode("ascii")
    assert files.security(FOLDER)["protected"] is True


def test_a_standard_winrm_account_runs_the_full_script_and_keeps_nothing(fleet: FleetThread, fh: FleetHost) -> None:
    fleet.run_sync(lambda: cache.set_winrm_admin(fh.host, False))
    rc, lines, err = send(fh, winhost.build_store_stdin(NAME, {}))
    assert rc == 0, err
    report, result = lines
    assert report["rw_cache"]["stored"] is False
    assert "is not an administrator of this host" in report["rw_cache"]["msg"]
    assert result["computer_name"]
    # Nothing made in ProgramData that a later administrator's package cache would have to refuse.
    assert not fh.host.files.exists("C:\\ProgramData\\rollout.windows")


def test_a_standard_account_cannot_read_what_administrators_keep(fleet: FleetThread, fh: FleetHost) -> None:
    send(fh, winhost.build_store_stdin(NAME, {}))
    fleet.run_sync(lambda: cache.set_winrm_admin(fh.host, False))
    rc, lines, _err = send(fh, winhost.build_cached_stdin(NAME, {}))
    assert (rc, lines[-1]["reason"]) == (1, "denied")


def test_a_loader_that_is_not_the_collections_is_not_implemented(fh: FleetHost) -> None:
    loader = winhost.cached_loader(NAME).replace("exit 1", "exit 0")
    stdin = loader.encode() + winhost.STDIN_SEPARATOR.encode() + winhost.encode_args({})
    rc, _lines, err = send(fh, stdin)
    assert rc == 1
    assert b"lab: not implemented: a loader that is not the collection's" in err


def test_a_script_that_arrives_changed_is_run_but_not_kept(fh: FleetHost) -> None:
    stdin = winhost.build_store_stdin(NAME, {}).replace(b"Win32_OperatingSystem", b"Win32_OperatingSystem ")
    _rc, lines, _err = send(fh, stdin)
    assert lines[0]["rw_cache"]["stored"] is False
    assert "the script arrived with SHA-256" in lines[0]["rw_cache"]["msg"]
    assert not fh.host.files.exists(kept())


def test_file_move_refuses_an_existing_target_and_replace_wants_one(fh: FleetHost) -> None:
    files = fh.host.files
    files.write_bytes("C:\\Windows\\Temp\\a", b"a")
    files.write_bytes("C:\\Windows\\Temp\\b", b"b")
    with pytest.raises(FileExistsError, match="Cannot create a file when that file already exists"):
        files.move("C:\\Windows\\Temp\\a", "C:\\Windows\\Temp\\b")
    files.move("C:\\Windows\\Temp\\a", "C:\\Windows\\Temp\\b", replace=True)
    assert files.read_bytes("C:\\Windows\\Temp\\b") == b"a"
    assert not files.exists("C:\\Windows\\Temp\\a")
    with pytest.raises(FileNotFoundError):
        files.move("C:\\Windows\\Temp\\b", "C:\\Windows\\Temp\\c", replace=True)
