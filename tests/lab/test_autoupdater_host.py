"""What the auto-updater needs of the host model: hive loading, the suite install, WebView2, time zone, tasks."""

from __future__ import annotations

import asyncio
import time
import typing as t
from pathlib import Path

import pytest
from _autoupdater_kit import UpdaterKit

from lab.control import ControlClient
from lab.host.autoupdater import NO_WEBVIEW2, TASK_PATH, UPDATER_EXE
from lab.host.behaviour import WEBVIEW2_MACHINE_KEY, WEBVIEW2_VERSION, webview2_user_key
from lab.host.registry import ACCESS_DENIED, HIVE_IN_USE, INVALID_PARAMETER, HiveError, pack_guid
from lab.host.suite import bundle_guid, package_folder, suite_install
from lab.host.updater_client import CERTIFICATE_INVALID
from lab.host.updater_state import STATE_KEY
from lab.testing import start_test_fleet

USERDATA = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData"


@pytest.fixture
def packages(msi_packages: dict[str, dict[str, str]]) -> Path:
    return Path(msi_packages["user-9.3.0"]["dir"]).parent


# -- reg load / reg unload ----------------------------------------------------------------------------------
def test_a_loaded_hive_maps_the_users_data_and_unloading_hides_it_again(kit: t.Any) -> None:
    host = kit.host(users=["alice"])
    host.logoff("alice")
    sid = host.sid_of("alice")
    mount = f"rw_{sid}"
    assert not host.registry.key_exists(f"HKU\\{sid}\\Software")
    host.registry.load_hive(mount, sid)
    assert host.registry.key_exists(f"HKU\\{mount}\\Software")
    assert mount in host.registry.subkeys("HKU")
    host.registry.set_value(f"HKU\\{mount}\\Software\\Probe", "Seen", 1, "REG_DWORD")
    assert not host.registry.key_exists(f"HKU\\{sid}\\Software\\Probe")  # still not logged on: HKU\<SID> absent
    host.registry.unload_hive(mount)
    assert not host.registry.key_exists(f"HKU\\{mount}\\Software")
    assert mount not in host.registry.subkeys("HKU")
    with host.registry.loaded(sid):
        assert host.registry.get(f"HKU\\{sid}\\Software\\Probe", "Seen") == 1  # written to the user's hive


def test_reg_load_and_unload_refuse_as_windows_does(kit: t.Any) -> None:
    host = kit.host(users=["alice", "bob"])
    host.logoff("bob")
    host.logon("alice")
    alice, bob = host.sid_of("alice"), host.sid_of("bob")
    with pytest.raises(HiveError) as info:
        host.registry.load_hive(f"rw_{alice}", alice)  # logged on: NTUSER.DAT is in use
    assert (info.value.message, info.value.exit_code) == (HIVE_IN_USE, 1)
    assert HIVE_IN_USE == "ERROR: The process cannot access the file because it is being used by another process."
    host.registry.load_hive(f"rw_{bob}", bob)
    with pytest.raises(HiveError) as info:
        host.registry.load_hive(f"rw_{bob}", bob)
    assert info.value.message == ACCESS_DENIED
    with host.registry.open_handle(f"rw_{bob}"), pytest.raises(HiveError) as info:
        host.registry.unload_hive(f"rw_{bob}")
    assert info.value.message == "ERROR: Access is denied."
    host.registry.unload_hive(f"rw_{bob}")  # the handle is closed now
    with pytest.raises(HiveError) as info:
        host.registry.unload_hive(f"rw_{bob}")
    assert info.value.message == INVALID_PARAMETER


# -- suite install ------------------------------------------------------------------------------------------
def test_suite_install_records_its_package_cache_as_install_source(kit: t.Any, packages: Path) -> None:
    host = kit.host(users=["alice"])
    result = asyncio.run(suite_install(host, "alice", package_folder(packages, "9.3.0")))
    assert result.rc == 0
    sid = host.sid_of("alice")
    product = next(p for p in host.products.values() if p["sid"] == sid)
    expected = f"C:\\Users\\alice\\AppData\\Local\\Package Cache\\{bundle_guid('9.3.0')}\\"
    assert product["install_source"] == expected
    assert product["scope"] == "user"
    props = f"{USERDATA}\\{sid}\\Products\\{pack_guid(product['product_code'])}\\InstallProperties"
    assert host.registry.get(props, "InstallSource") == expected
    assert host.registry.get(props, "DisplayVersion") == "9.3.0"
    assert host.files.is_file(f"{product['install_location'].rstrip(chr(92))}\\{UPDATER_EXE}")


