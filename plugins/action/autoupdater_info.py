# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.autoupdater_info: what each user's auto-updater did last, and when it checks next.

One Get-AutoUpdater answers everything; the schedule comes from the collection's model (``_schedule``), in
the host's own zone, so "why has this PC not updated yet?" gets the same answer in every report. What the
updater left in the user's hive was written by that user: each value is checked, and one that is wrong is
reported as such and left out of the answer instead of failing the task.
"""

from __future__ import annotations

import json
import re
import typing as t
from datetime import UTC, datetime

from ansible_collections.rollout.windows.plugins.plugin_utils import _autoupdater, _msi, _schedule, _timezones
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._autoupdater import Install, Report
from ansible_collections.rollout.windows.plugins.plugin_utils._schedule import Event, Phase, Row
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {**_autoupdater.COMMON_SPEC}
OUTCOMES = ("none", "no_update", "installed", "error", "apps_running", "unrecoverable")
# The host's phase names -> the model's (the contract's clarification).
PHASES = {
    "idle": Phase.IDLE,
    "downloading": Phase.DOWNLOADING,
    "waiting_for_apps": Phase.POLLING,
    "installing": Phase.INSTALLING,
    "checking_install": Phase.VERIFYING,
}
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
_VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){1,3}$")
MAX_COUNT = 10_000  # the backend's largest attempt limit (process_check_attempts); a count beyond it is not real
CLOCK_SLACK_SECONDS = 300


def utc_time(value: t.Any, where: str, problems: list[str]) -> datetime | None:
    """ISO 8601 UTC with a Z, as the updater writes it."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _UTC_TIME.match(value):
        problems.append(f"{where} {value!r:.80} is not an ISO 8601 UTC time like 2026-12-02T01:00:00Z")
        return None
    return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)


def _count(value: t.Any, name: str, problems: list[str]) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        problems.append(f"{name} {value!r:.80} is not a REG_DWORD count from 0 to {MAX_COUNT}")
        return 0
    return value


def _choice(value: t.Any, name: str, allowed: t.Collection[str], default: str, problems: list[str]) -> str:
    if value in (None, ""):
        return default
    if value not in allowed:
        problems.append(f"{name} {value!r:.80} is not one of {', '.join(allowed)}")
        return default
    return str(value)


def _version(value: t.Any, name: str, problems: list[str]) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _VERSION.match(value):
        problems.append(f"{name} {value!r:.80} is not a version like 9.3.0")
        return None
    return value


def settings_of(config: t.Any, problems: list[str]) -> tuple[_schedule.Settings, str]:
    """The backend settings the updater stored at its last check, else the product's defaults (and which)."""
    if config in (None, ""):
        return _schedule.Settings(), "defaults"
    try:
        loaded = json.loads(config) if isinstance(config, str) else None
        if not isinstance(loaded, dict):
            raise ValueError("not a JSON object")
        return _schedule.Settings.from_backend(loaded), "updater"
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        problems.append(f"Config is not the settings JSON the updater stores ({exc}); the product defaults apply")
        return _schedule.Settings(), "defaults"


