"""msi_package decisions against the shared fake host: what runs, in which order, what msiexec did, what is reported.

The packages are the lab's real test MSIs (``built_packages``); installed products, msiexec's runs and the
scheduled tasks of scope=user are the lab host's own, so a test arranges a situation on the lab host and
reads the outcome there.
"""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _per_user, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from lab.host.filesystem import USERS
from lab.host.msiargs import split_command_line
from lab.msi import MSI_NAME, payload_files, product_code, upgrade_code
from lab.primitives.core import PrimitiveContext
from lab.primitives.files import protect_folder
from lab.primitives.usertasks import NOT_MAPPED
from tests.unit.plugins.action.fakehost import FakeHost

M930, M931 = product_code("machine", "9.3.0"), product_code("machine", "9.3.1")
U930, U931 = product_code("user", "9.3.0"), product_code("user", "9.3.1")
M_FAMILY, U_FAMILY = upgrade_code("machine"), upgrade_code("user")
OTHER = "{00000000-0000-0000-0000-000000000009}"


def stage(host: FakeHost, built_packages: Path, name: str) -> str:
    """Put a built package folder on the lab host under C:\\pkg, as a share would hold it; the .msi's path."""
    folder = f"C:\\pkg\\{name}"
    for item in sorted((built_packages / name).rglob("*")):
        if item.is_file():
            host.put(folder + "\\" + "\\".join(item.relative_to(built_packages / name).parts), item.read_bytes())
    return f"{folder}\\{MSI_NAME}"


def make_action(check_mode: bool = False, diff: bool = False) -> t.Any:
    """The action as its task would build it; Any, as its ``_run`` takes the fake host for a WinHost."""
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=check_mode, diff=diff)
    return action


def args(path: str | None, **overrides: t.Any) -> dict[str, t.Any]:
    """Task arguments for the per-machine 9.3.1 package at ``path``, its facts given."""
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(path=path, product_code=M931, upgrade_code=M_FAMILY, version="9.3.1")
    base.update(overrides)
    return base


def products(host: FakeHost) -> list[tuple[str, str, str | None]]:
    """What the lab host has installed: (product code, version, user or None for per machine)."""
    found = host.twin("Get-InstalledProduct")["products"]
    return sorted(((p["product_code"], p["version"], p["user"]) for p in found), key=lambda p: (p[0], p[2] or ""))


def msiexec_runs(host: FakeHost) -> list[list[str]]:
    """The first two arguments of every msiexec the lab host ran: what it was asked to do, and to what."""
    return [run["argv"][:2] for run in host.lab.msiexec_history]


def machine_host(
    built_packages: Path, installed: str | None = None, target: str = "machine-9.3.1"
) -> tuple[FakeHost, str]:
    """A lab host with ``installed`` already installed and the ``target`` package staged; the target's path."""
    host = FakeHost()
    if installed:
        host.install(built_packages / installed)
    msi = stage(host, built_packages, target)
    host.lab.msiexec_history.clear()  # what an earlier deployment did is no part of the test
    return host, msi


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    real = _retry.retry_while

    def fast(*a: t.Any, **k: t.Any) -> t.Any:
        k["sleep"] = slept.append
        return real(*a, **k)

    monkeypatch.setattr(_retry, "retry_while", fast)
    return slept


def test_equal_version_is_ok_in_one_command(built_packages: Path) -> None:
    host, msi = machine_host(built_packages, "machine-9.3.1")
    result = make_action()._run(host, args(msi))
    assert result["action"] == "none"
    assert result["changed"] is False
    assert host.names() == ["Get-InstalledProduct"]


def test_older_version_is_upgraded(built_packages: Path) -> None:
    host, msi = machine_host(built_packages, "machine-9.3.0")
    result = make_action()._run(host, args(msi, product_code=None, upgrade_code=None, version=None))
    assert result["action"] == "upgrade"
    assert result["previous_version"] == "9.3.0"
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Invoke-Msiexec"]
    assert products(host) == [(M931, "9.3.1", None)]


def test_newer_version_is_left_alone_without_allow_downgrade(built_packages: Path) -> None:
    host, msi = machine_host(built_packages, "machine-9.3.1", target="machine-9.3.0")
    assert make_action()._run(host, args(msi, product_code=M930, version="9.3.0"))["action"] == "none"
    assert "Invoke-Msiexec" not in host.names()
    assert products(host) == [(M931, "9.3.1", None)]


