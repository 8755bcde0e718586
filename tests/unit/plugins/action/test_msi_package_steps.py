"""msi_package's Office gate, restart and version check in the install task, against the lab's primitives.

One task per host is the point: a host at the version costs one command, an install costs the read, the
gate's poll, msiexec and the check; nothing is installed while the gate has not passed.
"""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _machine_install, _package_source, _reboot
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from lab.msi import product_code, upgrade_code
from tests.unit.plugins.action.fakehost import FakeHost
from tests.unit.plugins.action.test_host_answers_untrusted import src_action
from tests.unit.plugins.action.test_msi_package import stage

M931 = product_code("machine", "9.3.1")
FAMILY = upgrade_code("machine")
GATE = {name: spec.get("default") for name, spec in _machine_install.ARGUMENT_SPEC["office_gate"]["options"].items()}


def desktop(built_packages: Path, installed: str | None = None, ignore: str | None = None) -> tuple[FakeHost, str]:
    """anna has Word open; she closes it 5 s after a message unless she is ``ignore``. The 9.3.1 package staged."""
    host = FakeHost("pc", users=["anna"])
    if installed:
        host.install(built_packages / installed)
    host.lab.logon("anna")
    host.lab.start_process("anna", "WINWORD.EXE")
    reaction = {"on_message": "ignore"} if ignore == "anna" else {"on_message": "close", "close_delay": 5}
    host.lab.apply_control({"behaviour": {"users": {"anna": reaction}}})
    msi = stage(host, built_packages, "machine-9.3.1")
    host.lab.msiexec_history.clear()
    return host, msi


def run(host: FakeHost, msi: str, check_mode: bool = False, **overrides: t.Any) -> dict[str, t.Any]:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update({"path": msi, "product_code": M931, "upgrade_code": FAMILY, "version": "9.3.1", **overrides})
    return action._run(host, args, clock=host.clock, sleep=host.sleep, reset=lambda: None)


def gate(**overrides: t.Any) -> dict[str, t.Any]:
    return {**GATE, "notify": True, "interval": 10, "attempts": 10, **overrides}


def installed(host: FakeHost) -> list[tuple[str, str]]:
    return [(p["product_code"], p["version"]) for p in host.twin("Get-InstalledProduct")["products"]]


def test_a_host_at_the_version_costs_one_command_and_nobody_is_asked(built_packages: Path) -> None:
    host, msi = desktop(built_packages, installed="machine-9.3.1")
    result = run(host, msi, office_gate=gate(), verify=True, reboot=True)
    assert result["changed"] is False
    assert host.names() == ["Get-InstalledProduct"]
    assert "office_gate" not in result
    assert result["verified"] == {"product_code": M931, "expected": ["9.3.1"], "found": ["9.3.1"]}


def test_a_newer_version_left_alone_is_what_the_check_accepts(built_packages: Path) -> None:
    # Without allow_downgrade a newer version stays: the task has nothing to do, and the check says what it found.
    host = FakeHost("pc")
    host.install(built_packages / "machine-9.3.1")
    msi = stage(host, built_packages, "machine-9.3.0")
    result = run(host, msi, product_code=product_code("machine", "9.3.0"), version="9.3.0", verify=True)
    assert (result["action"], result.get("failed")) == ("none", None)
    assert result["verified"] == {"product_code": M931, "expected": ["9.3.1"], "found": ["9.3.1"]}
    assert host.names() == ["Get-InstalledProduct"]


def test_the_gate_waits_for_office_then_installs_and_verifies(built_packages: Path) -> None:
    host, msi = desktop(built_packages)
    result = run(host, msi, office_gate=gate(), verify=True)
    assert "failed" not in result, result
    assert result["action"] == "install"
    assert result["office_gate"]["users"] == ["PC\\anna"]
    assert [n["user"] for n in result["office_gate"]["notified"]] == ["PC\\anna"]
    names = host.names()
    # The products are read once, first; the gate comes right before msiexec, whose own command reads what
    # it left registered: the check costs no command.
    assert names.count("Get-InstalledProduct") == 1
    assert names[0] == "Get-InstalledProduct"
    assert names[names.index("Send-SessionMessage") - 1] == "Get-SessionProcess"
    assert names[-1] == "Invoke-Msiexec"
    assert result["verified"]["found"] == ["9.3.1"]
    assert installed(host) == [(M931, "9.3.1")]


