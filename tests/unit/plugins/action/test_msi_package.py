"""msi_package decisions with a fake host: what runs, in which order, and what is reported."""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _per_user, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import CallStats, PrimitiveError
from lab.host.msiexec import split_command_line

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
FAMILY = "{D5B73D5D-E084-5005-B246-8861ADA21E95}"


class FakeHost:
    def __init__(self, installed: list[dict[str, t.Any]], msiexec_rcs: list[int] | None = None) -> None:
        self.installed = installed
        self.msiexec_rcs = list(msiexec_rcs or [0])
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append((name, args))
        if name == "Get-InstalledProduct":
            return {"products": self.installed}
        if name == "Invoke-Msiexec":
            return {"rc": self.msiexec_rcs.pop(0), "log_tail": ["MSI (s) line", "MainEngineThread is returning 1603"]}
        if name == "Get-MsiProperty":
            return {"ProductCode": CODE, "ProductVersion": "9.3.1", "UpgradeCode": FAMILY}
        raise AssertionError(name)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


def make_action(check_mode: bool = False, diff: bool = False) -> msi_package.ActionModule:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=check_mode, diff=diff)
    return action


def args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(path=r"\\share\suite.msi", product_code=CODE, upgrade_code=FAMILY, version="9.3.1")
    base.update(overrides)
    return base


def machine(version: str, code: str = CODE) -> dict[str, t.Any]:
    return {"product_code": code, "upgrade_code": FAMILY, "version": version, "scope": "machine"}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    real = _retry.retry_while

    def fast(*a: t.Any, **k: t.Any) -> t.Any:
        k["sleep"] = slept.append
        return real(*a, **k)

    monkeypatch.setattr(_retry, "retry_while", fast)
    return slept


def test_equal_version_is_ok_in_one_command() -> None:
    host = FakeHost([machine("9.3.1")])
    result = make_action()._run(host, args())
    assert result["action"] == "none"
    assert result["changed"] is False
    assert host.names() == ["Get-InstalledProduct"]


def test_older_version_is_upgraded() -> None:
    host = FakeHost([machine("9.3.0", "{00000000-0000-0000-0000-000000000001}")])
    result = make_action()._run(host, args(product_code=None, upgrade_code=None, version=None))
    assert result["action"] == "upgrade"
    assert result["previous_version"] == "9.3.0"
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Invoke-Msiexec"]


def test_newer_version_is_left_alone_without_allow_downgrade() -> None:
    host = FakeHost([machine("9.4.0", "{00000000-0000-0000-0000-000000000002}")])
    assert make_action()._run(host, args())["action"] == "none"
    assert "Invoke-Msiexec" not in host.names()


def test_downgrade_removes_newer_first() -> None:
    newer = "{00000000-0000-0000-0000-000000000002}"
    host = FakeHost([machine("9.4.0", newer)], msiexec_rcs=[0, 0])
    result = make_action()._run(host, args(allow_downgrade=True))
    assert result["action"] == "downgrade"
    msiexec = [split_command_line(a["command_line"]) for n, a in host.calls if n == "Invoke-Msiexec"]
    assert msiexec[0][:2] == ["/x", newer]
    assert msiexec[1][:2] == ["/i", r"\\share\suite.msi"]


def test_check_mode_reports_and_runs_nothing() -> None:
    host = FakeHost([])
    result = make_action(check_mode=True, diff=True)._run(host, args())
    assert result["changed"] is True
    assert result["action"] == "install"
    assert host.names() == ["Get-InstalledProduct"]
    assert result["diff"] == {"before": "machine: not installed\n", "after": f"machine: {CODE} 9.3.1\n"}


def test_busy_installer_is_retried_then_succeeds(no_sleep: list[float]) -> None:
    host = FakeHost([], msiexec_rcs=[1618, 1618, 0])
    result = make_action()._run(host, args(busy_timeout=120))
    assert result["exit_code"] == 0
    assert result["busy_retries"] == 2
    assert len(no_sleep) == 2
    assert sum(no_sleep) <= 120


