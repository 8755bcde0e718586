"""Get-HostInfo: name, OS, PowerShell, boot time, interactively logged-on users."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from lab.primitives import PrimitiveContext, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

POWERSHELL_VERSION = "5.1.19041.5129"


def dotnet_o(value: Any) -> str:
    """.NET's round-trip format ``ToString('o')`` of a UTC time: seven fractional digits and 'Z'."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


@primitive("Get-HostInfo")
async def get_host_info(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    computer = host.env(ctx.user)["COMPUTERNAME"]
    # Win32_Account.Caption is DOMAIN\name; -Unique keeps first occurrences in session order.
    users: list[str] = []
    for session in sorted(host.sessions.values(), key=lambda s: s["id"]):
        caption = f"{computer}\\{session['user']}"
        if caption not in users:
            users.append(caption)
    return {
        "computer_name": computer,
        "os_version": host.os_version,
        "powershell_version": POWERSHELL_VERSION,
        "last_boot": dotnet_o(host.boot_time),
        "logged_on_users": users,
    }