def test_office_left_open_without_force_installs_nothing_and_names_the_user(built_packages: Path) -> None:
    host, msi = desktop(built_packages, ignore="anna")
    result = run(host, msi, office_gate=gate(attempts=3), verify=True)
    assert result["failed"] is True
    assert result["msg"].startswith("install not started: Office applications still run")
    assert "PC\\anna" in result["msg"]
    assert "Invoke-Msiexec" not in host.names()
    assert host.lab.msiexec_history == []
    assert installed(host) == []


def test_force_closes_after_the_deadline_and_the_task_warns(built_packages: Path) -> None:
    host, msi = desktop(built_packages, ignore="anna")
    result = run(host, msi, office_gate=gate(attempts=4, force=True, deadline=25))
    assert "failed" not in result, result
    assert result["office_gate"]["unsaved_data_lost"] is True
    assert any("unsaved data in them is lost" in w for w in result["warnings"])
    assert installed(host) == [(M931, "9.3.1")]


def test_check_mode_polls_once_and_installs_nothing(built_packages: Path) -> None:
    host, msi = desktop(built_packages)
    result = run(host, msi, check_mode=True, office_gate=gate(), verify=True, reboot=True)
    assert result["changed"] is True
    assert host.names() == ["Get-InstalledProduct", "Get-SessionProcess"]
    assert result["office_gate"]["would_notify"][0]["user"] == "PC\\anna"
    assert host.lab.msiexec_history == []


def test_an_install_that_needs_a_restart_restarts_when_allowed_then_verifies(built_packages: Path) -> None:
    host, msi = desktop(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [3010], "reboot_downtime": 30}})
    before = host.twin("Get-HostInfo")["last_boot"]
    result = run(host, msi, reboot=True, verify=True)
    assert "failed" not in result, result
    assert result["reboot_required"] is False
    assert result["reboot"]["rebooted"] is True
    assert result["reboot"]["previous_boot"] == before != result["reboot"]["last_boot"]
    assert "Restart-Host" in host.names()
    assert host.names()[-1] == "Get-InstalledProduct"


def test_an_install_that_needs_a_restart_warns_when_not_allowed(built_packages: Path) -> None:
    host, msi = desktop(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [3010]}})
    result = run(host, msi, verify=True)
    assert result["reboot_required"] is True
    assert "Restart-Host" not in host.names()
    assert any("a restart is needed to finish installing" in w and "reboot=true" in w for w in result["warnings"])


def test_verify_fails_when_the_host_registers_another_version(built_packages: Path) -> None:
    host, msi = desktop(built_packages)

    def older(args: dict[str, t.Any]) -> dict[str, t.Any]:
        # msiexec ran; the host then claims an older version is what is registered.
        honest = host.twin("Invoke-Msiexec", args)
        return {**honest, "products": [{"product_code": M931, "version": "9.3.0", "scope": "machine", "user": None}]}

    host.answer("Invoke-Msiexec", older)
    result = run(host, msi, verify=True)
    assert result["failed"] is True
    assert result["msg"] == f"verify: expected {M931} 9.3.1 registered per machine, found ['9.3.0']"


def test_after_a_restart_the_check_reads_the_host_again(built_packages: Path) -> None:
    host, msi = desktop(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [3010], "reboot_downtime": 30}})
    result = run(host, msi, reboot=True, verify=True)
    assert result["verified"]["found"] == ["9.3.1"]
    names = host.names()
    assert names.count("Get-InstalledProduct") == 2
    assert names.index("Restart-Host") < len(names) - 1 - names[::-1].index("Get-InstalledProduct")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"scope": "user", "office_gate": GATE}, "office_gate, reboot and verify apply only with scope=machine"),
        ({"restart_manager": "enable", "office_gate": GATE}, "set office_gate.force=true"),
        ({"office_gate": {**GATE, "interval": 0}}, "office_gate: interval must be more than 0"),
        ({"office_gate": {**GATE, "force": True}}, "office_gate: force=true needs deadline"),
        ({"reboot": True, "reboot_timeout": 0}, "reboot_timeout must be more than 0"),
        ({"reboot": True, "reboot_msg": "x" * (_reboot.MAX_MSG + 1)}, "reboot_msg must have at most 512"),
    ],
)
def test_bad_steps_are_refused_before_the_host_is_touched(
    built_packages: Path, overrides: dict[str, t.Any], match: str
) -> None:
    host, msi = desktop(built_packages)
    with pytest.raises(ValueError, match=match):
        run(host, msi, **overrides)
    assert host.names() == []