def test_busy_until_timeout_fails_with_meaning() -> None:
    host = FakeHost([], msiexec_rcs=[1618] * 50)
    result = make_action()._run(host, args(busy_timeout=30))
    assert result["failed"] is True
    assert result["exit_code"] == 1618
    assert "Another installation" in result["msg"]


def test_fatal_error_returns_code_meaning_and_log_tail() -> None:
    host = FakeHost([], msiexec_rcs=[1603])
    result = make_action()._run(host, args())
    assert result["failed"] is True
    assert result["exit_code"] == 1603
    assert result["log_tail"][-1] == "MainEngineThread is returning 1603"
    assert "1603" in result["msg"]
    assert "fatal" in result["msg"]


@pytest.mark.parametrize("rc", [3010, 1641])
def test_reboot_codes_succeed_with_reboot_required(rc: int) -> None:
    result = make_action()._run(FakeHost([], msiexec_rcs=[rc]), args())
    assert result.get("failed") is None
    assert result["reboot_required"] is True


def test_remove_absent_product_is_ok() -> None:
    host = FakeHost([])
    result = make_action()._run(host, args(state="absent", path=None, version=None))
    assert result["action"] == "none"
    assert host.names() == ["Get-InstalledProduct"]


def test_remove_installed_product() -> None:
    host = FakeHost([machine("9.3.1")])
    result = make_action()._run(host, args(state="absent", path=None, version=None))
    assert result["action"] == "remove"
    assert split_command_line(host.calls[-1][1]["command_line"])[:2] == ["/x", CODE]


def test_bad_product_code_names_the_option() -> None:
    with pytest.raises(ValueError, match="product_code must be a GUID"):
        make_action()._run(FakeHost([]), args(product_code="nope"))


def test_bad_version_is_refused_before_the_host_is_touched() -> None:
    host = FakeHost([])
    with pytest.raises(ValueError, match="not an MSI version"):
        make_action()._run(host, args(version="latest"))
    assert host.calls == []


def test_incomplete_payload_is_refused_naming_files(tmp_path: Path, msi_folder: Path) -> None:
    (msi_folder / "payload" / "manifest.xml").unlink()
    action = make_action()
    action._find_needle = lambda _kind, path: path  # type: ignore[method-assign]
    host = FakeHost([])
    with pytest.raises(ValueError, match=r"missing: payload\\manifest.xml"):
        action._run(host, args(src=str(msi_folder), path=None, product_code=None, version=None))
    assert host.calls == []


# -- scope: user ---------------------------------------------------------------------------------------------
SID_A = "S-1-5-21-1-2-3-1001"
SID_B = "S-1-5-21-1-2-3-1002"
SID_C = "S-1-5-21-1-2-3-1003"
ANNA = {"name": "PC\\anna", "account": "PC\\anna", "sid": SID_A, "session_id": 1, "error": None}
BEN = {"name": "PC\\ben", "account": "PC\\ben", "sid": SID_B, "session_id": 2, "error": None}
CARL = {"name": "carl", "account": "PC\\carl", "sid": SID_C, "session_id": None, "error": None}


