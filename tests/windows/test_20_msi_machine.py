"""msi_package per machine on a real Windows host: install, rerun, upgrade, remove (the kit's own product)."""

from __future__ import annotations

import typing as t

import pytest

from .kit import Ansible

pytestmark = pytest.mark.usefixtures("clean_machine")

INSTALL = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
"""

Packages = dict[str, dict[str, str]]
Products = t.Callable[[str], list[dict[str, t.Any]]]


def test_install_then_rerun_is_ok_in_one_command(
    ansible: Ansible, host: str, packages: Packages, products: Products
) -> None:
    package = packages["machine-1.0.0"]
    first = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": package["dir"]})
    assert first.rc == 0, first.stdout
    result = first.result(host, "install")
    assert result["_status"] == "changed", result
    assert result["action"] == "install"
    assert result["exit_code"] == 0
    assert result["product_code"] == package["product_code"]
    # The host cache keeps files from earlier runs, so only their names are certain, not their number.
    shipped = {name.replace("/", "\\").lower() for name in result["transferred"]}
    assert shipped <= {"rolloutkit.msi", "payload\\readme.txt", "payload\\manifest.xml"}, result["transferred"]
    (product,) = products(package["upgrade_code"])
    assert (product["product_code"], product["version"], product["scope"]) == (
        package["product_code"],
        "1.0.0",
        "machine",
    )

    again = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": package["dir"]})
    rerun = again.result(host, "install")
    assert rerun["_status"] == "ok", rerun
    assert rerun["action"] == "none"
    assert rerun["winrm"]["commands"] == 1, rerun["winrm"]


def test_upgrade_replaces_the_older_version(
    ansible: Ansible, host: str, packages: Packages, products: Products
) -> None:
    old, new = packages["machine-1.0.0"], packages["machine-1.1.0"]
    run = ansible.playbook(
        """
        - name: install old
          rollout.windows.msi_package: {src: "{{ old }}"}
        - name: upgrade
          rollout.windows.msi_package: {src: "{{ new }}"}
        """,
        hosts=host,
        extra_vars={"old": old["dir"], "new": new["dir"]},
    )
    assert run.rc == 0, run.stdout
    result = run.result(host, "upgrade")
    assert result["_status"] == "changed", result
    assert result["action"] == "upgrade"
    assert result["previous_version"] == "1.0.0"
    # A major upgrade: the old ProductCode is gone, not installed beside the new one.
    assert [(p["product_code"], p["version"]) for p in products(new["upgrade_code"])] == [
        (new["product_code"], "1.1.0")
    ]


def test_remove_then_remove_again_is_ok(ansible: Ansible, host: str, packages: Packages, products: Products) -> None:
    package = packages["machine-1.0.0"]
    run = ansible.playbook(
        """
        - name: install
          rollout.windows.msi_package: {src: "{{ src }}"}
        - name: remove
          rollout.windows.msi_package: {product_code: "{{ code }}", state: absent}
        - name: remove again
          rollout.windows.msi_package: {product_code: "{{ code }}", state: absent}
        """,
        hosts=host,
        extra_vars={"src": package["dir"], "code": package["product_code"]},
    )
    assert run.rc == 0, run.stdout
    removed = run.result(host, "remove")
    assert removed["_status"] == "changed", removed
    assert removed["action"] == "remove"
    assert removed["exit_code"] == 0
    again = run.result(host, "remove again")
    assert again["_status"] == "ok", again
    assert again["winrm"]["commands"] == 1
    assert products(package["upgrade_code"]) == []


def test_fatal_error_1603_returns_meaning_and_log_tail(
    ansible: Ansible, host: str, packages: Packages, products: Products
) -> None:
    package = packages["fail-1.0.0"]
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"src": package["dir"]})
    result = run.result(host, "install")
    assert result["_status"] == "failed", result
    assert result["exit_code"] == 1603
    assert "fatal" in result["exit_code_meaning"].lower()
    assert result["log_path"].lower().endswith(".log")
    tail = result["log_tail"]
    assert tail, "no log tail came back"
    # Windows Installer ends its verbose log with "MainEngineThread is returning 1603".
    assert any("1603" in line for line in tail), tail
    assert products(package["upgrade_code"]) == []
