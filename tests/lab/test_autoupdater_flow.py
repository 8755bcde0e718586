"""The simulated auto-updater against the lab backend over HTTP, on a virtual clock (seed 003's figures)."""

from __future__ import annotations

import asyncio
import typing as t
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _autoupdater_kit import UpdaterKit

from lab.backend.state import Slot
from lab.host.autoupdater import start_updater
from lab.host.updater_client import CONNECTION_REFUSED
from lab.host.updater_state import PACKAGE_CACHE_MARK, iso_utc

Scenario = Callable[[UpdaterKit], Awaitable[None]]


@pytest.fixture
def packages(msi_packages: dict[str, dict[str, str]]) -> Path:
    return Path(msi_packages["user-9.3.0"]["dir"]).parent


def run(packages: Path, scenario: Scenario, **options: t.Any) -> None:
    async def main() -> None:
        async with UpdaterKit(packages, **options) as kit:
            await scenario(kit)

    asyncio.run(main())


def test_update_installed_checked_after_5_minutes_then_no_update(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        t0 = kit.now()
        assert start_updater(kit.host, kit.user) == 0
        await kit.run(1)
        state = kit.state()
        assert (state["LastCheck"], state["PendingVersion"], state["ProcessPolls"]) == (iso_utc(t0), "9.3.1", 1)
        assert state["Phase"] == "installing"
        assert state["LastOutcome"] == "none"
        await kit.run(297)  # msiexec is done; the check of the install comes 5 minutes after its start
        assert kit.version() == "9.3.1"
        assert kit.state()["Phase"] == "checking_install"
        assert kit.state()["LastOutcome"] == "none"
        await kit.run(3)
        state = kit.state()
        assert (state["LastOutcome"], state["UpdaterVersion"], state["PendingVersion"]) == ("installed", "9.3.1", "")
        assert state["Phase"] == "idle"
        confirmed = t0 + timedelta(seconds=300)
        assert state["LastCheck"] == iso_utc(confirmed)  # every step of the updater records its time
        # The 5-minute row was the install check; once the new version is confirmed the regular interval follows.
        await kit.run(86_400 - 3)
        assert kit.state()["LastCheck"] == iso_utc(confirmed)
        await kit.run(4)
        state = kit.state()
        assert (state["LastCheck"], state["LastOutcome"]) == (iso_utc(confirmed + timedelta(days=1)), "no_update")
        # The updater installed from the user's package cache, as the suite installer does.
        assert PACKAGE_CACHE_MARK in kit.product()["install_source"]
        reports = kit.backend.backend.clients.listing()
        assert [(r["client"], r["version"], r["outcome"]) for r in reports] == [("pc001\\alice", "9.3.1", "no_update")]
        assert kit.types() == {
            "UpdaterVersion": "REG_SZ",
            "LastCheck": "REG_SZ",
            "LastOutcome": "REG_SZ",
            "LastError": "REG_SZ",
            "DownloadAttempts": "REG_DWORD",
            "InstallAttempts": "REG_DWORD",
            "ProcessPolls": "REG_DWORD",
            "PendingVersion": "REG_SZ",
            "Phase": "REG_SZ",
            "Config": "REG_SZ",
        }

    run(packages, scenario)


def test_same_version_is_no_update_and_the_next_check_is_a_day_later(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.settings(error_interval=600)  # a customizing change: settings differ, the version does not
        t0 = kit.now()
        start_updater(kit.host, kit.user)
        await kit.run(1)
        assert kit.state()["LastOutcome"] == "no_update"
        assert '"error_interval": 600' in kit.state()["Config"]
        await kit.run(86400 - 2)
        assert kit.updater().checks == 1
        await kit.run(2)
        assert kit.updater().checks == 2
        assert kit.state()["LastCheck"] == iso_utc(t0 + timedelta(days=1))
        assert kit.version() == "9.3.0"

    run(packages, scenario, stable="9.3.0")


def test_backend_unreachable_is_retried_at_the_error_interval(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.apply_control({"faults": {"backend_unreachable": True}})
        start_updater(kit.host, kit.user)
        await kit.run(1)
        assert (kit.state()["LastOutcome"], kit.state()["LastError"]) == ("error", CONNECTION_REFUSED)
        await kit.run(3600 - 2)
        assert kit.updater().checks == 1
        kit.host.apply_control({"faults": {"backend_unreachable": False}})
        await kit.run(2 + 300)
        assert kit.updater().checks == 2
        assert kit.state()["LastOutcome"] == "installed"

    run(packages, scenario)


def test_a_backend_nobody_listens_on_gives_windows_words(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable(url="http://127.0.0.1:9")
        start_updater(kit.host, kit.user)
        await kit.run(1)
        assert kit.state()["LastError"] == CONNECTION_REFUSED

    run(packages, scenario)


def test_broken_downloads_count_up_to_five_then_wait_for_the_regular_check(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.apply_control({"faults": {"download_corrupt": 6}})
        start_updater(kit.host, kit.user)
        for attempt in range(1, 6):
            await kit.run(1)
            state = kit.state()
            assert (state["LastOutcome"], state["DownloadAttempts"]) == ("error", attempt)
            assert "does not match its checksum" in state["LastError"]
            assert kit.updater().checks == attempt
            await kit.run(3600 - 1)
        # Five failures: the version waits for the regular check (a day after the last attempt).
        assert kit.updater().checks == 5
        await kit.run(86400 - 3600 - 1)
        assert kit.updater().checks == 5
        await kit.run(2)  # a fresh round; the sixth corrupt download fails once more
        assert kit.state()["DownloadAttempts"] == 1
        await kit.run(3600 + 300)
        assert kit.state()["LastOutcome"] == "installed"
        assert kit.version() == "9.3.1"

    run(packages, scenario)


def test_office_never_closed_waits_120_polls_then_until_local_midnight_across_dst(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.host.logon(kit.user)
        kit.host.apply_control({"faults": {"office_never_closed": True}})
        kit.enable()
        t0 = kit.now()
        start_updater(kit.host, kit.user)
        await kit.run(1)
        assert (kit.state()["Phase"], kit.state()["ProcessPolls"]) == ("waiting_for_apps", 1)
        await kit.run(119 * 120 - 2)  # poll 120 is due 119 intervals after the first
        assert kit.state()["ProcessPolls"] == 119
        await kit.run(2)
        state = kit.state()
        assert (state["LastOutcome"], state["ProcessPolls"], state["Phase"]) == ("apps_running", 120, "idle")
        assert kit.version() == "9.3.0"
        # Saturday before summer time: local midnight is 23:00 UTC.
        assert t0.date() == datetime(2026, 3, 28).date()
        await kit.run_until(datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC))
        assert kit.state()["LastCheck"] == iso_utc(t0 + timedelta(seconds=119 * 120))  # the last poll's time
        await kit.run(2)
        assert kit.state()["LastCheck"] == "2026-03-28T23:00:00Z"
        # The Sunday the clocks change: the next midnight is 22:00 UTC.
        await kit.run_until(datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC))
        assert kit.state()["LastOutcome"] == "apps_running"
        assert kit.state()["LastCheck"] == "2026-03-29T02:58:00Z"  # 120 polls from midnight, the last at 02:58
        await kit.run(2)
        assert kit.state()["LastCheck"] == "2026-03-29T22:00:00Z"
        # Office closes for good: the next poll installs.
        kit.host.apply_control({"faults": {"office_never_closed": False}})
        for proc in kit.host.list_processes(["WINWORD.EXE"]):
            kit.host.stop_process(proc["pid"])
        await kit.run(120 + 300)
        assert kit.state()["LastOutcome"] == "installed"

    run(packages, scenario, start=datetime(2026, 3, 28, 10, 0, tzinfo=UTC))


def test_install_failures_five_times_is_unrecoverable_and_the_user_is_told(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.host.logon(kit.user)  # logged on without Office: the install may run, the message has a session
        kit.host.apply_control({"behaviour": {"msiexec_results": [1603] * 5}})
        kit.enable()
        start_updater(kit.host, kit.user)
        for attempt in range(1, 6):
            await kit.run(299)
            assert kit.state()["InstallAttempts"] == attempt - 1
            await kit.run(2)  # the install check, 5 minutes after the install started
            state = kit.state()
            assert state["InstallAttempts"] == attempt
            assert state["LastError"] == "the installation of 9.3.1 failed (msiexec exit code 1603)"
            if attempt < 5:
                assert state["LastOutcome"] == "error"
                await kit.run(3600 - 1)  # the next check, an error interval after this one
        assert kit.state()["LastOutcome"] == "unrecoverable"
        assert [m["user"] for m in kit.host.messages] == [kit.user]
        assert "could not be updated to 9.3.1" in kit.host.messages[0]["text"]
        checks = kit.updater().checks
        await kit.run(7 * 86400 - 2)
        assert kit.updater().checks == checks
        await kit.run(3 + 300)  # a new round after 7 days; msiexec works again
        assert kit.state()["LastOutcome"] == "installed"
        assert kit.state()["InstallAttempts"] == 0

    run(packages, scenario)


def test_full_sync_slots_make_the_download_wait(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.settings(max_parallel_syncs=1)
        throttle = kit.backend.backend.throttle
        throttle.set_limit(1)
        other = throttle.acquire("someone-else")
        kit.enable()
        start_updater(kit.host, kit.user)
        await kit.run(0.5)
        assert kit.state()["Phase"] == "downloading"
        assert throttle.usage()["waiting"] == 1
        assert isinstance(other, Slot)
        throttle.release(other.slot_id)
        await kit.run(2)
        assert kit.state()["Phase"] in ("installing", "checking_install")

    run(packages, scenario)


def test_not_enabled_does_nothing(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.host.registry.set_value(
            f"HKU\\{kit.sid}\\Software\\Policies\\Example Corp\\Example Office Suite\\AutoUpdater",
            "Enabled",
            0,
            "REG_DWORD",
        )
        start_updater(kit.host, kit.user)
        await kit.run(86400)
        with pytest.raises(FileNotFoundError):
            kit.state()
        assert kit.backend.backend.clients.listing() == []

    run(packages, scenario)


class FakeBackend:
    """A BackendClient that answers from memory and counts what it was asked."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.calls: list[str] = []

    async def settings(self) -> dict[str, t.Any]:
        self.calls.append("settings")
        return {"update_check_interval": 7200, "error_interval": 600, "max_parallel_syncs": None}

    async def release(self, channel: str, client: str) -> dict[str, t.Any]:
        self.calls.append(f"release {channel}")
        return {"channel": channel, "version": self.version, "packages": []}

    async def acquire_slot(self, client: str) -> tuple[str | None, float]:
        raise AssertionError("no download without a per-user package")

    async def release_slot(self, slot_id: str) -> None:
        raise AssertionError("no slot was taken")

    async def download(self, url: str) -> bytes:
        raise AssertionError("nothing to download")

    async def report(self, client: str, report: dict[str, t.Any]) -> None:
        self.calls.append(f"report {client} {report['outcome']}")


def test_an_injected_backend_client_and_a_release_without_a_per_user_package(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        fake = FakeBackend("9.4.0")
        kit.hub.client_for = lambda url, thumbprint: fake
        kit.enable()
        start_updater(kit.host, kit.user)
        await kit.run(1)
        state = kit.state()
        assert (state["LastOutcome"], state["LastError"]) == ("error", "release 9.4.0 has no per-user package")
        assert fake.calls == ["settings", "release stable", "report pc001\\alice error"]
        # The loaded settings are in force: defaults for what the backend did not send, its error interval.
        assert '"error_interval": 600' in state["Config"]
        assert '"download_attempts": 5' in state["Config"]
        await kit.run(600 - 2)
        assert kit.updater().checks == 1
        await kit.run(2)
        assert kit.updater().checks == 2

    run(packages, scenario)
