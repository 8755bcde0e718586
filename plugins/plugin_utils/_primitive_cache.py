# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's record of which primitives a host keeps (:data:`CACHE_FOLDER`).

Ansible runs every task of a host in a freshly forked worker, so what one task learnt (this host
keeps ``Get-HostInfo`` of this hash) must outlive the worker: one small JSON file per host and
WinRM account in a record folder, written atomically (a temporary file in the same folder, then
``os.replace``). The record is only a hint. A host that lost the file answers a cache miss and the
full script follows: one command more, never a failure, never other code run. Two workers writing
the same record at once lose at worst one entry, which costs the same one command later.

Settings, inventory variables first:

* ``rollout_windows_primitive_cache`` (bool, default true): false sends every primitive in full,
  as before the host cache existed, and never reads or writes a record.
* ``rollout_windows_primitive_record_dir``, else the environment variable
  ``ROLLOUT_WINDOWS_PRIMITIVE_RECORD_DIR``, else ``~/.ansible/rollout.windows/primitive-records``.

A host that cannot keep primitives (the WinRM account is not an administrator, the folder cannot be
made safe) is marked unavailable for the rest of the run (the ``ansible-playbook`` process, the
workers' parent) and then gets full scripts only, as before, with one warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import typing as t
from pathlib import Path

# Where a host keeps the primitives (an administrators-only folder; _Store.ps1 sets its ACL). Named here
# only for messages: the loaders find it themselves.
CACHE_FOLDER = "%ProgramData%\\rollout.windows\\primitives"

ENV_RECORD_DIR = "ROLLOUT_WINDOWS_PRIMITIVE_RECORD_DIR"
VAR_ENABLED = "rollout_windows_primitive_cache"
VAR_RECORD_DIR = "rollout_windows_primitive_record_dir"
DEFAULT_RECORD_DIR = "~/.ansible/rollout.windows/primitive-records"
# Old collection versions' hashes stay on hosts; the record keeps the newest ones only.
MAX_HASHES = 256
# An "unavailable" mark belongs to one run; a process id can come back, a day later it is stale.
UNAVAILABLE_SECONDS = 24 * 3600
_MAX_RECORD_BYTES = 256 * 1024


class UnsentMiss(Exception):
    """A cache-miss answer for a primitive or hash that was not sent (WinHost makes it a PrimitiveError)."""


class HostRecord:
    """What the controller knows of one host's kept primitives; ``path`` None keeps it in memory only."""

    def __init__(self, path: Path | None, run_id: int | None = None) -> None:
        self.path = path
        self.run_id = os.getppid() if run_id is None else run_id
        self.hashes: list[str] = []
        self.unavailable: dict[str, t.Any] | None = None
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            if path.stat().st_size > _MAX_RECORD_BYTES:
                return
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # no record, or one half written by an older version: the same as none
        if not isinstance(data, dict):
            return
        hashes = data.get("hashes")
        if isinstance(hashes, list):
            self.hashes = [h for h in hashes if isinstance(h, str) and len(h) == 64][-MAX_HASHES:]
        mark = data.get("unavailable")
        fresh = isinstance(mark, dict) and time.time() - float(mark.get("at") or 0) < UNAVAILABLE_SECONDS
        if fresh and isinstance(mark, dict) and mark.get("run") == self.run_id:
            self.unavailable = mark

    def usable(self) -> bool:
        """Whether to use the host cache at all in this run."""
        return self.unavailable is None

    def holds(self, digest: str) -> bool:
        return digest in self.hashes

    def forget(self, digest: str) -> None:
        if digest in self.hashes:
            self.hashes.remove(digest)
            self._save()

    def stored(self, digest: str, report: dict[str, t.Any] | None) -> list[str]:
        """Take in what the storing loader answered; the warnings worth showing."""
        if report is None:
            return []  # no answer about the copy (a host without the loader): try again next time
        warnings = []
        if report.get("acl") == "reset":
            removed = ", ".join(report.get("removed") or []) or "nothing"
            warnings.append(
                f"the primitive folder {report['dir']} on this host had another owner or let others than "
                f"administrators write to it: it was made anew for administrators and SYSTEM only (removed: {removed})"
            )
        if report.get("stored"):
            if digest in self.hashes:
                self.hashes.remove(digest)
            self.hashes = [*self.hashes, digest][-MAX_HASHES:]
        else:
            self.unavailable = {"run": self.run_id, "at": time.time(), "msg": report.get("msg", "")}
            warnings.append(
                f"this host cannot keep the collection's primitives ({report.get('msg') or 'no reason given'}); "
                "for the rest of this run every command carries its whole script"
            )
        self._save()
        return warnings

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"hashes": self.hashes, "unavailable": self.unavailable}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle)
                os.replace(temp, self.path)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        except OSError:
            pass  # an unwritable record folder only costs the full script next time


