# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Office gate on the controller: which processes count, who has them open, and the wait itself.

The product must not be installed while an Office application runs. Its own auto-updater
polls every 2 minutes and gives up after 120 polls; the gate keeps that cadence, asks the
users in the affected sessions to close their applications, and closes them itself only
when ``force`` allows it and the deadline has passed, because closing loses unsaved work.

Every decision of the wait (when to poll, remind, close, give up) is made here, in plain
Python with an injectable clock, so the unit tests run weeks of waiting in milliseconds.
The host is reached only through the three callables the action plugin passes in, one
WinRM command each.

The wait uses a fixed cadence rather than ``_retry``'s backoff on purpose: ``attempts``
and ``interval`` are the product's own settings and mean "polls" and "seconds between
polls"; a growing delay would change what an admin configured.
"""

from __future__ import annotations

import re
import time
import typing as t
from dataclasses import dataclass, field

# Word, Excel, PowerPoint, Outlook, OneNote, Access, Publisher, Visio, Project (process names).
DEFAULT_PROCESSES = ("WINWORD", "EXCEL", "POWERPNT", "OUTLOOK", "ONENOTE", "MSACCESS", "MSPUB", "VISIO", "WINPROJ")
DEFAULT_TITLE = "Software update"
DEFAULT_MESSAGE = (
    "An update for your Office add-ins is ready to install. Please save your work and close "
    "Word, Excel, PowerPoint, Outlook and the other Office applications. Thank you!"
)
# A process name as Get-Process reports it: no path, no wildcard (Get-Process would expand one).
_PROCESS_NAME = re.compile(r"^[^\\/:*?\"<>|\x00-\x1f]+$")


def process_names(names: t.Iterable[str]) -> list[str]:
    """Process names as Get-Process knows them (no ``.exe``), in the given order, without duplicates."""
    result: list[str] = []
    for raw in names:
        name = str(raw).strip()
        name = name[:-4] if name.lower().endswith(".exe") else name
        if not name or not _PROCESS_NAME.match(name):
            raise ValueError(f"processes: {raw!r} is not a process name (like WINWORD or WINWORD.EXE, no path)")
        if name.lower() not in {n.lower() for n in result}:
            result.append(name)
    if not result:
        raise ValueError("processes must name at least one process")
    return result


def sessions_of(processes: t.Iterable[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The sessions the processes run in, each once, with the user who owns it."""
    seen: dict[int, dict[str, t.Any]] = {}
    for proc in processes:
        session_id = int(proc["session_id"])
        seen.setdefault(session_id, {"session_id": session_id, "user": proc.get("user")})
    return [seen[k] for k in sorted(seen)]


def users_summary(processes: t.Iterable[dict[str, t.Any]]) -> dict[str, list[str]]:
    """User -> the applications they have open, for messages an admin reads."""
    summary: dict[str, list[str]] = {}
    for proc in processes:
        names = summary.setdefault(str(proc.get("user") or f"session {proc['session_id']}"), [])
        if proc["name"] not in names:
            names.append(proc["name"])
    return dict(sorted(summary.items()))


def describe_users(processes: t.Iterable[dict[str, t.Any]]) -> str:
    return "; ".join(f"{user} ({', '.join(names)})" for user, names in users_summary(processes).items())


@dataclass(frozen=True)
class Settings:
    """What an admin asked of the wait, already validated by :func:`settings`."""

    interval: float
    attempts: int
    notify: bool = False
    remind_interval: float = 0
    force: bool = False
    deadline: float | None = None

    @property
    def window(self) -> float:
        """Seconds from the first to the last poll."""
        return (self.attempts - 1) * self.interval


def settings(
    *,
    interval: float,
    attempts: int,
    notify: bool,
    remind_interval: float,
    force: bool,
    deadline: float | None,
) -> Settings:
    """Validate the wait options together; every error names the option and what it accepts."""
    if interval <= 0:
        raise ValueError(f"interval must be more than 0 seconds, got {interval}")
    if attempts < 1:
        raise ValueError(f"attempts must be 1 or more polls, got {attempts}")
    if remind_interval < 0:
        raise ValueError(f"remind_interval must be 0 (no reminders) or more seconds, got {remind_interval}")
    if remind_interval and not notify:
        raise ValueError("remind_interval needs notify=true: reminders repeat the notification")
    if deadline is not None and not force:
        raise ValueError(
            "deadline applies only with force=true (it is when still open applications are closed); "
            "without force the wait never closes anything"
        )
    if force and deadline is None:
        raise ValueError(
            "force=true needs deadline: the seconds after the start of the wait when still open applications are closed"
        )
    if deadline is not None:
        window = (attempts - 1) * interval
        if not 0 <= deadline <= window:
            raise ValueError(
                f"deadline must be from 0 to {window:g} seconds: the last of attempts={attempts} polls "
                f"every interval={interval:g}s comes {window:g}s after the first; got {deadline}"
            )
    return Settings(interval, attempts, notify, remind_interval, force, deadline)


