# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_settings: the auto-updater settings and sync throttle of the backend, from the controller."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    # Intervals: whole seconds or a string with a unit (90s, 60m, 2h, 1d), hence raw.
    "update_check_interval": {"type": "raw"},
    "error_interval": {"type": "raw"},
    "download_attempts": {"type": "int"},
    "process_check_interval": {"type": "raw"},
    "process_check_attempts": {"type": "int"},
    "install_attempts": {"type": "int"},
    "max_parallel_syncs": {"type": "int"},
    **_backend.BACKEND_ARGUMENT_SPEC,
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_diff = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            # Every value is checked before the first request: a typo never half-applies.
            wanted = {
                name: _backend.validate_setting(name, args[name])
                for name in _backend.SETTING_RULES
                if args[name] is not None
            }
            client = _backend.client_for(self, args, task_vars)
            result.setdefault("warnings", []).extend(_backend.warnings_for(client))
            result.update(self._apply(client, wanted))
        except (_backend.BackendError, ValueError) as exc:
            result.update(failed=True, msg=str(exc))
        return result

    def _apply(self, client: _backend.BackendClient, wanted: dict[str, int | None]) -> dict[str, t.Any]:
        info = client.info()
        throttle_wanted = [name for name in _backend.THROTTLE_SETTINGS if name in wanted]
        if throttle_wanted and not _backend.has_throttle(info):
            raise ValueError(
                f"{', '.join(throttle_wanted)}: the sync throttle needs backend 9.3 or later; "
                f"{client.conn.url} runs {info.get('version')}. Leave it out for this backend"
            )
        before = client.settings()
        changes = {name: value for name, value in wanted.items() if before.get(name) != value}
        # Only what differs is sent: a second run sends nothing, and check mode only predicts the outcome.
        write = changes and not self._task.check_mode
        after = client.update_settings(changes) if write else {**before, **changes}
        result: dict[str, t.Any] = {
            "changed": bool(changes),
            "settings": after,
            "changes": sorted(changes),
            "backend_version": info.get("version"),
        }
        if self._task.diff:
            result["diff"] = {"before": before, "after": after}
        return result