def test_downgrade_removes_newer_first(built_packages: Path) -> None:
    host, msi = machine_host(built_packages, "machine-9.3.1", target="machine-9.3.0")
    result = make_action()._run(host, args(msi, product_code=M930, version="9.3.0", allow_downgrade=True))
    assert result["action"] == "downgrade"
    assert msiexec_runs(host) == [["/x", M931], ["/i", msi]]
    assert products(host) == [(M930, "9.3.0", None)]


def test_check_mode_reports_and_runs_nothing(built_packages: Path) -> None:
    host, msi = machine_host(built_packages)
    result = make_action(check_mode=True, diff=True)._run(host, args(msi))
    assert result["changed"] is True
    assert result["action"] == "install"
    assert host.names() == ["Get-InstalledProduct"]
    assert result["diff"] == {"before": "machine: not installed\n", "after": f"machine: {M931} 9.3.1\n"}
    assert host.lab.msiexec_history == []


def test_busy_installer_is_retried_then_succeeds(built_packages: Path, no_sleep: list[float]) -> None:
    host, msi = machine_host(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [1618, 1618, 0]}})
    result = make_action()._run(host, args(msi, busy_timeout=120))
    assert result["exit_code"] == 0
    assert result["busy_retries"] == 2
    assert len(no_sleep) == 2
    assert sum(no_sleep) <= 120
    assert products(host) == [(M931, "9.3.1", None)]


def test_busy_until_timeout_fails_with_meaning(built_packages: Path) -> None:
    host, msi = machine_host(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [1618] * 50}})
    result = make_action()._run(host, args(msi, busy_timeout=30))
    assert result["failed"] is True
    assert result["exit_code"] == 1618
    assert "Another installation" in result["msg"]
    assert products(host) == []


def test_fatal_error_returns_code_meaning_and_log_tail(built_packages: Path) -> None:
    host, msi = machine_host(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [1603]}})
    result = make_action()._run(host, args(msi))
    assert result["failed"] is True
    assert result["exit_code"] == 1603
    # msiexec's verbose log ends with its engine's exit line, then the "logging stopped" banner.
    assert "MainEngineThread is returning 1603" in result["log_tail"][-2]
    assert "1603" in result["msg"]
    assert "fatal" in result["msg"]
    assert products(host) == []


@pytest.mark.parametrize("rc", [3010, 1641])
def test_reboot_codes_succeed_with_reboot_required(built_packages: Path, rc: int) -> None:
    host, msi = machine_host(built_packages)
    if rc == 3010:
        host.lab.apply_control({"behaviour": {"msiexec_results": [3010]}})
    else:
        # The lab's msiexec answers 1641 only when it may restart itself; msi_package always passes /norestart,
        # so only a host that restarts anyway answers it: played here.
        host.answer("Invoke-Msiexec", {"rc": 1641, "log_tail": []})
    result = make_action()._run(host, args(msi))
    assert result.get("failed") is None
    assert result["reboot_required"] is True


def test_remove_absent_product_is_ok() -> None:
    host = FakeHost()
    result = make_action()._run(host, args(None, state="absent", version=None))
    assert result["action"] == "none"
    assert host.names() == ["Get-InstalledProduct"]
    assert host.lab.msiexec_history == []


def test_remove_installed_product(built_packages: Path) -> None:
    host, _msi = machine_host(built_packages, "machine-9.3.1")
    result = make_action()._run(host, args(None, state="absent", version=None))
    assert result["action"] == "remove"
    assert msiexec_runs(host) == [["/x", M931]]
    assert products(host) == []


def test_bad_product_code_names_the_option() -> None:
    with pytest.raises(ValueError, match="product_code must be a GUID"):
        make_action()._run(FakeHost(), args(r"C:\pkg\suite.msi", product_code="nope"))


def test_bad_version_is_refused_before_the_host_is_touched() -> None:
    host = FakeHost()
    with pytest.raises(ValueError, match="not an MSI version"):
        make_action()._run(host, args(r"C:\pkg\suite.msi", version="latest"))
    assert host.calls == []


