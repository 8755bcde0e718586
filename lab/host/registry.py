"""The Windows registry of one host: HKLM (with the WOW6432Node 32-bit view) and HKU per user SID.

Keys and value names are case-insensitive but keep the case they were created
with; values are typed. Keys are created on write only, so an idle host costs a
few dictionaries, not a copy of a real SOFTWARE hive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY")
_HIVE_ALIASES = {
    "hklm": "HKLM",
    "hkey_local_machine": "HKLM",
    "hku": "HKU",
    "hkey_users": "HKU",
    "hkcu": "HKCU",
    "hkey_current_user": "HKCU",
    "hkcr": "HKCR",
    "hkey_classes_root": "HKCR",
}
# Keys under HKLM\SOFTWARE that the 32-bit view shares with the 64-bit one instead of redirecting.
_SHARED_32 = ("classes", "wow6432node")
# reg.exe's answers, word for word (console output, exit code 1). "reg load" of a hive file another process has
# open -- the NTUSER.DAT of a user who is logged on -- fails with ERROR_SHARING_VIOLATION (32), whose system
# message is the first text (winerror.h; learn.microsoft.com/windows/win32/debug/system-error-codes--0-499-).
# "reg unload" while a handle to a key of the hive is still open fails with ERROR_ACCESS_DENIED (5), the second
# (RegUnLoadKey, learn.microsoft.com/windows/win32/api/winreg/nf-winreg-regunloadkeyw; the reg unload page of
# learn.microsoft.com/windows-server/administration/windows-commands/reg-unload). Loading onto a name that is
# already mounted is ERROR_ACCESS_DENIED as well; unloading a name that is not mounted is
# ERROR_INVALID_PARAMETER (87).
HIVE_IN_USE = "ERROR: The process cannot access the file because it is being used by another process."
ACCESS_DENIED = "ERROR: Access is denied."
INVALID_PARAMETER = "ERROR: The parameter is incorrect."


class HiveError(OSError):
    """A refused ``reg load``/``reg unload``: ``message`` is reg.exe's line, ``exit_code`` its exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass
class RegValue:
    name: str
    type: str
    data: Any

    def as_json(self) -> dict[str, Any]:
        data = self.data.hex() if isinstance(self.data, bytes | bytearray) else self.data
        return {"type": self.type, "data": data}


@dataclass
class RegKey:
    name: str
    subkeys: dict[str, RegKey] = field(default_factory=dict)
    values: dict[str, RegValue] = field(default_factory=dict)


def check_value(type_: str, data: Any) -> Any:
    """Validate ``data`` for a registry type (as the Win32 API would refuse it) and return the stored form."""
    if type_ not in REG_TYPES:
        raise ValueError(f"registry type must be one of {', '.join(REG_TYPES)}, not {type_!r}")
    if type_ in ("REG_SZ", "REG_EXPAND_SZ"):
        if not isinstance(data, str):
            raise ValueError(f"{type_} data must be a string, not {type(data).__name__}")
        return data
    if type_ == "REG_MULTI_SZ":
        if not isinstance(data, list | tuple) or not all(isinstance(s, str) for s in data):
            raise ValueError("REG_MULTI_SZ data must be a list of strings")
        return list(data)
    if type_ in ("REG_DWORD", "REG_QWORD"):
        bits = 32 if type_ == "REG_DWORD" else 64
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data < 2**bits:
            raise ValueError(f"{type_} data must be an integer 0..{2**bits - 1}")
        return data
    if not isinstance(data, bytes | bytearray):
        raise ValueError("REG_BINARY data must be bytes")
    return bytes(data)