class UserFakeHost(FakeHost):
    """The host side of scope=user: users and sessions, one-shot tasks that end after ``polls`` waits."""

    def __init__(
        self,
        installed: list[dict[str, t.Any]],
        users: list[dict[str, t.Any]],
        *,
        task_rcs: list[int] | None = None,
        polls: int = 1,
        all_users: str = "2",
        per_user_flag: str = "1",
        active_setup: dict[str, t.Any] | None = None,
    ) -> None:
        super().__init__(installed)
        self.users = users
        self.task_rcs = list(task_rcs or [])
        self.polls = polls
        self.msi_properties = {"ALLUSERS": all_users, "MSIINSTALLPERUSER": per_user_flag}
        self.active_setup = active_setup
        self._waits = 0

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        if name == "Get-InstallUser":
            self.calls.append((name, args))
            return {"users": self.users, "active_setup": self.active_setup}
        if name == "Get-MsiProperty":
            self.calls.append((name, args))
            return {"ProductCode": CODE, "ProductVersion": "9.3.1", "UpgradeCode": FAMILY, **self.msi_properties}
        if name in ("Register-UserInstallTask", "Set-ActiveSetup"):
            self.calls.append((name, args))
            self._waits = 0
            return {"state": "Running", "changed": True}
        if name == "Wait-UserInstallTask":
            self.calls.append((name, args))
            self._waits += 1
            if self._waits < self.polls:
                return {"finished": False, "state": "Running", "rc": None, "log_tail": []}
            rc = self.task_rcs.pop(0) if self.task_rcs else 0
            return {"finished": True, "state": "Removed", "rc": rc, "log_tail": ["MSI (s) x", f"returning {rc}"]}
        return super().run(name, args)

    def registered(self) -> list[dict[str, t.Any]]:
        return [a for n, a in self.calls if n == "Register-UserInstallTask"]


def per_user(version: str, sid: str, code: str = CODE) -> dict[str, t.Any]:
    return {**machine(version, code), "scope": "user", "sid": sid, "user": None}


def user_args(**overrides: t.Any) -> dict[str, t.Any]:
    return args(scope="user", **overrides)


def statuses(result: dict[str, t.Any]) -> dict[str, str]:
    return {u["user"]: u["status"] for u in result["users"]}


def test_user_install_runs_in_each_logged_on_users_task() -> None:
    host = UserFakeHost([], [ANNA, BEN])
    result = make_action()._run(host, user_args())
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
    first, second = host.registered()
    assert first["user"] == "PC\\anna"
    assert second["user"] == "PC\\ben"
    assert first["task_name"] == f"msi_package-{SID_A}"
    assert split_command_line(first["command_line"])[:5] == ["/i", r"\\share\suite.msi", "/qn", "/norestart", "/L*V"]
    assert split_command_line(first["command_line"])[5] == first["log_path"]
    assert "PC_anna" in first["log_path"]
    entry = result["users"][0]
    assert (entry["exit_code"], entry["reboot_required"], entry["previous_version"]) == (0, False, None)


def test_user_rerun_at_version_is_ok_in_two_commands() -> None:
    host = UserFakeHost([per_user("9.3.1", SID_A), per_user("9.3.1", SID_B)], [ANNA, BEN])
    result = make_action()._run(host, user_args(users=["anna", "ben"]))
    assert result["changed"] is False
    assert result["action"] == "none"
    assert statuses(result) == {"PC\\anna": "ok", "PC\\ben": "ok"}
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Get-InstallUser"]
    assert host.calls[2][1]["logged_on"] is False  # users named: only them


def test_user_idempotency_is_per_user_and_ignores_machine_products() -> None:
    host = UserFakeHost([machine("9.3.1"), per_user("9.3.0", SID_A, FAMILY), per_user("9.3.1", SID_B)], [ANNA, BEN])
    result = make_action()._run(host, user_args())
    anna, ben = result["users"]
    assert (anna["action"], anna["previous_version"], anna["status"]) == ("upgrade", "9.3.0", "changed")
    assert (ben["action"], ben["status"]) == ("none", "ok")
    assert [r["user"] for r in host.registered()] == ["PC\\anna"]


def test_user_not_logged_on_is_pending_not_failed() -> None:
    host = UserFakeHost([], [CARL])
    result = make_action()._run(host, user_args(users=["carl"]))
    assert result.get("failed") is None
    assert result["changed"] is False
    assert result["pending"] == ["PC\\carl"]
    assert result["users"][0]["action"] == "install"
    assert host.registered() == []


