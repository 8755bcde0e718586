"""_msiexec: the decisions and the exit-code rule both scopes share."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msiexec
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Package
from lab.host.msiargs import split_command_line

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
OTHER = "{00000000-0000-0000-0000-000000000002}"
FAMILY = "{D5B73D5D-E084-5005-B246-8861ADA21E95}"
PACKAGE = Package(CODE, "9.3.1", FAMILY, "suite.msi")


def options(**overrides: t.Any) -> MsiOptions:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(path="C:\\pkg\\suite.msi")
    base.update(overrides)
    return MsiOptions.from_args(base)


def product(version: str, code: str = OTHER) -> dict[str, t.Any]:
    return {"product_code": code, "upgrade_code": FAMILY, "version": version}


def test_the_same_product_code_wins_over_a_newer_family_member() -> None:
    same = product("9.3.1", CODE)
    assert _msiexec.replaced([product("9.9.0"), same], PACKAGE) is same
    assert _msiexec.replaced([product("9.2.0"), product("9.4.0")], PACKAGE) == product("9.4.0")
    assert _msiexec.replaced([], PACKAGE) is None
    assert _msiexec.installed_query(PACKAGE) == {"upgrade_code": FAMILY}
    assert _msiexec.installed_query(Package(CODE, None, None, None)) == {"product_code": CODE}


@pytest.mark.parametrize(
    ("state", "installed", "allow_downgrade", "action"),
    [
        ("present", None, False, "install"),
        ("present", "9.3.0", False, "upgrade"),
        ("present", "9.3.1", False, "none"),
        ("present", "9.4.0", False, "none"),
        ("present", "9.4.0", True, "downgrade"),
        ("absent", "9.4.0", False, "remove"),
        ("absent", None, False, "none"),
    ],
)
def test_decide(state: str, installed: str | None, allow_downgrade: bool, action: str) -> None:
    current = product(installed) if installed else None
    assert _msiexec.decide(options(state=state, allow_downgrade=allow_downgrade), PACKAGE, current) == action


def test_the_log_folder_of_a_user_is_named_by_their_sid() -> None:
    run = _msiexec.prepare(options(properties={"A": "x y"}), "install", "C:\\p.msi", "PC\\anna", "S-1-5-21-1-2-3-1001")
    assert run.log_path.startswith(
        "C:\\ProgramData\\rollout.windows\\logs\\S-1-5-21-1-2-3-1001\\msiexec-install-PC_anna-"
    )
    assert split_command_line(run.command_line)[:6] == ["/i", "C:\\p.msi", "/qn", "/norestart", "/L*V", run.log_path]
    assert "A=x y" in split_command_line(run.command_line)
    # An uninstall gets no properties: they would configure what is being removed.
    assert "A=x y" not in split_command_line(
        _msiexec.prepare(options(properties={"A": "x y"}), "uninstall", CODE).command_line
    )


@pytest.mark.parametrize("who", ["", "PC\\anna"])
def test_one_exit_code_rule_and_one_message_for_both_scopes(who: str) -> None:
    run = _msiexec.MsiexecRun("C:\\logs\\x.log", "/i x")
    failed = _msiexec.concluded(options(), "install", 1603, run, log_tail=["a", "b"], retries=2, who=who)
    prefix = f"{who}: " if who else ""
    assert failed["msg"] == prefix + (
        "msiexec install failed with exit code 1603: A fatal error occurred during installation. "
        "Log C:\\logs\\x.log, last line: b"
    )
    assert (failed["failed"], failed["log_tail"], failed["busy_retries"]) == (True, ["a", "b"], 2)
    # Removing what is not installed reached the goal; installing with 3010 did, and needs a restart.
    assert "failed" not in _msiexec.concluded(options(), "uninstall", 1605, run, log_tail=[], retries=0, who=who)
    rebooting = _msiexec.concluded(options(), "install", 3010, run, log_tail=[], retries=0, who=who)
    assert (rebooting["reboot_required"], "failed" in rebooting) == (True, False)
    assert "failed" in _msiexec.concluded(options(), "install", 1605, run, log_tail=[], retries=0, who=who)


def test_only_another_installation_is_worth_waiting_for() -> None:
    assert _msiexec.busy(1618) is True
    assert (_msiexec.busy(0), _msiexec.busy(1603), _msiexec.busy(None)) == (False, False, False)