def test_incomplete_payload_is_refused_naming_files(tmp_path: Path, msi_folder: Path) -> None:
    (msi_folder / "payload" / "manifest.xml").unlink()
    action = make_action()
    action._find_needle = lambda _kind, path: path
    host = FakeHost()
    with pytest.raises(ValueError, match=r"missing: payload\\manifest.xml"):
        action._run(host, args(None, src=str(msi_folder), product_code=None, version=None))
    assert host.calls == []


# -- scope: user ---------------------------------------------------------------------------------------------
def user_host(
    built_packages: Path,
    logged_on: tuple[str, ...] = ("anna", "ben"),
    installed: tuple[tuple[str, str], ...] = (),
    target: str = "user-9.3.1",
    install_seconds: float = 1.0,
) -> tuple[FakeHost, str]:
    """anna, ben and carl on a lab host, ``logged_on`` of them logged on; ``installed`` holds (package, user)
    pairs installed before; the ``target`` package staged; msiexec takes ``install_seconds``."""
    host = FakeHost(users=["anna", "ben", "carl"])
    for user in logged_on:
        host.lab.logon(user)
    for package, user in installed:
        host.install(built_packages / package, user=user)
    msi = stage(host, built_packages, target)
    host.lab.msiexec_history.clear()
    host.lab.apply_control({"behaviour": {"msiexec_duration": [install_seconds, install_seconds]}})
    return host, msi


def user_args(path: str | None, **overrides: t.Any) -> dict[str, t.Any]:
    return args(path, scope="user", **{"product_code": U931, "upgrade_code": U_FAMILY, **overrides})


def registered(host: FakeHost) -> list[dict[str, t.Any]]:
    return [a for n, a in host.calls if n == "Register-UserInstallTask"]


def statuses(result: dict[str, t.Any]) -> dict[str, str]:
    return {u["user"]: u["status"] for u in result["users"]}


def active_setup(host: FakeHost) -> dict[str, t.Any] | None:
    """The Active Setup entry the lab host holds for the per-user family."""
    entry: dict[str, t.Any] | None = host.twin("Get-InstallUser", {"active_setup": U_FAMILY})["active_setup"]
    return entry


def test_user_install_runs_in_each_logged_on_users_task(built_packages: Path) -> None:
    host, msi = user_host(built_packages)
    result = make_action()._run(host, user_args(msi))
    assert result["changed"] is True
    assert result["action"] == "install"
    assert statuses(result) == {"PC\\anna": "changed", "PC\\ben": "changed"}
    assert host.names() == [
        "Get-MsiProperty",  # path without its properties: is it a per-user package?
        "Get-InstalledProduct",
        "Get-InstallUser",
        "Register-UserInstallTask",
        "Wait-UserInstallTask",
        "Register-UserInstallTask",
        "Wait-UserInstallTask",
    ]
    assert host.calls[2][1]["logged_on"] is True  # no users named: everyone logged on
    first, second = registered(host)
    assert first["user"] == "PC\\anna"
    assert second["user"] == "PC\\ben"
    assert first["task_name"] == f"msi_package-{host.lab.sid_of('anna')}"
    assert split_command_line(first["command_line"])[:5] == ["/i", msi, "/qn", "/norestart", "/L*V"]
    assert split_command_line(first["command_line"])[5] == first["log_path"]
    assert "PC_anna" in first["log_path"]
    entry = result["users"][0]
    assert (entry["exit_code"], entry["reboot_required"], entry["previous_version"]) == (0, False, None)
    assert products(host) == [(U931, "9.3.1", "PC\\anna"), (U931, "9.3.1", "PC\\ben")]
    assert [run["user"] for run in host.lab.msiexec_history] == ["anna", "ben"]
    assert host.lab.tasks == {}  # each one-shot task is gone once it ended


def test_user_rerun_at_version_is_ok_in_two_commands(built_packages: Path) -> None:
    host, msi = user_host(built_packages, installed=(("user-9.3.1", "anna"), ("user-9.3.1", "ben")))
    result = make_action()._run(host, user_args(msi, users=["anna", "ben"]))
    assert result["changed"] is False
    assert result["action"] == "none"
    assert statuses(result) == {"PC\\anna": "ok", "PC\\ben": "ok"}
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Get-InstallUser"]
    assert host.calls[2][1]["logged_on"] is False  # users named: only them


