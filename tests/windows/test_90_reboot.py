"""reboot restarts the real host and waits for its new boot (opt-in: it restarts the machine)."""

from __future__ import annotations

import pytest

from .kit import ENV_REBOOT, VAR_REBOOT, Ansible, Target


def test_reboot_waits_for_the_new_boot_and_the_next_task_runs(ansible: Ansible, target: Target) -> None:
    if not target.reboot:
        pytest.skip(f"restarts {target.host}: opt in with {ENV_REBOOT}=1 or the host variable {VAR_REBOOT}: true")
    run = ansible.playbook(
        """
        - name: restart
          rollout.windows.reboot:
            reboot_timeout: 1200
            msg: The rollout.windows acceptance kit restarts this test machine.
        - name: after
          rollout.windows.product_info: {name: 'Rollout Windows Acceptance Test*'}
        """,
        hosts=target.host,
    )
    assert run.rc == 0, run.stdout
    result = run.result(target.host, "restart")
    assert result["_status"] == "changed", result
    assert result["rebooted"] is True
    assert result["last_boot"] != result["previous_boot"]
    assert run.result(target.host, "after")["_status"] == "ok"