def model_state(values: dict[str, t.Any], at: datetime, settings: _schedule.Settings) -> _schedule.State:
    """The model's state for what the updater recorded: its phase, and the row and event its outcome means."""
    phase, outcome = values["model_phase"], values["last_outcome"]
    downloads, installs, polls = values["download_attempts"], values["install_attempts"], values["process_polls"]
    row, event = Row.DEFAULT, Event.CHECK_NO_UPDATE if outcome != "none" else None
    if phase is Phase.DOWNLOADING:
        event = Event.UPDATE_FOUND
    elif phase is Phase.POLLING:
        row, event = Row.APPS_RUNNING, Event.DOWNLOAD_OK if polls == 0 else Event.APPS_RUNNING
    elif phase is Phase.INSTALLING:
        row, event = Row.AFTER_INSTALL, Event.APPS_CLOSED
    elif phase is Phase.VERIFYING:
        row, event = Row.AFTER_INSTALL, Event.INSTALL_OK
    elif outcome == "error":
        row = Row.ERROR
        event = Event.INSTALL_FAILED if installs else Event.DOWNLOAD_FAILED if downloads else Event.BACKEND_UNREACHABLE
        if event is Event.DOWNLOAD_FAILED:
            # Which row a failed download leads to (retry, or wait for the regular check once the attempts are
            # used) is the model's rule: ask it rather than repeat it.
            downloading = _schedule.State(at=at, phase=Phase.DOWNLOADING, download_attempts=downloads)
            row = _schedule.advance(downloading, event, at, settings).row
    elif outcome == "apps_running":
        row, event = Row.APPS_RUNNING, Event.APPS_RUNNING
    elif outcome == "unrecoverable":
        row, event = Row.UNRECOVERABLE, Event.UNRECOVERABLE_ERROR
    return _schedule.State(
        at=at,
        phase=phase,
        row=row,
        last_event=event,
        download_attempts=downloads,
        install_attempts=installs,
        polls=polls,
        retrying=bool(values["pending_version"]),
    )


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        opts = _autoupdater.options(args)
        report = _autoupdater.read(host.run("Get-AutoUpdater", _autoupdater.query(opts)))
        problems, warnings = list(report.problems), []
        zone = self._zone(report, problems)
        if zone.warning:
            warnings.append(zone.warning)
        now = utc_time(report.utc_now, "the host's UTC time", problems)
        if now is None:
            now = datetime.now(UTC)
            problems.append("the host reported no usable UTC time: the controller's clock stands in")
        installs = _autoupdater.only_asked(report, opts["users"])
        result: dict[str, t.Any] = {
            "changed": False,
            "users": [self._user(i, report, opts, zone, now) for i in installs],
            "users_without_install": _autoupdater.without_install(report, opts["users"]),
            "machine_installs": report.machine,
            "host": {
                "timezone_id": report.timezone_id if isinstance(report.timezone_id, str) else None,
                "zone": zone.name,
                "zone_source": zone.source,
                "utc_offset_minutes": report.utc_offset_minutes if zone.source == "offset" else None,
                "now": now.isoformat(),
            },
            "restrictions": [_schedule.CUSTOMIZING_WITHOUT_VERSION.as_dict()],
            "problems": problems,
        }
        if not report.installs:
            result["msg"] = _autoupdater.scope_refusal(report, opts["name"])
        if warnings:
            result["warnings"] = warnings
        return result

    @staticmethod
    def _zone(report: Report, problems: list[str]) -> _timezones.HostZone:
        try:
            return _timezones.host_zone(report.timezone_id, report.utc_offset_minutes)
        except ValueError as exc:
            problems.append(f"{exc}: host local times are shown in UTC")
            return _timezones.HostZone(UTC, "UTC", "unknown", None)

    @staticmethod
    def _user(
        install: Install, report: Report, opts: t.Mapping[str, t.Any], zone: _timezones.HostZone, now: datetime
    ) -> dict[str, t.Any]:
        problems = list(install.problems)
        raw = install.state
        values: dict[str, t.Any] = {
            "updater_version": _version(raw["UpdaterVersion"], "UpdaterVersion", problems),
            "last_outcome": _choice(raw["LastOutcome"], "LastOutcome", OUTCOMES, "none", problems),
            "last_error": _autoupdater.text(raw["LastError"], "LastError", problems) or "",
            "phase": _choice(raw["Phase"], "Phase", tuple(PHASES), "idle", problems),
            "pending_version": _version(raw["PendingVersion"], "PendingVersion", problems),
            "download_attempts": _count(raw["DownloadAttempts"], "DownloadAttempts", problems),
            "install_attempts": _count(raw["InstallAttempts"], "InstallAttempts", problems),
            "process_polls": _count(raw["ProcessPolls"], "ProcessPolls", problems),
        }
        values["model_phase"] = PHASES[values["phase"]]
        last_check = utc_time(raw["LastCheck"], "LastCheck", problems)
        if last_check is not None and (last_check - now).total_seconds() > CLOCK_SLACK_SECONDS:
            problems.append(f"LastCheck {raw['LastCheck']} is later than the host's clock ({now.isoformat()})")
        settings, source = settings_of(raw["Config"], problems)
        plan = None
        if last_check is not None:
            plan = _schedule.schedule(model_state(values, last_check, settings), now, settings, zone.zone)
        attempts = {
            "download": {"used": values["download_attempts"], "limit": settings.download_attempts},
            "install": {"used": values["install_attempts"], "limit": settings.install_attempts},
            "polls": {"used": values["process_polls"], "limit": settings.process_check_attempts},
        }
        verdict, restriction = None, None
        if install.version and values["pending_version"]:
            try:
                verdict = _schedule.offered_update(install.version, values["pending_version"])
                if _msi.compare_versions(install.version, values["pending_version"]) == 0:
                    restriction = _schedule.CUSTOMIZING_WITHOUT_VERSION.as_dict()
            except ValueError as exc:
                problems.append(f"the installed version cannot be compared: {exc}")
        return {
            "user": install.user,
            "sid": install.sid,
            "version": install.version,
            "enabled": _autoupdater.is_on(install.policy, install.task),
            "task_in_place": _autoupdater.task_in_place(install, opts),
            "policy": dict(install.policy),
            "task": install.task,
            "requirements_unmet": _autoupdater.unmet(install, report, opts),
            **{key: value for key, value in values.items() if key != "model_phase"},
            "last_check": None if last_check is None else last_check.isoformat(),
            "pending_update": None if verdict is None else verdict.as_dict(),
            "restriction": restriction,
            "settings": settings.as_dict(),
            "settings_source": source,
            "attempts": attempts,
            "row": None if plan is None else plan.row.value,
            "why": (
                "The updater has recorded no check yet: it checks at its next start." if plan is None else plan.why
            ),
            "next_check": None
            if plan is None
            else {
                "utc": plan.due_at.isoformat(),
                "local": plan.due_at_local,
                "due": plan.due,
                "seconds_left": plan.seconds_left,
            },
            "schedule": None if plan is None else plan.as_dict(),
            "problems": problems,
        }
