"""Every msiexec run keeps Restart Manager from closing users' applications unless restart_manager says otherwise."""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from lab.host.msiargs import split_command_line
from lab.msi import MSI_NAME, product_code, upgrade_code
from tests.unit.plugins.action.fakehost import FakeHost

STAGED = "C:\\pkg"


def package(scope: str, version: str = "9.3.1") -> str:
    """The built package folder's name for ``scope`` at ``version``."""
    return f"{scope}-{version}"


def stage(host: FakeHost, folder: Path) -> str:
    """Copy a built package folder onto the lab host, as a file share would hold it; the .msi's path."""
    for item in sorted(folder.rglob("*")):
        if item.is_file():
            host.put(STAGED + "\\" + "\\".join(item.relative_to(folder).parts), item.read_bytes())
    return f"{STAGED}\\{MSI_NAME}"


def msiexec_lines(host: FakeHost) -> list[list[str]]:
    """msiexec's arguments of every machine install, removal and per-user task the action ran, in order."""
    return [
        split_command_line(args["command_line"])
        for name, args in host.calls
        if name in ("Invoke-Msiexec", "Register-UserInstallTask")
    ]


def run(
    built: Path, scope: str, state: str, installed: list[str], version: str = "9.3.1", **overrides: t.Any
) -> tuple[dict, list[list[str]]]:
    """msi_package on a lab host where anna is logged on and ``installed`` packages are already in place."""
    host = FakeHost("pc", users=["anna"])
    host.lab.logon("anna")
    for name in installed:
        host.install(built / name, user="anna" if name.startswith("user-") else None)
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update(
        scope=scope,
        state=state,
        path=stage(host, built / package(scope, version)),
        product_code=product_code(scope, version),
        version=version,
    )
    args.update(overrides)
    return action._run(host, args), msiexec_lines(host)


CASES = [
    ("machine", "present", []),
    ("machine", "absent", [package("machine")]),
    ("user", "present", []),
    ("user", "absent", [package("user")]),
]


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_every_run_disables_restart_manager_by_default(
    built_packages: Path, scope: str, state: str, installed: list[str]
) -> None:
    result, lines = run(built_packages, scope, state, installed)
    assert lines, "msiexec must have run"
    assert "failed" not in result
    for argv in lines:
        assert argv[0] == ("/i" if state == "present" else "/x")
        assert "MSIRESTARTMANAGERCONTROL=Disable" in argv
    assert "warnings" not in result


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_disable_shutdown_is_passed_as_documented(
    built_packages: Path, scope: str, state: str, installed: list[str]
) -> None:
    _result, lines = run(built_packages, scope, state, installed, restart_manager="disable_shutdown")
    assert lines, "msiexec must have run"
    assert all("MSIRESTARTMANAGERCONTROL=DisableShutdown" in argv for argv in lines)


@pytest.mark.parametrize(("scope", "state", "installed"), CASES)
def test_enable_passes_no_property_and_warns_about_lost_work(
    built_packages: Path, scope: str, state: str, installed: list[str]
) -> None:
    result, lines = run(built_packages, scope, state, installed, restart_manager="enable")
    assert lines, "msiexec must have run"
    assert not any(a.upper().startswith("MSIRESTARTMANAGERCONTROL=") for argv in lines for a in argv)
    assert any("unsaved work in them is lost" in w for w in result["warnings"])


def test_downgrade_removal_and_install_both_disable_it(built_packages: Path) -> None:
    _result, lines = run(
        built_packages,
        "machine",
        "present",
        [package("machine", "9.3.1")],
        version="9.3.0",
        allow_downgrade=True,
        upgrade_code=upgrade_code("machine"),
    )
    assert [argv[0] for argv in lines] == ["/x", "/i"]
    assert all("MSIRESTARTMANAGERCONTROL=Disable" in argv for argv in lines)


def test_active_setup_command_disables_it_too() -> None:
    stub = _msi.command_line(["msiexec.exe", *_msi.msiexec_arguments("install", "C:\\c\\x.msi", None)])
    assert 'MSIRESTARTMANAGERCONTROL="Disable"' in stub


@pytest.mark.parametrize("name", ["MSIRESTARTMANAGERCONTROL", "msiRestartManagerControl"])
def test_the_property_cannot_sneak_in_through_properties(built_packages: Path, name: str) -> None:
    with pytest.raises(ValueError, match="restart_manager"):
        run(built_packages, "machine", "present", [], properties={name: "0"})
