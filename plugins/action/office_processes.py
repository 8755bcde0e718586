# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.office_processes: report running Office applications, or wait until none runs."""

from __future__ import annotations

import time
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _office_gate
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": {"type": "str", "choices": ["query", "absent"], "default": "query"},
    **_office_gate.WAIT_SPEC,
}
# Options that only mean something while waiting.
_WAIT_OPTIONS = ("notify", "remind_interval", "force", "deadline")


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(
        self,
        host: WinHost,
        args: dict[str, t.Any],
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> dict[str, t.Any]:
        waiting = args["state"] == "absent"
        if not waiting:
            given = [o for o in _WAIT_OPTIONS if args[o] not in (None, False, 0)]
            if given:
                raise ValueError(f"{', '.join(given)} apply only with state=absent (state=query only reports)")
        config, names = _office_gate.configured(args)
        # A host that drops during a long wait is reported unreachable by WinHostAction.run, not hung.
        if not waiting or self._task.check_mode:
            return _office_gate.report(_office_gate.query(host, names), config, waiting)
        return _office_gate.wait(
            host, config, names, message=args["message"], title=args["title"], clock=clock, sleep=sleep
        )
