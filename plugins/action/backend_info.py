# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_info: what the backend is and how it is set up, read from the controller."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {**_backend.BACKEND_ARGUMENT_SPEC}


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            client = _backend.client_for(self, args, task_vars)
            result.setdefault("warnings", []).extend(_backend.warnings_for(client))
            info = client.info()
            result.update(
                changed=False,
                version=info["version"],
                api_version=info.get("api_version"),
                features=info.get("features", []),
                settings=client.settings(),
                # A 9.2 backend has no throttle: null, not a failure, so one play serves both versions.
                throttle=client.throttle() if _backend.has_throttle(info) else None,
                releases=client.releases(),
                update_lock=client.lock(),
            )
        except (_backend.BackendError, ValueError) as exc:
            result.update(failed=True, msg=str(exc))
        return result