def test_user_idempotency_is_per_user_and_ignores_machine_products(built_packages: Path) -> None:
    host, msi = user_host(built_packages, installed=(("user-9.3.0", "anna"), ("user-9.3.1", "ben")))
    # The same product installed per machine too (ALLUSERS=1 makes the dual-purpose package per-machine).
    host.twin("Invoke-Msiexec", {"command_line": f'/i "{msi}" /qn ALLUSERS=1'})
    assert (U931, "9.3.1", None) in products(host)
    result = make_action()._run(host, user_args(msi))
    anna, ben = result["users"]
    assert (anna["action"], anna["previous_version"], anna["status"]) == ("upgrade", "9.3.0", "changed")
    assert (ben["action"], ben["status"]) == ("none", "ok")
    assert [r["user"] for r in registered(host)] == ["PC\\anna"]


def test_user_not_logged_on_is_pending_not_failed(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=())
    result = make_action()._run(host, user_args(msi, users=["carl"]))
    assert result.get("failed") is None
    assert result["changed"] is False
    assert result["pending"] == ["PC\\carl"]
    assert result["users"][0]["action"] == "install"
    assert registered(host) == []
    assert host.lab.tasks == {}


def test_user_unknown_account_fails_that_user_only(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",))
    result = make_action()._run(host, user_args(msi, users=["ghost"], logged_on_users=True))
    assert result["failed"] is True
    assert f"ghost: {NOT_MAPPED}" in result["msg"]
    assert statuses(result) == {"ghost": "failed", "PC\\anna": "changed"}


def test_user_check_mode_reports_per_user_and_runs_nothing(built_packages: Path) -> None:
    host, msi = user_host(built_packages, installed=(("user-9.3.0", "ben"),))
    result = make_action(check_mode=True, diff=True)._run(host, user_args(msi, users=["carl"], logged_on_users=True))
    assert result["changed"] is True
    # In the order the host answers: the users named, then those logged on.
    assert statuses(result) == {"PC\\anna": "changed", "PC\\ben": "changed", "PC\\carl": "pending"}
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Get-InstallUser"]
    assert result["diff"]["before"] == (
        f"PC\\carl: not installed\nPC\\anna: not installed\nPC\\ben: {U930} 9.3.0\nactive setup: none\n"
    )
    assert result["diff"]["after"] == (
        f"PC\\carl: not installed (pending: not logged on)\nPC\\anna: {U931} 9.3.1\nPC\\ben: {U931} 9.3.1\n"
        "active setup: none\n"
    )
    assert host.lab.msiexec_history == []


def test_user_task_is_polled_until_it_ends(built_packages: Path) -> None:
    # msiexec outlasts two waits of at most WAIT_SECONDS each, and ends within the third.
    host, msi = user_host(built_packages, logged_on=("anna",), install_seconds=2.5 * _per_user.WAIT_SECONDS)
    result = make_action()._run(host, user_args(msi))
    assert result["users"][0]["status"] == "changed"
    assert host.names().count("Wait-UserInstallTask") == 3
    waits = [a["wait_seconds"] for n, a in host.calls if n == "Wait-UserInstallTask"]
    assert all(1 <= w <= _per_user.WAIT_SECONDS for w in waits)


def test_user_task_that_does_not_end_in_time_fails_naming_the_task(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",), install_seconds=600)
    result = make_action()._run(host, user_args(msi, user_timeout=0))
    assert result["failed"] is True
    assert f"msi_package-{host.lab.sid_of('anna')}" in result["msg"]
    assert "user_timeout=0" in result["msg"]
    assert host.names().count("Wait-UserInstallTask") == 1


def test_user_failure_reports_code_and_log_and_goes_on_with_the_next_user(built_packages: Path) -> None:
    host, msi = user_host(built_packages)
    host.lab.apply_control({"behaviour": {"msiexec_results": [1603, 3010]}})
    result = make_action()._run(host, user_args(msi))
    anna, ben = result["users"]
    assert (anna["status"], anna["exit_code"]) == ("failed", 1603)
    assert "MainEngineThread is returning 1603" in anna["log_tail"][-2]
    assert (ben["status"], ben["reboot_required"]) == ("changed", True)
    assert result["failed"] is True
    assert "PC\\anna: msiexec install failed with exit code 1603" in result["msg"]
    assert result["reboot_required"] is True
    assert result["changed"] is True
    assert products(host) == [(U931, "9.3.1", "PC\\ben")]


def test_user_busy_installer_registers_the_task_again(built_packages: Path, no_sleep: list[float]) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",))
    host.lab.apply_control({"behaviour": {"msiexec_results": [1618, 0]}})
    result = make_action()._run(host, user_args(msi, busy_timeout=60))
    assert result["users"][0]["busy_retries"] == 1
    assert len(registered(host)) == 2
    assert len(no_sleep) == 1
    assert [run["rc"] for run in host.lab.msiexec_history] == [1618, 0]


def test_user_downgrade_uninstalls_in_the_users_context_first(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",), installed=(("user-9.3.1", "anna"),), target="user-9.3.0")
    result = make_action()._run(host, user_args(msi, product_code=U930, version="9.3.0", allow_downgrade=True))
    assert result["action"] == "downgrade"
    assert [split_command_line(r["command_line"])[:2] for r in registered(host)] == [["/x", U931], ["/i", msi]]
    assert [(run["user"], run["argv"][:2]) for run in host.lab.msiexec_history] == [
        ("anna", ["/x", U931]),
        ("anna", ["/i", msi]),
    ]
    assert products(host) == [(U930, "9.3.0", "PC\\anna")]


def test_user_remove_and_active_setup_removed(built_packages: Path) -> None:
    host, _msi = user_host(built_packages, logged_on=("anna",), installed=(("user-9.3.1", "anna"),))
    host.twin("Set-ActiveSetup", {"component": U_FAMILY, "version": "9,3,1", "stub_path": "x"})
    result = make_action()._run(host, user_args(None, state="absent", version=None))
    assert result["action"] == "remove"
    assert result["active_setup"]["action"] == "remove"
    assert split_command_line(registered(host)[0]["command_line"])[:2] == ["/x", U931]
    assert ("Set-ActiveSetup", {"component": U_FAMILY, "state": "absent"}) in host.calls
    assert products(host) == []
    assert active_setup(host) is None


def test_active_setup_registered_version_stamped_then_left_alone(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",), installed=(("user-9.3.1", "anna"),))
    task = user_args(msi, active_setup=True, properties={"BACKENDURL": "https://b e"})
    result = make_action()._run(host, task)
    assert result["changed"] is True
    assert result["active_setup"]["action"] == "register"
    (written,) = [a for n, a in host.calls if n == "Set-ActiveSetup"]
    assert written["component"] == U_FAMILY  # the family: the key survives major upgrades
    assert written["version"] == "9,3,1"
    assert written["stub_path"] == (
        f'msiexec.exe /i {msi} /qn /norestart MSIRESTARTMANAGERCONTROL="Disable" BACKENDURL="https://b e"'
    )
    assert registered(host) == []
    assert active_setup(host) == {
        "name": written.get("name") or "",
        "version": "9,3,1",
        "stub_path": written["stub_path"],
        "is_installed": 1,
    }

    rerun = make_action()._run(host, task)
    assert rerun["changed"] is False
    assert rerun["active_setup"]["action"] == "none"

    host.twin("Set-ActiveSetup", {**written, "version": "9,3,0"})
    assert make_action()._run(host, user_args(msi, active_setup=True))["active_setup"]["action"] == "update"


def test_active_setup_refuses_values_it_would_expand(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",))
    with pytest.raises(ValueError, match="active_setup: Active Setup expands"):
        make_action()._run(host, user_args(msi, active_setup=True, properties={"P": "%PATH%"}))
    assert host.names() == ["Get-MsiProperty"]


def package_properties(host: FakeHost, all_users: str, per_user_flag: str) -> None:
    """Get-MsiProperty reads the package honestly but for ALLUSERS and MSIINSTALLPERUSER: the lab's test MSIs
    are one per-machine (ALLUSERS=1) and one dual-purpose (2 and 1) build, the other combinations are played."""
    host.answer(
        "Get-MsiProperty",
        lambda a: {**host.twin("Get-MsiProperty", a), "ALLUSERS": all_users, "MSIINSTALLPERUSER": per_user_flag},
    )


@pytest.mark.parametrize(
    ("all_users", "flag", "properties"),
    [("1", "", {}), ("2", "", {}), ("2", "1", {"ALLUSERS": 1}), ("", "", {"MSIINSTALLPERUSER": "0", "ALLUSERS": 2})],
)
def test_user_scope_refuses_a_per_machine_package(
    built_packages: Path, all_users: str, flag: str, properties: dict[str, t.Any]
) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",))
    package_properties(host, all_users, flag)
    with pytest.raises(ValueError, match=r"scope=user needs a per-user package .* install it with scope=machine"):
        make_action()._run(host, user_args(msi, properties=properties))
    assert host.names() == ["Get-MsiProperty"]


def test_user_scope_refuses_the_per_machine_build(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",), target="machine-9.3.1")
    with pytest.raises(ValueError, match=r"scope=user needs a per-user package .* install it with scope=machine"):
        make_action()._run(host, user_args(msi, product_code=M931, upgrade_code=M_FAMILY))
    assert host.names() == ["Get-MsiProperty"]


def test_user_scope_accepts_a_package_without_allusers(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=("anna",))
    package_properties(host, "", "")
    assert make_action()._run(host, user_args(msi))["users"][0]["status"] == "changed"
    assert products(host) == [(U931, "9.3.1", "PC\\anna")]


def test_user_options_need_scope_user() -> None:
    with pytest.raises(ValueError, match="apply only with scope=user"):
        make_action()._run(FakeHost(), args(r"C:\pkg\suite.msi", users=["anna"]))


def test_user_scope_needs_someone_to_install_for(built_packages: Path) -> None:
    host, msi = user_host(built_packages, logged_on=())
    with pytest.raises(ValueError, match="scope=user needs users, or logged_on_users=true"):
        make_action()._run(host, user_args(msi, logged_on_users=False))


# -- url: the host downloads the package ----------------------------------------------------------------------
ZIP_SUM = "5e" * 32
URL = "https://packages.example.com/suite/suite-9.3.1.zip"
CACHED = r"C:\ProgramData\rollout.windows\cache\url-5e5e5e5e5e5e5e5e"


def serve(
    host: FakeHost,
    built_packages: Path,
    package: str = "machine-9.3.1",
    *,
    files: list[str] | None = None,
    cached: bool = False,
    failure: str | None = None,
) -> None:
    """Save-PackageUrl as a host with a download server behind it: the unit lab has none, so its answer is
    played, and what it reports downloaded is written into the lab host's cache for the lab to read.

    ``files`` are the download's files (relative to its folder) as built ``package`` files: ``Suite.msi``
    is the .msi, ``payload\\<name>`` its payload; by default the whole package in ``suite-<version>``.
    """
    source = built_packages / package
    version = package.rsplit("-", 1)[1]
    names = (
        files
        if files is not None
        else [
            f"suite-{version}\\Suite.msi",
            *(f"suite-{version}\\payload\\{name}" for name in payload_files(*package.split("-"))),
        ]
    )

    def save(a: dict[str, t.Any]) -> dict[str, t.Any]:
        if failure:
            return {"failed": True, "msg": failure}
        present = cached or not a["check_only"]
        folder = a["directory"] + ("\\package" if a["expand"] else "")
        if present:  # the cache root gets its administrators-only ACL first, as Save-PackageUrl gives it
            protect_folder(
                host.lab, PrimitiveContext(host.lab.username), a["directory"].rpartition("\\")[0], read=(USERS,)
            )
        for name in names if present else []:
            relative = name.split("\\")
            built = source / MSI_NAME if relative[-1] == "Suite.msi" else source.joinpath(*relative[-2:])
            host.put(f"{folder}\\{name}", built.read_bytes())
        return {
            "present": present,
            "downloaded": present and not cached,
            "folder": folder,
            "files": names if present else [],
        }

    host.answer("Save-PackageUrl", save)


def url_host(built_packages: Path, installed: str | None = None, **serving: t.Any) -> FakeHost:
    host, _msi = machine_host(built_packages, installed)
    serve(host, built_packages, **serving)
    return host


def url_args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {"url": URL, "checksum": f"sha256:{ZIP_SUM}", "product_code": None, "version": None}
    return args(None, **{"upgrade_code": None, **base, **overrides})


def test_url_without_facts_downloads_then_decides_as_for_path(built_packages: Path) -> None:
    host = url_host(built_packages)
    result = make_action()._run(host, url_args())
    assert host.names() == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct", "Invoke-Msiexec"]
    save = host.calls[0][1]
    assert save["directory"] == CACHED  # content-addressed by the checksum
    assert (save["sha256"], save["file_name"], save["expand"], save["check_only"]) == (
        ZIP_SUM,
        "suite-9.3.1.zip",
        True,
        False,
    )
    msi = CACHED + r"\package\suite-9.3.1\Suite.msi"
    assert host.calls[1][1] == {"path": msi, "payload": True}
    assert msiexec_runs(host) == [["/i", msi]]
    assert (result["action"], result["downloaded"], result["product_code"]) == ("install", True, M931)
    assert products(host) == [(M931, "9.3.1", None)]


def test_url_rerun_from_cache_is_ok_and_downloads_nothing(built_packages: Path) -> None:
    host = url_host(built_packages, "machine-9.3.1", cached=True)
    result = make_action()._run(host, url_args())
    assert host.names() == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    assert (result["action"], result["changed"], result["downloaded"]) == ("none", False, False)


def test_url_with_facts_decides_before_downloading(built_packages: Path) -> None:
    installed = url_host(built_packages, "machine-9.3.1")
    result = make_action()._run(installed, url_args(product_code=M931, version="9.3.1"))
    assert installed.names() == ["Get-InstalledProduct"]
    assert (result["action"], result["downloaded"]) == ("none", False)

    fresh = url_host(built_packages)
    result = make_action()._run(fresh, url_args(product_code=M931, version="9.3.1"))
    assert fresh.names() == ["Get-InstalledProduct", "Save-PackageUrl", "Get-MsiProperty", "Invoke-Msiexec"]
    assert (result["action"], result["downloaded"]) == ("install", True)
    assert products(fresh) == [(M931, "9.3.1", None)]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"product_code": OTHER}, "does not match the package at https://"),
        ({"product_code": M931, "version": "9.3.0"}, "version 9.3.0 does not match the package"),
    ],
)
def test_url_facts_that_are_not_the_packages_fail_before_msiexec(
    built_packages: Path, given: dict[str, str], message: str
) -> None:
    host = url_host(built_packages)
    with pytest.raises(ValueError, match=message):
        make_action()._run(host, url_args(**{"version": "9.3.1", **given}))
    assert "Invoke-Msiexec" not in host.names()
    assert host.lab.msiexec_history == []


def test_bare_msi_that_needs_a_payload_folder_fails_naming_the_files(built_packages: Path) -> None:
    host = url_host(built_packages, files=["Suite.msi"])
    missing = ", ".join(f"payload\\\\{name}" for name in payload_files("machine", "9.3.1"))
    with pytest.raises(ValueError, match=rf"the \.msi alone does not hold.*missing: {missing}"):
        make_action()._run(host, url_args(url="https://packages.example.com/Suite.msi"))
    assert host.calls[0][1]["expand"] is False
    assert host.calls[1][1]["path"] == CACHED + r"\Suite.msi"
    assert "Invoke-Msiexec" not in host.names()


def test_zip_missing_a_payload_file_fails_naming_it(built_packages: Path) -> None:
    host = url_host(built_packages, files=["Suite.msi", r"payload\manifest.xml"])
    missing = ", ".join(f"payload\\\\{name}" for name in payload_files("machine", "9.3.1") if name != "manifest.xml")
    with pytest.raises(ValueError, match=rf"the zip does not hold.*missing: {missing}$"):
        make_action()._run(host, url_args())


def test_url_check_mode_never_downloads(built_packages: Path) -> None:
    host = url_host(built_packages)
    result = make_action(check_mode=True, diff=True)._run(host, url_args())
    assert host.names() == ["Save-PackageUrl"]
    assert host.calls[0][1]["check_only"] is True
    assert (result["changed"], result["action"], result["downloaded"]) == (True, "install", False)
    assert "not in the host's package cache yet" in result["warnings"][0]
    assert result["diff"]["after"] == f"machine: {URL}\n"
    assert not host.lab.files.exists(CACHED)

    cached = url_host(built_packages, "machine-9.3.0", cached=True)
    exact = make_action(check_mode=True)._run(cached, url_args())
    assert cached.names() == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    assert (exact["action"], exact["previous_version"]) == ("upgrade", "9.3.0")
    assert cached.lab.msiexec_history == []


def test_untrusted_certificate_says_where_trust_comes_from(built_packages: Path) -> None:
    host = url_host(
        built_packages,
        failure=f"download of {URL} failed: The remote certificate is invalid according to the validation procedure.",
    )
    with pytest.raises(PrimitiveError, match="host does not trust the server's certificate"):
        make_action()._run(host, url_args())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url": "http://packages.example.com/suite.zip"}, r"url must be an https:// URL .*got scheme 'http'"),
        ({"checksum": "md5:" + "a" * 32}, "only SHA-256 is accepted, as sha256:<64 hex digits>"),
        ({"checksum": "a" * 40}, r"checksum must be sha256:<64 hex digits>.*\(40 characters\)"),
        ({"url": "https://packages.example.com/suite.exe"}, "url must name a .msi file, or a .zip"),
    ],
)
def test_bad_url_or_checksum_is_refused_before_the_host_is_touched(overrides: dict[str, str], message: str) -> None:
    host = FakeHost()
    with pytest.raises(ValueError, match=message):
        make_action()._run(host, url_args(**overrides))
    assert host.calls == []