def _boolean(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "n", "f", "")


def _option(connection: t.Any, name: str) -> t.Any:
    try:
        return connection.get_option(name)
    except Exception:  # a stand-in connection, or an option this connection does not have
        return None


def record_for(action: t.Any) -> HostRecord | t.Literal[False]:
    """The record of the host ``action`` talks to; False when the host cache is switched off."""
    templar = getattr(action, "_templar", None)
    variables: t.Any = getattr(templar, "available_variables", None) or {}

    def variable(name: str) -> t.Any:
        try:
            value = variables.get(name)
            if isinstance(value, str) and "{{" in value and templar is not None:
                value = templar.template(value)
        except Exception:
            return None
        return value

    enabled = variable(VAR_ENABLED)
    if enabled is not None and not _boolean(enabled):
        return False
    connection = getattr(action, "_connection", None)
    address = _option(connection, "remote_addr")
    if not address:
        return HostRecord(None)  # no host to name a record after: remember within this task only
    identity = json.dumps(
        [
            str(variable("inventory_hostname") or ""),
            str(address),
            str(_option(connection, "port") or ""),
            str(_option(connection, "remote_user") or ""),
        ]
    )
    folder = variable(VAR_RECORD_DIR) or os.environ.get(ENV_RECORD_DIR) or DEFAULT_RECORD_DIR
    name = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32] + ".json"
    return HostRecord(Path(os.path.expanduser(str(folder))) / name)


def cache_miss(name: str, digest: str, last: t.Mapping[str, t.Any] | None, expected: bool = True) -> str | None:
    """The reason of a cache-miss answer (None when the answer is none), from ``last``, the last JSON object of a
    command that failed (None for one that did not). Only the loader answers one, and only for what it was sent:
    a miss naming another primitive or hash is refused, never acted on."""
    if last is None or "cache_miss" not in last:
        return None
    if not expected:
        return "unexpected"
    if last.get("cache_miss") != name or last.get("sha256") != digest:
        raise UnsentMiss(
            f"the host answered a cache miss for {str(last.get('cache_miss'))[:80]!r} "
            f"({str(last.get('sha256'))[:80]}), which was not sent; nothing was sent again"
        )
    reason = last.get("reason")
    return reason if reason in ("absent", "denied", "mismatch") else "mismatch"


def store_report(stdout: str) -> dict[str, t.Any] | None:
    """The ``{"rw_cache": {...}}`` line the storing loader prints before the primitive's own result (the caller
    bounds the length of ``stdout``), checked:
    ``{"stored": bool, "acl": "ok" | "created" | "reset", "removed": [names], "msg": str, "dir": str}``."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip().startswith("{")]
    for line in lines[:-1]:  # the last JSON line is the primitive's result
        try:
            candidate = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if (
            not isinstance(candidate, dict)
            or set(candidate) != {"rw_cache"}
            or not isinstance(candidate["rw_cache"], dict)
        ):
            continue
        raw = candidate["rw_cache"]
        listed = raw.get("removed")
        removed = listed if isinstance(listed, list) else []
        return {
            "stored": raw.get("stored") is True,
            "acl": raw.get("acl") if raw.get("acl") in ("ok", "created", "reset") else None,
            "removed": [str(r)[:200] for r in removed[:20] if isinstance(r, str)],
            "msg": str(raw.get("msg") or "")[:500],
            "dir": str(raw.get("dir") or CACHE_FOLDER)[:260],
        }
    return None
