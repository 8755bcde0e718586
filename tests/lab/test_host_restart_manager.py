"""The lab's msiexec and Restart Manager: who closes Office when an upgrade replaces files it holds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def run(host: Any, argv: list[str]) -> Any:
    return asyncio.run(host.msiexec(argv, host.username))


def empty_host(kit: Any) -> Any:
    """A host nobody is logged on to, so the test alone decides who has Office open."""
    host = kit.host()
    for session in list(host.sessions.values()):
        host.logoff(session["user"])
    return host


def upgrade_with_word_open(kit: Any, *extra: str, ui: str = "/qn") -> tuple[Any, Any]:
    host = empty_host(kit)
    assert run(host, ["/i", kit.stage(host, "machine-9.3.0"), "/qn", "/norestart"]).rc == 0
    host.logon("anna")
    host.start_process("anna", "WINWORD.EXE")
    host.logon("ben")
    host.start_process("ben", "EXCEL.EXE")
    result = run(host, ["/i", kit.stage(host, "machine-9.3.1"), ui, "/norestart", *extra])
    return host, result


def office(host: Any) -> set[tuple[str, str]]:
    return {(p["user"], p["name"]) for p in host.list_processes() if p["name"] != "explorer.exe"}


def test_quiet_upgrade_without_the_property_closes_office_in_every_session(kit: Any) -> None:
    host, result = upgrade_with_word_open(kit)
    assert result.rc == 0
    assert office(host) == set()
    closed = host.msiexec_history[-1]["closed_by_restart_manager"]
    assert {(p["user"], p["name"]) for p in closed} == {("anna", "WINWORD.EXE"), ("ben", "EXCEL.EXE")}
    assert all(p["unsaved_work_lost"] for p in closed)
    assert any("RESTART MANAGER: Detected that application" in line for line in result.log_lines)


@pytest.mark.parametrize("value", ["Disable", "DisableShutdown"])
def test_disabled_restart_manager_leaves_office_and_replaces_files_at_reboot(kit: Any, value: str) -> None:
    host, result = upgrade_with_word_open(kit, f"MSIRESTARTMANAGERCONTROL={value}")
    assert result.rc == 3010
    assert host.pending_reboot is True
    assert office(host) == {("anna", "WINWORD.EXE"), ("ben", "EXCEL.EXE")}
    entry = host.msiexec_history[-1]
    assert entry["closed_by_restart_manager"] == []
    assert entry["replaced_at_reboot"] is True
    # The upgrade itself is done: the new version is registered, its files are swapped at the restart.
    assert [p["version"] for p in host.products.values()] == ["9.3.1"]


def test_full_ui_asks_instead_of_closing(kit: Any) -> None:
    host, result = upgrade_with_word_open(kit, ui="/qf")
    assert result.rc == 3010
    assert office(host) == {("anna", "WINWORD.EXE"), ("ben", "EXCEL.EXE")}


def test_fresh_install_holds_no_files_and_closes_nothing(kit: Any) -> None:
    host = empty_host(kit)
    host.logon("anna")
    host.start_process("anna", "WINWORD.EXE")
    assert run(host, ["/i", kit.stage(host, "machine-9.3.0"), "/qn", "/norestart"]).rc == 0
    assert office(host) == {("anna", "WINWORD.EXE")}
    assert "closed_by_restart_manager" not in host.msiexec_history[-1]


def test_uninstall_without_the_property_closes_office_too(kit: Any) -> None:
    host = empty_host(kit)
    assert run(host, ["/i", kit.stage(host, "machine-9.3.0"), "/qn", "/norestart"]).rc == 0
    code = next(iter(host.products.values()))["product_code"]
    host.logon("anna")
    host.start_process("anna", "OUTLOOK.EXE")
    assert run(host, ["/x", code, "/qn", "/norestart"]).rc == 0
    assert office(host) == set()
    kept = empty_host(kit)
    assert run(kept, ["/i", kit.stage(kept, "machine-9.3.0"), "/qn", "/norestart"]).rc == 0
    kept.logon("anna")
    kept.start_process("anna", "OUTLOOK.EXE")
    assert run(kept, ["/x", code, "/qn", "/norestart", "MSIRESTARTMANAGERCONTROL=Disable"]).rc == 3010
    assert office(kept) == {("anna", "OUTLOOK.EXE")}
