"""Bench-only callback: where a forked worker's CPU goes, per task, for ``bench/rollout.py --phases``.

Wraps, in the main process before the first fork, the ansible-core and collection functions a worker spends its
time in (the task's argument templating, the WinRM connection and command, argument validation, the package read
to decide) and records each worker's process CPU in them, plus the main process's own CPU for the run.
One JSON file per worker goes to ``WORKER_PHASES_DIR``; :func:`summarize` gives milliseconds per host task. It
patches ansible-core internals, so it is bench equipment only, enabled with ``ANSIBLE_CALLBACKS_ENABLED``.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
import typing as t
from pathlib import Path

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: worker_phases
type: aggregate
short_description: Record forked workers' CPU per phase into WORKER_PHASES_DIR
description: Bench equipment (bench/rollout.py --phases); not part of the collection.
"""

_spent: dict[str, float] = collections.defaultdict(float)


def _timed(owner: t.Any, name: str, phase: str) -> None:
    original = getattr(owner, name)

    def timed(*args: t.Any, **kwargs: t.Any) -> t.Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _spent[phase] += time.process_time() - start

    setattr(owner, name, timed)


def _install(out: Path) -> None:
    from ansible.executor.process import worker
    from ansible.playbook.task import Task
    from ansible.plugins.action import ActionBase
    from ansible.plugins.connection import winrm

    from ansible_collections.rollout.windows.plugins.plugin_utils import _package_source

    _timed(Task, "post_validate", "arguments templated")
    _timed(winrm.Connection, "exec_command", "WinRM command (connection included)")
    _timed(ActionBase, "validate_argument_spec", "argument validation")
    _timed(_package_source, "locate", "package read to decide (locate)")
    run = worker.WorkerProcess._run

    def recorded(self: t.Any) -> None:
        start = time.process_time()
        try:
            run(self)
        finally:
            _spent["worker total"] = time.process_time() - start
            name = out / f"worker-{os.getpid()}.json"
            # Written whole or not at all, so that summarize never reads half a record.
            partial = name.with_suffix(".partial")
            partial.write_text(json.dumps({"task": self._task.get_name(), "spent": _spent}), encoding="utf-8")
            partial.rename(name)

    worker.WorkerProcess._run = recorded


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "worker_phases"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._out = Path(os.environ["WORKER_PHASES_DIR"])
        self._start = time.process_time()
        _install(self._out)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        main = {"main process": time.process_time() - self._start}
        (self._out / "main.json").write_text(json.dumps(main), encoding="utf-8")


def summarize(folder: Path, hosts: int) -> dict[str, t.Any]:
    """Milliseconds per host: each task run on every host by phase, the run_once tasks (together and each, over all
    its runs) and the main process."""
    by_task: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    for path in folder.glob("worker-*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        by_task[record["task"]].append(record["spent"])
    out: dict[str, t.Any] = {"per host task": {}, "run_once (all, per host)": 0.0, "run_once by task": {}}
    for task, spent in by_task.items():
        if len(spent) < hosts:
            share = 1000 * sum(s["worker total"] for s in spent) / hosts
            out["run_once (all, per host)"] += share
            out["run_once by task"][f"{task} (x{len(spent)})"] = round(share, 2)
            continue
        phases = sorted({p for s in spent for p in s})
        mean = {p: 1000 * sum(s.get(p, 0.0) for s in spent) / len(spent) for p in phases}
        out["per host task"][task] = {p: round(ms, 1) for p, ms in mean.items()}
    main = folder / "main.json"
    if main.is_file():
        out["main process (per host)"] = round(1000 * json.loads(main.read_text())["main process"] / hosts, 1)
    out["run_once (all, per host)"] = round(out["run_once (all, per host)"], 1)
    return out


if __name__ == "__main__":
    print(json.dumps(summarize(Path(sys.argv[1]), int(sys.argv[2])), indent=2))
