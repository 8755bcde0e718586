"""product_info against a lab host with real installs: what is found, in which order, at what cost."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import product_info
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from tests.unit.plugins.action.fakehost import FakeHost, action_for


def code_of(built_packages: Path, name: str) -> str:
    return _msi.read_msi((built_packages / name / "ExampleOfficeSuite.msi").read_bytes()).product_code


@pytest.fixture
def host(built_packages: Path) -> FakeHost:
    """9.3.0 per machine, and 9.3.0 per user for anna (logged on)."""
    lab_host = FakeHost("pc", users=["anna"])
    lab_host.lab.logon("anna")
    lab_host.install(built_packages / "user-9.3.0", user="anna")
    lab_host.install(built_packages / "machine-9.3.0")
    return lab_host


def info(host: FakeHost, check_mode: bool = False, **options: t.Any) -> dict[str, t.Any]:
    return action_for(product_info, host, options, check_mode=check_mode).run(task_vars={})


def test_every_product_machine_first_in_one_command_and_nothing_changes(host: FakeHost) -> None:
    before = host.lab.snapshot()["products"]
    result = info(host, name="Example*")
    assert result["changed"] is False
    assert [(p["scope"], p["user"], p["version"]) for p in result["products"]] == [
        ("machine", None, "9.3.0"),
        ("user", "PC\\anna", "9.3.0"),
    ]
    assert host.names() == ["Get-InstalledProduct"]
    assert result["winrm"]["commands"] == 1
    assert host.lab.snapshot()["products"] == before


def test_a_product_code_in_any_spelling_finds_the_one_product(host: FakeHost, built_packages: Path) -> None:
    code = code_of(built_packages, "machine-9.3.0")
    result = info(host, product_code=code.strip("{}").lower())
    assert [(p["scope"], p["product_code"]) for p in result["products"]] == [("machine", code)]
    # What reached the host is the canonical form.
    assert host.calls[0][1]["product_code"] == code


def test_nothing_matching_is_an_empty_list_not_a_failure(host: FakeHost) -> None:
    result = info(host, name="Other*")
    assert result["products"] == []
    assert "failed" not in result


def test_check_mode_reports_the_same(host: FakeHost) -> None:
    assert info(host, check_mode=True, name="Example*")["products"] == info(host, name="Example*")["products"]


def test_a_code_that_is_not_a_guid_is_refused_before_the_host(host: FakeHost) -> None:
    result = info(host, upgrade_code="not-a-guid")
    assert result["failed"] is True
    assert "upgrade_code" in result["msg"]
    assert host.calls == []


def test_an_unknown_option_is_refused(host: FakeHost) -> None:
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters"):
        info(host, version="9.3.0")
    assert host.calls == []
