from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.plugin_utils import _schedule as s
from ansible_collections.rollout.windows.plugins.plugin_utils._schedule import Event, Phase, Row

T0 = datetime(2024, 6, 3, 9, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
BERLIN = ZoneInfo("Europe/Berlin")


def run(*events: Event | str, start: s.State | None = None, limits: s.Settings | None = None) -> s.State:
    """Events one minute apart from T0, as an updater reports them."""
    state = start or s.State(at=T0)
    return s.replay(state, [(state.at + MINUTE * (i + 1), event) for i, event in enumerate(events)], limits)


def answer(state: s.State, limits: s.Settings | None = None, zone: s.Zone = "UTC") -> s.Schedule:
    return s.schedule(state, state.at, limits, zone)


def until_downloaded(limits: s.Settings | None = None) -> s.State:
    return run(Event.UPDATE_FOUND, Event.DOWNLOAD_OK, limits=limits)


# ---- one example per row ------------------------------------------------------------------------------


def test_the_table_has_the_products_rows_and_defaults() -> None:
    rows = [row.as_dict() for row in s.table()]
    assert [(r["row"], r["interval"], r["setting"]) for r in rows] == [
        ("after_install", "5 minutes", None),
        ("error", "1 hour", "error_interval"),
        ("apps_running", "next day at midnight, host local time", None),
        ("unrecoverable", "7 days", None),
        ("default", "1 day", "update_check_interval"),
    ]
    configured = s.table(s.Settings(update_check_interval=7_200, error_interval=1_800))
    assert [r.interval for r in configured if r.setting] == ["30 minutes", "2 hours"]


def test_default_row_after_a_check_without_update() -> None:
    result = answer(run(Event.CHECK_NO_UPDATE))
    assert result.row is Row.DEFAULT
    assert result.interval_seconds == 86_400
    assert result.why.startswith("Default (1 day): the check at 2024-06-03 09:31:00 +0000 found nothing")
    assert answer(run(Event.CHECK_NO_UPDATE), s.Settings(update_check_interval=3_600)).interval_seconds == 3_600


def test_error_row_after_the_backend_is_unreachable() -> None:
    state = run(Event.BACKEND_UNREACHABLE)
    assert answer(state).row is Row.ERROR
    assert answer(state).due_at == state.at + timedelta(hours=1)
    assert answer(state, s.Settings(error_interval=600)).due_at == state.at + timedelta(minutes=10)
    assert "could not be reached" in answer(state).why


def test_after_install_row_when_the_install_starts_and_when_it_finished() -> None:
    installing = run(Event.APPS_CLOSED, start=until_downloaded())
    assert (installing.phase, answer(installing).row) == (Phase.INSTALLING, Row.AFTER_INSTALL)
    assert answer(installing).interval_seconds == 300
    assert "install attempt 1 of 5 started" in answer(installing).why
    verifying = run(Event.INSTALL_OK, start=installing)
    assert verifying.phase is Phase.VERIFYING
    assert answer(verifying).due_at == verifying.at + timedelta(minutes=5)
    verified = run(Event.CHECK_NO_UPDATE, start=verifying)
    assert (verified.row, verified.install_attempts, verified.retrying) == (Row.DEFAULT, 0, False)


def test_apps_running_row_moves_the_check_to_the_next_local_midnight() -> None:
    limits = s.Settings(process_check_attempts=3)
    state = run(Event.APPS_RUNNING, Event.APPS_RUNNING, start=until_downloaded(limits), limits=limits)
    polling = answer(state, limits, "Europe/Berlin")
    assert (state.phase, polling.row) == (Phase.POLLING, Row.APPS_RUNNING)
    assert polling.next_poll_at == state.at + timedelta(minutes=2)
    assert polling.attempts["polls"].as_dict() == {"used": 2, "limit": 3}
    assert "poll 2 of 3" in polling.why
    done = run(Event.APPS_RUNNING, start=state, limits=limits)
    result = answer(done, limits, "Europe/Berlin")
    assert (done.phase, result.row, result.next_poll_at) == (Phase.IDLE, Row.APPS_RUNNING, None)
    assert result.due_at == datetime(2024, 6, 3, 22, tzinfo=UTC)
    assert result.as_dict()["due_at_local"] == "2024-06-04T00:00:00+02:00"
    assert polling.due_at == result.due_at  # the prediction made while polling held
    assert "still open at the last of 3 polls" in result.why


def test_polling_starts_at_once_after_the_download() -> None:
    state = until_downloaded()
    result = answer(state)
    assert result.next_poll_at == state.at
    # 120 polls 2 minutes apart, the first at once: the last is 238 minutes later, still on 3 June.
    assert result.due_at == datetime(2024, 6, 4, tzinfo=UTC)


def test_unrecoverable_row_is_seven_days_after_the_error_shown() -> None:
    state = run(Event.UPDATE_FOUND, Event.UNRECOVERABLE_ERROR)
    result = answer(state)
    assert (state.phase, result.row) == (Phase.IDLE, Row.UNRECOVERABLE)
    assert result.due_at - state.at == timedelta(days=7)
    assert result.why.startswith("Unrecoverable error, user notified (7 days): an error that retrying cannot")


# ---- attempt limits -----------------------------------------------------------------------------------


def test_each_download_retry_waits_the_error_interval_until_the_attempts_are_used() -> None:
    state = s.State(at=T0)
    for attempt in range(1, 5):
        state = run(Event.UPDATE_FOUND, Event.DOWNLOAD_FAILED, start=state)
        result = answer(state)
        assert (result.row, result.interval_seconds) == (Row.ERROR, 3_600)
        assert result.attempts["download"].as_dict() == {"used": attempt, "limit": 5}
        assert f"download attempt {attempt} of 5 failed" in result.why
    state = run(Event.UPDATE_FOUND, Event.DOWNLOAD_FAILED, start=state)
    # Used up: no error the user is told about, so not the 7-day row; the regular check tries again.
    assert (answer(state).row, answer(state).interval_seconds) == (Row.DEFAULT, 86_400)
    assert "all 5 download attempts failed" in answer(state).why
    fresh = run(Event.UPDATE_FOUND, start=state)  # a day later: a new series of attempts
    assert fresh.download_attempts == 1


def test_download_attempts_are_configurable() -> None:
    limits = s.Settings(download_attempts=2)
    state = run(Event.UPDATE_FOUND, Event.DOWNLOAD_FAILED, Event.UPDATE_FOUND, Event.DOWNLOAD_FAILED, limits=limits)
    assert state.row is Row.DEFAULT


@pytest.mark.parametrize("failure", [Event.INSTALL_FAILED, Event.INSTALL_CHECK_FAILED])
def test_install_attempts_count_failed_installs_and_failed_checks(failure: Event) -> None:
    after_failure = {Event.INSTALL_FAILED: (), Event.INSTALL_CHECK_FAILED: (Event.INSTALL_OK,)}[failure]
    state = s.State(at=T0)
    for attempt in range(1, 6):
        state = run(Event.UPDATE_FOUND, Event.DOWNLOAD_OK, Event.APPS_CLOSED, *after_failure, failure, start=state)
        assert state.install_attempts == attempt
        assert state.download_attempts == (0 if attempt < 5 else 1)  # a retry downloads again, afresh
    assert answer(state).row is Row.UNRECOVERABLE
    assert "All 5 install attempts are used" in answer(state).why
    limits = s.Settings(install_attempts=1)
    once = run(Event.UPDATE_FOUND, Event.DOWNLOAD_OK, Event.APPS_CLOSED, *after_failure, failure, limits=limits)
    assert once.row is Row.UNRECOVERABLE


def test_polls_are_configurable_and_the_day_after_keeps_the_install_attempts() -> None:
    limits = s.Settings(process_check_interval=60, process_check_attempts=2)
    state = run(Event.APPS_RUNNING, Event.APPS_RUNNING, start=until_downloaded(limits), limits=limits)
    assert (state.phase, state.polls, state.retrying) == (Phase.IDLE, 2, True)
    again = run(Event.UPDATE_FOUND, Event.DOWNLOAD_OK, Event.APPS_RUNNING, start=state, limits=limits)
    assert answer(again, limits).next_poll_at == again.at + timedelta(minutes=1)
    assert again.download_attempts == 1


# ---- refused input ------------------------------------------------------------------------------------


def test_events_out_of_sequence_are_refused() -> None:
    with pytest.raises(ValueError, match="apps_running cannot follow phase idle"):
        s.advance(s.State(at=T0), Event.APPS_RUNNING, T0)
    with pytest.raises(ValueError, match="earlier than the last event"):
        s.advance(s.State(at=T0), Event.CHECK_NO_UPDATE, T0 - MINUTE)
    with pytest.raises(ValueError, match="with a time zone"):
        s.advance(s.State(at=T0), Event.CHECK_NO_UPDATE, datetime(2024, 6, 3))
    with pytest.raises(ValueError, match="not_an_event"):
        s.advance(s.State(at=T0), "not_an_event", T0)


def test_settings_come_from_the_backend_and_must_be_positive() -> None:
    backend = {**s.Settings().as_dict(), "error_interval": 1_800, "max_parallel_syncs": 200}
    assert s.Settings.from_backend(backend).error_interval == 1_800
    for bad in (0, -5, True, "60"):
        with pytest.raises(ValueError, match="install_attempts"):
            s.Settings(install_attempts=bad)  # type: ignore[arg-type]


def test_zones_by_name_and_by_offset() -> None:
    after = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    expected = datetime(2024, 6, 4, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    for zone in ("+05:30", "+0530", 330, timedelta(minutes=330), timezone(timedelta(minutes=330))):
        assert s.next_local_midnight(after, zone) == expected
    assert s.next_local_midnight(after, "-03:00") == datetime(2024, 6, 4, 3, tzinfo=UTC)
    for bad in ("Mars/Olympus", 24 * 60, True):
        with pytest.raises(ValueError, match=r"time zone|less than 24 hours"):
            s.host_zone(bad)


# ---- midnight and daylight saving ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after_utc", "midnight_utc"),
    [
        # Last Sunday of March: the night before is still +01:00, the night after already +02:00.
        (datetime(2024, 3, 30, 20, 0, tzinfo=UTC), datetime(2024, 3, 30, 23, 0, tzinfo=UTC)),
        (datetime(2024, 3, 31, 1, 30, tzinfo=UTC), datetime(2024, 3, 31, 22, 0, tzinfo=UTC)),
        # Last Sunday of October: midnight before the change is +02:00, the one after it +01:00.
        (datetime(2024, 10, 26, 20, 0, tzinfo=UTC), datetime(2024, 10, 26, 22, 0, tzinfo=UTC)),
        (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), datetime(2024, 10, 27, 23, 0, tzinfo=UTC)),
        # Exactly at midnight: the next one, a day later.
        (datetime(2024, 3, 30, 23, 0, tzinfo=UTC), datetime(2024, 3, 31, 22, 0, tzinfo=UTC)),
    ],
)
def test_midnight_in_berlin_across_the_daylight_saving_changes(after_utc: datetime, midnight_utc: datetime) -> None:
    midnight = s.next_local_midnight(after_utc, "Europe/Berlin")
    assert midnight == midnight_utc
    local = midnight.astimezone(BERLIN)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)


