"""Get-HostInfo: name, OS, PowerShell, boot time, interactively logged-on users."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lab.primitives.core import PrimitiveContext, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

POWERSHELL_VERSION = "5.1.19041.5129"
# User accounts: local and domain SIDs (S-1-5-21-...), Azure AD (S-1-12-1-...). SYSTEM (S-1-5-18), the
# DWM-n (S-1-5-90-0-n) and UMFD-n (S-1-5-96-0-n) virtual accounts own processes in every session and
# are nobody's logon (learn.microsoft.com, "Well-known SIDs"; the S-1-5-90/96 prefixes are how
# Get-Process -IncludeUserName names "Window Manager\DWM-1" and "Font Driver Host\UMFD-1").
USER_SID = re.compile(r"^S-1-(5-21|12-1)-")


def dotnet_o(value: datetime) -> str:
    """.NET's round-trip format ``ToString('o')`` of a UTC time: seven fractional digits and 'Z'."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def interactive_users(host: Host) -> list[tuple[int, str]]:
    """(session id, user) for each user account owning processes in a session above 0, by session then PID.

    What the primitives compute from ``Get-Process -IncludeUserName``: no explorer.exe needed, so a
    RemoteApp session (rdpinit.exe, rdpshell.exe and the published programs) or a replaced shell counts.
    """
    found: list[tuple[int, str]] = []
    for proc in sorted(host.list_processes(), key=lambda p: (p["session_id"], p["pid"])):
        owner = (proc["session_id"], proc["user"])
        if proc["session_id"] > 0 and USER_SID.match(host.sid_of(proc["user"])) and owner not in found:
            found.append(owner)
    return found


@primitive("Get-HostInfo")
async def get_host_info(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    computer = host.env(ctx.user)["COMPUTERNAME"]
    # Get-Process -IncludeUserName names accounts DOMAIN\name; first occurrences in session order.
    users: list[str] = []
    for _session_id, user in interactive_users(host):
        name = f"{computer}\\{user}"
        if name not in users:
            users.append(name)
    return {
        "computer_name": computer,
        "os_version": host.os_version,
        "powershell_version": POWERSHELL_VERSION,
        "last_boot": dotnet_o(host.boot_time),
        "logged_on_users": users,
        "logged_on_users_error": None,
    }
