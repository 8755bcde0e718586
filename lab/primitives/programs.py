"""Start-SessionProgram: start a program in logged-on users' own sessions through one-shot scheduled tasks.

Windows runs the program as the task's Interactive principal in that user's session; the lab starts a
process of the executable's image name there (``host.start_process``) and keeps the command line it was
given on the process, so tests can see exactly what the program received. The task's trigger has
already expired, so Task Scheduler deletes the task on its own; the lab removes it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, arg_str_list, primitive
from lab.primitives.usertasks import resolve_account

if TYPE_CHECKING:
    from lab.host.host import Host

# SCHED_S_TASK_HAS_NOT_RUN: an Interactive task for a user without a session never starts.
HAS_NOT_RUN = 267011
# What Task Scheduler reports for an action whose executable does not exist (ERROR_FILE_NOT_FOUND).
FILE_NOT_FOUND = 0x80070002


def _not_started(result: int) -> str:
    return f"the task did not start the program (task result 0x{result:08X})"


@primitive("Start-SessionProgram")
async def start_session_program(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    path = arg_str(args, "path")
    task_path = arg_str(args, "task_path")
    assert path is not None
    assert task_path is not None
    command_line = arg_str(args, "command_line", required=False) or ""
    image = path.replace("/", "\\").rsplit("\\", 1)[-1]
    if not image.lower().endswith(".exe"):
        raise PrimitiveFailure(f"argument path must name an .exe, got {path!r}")
    exists = host.files.is_file(path)
    rng = host.rng("session-program")
    results = []
    for user in arg_str_list(args, "users", required=False):
        name = f"start-{rng.getrandbits(128):032x}"
        entry: dict[str, Any] = {"user": user, "task_name": name, "started": False, "task_result": None, "error": None}
        account = resolve_account(host, user)
        if account is None:
            # Register-ScheduledTask's message for a principal that does not exist.
            entry["error"] = "No mapping between account names and security IDs was done."
            results.append(entry)
            continue
        host.register_task(
            name, user=account, trigger={"type": "once"}, exe=path, arguments=[command_line], path=task_path
        )
        session = next((s for s in host.sessions.values() if s["user"].lower() == account.lower()), None)
        if session is None:
            entry.update(task_result=HAS_NOT_RUN, error=_not_started(HAS_NOT_RUN))
        elif not exists:
            entry.update(task_result=FILE_NOT_FOUND, error=_not_started(FILE_NOT_FOUND))
        else:
            proc = host.start_process(account, image)
            proc["command_line"] = command_line
            entry.update(started=True, task_result=0)
        host.unregister_task(name, task_path)
        results.append(entry)
    return {"users": results}
