# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_settings: the auto-updater settings and sync throttle of the backend, from the controller."""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import BackendAction, argument_spec

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = argument_spec(
    {
        # Intervals: whole seconds or a string with a unit (90s, 60m, 2h, 1d), hence raw.
        "update_check_interval": {"type": "raw"},
        "error_interval": {"type": "raw"},
        "download_attempts": {"type": "int"},
        "process_check_interval": {"type": "raw"},
        "process_check_attempts": {"type": "int"},
        "install_attempts": {"type": "int"},
        "max_parallel_syncs": {"type": "int"},
    },
    writes=True,
)


def wanted_settings(args: dict[str, t.Any]) -> dict[str, int | None]:
    """The API value of each setting the task gives; ValueError names the first bad one."""
    return {
        name: _backend.validate_setting(name, args[name]) for name in _backend.SETTING_RULES if args[name] is not None
    }


class ActionModule(BackendAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    _supports_diff = True

    def _check(self, args: dict[str, t.Any]) -> None:
        wanted_settings(args)

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        wanted = wanted_settings(args)
        info = self.backend_info if self.backend_info is not None else client.info()  # read by the cluster check
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
