# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.update_lock: announce, lock and release an update of the application, at the backend.

The update window (role update_window) calls it at each step and uses what it reports:
who still has the application open, and who asked to have it restarted afterwards.
"""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import BackendAction, argument_spec

STATES = ["released", "announced", "locked"]
ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = argument_spec(
    {
        "state": {"type": "str", "choices": STATES, "required": True},
        "message": {"type": "str"},
        "override_users": {"type": "list", "elements": "str"},
    },
    writes=True,
)
MAX_MESSAGE = 1000
MAX_OVERRIDE_USERS = 100


def check_options(args: dict[str, t.Any]) -> None:
    """Refuse what the backend would refuse, before the first request."""
    message = args["message"]
    if message is not None and len(message) > MAX_MESSAGE:
        raise ValueError(f"message has {len(message)} characters; the backend takes at most {MAX_MESSAGE}")
    users = args["override_users"]
    if users is None:
        return
    if len(users) > MAX_OVERRIDE_USERS:
        raise ValueError(f"override_users lists {len(users)} users; the backend takes at most {MAX_OVERRIDE_USERS}")
    for user in users:
        if not user or len(user) > 256 or any(ord(c) < 32 for c in user):
            raise ValueError(f"override_users: {user!r} is not a user name (1 to 256 characters, no control ones)")
    if len({u.casefold() for u in users}) != len(users):
        raise ValueError("override_users lists a user twice")


def _lock_view(lock: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"state": lock["state"], "message": lock["message"], "override_users": list(lock["override_users"])}


def restart_requests(sessions: list[dict[str, t.Any]], window_start: str | None) -> list[dict[str, t.Any]]:
    """Who asked for a restart after the update: open sessions, and those closed since the window began."""
    out = []
    for session in sessions:
        if not session["restart_after_update"]:
            continue
        closed = session.get("closed_at")
        # ISO timestamps in UTC with the same format compare correctly as strings.
        if closed is None or (window_start is not None and closed >= window_start):
            out.append({k: session[k] for k in ("host", "user", "session_id", "state")})
    return out


class ActionModule(BackendAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    _supports_diff = True

    def _check(self, args: dict[str, t.Any]) -> None:
        check_options(args)

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        current = client.lock()
        before = _lock_view(current)
        # Options left out keep what the backend has, so a task that only changes the state keeps the message.
        wanted = {
            "state": args["state"],
            "message": args["message"] if args["message"] is not None else before["message"],
            "override_users": args["override_users"]
            if args["override_users"] is not None
            else before["override_users"],
        }
        changed = wanted != before
        lock = current
        if changed and not self._task.check_mode:
            lock = client.set_lock(wanted["state"], wanted["message"], wanted["override_users"])
        window_start = lock["window_started_at"]
        if changed and before["state"] == "released" and wanted["state"] != "released" and self._task.check_mode:
            window_start = None  # a window that would start now has no earlier restart requests
        sessions = client.sessions("all")
        open_sessions = [s for s in sessions if s["state"] == "open"]
        result: dict[str, t.Any] = {
            "changed": changed,
            "state": wanted["state"],
            "previous_state": before["state"],
            "message": wanted["message"],
            "override_users": wanted["override_users"],
            "window_started_at": window_start,
            "sessions": open_sessions,
            "open_sessions": len(open_sessions),
            "restart_requested": restart_requests(sessions, window_start),
        }
        if self._task.diff:
            result["diff"] = {"before": before, "after": wanted}
        return result
