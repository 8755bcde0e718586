# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.autoupdater_nudge: make each enabled auto-updater of a host check for a release now.

The updater looks at its interval when it starts, so starting its startup task would make it wait. The
collection assumes the updater accepts ``/checknow`` (check at once); one Start-AutoUpdaterNow runs it that
way as each user whose updater is enabled, through a one-shot task it removes again. Which users count as
enabled is decided on the host in the same command (a second command would double the cost of a nudge
across a fleet); the answer is checked here like every host answer.
"""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _autoupdater
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

PRIMITIVE = "Start-AutoUpdaterNow"
CHECKNOW = "/checknow"  # the collection's assumption: the updater checks at once, whatever the interval
NOW_FOLDER = "CheckNow\\"  # the one-shot tasks' folder, below task_path (the startup tasks stay alone there)
ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    name: _autoupdater.COMMON_SPEC[name] for name in ("users", "updater_executable", "policy_key", "task_path")
}
NOT_ENABLED = "the auto-updater is not enabled for this user (policy value Enabled is not 1)"
TASK_DISABLED = "the auto-updater's startup task is disabled"
NO_TASK = "no startup task of the auto-updater for this user"


def options(args: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The shared checks of the auto-updater options; the ones this module has not keep their defaults."""
    defaults = {k: v["default"] for k, v in _autoupdater.COMMON_SPEC.items() if "default" in v}
    return _autoupdater.options({**defaults, "name": "*", **{k: args[k] for k in ARGUMENT_SPEC}})


def entry(value: t.Any, wanted: list[str]) -> dict[str, t.Any]:
    """One user of the answer, every field checked: the SID names a task, the flags decide what is reported."""
    if not isinstance(value, t.Mapping):
        raise _answers.HostAnswerError(PRIMITIVE, f"a user entry is not an object: {value!r}")
    sid = _answers.sid(value.get("sid"), PRIMITIVE)
    user = value.get("user")
    if user is not None:
        user = _answers.account(user, PRIMITIVE)
    flags = {k: value.get(k) for k in ("policy_enabled", "started")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise _answers.HostAnswerError(PRIMITIVE, f"{sid}: policy_enabled and started must be true or false")
    error, state = value.get("error"), value.get("task_state")
    if not (error is None or isinstance(error, str)) or not isinstance(state, str):
        raise _answers.HostAnswerError(PRIMITIVE, f"{sid}: error must be text or null and task_state text")
    found = {"user": user, "sid": sid, **flags, "task_state": state, "error": error}
    if wanted and not any(_named(found, w) for w in wanted):
        raise _answers.HostAnswerError(PRIMITIVE, f"{user or sid} was not asked about")
    return found


def _named(found: t.Mapping[str, t.Any], name: str) -> bool:
    wanted = name.strip().lower()
    user = found["user"] or ""
    return wanted in {found["sid"].lower(), user.lower(), user.rsplit("\\", 1)[-1].lower()} - {""}


def why_not(found: t.Mapping[str, t.Any]) -> str | None:
    """Why an updater is not (would not be) started, or None when it is (would be)."""
    if found["error"] and not found["policy_enabled"]:
        return f"its registry hive could not be read: {found['error']}"
    if not found["policy_enabled"]:
        return NOT_ENABLED
    if found["task_state"] == "Disabled":
        return TASK_DISABLED
    return None


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        opts = options(args)
        check = bool(self._task.check_mode)
        answer = host.run(
            PRIMITIVE,
            {
                "policy_key": opts["policy_key"],
                "task_path": opts["task_path"],
                "now_path": opts["task_path"] + NOW_FOLDER,
                "updater_executable": opts["updater_executable"],
                "argument": CHECKNOW,
                "users": opts["users"],
                "start": not check,
            },
        )
        found = [entry(v, opts["users"]) for v in _answers.listed(answer, "users", PRIMITIVE)]
        if len({f["sid"].upper() for f in found}) != len(found):
            raise _answers.HostAnswerError(PRIMITIVE, "a user is listed twice")
        results, not_started, failed = [], [], []
        for user in found:
            reason = why_not(user)
            if reason is not None:
                not_started.append({"user": user["user"], "sid": user["sid"], "reason": reason})
                continue
            if user["started"] and check:
                raise _answers.HostAnswerError(PRIMITIVE, f"{user['user'] or user['sid']} was started in check mode")
            started = user["started"] or (check and user["error"] is None)
            results.append({"user": user["user"], "sid": user["sid"], "started": started, "error": user["error"]})
            if user["error"] is not None or not (started or check):
                failed.append(f"{user['user'] or user['sid']}: {user['error'] or 'not started'}")
        for name in opts["users"]:
            if not any(_named(f, name) for f in found):
                not_started.append({"user": name, "sid": None, "reason": NO_TASK})
        result: dict[str, t.Any] = {
            "changed": any(r["started"] for r in results),
            "users": results,
            "not_started": not_started,
        }
        if failed:
            result.update(failed=True, msg=f"the auto-updater could not be started for: {' | '.join(failed)}")
        return result
