"""secret_properties: passed to msiexec, hidden in its log, masked in everything the task returns."""

from __future__ import annotations

import json
from pathlib import Path

from lab.control import ControlClient

SECRET = "Lic-7Q2X-SECRET-9K4P"
INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
    scope: "{{ scope | default('machine') }}"
    properties: "{{ props | default({}) }}"
    secret_properties: "{{ secrets }}"
"""


def _read_log(fleet, host: str, path: str) -> str:
    data = fleet.run_sync(lambda: fleet.fleet.hosts[host].host.files.read_bytes(path))
    return data.decode("utf-16")


def test_a_secret_reaches_msiexec_but_not_its_log_or_the_result(
    ansible, control: ControlClient, fleet, clients, packages: Path
) -> None:
    host = clients[0]
    run = ansible.playbook(
        INSTALL,
        hosts=host,
        diff=True,
        extra_vars={"src": str(packages / "machine-9.3.0"), "secrets": {"LICENSEKEY": SECRET}},
    )
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert SECRET not in json.dumps(result)
    assert SECRET not in run.stdout
    argv = control.host(host)["msiexec_history"][-1]["argv"]
    assert f"LICENSEKEY={SECRET}" in argv
    assert "MsiHiddenProperties=LICENSEKEY" in argv
    log = _read_log(fleet, host, result["log_path"])
    assert "Property(S): LICENSEKEY = **********" in log
    assert SECRET not in log


def test_a_failed_install_masks_the_secret_in_message_and_log_tail(
    ansible, control: ControlClient, clients, packages: Path
) -> None:
    host = clients[1]
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    # OTHER carries the same value but is not hidden, so the host's log holds it in clear: the controller
    # masks it all the same. The admin's own MsiHiddenProperties is kept and extended.
    run = ansible.playbook(
        INSTALL,
        hosts=host,
        extra_vars={
            "src": str(packages / "machine-9.3.0"),
            "props": {"MsiHiddenProperties": "ANOTHER", "OTHER": SECRET},
            "secrets": {"LICENSEKEY": SECRET},
        },
    )
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert result["exit_code"] == 1603
    assert SECRET not in json.dumps(result)
    assert any(line.endswith("Property(S): OTHER = ********") for line in result["log_tail"]), result["log_tail"]
    argv = control.host(host)["msiexec_history"][-1]["argv"]
    assert "MsiHiddenProperties=ANOTHER;LICENSEKEY" in argv


def test_secrets_are_refused_for_per_user_installs(ansible, control: ControlClient, clients, packages: Path) -> None:
    host = clients[2]
    before = control.counters(host).get("requests", 0)
    run = ansible.playbook(
        INSTALL,
        hosts=host,
        extra_vars={"src": str(packages / "user-9.3.0"), "scope": "user", "secrets": {"LICENSEKEY": SECRET}},
    )
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "secret_properties cannot be used with scope=user" in result["msg"]
    assert control.counters(host).get("requests", 0) == before


def test_a_name_in_both_option_is_refused(ansible, clients, packages: Path) -> None:
    host = clients[3]
    run = ansible.playbook(
        INSTALL,
        hosts=host,
        extra_vars={
            "src": str(packages / "machine-9.3.0"),
            "props": {"licensekey": "x"},
            "secrets": {"LICENSEKEY": SECRET},
        },
    )
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "properties and secret_properties both set LICENSEKEY" in result["msg"]


def test_a_secret_too_short_to_mask_is_refused(ansible, clients, packages: Path) -> None:
    host = clients[3]
    run = ansible.playbook(
        INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0"), "secrets": {"PIN": "12"}}
    )
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "PIN has a value under 4 characters" in result["msg"]
