"""Get-MsiProperty and Invoke-Msiexec: read a package on the host; run msiexec with an argument array."""

from __future__ import annotations

import asyncio
import io
import re
from typing import TYPE_CHECKING, Any

import pymsi

from lab.host import filesystem as fs
from lab.host.msiargs import split_command_line
from lab.host.msipackage import MSI_CACHE, MsiParseError
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, primitive
from lab.primitives.files import protect_folder
from lab.primitives.products import installed_products

if TYPE_CHECKING:
    from lab.host.host import Host

LOG_TAIL_LINES = 40
_LOG_OPTION = re.compile(r"^[/-](l[iwearucmopvx+!*]*|log)$", re.IGNORECASE)


@primitive("Get-MsiProperty")
async def get_msi_property(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    path = arg_str(args, "path")
    assert path is not None
    try:
        full = host.files.canonical(path)
        data = host.files.read_bytes(full)
    except (OSError, ValueError) as exc:
        raise PrimitiveFailure(f"file not found: {path}") from exc
    try:
        package = MSI_CACHE.get(data, host.files.sha256(full))
    except MsiParseError as exc:
        # What the COM object's OpenDatabase throws for a file that is not an MSI.
        msg = f'Exception calling "InvokeMember" with "5" argument(s): "OpenDatabase,{path},0"'
        raise PrimitiveFailure(msg) from exc
    result: dict[str, Any] = {"path": full, **package.summary()}
    if args.get("payload"):
        result.update(payload_rows(data))
    return result


# The columns the PowerShell primitive selects; StringData gives "" for a null and digits for a number.
PAYLOAD_COLUMNS = {
    "Directory": ("Directory", "Directory_Parent", "DefaultDir"),
    "Component": ("Component", "Directory_"),
    "File": ("FileName", "Component_", "Attributes"),
    "Media": ("Cabinet",),
}


def payload_rows(data: bytes) -> dict[str, Any]:
    """``word_count`` and ``tables`` as Get-MsiProperty with payload=true reads them through COM."""
    package = pymsi.Package(io.BytesIO(data))
    tables: dict[str, list[dict[str, str]]] = {}
    for table, columns in PAYLOAD_COLUMNS.items():
        try:
            rows = [dict(row) for row in package[table]]
        except Exception:  # pymsi's own error for a table the package lacks: OpenView fails, no rows
            rows = []
        tables[table] = [{c: "" if row.get(c) is None else str(row[c]) for c in columns} for row in rows]
    word_count = getattr(getattr(package, "summary", None), "word_count", None)
    return {"word_count": int((word_count() if callable(word_count) else word_count) or 0), "tables": tables}


def log_path_of(arguments: list[str]) -> str | None:
    for i, arg in enumerate(arguments[:-1]):
        if _LOG_OPTION.match(arg):
            return arguments[i + 1]
    return None


def log_tail(host: Host, log_path: str | None) -> list[str]:
    """``Get-Content -Tail 40`` of an msiexec log (UTF-16LE with BOM), empty when there is none."""
    if not log_path or not host.files.is_file(log_path):
        return []
    raw = host.files.read_bytes(log_path)
    text = raw[2:].decode("utf-16-le", "replace") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8", "replace")
    # Get-Content splits on CR, LF and CRLF alike.
    return re.split(r"\r\n|\r|\n", text.rstrip("\r\n"))[-LOG_TAIL_LINES:]


@primitive("Invoke-Msiexec")
async def invoke_msiexec(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    command_line = arg_str(args, "command_line")
    assert command_line is not None
    arguments = split_command_line(command_line)
    log_path = arg_str(args, "log_path", required=False) or log_path_of(arguments)
    log_acl: str | None = None
    removed: list[str] = []
    if log_path:
        # As the PowerShell primitive does (Protect-RwFolder, _Acl.ps1): msiexec answers 1622 when the log
        # folder is missing, and it runs elevated, so the folder gets an administrators-only ACL first.
        log_dir = fs.canonical(log_path).rsplit("\\", 1)[0]
        log_acl, removed = protect_folder(host, ctx, log_dir)
        if host.files.exists(log_path):
            host.files.remove(log_path, recurse=True)
    package_dir = arg_str(args, "package_dir", required=False)
    if package_dir:
        protect_folder(host, ctx, package_dir, read=(fs.USERS,), check_only=True)
    started = host.clock.monotonic()
    timeout = float(args.get("timeout_seconds") or 3600)
    # As Process.WaitForExit(ms) in the primitive: on the host's clock, and a run still going on is left
    # to finish (host.msiexec_running keeps its mutex, so the next msiexec gets 1618 meanwhile).
    run = asyncio.ensure_future(host.msiexec(arguments, ctx.user))
    waited = asyncio.ensure_future(host.clock.sleep(timeout))
    done, _pending = await asyncio.wait({run, waited}, return_when=asyncio.FIRST_COMPLETED)
    if run not in done:
        host.keep_running(run)
        return {
            "rc": None,
            "running": True,
            "pid": host.msiexec_pid,
            "log_path": log_path,
            "log_acl": log_acl,
            "removed": removed,
        }
    waited.cancel()
    result = run.result()
    report = args.get("report")
    return {
        # What msiexec left registered, read in the same command (Get-RwInstalledProduct, _Products.ps1).
        "products": installed_products(host, report) if isinstance(report, dict) else None,
        "rc": result.rc,
        "log_path": log_path,
        "log_acl": log_acl,
        "removed": removed,
        "log_tail": log_tail(host, log_path),
        "duration": round(host.clock.monotonic() - started, 3),
    }
