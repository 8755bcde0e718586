# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart a Windows host and wait until it is back with a new boot time.

One place for the restart, shared by the ``reboot`` module and by ``msi_package`` (which restarts
right after an install that needs it, in the same task): the checks of shutdown.exe's limits, the
backoff while the host is away, and what counts as "back" are the same wherever a restart happens.
"""

from __future__ import annotations

import random
import time
import typing as t

from ansible.utils.display import Display

from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._action import is_connection_error
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost

MAX_DELAY = 315_360_000  # shutdown.exe /t accepts up to ten years
MAX_MSG = 512  # shutdown.exe /c refuses longer comments
# Poll cadence while the host is away: quick at first (a VM restarts in seconds), then no more
# often than every 15 s, which is plenty for a PC that takes minutes to apply updates.
POLL_INITIAL = 2.0
POLL_MAXIMUM = 15.0

display = Display()


def shutdown_arguments(delay: int, msg: str) -> list[str]:
    """shutdown.exe's arguments for a forced restart after ``delay`` seconds, with ``msg`` as its comment.

    /f is explicit: Windows implies it only for a delay above 0, and with /t 0 an application could
    otherwise hold the restart up.
    """
    return ["/r", "/f", "/t", str(delay), *(["/c", msg] if msg else [])]


def check(timeout: int, delay: int, msg: str, *, msg_option: str = "msg") -> None:
    """Refuse values shutdown.exe or the wait would refuse; ``msg_option`` is the comment's option name in the task."""
    if timeout <= 0:
        raise ValueError(f"reboot_timeout must be more than 0 seconds, got {timeout}")
    if not 0 <= delay <= MAX_DELAY:
        raise ValueError(f"pre_reboot_delay must be from 0 to {MAX_DELAY} seconds, got {delay}")
    if len(msg) > MAX_MSG:
        raise ValueError(f"{msg_option} must have at most {MAX_MSG} characters (shutdown.exe's limit), got {len(msg)}")


def restart(
    host: WinHost,
    *,
    timeout: int,
    delay: int,
    msg: str,
    check_mode: bool,
    reset: t.Callable[[], None],
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> dict[str, t.Any]:
    """Restart the host and wait for a new boot time; the result says what happened (``failed`` on timeout).

    ``reset`` drops the connection's shell: one from before the restart is gone afterwards.
    """
    # A connection failure here is a real one: let it propagate so Ansible reports the host unreachable.
    previous = host.run("Get-HostInfo")["last_boot"]
    result: dict[str, t.Any] = {"changed": True, "rebooted": False, "elapsed": 0.0, "previous_boot": previous}
    if check_mode:
        return {**result, "last_boot": previous}

    started = clock()
    begun = _start(host, delay, msg)
    if begun is not None and begun["rc"] != 0:
        raise ValueError(f"shutdown.exe failed with exit code {begun['rc']}: {begun.get('output') or ''}")
    if begun is not None and begun.get("aborted_pending"):
        display.warning("rollout.windows replaced a restart that was already scheduled on the host")
    result["rebooted"] = True

    # The old WinRM shell dies with the reboot; a fresh connection is needed either way.
    need_reset = True
    last_error = "boot time has not changed yet"
    deadline = started + timeout
    for wait in _retry.backoff_delays(timeout, POLL_INITIAL, POLL_MAXIMUM, rng):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(wait, remaining))
        try:
            if need_reset:
                reset()
                need_reset = False
            current = host.run("Get-HostInfo")["last_boot"]
        # While the host goes down and comes back, anything can fail: refused or reset connections,
        # a WinRM service still starting, a shell from before the restart. All mean "not back yet".
        except Exception as exc:
            need_reset = not isinstance(exc, PrimitiveError)
            last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            display.vvv(f"rollout.windows: host not back yet after the restart ({last_error})")
            continue
        if current != previous:
            return {**result, "elapsed": round(clock() - started, 1), "last_boot": current}
        last_error = "boot time has not changed yet"
    return {
        **result,
        "failed": True,
        "elapsed": round(clock() - started, 1),
        "last_boot": previous,
        "msg": f"the host did not come back with a new boot time within reboot_timeout={timeout}s ({last_error})",
    }


def _start(host: WinHost, delay: int, msg: str) -> dict[str, t.Any] | None:
    """Run Restart-Host; None when the connection went down under it, which means the restart began."""
    # Quoted here like every command line the collection runs: the message stays data, never script text.
    command_line = _cmdline.command_line(shutdown_arguments(delay, msg))
    try:
        return host.run("Restart-Host", {"command_line": command_line})
    # With a short delay Windows may stop WinRM before the reply or the command clean-up gets through.
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        display.vvv(f"rollout.windows: connection lost while starting the restart: {exc}")
    return None
