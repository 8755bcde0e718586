# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The auto-updater schedule's data: the interval table's rows, events, phases, settings and answers.

Plain frozen values with no rules in them (those are in ``_schedule``), each able to turn itself into
JSON-ready plain values for results and ansible facts.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, tzinfo

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
        object.__setattr__(self, "at", utc("at", self.at))

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


def utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a datetime with a time zone, not {value!r}")
    return value.astimezone(UTC)


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
