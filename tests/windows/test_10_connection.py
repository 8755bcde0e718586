"""The host answers the collection over WinRM with HTTPS, one command per read."""

from __future__ import annotations

from .kit import Ansible, Target


def test_host_is_reached_over_winrm_https_and_a_read_costs_one_command(ansible: Ansible, target: Target) -> None:
    run = ansible.playbook(
        "- name: facts\n  rollout.windows.product_info: {name: 'Rollout Windows Acceptance Test*'}\n",
        hosts=target.host,
    )
    assert run.rc == 0, run.stdout
    result = run.result(target.host, "facts")
    assert result["_status"] == "ok", result
    assert result["winrm"]["commands"] == 1
    assert isinstance(result["products"], list)