def test_user_unknown_account_fails_that_user_only() -> None:
    ghost = {"name": "ghost", "account": None, "sid": None, "session_id": None, "error": "not translated"}
    host = UserFakeHost([], [ghost, ANNA])
    result = make_action()._run(host, user_args(users=["ghost"], logged_on_users=True))
    assert result["failed"] is True
    assert "ghost: not translated" in result["msg"]
    assert statuses(result) == {"ghost": "failed", "PC\\anna": "changed"}


def test_user_check_mode_reports_per_user_and_runs_nothing() -> None:
    host = UserFakeHost([per_user("9.3.0", SID_B, FAMILY)], [ANNA, BEN, CARL])
    result = make_action(check_mode=True, diff=True)._run(host, user_args(users=["carl"], logged_on_users=True))
    assert result["changed"] is True
    assert statuses(result) == {"PC\\anna": "changed", "PC\\ben": "changed", "PC\\carl": "pending"}
    assert host.names() == ["Get-MsiProperty", "Get-InstalledProduct", "Get-InstallUser"]
    assert result["diff"]["before"] == (
        f"PC\\anna: not installed\nPC\\ben: {FAMILY} 9.3.0\nPC\\carl: not installed\nactive setup: none\n"
    )
    assert result["diff"]["after"] == (
        f"PC\\anna: {CODE} 9.3.1\nPC\\ben: {CODE} 9.3.1\nPC\\carl: not installed (pending: not logged on)\n"
        "active setup: none\n"
    )


def test_user_task_is_polled_until_it_ends() -> None:
    host = UserFakeHost([], [ANNA], polls=3)
    result = make_action()._run(host, user_args())
    assert result["users"][0]["status"] == "changed"
    assert host.names().count("Wait-UserInstallTask") == 3
    waits = [a["wait_seconds"] for n, a in host.calls if n == "Wait-UserInstallTask"]
    assert all(1 <= w <= _per_user.WAIT_SECONDS for w in waits)


def test_user_task_that_does_not_end_in_time_fails_naming_the_task() -> None:
    host = UserFakeHost([], [ANNA], polls=99)
    result = make_action()._run(host, user_args(user_timeout=0))
    assert result["failed"] is True
    assert f"msi_package-{SID_A}" in result["msg"]
    assert "user_timeout=0" in result["msg"]
    assert host.names().count("Wait-UserInstallTask") == 1


def test_user_failure_reports_code_and_log_and_goes_on_with_the_next_user() -> None:
    host = UserFakeHost([], [ANNA, BEN], task_rcs=[1603, 3010])
    result = make_action()._run(host, user_args())
    anna, ben = result["users"]
    assert (anna["status"], anna["exit_code"], anna["log_tail"][-1]) == ("failed", 1603, "returning 1603")
    assert (ben["status"], ben["reboot_required"]) == ("changed", True)
    assert result["failed"] is True
    assert "PC\\anna: msiexec install failed with exit code 1603" in result["msg"]
    assert result["reboot_required"] is True
    assert result["changed"] is True


def test_user_busy_installer_registers_the_task_again(no_sleep: list[float]) -> None:
    host = UserFakeHost([], [ANNA], task_rcs=[1618, 0])
    result = make_action()._run(host, user_args(busy_timeout=60))
    assert result["users"][0]["busy_retries"] == 1
    assert len(host.registered()) == 2
    assert len(no_sleep) == 1


def test_user_downgrade_uninstalls_in_the_users_context_first() -> None:
    newer = "{00000000-0000-0000-0000-000000000002}"
    host = UserFakeHost([per_user("9.4.0", SID_A, newer)], [ANNA])
    result = make_action()._run(host, user_args(allow_downgrade=True))
    assert result["action"] == "downgrade"
    assert [split_command_line(r["command_line"])[:2] for r in host.registered()] == [
        ["/x", newer],
        ["/i", r"\\share\suite.msi"],
    ]