def from_controller(
    host: FakeHost, built_packages: Path, **overrides: t.Any
) -> tuple[dict[str, t.Any], list[tuple[str, str]]]:
    """msi_package with src: the 9.3.1 package folder on the controller, uploads recorded (not made)."""
    action, connection = src_action()
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update({"src": str(built_packages / "machine-9.3.1"), "office_gate": gate(), **overrides})
    result = action._run(host, args, clock=host.clock, sleep=host.sleep, reset=lambda: None)
    return result, connection.uploads


def test_the_command_that_brings_the_package_takes_the_gates_first_poll(built_packages: Path) -> None:
    # Office closed: the products, the package with the listing in the same command, msiexec. Three commands.
    host = FakeHost("pc", users=["anna"])
    host.lab.logon("anna")
    result, _uploads = from_controller(host, built_packages, verify=True)
    assert "failed" not in result, result
    assert host.names() == ["Get-InstalledProduct", "Initialize-PackageCache", "Invoke-Msiexec"]
    assert result["office_gate"]["polls"] == 1
    assert installed(host) == [(M931, "9.3.1")]
    # Listed after the files were written, as right before msiexec as a poll of its own would be.
    (cache,) = [args for name, args in host.calls if name == "Initialize-PackageCache"]
    assert cache["processes"] == list(GATE["processes"])


def test_office_open_is_messaged_from_that_first_listing(built_packages: Path) -> None:
    host, _msi = desktop(built_packages)
    result, _uploads = from_controller(host, built_packages, verify=True)
    assert "failed" not in result, result
    names = host.names()
    assert names[:3] == ["Get-InstalledProduct", "Initialize-PackageCache", "Send-SessionMessage"]
    assert result["office_gate"]["polls"] == names.count("Get-SessionProcess") + 1
    assert result["office_gate"]["users"] == ["PC\\anna"]
    assert names[-1] == "Invoke-Msiexec"
    assert installed(host) == [(M931, "9.3.1")]


def test_a_package_copied_file_by_file_is_polled_after_the_copy(
    built_packages: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Copying may take minutes: a listing taken before it would be old by the time msiexec runs.
    monkeypatch.setattr(_package_source, "INLINE_BYTES", 0)
    host = FakeHost("pc", users=["anna"])
    host.lab.logon("anna")
    host.answer("Invoke-Msiexec", {"rc": 0, "log_tail": []})
    result, uploads = from_controller(host, built_packages)
    assert "failed" not in result, result
    assert uploads
    (cache,) = [args for name, args in host.calls if name == "Initialize-PackageCache"]
    assert "processes" not in cache
    assert host.names() == ["Get-InstalledProduct", "Initialize-PackageCache", "Get-SessionProcess", "Invoke-Msiexec"]


def test_a_listing_with_a_process_not_asked_about_is_refused_before_msiexec(built_packages: Path) -> None:
    host = FakeHost("pc", users=["anna"])

    def hostile(args: dict[str, t.Any]) -> dict[str, t.Any]:
        planted = {"pid": 4, "name": "lsass.exe", "session_id": 0, "user": "SYSTEM", "start_time": None}
        return {**host.twin("Initialize-PackageCache", args), "office": {"sessions": [], "processes": [planted]}}

    host.answer("Initialize-PackageCache", hostile)
    with pytest.raises(PrimitiveError, match=r"lsass\.exe.*is not one asked about"):
        from_controller(host, built_packages)
    assert "Invoke-Msiexec" not in host.names()
    assert "Stop-SessionProcess" not in host.names()
