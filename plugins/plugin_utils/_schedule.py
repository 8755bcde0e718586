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
"""

from __future__ import annotations

import enum
import math
import re
import typing as t
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi

AFTER_INSTALL_SECONDS = 5 * 60  # fixed by the product: the updater is closed by the install it started
UNRECOVERABLE_SECONDS = 7 * 86_400  # fixed by the product

Zone = str | int | timedelta | tzinfo  # what host_zone accepts


class Row(enum.Enum):
    """The rows of the product's interval table; every answer names exactly one."""

    AFTER_INSTALL = "after_install"
    ERROR = "error"
    APPS_RUNNING = "apps_running"
    UNRECOVERABLE = "unrecoverable"
    DEFAULT = "default"

    @property
    def title(self) -> str:
        """The row's name in sentences, so a "why" always starts with the row it explains."""
        return _TITLES[self]


_TITLES = {
    Row.AFTER_INSTALL: "After an install by the auto-updater",
    Row.ERROR: "After an error",
    Row.APPS_RUNNING: "Applications still running",
    Row.UNRECOVERABLE: "Unrecoverable error, user notified",
    Row.DEFAULT: "Default",
}


class Event(enum.Enum):
    """What an updater can report; values are the names a simulation or a host record uses."""

    CHECK_NO_UPDATE = "check_no_update"
    UPDATE_FOUND = "update_found"
    DOWNLOAD_FAILED = "download_failed"
    DOWNLOAD_OK = "download_ok"
    APPS_RUNNING = "apps_running"
    APPS_CLOSED = "apps_closed"
    INSTALL_OK = "install_ok"
    INSTALL_FAILED = "install_failed"
    INSTALL_CHECK_FAILED = "install_check_failed"
    UNRECOVERABLE_ERROR = "unrecoverable_error"
    BACKEND_UNREACHABLE = "backend_unreachable"


class Phase(enum.Enum):
    """Where the updater is between two events; it decides which events can come next."""

    IDLE = "idle"  # waiting for the next update check
    DOWNLOADING = "downloading"  # a new version was found, its download runs
    POLLING = "polling"  # downloaded, waiting for the Office applications to be closed
    INSTALLING = "installing"  # the installer runs (and closes the updater)
    VERIFYING = "verifying"  # the installer finished; the check 5 minutes later verifies it


_ALLOWED = {
    Phase.IDLE: (Event.CHECK_NO_UPDATE, Event.UPDATE_FOUND, Event.BACKEND_UNREACHABLE),
    Phase.DOWNLOADING: (Event.DOWNLOAD_OK, Event.DOWNLOAD_FAILED),
    Phase.POLLING: (Event.APPS_RUNNING, Event.APPS_CLOSED),
    Phase.INSTALLING: (Event.INSTALL_OK, Event.INSTALL_FAILED),
    # A check that finds the new version installed is an ordinary check without an update.
    Phase.VERIFYING: (Event.CHECK_NO_UPDATE, Event.INSTALL_CHECK_FAILED, Event.BACKEND_UNREACHABLE),
}


@dataclass(frozen=True)
class Settings:
    """The backend settings every updater loads at each check (names and seconds as the backend API has them).

    Only positivity is checked: the ranges an admin may set are the backend's rules, enforced where
    settings are written (``_backend.SETTING_RULES``); the model must describe whatever a client got.
    """

    update_check_interval: int = 86_400
    error_interval: int = 3_600
    download_attempts: int = 5
    process_check_interval: int = 120
    process_check_attempts: int = 120
    install_attempts: int = 5

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{item.name} must be a whole number of at least 1, not {value!r}")

    @classmethod
    def from_backend(cls, settings: t.Mapping[str, t.Any]) -> Settings:
        """From the backend's settings object; other keys (the sync throttle) are not the updater's."""
        names = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in settings.items() if key in names})

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)


@dataclass(frozen=True)
class TableRow:
    """One row of the interval table as an admin reads it."""

    row: Row
    situation: str
    interval: str
    setting: str | None  # the backend setting that changes it, None when the product fixes it

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)


def table(settings: Settings | None = None) -> tuple[TableRow, ...]:
    """The interval table with these settings, in the manual's order, for modules and reports to show."""
    s = settings or Settings()
    midnight = "next day at midnight, host local time"
    return (
        TableRow(Row.AFTER_INSTALL, "restart after the updater's own install", duration(AFTER_INSTALL_SECONDS), None),
        TableRow(Row.ERROR, "an error (also between download attempts)", duration(s.error_interval), "error_interval"),
        TableRow(Row.APPS_RUNNING, "Office applications still open after the last poll", midnight, None),
        TableRow(
            Row.UNRECOVERABLE, "an unrecoverable error the user was told about", duration(UNRECOVERABLE_SECONDS), None
        ),
        TableRow(Row.DEFAULT, "otherwise", duration(s.update_check_interval), "update_check_interval"),
    )


@dataclass(frozen=True)
class State:
    """What an updater has recorded: the time and kind of its last event, and the attempts it has used.

    ``at`` is the time of the last event (for an idle updater, its last update check). ``retrying``
    is true while an update is still being worked on across checks (a download or install retry,
    or applications open until midnight), so the attempts used so far carry over to the next check.
    """

    at: datetime
    phase: Phase = Phase.IDLE
    row: Row = Row.DEFAULT
    last_event: Event | None = None
    download_attempts: int = 0
    install_attempts: int = 0
    polls: int = 0
    retrying: bool = False

    def __post_init__(self) -> None:
        # Kept in UTC: adding a timedelta to a zoned datetime adds wall-clock time, which would make
        # "7 days" 167 or 169 hours across a daylight-saving change.
        object.__setattr__(self, "at", _utc("at", self.at))

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> State:
        """The inverse of ``as_dict``, for a state stored on a host or in a result."""
        last = data.get("last_event")
        return cls(
            at=datetime.fromisoformat(data["at"]),
            phase=Phase(data.get("phase", Phase.IDLE.value)),
            row=Row(data.get("row", Row.DEFAULT.value)),
            last_event=Event(last) if last else None,
            download_attempts=int(data.get("download_attempts", 0)),
            install_attempts=int(data.get("install_attempts", 0)),
            polls=int(data.get("polls", 0)),
            retrying=bool(data.get("retrying", False)),
        )


