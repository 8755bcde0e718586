# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.session_message: a message box in every logged-on session, or in named users' sessions."""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _sessions
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "message": {"type": "str", "required": True},
    "title": {"type": "str", "default": "Message from your IT department"},
    "users": {"type": "list", "elements": "str", "default": []},
}


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        text, title = args["message"], args["title"] or ""
        _sessions.check_message(text, title)
        wanted = [u.strip() for u in args["users"]]
        if any(not u for u in wanted):
            raise ValueError("users must not contain an empty name")
        # Two commands, not one: the list of sessions answers check mode by itself, and matching user
        # names stays here, where it is tested, instead of in every primitive that messages sessions.
        sessions = list(host.run("Get-SessionProcess", {}).get("sessions") or [])
        targets = [
            {"session_id": int(s["id"]), "user": s.get("user")}
            for s in sessions
            if not wanted or any(_sessions.user_matches(s.get("user"), u) for u in wanted)
        ]
        missing = [u for u in wanted if not any(_sessions.user_matches(s.get("user"), u) for s in sessions)]
        result: dict[str, t.Any] = {"users_without_session": missing}
        if not targets or self._task.check_mode:
            return {
                **result,
                "changed": bool(targets),
                "sessions": [{**s, "sent": False, "error": None} for s in targets],
            }
        sent = host.run(
            "Send-SessionMessage", {"session_ids": [s["session_id"] for s in targets], "title": title, "text": text}
        )
        outcome = {int(e["session_id"]): e for e in sent.get("sessions") or []}
        delivered = [
            {
                **s,
                "sent": bool(outcome.get(s["session_id"], {}).get("sent")),
                "error": outcome.get(s["session_id"], {}).get("error"),
            }
            for s in targets
        ]
        result.update(changed=any(d["sent"] for d in delivered), sessions=delivered)
        failed = [d for d in delivered if not d["sent"]]
        if failed:
            result.update(
                failed=True,
                msg="could not message "
                + "; ".join(f"session {d['session_id']} ({d['user']}): {d['error'] or 'not sent'}" for d in failed),
            )
        return result
