"""autoupdater_info against a lab host: the row in force and why, in the host's zone, and untrusted values."""

from __future__ import annotations

import json
import typing as t
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import autoupdater_info
from tests.unit.plugins.action.fakehost import FakeHost, action_for
from tests.unit.plugins.action.test_autoupdater import NAME, suite

STATE_KEY = r"Software\Example Corp\Example Office Suite\AutoUpdater"
DWORDS = ("DownloadAttempts", "InstallAttempts", "ProcessPolls")


@pytest.fixture
def host(built_packages: Path) -> FakeHost:
    """anna has 9.3.0 from the suite installer and is logged off; the host runs in Europe/Berlin."""
    lab_host = FakeHost("pc", users=["anna"])
    suite(lab_host, built_packages, "anna")
    return lab_host


def record(host: FakeHost, **values: t.Any) -> None:
    """What anna's updater left in her hive, written as the updater writes it."""
    key = f"HKU\\{host.lab.sid_of('anna')}\\{STATE_KEY}"
    for name, value in values.items():
        data = json.dumps(value) if isinstance(value, dict) else value
        kind = "REG_DWORD" if name in DWORDS and isinstance(data, int) else "REG_SZ"
        host.lab.registry.set_value(key, name, data, kind)


def now(host: FakeHost) -> datetime:
    """The host's clock as the primitive reports it, to the second (the installs took simulated time)."""
    return host.lab.clock.now().astimezone(UTC).replace(microsecond=0)


def info(host: FakeHost, **options: t.Any) -> dict[str, t.Any]:
    options.setdefault("name", NAME)
    return action_for(autoupdater_info, host, options).run(task_vars={})


