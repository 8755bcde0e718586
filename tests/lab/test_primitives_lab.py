"""Each primitive's lab implementation, called the way the WinRM server calls it and parsed by _winhost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils._msi import command_line
from lab import collection
from lab.primitives import REGISTRY, core

winhost = collection.winhost()


def call(host: Any, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    rc, out, err = asyncio.run(core.run(host, name, args or {}, host.username))
    return winhost.parse_output(name, rc, out, err)


def test_every_shipped_primitive_has_a_lab_implementation() -> None:
    assert set(winhost.primitive_names()) <= set(REGISTRY)
    for name in REGISTRY:
        assert winhost.recognise(winhost.build_script(name)) == name


def test_unknown_primitive_and_failures(kit: Any) -> None:
    host = kit.host()
    assert asyncio.run(core.run(host, "Get-Nothing", {}, host.username)) == (
        1,
        "",
        "lab: not implemented: primitive Get-Nothing",
    )
    rc, out, _ = asyncio.run(core.run(host, "Get-MsiProperty", {"path": "C:\\none.msi"}, host.username))
    assert rc == 1
    assert json.loads(out) == {"failed": True, "msg": "file not found: C:\\none.msi"}
    with pytest.raises(winhost.PrimitiveError, match="command_line must be a string"):
        call(host, "Invoke-Msiexec", {"command_line": 1})


def test_get_host_info(kit: Any) -> None:
    host = kit.host(users=["alice"])
    host.logon("alice")
    info = call(host, "Get-HostInfo")
    assert info["computer_name"] == "PC001"
    assert info["logged_on_users"] == ["PC001\\alice"]
    assert info["last_boot"].endswith("Z")
    assert info["os_version"].startswith("10.0.")


def test_get_msi_property(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "user-9.3.1")
    facts = call(host, "Get-MsiProperty", {"path": msi.lower()})
    info = kit.packages["user-9.3.1"]
    assert facts["ProductCode"] == info["product_code"]
    assert facts["UpgradeCode"] == info["upgrade_code"]
    assert facts["ProductVersion"] == "9.3.1"
    assert facts["ProductName"] == "Example Office Suite"
    assert facts["ALLUSERS"] == "2"
    assert facts["path"] == msi


def test_invoke_msiexec_and_get_installed_product(kit: Any) -> None:
    host = kit.host(users=["alice"])
    machine = kit.stage(host, "machine-9.3.0")
    log = "C:\\Windows\\Temp\\install.log"
    out = call(
        host,
        "Invoke-Msiexec",
        {"command_line": command_line(["/i", machine, "/qn", "/norestart", "/L*V", log]), "log_path": log},
    )
    assert out["rc"] == 0
    assert out["log_path"] == log
    assert len(out["log_tail"]) <= 40
    assert any("Installation completed successfully" in line for line in out["log_tail"])
    assert out["log_tail"][-2].endswith("MainEngineThread is returning 0")
    assert out["duration"] >= 20
    user_msi = kit.stage(host, "user-9.3.0")
    host.register_task(
        "u", user="alice", trigger={"type": "once"}, exe="msiexec.exe", arguments=["/i", user_msi, "/qn"]
    )
    asyncio.run(host.run_task("u"))

    products = call(host, "Get-InstalledProduct")["products"]
    by_scope = {p["scope"]: p for p in products}
    assert by_scope["machine"]["product_code"] == kit.packages["machine-9.3.0"]["product_code"]
    assert by_scope["machine"]["upgrade_code"] == kit.packages["machine-9.3.0"]["upgrade_code"]
    assert by_scope["machine"]["user"] is None
    assert by_scope["machine"]["sid"] == "S-1-5-18"
    assert by_scope["user"]["user"] == "PC001\\alice"
    assert by_scope["user"]["sid"] == host.sid_of("alice")
    assert by_scope["user"]["version"] == "9.3.0"
    assert len(by_scope["user"]["install_date"]) == 8
    one = call(host, "Get-InstalledProduct", {"upgrade_code": kit.packages["user-9.3.0"]["upgrade_code"].lower()})
    assert [p["scope"] for p in one["products"]] == ["user"]
    code = kit.packages["machine-9.3.0"]["product_code"]
    assert len(call(host, "Get-InstalledProduct", {"product_code": code, "name": None})["products"]) == 1
    assert len(call(host, "Get-InstalledProduct", {"name": "example*"})["products"]) == 2
    assert call(host, "Get-InstalledProduct", {"name": "Other*"})["products"] == []


def test_get_file_state(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    files = call(host, "Get-FileState", {"paths": [msi.upper(), "C:\\Cache", "C:\\missing.txt"]})["files"]
    assert files[0]["exists"]
    assert files[0]["full_path"] == msi
    assert files[0]["sha256"] == host.files.sha256(msi)
    assert files[0]["size"] == host.files.size(msi)
    assert files[1]["is_dir"]
    assert files[1]["sha256"] is None
    assert files[2] == {
        "path": "C:\\missing.txt",
        "full_path": None,
        "exists": False,
        "is_dir": False,
        "size": None,
        "sha256": None,
    }


def test_get_session_process(kit: Any) -> None:
    host = kit.host(users=["alice", "bob"])
    host.logoff("alice")
    host.logoff("bob")
    host.logon("alice")
    word = host.start_process("alice", "WINWORD.EXE")
    host.logon("bob")
    host.start_process("bob", "EXCEL.EXE")
    out = call(host, "Get-SessionProcess", {"names": ["WINWORD", "outlook.exe"]})
    assert out["sessions"] == [
        {"id": 1, "user": "PC001\\alice", "state": "Active"},
        {"id": 2, "user": "PC001\\bob", "state": "Active"},
    ]
    assert [(p["pid"], p["name"], p["session_id"], p["user"]) for p in out["processes"]] == [
        (word["pid"], "WINWORD.EXE", 1, "PC001\\alice")
    ]
    assert out["processes"][0]["start_time"].endswith("Z")
    assert call(host, "Get-SessionProcess", {})["processes"] == []


def test_initialize_package_cache_lists_the_sessions_and_processes_asked_for(kit: Any) -> None:
    host = kit.host(users=["alice"])
    host.logoff("alice")
    host.logon("alice")
    host.start_process("alice", "WINWORD.EXE")
    folder = {"directory": "C:\\Cache\\k", "files": []}
    listed = call(host, "Initialize-PackageCache", {**folder, "processes": ["WINWORD", "EXCEL"]})["office"]
    assert listed == call(host, "Get-SessionProcess", {"names": ["WINWORD", "EXCEL"]})
    assert "office" not in call(host, "Initialize-PackageCache", folder)


def test_initialize_package_cache(kit: Any) -> None:
    host = kit.host()
    # The first call makes the cache root with its own ACL; then the administrator copies files in.
    first = call(host, "Initialize-PackageCache", {"directory": "C:\\Cache\\machine-9.3.0", "files": []})
    assert (first["acl"], first["removed"]) == ("created", [])
    msi = kit.stage(host, "machine-9.3.0")
    digest = host.files.sha256(msi)
    out = call(
        host,
        "Initialize-PackageCache",
        {
            "directory": "c:\\cache\\machine-9.3.0",
            "files": [
                {"path": "ExampleOfficeSuite.msi", "sha256": digest.upper()},
                {"path": "payload\\new.dll", "sha256": "00"},
                {"path": "sub\\deep\\x.bin", "sha256": "00"},
            ],
        },
    )
    assert out == {
        "directory": "C:\\Cache\\machine-9.3.0",
        "stale": ["payload\\new.dll", "sub\\deep\\x.bin"],
        "written": [],
        "cache_dir": "C:\\Cache",
        "acl": "ok",
        "removed": [],
    }
    assert host.files.is_dir("C:\\Cache\\machine-9.3.0\\sub\\deep")


def test_per_user_install_task_runs_as_the_user_and_is_removed(kit: Any) -> None:
    host = kit.host(users=["alice", "bob"])
    for session in list(host.sessions.values()):
        host.logoff(session["user"])
    host.logon("alice")
    msi = kit.stage(host, "user-9.3.0")
    # The user's log goes to a folder of their own that Register-UserInstallTask protects.
    log = f"C:\\ProgramData\\rollout.windows\\logs\\{host.sid_of('alice')}\\alice.log"
    task = {"task_name": f"msi_package-{host.sid_of('alice')}", "task_path": "\\rollout.windows\\"}

    async def scenario() -> tuple[dict[str, Any], ...]:
        async def run(name: str, args: dict[str, Any]) -> dict[str, Any]:
            return winhost.parse_output(name, *await core.run(host, name, args, host.username))

        users = await run("Get-InstallUser", {"users": ["bob", "nobody"], "logged_on": True, "active_setup": "{X}"})
        started = await run(
            "Register-UserInstallTask",
            {
                **task,
                "user": "PC001\\alice",
                "user_sid": host.sid_of("alice"),
                "command_line": command_line(["/i", msi, "/qn", "/norestart", "/L*V", log]),
                "log_path": log,
            },
        )
        running = await run("Wait-UserInstallTask", {**task, "log_path": log, "wait_seconds": 0})
        done = running
        while not done["finished"]:
            done = await run("Wait-UserInstallTask", {**task, "log_path": log, "wait_seconds": 30})
        return users, started, running, done

    users, started, running, done = asyncio.run(scenario())
    assert [(u["name"], u["account"], u["session_id"]) for u in users["users"]] == [
        ("bob", "PC001\\bob", None),
        ("nobody", None, None),
        ("PC001\\alice", "PC001\\alice", 1),
    ]
    assert users["users"][1]["error"]
    assert users["active_setup"] is None
    assert (started["state"], started["log_acl"]) == ("Running", "created")
    assert running == {"finished": False, "state": "Running", "rc": None, "task_result": 267009, "log_tail": []}
    assert done["finished"] is True
    assert done["rc"] == 0
    assert any("Installation completed successfully" in line for line in done["log_tail"])
    assert host.tasks == {}
    (product,) = host.products.values()
    assert (product["scope"], product["user"], product["sid"]) == ("user", "alice", host.sid_of("alice"))
    assert host.msiexec_history[-1]["user"] == "alice"


def test_install_task_for_a_user_without_session_never_starts(kit: Any) -> None:
    host = kit.host(users=["bob"])
    host.logoff("bob")
    task = {"task_name": "t", "task_path": "\\rollout.windows\\"}
    started = call(
        host, "Register-UserInstallTask", {**task, "user": "bob", "command_line": command_line(["/i", "C:\\x.msi"])}
    )
    assert started["state"] == "Ready"
    assert call(host, "Wait-UserInstallTask", {**task, "wait_seconds": 2})["finished"] is False
    with pytest.raises(winhost.PrimitiveError, match="No mapping between account names"):
        call(
            host,
            "Register-UserInstallTask",
            {**task, "user": "OTHERPC\\bob", "command_line": command_line(["/i", "C:\\x.msi"])},
        )


def test_set_active_setup_writes_and_removes_the_component(kit: Any) -> None:
    host = kit.host()
    component = "{37583734-6C57-5AA7-87C7-B2E98F62E03F}"
    wanted = {"name": "Suite", "version": "9,3,1", "stub_path": "msiexec.exe /i C:\\x.msi /qn", "is_installed": 1}
    assert call(host, "Set-ActiveSetup", {"component": component, "state": "present", **wanted}) == {"changed": True}
    assert call(host, "Get-InstallUser", {"active_setup": component})["active_setup"] == wanted
    assert call(host, "Set-ActiveSetup", {"component": component, "state": "absent"}) == {"changed": True}
    assert call(host, "Set-ActiveSetup", {"component": component, "state": "absent"}) == {"changed": False}
    assert call(host, "Get-InstallUser", {"active_setup": component})["active_setup"] is None
