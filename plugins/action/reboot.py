# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.reboot: restart a Windows host and wait until it is back with a new boot time."""

from __future__ import annotations

import random
import time
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _reboot
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "reboot_timeout": {"type": "int", "default": 600},
    "pre_reboot_delay": {"type": "int", "default": 2},
    "msg": {"type": "str", "default": "Reboot initiated by Ansible"},
}

# Kept importable from here: the lab and its tests build shutdown.exe lines with it.
shutdown_arguments = _reboot.shutdown_arguments
MAX_DELAY = _reboot.MAX_DELAY
MAX_MSG = _reboot.MAX_MSG


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
        timeout, delay, msg = args["reboot_timeout"], args["pre_reboot_delay"], args["msg"] or ""
        _reboot.check(timeout, delay, msg)
        return _reboot.restart(
            host,
            timeout=timeout,
            delay=delay,
            msg=msg,
            check_mode=bool(self._task.check_mode),
            # A shell from before the restart is gone afterwards: the connection must open a new one.
            reset=reset or self._connection.reset,
            clock=clock,
            sleep=sleep,
            rng=rng,
        )
