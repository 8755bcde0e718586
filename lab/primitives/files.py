"""Get-FileState: existence, size and SHA-256 of given paths (the controller's content-addressed cache)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.primitives import PrimitiveContext, PrimitiveFailure, arg_str_list, primitive

if TYPE_CHECKING:
    from lab.host.host import Host


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
    try:
        directory = host.files.mkdir(root, parents=True)
    except (OSError, ValueError) as exc:
        raise PrimitiveFailure(f"cannot create {root}: {exc}") from exc
    stale: list[str] = []
    for entry in entries:
        rel = str(entry.get("path") or "")
        path = f"{directory.rstrip(chr(92))}\\{rel}"
        parent = path.replace("/", "\\").rpartition("\\")[0]
        try:
            host.files.mkdir(parent, parents=True)
            same = host.files.is_file(path) and host.files.sha256(path) == str(entry.get("sha256") or "").lower()
        except (OSError, ValueError) as exc:
            raise PrimitiveFailure(f"cannot prepare {path}: {exc}") from exc
        if not same:
            stale.append(rel)
    return {"directory": directory, "stale": stale}
