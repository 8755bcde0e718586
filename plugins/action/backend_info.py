# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_info: what the backend is and how it is set up, read from the controller."""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import BackendAction, argument_spec

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = argument_spec({})


class ActionModule(BackendAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        info = client.info()
        return {
            "changed": False,
            "version": info["version"],
            "api_version": info.get("api_version"),
            "features": info.get("features", []),
            "settings": client.settings(),
            # A 9.2 backend has no throttle: null, not a failure, so one play serves both versions.
            "throttle": client.throttle() if _backend.has_throttle(info) else None,
            "releases": client.releases(),
            "update_lock": client.lock(),
        }
