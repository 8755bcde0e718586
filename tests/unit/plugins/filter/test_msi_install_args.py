"""The msi_install role's variables as msi_package's arguments (plugins/filter/msi_install.py)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rollout.windows.plugins.filter import msi_install
from ansible_collections.rollout.windows.plugins.filter.msi_install import msi_install_args

ROLES = Path(__file__).resolve().parents[4] / "roles"


def defaults(**changed: t.Any) -> dict[str, t.Any]:
    values: dict[str, t.Any] = {}
    for role in ("office_gate", "msi_install"):
        values |= yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    return values | changed


def test_registered() -> None:
    assert set(msi_install.FilterModule().filters()) == {"msi_install_args"}


def test_empty_sources_and_codes_are_left_out_and_the_install_is_verified() -> None:
    arguments = msi_install_args(defaults(msi_install_src="/srv/suite-9.3.1", msi_install_product_code=""))
    assert arguments["src"] == "/srv/suite-9.3.1"
    for option in ("path", "url", "checksum", "proxy", "product_code", "version", "upgrade_code"):
        assert option not in arguments, option
    assert arguments["state"] == "present"
    assert arguments["restart_manager"] == "disable"
    assert arguments["verify"] is True


def test_restart_manager_enable_needs_office_gate_force_and_names_the_host() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^pc07: msi_install_restart_manager=enable .*office_gate_force"):
        msi_install_args(defaults(msi_install_restart_manager="enable"), "pc07")
    # -e office_gate_force=false arrives as a string: still no confirmation.
    with pytest.raises(AnsibleFilterError, match="set office_gate_force to true"):
        msi_install_args(defaults(msi_install_restart_manager="enable", office_gate_force="false"))
    confirmed = msi_install_args(defaults(msi_install_restart_manager="enable", office_gate_force="yes"))
    assert confirmed["restart_manager"] == "enable"


def test_the_gate_counts_reminders_only_when_notifying_and_a_deadline_only_when_forcing() -> None:
    gate = msi_install_args(defaults())["office_gate"]
    assert gate["remind_interval"] == 1800
    assert gate["deadline"] is None
    quiet = msi_install_args(defaults(office_gate_notify=False, office_gate_force=True))["office_gate"]
    assert quiet["remind_interval"] == 0
    assert quiet["deadline"] == 3600
    assert "office_gate" not in msi_install_args(defaults(msi_install_office_gate="false"))


def test_a_value_that_is_no_boolean_is_refused_by_name() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^office_gate_force: 'maybe' is not a boolean; accepted: true"):
        msi_install_args(defaults(office_gate_force="maybe"))


def test_missing_variables_are_named() -> None:
    values = defaults()
    del values["office_gate_deadline"], values["msi_install_reboot"]
    with pytest.raises(AnsibleFilterError, match="msi_install_reboot, office_gate_deadline not set"):
        msi_install_args(values)
    with pytest.raises(AnsibleFilterError, match="takes a mapping"):
        msi_install_args(["msi_install_src"])  # type: ignore[arg-type]