def test_the_8_3_package_has_no_updater(kit: t.Any, packages: Path) -> None:
    host = kit.host(users=["alice"])
    assert asyncio.run(suite_install(host, "alice", package_folder(packages, "8.3.0"))).rc == 0
    product = next(p for p in host.products.values() if p["sid"] == host.sid_of("alice"))
    assert product["version"] == "8.3.0"
    assert host.files.is_file(f"{product['install_location'].rstrip(chr(92))}\\manifest.xml")
    assert not host.files.exists(f"{product['install_location'].rstrip(chr(92))}\\{UPDATER_EXE}")
    with pytest.raises(KeyError, match=r"no per-user package 7\.0\.0"):
        package_folder(packages, "7.0.0")


# -- WebView2 and the time zone -----------------------------------------------------------------------------
def test_webview2_and_timezone_behaviours_are_in_the_registry(kit: t.Any) -> None:
    host = kit.host(users=["alice", "bob"])
    alice = host.sid_of("alice")
    tz_key = r"HKLM\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"
    assert host.registry.get(WEBVIEW2_MACHINE_KEY, "pv") == WEBVIEW2_VERSION == "131.0.2903.70"
    assert host.registry.get(tz_key, "TimeZoneKeyName") == "W. Europe Standard Time"
    state = host.apply_control({"behaviour": {"webview2": "user:Alice", "timezone": "America/New_York"}})
    assert (state["behaviour"]["webview2"], state["behaviour"]["timezone"]) == ("user:alice", "America/New_York")
    assert not host.registry.key_exists(WEBVIEW2_MACHINE_KEY)
    with host.registry.loaded(alice):
        assert host.registry.get(webview2_user_key(alice), "pv") == WEBVIEW2_VERSION
    assert host.registry.get(tz_key, "TimeZoneKeyName") == "Eastern Standard Time"
    host.apply_control({"behaviour": {"webview2": "none"}})
    with host.registry.loaded(alice):
        assert not host.registry.key_exists(webview2_user_key(alice))
    for bad in ({"webview2": "user:nobody"}, {"webview2": "everywhere"}, {"timezone": "Mars/Olympus"}):
        with pytest.raises(ValueError, match="behaviour"):
            host.apply_control({"behaviour": bad})
    assert host.control_state()["behaviour"]["webview2"] == "none"


