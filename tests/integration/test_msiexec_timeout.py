"""A hung msiexec ends the task after msiexec_timeout, is left running, and a rerun waits for it."""

from __future__ import annotations

from pathlib import Path

from lab.control import ControlClient

INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
    msiexec_timeout: "{{ timeout | default(3600) }}"
    busy_timeout: "{{ busy | default(600) }}"
"""


def test_a_hung_msiexec_is_reported_still_running_and_left_alone(
    ansible, control: ControlClient, clients, packages: Path
) -> None:
    host = clients[0]
    # Ten simulated hours per msiexec; the task stops waiting after one simulated minute.
    control.control(host, {"behaviour": {"msiexec_duration": [36000, 36000]}})
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0"), "timeout": 60})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert result["still_running"] is True
    assert "still running after msiexec_timeout=60 s" in result["msg"]
    assert "left to finish" in result["msg"]
    state = control.host(host)
    assert state["msiexec_running"] is True  # not killed
    assert [p for p in state["products"] if p["scope"] == "machine"] == []

    # A rerun meets the running msiexec's mutex (1618) and gives up after busy_timeout, saying so.
    again = ansible.playbook(
        INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0"), "timeout": 60, "busy": 1}
    )
    retried = again.result(host, "install")
    assert retried["_status"] == "failed"
    assert retried["exit_code"] == 1618


def test_msiexec_timeout_must_be_positive(ansible, control: ControlClient, clients, packages: Path) -> None:
    host = clients[1]
    before = control.counters(host).get("primitive:Invoke-Msiexec", 0)
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0"), "timeout": 0})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "msiexec_timeout must be 1 or more seconds, got 0" in result["msg"]
    assert control.counters(host).get("primitive:Invoke-Msiexec", 0) == before
