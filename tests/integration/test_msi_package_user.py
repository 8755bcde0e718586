"""msi_package scope=user over real WinRM: installs in each user's own context, through scheduled tasks."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from lab.control import ControlClient

INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
    scope: user
    users: "{{ users | default([]) }}"
    active_setup: "{{ active_setup | default(false) }}"
"""
ACTIVE_SETUP = "HKLM\\SOFTWARE\\Microsoft\\Active Setup\\Installed Components"


@pytest.fixture
def host(control: ControlClient, clients: list[str]) -> str:
    """A client with exactly two users logged on (alice, bob) and one who has an account but is not (carol)."""
    name = clients[0]
    control.logon(name, "carol")
    for session in control.host(name)["sessions"]:
        control.logoff(name, session["user"])
    control.logon(name, "alice")
    control.logon(name, "bob")
    return name


def user_products(control: ControlClient, host: str) -> dict[str, str]:
    """User name -> installed per-user version."""
    snapshot = control.host(host)
    names = {sid: user for user, sid in snapshot["users"].items()}
    return {names[p["sid"]]: p["version"] for p in snapshot["products"] if p["scope"] == "user"}


def by_user(result: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {entry["user"].rsplit("\\", 1)[-1]: entry for entry in result["users"]}


def counter(control: ControlClient, host: str, primitive: str) -> int:
    return control.counters(host).get(f"primitive:{primitive}", 0)


def install_for_both(ansible: t.Any, control: ControlClient, host: str, packages: Path, version: str) -> None:
    """The precondition a test needs: ``version`` installed for alice and bob, by the module itself."""
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / f"user-{version}")})
    assert run.rc == 0, run.stdout
    assert user_products(control, host) == {"alice": version, "bob": version}


def test_check_mode_changes_nothing(ansible, control, host, packages: Path) -> None:
    run = ansible.playbook(INSTALL, hosts=host, check=True, diff=True, extra_vars={"src": str(packages / "user-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    users = by_user(result)
    assert set(users) == {"alice", "bob"}
    assert {u["action"] for u in users.values()} == {"install"}
    assert "alice: not installed" in result["diff"]["before"]
    assert "9.3.0" in result["diff"]["after"]
    assert user_products(control, host) == {}
    assert counter(control, host, "Register-UserInstallTask") == 0


def test_install_for_both_logged_on_users_then_rerun_is_ok(ansible, control, host, packages: Path) -> None:
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "user-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["action"] == "install"
    for entry in by_user(result).values():
        assert entry["status"] == "changed"
        assert entry["exit_code"] == 0
        assert entry["exit_code_meaning"] == "The action completed successfully."
    assert user_products(control, host) == {"alice": "9.3.0", "bob": "9.3.0"}
    snapshot = control.host(host)
    # Each install ran as its user, and the one-shot tasks are gone.
    assert {h["user"] for h in snapshot["msiexec_history"]} >= {"alice", "bob"}
    assert snapshot["tasks"] == {} or all("msi_package" not in name for name in snapshot["tasks"])
    assert [p for p in snapshot["products"] if p["scope"] == "machine"] == []

    again = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "user-9.3.0")})
    rerun = again.result(host, "install")
    assert rerun["_status"] == "ok", again.stdout
    assert {u["status"] for u in rerun["users"]} == {"ok"}
    assert rerun["winrm"]["commands"] <= 2


def test_upgrade_for_both(ansible, control, host, packages: Path) -> None:
    install_for_both(ansible, control, host, packages, "9.3.0")
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "user-9.3.1")})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["action"] == "upgrade"
    for entry in by_user(result).values():
        assert (entry["action"], entry["previous_version"], entry["status"]) == ("upgrade", "9.3.0", "changed")
    assert user_products(control, host) == {"alice": "9.3.1", "bob": "9.3.1"}


def test_named_user_not_logged_on_is_pending_and_active_setup_registered(
    ansible, control, host, packages: Path
) -> None:
    install_for_both(ansible, control, host, packages, "9.3.1")
    extra = {"src": str(packages / "user-9.3.1"), "users": ["alice", "carol"], "active_setup": True}
    run = ansible.playbook(INSTALL, hosts=host, diff=True, extra_vars=extra)
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout  # the Active Setup component is new
    users = by_user(result)
    assert users["alice"]["status"] == "ok"
    assert (users["carol"]["status"], users["carol"]["action"]) == ("pending", "install")
    assert result["pending"] == [users["carol"]["user"]]
    assert result["active_setup"]["action"] == "register"
    assert "carol" not in user_products(control, host)
    registry = control.host(host)["registry"]
    key = next(k for k in registry if k.lower() == f"{ACTIVE_SETUP}\\{result['upgrade_code']}".lower())
    assert registry[key]["Version"]["data"] == "9,3,1"
    assert registry[key]["StubPath"]["data"].startswith("msiexec.exe /i ")

    again = ansible.playbook(INSTALL, hosts=host, extra_vars=extra)
    rerun = again.result(host, "install")
    assert rerun["_status"] == "ok", again.stdout
    assert rerun["active_setup"]["action"] == "none"
    assert rerun["pending"] == [users["carol"]["user"]]


def test_machine_package_with_scope_user_is_refused(ansible, control, host, packages: Path) -> None:
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "scope=user needs a per-user package" in result["msg"]
    assert "ALLUSERS='1'" in result["msg"]
    assert result["winrm"]["commands"] == 0
