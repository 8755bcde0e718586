"""Get-SessionProcess: interactive sessions and the processes with given names, with session and user."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lab.primitives import PrimitiveContext, arg_str_list, primitive
from lab.primitives.hostinfo import dotnet_o

if TYPE_CHECKING:
    from lab.host.host import Host


@primitive("Get-SessionProcess")
async def get_session_process(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    names = arg_str_list(args, "names", required=False)
    domain = host.env(ctx.user)["COMPUTERNAME"]
    sessions = [
        {"id": s["id"], "user": f"{domain}\\{s['user']}", "state": s["state"]}
        for s in sorted(host.sessions.values(), key=lambda s: s["id"])
    ]
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
