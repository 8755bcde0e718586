"""Bench-only callback: how many task results each host got, for the benches' "tasks per host".

Every result Ansible hands a callback costs the controller a worker (or at least a queue round trip,
templating and result handling), whether the task did anything, so skipped results count too. A
``run_once`` task gives one result for the whole batch, not one per host: those are counted apart.
Enabled only for bench runs (``ANSIBLE_CALLBACK_PLUGINS`` = this folder,
``ANSIBLE_CALLBACKS_ENABLED=task_counts``); the JSON goes to ``TASK_COUNTS_FILE``.
"""

from __future__ import annotations

import json
import os
import typing as t
from collections import Counter

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_counts
type: aggregate
short_description: Count task results per host (and run_once results apart) into TASK_COUNTS_FILE
description: Bench equipment (bench/rollout.py, bench/winrm_auth.py); not part of the collection.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_counts"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._per_host: dict[str, Counter[str]] = {}
        self._run_once: Counter[str] = Counter()
        self._tasks: Counter[str] = Counter()

    def _record(self, result: t.Any, status: str) -> None:
        # ansible-core 2.19 names them task/host/result; the underscored names are its deprecated aliases.
        task = result.task
        name = task.get_name()
        if task.run_once is True:
            self._run_once[status] += 1
            self._tasks[f"(run_once) {name}"] += 1
            return
        self._per_host.setdefault(result.host.get_name(), Counter())[status] += 1
        self._tasks[name] += 1

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        path = os.environ.get("TASK_COUNTS_FILE")
        if not path:
            return
        data = {
            "per_host": {host: dict(counts) for host, counts in self._per_host.items()},
            "run_once": dict(self._run_once),
            "tasks": dict(self._tasks.most_common()),
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
