"""The lab side of the two loaders that keep primitives on a host (``_Cached.ps1`` and ``_Store.ps1``).

What Windows does with them, on the simulated file system, with its ACLs:

* cached: read ``%ProgramData%\\rollout.windows\\primitives\\<Name>-<sha256>.ps1`` once as the WinRM
  account, hash those bytes, run them only if the hash is the one the loader names; otherwise run
  nothing and answer the cache miss the loader prints.
* store: check the hash of the script that came with it, refuse a WinRM account that is not an
  administrator, give the folder its ACL (:func:`lab.primitives.files.protect_folder`, the twin of
  ``Protect-RwFolder``), write a temporary file there and move it into place; one JSON line says how
  that went; then the script runs whatever happened to the copy.

The lab's WinRM account is an elevated administrator. :func:`set_winrm_admin` makes it a standard
user (a member of Remote Management Users) for the primitive cache: its reads and writes of the
folder are then checked against the ACLs, as the file system model checks a standard user's.
Tampering with a kept file is done through the file system model as a given user (the control API's
``as-user`` write): a standard user is refused by the folder's ACL, an administrator is not.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from lab.host import filesystem as fs
from lab.primitives.core import PrimitiveContext, PrimitiveFailure
from lab.primitives.files import protect_folder

if TYPE_CHECKING:
    from lab.host.host import Host

FOLDER = "rollout.windows\\primitives"
_STANDARD_USERS: weakref.WeakSet[Any] = weakref.WeakSet()


def set_winrm_admin(host: Any, admin: bool) -> None:
    """Whether the host's WinRM account is an administrator (default) or a standard user."""
    if admin:
        _STANDARD_USERS.discard(host)
    else:
        _STANDARD_USERS.add(host)


def winrm_is_admin(host: Any) -> bool:
    return host not in _STANDARD_USERS


def folder(host: Host, user: str) -> str:
    """``$env:ProgramData\\rollout.windows\\primitives`` as the command's environment has it."""
    return host.env(user)["ProgramData"].rstrip("\\") + "\\" + FOLDER


def kept_path(host: Host, user: str, name: str, sha256: str) -> str:
    return f"{folder(host, user)}\\{name}-{sha256}.ps1"


def _principal(host: Host, user: str) -> fs.Principal | None:
    # None: unchecked, as every other file access of the lab's elevated WinRM account.
    return None if winrm_is_admin(host) else fs.user_principal(host.sid_of(user))


def load(host: Host, user: str, name: str, sha256: str) -> tuple[str | None, str]:
    """(the kept script, "") when its bytes have ``sha256``; (None, reason) otherwise, as _Cached.ps1 decides:
    ``denied`` for UnauthorizedAccessException, ``absent`` for any other failure to read, ``mismatch``."""
    path = kept_path(host, user, name, sha256)
    try:
        data = host.files.read_bytes(path, principal=_principal(host, user))
    except (PermissionError, IsADirectoryError):
        return None, "denied"
    except (OSError, ValueError):
        return None, "absent"
    if hashlib.sha256(data).hexdigest() != sha256:
        return None, "mismatch"
    return data.decode("ascii", errors="replace"), ""


def miss_line(name: str, sha256: str, reason: str) -> str:
    """What _Cached.ps1 prints for a miss (PowerShell's string output, a CRLF on the console)."""
    return '{"failed":true,"cache_miss":"' + name + '","sha256":"' + sha256 + '","reason":"' + reason + '"}\r\n'


def store(host: Host, ctx: PrimitiveContext, name: str, sha256: str, script: str) -> dict[str, Any]:
    """Keep ``script`` as _Store.ps1 does; the report it prints under ``rw_cache``."""
    directory = folder(host, ctx.user)
    data = script.encode("ascii", errors="replace")  # [Text.Encoding]::ASCII.GetBytes: '?' for the rest
    got = hashlib.sha256(data).hexdigest()
    try:
        if got != sha256:
            # BitConverter.ToString prints upper-case hex.
            raise PrimitiveFailure(f"the script arrived with SHA-256 {got.upper()}, not {sha256}")
        if not winrm_is_admin(host):
            raise PrimitiveFailure(f"{host.name.upper()[:15]}\\{ctx.user} is not an administrator of this host")
        state, removed = protect_folder(host, ctx, directory)
        final = f"{directory}\\{name}-{sha256}.ps1"
        temp = f"{final}.{uuid.uuid4().hex}.tmp"
        principal = _principal(host, ctx.user)
        try:
            host.files.write_bytes(temp, data, principal=principal)
            try:
                host.files.move(temp, final, principal=principal)
            except FileExistsError:
                host.files.move(temp, final, replace=True, principal=principal)
        finally:
            if host.files.exists(temp):
                host.files.remove(temp)
    except PrimitiveFailure as exc:
        return {"stored": False, "dir": directory, "msg": exc.msg}
    except OSError as exc:
        # The .NET texts: a refused write is UnauthorizedAccessException with the resource
        # UnauthorizedAccess_IODenied_Path, "Access to the path '{0}' is denied." (lab.host.filesystem.DENIED;
        # __Error.WinIOError maps ERROR_ACCESS_DENIED to it, .NET Framework reference source mscorlib/system/io).
        return {"stored": False, "dir": directory, "msg": exc.strerror or str(exc)}
    return {"stored": True, "dir": directory, "acl": state, "removed": removed}


def report_line(report: dict[str, Any]) -> str:
    """``ConvertTo-Json -Compress`` of ``@{ rw_cache = $report }`` with non-ASCII escaped, and a CRLF."""
    text = json.dumps({"rw_cache": report}, separators=(",", ":"), ensure_ascii=True)
    return text + "\r\n"