class Registry:
    """Registry of one host. ``user_sid`` maps a user name to its SID so HKCU paths can be resolved."""

    def __init__(self, user_sid: dict[str, str] | None = None) -> None:
        self._hives: dict[str, RegKey] = {"HKLM": RegKey("HKLM"), "HKU": RegKey("HKU")}
        self.user_sid = user_sid if user_sid is not None else {}
        # Which user hives (HKU\<SID>) are loaded; None: all of them. Windows mounts a user's NTUSER.DAT under
        # HKEY_USERS while the user is logged on or a process runs with the profile loaded, and unmounts it
        # afterwards (LoadUserProfile / UnloadUserProfile, learn.microsoft.com/windows/win32/api/userenv/);
        # scripts that need another user's settings "reg load" the hive first. The data stays in the
        # profile; reads of an unloaded hive find no key.
        self.hive_loaded: Callable[[str], bool] | None = None
        self._held: dict[str, int] = {}
        # reg load'ed hives: mount name under HKU (lower case) -> the user's SID, and open handles per mount.
        self._mounts: dict[str, str] = {}
        self._handles: dict[str, int] = {}
        self._mount_case: dict[str, str] = {}

    def _resolve(self, path: str, view: int, user: str | None) -> list[str]:
        """Path -> list of components starting with the real hive, HKCU/HKCR and WOW64 redirection applied."""
        if view not in (32, 64):
            raise ValueError(f"registry view must be 32 or 64, not {view!r}")
        parts = [p for p in path.replace("/", "\\").split("\\") if p]
        if not parts:
            raise ValueError("empty registry path")
        hive = _HIVE_ALIASES.get(parts[0].rstrip(":").lower())
        if hive is None:
            raise ValueError(f"unknown registry hive in {path!r}; use HKLM, HKU, HKCU or HKCR")
        rest = parts[1:]
        if hive == "HKCU":
            if user is None or user.lower() not in {u.lower() for u in self.user_sid}:
                raise ValueError(f"HKCU needs a known user, got {user!r}")
            sid = next(s for u, s in self.user_sid.items() if u.lower() == user.lower())
            hive, rest = "HKU", [sid, *rest]
        elif hive == "HKCR":
            hive, rest = "HKLM", ["SOFTWARE", "Classes", *rest]
        if (
            view == 32
            and hive == "HKLM"
            and len(rest) >= 2
            and rest[0].lower() == "software"
            and rest[1].lower() not in _SHARED_32
        ):
            rest = [rest[0], "WOW6432Node", *rest[1:]]
        return [hive, *rest]

    def is_hive_loaded(self, sid: str) -> bool:
        """Whether ``HKU\\<sid>`` (or ``<sid>_Classes``) is visible; system hives (.DEFAULT, S-1-5-18) always are."""
        base = sid.upper().removesuffix("_CLASSES")
        known = {s.upper() for s in self.user_sid.values()}
        if self.hive_loaded is None or base not in known or self._held.get(base):
            return True
        return self.hive_loaded(base)

    @contextlib.contextmanager
    def loaded(self, sid: str) -> Iterator[None]:
        """Keep a user's hive loaded meanwhile, as for a process running with that user's profile."""
        base = sid.upper()
        self._held[base] = self._held.get(base, 0) + 1
        try:
            yield
        finally:
            self._held[base] -= 1

    # -- reg load / reg unload -------------------------------------------------------------------------------
    def load_hive(self, mount_name: str, sid: str) -> None:
        """``reg load HKU\\<mount_name> <profile>\\NTUSER.DAT``: the user's data appears under ``HKU\\<mount_name>``.

        HiveError (reg.exe's words) when the hive file is in use -- the user is logged on, so Windows has it
        loaded as ``HKU\\<SID>`` -- or when the name is taken.
        """
        name = mount_name.lower()
        base = sid.upper()
        if name in self._mounts or (name in self._hives["HKU"].subkeys and self._visible(["HKU", mount_name])):
            raise HiveError(ACCESS_DENIED)
        in_use = self._held.get(base) or (self.hive_loaded is not None and self.hive_loaded(base))
        if base in self._mounts.values() or in_use:
            raise HiveError(HIVE_IN_USE)
        self._mounts[name] = base
        self._mount_case[name] = mount_name
        self._handles[name] = 0

    def unload_hive(self, mount_name: str) -> None:
        """``reg unload HKU\\<mount_name>``; HiveError while a handle is open or when nothing is mounted there."""
        name = mount_name.lower()
        if name not in self._mounts:
            raise HiveError(INVALID_PARAMETER)
        if self._handles.get(name):
            raise HiveError(ACCESS_DENIED)
        del self._mounts[name]
        self._mount_case.pop(name, None)
        self._handles.pop(name, None)

    def mounted(self) -> dict[str, str]:
        """Mount name -> SID of the hives loaded with :meth:`load_hive`."""
        return {self._mount_case[m]: sid for m, sid in self._mounts.items()}

    @contextlib.contextmanager
    def open_handle(self, mount_name: str) -> Iterator[None]:
        """A key handle into a mounted hive held meanwhile (a process that did not let go): unload is denied."""
        name = mount_name.lower()
        if name not in self._mounts:
            raise HiveError(INVALID_PARAMETER)
        self._handles[name] += 1
        try:
            yield
        finally:
            if name in self._handles:
                self._handles[name] -= 1

    def _visible(self, parts: list[str]) -> bool:
        return not (parts[0] == "HKU" and len(parts) > 1) or self.is_hive_loaded(parts[1])

    def _walk(self, parts: list[str], create: bool) -> RegKey | None:
        mounted = self._mounts.get(parts[1].lower()) if parts[0] == "HKU" and len(parts) > 1 else None
        if mounted is not None:
            # HKU\<mount name>\...: the user's hive data, whoever else has it loaded or not.
            parts = ["HKU", mounted, *parts[2:]]
        # Only reads see hives as loaded or not: the lab's own model code (msiexec, a first logon) writes the
        # profile's hive file whether or not it is loaded at that moment.
        elif not create and not self._visible(parts):
            return None
        key = self._hives[parts[0]]
        for part in parts[1:]:
            child = key.subkeys.get(part.lower())
            if child is None:
                if not create:
                    return None
                child = key.subkeys[part.lower()] = RegKey(part)
            key = child
        return key

    def create_key(self, path: str, view: int = 64, user: str | None = None) -> None:
        self._walk(self._resolve(path, view, user), create=True)

    def key_exists(self, path: str, view: int = 64, user: str | None = None) -> bool:
        return self._walk(self._resolve(path, view, user), create=False) is not None

    def set_value(
        self, path: str, name: str, data: Any, type_: str = "REG_SZ", *, view: int = 64, user: str | None = None
    ) -> None:
        """Create the key as needed and set a typed value; ``name`` '' is the key's default value."""
        stored = check_value(type_, data)
        key = self._walk(self._resolve(path, view, user), create=True)
        assert key is not None
        existing = key.values.get(name.lower())
        key.values[name.lower()] = RegValue(existing.name if existing else name, type_, stored)

    def get_value(self, path: str, name: str, view: int = 64, user: str | None = None) -> RegValue | None:
        key = self._walk(self._resolve(path, view, user), create=False)
        return None if key is None else key.values.get(name.lower())

    def get(self, path: str, name: str, default: Any = None, view: int = 64, user: str | None = None) -> Any:
        """The data of a value, or ``default`` when the key or value is absent."""
        value = self.get_value(path, name, view, user)
        return default if value is None else value.data

    def values(self, path: str, view: int = 64, user: str | None = None) -> dict[str, RegValue]:
        key = self._walk(self._resolve(path, view, user), create=False)
        if key is None:
            raise FileNotFoundError(f"registry key not found: {path}")
        return {v.name: v for v in key.values.values()}

    def subkeys(self, path: str, view: int = 64, user: str | None = None) -> list[str]:
        parts = self._resolve(path, view, user)
        key = self._walk(parts, create=False)
        if key is None:
            raise FileNotFoundError(f"registry key not found: {path}")
        names = [k.name for k in key.subkeys.values()]
        if parts == ["HKU"]:
            names = [n for n in names if self.is_hive_loaded(n)]
            names += [self._mount_case[m] for m in self._mounts if m not in {n.lower() for n in names}]
        return sorted(names, key=str.lower)

    def delete_value(self, path: str, name: str, view: int = 64, user: str | None = None) -> bool:
        key = self._walk(self._resolve(path, view, user), create=False)
        return key is not None and key.values.pop(name.lower(), None) is not None

    def delete_key(self, path: str, recurse: bool = False, view: int = 64, user: str | None = None) -> bool:
        """Delete a key; OSError if it has subkeys and ``recurse`` is False (RegDeleteKey semantics)."""
        parts = self._resolve(path, view, user)
        if len(parts) < 2:
            raise ValueError("cannot delete a hive")
        parent = self._walk(parts[:-1], create=False)
        if parent is None or parts[-1].lower() not in parent.subkeys:
            return False
        if parent.subkeys[parts[-1].lower()].subkeys and not recurse:
            raise OSError(f"registry key has subkeys: {path}")
        del parent.subkeys[parts[-1].lower()]
        return True

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every key that exists as ``{full path: {value name: {type, data}}}`` (JSON-able)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}

        def visit(key: RegKey, prefix: str) -> None:
            out[prefix] = {v.name: v.as_json() for v in key.values.values()}
            for child in key.subkeys.values():
                visit(child, f"{prefix}\\{child.name}")

        for hive, root in self._hives.items():
            visit(root, hive)
        return out


def pack_guid(guid: str) -> str:
    """Windows Installer's packed (compressed) GUID form used as registry key names.

    ``{12345678-ABCD-EF01-2345-6789ABCDEF01}`` -> ``87654321DCBA10FE32547698BADCFE10``:
    the first three groups are reversed, the rest is reversed per byte pair.
    """
    hex_ = guid.strip("{}").replace("-", "").upper()
    if len(hex_) != 32 or any(c not in "0123456789ABCDEF" for c in hex_):
        raise ValueError(f"not a GUID: {guid!r}")
    head = hex_[0:8][::-1] + hex_[8:12][::-1] + hex_[12:16][::-1]
    tail = "".join(hex_[i : i + 2][::-1] for i in range(16, 32, 2))
    return head + tail


def unpack_guid(packed: str) -> str:
    """Inverse of :func:`pack_guid` (the transform is its own inverse on the digit string)."""
    hex_ = pack_guid("{" + packed + "}")
    return "{" + f"{hex_[0:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:32]}" + "}"
