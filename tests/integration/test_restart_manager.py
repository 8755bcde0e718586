"""msiexec and Restart Manager over real WinRM: no Office application is closed unless the admin chose it.

The lab's msiexec models Restart Manager: a quiet run that replaces or removes files an Office
application holds shuts that application down (its unsaved work is lost) unless
MSIRESTARTMANAGERCONTROL is Disable or DisableShutdown; then the files are replaced at the next
restart and msiexec ends with 3010.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from lab.control import ControlClient

OFFICE = {"WINWORD.EXE", "EXCEL.EXE", "OUTLOOK.EXE"}
PACKAGE = """
- name: package
  rollout.windows.msi_package:
    src: "{{ src | default(omit) }}"
    product_code: "{{ product_code | default(omit) }}"
    state: "{{ state | default('present') }}"
    restart_manager: "{{ rm | default(omit) }}"
"""
ROLE = """
- name: role
  ansible.builtin.include_role:
    name: rollout.windows.msi_install
  vars:
    msi_install_src: "{{ src }}"
    msi_install_office_gate: false
    office_gate_force: "{{ force_by_host[inventory_hostname] }}"
    msi_install_restart_manager: "{{ rm }}"
"""


def desktop(control: ControlClient, host: str, apps: dict[str, list[str]]) -> None:
    """Exactly these users logged on with these applications open."""
    for session in control.host(host)["sessions"]:
        control.logoff(host, session["user"])
    for user, names in apps.items():
        control.logon(host, user)
        for name in names:
            control.start_process(host, user, name)


def office(control: ControlClient, host: str) -> set[tuple[str, str]]:
    return {(p["user"], p["name"]) for p in control.host(host)["processes"] if p["name"] in OFFICE}


def last_msiexec(control: ControlClient, host: str) -> dict[str, t.Any]:
    return control.host(host)["msiexec_history"][-1]


def install(ansible: t.Any, host: str, src: Path) -> None:
    run = ansible.playbook(PACKAGE, hosts=host, extra_vars={"src": str(src)})
    assert run.result(host, "package")["_status"] == "changed", run.stdout


def test_upgrade_with_office_open_closes_nothing_and_asks_for_a_restart(ansible, control, clients, packages) -> None:
    host = clients[0]
    desktop(control, host, {})
    install(ansible, host, packages / "machine-9.3.0")
    # Two users in two sessions, both with the add-in loaded; no gate in front of msi_package.
    desktop(control, host, {"anna": ["WINWORD.EXE", "OUTLOOK.EXE"], "ben": ["EXCEL.EXE"]})
    before = office(control, host)

    run = ansible.playbook(PACKAGE, hosts=host, extra_vars={"src": str(packages / "machine-9.3.1")})
    result = run.result(host, "package")
    assert result["_status"] == "changed", run.stdout
    assert result["action"] == "upgrade"
    assert result["restart_manager"] == "disable"
    # The files in use are replaced at the next restart, which the result says.
    assert result["exit_code"] == 3010
    assert result["reboot_required"] is True
    assert office(control, host) == before
    entry = last_msiexec(control, host)
    assert "MSIRESTARTMANAGERCONTROL=Disable" in entry["argv"]
    assert entry["closed_by_restart_manager"] == []
    assert entry["replaced_at_reboot"] is True
    assert {(p["user"], p["name"]) for p in entry["files_in_use"]} == before
    assert control.host(host)["pending_reboot"] is True


def test_disable_shutdown_closes_nothing_either(ansible, control, clients, packages) -> None:
    host = clients[1]
    desktop(control, host, {})
    install(ansible, host, packages / "machine-9.3.0")
    desktop(control, host, {"clara": ["WINWORD.EXE"]})
    run = ansible.playbook(
        PACKAGE, hosts=host, extra_vars={"src": str(packages / "machine-9.3.1"), "rm": "disable_shutdown"}
    )
    result = run.result(host, "package")
    assert result["exit_code"] == 3010, run.stdout
    assert office(control, host) == {("clara", "WINWORD.EXE")}
    assert last_msiexec(control, host)["closed_by_restart_manager"] == []


def test_enable_closes_office_in_every_session_and_says_so(ansible, control, clients, packages) -> None:
    host = clients[2]
    desktop(control, host, {})
    install(ansible, host, packages / "machine-9.3.0")
    desktop(control, host, {"david": ["WINWORD.EXE"], "eva": ["EXCEL.EXE"]})
    code = next(p["product_code"] for p in control.host(host)["products"] if p["scope"] == "machine")

    run = ansible.playbook(PACKAGE, hosts=host, extra_vars={"state": "absent", "product_code": code, "rm": "enable"})
    result = run.result(host, "package")
    assert result["_status"] == "changed", run.stdout
    assert result["action"] == "remove"
    assert result["exit_code"] == 0
    assert result["restart_manager"] == "enable"
    assert any("unsaved work in them is lost" in w for w in result["warnings"])
    assert "unsaved work in them is lost" in run.stdout  # the warning reaches the admin's screen
    # What the users notice: Word and Excel gone, their unsaved documents with them.
    assert office(control, host) == set()
    closed = last_msiexec(control, host)["closed_by_restart_manager"]
    assert {(p["user"], p["name"]) for p in closed} == {("david", "WINWORD.EXE"), ("eva", "EXCEL.EXE")}
    assert all(p["unsaved_work_lost"] for p in closed)
    assert not any(a.startswith("MSIRESTARTMANAGERCONTROL=") for a in last_msiexec(control, host)["argv"])


def test_role_refuses_enable_per_host_without_force(ansible, control, clients, packages) -> None:
    confirmed, unconfirmed = clients[2], clients[3]  # clients[2] has no product left
    for host in (confirmed, unconfirmed):
        desktop(control, host, {})
        install(ansible, host, packages / "machine-9.3.0")
        desktop(control, host, {"felix": ["WINWORD.EXE"]})
    runs_before = len(control.host(unconfirmed)["msiexec_history"])
    run = ansible.playbook(
        ROLE,
        hosts=f"{confirmed},{unconfirmed}",
        extra_vars={
            "src": str(packages / "machine-9.3.1"),
            "rm": "enable",
            # Values that differ between hosts: the confirmation counts per host.
            "force_by_host": {confirmed: True, unconfirmed: "false"},
        },
    )
    # Refused while the task's arguments are templated for that host: no task of its own, no command sent.
    refused = run.result(
        unconfirmed,
        "rollout.windows.msi_install : Install, upgrade or remove the package",
    )
    assert refused["_status"] == "failed", run.stdout
    assert "office_gate_force" in refused["msg"]
    assert len(control.host(unconfirmed)["msiexec_history"]) == runs_before
    assert office(control, unconfirmed) == {("felix", "WINWORD.EXE")}
    # Where the admin confirmed it, msiexec closed Word as chosen.
    installed = run.result(
        confirmed,
        "rollout.windows.msi_install : Install, upgrade or remove the package",
    )
    assert installed["exit_code"] == 0, run.stdout
    assert office(control, confirmed) == set()
