"""Restart-Host: shutdown.exe with the command line the controller quoted, and the exit codes it gives.

shutdown.exe gets one command line and reads it itself: its C runtime splits it by the
CommandLineToArgvW rules (:func:`lab.host.msiargs.split_argv`), then it checks its options: ``/t`` from 0 to
315,360,000 seconds, a ``/c`` comment of at most 512 characters; an option it does not know, or a
value out of range, is answered with 87, "The parameter is incorrect."
(learn.microsoft.com/windows-server/administration/windows-commands/shutdown). The arguments it read
are kept with the scheduled restart (``scheduled_restart["arguments"]`` until it happens), so a test
sees /f.

The restart happens ``delay`` simulated seconds later through ``host.reboot()``, so the host is
off the network for its behaviour's ``reboot_downtime`` and comes back with a new boot time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lab.host.msiargs import split_argv
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

MAX_DELAY = 315_360_000  # shutdown.exe /t accepts up to ten years
MAX_COMMENT = 512  # shutdown.exe /c refuses longer comments
DEFAULT_DELAY = 30  # /t left out: "The default is 30 seconds"
ERROR_INVALID_PARAMETER = 87
# shutdown.exe's other options: real ones the lab does not model, so they fail loudly instead of passing.
_UNMODELLED = {"i", "l", "s", "sg", "g", "a", "p", "h", "e", "o", "hybrid", "soft", "fw", "m", "d"}


def _restart_options(arguments: list[str]) -> tuple[int, str | None] | None:
    """(delay, comment) of the ``/r`` restart ``arguments`` ask for; None for what shutdown.exe refuses."""
    delay, comment, restart = DEFAULT_DELAY, None, False
    i = 0
    while i < len(arguments):
        option = arguments[i]
        name = option[1:].lower() if option[:1] in ("/", "-") else ""
        if name in _UNMODELLED:
            raise PrimitiveFailure(f"lab: not implemented: shutdown.exe {option}")
        if name in ("t", "c"):
            if i + 1 >= len(arguments):
                return None
            value = arguments[i + 1]
            i += 1
            if name == "t":
                if not re.fullmatch(r"[0-9]{1,10}", value) or int(value) > MAX_DELAY:
                    return None
                delay = int(value)
            elif len(value) > MAX_COMMENT:
                return None
            else:
                comment = value
        elif name == "r":
            restart = True
        elif name != "f":
            return None
        i += 1
    if not restart:
        raise PrimitiveFailure(f"lab: not implemented: shutdown.exe without /r: {arguments!r}")
    return delay, comment


@primitive("Restart-Host")
async def restart_host(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    command_line = arg_str(args, "command_line")
    assert command_line is not None
    arguments = split_argv(command_line)
    result: dict[str, Any] = {"rc": 0, "output": "", "aborted_pending": False, "command_line": command_line}
    options = _restart_options(arguments)
    if options is None:
        return {**result, "rc": ERROR_INVALID_PARAMETER, "output": "The parameter is incorrect.(87)"}
    delay, comment = options
    if not host.schedule_restart(delay, comment):
        # 1190, a shutdown is already scheduled: the PowerShell runs shutdown /a and tries once more.
        host.abort_restart()
        result["aborted_pending"] = True
        host.schedule_restart(delay, comment)
    if host.scheduled_restart is not None:
        host.scheduled_restart["arguments"] = arguments
    return result
