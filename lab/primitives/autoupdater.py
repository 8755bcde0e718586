"""Get-AutoUpdater and Set-AutoUpdater: the per-user auto-updater's settings, state and startup task.

Both read and write another user's hive the way ``_Hive.ps1`` does on Windows: ``HKU\\<SID>`` while that
hive is loaded (the user is logged on), else ``reg load HKU\\rw_<SID> <profile>\\NTUSER.DAT`` for the moment
and ``reg unload`` afterwards, with reg.exe's own refusals (:class:`lab.host.registry.HiveError`). The
startup task goes through the host's Task Scheduler; its principal is the user (S4U, limited token), which
the lab's task model records next to the task as Register-ScheduledTask would.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lab.host.behaviour import TIMEZONE_KEY, WEBVIEW2_CLIENT, WEBVIEW2_MACHINE_KEY, WINDOWS_TIMEZONES
from lab.host.msiregister import MACHINE_SID, USERDATA
from lab.host.registry import HiveError
from lab.host.state import PROFILE_LIST
from lab.host.updater_state import POLICY_VALUES, STATE_VALUES
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, arg_str_list, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

MAX_STRING = 4096  # the primitive cuts every string it reads from a hive at this length
# What Get-ScheduledTask shows as a trigger's CIM class, per trigger type of the lab's task model.
TRIGGER_CLASSES = {
    "startup": "MSFT_TaskBootTrigger",
    "logon": "MSFT_TaskLogonTrigger",
    "daily": "MSFT_TaskDailyTrigger",
    "once": "MSFT_TaskTimeTrigger",
}
# New-ItemProperty -PropertyType -> the registry type it writes.
PROPERTY_TYPES = {"dword": "REG_DWORD", "string": "REG_SZ"}


def _bounded(value: Any) -> Any:
    """A value as Get-ItemProperty hands it over, then cut as the primitive cuts strings."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    text = " ".join(value) if isinstance(value, list) else value.hex() if isinstance(value, bytes) else str(value)
    return text[:MAX_STRING]


def _values(host: Host, key: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _bounded(host.registry.get(key, name)) for name in names}


def profile_path(host: Host, sid: str) -> str | None:
    path = host.registry.get(f"{PROFILE_LIST}\\{sid}", "ProfileImagePath")
    return path if isinstance(path, str) and path else None


@contextlib.contextmanager
def user_hive(host: Host, sid: str, profile: str | None) -> Iterator[str]:
    """The root of ``sid``'s hive under HKU, loaded with reg.exe meanwhile when the user's is not (``_Hive.ps1``)."""
    if host.registry.is_hive_loaded(sid):
        yield f"HKU\\{sid}"
        return
    if not profile:
        raise PrimitiveFailure(f"no profile path for {sid} in ProfileList")
    mount = f"rw_{sid}"
    try:
        host.registry.load_hive(mount, sid)
    except HiveError as exc:
        raise PrimitiveFailure(f"reg.exe load HKU\\{mount} failed ({exc.exit_code}): {exc.message}") from exc
    try:
        yield f"HKU\\{mount}"
    finally:
        try:
            host.registry.unload_hive(mount)
        except HiveError as exc:
            raise PrimitiveFailure(f"reg.exe unload HKU\\{mount} failed ({exc.exit_code}): {exc.message}") from exc


def _account(host: Host, sid: str) -> str | None:
    user = host.user_of_sid(sid)
    return None if user is None else f"{host.env(host.username)['COMPUTERNAME']}\\{user}"


def _matches(wanted: list[str], sid: str, account: str | None) -> bool:
    if not wanted:
        return True
    names = {sid.lower()} | ({account.lower(), account.rsplit("\\", 1)[-1].lower()} if account else set())
    return any(w.lower() in names for w in wanted)


def _products(host: Host, pattern: str, wanted: list[str]) -> list[dict[str, Any]]:
    reg = host.registry
    found: list[dict[str, Any]] = []
    if not reg.key_exists(f"HKLM\\{USERDATA}"):
        return found
    for sid in reg.subkeys(f"HKLM\\{USERDATA}"):
        base = f"HKLM\\{USERDATA}\\{sid}\\Products"
        for packed in reg.subkeys(base) if reg.key_exists(base) else []:
            props = f"{base}\\{packed}\\InstallProperties"
            if not reg.key_exists(props):
                continue
            values = {k.lower(): v.data for k, v in reg.values(props).items()}
            name = values.get("displayname")
            if not fnmatch.fnmatchcase(str(name or "").lower(), pattern.lower()):
                continue
            machine = sid == MACHINE_SID
            account = None if machine else _account(host, sid)
            if not machine and not _matches(wanted, sid, account):
                continue
            found.append(
                {
                    "sid": sid,
                    "user": account,
                    "scope": "machine" if machine else "user",
                    "name": name,
                    "version": values.get("displayversion"),
                    "install_source": values.get("installsource"),
                }
            )
    return found