def test_url_options_exclude_src_and_path_and_need_each_other() -> None:
    validator = ArgumentSpecValidator(
        msi_package.ARGUMENT_SPEC,
        mutually_exclusive=msi_package.MUTUALLY_EXCLUSIVE,
        required_if=msi_package.REQUIRED_IF,
        required_by=msi_package.REQUIRED_BY,
    )

    def errors(**params: t.Any) -> str:
        return " ".join(str(e) for e in validator.validate(params).errors)

    assert errors(url=URL, checksum=ZIP_SUM) == ""
    assert "mutually exclusive: src|path|url" in errors(url=URL, checksum=ZIP_SUM, path=r"C:\x.msi")
    assert "missing parameter(s) required by 'url': checksum" in errors(url=URL)
    assert "missing parameter(s) required by 'checksum': url" in errors(path=r"C:\x.msi", checksum=ZIP_SUM)
    assert "state is present but any of the following are missing: src, path, url" in errors()


def test_url_scope_user_installs_from_the_host_cache(built_packages: Path) -> None:
    host, _msi = user_host(built_packages, logged_on=("anna",))
    serve(host, built_packages, "user-9.3.1")
    result = make_action()._run(host, url_args(scope="user", active_setup=True))
    assert host.names()[:3] == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    msi = CACHED + r"\package\suite-9.3.1\Suite.msi"
    assert split_command_line(registered(host)[0]["command_line"])[:2] == ["/i", msi]
    setup = next(a for n, a in host.calls if n == "Set-ActiveSetup")
    assert msi in setup["stub_path"]
    assert (result["users"][0]["status"], result["downloaded"]) == ("changed", True)
    assert products(host) == [(U931, "9.3.1", "PC\\anna")]


def test_url_downgrade_downloads_before_removing_the_newer_version(built_packages: Path) -> None:
    host = url_host(built_packages, "machine-9.3.1", package="machine-9.3.0")
    facts = {"product_code": M930, "version": "9.3.0", "upgrade_code": M_FAMILY, "allow_downgrade": True}
    result = make_action()._run(host, url_args(**facts))
    assert host.names() == [
        "Get-InstalledProduct",
        "Save-PackageUrl",
        "Get-MsiProperty",
        "Invoke-Msiexec",
        "Invoke-Msiexec",
    ]
    assert result["action"] == "downgrade"
    assert products(host) == [(M930, "9.3.0", None)]
    offline = url_host(built_packages, "machine-9.3.1", failure="download of x failed: The operation has timed out")
    with pytest.raises(PrimitiveError, match="timed out"):
        make_action()._run(offline, url_args(**facts))
    assert "Invoke-Msiexec" not in offline.names()
    assert products(offline) == [(M931, "9.3.1", None)]  # the newer version is still there
