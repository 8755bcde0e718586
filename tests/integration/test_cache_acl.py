"""msi_package keeps standard users out of the folders elevated msiexec runs from and writes to."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lab.control import ControlClient, ControlError

ROOT = "C:\\ProgramData\\rollout.windows"
CACHE = f"{ROOT}\\cache"
LOGS = f"{ROOT}\\logs"
ADMIN = "labadmin"  # the WinRM account of the lab hosts: what earlier collection versions created folders as
INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
    scope: "{{ scope | default('machine') }}"
"""
SYSTEM, ADMINISTRATORS, USERS = "S-1-5-18", "S-1-5-32-544", "S-1-5-32-545"


def products(control: ControlClient, host: str) -> list[tuple[str, str]]:
    return [(p["scope"], p["version"]) for p in control.host(host)["products"]]


def trustees(control: ControlClient, host: str, path: str) -> set[str]:
    return {ace["sid"] for ace in control.security(host, path)["aces"]}


def test_a_file_a_user_planted_in_the_cache_is_removed_not_used(ansible, control, clients, packages: Path) -> None:
    host = clients[0]
    control.logon(host, "mallory")
    control.as_user(host, ADMIN, "mkdir", ROOT)
    control.as_user(host, ADMIN, "mkdir", CACHE)  # as before: inheriting ProgramData's "Users may create files"
    evil = base64.b64encode((packages / "machine-9.3.1" / "ExampleOfficeSuite.msi").read_bytes()).decode()
    control.as_user(host, "mallory", "mkdir", f"{CACHE}\\planted")
    control.as_user(host, "mallory", "write", f"{CACHE}\\planted\\ExampleOfficeSuite.msi", base64=evil)

    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert products(control, host) == [("machine", "9.3.0")]
    assert any("package cache" in w and "planted" in w for w in result["warnings"]), result
    with pytest.raises(ControlError, match="no such file"):
        control.file(host, f"{CACHE}\\planted\\ExampleOfficeSuite.msi")
    security = control.security(host, CACHE)
    assert (security["owner"], security["protected"]) == (ADMINISTRATORS, True)
    assert trustees(control, host, CACHE) == {SYSTEM, ADMINISTRATORS, USERS}
    with pytest.raises(ControlError, match=r"Access to the path '.*' is denied\.") as denied:
        control.as_user(host, "mallory", "mkdir", f"{CACHE}\\planted")
    assert denied.value.status == 403
    # The next run finds the ACL right and says nothing about it (mallory's open session may still make
    # the upgrade ask for a restart, which is said).
    again = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.1")})
    warnings = again.result(host, "install").get("warnings") or []
    assert not [w for w in warnings if "restart is needed" not in w], again.stdout


def test_a_folder_a_user_owns_above_the_cache_is_refused(ansible, control, clients, packages: Path) -> None:
    host = clients[1]
    control.logon(host, "mallory")
    control.as_user(host, "mallory", "mkdir", ROOT)  # a user got there before the first install
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert f"{ROOT} is owned by S-1-5-21-" in result["msg"]
    assert products(control, host) == []
    assert control.host(host)["msiexec_history"] == []


def test_a_junction_where_the_log_goes_is_refused(ansible, control, clients, packages: Path) -> None:
    host = clients[2]
    control.logon(host, "mallory")
    control.as_user(host, ADMIN, "mkdir", ROOT)
    control.as_user(host, "mallory", "junction", LOGS, target="C:\\Windows\\System32")
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert f"{LOGS} is a junction or symbolic link" in result["msg"]
    assert control.host(host)["msiexec_history"] == []
    assert not any(e.startswith("msiexec-") for e in control.file(host, "C:\\Windows\\System32")["entries"])


def test_per_user_logs_go_to_a_folder_of_that_user_and_administrators(
    ansible, control, clients, packages: Path
) -> None:
    host = clients[3]
    for session in control.host(host)["sessions"]:
        control.logoff(host, session["user"])
    control.logon(host, "alice")
    sid = control.host(host)["users"]["alice"]
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "user-9.3.0"), "scope": "user"})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    (entry,) = result["users"]
    assert entry["log_path"].startswith(f"{LOGS}\\{sid}\\")
    folder = control.security(host, f"{LOGS}\\{sid}")
    assert (folder["owner"], folder["protected"]) == (ADMINISTRATORS, True)
    assert trustees(control, host, f"{LOGS}\\{sid}") == {sid, SYSTEM, ADMINISTRATORS}
    assert trustees(control, host, LOGS) == {SYSTEM, ADMINISTRATORS}
    assert control.file(host, entry["log_path"])["size"] > 0
