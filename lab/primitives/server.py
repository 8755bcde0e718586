"""Get-ServerState and Invoke-ServerInstaller: the backend server product of a simulated Windows Server.

Written from what Windows does, against the host model's server product (:mod:`lab.host.serverproduct`):
``RegistryKey.GetValueKind`` names a value's type (String, MultiString, DWord ...), ``Get-Service`` a
service's Status, and the installer is a program started with a command line that its C runtime splits by
the CommandLineToArgvW rules (:func:`lab.host.msiargs.split_argv`). Whether the WinRM token is an
administrator's is, in the lab, whether the command runs as the host's administrator account.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import TYPE_CHECKING, Any

from lab.host.msiargs import split_argv
from lab.host.serverproduct import run_server_installer, service_status
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

NAMES = (
    "Version",
    "Mode",
    "Database",
    "SchemaVersion",
    "ClusterName",
    "ClusterMembers",
    "UpdateProgress",
    "LastInstallLog",
)
MAX_TEXT = 4096  # the primitive cuts every string at this length
MAX_ITEMS = 256  # and a REG_MULTI_SZ at this many entries
# RegistryValueKind's names, per registry type (learn.microsoft.com: Microsoft.Win32.RegistryValueKind).
KINDS = {
    "REG_SZ": "String",
    "REG_EXPAND_SZ": "ExpandString",
    "REG_MULTI_SZ": "MultiString",
    "REG_DWORD": "DWord",
    "REG_QWORD": "QWord",
    "REG_BINARY": "Binary",
}
LOG_TAIL_LINES = 40  # Read-RwLogTail's default


def _bounded(data: Any) -> Any:
    """As Get-RwBounded in the primitive: strings cut, lists cut, numbers kept, anything else null."""
    if isinstance(data, str):
        return data[:MAX_TEXT]
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    if isinstance(data, list):
        return [str(item)[:MAX_TEXT] for item in data[:MAX_ITEMS]]
    return None


@primitive("Get-ServerState")
async def get_server_state(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    key = f"HKLM\\{arg_str(args, 'settings_key')}"
    service = arg_str(args, "service") or ""
    exists = host.registry.key_exists(key)
    present = {name.lower(): value for name, value in host.registry.values(key).items()} if exists else {}
    values: dict[str, Any] = {}
    kinds: dict[str, Any] = {}
    for name in NAMES:
        found = present.get(name.lower())  # GetValueNames / -notcontains: case-insensitive
        values[name] = None if found is None else _bounded(found.data)
        kinds[name] = None if found is None else KINDS.get(found.type, "Unknown")
    return {
        "name": host.env(ctx.user)["COMPUTERNAME"],
        "key_exists": exists,
        "values": values,
        "kinds": kinds,
        "service": service_status(host, service),
    }


def _log_tail(host: Host, path: str) -> list[str]:
    if not path or not host.files.is_file(path):
        return []
    raw = host.files.read_bytes(path)
    text = raw[2:].decode("utf-16-le", "replace") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8", "replace")
    return [line for line in re.split(r"\r\n|\n", text) if line][-LOG_TAIL_LINES:]


@primitive("Invoke-ServerInstaller")
async def invoke_server_installer(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    installer = arg_str(args, "installer") or ""
    expected = (arg_str(args, "sha256") or "").upper()
    log_path = arg_str(args, "log_path") or ""
    result: dict[str, Any] = {
        "exists": False,
        "sha256": None,
        "elevated": None,
        "ran": False,
        "rc": None,
        "running": False,
        "pid": None,
        "log_path": log_path,
        "log_tail": [],
        "duration": None,
    }
    if not host.files.is_file(installer):
        return result
    result["exists"] = True
    result["sha256"] = hashlib.sha256(host.files.read_bytes(installer)).hexdigest().upper()
    if result["sha256"] != expected:
        return result
    # WindowsPrincipal.IsInRole(Administrator): the lab's administrator is the host's own WinRM account.
    result["elevated"] = ctx.user.lower() == host.username.lower()
    if not result["elevated"]:
        return result
    log_dir = log_path.rsplit("\\", 1)[0]
    if not host.files.is_dir(log_dir):
        host.files.mkdir(log_dir)
    if host.files.exists(log_path):
        host.files.remove(log_path, recurse=True)
    arguments = split_argv(arg_str(args, "command_line", required=False) or "")
    started = host.clock.monotonic()
    try:
        timeout = float(args.get("timeout_seconds") or 3600)
    except (TypeError, ValueError) as exc:
        raise PrimitiveFailure(f"Cannot convert value to type System.Int64: {exc}") from exc
    result["ran"] = True
    # As Process.WaitForExit(ms): on the host's clock; an installer still running is left to finish.
    run = asyncio.ensure_future(run_server_installer(host, installer, arguments, ctx.user))
    waited = asyncio.ensure_future(host.clock.sleep(timeout if timeout > 0 else 3600))
    done, _pending = await asyncio.wait({run, waited}, return_when=asyncio.FIRST_COMPLETED)
    if run not in done:
        host.keep_running(run)
        result.update(running=True, pid=host.next_pid())
        return result
    waited.cancel()
    rc, _written = run.result()
    result.update(rc=rc, duration=round(host.clock.monotonic() - started, 3))
    if rc != 0:
        result["log_tail"] = _log_tail(host, log_path)
    return result
