"""The auto-updater rollout's gate: pass, stop, wait or early from one ring's progress at the backend."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

import pytest

from ansible_collections.rollout.windows.plugins.filter import adoption

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def ring(
    *,
    adopted: int = 0,
    pending: int = 0,
    failed: int = 0,
    silent: int = 0,
    age: float | None = 3 * 3600,
) -> dict[str, t.Any]:
    def names(kind: str, n: int) -> list[str]:
        return [f"PC-{kind}{i}\\user" for i in range(n)]

    published = None if age is None else (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "name": "wave_2",
        "published_at": published,
        "adopted": names("a", adopted),
        "pending": names("p", pending),
        "failed": names("f", failed),
        "not_reporting": names("s", silent),
    }


def test_filter_is_registered() -> None:
    assert adoption.FilterModule().filters() == {
        "adoption_verdict": adoption.adoption_verdict,
        "seconds_since": adoption.seconds_since,
    }


def test_seconds_since_reads_the_backends_times_with_or_without_fractions() -> None:
    assert adoption.seconds_since("2026-12-02T11:00:00Z", NOW) == 3600
    assert adoption.seconds_since("2026-12-02T11:59:59.500000Z", NOW.timestamp()) == 0.5
    assert 0 <= adoption.seconds_since(datetime.now(UTC)) < 5


def test_the_criterion_reached_passes_even_with_clients_still_pending() -> None:
    verdict = adoption.adoption_verdict(ring(adopted=19, pending=1), 95, now=NOW, version="9.3.1")
    assert verdict["verdict"] == "pass"
    assert verdict["message"] == "wave_2 passed its gate: 95 % adopted 9.3.1 (19 of 20), gate at 95 %"


def test_clients_that_may_still_report_make_it_wait_with_the_status_line() -> None:
    verdict = adoption.adoption_verdict(ring(adopted=5, pending=1, silent=1), 95, now=NOW)
    assert verdict["verdict"] == "wait"
    assert verdict["message"].startswith("wave_2 published 3 h ago, 71.4 % adopted (5 of 7), gate at 95 %; ")
    assert verdict["message"].endswith("2 client(s) not done yet (PC-p0\\user, PC-s0\\user); run again to continue")
    assert verdict["open"] == ["PC-p0\\user", "PC-s0\\user"]


def test_below_the_criterion_with_every_client_reported_stops_naming_the_failed() -> None:
    verdict = adoption.adoption_verdict(ring(adopted=8, failed=2), 95, now=NOW)
    assert verdict["verdict"] == "stop"
    assert verdict["message"] == (
        "wave_2: every client reported and 80 % adopted (8 of 10), below the gate at 95 %; "
        "failed: PC-f0\\user, PC-f1\\user"
    )


def test_a_ring_younger_than_the_minimum_age_is_early_and_says_when_to_run_again() -> None:
    verdict = adoption.adoption_verdict(ring(adopted=4, age=3600), 95, min_age=86400, now=NOW)
    assert verdict["verdict"] == "early"
    assert verdict["retry_at"] == "2026-12-03T11:00:00Z"
    assert "run again from 2026-12-03T11:00:00Z" in verdict["message"]
    assert adoption.adoption_verdict(ring(adopted=4, age=86400), 95, min_age=86400, now=NOW)["verdict"] == "pass"


def test_the_minimum_age_does_not_delay_a_stop() -> None:
    assert adoption.adoption_verdict(ring(failed=1, age=60), 95, min_age=86400, now=NOW)["verdict"] == "stop"


def test_a_ring_not_published_waits_and_a_zero_criterion_passes_at_once() -> None:
    assert adoption.adoption_verdict(ring(adopted=1, age=None), 95, now=NOW)["verdict"] == "wait"
    assert adoption.adoption_verdict(ring(pending=3), 0, now=NOW)["verdict"] == "pass"


def test_an_empty_ring_passes() -> None:
    verdict = adoption.adoption_verdict(ring(), 95, now=NOW)
    assert (verdict["verdict"], verdict["percent"]) == ("pass", 100.0)


@pytest.mark.parametrize("now", [NOW, NOW.timestamp(), "2026-12-02T12:00:00Z", "2026-12-02T12:00:00"])
def test_now_is_read_as_text_epoch_or_datetime(now: t.Any) -> None:
    assert adoption.adoption_verdict(ring(pending=1), 95, now=now)["age"] == 3 * 3600


def test_many_open_clients_are_named_up_to_five() -> None:
    message = adoption.adoption_verdict(ring(silent=8), 95, now=NOW)["message"]
    assert "PC-s4\\user and 3 more" in message


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45 s"), (720, "12 min"), (3 * 3600, "3 h"), (2 * 86400, "2 d"), (52 * 3600, "2 d 4 h")]
)
def test_durations_read_as_a_person_says_them(seconds: int, text: str) -> None:
    assert adoption.duration(seconds) == text
