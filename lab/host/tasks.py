"""The host's Task Scheduler: registered tasks, starting them, and their last result.

Task Scheduler runs a task's program but knows nothing about it: what an action does is
:meth:`TaskScheduler.run_action`, which the host model overrides with the programs it has
(msiexec.exe), so this module needs neither msiexec nor the primitives.
"""

from __future__ import annotations

from typing import Any

from lab.host.state import HostState

# "demand": no trigger at all, the task runs only when started (Register-ScheduledTask without -Trigger).
TRIGGER_TYPES = ("startup", "logon", "daily", "once", "demand")
SCHED_S_TASK_RUNNING = 267009  # 0x41301, the last result while a task runs
SCHED_S_TASK_HAS_NOT_RUN = 267011  # 0x41303


def _key(name: str, path: str) -> str:
    return ((path if path.endswith("\\") else path + "\\") + name).lower()


class TaskScheduler(HostState):
    """Register-, Unregister- and Start-ScheduledTask on the host's task folders."""

    def register_task(
        self,
        name: str,
        *,
        user: str,
        trigger: dict[str, Any],
        exe: str,
        arguments: list[str] | None = None,
        path: str = "\\",
        enabled: bool = True,
    ) -> dict[str, Any]:
        if not name or "\\" in name:
            raise ValueError(f"task name must be non-empty without '\\', got {name!r}")
        if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
            raise ValueError(f"trigger.type must be one of {', '.join(TRIGGER_TYPES)}, got {trigger!r}")
        if arguments is not None and not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
            raise ValueError("arguments must be a list of strings")
        folder = path if path.endswith("\\") else path + "\\"
        task = {
            "name": name,
            "path": folder,
            "principal": user,
            "trigger": dict(trigger),
            "action": {"exe": exe, "arguments": list(arguments or [])},
            "state": "Ready" if enabled else "Disabled",
            "last_run": None,
            "last_result": SCHED_S_TASK_HAS_NOT_RUN,
        }
        self.tasks[_key(name, folder)] = task
        return task

    def unregister_task(self, name: str, path: str = "\\") -> None:
        key = _key(name, path)
        if key not in self.tasks:
            raise KeyError(f"no scheduled task {path}{name}")
        del self.tasks[key]

    def _task(self, name: str, path: str) -> dict[str, Any]:
        task = self.tasks.get(_key(name, path))
        if task is None:
            raise KeyError(f"no scheduled task {path}{name}")
        return task

    def start_task(self, name: str, path: str = "\\") -> dict[str, Any]:
        """Start-ScheduledTask: returns at once, the task runs in the background and shows Running until it ends."""
        task = self._task(name, path)
        self._spawn(self.run_task(name, path))
        task["state"], task["last_result"] = "Running", SCHED_S_TASK_RUNNING
        return task

    async def run_task(self, name: str, path: str = "\\") -> dict[str, Any]:
        """Run a task now, as its principal; its last result is what its action ended with."""
        task = self._task(name, path)
        task["state"], task["last_run"] = "Running", self.clock.now().isoformat()
        task["last_result"] = SCHED_S_TASK_RUNNING
        boot = self.boot_id
        failure = self.task_launch_failures.get(str(task["principal"]).lower())
        try:
            if failure is not None:
                task["last_result"] = failure
            else:
                task["last_result"] = await self.run_action(task["action"], task["principal"])
        finally:
            if self.boot_id == boot:
                task["state"] = "Ready"
        return task

    async def run_action(self, action: dict[str, Any], user: str) -> int:
        """A task action's exit code when it runs as ``user``: a program the host does not model just succeeds."""
        return 0