def test_the_updater_needs_webview2_per_machine_or_for_its_user(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.apply_control({"behaviour": {"webview2": "user:bob"}})
        kit.host.start_task(kit.sid, TASK_PATH)
        await kit.run(1)
        assert (kit.state()["LastOutcome"], kit.state()["LastError"]) == ("error", NO_WEBVIEW2)
        assert kit.backend.backend.clients.listing() == []  # it never got as far as the backend
        kit.host.apply_control({"behaviour": {"webview2": "user:alice,bob"}})
        await kit.run(3600 + 300)
        assert kit.state()["LastOutcome"] == "installed"

    asyncio.run(_in_kit(packages, scenario, users=("alice", "bob")))


# -- starting: the startup task at a restart, Start-ScheduledTask -----------------------------------------
def test_a_restart_starts_the_updater_of_each_startup_task(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.reboot(downtime_sim_seconds=90)
        await kit.run(89)
        assert kit.updater().checks == 0
        await kit.run(2)
        assert kit.updater().checks == 1
        assert kit.state()["PendingVersion"] == "9.3.1"
        # A restart in the middle of the install: the next start finds the 5-minute row in force (counted from the
        # install's start) and checks the install when it has elapsed, not before.
        kit.host.reboot(downtime_sim_seconds=10)
        await kit.run(11)
        assert (kit.state()["LastOutcome"], kit.state()["InstallAttempts"]) == ("none", 0)
        await kit.run(290)
        state = kit.state()
        assert (state["LastOutcome"], state["InstallAttempts"]) == ("error", 1)
        assert state["LastError"] == "the installation of 9.3.1 failed (the installation did not finish)"
        assert kit.version() == "9.3.0"
        # No task, no start.
        kit.host.unregister_task(kit.sid, TASK_PATH)
        started = kit.updater().started
        kit.host.reboot(downtime_sim_seconds=10)
        await kit.run(3600)
        assert kit.updater().started == started

    asyncio.run(_in_kit(packages, scenario))


def test_start_scheduled_task_starts_it_once(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.start_task(kit.sid, TASK_PATH)
        kit.host.start_task(kit.sid, TASK_PATH)  # one process at a time
        await kit.run(1)
        assert kit.updater().checks == 1
        task = kit.host.tasks[(TASK_PATH + kit.sid).lower()]
        assert task["last_result"] == 0

    asyncio.run(_in_kit(packages, scenario, stable="9.3.0"))


async def _in_kit(packages: Path, scenario: t.Callable[[UpdaterKit], t.Awaitable[None]], **options: t.Any) -> None:
    async with UpdaterKit(packages, **options) as kit:
        await scenario(kit)


# -- the control API route and a fleet's updaters over HTTPS ------------------------------------------------
def test_suite_install_route_and_the_fleet_updater(tmp_path: Path, packages: Path) -> None:
    fleet = start_test_fleet(tmp_path, clients=1, servers=0, backend=True, backend_packages=packages, time_scale=1000.0)
    try:
        control = ControlClient(fleet.control_url)
        name = "client-0001"
        host = fleet.fleet.hosts[name].host
        user = host.users[0]
        fleet.run_sync(lambda: host.logoff(user))
        answer = control.request("POST", f"/hosts/{name}/suite-install", {"user": user, "version": "9.3.0"})
        assert answer["rc"] == 0
        assert f"\\AppData\\Local\\Package Cache\\{bundle_guid('9.3.0')}\\" in answer["install_source"]
        with pytest.raises(Exception, match="no per-user package"):
            control.request("POST", f"/hosts/{name}/suite-install", {"user": user, "version": "1.0.0"})

        def enable() -> None:
            sid = host.sid_of(user)
            key = f"HKU\\{sid}\\Software\\Policies\\Example Corp\\Example Office Suite\\AutoUpdater"
            host.registry.set_value(key, "Enabled", 1, "REG_DWORD")
            assert fleet.fleet.backend is not None
            host.registry.set_value(key, "BackendUrl", fleet.fleet.backend.url)
            exe = f"{answer['install_source']}{UPDATER_EXE}"  # any path: the action's file name matters
            host.register_task(sid, user=user, trigger={"type": "startup"}, exe=exe, path=TASK_PATH)
            host.start_task(sid, TASK_PATH)

        fleet.run_sync(enable)
        backend = fleet.fleet.backend
        assert backend is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reports = fleet.run_sync(backend.backend.clients.listing)
            if reports and reports[-1]["outcome"] == "installed":
                break
            time.sleep(0.1)
        assert [(r["client"], r["version"], r["outcome"]) for r in reports] == [
            (f"{name}\\{user}", "9.3.1", "installed")
        ]

        # A pinned certificate that is not the backend's: refused, in .NET's words.
        def pin_wrong() -> None:
            key = f"HKU\\{host.sid_of(user)}\\Software\\Policies\\Example Corp\\Example Office Suite\\AutoUpdater"
            host.registry.set_value(key, "CertificateThumbprint", "00" * 20)
            host.clock.advance(86_400)  # to the next regular check after the confirmed install

        def state() -> dict[str, t.Any]:
            with host.registry.loaded(host.sid_of(user)):
                values = host.registry.values(f"HKU\\{host.sid_of(user)}\\{STATE_KEY}")
            return {k: v.data for k, v in values.items()}

        fleet.run_sync(pin_wrong)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and fleet.run_sync(state)["LastOutcome"] != "error":
            time.sleep(0.1)
        assert fleet.run_sync(state)["LastError"] == CERTIFICATE_INVALID
    finally:
        fleet.stop()
