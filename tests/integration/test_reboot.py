"""reboot, and msi_install's use of it, over real WinRM against lab hosts."""

from __future__ import annotations

import typing as t
from pathlib import Path

from lab.control import ControlClient

from .conftest import PlaybookRun

# Lab downtime is simulated seconds (TIME_SCALE per real second); reboot_timeout is real seconds.
DOWNTIME = 240  # two real seconds at the integration time scale


def test_reboot_waits_for_the_new_boot_and_the_next_task_runs(ansible, control: ControlClient, clients) -> None:
    host = clients[0]
    control.control(host, {"behaviour": {"reboot_downtime": DOWNTIME}})
    before = control.host(host)
    run = ansible.playbook(
        """
        - name: restart
          rollout.windows.reboot:
            msg: 'Restart at 5 "sharp" & $(no) `expansion` %PATH%'
        - name: after
          rollout.windows.product_info:
            name: nothing*
        """,
        hosts=host,
    )
    assert run.rc == 0, run.stdout
    result = run.result(host, "restart")
    assert result["_status"] == "changed"
    assert result["rebooted"] is True
    assert result["last_boot"] != result["previous_boot"]
    assert result["elapsed"] > 0
    assert run.result(host, "after")["_status"] == "ok"
    after = control.host(host)
    assert after["boot_id"] == before["boot_id"] + 1
    assert after["reboots"][-1]["downtime"] == DOWNTIME
    # The message reached shutdown.exe's /c literally: data on stdin, never script text.
    assert after["reboots"][-1]["comment"] == 'Restart at 5 "sharp" & $(no) `expansion` %PATH%'
    assert control.counters(host)["primitive:Restart-Host"] == 1


def test_check_mode_does_not_restart(ansible, control: ControlClient, clients) -> None:
    host = clients[1]
    boot_id = control.host(host)["boot_id"]
    run = ansible.playbook("- name: restart\n  rollout.windows.reboot:\n", hosts=host, check=True)
    assert run.rc == 0, run.stdout
    result = run.result(host, "restart")
    assert result["_status"] == "changed"
    assert result["rebooted"] is False
    assert control.host(host)["boot_id"] == boot_id
    assert control.counters(host).get("primitive:Restart-Host", 0) == 0


def test_host_that_stays_away_fails_after_reboot_timeout(ansible, control: ControlClient, clients) -> None:
    host = clients[2]
    control.control(host, {"behaviour": {"reboot_downtime": 86_400}})  # a day: the host cannot come back in time
    run = ansible.playbook(
        "- name: restart\n  rollout.windows.reboot:\n    reboot_timeout: 3\n    pre_reboot_delay: 0\n", hosts=host
    )
    assert run.rc != 0
    result = run.result(host, "restart")
    assert result["_status"] == "failed"
    assert result["rebooted"] is True
    assert "reboot_timeout=3" in result["msg"]


def role_task(run: PlaybookRun, host: str, name: str) -> dict[str, t.Any]:
    """A role task's result; its recorded name carries the role prefix."""
    return run.result(host, f"rollout.windows.msi_install : {name}")


INSTALL = "Install, upgrade or remove the package"
ROLE = """
- name: role
  ansible.builtin.include_role:
    name: rollout.windows.msi_install
  vars:
    # Seeded users may have Office open: poll each real second and close what is left after 5 s.
    office_gate_interval: 1
    office_gate_force: true
    office_gate_deadline: 5
"""


def test_role_restarts_when_the_install_needs_it(ansible, control: ControlClient, clients, packages: Path) -> None:
    host = clients[3]
    control.control(host, {"behaviour": {"msiexec_results": [3010], "reboot_downtime": DOWNTIME}})
    boot_id = control.host(host)["boot_id"]
    run = ansible.playbook(
        ROLE,
        hosts=host,
        extra_vars={"msi_install_src": str(packages / "machine-9.3.0"), "msi_install_reboot": True},
    )
    assert run.rc == 0, run.stdout
    installed = role_task(run, host, INSTALL)
    assert installed["exit_code"] == 3010
    # Restarted inside the install task, then checked: the restart finished the install.
    assert installed["reboot"]["rebooted"] is True
    assert installed["reboot_required"] is False
    assert installed["verified"]["found"] == ["9.3.0"]
    assert not [w for w in installed.get("warnings", []) if "restart is needed" in w]
    assert control.host(host)["boot_id"] == boot_id + 1
    assert control.host(host)["pending_reboot"] is False


def test_role_only_reports_when_restarts_are_off(ansible, control: ControlClient, clients, packages: Path) -> None:
    host = clients[1]
    control.control(host, {"behaviour": {"msiexec_results": [3010]}})
    boot_id = control.host(host)["boot_id"]
    run = ansible.playbook(ROLE, hosts=host, extra_vars={"msi_install_src": str(packages / "machine-9.3.0")})
    assert run.rc == 0, run.stdout
    installed = role_task(run, host, INSTALL)
    assert "reboot" not in installed
    assert installed["reboot_required"] is True
    (warning,) = [w for w in installed["warnings"] if "restart is needed" in w]
    assert "3010" in warning
    assert "[WARNING]" in run.stdout
    assert control.host(host)["boot_id"] == boot_id
    assert control.host(host)["pending_reboot"] is True
