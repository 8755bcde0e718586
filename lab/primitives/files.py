"""Get-FileState and Initialize-PackageCache (the controller's content-addressed cache), and the lab side of
``_Acl.ps1`` (:func:`protect_folder`, :func:`clear_folder`), which the primitives that run msiexec elevated or
write where it runs share."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING, Any, cast

from lab.host import filesystem as fs
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, arg_str_list, primitive
from lab.primitives.sessions import session_processes

if TYPE_CHECKING:
    from lab.host.host import Host

_TRUSTED_OWNERS = (fs.SYSTEM, fs.ADMINISTRATORS, fs.TRUSTED_INSTALLER)


def wanted_aces(read: tuple[str, ...] = (), modify: tuple[str, ...] = ()) -> list[fs.Ace]:
    """What Protect-RwFolder writes: FileSystemAccessRule(sid, right, 'ContainerInherit, ObjectInherit', 'None',
    'Allow'); .NET adds Synchronize to every allow rule, which FullControl, Modify and ReadAndExecute hold."""
    grants = [(fs.SYSTEM, fs.FULL_CONTROL), (fs.ADMINISTRATORS, fs.FULL_CONTROL)]
    grants += [(sid, fs.READ_AND_EXECUTE) for sid in read] + [(sid, fs.MODIFY) for sid in modify]
    return [fs.Ace(sid, mask, fs.OI | fs.CI) for sid, mask in grants]


def _key(owner: str, protected: bool, aces: list[fs.Ace]) -> tuple[Any, ...]:
    # Get-RwAclKey: owner, protection and every rule, inherited ones included, in any order.
    return owner, protected, sorted(aces)


def protect_folder(
    host: Host,
    ctx: PrimitiveContext,
    path: str,
    *,
    read: tuple[str, ...] = (),
    modify: tuple[str, ...] = (),
    check_only: bool = False,
) -> tuple[str, list[str]]:
    """Protect-RwFolder: ('ok' | 'created' | 'reset', names removed); PrimitiveFailure with the PowerShell's
    message otherwise. A wrong folder is removed and made anew (never SetAccessControl, which would follow a
    junction made after the check), so nothing a user planted in it survives."""
    files = host.files
    try:
        full = fs.canonical(path).rstrip("\\")
    except ValueError as exc:
        raise PrimitiveFailure(str(exc)) from exc
    parent = full.rpartition("\\")[0]
    if len(parent) > 2 and not files.exists(parent):
        files.mkdir(parent)
    walk = full
    while True:
        if files.is_reparse_point(walk):
            raise PrimitiveFailure(
                f"refusing {full}: {walk} is a junction or symbolic link; an elevated process must not write through it"
            )
        if files.exists(walk):
            owner = files.security(walk)["owner"]
            if walk != full and owner not in _TRUSTED_OWNERS:
                raise PrimitiveFailure(
                    f"refusing {full}: {walk} is owned by {owner}, who could replace what is below it; "
                    "remove it as an administrator"
                )
        if len(walk) <= 3:
            break
        walk = walk.rpartition("\\")[0]
        walk = walk + "\\" if len(walk) == 2 else walk
    want = wanted_aces(read, modify)
    state, removed = "created", []
    if files.exists(full):
        sec = files.security(full)
        aces = [fs.Ace(**a) for a in cast("list[dict[str, Any]]", sec["aces"])]
        if _key(str(sec["owner"]), bool(sec["protected"]), aces) == _key(fs.ADMINISTRATORS, True, want):
            return "ok", []
        if check_only:
            raise PrimitiveFailure(
                f"refusing {full}: its owner or ACL changed since it was checked "
                "(others than administrators may write to it)"
            )
        state, removed = "reset", files.listdir(full)
        try:
            files.remove(full, recurse=True, principal=fs.admin_principal(host.sid_of(ctx.user)))
        except PermissionError as exc:
            raise PrimitiveFailure(
                f"{full} lets others than administrators write to it and cannot be removed ({exc.strerror}); "
                "remove it as an administrator and run again"
            ) from exc
    # [IO.Directory]::CreateDirectory(path, security): created with its ACL in one call.
    files.mkdir(full, parents=False)
    files.set_security(full, owner=fs.ADMINISTRATORS, aces=want, protected=True)
    return state, removed


@primitive("Get-FileState")
async def get_file_state(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for path in arg_str_list(args, "paths"):
        entry: dict[str, Any] = {"path": path, "full_path": None, "exists": False, "is_dir": False}
        entry.update(size=None, sha256=None)
        try:
            exists = host.files.exists(path)
        except ValueError:
            exists = False
        if exists:
            full = host.files.canonical(path)
            entry.update(full_path=full, exists=True)
            if host.files.is_dir(full):
                entry["is_dir"] = True
            else:
                entry.update(size=host.files.size(full), sha256=host.files.sha256(full))
        out.append(entry)
    return {"files": out}


@primitive("Initialize-PackageCache")
async def initialize_package_cache(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    """Create the cache folder and the subfolders of every file; name the files absent or with another hash."""
    root = args.get("directory")
    if not isinstance(root, str) or not root:
        raise PrimitiveFailure("argument directory is required")
    entries = args.get("files") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PrimitiveFailure("argument files must be a list of {path, sha256}")
    cache = arg_str(args, "cache_dir", required=False) or root.replace("/", "\\").rstrip("\\").rpartition("\\")[0]
    try:
        inside = fs.canonical(root).lower().startswith(fs.canonical(cache).rstrip("\\").lower() + "\\")
    except ValueError as exc:
        raise PrimitiveFailure(str(exc)) from exc
    if not inside:
        raise PrimitiveFailure(f"directory {root} is not inside the package cache {cache}")
    acl, removed = protect_folder(host, ctx, cache, read=(fs.USERS,))
    try:
        directory = host.files.mkdir(root, parents=True)
    except (OSError, ValueError) as exc:
        raise PrimitiveFailure(f"cannot create {root}: {exc}") from exc
    stale: list[str] = []
    written: list[str] = []
    for entry in entries:
        rel = str(entry.get("path") or "")
        path = f"{directory.rstrip(chr(92))}\\{rel}"
        parent = path.replace("/", "\\").rpartition("\\")[0]
        try:
            host.files.mkdir(parent, parents=True)
            same = host.files.is_file(path) and host.files.sha256(path) == str(entry.get("sha256") or "").lower()
        except (OSError, ValueError) as exc:
            raise PrimitiveFailure(f"cannot prepare {path}: {exc}") from exc
        if same:
            continue
        content = entry.get("content")
        if not content:
            stale.append(rel)
            continue
        written.append(_write_inline(host, path, str(content), str(entry.get("sha256") or ""), rel))
    cache_dir = host.files.canonical(cache).rstrip("\\")
    result: dict[str, Any] = {
        "directory": directory,
        "stale": stale,
        "written": written,
        "cache_dir": cache_dir,
        "acl": acl,
        "removed": removed,
    }
    if "processes" in args:
        # After the files are written, as the PowerShell side lists them: the Office gate's first poll.
        result["office"] = session_processes(host, ctx, arg_str_list(args, "processes", required=False))
    return result


def _write_inline(host: Host, path: str, content: str, sha256: str, rel: str) -> str:
    """A file sent inline: [Convert]::FromBase64String, its SHA-256 checked, written under a temporary name
    and moved into place, as Initialize-PackageCache.ps1 does."""
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        # .NET Framework's own words for a bad base64 string (System.FormatException, resource Format_BadBase64Char).
        raise PrimitiveFailure(
            "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two "
            "padding characters, or an illegal character among the padding characters."
        ) from exc
    if hashlib.sha256(data).hexdigest() != sha256.lower():
        raise PrimitiveFailure(f"content of {rel} does not have its SHA-256")
    try:
        host.files.write_bytes(path + ".rw-partial", data)
        if host.files.exists(path):
            host.files.remove(path)
        host.files.move(path + ".rw-partial", path)
    except (OSError, ValueError) as exc:
        raise PrimitiveFailure(f"cannot write {path}: {exc}") from exc
    return rel
