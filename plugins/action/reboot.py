# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.reboot: restart a Windows host and wait until it is back with a new boot time."""

from __future__ import annotations

import random
import time
import typing as t

from ansible.utils.display import Display

from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction, is_connection_error
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "reboot_timeout": {"type": "int", "default": 600},
    "pre_reboot_delay": {"type": "int", "default": 2},
    "msg": {"type": "str", "default": "Reboot initiated by Ansible"},
}

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


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(
        self,
        host: WinHost,
        args: dict[str, t.Any],
        *,
        reset: t.Callable[[], None] | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> dict[str, t.Any]:
        # A shell from before the restart is gone afterwards: the connection must open a new one.
        reset = reset or self._connection.reset
        timeout, delay, msg = args["reboot_timeout"], args["pre_reboot_delay"], args["msg"] or ""
        if timeout <= 0:
            raise ValueError(f"reboot_timeout must be more than 0 seconds, got {timeout}")
        if not 0 <= delay <= MAX_DELAY:
            raise ValueError(f"pre_reboot_delay must be from 0 to {MAX_DELAY} seconds, got {delay}")
        if len(msg) > MAX_MSG:
            raise ValueError(f"msg must have at most {MAX_MSG} characters (shutdown.exe's limit), got {len(msg)}")
        # A connection failure here is a real one: let it propagate so Ansible reports the host unreachable.
        previous = host.run("Get-HostInfo")["last_boot"]
        result: dict[str, t.Any] = {"changed": True, "rebooted": False, "elapsed": 0.0, "previous_boot": previous}
        if self._task.check_mode:
            return {**result, "last_boot": previous}

        started = clock()
        restart = self._start_restart(host, delay, msg)
        if restart is not None and restart["rc"] != 0:
            raise ValueError(f"shutdown.exe failed with exit code {restart['rc']}: {restart.get('output') or ''}")
        if restart is not None and restart.get("aborted_pending"):
            display.warning("rollout.windows.reboot replaced a restart that was already scheduled on the host")
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
                display.vvv(f"rollout.windows.reboot: host not back yet ({last_error})")
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

    @staticmethod
    def _start_restart(host: WinHost, delay: int, msg: str) -> dict[str, t.Any] | None:
        """Run Restart-Host; None when the connection went down under it, which means the restart began."""
        # Quoted here like every command line the collection runs: the message stays data, never script text.
        command_line = _cmdline.command_line(shutdown_arguments(delay, msg))
        try:
            return host.run("Restart-Host", {"command_line": command_line})
        # With a short delay Windows may stop WinRM before the reply or the command clean-up gets through.
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            display.vvv(f"rollout.windows.reboot: connection lost while starting the restart: {exc}")
        return None