@dataclass(frozen=True)
class Attempts:
    used: int
    limit: int

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)


@dataclass(frozen=True)
class Schedule:
    """The answer for one state at one moment: the row in force, why, and when the next check is due."""

    row: Row
    why: str
    phase: Phase
    last_event_at: datetime
    due_at: datetime  # UTC; a table row, counted from last_event_at (midnight: from the last poll)
    due_at_local: str  # the same moment in the host's time, ISO 8601 with its offset then
    interval_seconds: int
    due: bool  # the interval has elapsed at "now": the updater checks at its next start
    seconds_left: int
    next_poll_at: datetime | None
    attempts: dict[str, Attempts] = field(default_factory=dict)

    def as_dict(self) -> dict[str, t.Any]:
        return {**_as_dict(self), "row_title": self.row.title}


def _as_dict(value: t.Any) -> dict[str, t.Any]:
    """A dataclass as JSON-ready plain values, so results and ansible facts need no custom encoder."""
    return {item.name: _plain(getattr(value, item.name)) for item in fields(value)}


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value.as_dict() if hasattr(value, "as_dict") else value


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
    after = _utc("after", after)
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


def duration(seconds: int) -> str:
    """Seconds in words with the largest unit that divides them: 86400 -> "1 day", 5400 -> "90 minutes"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a datetime with a time zone, not {value!r}")
    return value.astimezone(UTC)


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
    at = _utc("at", at)
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
    now = _utc("now", now)
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
    interval_text = {item.row: item.interval for item in table(limits)}[state.row]
    why = f"{state.row.title} ({interval_text}): {_reason(state, limits, tz, next_poll)} Next check: {_local(due, tz)}."
    return Schedule(
        row=state.row,
        why=why,
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


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z")


def _reason(state: State, limits: Settings, tz: tzinfo, next_poll: datetime | None) -> str:
    """The sentence after the row's title: what happened last, in the admin's terms."""
    at = _local(state.at, tz)
    download = f"download attempt {state.download_attempts} of {limits.download_attempts}"
    install = f"install attempt {state.install_attempts} of {limits.install_attempts}"
    polls = limits.process_check_attempts
    if state.phase is Phase.POLLING and next_poll is not None:
        seen = (
            f"the download finished at {at}"
            if state.polls == 0
            else f"Office applications were open at poll {state.polls} of {polls}, at {at}"
        )
        return (
            f"{seen}; the next poll for open Office applications is at {_local(next_poll, tz)}, every "
            f"{duration(limits.process_check_interval)}; if they stay open through poll {polls}, the check "
            "moves to the following midnight."
        )
    given_up = state.row is Row.UNRECOVERABLE
    downloads_used = state.download_attempts >= limits.download_attempts
    reasons: dict[Event | None, str] = {
        None: f"the last update check was at {at}.",
        Event.CHECK_NO_UPDATE: f"the check at {at} found nothing to install.",
        Event.UPDATE_FOUND: f"the check at {at} found a new version; {download} runs and its outcome decides the row.",
        Event.DOWNLOAD_FAILED: (
            f"all {limits.download_attempts} download attempts failed, the last at {at}; the version waits for "
            "the next regular check, which starts new attempts."
            if downloads_used
            else f"{download} failed at {at}; the next check retries the download."
        ),
        Event.APPS_RUNNING: f"Office applications were still open at the last of {polls} polls, at {at}.",
        Event.APPS_CLOSED: (
            f"the Office applications were closed at {at} and {install} started; the install closes the "
            f"auto-updater, which checks its success {duration(AFTER_INSTALL_SECONDS)} later."
        ),
        Event.INSTALL_OK: f"{install} finished at {at}; the auto-updater now verifies the installation.",
        Event.INSTALL_FAILED: f"{install} failed at {at}.",
        Event.INSTALL_CHECK_FAILED: f"the check at {at} found that {install} did not install the new version.",
        Event.UNRECOVERABLE_ERROR: f"an error that retrying cannot repair was shown to the user at {at}.",
        Event.BACKEND_UNREACHABLE: f"the backend could not be reached at {at}.",
    }
    reason = reasons[state.last_event]
    if state.last_event in (Event.INSTALL_FAILED, Event.INSTALL_CHECK_FAILED):
        reason += (
            f" All {limits.install_attempts} install attempts are used; the update is given up."
            if given_up
            else " The next check retries the update."
        )
    if state.last_event is Event.BACKEND_UNREACHABLE and state.phase is Phase.VERIFYING:
        reason += " The installation is verified at the next check."
    return reason


# ---- restrictions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    """A documented limit of the auto-updater, with a stable name modules can match and a message to show."""

    name: str
    message: str

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)


CUSTOMIZING_WITHOUT_VERSION = Restriction(
    "customizing_without_version",
    "A customizing change without a new version is not an update: the auto-updater installs only new "
    "versions, so publish a changed customizing together with a new version.",
)


@dataclass(frozen=True)
class UpdateVerdict:
    """Whether an updater would take an offered release, and why (with the restriction when one applies)."""

    update: bool
    reason: str
    restriction: Restriction | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return _as_dict(self)


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