@dataclass
class Outcome:
    """What the wait did, for the task result."""

    ok: bool = False
    polls: int = 0
    elapsed: float = 0.0
    sessions: list[dict[str, t.Any]] = field(default_factory=list)
    initial: list[dict[str, t.Any]] = field(default_factory=list)
    remaining: list[dict[str, t.Any]] = field(default_factory=list)
    notified: list[dict[str, t.Any]] = field(default_factory=list)
    closed: list[dict[str, t.Any]] = field(default_factory=list)
    not_closed: list[dict[str, t.Any]] = field(default_factory=list)


Query = t.Callable[[], dict[str, t.Any]]
Notify = t.Callable[[list[int]], list[dict[str, t.Any]]]
Stop = t.Callable[[list[dict[str, t.Any]]], list[dict[str, t.Any]]]


class Gate:
    """Wait until none of the processes runs: poll, message, remind, and close after the deadline if forced.

    Schedule, with t = 0 at the first poll: regular polls at t = k * interval for k < attempts; with
    force one more wake-up at t = deadline when that is between two polls. Every wake-up is one query.
    The first query that finds processes messages their sessions (notify); later wake-ups at least
    remind_interval after the last message message the sessions that still have some. From the
    deadline on, each wake-up closes what runs and queries once more at once to confirm.
    """

    def __init__(
        self,
        config: Settings,
        query: Query,
        notify: Notify,
        stop: Stop,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
        first: dict[str, t.Any] | None = None,
    ) -> None:
        self.config = config
        self._query = query
        # A listing the host has just taken in another command: the first poll, at no query of its own.
        self._first = first
        self._notify = notify
        self._stop = stop
        self._clock = clock
        self._sleep = sleep

    def run(self) -> Outcome:
        cfg = self.config
        out = Outcome()
        start = self._clock()
        regular = 0  # regular polls done
        # Reminders are measured between scheduled wake-ups, not between the moments the queries returned:
        # otherwise a reminder due on a poll would slip to the next one by the query's own run time.
        scheduled = start
        last_message: float | None = None
        messaged: set[int] = set()  # sessions told at least once
        confirming = False  # this query confirms a close that just happened: no new action from it
        while True:
            snapshot = self._first if out.polls == 0 and self._first is not None else self._query()
            out.polls += 1
            now = self._clock()
            elapsed = now - start
            if not confirming and now >= start + regular * cfg.interval:
                regular += 1
            running = list(snapshot.get("processes") or [])
            if out.polls == 1:
                out.sessions = list(snapshot.get("sessions") or [])
                out.initial = running
            out.remaining = running
            out.elapsed = round(elapsed, 1)
            if not running:
                out.ok = True
                return out
            was_confirming, confirming = confirming, False
            if not was_confirming:
                if cfg.notify:
                    remind = last_message is not None and 0 < cfg.remind_interval <= scheduled - last_message
                    # A first message to a newcomer's session does not postpone everybody else's reminder.
                    if self._message(running, messaged, remind, out) and (remind or last_message is None):
                        last_message = scheduled
                if cfg.force and cfg.deadline is not None and elapsed >= cfg.deadline:
                    self._close(running, out)
                    confirming = True
                    continue
            if regular >= cfg.attempts:
                return out
            wake = start + regular * cfg.interval
            if cfg.force and cfg.deadline is not None and now < start + cfg.deadline:
                wake = min(wake, start + cfg.deadline)
            scheduled = wake
            self._sleep(max(0.0, wake - self._clock()))

    def _message(self, running: list[dict[str, t.Any]], messaged: set[int], remind: bool, out: Outcome) -> bool:
        """Tell sessions not told yet (someone may open Word after the first message); all of them on a reminder."""
        targets = [s for s in sessions_of(running) if remind or s["session_id"] not in messaged]
        if not targets:
            return False
        users = {s["session_id"]: s["user"] for s in targets}
        for entry in self._notify(list(users)):
            session_id = int(entry["session_id"])
            out.notified.append(
                {
                    "session_id": session_id,
                    "user": users.get(session_id),
                    "sent": bool(entry.get("sent")),
                    "error": entry.get("error"),
                    "elapsed": out.elapsed,
                    "reminder": session_id in messaged,
                }
            )
            messaged.add(session_id)
        return True

    def _close(self, running: list[dict[str, t.Any]], out: Outcome) -> None:
        by_pid = {int(p["pid"]): p for p in running}
        for entry in self._stop(running):
            proc = by_pid.get(int(entry["pid"]), {})
            record = {**proc, "status": entry["status"], "elapsed": out.elapsed}
            if entry["status"] == "stopped":
                out.closed.append(record)
            elif entry["status"] in ("failed", "unverified"):
                out.not_closed.append({**record, "error": entry.get("error")})
