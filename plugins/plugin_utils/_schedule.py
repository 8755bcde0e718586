# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-user auto-updater's schedule as a pure model: which interval is in force, why, and when it ends.

The auto-updater on a client starts at every system restart, reads the time of its last update check and
checks again once the interval in force has elapsed. Which interval that is depends on what happened
last (an install, an error, Office applications still open, an error it cannot repair). Admins ask
"why has this PC not updated yet?", and the rollout has to know when a client will look again; both
answers come from here, so every module says the same thing.

The model is pure on purpose: no clock reads ("now" and each event's time are parameters), no host or
backend access, so weeks of an updater's life replay in microseconds and a separate simulation can be
compared with its predictions event by event. The one outside read is the time zone database, which
``zoneinfo`` loads once per zone name.

Choices the product's manual leaves open, made here once and deterministically:

- Intervals are elapsed time: 1 day is 24 hours, 7 days are 168 hours, also across a daylight-saving
  change. Only "next day at midnight" is wall-clock time on the host.
- Running out of install attempts gives the update up with the 7-day row, like an error the user is
  told about: retrying at once cannot repair it. Running out of download attempts is no such error (the
  next network may work): the version waits for the next regular check (the default row), which starts
  a new series of attempts.
- Office processes are polled first right after the download, then every ``process_check_interval``;
  the last allowed poll that still finds them open schedules the check for the next local midnight.
- Attempts are counted when they start (a download when a new version is found, an install when the
  applications are closed), so "2 of 5" while one runs means the second is under way.

This module holds the rules and is the one to import; the values they work on are defined in
``_schedule_types`` and the sentences that explain them in ``_schedule_text``.
"""

from __future__ import annotations

import math
import re
import typing as t
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from ansible_collections.rollout.windows.plugins.plugin_utils._schedule_text import duration, table, why
from ansible_collections.rollout.windows.plugins.plugin_utils._schedule_types import (
    AFTER_INSTALL_SECONDS,
    CUSTOMIZING_WITHOUT_VERSION,
    UNRECOVERABLE_SECONDS,
    Attempts,
    Event,
    Phase,
    Restriction,
    Row,
    Schedule,
    Settings,
    State,
    TableRow,
    UpdateVerdict,
    Zone,
    utc,
)

__all__ = [
    "AFTER_INSTALL_SECONDS",
    "CUSTOMIZING_WITHOUT_VERSION",
    "UNRECOVERABLE_SECONDS",
    "Attempts",
    "Event",
    "History",
    "Phase",
    "Restriction",
    "Row",
    "Schedule",
    "Settings",
    "State",
    "TableRow",
    "UpdateVerdict",
    "Zone",
    "advance",
    "allowed_events",
    "duration",
    "host_zone",
    "next_local_midnight",
    "offered_update",
    "predict",
    "replay",
    "schedule",
    "table",
]

_ALLOWED = {
    Phase.IDLE: (Event.CHECK_NO_UPDATE, Event.UPDATE_FOUND, Event.BACKEND_UNREACHABLE),
    Phase.DOWNLOADING: (Event.DOWNLOAD_OK, Event.DOWNLOAD_FAILED),
    Phase.POLLING: (Event.APPS_RUNNING, Event.APPS_CLOSED),
    Phase.INSTALLING: (Event.INSTALL_OK, Event.INSTALL_FAILED),
    # A check that finds the new version installed is an ordinary check without an update.
    Phase.VERIFYING: (Event.CHECK_NO_UPDATE, Event.INSTALL_CHECK_FAILED, Event.BACKEND_UNREACHABLE),
}


# ---- time ---------------------------------------------------------------------------------------------

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def host_zone(spec: Zone) -> tzinfo:
    """The host's time zone from a zone name (``Europe/Berlin``), an offset (``+01:00``, minutes east of
    UTC as an int, a timedelta) or a tzinfo. A fixed offset has no daylight saving: pass the zone name
    when the host observes it."""
    if isinstance(spec, tzinfo):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"not a time zone: {spec!r}")
    if isinstance(spec, int):
        spec = timedelta(minutes=spec)
    if isinstance(spec, timedelta):
        if abs(spec) >= timedelta(hours=24):
            raise ValueError(f"a UTC offset must be less than 24 hours, not {spec}")
        return timezone(spec)
    match = _OFFSET.match(spec.strip())
    if match:
        minutes = int(match.group(2)) * 60 + int(match.group(3))
        return host_zone(-minutes if match.group(1) == "-" else minutes)
    try:
        return ZoneInfo(spec.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {spec!r}: use an IANA name such as Europe/Berlin or +01:00") from error


def next_local_midnight(after: datetime, zone: Zone) -> datetime:
    """The first moment strictly after ``after`` at which the host's local date is a later day.

    Normally that is 00:00 of the next local day. When the clocks jump over midnight, it is the moment
    they jump (the new day's first existing time); when midnight occurs twice, the first occurrence that
    lies after ``after``. Both follow from "the start of the next day" and need no guess about the
    updater's internals; neither happens in Europe/Berlin, whose changes are at 02:00 and 03:00.
    Returned in UTC: Python compares a local time inside a repeated hour as unequal to every time in
    another zone, so local datetimes serve only for display.
    """
    after = utc("after", after)
    tz = host_zone(zone)
    day = after.astimezone(tz).date() + timedelta(days=1)
    wall = datetime.combine(day, time(0))
    for fold in (0, 1):
        real = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if real.astimezone(tz).replace(tzinfo=None) == wall and real > after:
            return real
    return _first_instant_of(day, tz, after)


def _first_instant_of(day: date, tz: tzinfo, after: datetime) -> datetime:
    """Bisect whole seconds for the first instant whose local date is ``day`` or later (a skipped midnight)."""

    def reached(second: int) -> bool:
        return datetime.fromtimestamp(second, UTC).astimezone(tz).date() >= day

    low = math.floor(after.timestamp())  # before the next day: after's own date is earlier
    high = low + 86_400
    while not reached(high):  # a skipped day still ends within two days of clock time
        high += 86_400
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reached(middle) else (middle, high)
    return datetime.fromtimestamp(high, UTC)


# ---- events -------------------------------------------------------------------------------------------

History = t.Iterable[tuple[datetime, Event | str]]


def allowed_events(state: State) -> frozenset[Event]:
    """The events that can follow ``state``; an error shown to the user can interrupt any phase."""
    return frozenset((*_ALLOWED[state.phase], Event.UNRECOVERABLE_ERROR))


def advance(state: State, event: Event | str, at: datetime, settings: Settings | None = None) -> State:
    """The state after ``event`` happened at ``at``.

    Events that cannot follow the state (a poll while idle, a download result without a download) are
    refused with ValueError rather than guessed at: a history that contains one disagrees with the
    product's sequence, and a comparison with a simulation should say so, not absorb it.
    """
    limits = settings or Settings()
    event = Event(event)
    at = utc("at", at)
    if at < state.at:
        raise ValueError(f"{event.value} at {at.isoformat()} is earlier than the last event ({state.at.isoformat()})")
    if event not in allowed_events(state):
        allowed = ", ".join(sorted(item.value for item in allowed_events(state)))
        raise ValueError(f"{event.value} cannot follow phase {state.phase.value}; expected one of: {allowed}")
    if state.phase is Phase.IDLE and not state.retrying:
        state = _replace(state, download_attempts=0, install_attempts=0, polls=0)  # a new update cycle
    common = {"at": at, "last_event": event}
    if event is Event.CHECK_NO_UPDATE:
        return State(at=at, last_event=event)
    if event is Event.BACKEND_UNREACHABLE:
        return _replace(state, **common, row=Row.ERROR)  # a verification stays due after the error interval
    if event is Event.UNRECOVERABLE_ERROR:
        return _replace(state, **common, phase=Phase.IDLE, row=Row.UNRECOVERABLE, retrying=False)
    if event is Event.UPDATE_FOUND:
        return _replace(
            state,
            **common,
            phase=Phase.DOWNLOADING,
            row=Row.DEFAULT,
            download_attempts=state.download_attempts + 1,
            polls=0,
            retrying=True,
        )
    if event is Event.DOWNLOAD_FAILED:
        if state.download_attempts >= limits.download_attempts:
            return _replace(state, **common, phase=Phase.IDLE, row=Row.DEFAULT, retrying=False)
        return _replace(state, **common, phase=Phase.IDLE, row=Row.ERROR)
    if event is Event.DOWNLOAD_OK:
        return _replace(state, **common, phase=Phase.POLLING, row=Row.APPS_RUNNING, polls=0)
    if event is Event.APPS_RUNNING:
        polls = state.polls + 1
        if polls >= limits.process_check_attempts:
            # The downloaded version waits for tomorrow; tomorrow's download is a new series of attempts.
            return _replace(state, **common, phase=Phase.IDLE, polls=polls, download_attempts=0)
        return _replace(state, **common, polls=polls)
    if event is Event.APPS_CLOSED:
        return _replace(
            state,
            **common,
            phase=Phase.INSTALLING,
            row=Row.AFTER_INSTALL,
            polls=state.polls + 1,
            install_attempts=state.install_attempts + 1,
        )
    if event is Event.INSTALL_OK:
        return _replace(state, **common, phase=Phase.VERIFYING)
    # INSTALL_FAILED or INSTALL_CHECK_FAILED: one install attempt is used up.
    if state.install_attempts >= limits.install_attempts:
        return _replace(state, **common, phase=Phase.IDLE, row=Row.UNRECOVERABLE, retrying=False)
    return _replace(state, **common, phase=Phase.IDLE, row=Row.ERROR, download_attempts=0, polls=0)


def replay(start: State, history: History, settings: Settings | None = None) -> State:
    """The state after every event of ``history`` (pairs of time and event, oldest first)."""
    state = start
    for at, event in history:
        state = advance(state, event, at, settings)
    return state


def predict(
    start: State, history: History, settings: Settings | None = None, zone: Zone = "UTC"
) -> tuple[Schedule, ...]:
    """The schedule right after each event of ``history``, to compare with what an updater did next."""
    answers = []
    state = start
    for at, event in history:
        state = advance(state, event, at, settings)
        answers.append(schedule(state, at, settings, zone))
    return tuple(answers)


def _replace(state: State, **changes: t.Any) -> State:
    values = {item.name: getattr(state, item.name) for item in fields(state)}
    values.update(changes)
    return State(**values)


# ---- the answer ---------------------------------------------------------------------------------------


def schedule(state: State, now: datetime, settings: Settings | None = None, zone: Zone = "UTC") -> Schedule:
    """Which row is in force for ``state`` at ``now``, why, and when the next update check is due.

    ``due_at`` never depends on ``now``: the updater counts from its last event, and ``now`` only says
    whether that moment has passed (an updater that was off then checks at its next start). While
    Office applications are being polled, ``due_at`` is where the polls lead if the applications stay
    open, and ``next_poll_at`` is the next poll.
    """
    limits = settings or Settings()
    now = utc("now", now)
    tz = host_zone(zone)
    next_poll: datetime | None = None
    if state.phase is Phase.POLLING:
        interval = timedelta(seconds=limits.process_check_interval)
        next_poll = state.at if state.polls == 0 else state.at + interval
        last_poll = next_poll + interval * max(limits.process_check_attempts - state.polls - 1, 0)
        due = next_local_midnight(last_poll, tz)
    elif state.row is Row.APPS_RUNNING:
        due = next_local_midnight(state.at, tz)
    else:
        due = state.at + timedelta(seconds=_row_seconds(state.row, limits))
    attempts = {
        "download": Attempts(state.download_attempts, limits.download_attempts),
        "install": Attempts(state.install_attempts, limits.install_attempts),
        "polls": Attempts(state.polls, limits.process_check_attempts),
    }
    return Schedule(
        row=state.row,
        why=why(state, limits, tz, next_poll, due),
        phase=state.phase,
        last_event_at=state.at,
        due_at=due,
        due_at_local=due.astimezone(tz).isoformat(),
        interval_seconds=int((due - state.at).total_seconds()),
        due=now >= due,
        seconds_left=max(0, math.ceil((due - now).total_seconds())),
        next_poll_at=next_poll,
        attempts=attempts,
    )


def _row_seconds(row: Row, limits: Settings) -> int:
    return {
        Row.AFTER_INSTALL: AFTER_INSTALL_SECONDS,
        Row.ERROR: limits.error_interval,
        Row.UNRECOVERABLE: UNRECOVERABLE_SECONDS,
        Row.DEFAULT: limits.update_check_interval,
    }[row]


def offered_update(installed_version: str, offered_version: str, customizing_changed: bool = False) -> UpdateVerdict:
    """Whether a release offered at the backend is an update for a client with ``installed_version``.

    Only a newer version is (compared as Windows Installer does, fourth field ignored). The same version
    with a changed customizing is named as the product's restriction, so a rollout can say why those
    clients will not move instead of waiting for them.
    """
    order = _msi.compare_versions(installed_version, offered_version)
    if order < 0:
        return UpdateVerdict(True, f"{offered_version} is newer than the installed {installed_version}.")
    if order == 0 and customizing_changed:
        return UpdateVerdict(False, CUSTOMIZING_WITHOUT_VERSION.message, CUSTOMIZING_WITHOUT_VERSION)
    return UpdateVerdict(False, f"{offered_version} is not newer than the installed {installed_version}.")
