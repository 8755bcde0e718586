"""Restart-Host: shutdown.exe /r /f /t <delay> /c <msg>, with the exit codes shutdown.exe gives.

The argument list the PowerShell passes is returned and kept with the scheduled restart
(``scheduled_restart["arguments"]`` until it happens), so a test sees /f.

The restart happens ``delay`` simulated seconds later through ``host.reboot()``, so the host is
off the network for its behaviour's ``reboot_downtime`` and comes back with a new boot time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.primitives import PrimitiveContext, PrimitiveFailure, arg_str, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

MAX_DELAY = 315_360_000  # shutdown.exe /t accepts up to ten years
MAX_COMMENT = 512  # shutdown.exe /c refuses longer comments
ERROR_INVALID_PARAMETER = 87


@primitive("Restart-Host")
async def restart_host(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    delay = args.get("delay", 0)
    if delay is None:
        delay = 0
    # PowerShell's [int] cast takes numbers and numeric strings alike.
    try:
        delay = int(delay)
    except (TypeError, ValueError) as exc:
        raise PrimitiveFailure(f'Cannot convert value "{delay}" to type "System.Int32".') from exc
    comment = arg_str(args, "msg", required=False)
    # /f, explicit: for /t > 0 shutdown.exe implies it anyway ("If the timeout period is greater than 0, the /f
    # parameter is implied", learn.microsoft.com/windows-server/administration/windows-commands/shutdown).
    arguments = ["/r", "/f", "/t", str(delay), *(["/c", comment] if comment else [])]
    result: dict[str, Any] = {"rc": 0, "output": "", "aborted_pending": False, "delay": delay, "arguments": arguments}
    if not 0 <= delay <= MAX_DELAY or (comment is not None and len(comment) > MAX_COMMENT):
        return {**result, "rc": ERROR_INVALID_PARAMETER, "output": "The parameter is incorrect.(87)"}
    if not host.schedule_restart(delay, comment):
        # 1190, a shutdown is already scheduled: the PowerShell runs shutdown /a and tries once more.
        host.abort_restart()
        result["aborted_pending"] = True
        host.schedule_restart(delay, comment)
    if host.scheduled_restart is not None:
        host.scheduled_restart["arguments"] = arguments
    return result