def test_a_skipped_midnight_is_the_moment_the_clocks_jump() -> None:
    # Santiago moved from 00:00 -04:00 to 01:00 -03:00 on 8 September 2024.
    midnight = s.next_local_midnight(datetime(2024, 9, 7, 12, tzinfo=UTC), "America/Santiago")
    assert midnight == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert midnight.astimezone(ZoneInfo("America/Santiago")).hour == 1
    # Samoa skipped 30 December 2011 altogether: the next day to start was the 31st.
    apia = s.next_local_midnight(datetime(2011, 12, 29, 12, tzinfo=UTC), "Pacific/Apia")
    assert apia == datetime(2011, 12, 30, 10, tzinfo=UTC)
    assert apia.astimezone(ZoneInfo("Pacific/Apia")).date().isoformat() == "2011-12-31"


def test_a_midnight_that_occurs_twice_is_its_first_occurrence() -> None:
    # Havana set its clocks back from 01:00 -04:00 to 00:00 -05:00 on 3 November 2024.
    midnight = s.next_local_midnight(datetime(2024, 11, 2, 12, tzinfo=UTC), "America/Havana")
    assert midnight == datetime(2024, 11, 3, 4, tzinfo=UTC)


def test_intervals_are_elapsed_time_across_a_change() -> None:
    state = s.State(at=datetime(2024, 10, 26, 10, tzinfo=BERLIN))  # 10:00 +02:00
    after = s.schedule(run(Event.UPDATE_FOUND, Event.UNRECOVERABLE_ERROR, start=state), T0, zone="Europe/Berlin")
    assert after.due_at_local == "2024-11-02T09:02:00+01:00"  # 24 h a day: an hour earlier on the wall clock
    assert after.due_at - after.last_event_at == timedelta(days=7)


