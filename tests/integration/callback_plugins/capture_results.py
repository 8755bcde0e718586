"""Test-only callback: every task result of a playbook run, as JSON, for assertions."""

from __future__ import annotations

import json
import os
import typing as t

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: capture_results
type: aggregate
short_description: Write every task result to the JSON file named by CAPTURE_RESULTS_FILE
description: Test equipment for the integration tests.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "capture_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._results: dict[str, dict[str, dict[str, t.Any]]] = {}

    def _record(self, result: t.Any, status: str) -> None:
        host = result._host.get_name()
        data = dict(result._result)
        data["_status"] = status
        self._results.setdefault(host, {})[result._task.get_name()] = data

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ["CAPTURE_RESULTS_FILE"]
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self._results, handle, default=str)
