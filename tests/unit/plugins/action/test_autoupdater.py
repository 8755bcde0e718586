"""autoupdater against a lab host: requirements refused before any write, per-user results, idempotence, cost."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import autoupdater
from lab.host.suite import suite_install
from tests.unit.plugins.action.fakehost import FakeHost, action_for

NAME = "Example Office Suite"
URL = "https://backend.example:8443"
POLICY = r"Software\Policies\Example Corp\Example Office Suite\AutoUpdater"
TASK_PATH = "\\rollout.windows\\AutoUpdater\\"


def suite(host: FakeHost, built: Path, user: str, version: str = "9.3.0") -> None:
    """``user`` installs ``version`` per user with the suite installer (from the user's package cache)."""
    result = host._loop.run_until_complete(suite_install(host.lab, user, built / f"user-{version}"))
    assert result.rc == 0, result


@pytest.fixture
def host(built_packages: Path) -> FakeHost:
    """anna (logged on) and ben (logged off) have 9.3.0 from the suite installer; carl has no install."""
    lab_host = FakeHost("pc", users=["anna", "ben", "carl"])
    lab_host.lab.logon("anna")
    suite(lab_host, built_packages, "anna")
    suite(lab_host, built_packages, "ben")
    lab_host.lab.logoff("ben")
    return lab_host


def run(host: FakeHost, check_mode: bool = False, diff: bool = False, **options: t.Any) -> dict[str, t.Any]:
    options.setdefault("name", NAME)
    return action_for(autoupdater, host, options, check_mode=check_mode, diff=diff).run(task_vars={})


def policy(host: FakeHost, user: str) -> dict[str, t.Any]:
    sid = host.lab.sid_of(user)
    with host.lab.registry.loaded(sid):
        return {
            name: host.lab.registry.get(f"HKU\\{sid}\\{POLICY}", name)
            for name in ("Enabled", "BackendUrl", "CertificateThumbprint")
        }


def task(host: FakeHost, user: str) -> dict[str, t.Any] | None:
    return host.lab.tasks.get((TASK_PATH + host.lab.sid_of(user)).lower())


def test_enable_every_user_then_rerun_costs_one_command(host: FakeHost) -> None:
    result = run(host, backend_url=URL + "/", diff=True)
    assert result["changed"] is True, result
    assert result["winrm"]["commands"] == 2
    assert host.names() == ["Get-AutoUpdater", "Set-AutoUpdater"]
    assert [(u["user"], u["changed"]) for u in result["users"]] == [("PC\\anna", True), ("PC\\ben", True)]
    for user in ("anna", "ben"):
        assert policy(host, user) == {"Enabled": 1, "BackendUrl": URL, "CertificateThumbprint": None}
        registered = task(host, user)
        assert registered is not None
        assert registered["trigger"] == {"type": "startup"}
        assert registered["action"]["exe"].endswith("\\ExampleSuite.Updater.exe")
        assert registered["action"]["arguments"] == ["/background"]
        assert (registered["logon_type"], registered["run_level"]) == ("S4U", "Limited")
    anna = result["users"][0]
    nothing = dict.fromkeys(("Enabled", "BackendUrl", "CertificateThumbprint"))
    assert anna["before"] == {"enabled": False, "policy": nothing, "task": None}
    assert anna["after"]["enabled"] is True
    assert anna["after"]["policy"]["BackendUrl"] == URL
    assert [d["before_header"] for d in result["diff"]] == ["PC\\anna", "PC\\ben"]
    # ben's hive was loaded for the moment and unloaded again
    assert host.lab.registry.mounted() == {}

    again = run(host, backend_url=URL)
    assert again["changed"] is False
    assert again["winrm"]["commands"] == 1
    assert [u["changed"] for u in again["users"]] == [False, False]


def test_check_mode_sends_no_set_command(host: FakeHost) -> None:
    result = run(host, check_mode=True, backend_url=URL, users=["ben"])
    assert result["changed"] is True
    assert host.names() == ["Get-AutoUpdater"]
    assert task(host, "ben") is None
    assert policy(host, "ben")["Enabled"] is None
    assert [u["user"] for u in result["users"]] == ["PC\\ben"]


def test_thumbprint_is_normalised_written_and_removed_again(host: FakeHost) -> None:
    tp = "\u200eab cd" + "0" * 36
    run(host, backend_url=URL, backend_certificate_thumbprint=tp, users=["anna"])
    assert policy(host, "anna")["CertificateThumbprint"] == "ABCD" + "0" * 36
    result = run(host, backend_url=URL, users=["anna"])
    assert result["changed"] is True
    assert policy(host, "anna")["CertificateThumbprint"] is None
    assert host.calls[-1][1]["users"][0]["values"] == {"CertificateThumbprint": None}


def test_disable_keeps_the_key_and_removes_the_task(host: FakeHost) -> None:
    run(host, backend_url=URL)
    result = run(host, state="disabled", users=["PC\\ben"])
    assert result["changed"] is True
    assert policy(host, "ben")["Enabled"] == 0
    assert policy(host, "ben")["BackendUrl"] == URL
    assert task(host, "ben") is None
    assert task(host, "anna") is not None
    assert run(host, state="disabled", users=["ben"])["winrm"]["commands"] == 1


def test_a_changed_task_is_registered_again(host: FakeHost) -> None:
    run(host, backend_url=URL, users=["anna"])
    task(host, "anna")["action"]["arguments"] = ["/evil"]
    result = run(host, backend_url=URL, users=["anna"])
    assert result["changed"] is True
    assert host.calls[-1][1]["users"][0] == {
        "sid": host.lab.sid_of("anna"),
        "profile": "C:\\Users\\anna",
        "task": "register",
        "execute": task(host, "anna")["action"]["exe"],
        "argument": "/background",
    }
    assert task(host, "anna")["action"]["arguments"] == ["/background"]


def refused(result: dict[str, t.Any]) -> dict[str, list[str]]:
    assert result.get("failed") is True, result
    return {r["user"]: r["reasons"] for r in result["refusals"]}


def test_every_user_is_checked_before_anything_is_written(host: FakeHost, built_packages: Path) -> None:
    host.install(built_packages / "user-9.3.0", user="carl")  # msiexec from a staging folder, not the suite
    result = run(host, backend_url=URL)
    reasons = refused(result)
    assert list(reasons) == ["PC\\carl"]
    source = "not installed by the suite installer (its installation source is C:\\Staged\\user-9.3.0"
    assert source in reasons["PC\\carl"][0]
    assert "not under C:\\Users\\carl\\AppData\\Local\\Package Cache" in reasons["PC\\carl"][0]
    assert host.names() == ["Get-AutoUpdater"]
    assert policy(host, "anna")["Enabled"] is None
    assert task(host, "anna") is None


def test_version_8_3_has_no_updater(built_packages: Path) -> None:
    lab_host = FakeHost("pc", users=["dora"])
    suite(lab_host, built_packages, "dora", "8.3.0")
    reasons = refused(run(lab_host, backend_url=URL))
    assert reasons["PC\\dora"] == ["version 8.3.0 has no auto-updater (it comes with version 8.4 and later)"]


def test_webview2_machine_or_that_user(host: FakeHost) -> None:
    host.lab.apply_control({"behaviour": {"webview2": "user:anna"}})
    reasons = refused(run(host, backend_url=URL))
    assert list(reasons) == ["PC\\ben"]
    assert reasons["PC\\ben"][0].startswith("the WebView2 Runtime is not installed")
    assert run(host, backend_url=URL, users=["anna"])["changed"] is True


def test_per_machine_only_is_refused(built_packages: Path) -> None:
    lab_host = FakeHost("pc", users=["anna"])
    lab_host.install(built_packages / "machine-9.3.0")
    result = run(lab_host, backend_url=URL)
    assert result["failed"] is True
    assert "the auto-updater exists only in the per-user variant" in result["msg"]
    assert result["winrm"]["commands"] == 1


def test_a_user_without_the_product_is_refused(host: FakeHost) -> None:
    result = run(host, backend_url=URL, users=["anna", "carl"])
    assert result["failed"] is True
    assert "for: carl" in result["msg"]
    assert lab_nothing_written(host)


def lab_nothing_written(host: FakeHost) -> bool:
    return host.names() == ["Get-AutoUpdater"] and not any(task(host, u) for u in ("anna", "ben"))


def test_enabled_needs_backend_url(host: FakeHost) -> None:
    with pytest.raises(AnsibleActionFail, match="backend_url"):
        run(host)
    assert host.names() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend_url": "http://backend.example"}, "must be an https URL"),
        ({"backend_url": "https://u:pw@backend.example"}, "user name or password"),
        ({"backend_url": URL, "backend_certificate_thumbprint": "abc"}, "40 hexadecimal digits"),
        ({"backend_url": URL, "policy_key": "HKLM\\Software\\X"}, "policy_key must be a registry key relative"),
        ({"backend_url": URL, "settings_key": "Software\\..\\X"}, "settings_key"),
        ({"backend_url": URL, "updater_executable": "C:\\x\\u.exe"}, "updater_executable"),
        ({"backend_url": URL, "task_path": "\\a\\..\\b"}, "task_path"),
    ],
)
def test_bad_options_fail_before_any_command(host: FakeHost, options: dict[str, t.Any], message: str) -> None:
    result = run(host, **options)
    assert result["failed"] is True
    assert message in result["msg"], result
    assert "pw" not in result["msg"]
    assert host.names() == []


def test_a_hostile_answer_is_refused(host: FakeHost) -> None:
    def spoiled(args: dict[str, t.Any]) -> dict[str, t.Any]:
        answer = host.twin("Get-AutoUpdater", args)
        answer["products"][0]["sid"] = "S-1-5-21-1\\..\\x"
        return answer

    host.answer("Get-AutoUpdater", spoiled)
    result = run(host, backend_url=URL)
    assert result["failed"] is True
    assert "refused the host's answer" in result["msg"]
    assert host.names() == ["Get-AutoUpdater"]
