"""msi_package and product_info over real WinRM against lab hosts, the way a playbook uses them."""

from __future__ import annotations

import shutil
import typing as t
from pathlib import Path

from lab.control import ControlClient

INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
    properties: "{{ props | default({}) }}"
    busy_timeout: "{{ busy | default(600) }}"
"""


def machine_products(control: ControlClient, host: str) -> list[dict[str, t.Any]]:
    return [p for p in control.host(host)["products"] if p["scope"] == "machine"]


def msiexec_runs(control: ControlClient, host: str) -> int:
    return control.counters(host).get("primitive:Invoke-Msiexec", 0)


def test_fresh_install_then_rerun_is_ok_in_one_command(ansible, control, clients, packages: Path) -> None:
    host = clients[0]
    first = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    assert first.rc == 0, first.stdout
    result = first.result(host, "install")
    assert result["_status"] == "changed"
    assert result["action"] == "install"
    assert [p["version"] for p in machine_products(control, host)] == ["9.3.0"]
    assert len(result["transferred"]) == 4  # the .msi and three payload files

    commands_before = control.counters(host)["commands"]
    again = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    rerun = again.result(host, "install")
    # What the host saw, not only what the module counted: no temp folder, no transfer.
    assert control.counters(host)["commands"] - commands_before == 1
    assert rerun["_status"] == "ok"
    assert rerun["action"] == "none"
    assert rerun["winrm"]["commands"] == 1


def install(ansible, control, host: str, packages: Path, version: str) -> None:
    """The precondition a test needs: ``version`` installed per machine, by the module itself."""
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / f"machine-{version}")})
    assert run.rc == 0, run.stdout
    assert [p["version"] for p in machine_products(control, host)] == [version]


def test_upgrade_by_upgrade_code_then_downgrade_refused(ansible, control, clients, packages: Path) -> None:
    host = clients[0]
    install(ansible, control, host, packages, "9.3.0")
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.1")})
    result = run.result(host, "install")
    assert result["action"] == "upgrade", run.stdout
    assert result["previous_version"] == "9.3.0"
    # The upgrade reused nothing of 9.3.0's cache folder (other content, other address) but
    # the old product is gone: a major upgrade, not a second install.
    assert [p["version"] for p in machine_products(control, host)] == ["9.3.1"]

    refused = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    assert refused.result(host, "install")["action"] == "none"
    assert [p["version"] for p in machine_products(control, host)] == ["9.3.1"]


def test_allow_downgrade_then_remove(ansible, control, clients, packages: Path) -> None:
    host = clients[0]
    install(ansible, control, host, packages, "9.3.1")
    run = ansible.playbook(
        """
        - name: downgrade
          rollout.windows.msi_package:
            src: "{{ src }}"
            allow_downgrade: true
        - name: facts
          rollout.windows.product_info:
            name: Example Office*
        - name: remove
          rollout.windows.msi_package:
            product_code: "{{ product_code }}"
            state: absent
        - name: remove again
          rollout.windows.msi_package:
            product_code: "{{ product_code }}"
            state: absent
        """,
        hosts=host,
        extra_vars={"src": str(packages / "machine-9.3.0"), "product_code": _product_code(packages, "machine-9.3.0")},
    )
    assert run.rc == 0, run.stdout
    assert run.result(host, "downgrade")["action"] == "downgrade"
    assert [p["version"] for p in run.result(host, "facts")["products"]] == ["9.3.0"]
    assert run.result(host, "remove")["action"] == "remove"
    assert run.result(host, "remove again")["_status"] == "ok"
    assert machine_products(control, host) == []


def test_missing_payload_fails_before_msiexec(ansible, control, clients, packages: Path, tmp_path: Path) -> None:
    host = clients[1]
    broken = tmp_path / "broken"
    shutil.copytree(packages / "machine-9.3.0", broken)
    (broken / "payload" / "ExampleSuite.Core.dll").unlink()
    before = msiexec_runs(control, host)
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(broken)})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "payload\\ExampleSuite.Core.dll" in result["msg"]
    assert msiexec_runs(control, host) == before
    assert machine_products(control, host) == []


def test_check_mode_changes_nothing(ansible, control, clients, packages: Path) -> None:
    host = clients[1]
    run = ansible.playbook(
        INSTALL, hosts=host, check=True, diff=True, extra_vars={"src": str(packages / "machine-9.3.0")}
    )
    result = run.result(host, "install")
    assert result["_status"] == "changed"
    assert result["action"] == "install"
    assert "not installed" in result["diff"]["before"]
    assert machine_products(control, host) == []
    assert msiexec_runs(control, host) == 0


def test_busy_installer_is_retried_until_free(ansible, control, clients, packages: Path) -> None:
    host = clients[2]
    # 240 simulated seconds of 1618 = 2 real seconds at the integration time scale.
    control.control(host, {"behaviour": {"msiexec_busy_seconds": 240}})
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0"), "busy": 120})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["busy_retries"] >= 1
    assert [p["version"] for p in machine_products(control, host)] == ["9.3.0"]


def test_fatal_error_reports_code_meaning_and_log_tail(ansible, control, clients, packages: Path) -> None:
    host = clients[3]
    control.control(host, {"behaviour": {"msiexec_results": [1603]}})
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert result["exit_code"] == 1603
    assert "fatal" in result["msg"]
    assert any("MainEngineThread is returning 1603" in line for line in result["log_tail"])


def test_reboot_required_is_success(ansible, control, clients, packages: Path) -> None:
    host = clients[3]
    control.control(host, {"behaviour": {"msiexec_results": [3010]}})
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": str(packages / "machine-9.3.0")})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["exit_code"] == 3010
    assert result["reboot_required"] is True


def test_hostile_property_reaches_msiexec_literally(ansible, control, clients, packages: Path) -> None:
    host = clients[2]
    hostile = "x\" /qb INJECTED=1 ; $(Remove-Item C:\\) `whoami` 'q'\nnext line"
    remove_first = """
- name: remove first
  rollout.windows.msi_package:
    product_code: "{{ product_code }}"
    state: absent
"""
    run = ansible.playbook(
        remove_first + INSTALL,
        hosts=host,
        extra_vars={
            "src": str(packages / "machine-9.3.0"),
            "props": {"BACKENDURL": hostile},
            "product_code": _product_code(packages, "machine-9.3.0"),
        },
    )
    assert run.rc == 0, run.stdout
    assert run.result(host, "install")["_status"] == "changed", run.stdout
    (product,) = machine_products(control, host)
    assert product["properties"]["BACKENDURL"] == hostile
    assert "INJECTED" not in product["properties"]


def _product_code(packages: Path, name: str) -> str:
    from ansible_collections.rollout.windows.plugins.plugin_utils import _msi

    return _msi.read_msi((packages / name / "ExampleOfficeSuite.msi").read_bytes()).product_code