def test_user_remove_and_active_setup_removed() -> None:
    host = UserFakeHost([per_user("9.3.1", SID_A)], [ANNA], active_setup={"version": "9,3,1", "stub_path": "x"})
    result = make_action()._run(host, user_args(state="absent", path=None, version=None))
    assert result["action"] == "remove"
    assert result["active_setup"]["action"] == "remove"
    assert split_command_line(host.registered()[0]["command_line"])[:2] == ["/x", CODE]
    assert ("Set-ActiveSetup", {"component": FAMILY, "state": "absent"}) in host.calls


def test_active_setup_registered_version_stamped_then_left_alone() -> None:
    host = UserFakeHost([per_user("9.3.1", SID_A)], [ANNA])
    result = make_action()._run(host, user_args(active_setup=True, properties={"BACKENDURL": "https://b e"}))
    assert result["changed"] is True
    assert result["active_setup"]["action"] == "register"
    (written,) = [a for n, a in host.calls if n == "Set-ActiveSetup"]
    assert written["component"] == FAMILY  # the family: the key survives major upgrades
    assert written["version"] == "9,3,1"
    assert written["stub_path"] == (
        r'msiexec.exe /i \\share\suite.msi /qn /norestart MSIRESTARTMANAGERCONTROL="Disable" BACKENDURL="https://b e"'
    )
    assert host.registered() == []

    again = UserFakeHost([per_user("9.3.1", SID_A)], [ANNA], active_setup=dict(written))
    rerun = make_action()._run(again, user_args(active_setup=True, properties={"BACKENDURL": "https://b e"}))
    assert rerun["changed"] is False
    assert rerun["active_setup"]["action"] == "none"

    older = UserFakeHost([per_user("9.3.1", SID_A)], [ANNA], active_setup={**written, "version": "9,3,0"})
    assert make_action()._run(older, user_args(active_setup=True))["active_setup"]["action"] == "update"


def test_active_setup_refuses_values_it_would_expand() -> None:
    host = UserFakeHost([], [ANNA])
    with pytest.raises(ValueError, match="active_setup: Active Setup expands"):
        make_action()._run(host, user_args(active_setup=True, properties={"P": "%PATH%"}))
    assert host.names() == ["Get-MsiProperty"]


@pytest.mark.parametrize(
    ("all_users", "flag", "properties"),
    [("1", "", {}), ("2", "", {}), ("2", "1", {"ALLUSERS": 1}), ("", "", {"MSIINSTALLPERUSER": "0", "ALLUSERS": 2})],
)
def test_user_scope_refuses_a_per_machine_package(all_users: str, flag: str, properties: dict[str, t.Any]) -> None:
    host = UserFakeHost([], [ANNA], all_users=all_users, per_user_flag=flag)
    with pytest.raises(ValueError, match=r"scope=user needs a per-user package .* install it with scope=machine"):
        make_action()._run(host, user_args(properties=properties))
    assert host.names() == ["Get-MsiProperty"]


def test_user_scope_accepts_a_package_without_allusers() -> None:
    host = UserFakeHost([], [ANNA], all_users="", per_user_flag="")
    assert make_action()._run(host, user_args())["users"][0]["status"] == "changed"


def test_user_options_need_scope_user() -> None:
    with pytest.raises(ValueError, match="apply only with scope=user"):
        make_action()._run(FakeHost([]), args(users=["anna"]))


def test_user_scope_needs_someone_to_install_for() -> None:
    with pytest.raises(ValueError, match="scope=user needs users, or logged_on_users=true"):
        make_action()._run(UserFakeHost([], []), user_args(logged_on_users=False))


