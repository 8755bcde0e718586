"""Every msiexec run keeps Restart Manager from closing users' applications unless restart_manager says otherwise."""

from __future__ import annotations

import types
import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import CallStats
from lab.host.msiexec import split_command_line

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
OLD = "{00000000-0000-0000-0000-000000000001}"
FAMILY = "{D5B73D5D-E084-5005-B246-8861ADA21E95}"
SID = "S-1-5-21-1-2-3-1001"
ANNA = {"name": "PC\\anna", "account": "PC\\anna", "sid": SID, "session_id": 1, "error": None}


class Host:
    """Machine or per-user product installed as ``installed``; every msiexec and task ends with 0."""

    def __init__(self, installed: list[dict[str, t.Any]]) -> None:
        self.installed = installed
        self.command_lines: list[list[str]] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        if name == "Get-InstalledProduct":
            return {"products": self.installed}
        if name == "Get-MsiProperty":
            return {"ProductCode": CODE, "ProductVersion": "9.3.1", "ALLUSERS": "2", "MSIINSTALLPERUSER": "1"}
        if name == "Get-InstallUser":
            return {"users": [ANNA], "active_setup": None}
        if name in ("Invoke-Msiexec", "Register-UserInstallTask"):
            self.command_lines.append(split_command_line(args["command_line"]))
            return {"rc": 0, "log_tail": [], "state": "Running"}
        if name == "Wait-UserInstallTask":
            return {"finished": True, "rc": 0, "log_tail": []}
        raise AssertionError(name)


def run(scope: str, state: str, installed: list[dict[str, t.Any]], **overrides: t.Any) -> tuple[dict, list[list[str]]]:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update(scope=scope, state=state, path="C:\\pkg\\suite.msi", product_code=CODE, version="9.3.1")
    args.update(overrides)
    host = Host(installed)
    return action._run(host, args), host.command_lines


def product(scope: str, code: str, version: str) -> dict[str, t.Any]:
    return {"product_code": code, "upgrade_code": FAMILY, "version": version, "scope": scope, "sid": SID}


CASES = [
    ("machine", "present", []),
    ("machine", "absent", [product("machine", CODE, "9.3.1")]),
    ("user", "present", []),
    ("user", "absent", [product("user", CODE, "9.3.1")]),
]


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_every_run_disables_restart_manager_by_default(scope: str, state: str, installed: list) -> None:
    result, lines = run(scope, state, installed)
    assert lines, "msiexec must have run"
    for argv in lines:
        assert argv[0] == ("/i" if state == "present" else "/x")
        assert "MSIRESTARTMANAGERCONTROL=Disable" in argv
    assert "warnings" not in result


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_disable_shutdown_is_passed_as_documented(scope: str, state: str, installed: list) -> None:
    _result, lines = run(scope, state, installed, restart_manager="disable_shutdown")
    assert all("MSIRESTARTMANAGERCONTROL=DisableShutdown" in argv for argv in lines)


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_enable_passes_no_property_and_warns_about_lost_work(scope: str, state: str, installed: list) -> None:
    result, lines = run(scope, state, installed, restart_manager="enable")
    assert not any(a.upper().startswith("MSIRESTARTMANAGERCONTROL=") for argv in lines for a in argv)
    assert any("unsaved work in them is lost" in w for w in result["warnings"])


def test_downgrade_removal_and_install_both_disable_it() -> None:
    _result, lines = run(
        "machine", "present", [product("machine", OLD, "9.4.0")], allow_downgrade=True, upgrade_code=FAMILY
    )
    assert [argv[0] for argv in lines] == ["/x", "/i"]
    assert all("MSIRESTARTMANAGERCONTROL=Disable" in argv for argv in lines)


def test_active_setup_command_disables_it_too() -> None:
    stub = _msi.command_line(["msiexec.exe", *_msi.msiexec_arguments("install", "C:\\c\\x.msi", None)])
    assert 'MSIRESTARTMANAGERCONTROL="Disable"' in stub


@pytest.mark.parametrize("name", ["MSIRESTARTMANAGERCONTROL", "msiRestartManagerControl"])
def test_the_property_cannot_sneak_in_through_properties(name: str) -> None:
    with pytest.raises(ValueError, match="restart_manager"):
        run("machine", "present", [], properties={name: "0"})
