"""Get-AutoUpdater and Set-AutoUpdater in the lab: hives loaded and unloaded as reg.exe does, the startup task."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lab import collection
from lab.host.autoupdater import startup_updaters
from lab.host.registry import ACCESS_DENIED, HIVE_IN_USE, HiveError
from lab.host.suite import suite_install
from lab.primitives import core

winhost = collection.winhost()
POLICY = r"Software\Policies\Example Corp\Example Office Suite\AutoUpdater"
SETTINGS = r"Software\Example Corp\Example Office Suite"
TASK_PATH = "\\rollout.windows\\AutoUpdater\\"
QUERY = {
    "name": "Example Office*",
    "users": [],
    "policy_key": POLICY,
    "settings_key": SETTINGS,
    "task_path": TASK_PATH,
    "updater_executable": "ExampleSuite.Updater.exe",
}


def call(host: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    rc, out, err = asyncio.run(core.run(host, name, args, host.username))
    return winhost.parse_output(name, rc, out, err)


@pytest.fixture
def host(kit: Any) -> Any:
    """anna (logged on) and ben (logged off) with the suite's 9.3.0 per user."""
    lab_host = kit.host(users=["anna", "ben"])
    for user in ("anna", "ben"):
        lab_host.logoff(user)
        result = asyncio.run(suite_install(lab_host, user, Path(kit.packages["user-9.3.0"]["dir"])))
        assert result.rc == 0
    lab_host.logon("anna")
    return lab_host


def entry(answer: dict[str, Any], user: str) -> dict[str, Any]:
    return next(p for p in answer["products"] if (p["user"] or "").endswith("\\" + user))


def test_get_reads_a_logged_off_users_hive_through_a_temporary_mount(host: Any) -> None:
    ben = host.sid_of("ben")
    host.registry.set_value(f"HKU\\{ben}\\{SETTINGS}\\AutoUpdater", "LastCheck", "2026-12-02T01:00:00Z")
    host.registry.set_value(f"HKU\\{ben}\\{SETTINGS}\\AutoUpdater", "DownloadAttempts", 2, "REG_DWORD")
    loads: list[str] = []
    real_load = host.registry.load_hive

    def spy(mount: str, sid: str) -> None:
        loads.append(mount)
        real_load(mount, sid)

    host.registry.load_hive = spy
    answer = call(host, "Get-AutoUpdater", QUERY)
    assert loads == [f"rw_{ben}"]  # anna's hive is loaded: read in place
    assert host.registry.mounted() == {}
    got = entry(answer, "ben")
    assert got["state"]["LastCheck"] == "2026-12-02T01:00:00Z"
    assert got["state"]["DownloadAttempts"] == 2
    assert got["profile"] == "C:\\Users\\ben"
    assert got["install_source"].startswith("C:\\Users\\ben\\AppData\\Local\\Package Cache\\{")
    assert got["install_dir"].endswith("\\Example Office Suite\\")
    assert got["updater_exists"] is True
    assert got["hive_error"] is None
    assert answer["webview2_machine"] == "131.0.2903.70"
    assert answer["timezone_id"] == "W. Europe Standard Time"


def test_get_filters_users_by_name_or_sid_and_reports_machine_installs(host: Any, kit: Any) -> None:
    assert [p["user"] for p in call(host, "Get-AutoUpdater", {**QUERY, "users": ["BEN"]})["products"]] == [
        f"{host.env()['COMPUTERNAME']}\\ben"
    ]
    by_sid = call(host, "Get-AutoUpdater", {**QUERY, "users": [host.sid_of("anna")]})["products"]
    assert [p["sid"] for p in by_sid] == [host.sid_of("anna")]


def test_a_hive_in_use_is_reported_in_reg_exes_words(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.registry, "is_hive_loaded", lambda sid: False)

    def in_use(mount: str, sid: str) -> None:
        raise HiveError(HIVE_IN_USE)

    monkeypatch.setattr(host.registry, "load_hive", in_use)
    got = entry(call(host, "Get-AutoUpdater", QUERY), "ben")
    assert got["hive_error"] == f"reg.exe load HKU\\rw_{host.sid_of('ben')} failed (1): {HIVE_IN_USE}"


def test_set_writes_the_policy_and_registers_the_startup_task(host: Any) -> None:
    ben = host.sid_of("ben")
    exe = entry(call(host, "Get-AutoUpdater", QUERY), "ben")["install_dir"] + "ExampleSuite.Updater.exe"
    values = {"Enabled": {"type": "DWord", "data": 1}, "BackendUrl": {"type": "String", "data": "https://b.example"}}
    args = {"policy_key": POLICY, "task_path": TASK_PATH}
    change = {"sid": ben, "profile": "C:\\Users\\ben", "values": values, "task": "register", "execute": exe}
    answer = call(host, "Set-AutoUpdater", {**args, "users": [{**change, "argument": "/background"}]})
    assert answer == {"users": [{"sid": ben, "values": ["Enabled", "BackendUrl"], "task": "register"}]}
    assert host.registry.mounted() == {}
    with host.registry.loaded(ben):
        assert host.registry.get(f"HKU\\{ben}\\{POLICY}", "Enabled") == 1
        assert host.registry.get_value(f"HKU\\{ben}\\{POLICY}", "BackendUrl").type == "REG_SZ"
    task = entry(call(host, "Get-AutoUpdater", QUERY), "ben")["task"]
    assert task == {
        "execute": exe,
        "arguments": "/background",
        "user_id": ben,
        "logon_type": "S4U",
        "run_level": "Limited",
        "triggers": ["MSFT_TaskBootTrigger"],
    }
    assert startup_updaters(host) == ["ben"]  # the simulated updater starts from it at a restart

    off = {
        "sid": ben,
        "profile": "C:\\Users\\ben",
        "values": {"Enabled": {"type": "DWord", "data": 0}, "BackendUrl": None},
    }
    answer = call(host, "Set-AutoUpdater", {**args, "users": [{**off, "task": "unregister"}]})
    assert answer["users"][0]["task"] == "unregister"
    with host.registry.loaded(ben):
        assert host.registry.get(f"HKU\\{ben}\\{POLICY}", "Enabled") == 0
        assert host.registry.get(f"HKU\\{ben}\\{POLICY}", "BackendUrl") is None
    assert startup_updaters(host) == []


def test_set_fails_when_the_hive_cannot_be_unloaded(host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(mount: str) -> None:
        raise HiveError(ACCESS_DENIED)

    monkeypatch.setattr(host.registry, "unload_hive", denied)
    ben = host.sid_of("ben")
    user = {"sid": ben, "profile": "C:\\Users\\ben", "values": {"Enabled": {"type": "DWord", "data": 0}}}
    rc, out, _ = asyncio.run(
        core.run(host, "Set-AutoUpdater", {"policy_key": POLICY, "task_path": TASK_PATH, "users": [user]}, "x")
    )
    assert rc == 1
    assert json.loads(out)["msg"] == f"reg.exe unload HKU\\rw_{ben} failed (1): {ACCESS_DENIED}"


def test_the_host_clock_follows_the_timezone_behaviour(host: Any) -> None:
    host.apply_control({"behaviour": {"timezone": "America/New_York"}})
    answer = call(host, "Get-AutoUpdater", QUERY)
    assert answer["timezone_id"] == "Eastern Standard Time"
    assert answer["utc_offset_minutes"] in (-300, -240)
    assert answer["utc_now"].endswith("Z")
