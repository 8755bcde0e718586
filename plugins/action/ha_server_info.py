# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.ha_server_info: what one server of the HA backend cluster reports about itself.

One Get-ServerState; every value is checked in ``_server`` and a wrong one is named in ``problems``, so the
role's pre-checks decide on facts and a server that answers nonsense is seen as such.
"""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _server
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {**_server.COMMON_SPEC}


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        state = _server.get_state(host, _server.query(args))
        return {"changed": False, "installed": state.installed, "server": state.as_dict(), "problems": state.problems}