# ---- the restriction ----------------------------------------------------------------------------------


def test_a_customizing_change_without_a_new_version_is_not_an_update() -> None:
    verdict = s.offered_update("9.3.1", "9.3.1", customizing_changed=True)
    assert (verdict.update, verdict.restriction) == (False, s.CUSTOMIZING_WITHOUT_VERSION)
    assert verdict.as_dict()["restriction"]["name"] == "customizing_without_version"
    assert s.offered_update("9.3.0", "9.3.1", customizing_changed=True).update is True
    assert s.offered_update("9.3.1", "9.3.1").as_dict() == {
        "update": False,
        "reason": "9.3.1 is not newer than the installed 9.3.1.",
        "restriction": None,
    }
    assert s.offered_update("9.3.1.7", "9.3.1.9").update is False  # Windows Installer ignores the fourth field


# ---- properties over event histories ------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "America/Havana", "Australia/Lord_Howe", 330]
LIMITS = st.builds(
    s.Settings,
    update_check_interval=st.sampled_from([300, 3_600, 86_400, 2_592_000]),
    error_interval=st.sampled_from([60, 3_600, 604_800]),
    download_attempts=st.integers(1, 4),
    process_check_interval=st.sampled_from([10, 120, 3_600]),
    process_check_attempts=st.integers(1, 4),
    install_attempts=st.integers(1, 4),
)
INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), start=INSTANTS, limits=LIMITS, zone=st.sampled_from(ZONES))
def test_invariants_hold_over_any_history(
    data: st.DataObject, start: datetime, limits: s.Settings, zone: s.Zone
) -> None:
    state = s.State(at=start)
    for _step in range(data.draw(st.integers(1, 40))):
        allowed = sorted(s.allowed_events(state), key=lambda item: item.value)
        refused = [item for item in Event if item not in allowed]
        if refused:
            with pytest.raises(ValueError, match="cannot follow"):
                s.advance(state, data.draw(st.sampled_from(refused)), state.at, limits)
        event = data.draw(st.sampled_from(allowed))
        at = state.at + timedelta(seconds=data.draw(st.integers(0, 3 * 86_400)))
        state = s.advance(state, event, at, limits)
        result = s.schedule(state, at, limits, zone)

        assert result.row in Row
        assert result.why.startswith(f"{result.row.title} (")
        assert result.due_at > state.at
        assert not result.due
        assert result.attempts["download"].used <= limits.download_attempts
        assert result.attempts["install"].used <= limits.install_attempts
        assert result.attempts["polls"].used <= limits.process_check_attempts
        if event is Event.UNRECOVERABLE_ERROR:
            assert result.due_at - at == timedelta(days=7)
        if result.row is Row.APPS_RUNNING:
            local = result.due_at.astimezone(s.host_zone(zone))
            assert local.date() > (result.next_poll_at or at).astimezone(s.host_zone(zone)).date()
        later = s.schedule(state, result.due_at, limits, zone)
        assert (later.due, later.seconds_left, later.due_at) == (True, 0, result.due_at)
        assert s.State.from_dict(state.as_dict()) == state
        assert result.as_dict()["row"] == result.row.value


@settings(max_examples=200, deadline=None)
@given(after=INSTANTS, zone=st.sampled_from([*ZONES, "Pacific/Apia", "Asia/Tehran", "America/Sao_Paulo"]))
def test_midnight_is_the_first_moment_of_a_later_local_day(after: datetime, zone: s.Zone) -> None:
    tz = s.host_zone(zone)
    midnight = s.next_local_midnight(after, zone)
    assert midnight > after
    assert midnight.astimezone(tz).date() > after.astimezone(tz).date()
    assert (midnight - timedelta(seconds=1)).astimezone(tz).date() <= after.astimezone(tz).date()
    assert midnight - after <= timedelta(hours=49)  # a skipped day is the longest wait


def test_predict_is_the_schedule_after_each_event() -> None:
    history = [(T0 + MINUTE, Event.UPDATE_FOUND), (T0 + 2 * MINUTE, "download_failed")]
    answers = s.predict(s.State(at=T0), history, zone="Europe/Berlin")
    assert [a.row for a in answers] == [Row.DEFAULT, Row.ERROR]
    assert answers[-1].due_at == T0 + 2 * MINUTE + timedelta(hours=1)
    assert s.replay(s.State(at=T0), history).row is Row.ERROR
