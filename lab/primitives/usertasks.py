"""Per-user installs: Get-InstallUser, Register-UserInstallTask, Wait-UserInstallTask, Set-ActiveSetup.

The lab has local accounts only: an account name resolves when it is bare, ``.\\name`` or
``COMPUTER\\name`` and the host knows the user; anything else fails to translate, as
``NTAccount.Translate`` does for an unknown account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.host import filesystem as fs
from lab.host.msiargs import split_command_line
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, arg_str_list, primitive
from lab.primitives.files import protect_folder
from lab.primitives.hostinfo import interactive_users
from lab.primitives.msi import log_path_of, log_tail

if TYPE_CHECKING:
    from lab.host.host import Host

ACTIVE_SETUP = r"HKLM\SOFTWARE\Microsoft\Active Setup\Installed Components"
# Task Scheduler's "has not ended" results (SCHED_S_TASK_RUNNING, _HAS_NOT_RUN, _QUEUED).
NOT_ENDED = (267009, 267011, 267045)
MAX_WAIT_SECONDS = 30
# NTAccount.Translate's IdentityNotMappedException message.
NOT_MAPPED = "Some or all identity references could not be translated."


def _computer(host: Host) -> str:
    return host.env(host.username)["COMPUTERNAME"]


def resolve_account(host: Host, name: str) -> str | None:
    """The local account ``name`` means, or None when it does not exist on the host."""
    domain, sep, user = name.rpartition("\\")
    if sep and domain.lower() not in (".", _computer(host).lower()):
        return None
    known = [host.username, *host.users]
    return next((u for u in known if u.lower() == user.lower()), None)


def _session_of(host: Host, user: str) -> dict[str, Any] | None:
    """The first session the user owns processes in, as Get-InstallUser finds it (explorer.exe or not)."""
    session_id = next((sid for sid, owner in interactive_users(host) if owner.lower() == user.lower()), None)
    return None if session_id is None else {"id": session_id, "user": user, "sid": host.sid_of(user)}


@primitive("Get-InstallUser")
async def get_install_user(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    computer = _computer(host)
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in arg_str_list(args, "users", required=False):
        entry: dict[str, Any] = {"name": name, "account": None, "sid": None, "session_id": None, "error": None}
        account = resolve_account(host, name)
        if account is None:
            entry["error"] = NOT_MAPPED
        else:
            sid = host.sid_of(account)
            if sid in seen:
                continue
            seen.add(sid)
            session = _session_of(host, account)
            entry.update(account=f"{computer}\\{account}", sid=sid, session_id=session["id"] if session else None)
        users.append(entry)
    if args.get("logged_on"):
        for session_id, user in interactive_users(host):
            sid = host.sid_of(user)
            if sid in seen:
                continue
            seen.add(sid)
            account = f"{computer}\\{user}"
            users.append({"name": account, "account": account, "sid": sid, "session_id": session_id, "error": None})
    active_setup = None
    component = arg_str(args, "active_setup", required=False)
    if component and host.registry.key_exists(f"{ACTIVE_SETUP}\\{component}"):
        key = f"{ACTIVE_SETUP}\\{component}"
        reg = host.registry
        active_setup = {
            "name": reg.get(key, ""),
            "version": reg.get(key, "Version"),
            "stub_path": reg.get(key, "StubPath"),
            "is_installed": reg.get(key, "IsInstalled"),
        }
    return {"users": users, "active_setup": active_setup}


@primitive("Register-UserInstallTask")
async def register_user_install_task(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    name = arg_str(args, "task_name")
    path = arg_str(args, "task_path")
    user = arg_str(args, "user")
    assert name is not None
    assert path is not None
    assert user is not None
    command_line = arg_str(args, "command_line")
    assert command_line is not None
    arguments = split_command_line(command_line)
    account = resolve_account(host, user)
    if account is None:
        # What Register-ScheduledTask says for a principal that does not exist.
        raise PrimitiveFailure("No mapping between account names and security IDs was done.")
    log_path = arg_str(args, "log_path", required=False) or log_path_of(arguments)
    log_acl: str | None = None
    removed: list[str] = []
    if log_path and arg_str(args, "log_path", required=False):
        # As Register-UserInstallTask.ps1: the log folder stays administrators-only, the user's own folder in
        # it is that user's to modify (and SYSTEM's and Administrators').
        user_dir = fs.canonical(log_path).rsplit("\\", 1)[0]
        protect_folder(host, ctx, user_dir.rsplit("\\", 1)[0])
        log_acl, removed = protect_folder(host, ctx, user_dir, modify=(arg_str(args, "user_sid") or "",))
    trigger = {"type": "demand"}
    host.register_task(name, user=account, trigger=trigger, exe="msiexec.exe", arguments=arguments, path=path)
    # An interactive-only task does not start for a user without a session: it stays "has not run".
    if _session_of(host, account) is not None:
        host.start_task(name, path)
    task = host.tasks[(path.rstrip("\\") + "\\" + name).lower()]
    return {
        "task_name": name,
        "task_path": task["path"],
        "state": task["state"],
        "log_acl": log_acl,
        "removed": removed,
    }


@primitive("Wait-UserInstallTask")
async def wait_user_install_task(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    name = arg_str(args, "task_name")
    path = arg_str(args, "task_path")
    assert name is not None
    assert path is not None
    log_path = arg_str(args, "log_path", required=False)
    user_sid = arg_str(args, "user_sid", required=False)
    wait = args.get("wait_seconds") or 0
    if isinstance(wait, bool) or not isinstance(wait, int | float):
        raise PrimitiveFailure("argument wait_seconds must be a number")
    deadline = host.clock.monotonic() + max(0, min(MAX_WAIT_SECONDS, int(wait)))
    key = (path.rstrip("\\") + "\\" + name).lower()
    logged_off = False
    while True:
        task = host.tasks.get(key)
        if task is None:
            raise PrimitiveFailure(f"no scheduled task {path}{name}")
        # MSFT_TaskDynamicInfo.LastTaskResult is a uint32: HRESULTs come back as 0x8xxxxxxx, never negative.
        result = task["last_result"] & 0xFFFFFFFF
        running = task["state"] == "Running" or result in NOT_ENDED
        # A task that runs only when its user is logged on never starts once the user's session is gone.
        if running and task["state"] != "Running" and user_sid:
            logged_off = all(host.sid_of(owner).upper() != user_sid.upper() for _, owner in interactive_users(host))
        if logged_off or not running or host.clock.monotonic() >= deadline:
            break
        await host.clock.sleep(1.0)
    if running and not logged_off:
        return {"finished": False, "state": task["state"], "rc": None, "task_result": result, "log_tail": []}
    tail = [] if logged_off else log_tail(host, log_path)
    host.unregister_task(name, path)
    if logged_off:
        return {
            "finished": False,
            "state": "UserLoggedOff",
            "removed": "Removed",
            "rc": None,
            "task_result": result,
            "log_tail": [],
        }
    return {"finished": True, "state": "Removed", "rc": result, "task_result": result, "log_tail": tail}


@primitive("Set-ActiveSetup")
async def set_active_setup(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    component = arg_str(args, "component")
    key = f"{ACTIVE_SETUP}\\{component}"
    reg = host.registry
    if args.get("state") == "absent":
        return {"changed": reg.delete_key(key, recurse=True)}
    reg.set_value(key, "", arg_str(args, "name", required=False) or "")
    reg.set_value(key, "Version", arg_str(args, "version") or "")
    reg.set_value(key, "StubPath", arg_str(args, "stub_path") or "")
    reg.set_value(key, "IsInstalled", 1, "REG_DWORD")
    return {"changed": True}
