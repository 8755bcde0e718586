"""Owners and ACLs of the host model, and the primitives that keep users out of what msiexec runs as admin."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils._msi import command_line
from lab import collection
from lab.host import filesystem as fs
from lab.primitives import core

winhost = collection.winhost()
CACHE = "C:\\ProgramData\\rollout.windows\\cache"
LOGS = "C:\\ProgramData\\rollout.windows\\logs"
DENIED = r"Access to the path '.*' is denied\."


def call(host: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    rc, out, err = asyncio.run(core.run(host, name, args, host.username))
    return winhost.parse_output(name, rc, out, err)


def aces(host: Any, path: str) -> set[tuple[str, int, int, bool]]:
    return {(a["sid"], a["mask"], a["flags"], a["inherited"]) for a in host.files.security(path)["aces"]}


def test_programdata_lets_users_create_and_own_but_not_replace_what_admins_made(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    assert host.files.security("C:\\ProgramData")["owner"] == fs.SYSTEM
    host.files.mkdir("C:\\ProgramData\\Vendor")  # an administrator, without an ACL of its own
    host.files.write_bytes("C:\\ProgramData\\Vendor\\tool.exe", b"admin")
    # Users:(CI)(WD,AD) is inherited by every folder below: a user may add files and folders...
    host.files.mkdir("C:\\ProgramData\\Vendor\\planted", parents=False, principal=mallory)
    host.files.write_bytes("C:\\ProgramData\\Vendor\\planted\\x.dll", b"evil", principal=mallory)
    planted = host.files.security("C:\\ProgramData\\Vendor\\planted\\x.dll")
    assert planted["owner"] == mallory.owner
    # ... and CREATOR OWNER makes them full owners of what they created, so they can swap it any time.
    assert (mallory.owner, fs.FULL_CONTROL, 0, True) in aces(host, "C:\\ProgramData\\Vendor\\planted\\x.dll")
    host.files.write_bytes("C:\\ProgramData\\Vendor\\planted\\x.dll", b"swapped", principal=mallory)
    # What an administrator made stays read-only to them, and C:\Windows refuses them outright.
    with pytest.raises(PermissionError, match=DENIED):
        host.files.write_bytes("C:\\ProgramData\\Vendor\\tool.exe", b"evil", principal=mallory)
    with pytest.raises(PermissionError, match=DENIED):
        host.files.remove("C:\\ProgramData\\Vendor\\tool.exe", principal=mallory)
    with pytest.raises(PermissionError, match=DENIED):
        host.files.write_bytes("C:\\Windows\\System32\\x.dll", b"evil", principal=mallory)


def test_planted_cache_file_is_removed_and_the_real_package_runs(kit: Any, msi_packages: dict[str, Any]) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    real = Path(msi_packages["machine-9.3.0"]["msi"]).read_bytes()
    evil = Path(msi_packages["machine-9.3.1"]["msi"]).read_bytes()
    host.files.mkdir(CACHE)  # what earlier versions did: the cache inherits ProgramData's ACL
    folder = f"{CACHE}\\machine-9.3.0"
    # The user plants the right bytes (a hash check would pass) to swap them later, and a second package.
    host.files.mkdir(folder, parents=False, principal=mallory)
    host.files.write_bytes(f"{folder}\\ExampleOfficeSuite.msi", real, principal=mallory)
    host.files.mkdir(f"{CACHE}\\other", parents=False, principal=mallory)
    host.files.write_bytes(f"{CACHE}\\other\\ExampleOfficeSuite.msi", evil, principal=mallory)

    files = [{"path": "ExampleOfficeSuite.msi", "sha256": host.files.sha256(f"{folder}\\ExampleOfficeSuite.msi")}]
    out = call(host, "Initialize-PackageCache", {"directory": folder, "cache_dir": CACHE, "files": files})
    assert (out["acl"], sorted(out["removed"])) == ("reset", ["machine-9.3.0", "other"])
    # Nothing planted is used: the file the hash would have accepted is gone and must be copied again.
    assert out["stale"] == ["ExampleOfficeSuite.msi"]
    assert not host.files.exists(f"{CACHE}\\other")
    security = host.files.security(CACHE)
    assert (security["owner"], security["protected"]) == (fs.ADMINISTRATORS, True)
    assert aces(host, CACHE) == {
        (fs.SYSTEM, fs.FULL_CONTROL, fs.OI | fs.CI, False),
        (fs.ADMINISTRATORS, fs.FULL_CONTROL, fs.OI | fs.CI, False),
        (fs.USERS, fs.READ_AND_EXECUTE, fs.OI | fs.CI, False),
    }
    kit.stage(host, "machine-9.3.0", dest=CACHE)  # put_file, as the administrator
    for attempt in (
        lambda: host.files.write_bytes(f"{folder}\\ExampleOfficeSuite.msi", evil, principal=mallory),
        lambda: host.files.write_bytes(f"{folder}\\payload.cab", evil, principal=mallory),
        lambda: host.files.mkdir(f"{CACHE}\\next", parents=False, principal=mallory),
        lambda: host.files.remove(f"{folder}\\ExampleOfficeSuite.msi", principal=mallory),
    ):
        with pytest.raises(PermissionError, match=DENIED):
            attempt()
    assert (
        call(host, "Initialize-PackageCache", {"directory": folder, "cache_dir": CACHE, "files": files})["acl"] == "ok"
    )

    msi = f"{folder}\\ExampleOfficeSuite.msi"
    log = f"{LOGS}\\install.log"
    run = {"command_line": command_line(["/i", msi, "/qn", "/L*V", log]), "log_path": log, "package_dir": CACHE}
    assert call(host, "Invoke-Msiexec", run)["rc"] == 0
    (product,) = host.products.values()
    assert product["version"] == "9.3.0"
    assert host.msiexec_history[-1]["argv"][1] == msi


def test_cache_acl_changed_after_the_check_stops_msiexec(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    call(host, "Initialize-PackageCache", {"directory": f"{CACHE}\\k", "cache_dir": CACHE, "files": []})
    grant = fs.Ace(fs.USERS, fs.MODIFY, fs.OI | fs.CI)
    host.files.set_security(CACHE, aces=[*map(lambda a: fs.Ace(**a), host.files.security(CACHE)["aces"]), grant])
    log = f"{LOGS}\\x.log"
    run = {"command_line": command_line(["/i", f"{CACHE}\\k\\a.msi", "/qn"]), "log_path": log, "package_dir": CACHE}
    with pytest.raises(winhost.PrimitiveError, match="owner or ACL changed since it was checked"):
        call(host, "Invoke-Msiexec", run)
    assert host.msiexec_history == []


def test_junction_where_the_log_goes_is_refused(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    host.files.mkdir("C:\\ProgramData\\rollout.windows")  # made by an administrator, ProgramData's ACL
    # Before the log folder exists, a user makes it a junction into System32.
    host.files.make_junction(LOGS, "C:\\Windows\\System32", principal=mallory)
    assert host.files.is_reparse_point(LOGS)
    log = f"{LOGS}\\msiexec-install.log"
    run = {"command_line": command_line(["/x", "{00000000-0000-0000-0000-000000000000}", "/qn", "/L*V", log])}
    with pytest.raises(winhost.PrimitiveError, match=r"is a junction or symbolic link"):
        call(host, "Invoke-Msiexec", {**run, "log_path": log})
    assert host.msiexec_history == []
    assert not host.files.exists("C:\\Windows\\System32\\msiexec-install.log")
    with pytest.raises(PermissionError, match=DENIED):  # and System32 is as closed to the user as before
        host.files.write_bytes("C:\\Windows\\System32\\x.dll", b"evil", principal=mallory)
    # The same for a per-user log folder that was made a junction.
    host.files.remove(LOGS)
    assert host.files.is_dir("C:\\Windows\\System32")
    sid = host.sid_of("mallory")
    call(host, "Invoke-Msiexec", {"command_line": command_line(["/qn"]), "log_path": f"{LOGS}\\a.log"})
    host.files.make_junction(f"{LOGS}\\{sid}", "C:\\Windows")
    task = {"task_name": "t", "task_path": "\\rollout.windows\\", "user": "mallory", "user_sid": sid}
    with pytest.raises(winhost.PrimitiveError, match=r"is a junction or symbolic link"):
        call(host, "Register-UserInstallTask", {**task, "command_line": "/qn", "log_path": f"{LOGS}\\{sid}\\u.log"})
    assert host.tasks == {}


def test_log_folder_with_planted_entries_is_made_anew(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    host.files.mkdir(LOGS)  # as earlier versions made it
    host.files.write_bytes(f"{LOGS}\\old.log", b"kept")  # an administrator's log from before
    host.files.write_bytes(f"{LOGS}\\msiexec-install.log", b"planted", principal=mallory)
    host.files.make_junction(f"{LOGS}\\trap", "C:\\Windows", principal=mallory)
    log = f"{LOGS}\\msiexec-install.log"
    line = command_line(["/x", "{00000000-0000-0000-0000-000000000000}", "/qn", "/L*V", log])
    out = call(host, "Invoke-Msiexec", {"command_line": line, "log_path": log})
    # Made anew: nothing in it survives (a log that was there cannot be told from a planted one), and the
    # junction went without what it pointed to.
    assert (out["log_acl"], sorted(out["removed"])) == ("reset", ["msiexec-install.log", "old.log", "trap"])
    assert host.files.is_dir("C:\\Windows\\System32")
    assert not host.files.exists(f"{LOGS}\\old.log")
    # msiexec wrote a new log of its own where the planted file was.
    assert (out["rc"], host.files.security(log)["owner"]) == (1605, fs.ADMINISTRATORS)
    assert host.files.read_bytes(log) != b"planted"
    assert {a[0] for a in aces(host, LOGS)} == {fs.SYSTEM, fs.ADMINISTRATORS}
    with pytest.raises(PermissionError, match=DENIED):
        host.files.write_bytes(f"{LOGS}\\next.log", b"x", principal=mallory)


def test_per_user_log_folder_is_the_users_and_administrators_only(kit: Any) -> None:
    host = kit.host(users=["alice", "mallory"])
    alice, mallory = (fs.user_principal(host.sid_of(u)) for u in ("alice", "mallory"))
    sid = host.sid_of("alice")
    folder = f"{LOGS}\\{sid}"
    task = {"task_name": "t", "task_path": "\\rollout.windows\\", "user": "alice", "user_sid": sid}
    started = call(host, "Register-UserInstallTask", {**task, "command_line": "/qn", "log_path": f"{folder}\\a.log"})
    assert started["log_acl"] == "created"
    assert aces(host, folder) == {
        (fs.SYSTEM, fs.FULL_CONTROL, fs.OI | fs.CI, False),
        (fs.ADMINISTRATORS, fs.FULL_CONTROL, fs.OI | fs.CI, False),
        (sid, fs.MODIFY, fs.OI | fs.CI, False),
    }
    assert host.files.security(folder)["owner"] == fs.ADMINISTRATORS
    host.files.write_bytes(f"{folder}\\a.log", b"alice's msiexec", principal=alice)
    with pytest.raises(PermissionError, match=DENIED):
        host.files.write_bytes(f"{folder}\\a.log", b"x", principal=mallory)
    with pytest.raises(PermissionError, match=DENIED):
        host.files.write_bytes(f"{LOGS}\\machine.log", b"x", principal=alice)
    # Modify is not full control: the user cannot give the folder away or open it to others.
    with pytest.raises(PermissionError, match="unauthorized operation"):
        host.files.set_security(folder, aces=[fs.Ace(fs.EVERYONE, fs.FULL_CONTROL, fs.OI | fs.CI)], principal=alice)
    again = call(host, "Register-UserInstallTask", {**task, "command_line": "/qn", "log_path": f"{folder}\\b.log"})
    assert again["log_acl"] == "ok"


def test_folder_below_a_user_owned_folder_is_refused(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    # The user got there first: whoever owns a folder can rename what is in it and put a junction there.
    host.files.mkdir("C:\\ProgramData\\rollout.windows", parents=False, principal=mallory)
    with pytest.raises(winhost.PrimitiveError, match=f"owned by {mallory.owner}"):
        call(host, "Initialize-PackageCache", {"directory": f"{CACHE}\\k", "cache_dir": CACHE, "files": []})
    assert not host.files.exists(CACHE)


def test_a_junction_redirects_an_unwary_writer_and_goes_without_its_target(kit: Any) -> None:
    host = kit.host(users=["mallory"])
    mallory = fs.user_principal(host.sid_of("mallory"))
    host.files.mkdir("C:\\ProgramData\\rollout.windows")
    host.files.make_junction(LOGS, "C:\\Windows\\System32", principal=mallory)
    host.files.write_bytes(f"{LOGS}\\x.log", b"admin")  # an elevated writer that does not look first
    assert host.files.is_file("C:\\Windows\\System32\\x.log")
    host.files.remove(LOGS, recurse=True)
    assert host.files.is_file("C:\\Windows\\System32\\x.log")
    # Where users may not write, they cannot make a junction either; nor over a folder with something in it.
    with pytest.raises(PermissionError, match=DENIED):
        host.files.make_junction("C:\\Windows\\Installer", "C:\\", principal=mallory)
    with pytest.raises(OSError, match="not empty"):
        host.files.make_junction("C:\\Windows\\System32", "C:\\")