def _task(host: Host, path: str, sid: str) -> dict[str, Any] | None:
    folder = path if path.endswith("\\") else path + "\\"
    task = host.tasks.get((folder + sid).lower())
    if task is None:
        return None
    trigger = str(task["trigger"].get("type"))
    return {
        "execute": task["action"]["exe"],
        "arguments": " ".join(task["action"]["arguments"]),
        "user_id": task.get("user_id", task["principal"]),
        "logon_type": task.get("logon_type", "Interactive"),
        "run_level": task.get("run_level", "Limited"),
        "triggers": [TRIGGER_CLASSES[trigger]] if trigger in TRIGGER_CLASSES else [],
    }


def _read_user(host: Host, entry: dict[str, Any], args: dict[str, Any]) -> None:
    sid = entry["sid"]
    entry["profile"] = profile_path(host, sid)
    entry["hive_error"] = None
    settings, policy = args["settings_key"], args["policy_key"]
    try:
        with user_hive(host, sid, entry["profile"]) as root:
            entry["install_dir"] = _values(host, f"{root}\\{settings}", ("InstallDir",))["InstallDir"]
            entry["policy"] = _values(host, f"{root}\\{policy}", POLICY_VALUES)
            entry["state"] = _values(host, f"{root}\\{settings}\\AutoUpdater", STATE_VALUES)
            entry["webview2_user"] = _values(host, f"{root}\\Software\\{WEBVIEW2_CLIENT}", ("pv",))["pv"]
    except PrimitiveFailure as exc:
        entry["hive_error"] = exc.msg
    directory = entry.get("install_dir")
    exe = f"{directory}\\{args['updater_executable']}" if isinstance(directory, str) and directory else None
    entry["updater_exists"] = bool(exe and host.files.is_file(exe))
    entry["task"] = _task(host, args["task_path"], sid)


