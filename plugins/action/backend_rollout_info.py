# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_rollout_info: the backend's rollout and how far each ring is, read from the controller."""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import BackendAction, argument_spec

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = argument_spec({})


class ActionModule(BackendAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        rollout = client.rollout()
        progress = client.rollout_progress()["rings"]
        unpublished = [r["name"] for r in rollout["rings"] if r["published_at"] is None]
        return {
            "changed": False,
            "state": rollout["state"],
            "version": rollout["version"],
            "rollout": rollout,
            "progress": progress,
            # The ring a run would publish next; null when every ring is published (or none is defined).
            "next_ring": unpublished[0] if unpublished else None,
        }
