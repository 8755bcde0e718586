# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.session_program: start a program in named users' own logged-on sessions.

The update window restarts the application after an update for the users who asked for it;
the WinRM account cannot put a window on somebody else's desktop, so each start is a one-shot
scheduled task with that user as Interactive principal (primitive Start-SessionProgram).
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline, _sessions
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "str", "required": True},
    "arguments": {"type": "list", "elements": "str", "default": []},
    "users": {"type": "list", "elements": "str", "required": True},
}
# Where the one-shot tasks live while they exist (Task Scheduler deletes them once expired).
TASK_PATH = "\\rollout.windows\\"
# A local absolute path (C:\...) or a UNC path (\\server\share\...), of an .exe, without characters
# Windows refuses in file names.
_PATH = re.compile(r'^(?:[A-Za-z]:\\|\\\\[^\\/]+\\[^\\/]+\\)[^":*?<>|\x00-\x1f]*\.exe$', re.IGNORECASE)


def image_name(path: str) -> str:
    """``C:\\Apps\\suite.exe`` -> ``suite``: the process name Get-Process reports for it."""
    return path.rsplit("\\", 1)[-1][:-4]


def check(args: dict[str, t.Any]) -> tuple[str, list[str]]:
    """Refuse what cannot work before the host is touched: the command line and the user names."""
    path = args["path"].strip()
    if not _PATH.match(path):
        raise ValueError(
            f"path must be the absolute Windows path of an .exe (C:\\...\\app.exe or \\\\server\\share\\...\\app.exe), "
            f"got {args['path']!r}"
        )
    for value in args["arguments"]:
        if "\x00" in value:
            raise ValueError("arguments must not contain a NUL character (Windows would cut the command line there)")
    # A general program does not know msiexec's NAME="value" syntax: plain CommandLineToArgvW rules.
    length = len(_cmdline.quote(path)) + 1 + len(_cmdline.command_line(args["arguments"]))
    if length > _cmdline.MAX_COMMAND_LINE:
        raise ValueError(
            f"path and arguments make a command line of {length} characters; Windows takes {_cmdline.MAX_COMMAND_LINE}"
        )
    users = [u.strip() for u in args["users"]]
    if any(not u for u in users):
        raise ValueError("users must not contain an empty name")
    return path, users


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        path, wanted = check(args)
        if not wanted:
            return {"changed": False, "started": [], "already_running": [], "users_without_session": []}
        # One query decides it all: who is logged on, and who already runs the program (a second run,
        # or a user who started it by hand) - they are left alone, so the module is idempotent.
        found = host.run("Get-SessionProcess", {"names": [image_name(path)]})
        sessions = list(found.get("sessions") or [])
        running = {int(p["session_id"]) for p in found.get("processes") or []}
        targets: list[dict[str, t.Any]] = []
        already: list[dict[str, t.Any]] = []
        missing: list[str] = []
        for name in wanted:
            matched = [s for s in sessions if _sessions.user_matches(s.get("user"), name)]
            if not matched:
                missing.append(name)
            for session in matched:
                entry = {"session_id": int(session["id"]), "user": session.get("user")}
                if entry in targets or entry in already:
                    continue
                (already if entry["session_id"] in running else targets).append(entry)
        result: dict[str, t.Any] = {
            "already_running": already,
            "users_without_session": missing,
            "command_line": _cmdline.command_line(args["arguments"]),
        }
        if not targets or self._task.check_mode:
            started = [{**s, "started": False, "error": None} for s in targets]
            return {**result, "changed": bool(targets), "started": started}
        out = host.run(
            "Start-SessionProgram",
            {
                "path": path,
                "command_line": result["command_line"],
                "task_path": TASK_PATH,
                "users": [s["user"] for s in targets],
            },
        )
        by_user = {str(e.get("user")).lower(): e for e in out.get("users") or []}
        started = []
        for target in targets:
            answer = by_user.get(str(target["user"]).lower(), {})
            started.append(
                {
                    **target,
                    "started": bool(answer.get("started")),
                    "error": answer.get("error") or (None if answer else "the host did not report this user"),
                }
            )
        result.update(changed=any(s["started"] for s in started), started=started)
        failed = [s for s in started if not s["started"]]
        if failed:
            result.update(
                failed=True,
                msg="could not start "
                + path
                + " for "
                + "; ".join(f"{s['user']} (session {s['session_id']}): {s['error']}" for s in failed),
            )
        return result