def host_clock(host: Host) -> dict[str, Any]:
    """[TimeZoneInfo]::Local.Id, the offset now and the UTC time, as the primitive reports them."""
    now = host.clock.now().astimezone(UTC)
    windows_id = host.registry.get(TIMEZONE_KEY, "TimeZoneKeyName") or WINDOWS_TIMEZONES[host.behaviour.timezone]
    offset = now.astimezone(ZoneInfo(host.behaviour.timezone)).utcoffset()
    return {
        "timezone_id": windows_id,
        "utc_offset_minutes": int(offset.total_seconds() // 60) if offset is not None else 0,
        "utc_now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@primitive("Get-AutoUpdater")
async def get_auto_updater(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    keys = {k: arg_str(args, k) for k in ("policy_key", "settings_key", "task_path", "updater_executable")}
    found = _products(host, arg_str(args, "name") or "", arg_str_list(args, "users", required=False))
    for entry in found:
        if entry["scope"] == "user":
            _read_user(host, entry, keys)
    return {
        "products": found,
        "webview2_machine": _bounded(host.registry.get(WEBVIEW2_MACHINE_KEY, "pv")),
        **host_clock(host),
    }


def _apply_values(host: Host, root: str, key: str, values: dict[str, Any]) -> list[str]:
    path = f"{root}\\{key}"
    host.registry.create_key(path)
    written = []
    for name, value in values.items():
        if value is None:
            host.registry.delete_value(path, name)
        else:
            if not isinstance(value, dict) or str(value.get("type", "")).lower() not in PROPERTY_TYPES:
                raise PrimitiveFailure(f"Cannot bind parameter 'PropertyType' for value {name}")
            try:
                host.registry.set_value(path, name, value.get("data"), PROPERTY_TYPES[value["type"].lower()])
            except ValueError as exc:
                raise PrimitiveFailure(f"New-ItemProperty {name}: {exc}") from exc
        written.append(name)
    return written


@primitive("Set-AutoUpdater")
async def set_auto_updater(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    policy_key = arg_str(args, "policy_key") or ""
    task_path = arg_str(args, "task_path") or ""
    users = args.get("users")
    if not isinstance(users, list):
        raise PrimitiveFailure("argument users must be a list")
    done = []
    for entry in users:
        sid = arg_str(entry, "sid") or ""
        values = entry.get("values")
        changed: list[str] = []
        if values is not None:
            with user_hive(host, sid, entry.get("profile")) as root:
                changed = _apply_values(host, root, policy_key, values)
        task = entry.get("task") or ""
        if task == "unregister":
            try:
                host.unregister_task(sid, task_path)
            except KeyError as exc:
                raise PrimitiveFailure(
                    f"No MSFT_ScheduledTask objects found with property 'TaskName' equal to '{sid}'."
                ) from exc
        elif task == "register":
            user = host.user_of_sid(sid)
            if user is None:
                raise PrimitiveFailure("No mapping between account names and security IDs was done.")
            registered = host.register_task(
                sid,
                user=user,
                trigger={"type": "startup"},
                exe=arg_str(entry, "execute") or "",
                arguments=[arg_str(entry, "argument") or ""],
                path=task_path,
            )
            # What New-ScheduledTaskPrincipal said; the lab's task model runs the task as the user either way.
            registered.update(user_id=sid, logon_type="S4U", run_level="Limited")
        done.append({"sid": sid, "values": changed, "task": task or "unchanged"})
    return {"users": done}


# Task Scheduler's results before a task has started (SCHED_S_TASK_HAS_NOT_RUN, SCHED_S_TASK_QUEUED).
NOT_STARTED = (267011, 267045)
START_WAIT_SECONDS = 30.0


def _startup_tasks(host: Host, task_path: str, exe: str) -> list[dict[str, Any]]:
    """The tasks in ``task_path`` that start ``exe`` at system startup, in the order Get-ScheduledTask lists."""
    folder = (task_path if task_path.endswith("\\") else task_path + "\\").lower()
    return [
        task
        for task in host.tasks.values()
        if task["path"].lower() == folder
        and task["trigger"].get("type") == "startup"
        and str(task["action"]["exe"]).rsplit("\\", 1)[-1].lower() == exe.lower()
    ]


async def _start_once(host: Host, sid: str, user: str, *, exe: str, argument: str, now_path: str) -> None:
    """Register-, Start- and Unregister-ScheduledTask of the one-shot task, once Task Scheduler has started it."""
    task = host.register_task(sid, user=user, trigger={"type": "demand"}, exe=exe, arguments=[argument], path=now_path)
    task.update(user_id=sid, logon_type="S4U", run_level="Limited")
    try:
        host.start_task(sid, now_path)
        deadline = host.clock.monotonic() + START_WAIT_SECONDS
        # start_task shows Running at once; the run itself begins when the scheduler picks it up (last_run).
        while task["last_run"] is None or task["last_result"] in NOT_STARTED:
            if host.clock.monotonic() >= deadline:
                raise PrimitiveFailure("Task Scheduler did not start the task within 30 seconds")
            await host.clock.sleep(0.25)
        result = task["last_result"] & 0xFFFFFFFF
        if result >= 0x80000000:  # a launch failure (logon refused, program missing): the updater never ran
            raise PrimitiveFailure(f"Task Scheduler could not start the task (0x{result:08X})")
    finally:
        host.unregister_task(sid, now_path)


@primitive("Start-AutoUpdaterNow")
async def start_auto_updater_now(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    policy_key, task_path, now_path, exe, argument = (
        arg_str(args, k) or "" for k in ("policy_key", "task_path", "now_path", "updater_executable", "argument")
    )
    wanted = arg_str_list(args, "users", required=False)
    start = bool(args.get("start"))
    done = []
    for task in _startup_tasks(host, task_path, exe):
        sid = str(task["name"])
        account = _account(host, sid)
        if not _matches(wanted, sid, account):
            continue
        entry: dict[str, Any] = {
            "sid": sid,
            "user": account,
            "policy_enabled": False,
            "task_state": task["state"],
            "started": False,
            "error": None,
        }
        try:
            with user_hive(host, sid, profile_path(host, sid)) as root:
                value = host.registry.get(f"{root}\\{policy_key}", "Enabled")
            entry["policy_enabled"] = isinstance(value, int) and not isinstance(value, bool) and value == 1
        except PrimitiveFailure as exc:
            entry["error"] = exc.msg
        user = host.user_of_sid(sid)
        if start and entry["policy_enabled"] and entry["task_state"] != "Disabled" and user is not None:
            try:
                await _start_once(host, sid, user, exe=str(task["action"]["exe"]), argument=argument, now_path=now_path)
                entry["started"] = True
            except PrimitiveFailure as exc:
                entry["error"] = exc.msg
        done.append(entry)
    return {"users": done}