# -- url: the host downloads the package ----------------------------------------------------------------------
ZIP_SUM = "5e" * 32
URL = "https://packages.example.com/suite/suite-9.3.1.zip"
CACHED = r"C:\ProgramData\rollout.windows\cache\url-5e5e5e5e5e5e5e5e"
PAYLOAD = [r"payload\ExampleSuite.Core.dll", r"payload\manifest.xml"]
# The rows Get-MsiProperty returns through COM: strings, "" for a null parent.
TABLES = {
    "Directory": [
        {"Directory": "TARGETDIR", "Directory_Parent": "", "DefaultDir": "SourceDir"},
        {"Directory": "INSTALLDIR", "Directory_Parent": "TARGETDIR", "DefaultDir": "EXAMPL~1|Example Suite:payload"},
    ],
    "Component": [{"Component": "Core", "Directory_": "INSTALLDIR"}],
    "File": [
        {"FileName": "CORE~1.DLL|ExampleSuite.Core.dll", "Component_": "Core", "Attributes": "8192"},
        {"FileName": "manifest.xml", "Component_": "Core", "Attributes": "8192"},
    ],
    "Media": [{"Cabinet": ""}],
}


class UrlFakeHost(UserFakeHost):
    """A host that downloads: Save-PackageUrl reports what its cache holds, Get-MsiProperty reads it there."""

    def __init__(
        self,
        installed: list[dict[str, t.Any]],
        *,
        files: list[str] | None = None,
        cached: bool = False,
        users: list[dict[str, t.Any]] | None = None,
        all_users: str = "1",
        failure: str | None = None,
    ) -> None:
        super().__init__(installed, users or [], all_users=all_users, per_user_flag="")
        self.files = files if files is not None else ["suite-9.3.1\\Suite.msi", *(f"suite-9.3.1\\{p}" for p in PAYLOAD)]
        self.cached = cached
        self.failure = failure

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        if name == "Save-PackageUrl":
            self.calls.append((name, args))
            if self.failure:
                raise PrimitiveError(name, self.failure, 1)
            present = self.cached or not args["check_only"]
            folder = args["directory"] + ("\\package" if args["expand"] else "")
            return {
                "present": present,
                "downloaded": present and not self.cached,
                "folder": folder,
                "files": self.files if present else [],
            }
        if name == "Get-MsiProperty" and args.get("payload"):
            self.calls.append((name, args))
            return {
                "path": args["path"],
                "ProductCode": CODE,
                "ProductVersion": "9.3.1",
                "UpgradeCode": FAMILY,
                **self.msi_properties,
                "word_count": 0,
                "tables": TABLES,
            }
        return super().run(name, args)


def url_args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {"path": None, "url": URL, "checksum": f"sha256:{ZIP_SUM}", "product_code": None, "version": None}
    return args(**{"upgrade_code": None, **base, **overrides})


def test_url_without_facts_downloads_then_decides_as_for_path() -> None:
    host = UrlFakeHost([])
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
    assert host.calls[1][1] == {"path": CACHED + r"\package\suite-9.3.1\Suite.msi", "payload": True}
    assert split_command_line(host.calls[-1][1]["command_line"])[:2] == [
        "/i",
        CACHED + r"\package\suite-9.3.1\Suite.msi",
    ]
    assert (result["action"], result["downloaded"], result["product_code"]) == ("install", True, CODE)


def test_url_rerun_from_cache_is_ok_and_downloads_nothing() -> None:
    host = UrlFakeHost([machine("9.3.1")], cached=True)
    result = make_action()._run(host, url_args())
    assert host.names() == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    assert (result["action"], result["changed"], result["downloaded"]) == ("none", False, False)


def test_url_with_facts_decides_before_downloading() -> None:
    installed = UrlFakeHost([machine("9.3.1")])
    result = make_action()._run(installed, url_args(product_code=CODE, version="9.3.1"))
    assert installed.names() == ["Get-InstalledProduct"]
    assert (result["action"], result["downloaded"]) == ("none", False)

    fresh = UrlFakeHost([])
    result = make_action()._run(fresh, url_args(product_code=CODE, version="9.3.1"))
    assert fresh.names() == ["Get-InstalledProduct", "Save-PackageUrl", "Get-MsiProperty", "Invoke-Msiexec"]
    assert (result["action"], result["downloaded"]) == ("install", True)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"product_code": "{00000000-0000-0000-0000-000000000009}"}, "does not match the package at https://"),
        ({"product_code": CODE, "version": "9.3.0"}, "version 9.3.0 does not match the package"),
    ],
)
def test_url_facts_that_are_not_the_packages_fail_before_msiexec(given: dict[str, str], message: str) -> None:
    host = UrlFakeHost([])
    with pytest.raises(ValueError, match=message):
        make_action()._run(host, url_args(**{"version": "9.3.1", **given}))
    assert "Invoke-Msiexec" not in host.names()


