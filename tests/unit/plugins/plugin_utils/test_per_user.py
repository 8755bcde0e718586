"""_per_user: the Active Setup plan and the per-user diff, without a host."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _per_user
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Package

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
PER_USER = {"ALLUSERS": "2", "MSIINSTALLPERUSER": "1", "ProductName": "Suite"}


def options(**overrides: t.Any) -> MsiOptions:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(path="C:\\pkg\\suite.msi", scope="user")
    base.update(overrides)
    return MsiOptions.from_args(base)


@pytest.mark.parametrize(
    ("present", "wanted", "before", "action"),
    [
        (False, None, {"version": "9,3,1"}, "remove"),
        (False, None, None, "none"),
        (True, None, {"version": "9,3,1"}, "none"),
        (True, {"version": "9,3,1"}, None, "register"),
        (True, {"version": "9,3,1"}, {"version": "9,3,1"}, "none"),
        (True, {"version": "9,3,2"}, {"version": "9,3,1"}, "update"),
    ],
)
def test_active_setup_action(present: bool, wanted: t.Any, before: t.Any, action: str) -> None:
    assert _per_user._active_setup_action(present, wanted, before) == action


def test_active_setup_runs_the_install_command_line_at_logon() -> None:
    wanted = _per_user._active_setup_wanted(options(), Package(CODE, "9.3.1.7", None, "suite.msi", properties=PER_USER))
    assert wanted == {
        "name": "Suite",
        "version": "9,3,1",
        "stub_path": 'msiexec.exe /i C:\\pkg\\suite.msi /qn /norestart MSIRESTARTMANAGERCONTROL="Disable"',
        "is_installed": 1,
    }
    with pytest.raises(ValueError, match="expands %VARIABLES%"):
        _per_user._active_setup_wanted(
            options(properties={"DIR": "%TEMP%"}), Package(CODE, "9.3.1", None, None, properties=PER_USER)
        )


def test_a_per_machine_package_is_refused_for_scope_user() -> None:
    machine = Package(CODE, "9.3.1", None, "suite.msi", properties={"ALLUSERS": "1"})
    with pytest.raises(ValueError, match="install it with scope=machine"):
        _per_user._require_per_user(options(), machine)
    _per_user._require_per_user(options(), Package(CODE, "9.3.1", None, "suite.msi", properties=PER_USER))


def test_diff_says_who_waits_for_the_next_logon() -> None:
    package = Package(CODE, "9.3.1", None, "suite.msi", properties=PER_USER)
    entry = {"user": "PC\\carl", "action": "install", "status": "pending"}
    setup = _per_user.ActiveSetup(CODE, {"version": "9,3,1", "stub_path": "msiexec.exe /i x"}, None, "register")
    diff = _per_user._diff([_per_user.UserPlan({}, entry, None)], package, setup)
    assert diff == {
        "before": "PC\\carl: not installed\nactive setup: none\n",
        "after": (
            "PC\\carl: not installed (pending: at next logon (Active Setup))\nactive setup: 9,3,1 msiexec.exe /i x\n"
        ),
    }
