"""Seed 003's intervals as the simulated updater computes them (lab/host/updater_state.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lab.host.updater_state import UpdaterState, iso_utc, next_due, next_local_midnight

AT = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("installed", timedelta(days=1)),  # its 5-minute row is the install check itself (INSTALL_CHECK_DELAY)
        ("error", timedelta(minutes=60)),
        ("unrecoverable", timedelta(days=7)),
        ("no_update", timedelta(days=1)),
        ("none", timedelta(days=1)),
    ],
)
def test_table_rows_with_the_default_settings(outcome: str, expected: timedelta) -> None:
    assert next_due(UpdaterState(LastOutcome=outcome), AT, BERLIN) == AT + expected


def test_configured_intervals_come_from_the_loaded_config() -> None:
    config = json.dumps({"error_interval": 600, "update_check_interval": 3600})
    assert next_due(UpdaterState(LastOutcome="error", Config=config), AT, BERLIN) == AT + timedelta(minutes=10)
    assert next_due(UpdaterState(LastOutcome="no_update", Config=config), AT, BERLIN) == AT + timedelta(hours=1)
    broken = UpdaterState(LastOutcome="error", Config="{not json")
    assert next_due(broken, AT, BERLIN) == AT + timedelta(hours=1)


def test_download_attempts_used_up_wait_for_the_regular_check() -> None:
    state = UpdaterState(LastOutcome="error", DownloadAttempts=5)
    assert next_due(state, AT, BERLIN) == AT + timedelta(days=1)


def test_apps_running_waits_for_the_next_local_midnight() -> None:
    # 02:00 in Berlin (CET, +1) -> the next midnight is 23:00 UTC the same UTC day.
    assert next_due(UpdaterState(LastOutcome="apps_running"), AT, BERLIN) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert next_local_midnight(AT, "UTC") == datetime(2026, 12, 3, tzinfo=UTC)
    assert next_local_midnight(AT, "America/New_York") == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def test_midnight_across_the_dst_weekends_in_berlin() -> None:
    # Summer time starts on Sunday 2026-03-29 at 02:00 local: midnight before it is +1, after it +2.
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_local_midnight(saturday, BERLIN) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    sunday = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert next_local_midnight(sunday, BERLIN) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    # ... and ends on Sunday 2026-10-25 at 03:00 local: back to +1.
    assert next_local_midnight(datetime(2026, 10, 24, 12, tzinfo=UTC), BERLIN) == datetime(
        2026, 10, 24, 22, 0, tzinfo=UTC
    )
    assert next_local_midnight(datetime(2026, 10, 25, 12, tzinfo=UTC), BERLIN) == datetime(
        2026, 10, 25, 23, 0, tzinfo=UTC
    )
    # Just before local midnight: the one a few minutes away, not a day later.
    assert next_local_midnight(datetime(2026, 3, 28, 22, 55, tzinfo=UTC), BERLIN) == datetime(
        2026, 3, 28, 23, 0, tzinfo=UTC
    )


def test_last_check_format() -> None:
    assert iso_utc(datetime(2026, 12, 2, 1, 0, 0, 123456, tzinfo=UTC)) == "2026-12-02T01:00:00Z"