def anna(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert result.get("failed") is not True, result
    assert result["winrm"]["commands"] == 1
    (user,) = result["users"]
    return user


def test_no_check_recorded_yet(host: FakeHost) -> None:
    result = info(host)
    user = anna(result)
    assert result["host"] == {
        "timezone_id": "W. Europe Standard Time",
        "zone": "Europe/Berlin",
        "zone_source": "windows_id",
        "utc_offset_minutes": None,
        "now": now(host).isoformat(),
    }
    assert (user["enabled"], user["row"], user["next_check"], user["settings_source"]) == (
        False,
        None,
        None,
        "defaults",
    )
    assert user["why"].startswith("The updater has recorded no check yet")
    assert user["attempts"]["download"] == {"used": 0, "limit": 5}
    assert user["requirements_unmet"] == []
    assert user["problems"] == []
    assert result["restrictions"][0]["name"] == "customizing_without_version"


def test_default_row_counts_from_the_last_check_with_the_stored_settings(host: FakeHost) -> None:
    record(
        host,
        LastCheck="2025-03-04T06:00:00Z",
        LastOutcome="no_update",
        Phase="idle",
        UpdaterVersion="9.3.0",
        Config={
            "update_check_interval": 7200,
            "error_interval": 600,
            "download_attempts": 3,
            "process_check_interval": 60,
            "process_check_attempts": 10,
            "install_attempts": 2,
        },
    )
    user = anna(info(host))
    assert (user["row"], user["settings_source"], user["updater_version"]) == ("default", "updater", "9.3.0")
    assert user["next_check"] == {
        "utc": "2025-03-04T08:00:00+00:00",
        "local": "2025-03-04T09:00:00+01:00",
        "due": False,
        "seconds_left": int((datetime(2025, 3, 4, 8, tzinfo=UTC) - now(host)).total_seconds()),
    }
    assert user["why"].startswith("Default (2 hours): the check at 2025-03-04 07:00:00 +0100 found nothing")
    assert user["attempts"]["install"] == {"used": 0, "limit": 2}


def test_apps_running_waits_for_local_midnight_in_the_hosts_zone(host: FakeHost) -> None:
    host.lab.apply_control({"behaviour": {"timezone": "America/New_York"}})
    record(host, LastCheck="2025-03-04T06:00:00Z", LastOutcome="apps_running", Phase="idle", PendingVersion="9.3.1")
    result = info(host)
    user = anna(result)
    assert result["host"]["zone"] == "America/New_York"
    assert user["row"] == "apps_running"
    # 06:00Z is 01:00 in New York: the next local midnight is 2025-03-05 00:00 -05:00.
    assert user["next_check"]["utc"] == "2025-03-05T05:00:00+00:00"
    assert user["pending_update"]["update"] is True
    assert user["restriction"] is None


def test_polling_and_error_rows(host: FakeHost) -> None:
    record(
        host,
        LastCheck="2025-03-04T06:58:00Z",
        LastOutcome="none",
        Phase="waiting_for_apps",
        ProcessPolls=3,
        DownloadAttempts=1,
        PendingVersion="9.3.1",
    )
    user = anna(info(host))
    assert (user["row"], user["schedule"]["phase"]) == ("apps_running", "polling")
    assert user["schedule"]["next_poll_at"] == "2025-03-04T07:00:00+00:00"
    assert user["attempts"]["polls"] == {"used": 3, "limit": 120}

    record(
        host,
        LastCheck="2025-03-04T06:30:00Z",
        LastOutcome="error",
        Phase="idle",
        LastError="checksum mismatch",
        DownloadAttempts=2,
        ProcessPolls=0,
    )
    user = anna(info(host))
    assert user["row"] == "error"
    assert user["next_check"]["utc"] == "2025-03-04T07:30:00+00:00"
    assert "download attempt 2 of 5 failed" in user["why"]
    assert user["last_error"] == "checksum mismatch"


def test_the_customizing_restriction_where_a_user_meets_it(host: FakeHost) -> None:
    record(host, LastCheck="2025-03-04T06:00:00Z", LastOutcome="no_update", PendingVersion="9.3.0")
    user = anna(info(host))
    assert user["restriction"]["name"] == "customizing_without_version"
    assert user["pending_update"]["update"] is False


def test_bad_values_are_named_not_used(host: FakeHost) -> None:
    record(
        host,
        LastCheck="yesterday",
        LastOutcome="exploded",
        Phase="idle",
        DownloadAttempts="3",
        InstallAttempts=4_000_000_000,
        Config="{not json",
        UpdaterVersion="9.3.0; rm -rf",
    )
    user = anna(info(host))
    text = " | ".join(user["problems"])
    for name in ("LastCheck", "LastOutcome", "DownloadAttempts", "InstallAttempts", "Config", "UpdaterVersion"):
        assert name in text
    assert (user["row"], user["last_outcome"], user["settings_source"]) == (None, "none", "defaults")
    assert user["download_attempts"] == 0


def test_an_unknown_zone_falls_back_to_the_offset_with_a_warning(host: FakeHost) -> None:
    host.answer("Get-AutoUpdater", lambda args: {**host.twin("Get-AutoUpdater", args), "timezone_id": "Mars Time"})
    record(host, LastCheck="2025-03-04T06:00:00Z", LastOutcome="apps_running")
    result = info(host)
    user = anna(result)
    assert (result["host"]["zone"], result["host"]["zone_source"]) == ("+01:00", "offset")
    assert "Mars Time" in result["warnings"][0]
    assert user["next_check"]["local"] == "2025-03-05T00:00:00+01:00"


def test_a_hostile_clock_and_entry_are_reported_not_fatal(host: FakeHost) -> None:
    def spoiled(args: dict[str, t.Any]) -> dict[str, t.Any]:
        answer = host.twin("Get-AutoUpdater", args)
        bogus = {**answer["products"][0], "sid": "not-a-sid"}
        return {
            **answer,
            "timezone_id": 7,
            "utc_offset_minutes": "x",
            "utc_now": None,
            "products": [*answer["products"], bogus],
        }

    host.answer("Get-AutoUpdater", spoiled)
    result = info(host)
    assert len(result["users"]) == 1
    text = " | ".join(result["problems"])
    assert "not-a-sid" in text
    assert "no usable UTC time" in text
    assert result["host"]["zone_source"] == "unknown"


def test_machine_only_and_users_without_install(built_packages: Path) -> None:
    lab_host = FakeHost("pc", users=["anna"])
    lab_host.install(built_packages / "machine-9.3.0")
    result = info(lab_host, users=["anna"])
    assert result["users"] == []
    assert result["users_without_install"] == ["anna"]
    assert result["machine_installs"] == [{"name": NAME, "version": "9.3.0"}]
    assert "only in the per-user variant" in result["msg"]
