"""Sessions and their processes: list them (Get-SessionProcess), message them (Send-SessionMessage), stop
given processes (Stop-SessionProcess)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str_list, primitive
from lab.primitives.hostinfo import dotnet_o, interactive_users

if TYPE_CHECKING:
    from lab.host.host import Host


@primitive("Get-SessionProcess")
async def get_session_process(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    return session_processes(host, ctx, arg_str_list(args, "names", required=False))


def session_processes(host: Host, ctx: PrimitiveContext, names: list[str] | None) -> dict[str, Any]:
    """The interactive sessions and the processes named ``names`` now (Get-RwSessionProcess in _Session.ps1)."""
    domain = host.env(ctx.user)["COMPUTERNAME"]
    # A session is found through the user account owning processes in it, as the PowerShell side does,
    # so a RemoteApp session without explorer.exe is listed; the first owner by PID names it.
    sessions: list[dict[str, Any]] = []
    for session_id, user in interactive_users(host):
        if all(s["id"] != session_id for s in sessions):
            sessions.append({"id": session_id, "user": f"{domain}\\{user}", "state": "Active"})
    processes = [
        {
            "pid": p["pid"],
            "name": p["name"],
            "session_id": p["session_id"],
            "user": f"{domain}\\{p['user']}",
            "start_time": dotnet_o(datetime.fromisoformat(p["start_time"])),
        }
        for p in host.list_processes(names or None)
        if names  # no names: sessions only, like the PowerShell side
    ]
    return {"sessions": sessions, "processes": processes}


# What WTSSendMessage reports for a session id that does not exist (ERROR_CTX_WINSTATION_NOT_FOUND, 7022).
_NO_SESSION = "The specified session cannot be found."


def _int_list(args: dict[str, Any], key: str) -> list[int]:
    value = args.get(key)
    if value is None:
        return []
    if not isinstance(value, list):  # the PowerShell side wraps with @(): a lone value is a one-element list
        value = [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise PrimitiveFailure(f"argument {key} must be a list of integers")
    return list(value)


@primitive("Send-SessionMessage")
async def send_session_message(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    title, text = args.get("title") or "", args.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise PrimitiveFailure("arguments title and text must be strings")
    sessions = []
    for session_id in _int_list(args, "session_ids"):
        delivered = host.send_message(text, session_id, title) if session_id in host.sessions else []
        sessions.append(
            {"session_id": session_id, "sent": bool(delivered), "error": None if delivered else _NO_SESSION}
        )
    return {"sessions": sessions}


# Stop-Process's error for a process it may not open (ProcessCommandException; PowerShell 5.1 quotes with double
# quotes, e.g. 'Cannot stop process "wsmprovhost (197448)" because of the following error: Access is denied' in
# microsoft/AL-Go#602). Process names lose their .exe there, as ProcessName does.
_CANNOT_STOP = 'Cannot stop process "{name} ({pid})" because of the following error: Access is denied'


@primitive("Stop-SessionProcess")
async def stop_session_process(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    targets = args.get("processes") or []
    if isinstance(targets, dict):
        targets = [targets]
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise PrimitiveFailure("argument processes must be a list of {pid, name, start_time}")
    host.settle()
    results = []
    for target in targets:
        pid, name, start = target.get("pid"), str(target.get("name") or ""), target.get("start_time")
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise PrimitiveFailure("argument processes: pid must be an integer")
        entry: dict[str, Any] = {"pid": pid, "name": name, "status": "gone", "error": None}
        proc = host.processes.get(pid)
        if proc is not None:
            same_name = proc["name"].lower().removesuffix(".exe") == name.lower().removesuffix(".exe")
            if not same_name:
                entry["status"] = "recycled"
            elif not start:
                entry["status"] = "unverified"
            elif dotnet_o(datetime.fromisoformat(proc["start_time"])) != start:
                entry["status"] = "recycled"
            elif proc.get("protected"):
                # A process the WinRM account may not terminate (a protected process, or one whose DACL
                # shuts administrators out): Stop-Process writes this error and only that entry fails.
                entry["status"] = "failed"
                entry["error"] = _CANNOT_STOP.format(name=re.sub(r"(?i)\.exe$", "", proc["name"]), pid=pid)
            else:
                host.stop_process(pid)
                entry["status"] = "stopped"
        results.append(entry)
    return {"processes": results}
