"""msi_package decisions with a fake host: what runs, in which order, and what is reported."""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import CallStats

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
        return [name for name, _ in self.calls]


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

    monkeypatch.setattr(msi_package._retry, "retry_while", fast)
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
    msiexec = [a["arguments"] for n, a in host.calls if n == "Invoke-Msiexec"]
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
    assert host.calls[-1][1]["arguments"][:2] == ["/x", CODE]


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
