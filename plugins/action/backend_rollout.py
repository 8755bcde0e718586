# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.backend_rollout: the rollout through the auto-updater, step by step, at the backend.

Each step (define, pause or resume, a gate's verdict, publish) is decided on the backend's current
rollout first, so a step that is done already sends nothing and check mode predicts the answer.
"""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils import _backend_rollout as rules
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import BackendAction, argument_spec

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = argument_spec(
    {
        "version": {"type": "str"},
        "channel": {"type": "str", "default": "stable"},
        "rings": {
            "type": "list",
            "elements": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "clients": {"type": "list", "elements": "str", "default": []},
            },
        },
        "criterion_percent": {"type": "float", "default": 95.0},
        "publish": {"type": "str"},
        "gate": {
            "type": "dict",
            "options": {
                "ring": {"type": "str", "required": True},
                "passed": {"type": "bool", "required": True},
                "reason": {"type": "str"},
            },
        },
        "state": {"type": "str", "choices": ["running", "paused"]},
    },
    writes=True,
)


class ActionModule(BackendAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    _supports_diff = True

    def _check(self, args: dict[str, t.Any]) -> None:
        if (args["version"] is None) != (args["rings"] is None):
            raise ValueError("version and rings go together: a rollout is a version offered to rings")
        if args["version"] is None and not (args["publish"] or args["gate"] or args["state"]):
            raise ValueError("nothing to do: give version and rings, publish, gate or state")
        if args["version"] is not None:
            rules.parse_version("version", args["version"])
            if not args["rings"]:
                raise ValueError("rings must list at least one ring")
            rules.check_rings(args["rings"])
        if not 0 < args["criterion_percent"] <= 100:
            raise ValueError(f"criterion_percent must be above 0 and at most 100, got {args['criterion_percent']}")
        if args["publish"] and args["state"] == "paused":
            raise ValueError("publish and state=paused contradict each other")
        if args["publish"] and args["gate"] and not args["gate"]["passed"]:
            raise ValueError("a gate that is not passed stops the rollout: nothing can be published after it")

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        answer = client.rollout()
        before = rules.view(answer)
        current, steps = before, []
        if args["version"] is not None:
            wanted = rules.definition(args)
            if not rules.same_definition(current, wanted):
                offered = {r["channel"]: r["version"] for r in client.releases()}.get(wanted["channel"])
                current = rules.defined(current, wanted, offered)
                steps.append(("define", lambda: client.define_rollout(wanted)))
        if args["state"]:
            after = rules.with_state(current, args["state"])
            if after is not None:
                current = after
                steps.append((args["state"], lambda: client.set_rollout_state(args["state"])))
        gate = args["gate"]
        if gate:
            after = rules.gated(current, gate["ring"], gate["passed"])
            if after is not None:
                current = after
                verdict = "passed" if gate["passed"] else "stopped"
                steps.append((f"gate {gate['ring']} {verdict}", lambda: client.gate_ring(**gate)))
        if args["publish"]:
            after = rules.published(current, args["publish"])
            if after is not None:
                current = after
                steps.append((f"publish {args['publish']}", lambda: client.publish_ring(args["publish"])))
        if not self._task.check_mode:
            for _label, step in steps:
                answer = step()
            current = rules.view(answer)
        result: dict[str, t.Any] = {
            "changed": bool(steps),
            "steps": [label for label, _step in steps],
            "state": current["state"],
            "rollout": answer if not self._task.check_mode else current,
            "progress": client.rollout_progress()["rings"],
        }
        if self._task.diff:
            result["diff"] = {"before": before, "after": current}
        return result
