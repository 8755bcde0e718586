# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The auto-updater schedule in an admin's words: the interval table and the "why" behind an answer.

Every sentence starts from the row it explains, so a module, a report and a log line that describe the
same state say the same thing.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ansible_collections.rollout.windows.plugins.plugin_utils._schedule_types import (
    AFTER_INSTALL_SECONDS,
    UNRECOVERABLE_SECONDS,
    Event,
    Phase,
    Row,
    Settings,
    State,
    TableRow,
)


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


def duration(seconds: int) -> str:
    """Seconds in words with the largest unit that divides them: 86400 -> "1 day", 5400 -> "90 minutes"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


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


def why(state: State, limits: Settings, tz: tzinfo, next_poll: datetime | None, due: datetime) -> str:
    """A schedule's "why": the row in force with its interval, what happened last, and the next check."""
    interval = {item.row: item.interval for item in table(limits)}[state.row]
    return f"{state.row.title} ({interval}): {_reason(state, limits, tz, next_poll)} Next check: {_local(due, tz)}."