def test_bare_msi_that_needs_a_payload_folder_fails_naming_the_files() -> None:
    host = UrlFakeHost([], files=["Suite.msi"])
    with pytest.raises(ValueError, match=r"the \.msi alone does not hold.*missing: payload\\ExampleSuite.Core.dll, "):
        make_action()._run(host, url_args(url="https://packages.example.com/Suite.msi"))
    assert host.calls[0][1]["expand"] is False
    assert host.calls[1][1]["path"] == CACHED + r"\Suite.msi"
    assert "Invoke-Msiexec" not in host.names()


def test_zip_missing_a_payload_file_fails_naming_it() -> None:
    host = UrlFakeHost([], files=["Suite.msi", r"payload\manifest.xml"])
    with pytest.raises(ValueError, match=r"the zip does not hold.*missing: payload\\ExampleSuite.Core.dll$"):
        make_action()._run(host, url_args())


def test_url_check_mode_never_downloads() -> None:
    host = UrlFakeHost([])
    result = make_action(check_mode=True, diff=True)._run(host, url_args())
    assert host.names() == ["Save-PackageUrl"]
    assert host.calls[0][1]["check_only"] is True
    assert (result["changed"], result["action"], result["downloaded"]) == (True, "install", False)
    assert "not in the host's package cache yet" in result["warnings"][0]
    assert result["diff"]["after"] == f"machine: {URL}\n"

    cached = UrlFakeHost([machine("9.3.0", "{00000000-0000-0000-0000-000000000001}")], cached=True)
    exact = make_action(check_mode=True)._run(cached, url_args())
    assert cached.names() == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    assert (exact["action"], exact["previous_version"]) == ("upgrade", "9.3.0")


def test_untrusted_certificate_says_where_trust_comes_from() -> None:
    host = UrlFakeHost(
        [],
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
    host = UrlFakeHost([])
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


def test_url_scope_user_installs_from_the_host_cache() -> None:
    host = UrlFakeHost([], users=[ANNA], all_users="")
    result = make_action()._run(host, url_args(scope="user", active_setup=True))
    assert host.names()[:3] == ["Save-PackageUrl", "Get-MsiProperty", "Get-InstalledProduct"]
    msi = CACHED + r"\package\suite-9.3.1\Suite.msi"
    assert split_command_line(host.registered()[0]["command_line"])[:2] == ["/i", msi]
    setup = next(a for n, a in host.calls if n == "Set-ActiveSetup")
    assert msi in setup["stub_path"]
    assert (result["users"][0]["status"], result["downloaded"]) == ("changed", True)


def test_url_downgrade_downloads_before_removing_the_newer_version() -> None:
    newer = "{00000000-0000-0000-0000-000000000002}"
    host = UrlFakeHost([machine("9.4.0", newer)])
    host.msiexec_rcs = [0, 0]
    facts = {"product_code": CODE, "version": "9.3.1", "upgrade_code": FAMILY, "allow_downgrade": True}
    result = make_action()._run(host, url_args(**facts))
    assert host.names() == [
        "Get-InstalledProduct",
        "Save-PackageUrl",
        "Get-MsiProperty",
        "Invoke-Msiexec",
        "Invoke-Msiexec",
    ]
    assert result["action"] == "downgrade"
    offline = UrlFakeHost([machine("9.4.0", newer)], failure="download of x failed: The operation has timed out")
    with pytest.raises(PrimitiveError, match="timed out"):
        make_action()._run(offline, url_args(**facts))
    assert "Invoke-Msiexec" not in offline.names()  # the newer version is still there
