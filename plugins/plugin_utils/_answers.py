# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's answer is untrusted input: checks for the answers that choose a controller path or a next action.

One compromised PC of a fleet may answer anything. Where an answer picks a file the controller
reads, a path it writes to, or a process, account or session it acts on, the answer must be one of
the things the controller asked about, compared exactly: no normalisation, which is where path
tricks hide. Anything else fails the task with a message naming the entry, before anything is done.
"""

from __future__ import annotations

import ntpath
import re
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError

# S-1-<revision>-<authority>-<subauthority>...: how Windows writes a SID (ConvertSidToStringSid).
_SID = re.compile(r"^S-1-\d{1,14}(-\d{1,10}){1,15}$")
# DOMAIN\user or user@domain or user: no control characters, none of the characters Windows refuses in
# an account name (" / [ ] : ; | = , + * ? < >, "User Account Names" in Microsoft's Active Directory docs).
_ACCOUNT = re.compile(r'^(?:[^\x00-\x1f"/\\\[\]:;|=,+*?<>]{1,64}\\)?[^\x00-\x1f"/\\\[\]:;|=,+*?<>]{1,104}$')


class HostAnswerError(PrimitiveError):
    """The host answered something the controller did not ask about: nothing was done with it."""

    def __init__(self, name: str, msg: str) -> None:
        super().__init__(name, f"refused the host's answer: {msg}; nothing was done with it", 0)


def listed(answer: t.Mapping[str, t.Any], key: str, primitive: str) -> list[t.Any]:
    """``answer[key]`` as a list; a missing key is an empty list, anything else but a list is refused."""
    value = answer.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise HostAnswerError(primitive, f"{key} must be a list, got {type(value).__name__}")
    return value


def only_sent(entries: t.Iterable[t.Any], sent: t.Collection[str], primitive: str, what: str) -> list[str]:
    """The entries, each of which must be exactly one of ``sent`` (a string, same case), in order, once each."""
    accepted: list[str] = []
    for entry in entries:
        if not isinstance(entry, str) or entry not in sent:
            raise HostAnswerError(primitive, f"{what} {entry!r} is not one the controller sent")
        if entry not in accepted:
            accepted.append(entry)
    return accepted


def same_directory(answered: t.Any, requested: str, primitive: str) -> str:
    """The folder the host says it prepared, which must be the one requested.

    Windows compares paths without regard to case, and Resolve-Path may write the drive letter
    or the separators otherwise; anything that differs beyond that is refused. A relative request
    (a cache_dir relative to the WinRM account's working folder) may come back absolute, as long as
    it ends with the request and climbs nowhere (no ``..``).
    """
    if not isinstance(answered, str) or not answered or "\x00" in answered:
        raise HostAnswerError(primitive, f"directory {answered!r} is not a path")

    def plain(path: str) -> str:
        return path.replace("/", "\\").rstrip("\\").lower()

    got, want = plain(answered), plain(requested)
    if got == want:
        return answered
    absolute = bool(ntpath.splitdrive(requested)[0]) or requested.startswith(("\\", "/"))
    climbs = ".." in got.split("\\") or ".." in want.split("\\")
    if not absolute and not climbs and got.endswith("\\" + want) and ntpath.splitdrive(answered)[0]:
        return answered
    raise HostAnswerError(primitive, f"directory {answered!r} is not the folder requested, {requested!r}")


def relative_paths(entries: t.Iterable[t.Any], primitive: str) -> list[str]:
    """Paths inside a folder the controller named: relative, climbing nowhere, no drive, root or stream."""
    accepted: list[str] = []
    for entry in entries:
        parts = entry.replace("/", "\\").split("\\") if isinstance(entry, str) else []
        if not parts or any(p in ("", ".", "..") or ":" in p or "\x00" in p for p in parts):
            raise HostAnswerError(primitive, f"file {entry!r} is not a path inside the folder")
        accepted.append(entry)
    return accepted


def sid(value: t.Any, primitive: str) -> str:
    """A SID as Windows writes it; the host's answer names task and registry keys with it."""
    if not isinstance(value, str) or not _SID.match(value):
        raise HostAnswerError(primitive, f"SID {value!r} is not a Windows SID (S-1-...)")
    return value


def account(value: t.Any, primitive: str) -> str:
    """An account name as Windows writes one; the host's answer chooses who a task runs as."""
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise HostAnswerError(primitive, f"account {value!r} is not a Windows account name")
    return value


def process_of(proc: t.Any, names: t.Collection[str], primitive: str) -> t.Mapping[str, t.Any]:
    """A process the controller asked about by name, with a PID and session that are numbers.

    The PID goes back to the host as the process to stop: one named otherwise is not the controller's to stop.
    """
    if not isinstance(proc, dict):
        raise HostAnswerError(primitive, f"process {proc!r} is not an object")
    name = proc.get("name")
    wanted = {n.lower().removesuffix(".exe") for n in names}
    if not isinstance(name, str) or name.lower().removesuffix(".exe") not in wanted:
        raise HostAnswerError(primitive, f"process {name!r} (PID {proc.get('pid')!r}) is not one asked about")
    for key in ("pid", "session_id"):
        value = proc.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HostAnswerError(primitive, f"process {name!r}: {key} {value!r} is not a number")
    return proc
