"""Where a package's files and registry values land on the host, in the context it installs in.

The context follows ALLUSERS and MSIINSTALLPERUSER; the Directory table resolves against the
context's roots (a per-user install puts ProgramFiles under the user's LocalAppData\\Programs);
Registry table rows map to hives the same way and their values carry Windows Installer's type prefixes.
"""

from __future__ import annotations

import re
from typing import Any

from lab.host.msipackage import MsiPackage, format_text
from lab.host.sessions import Sessions


def install_context(pkg: MsiPackage, props: dict[str, str]) -> str:
    allusers = props.get("ALLUSERS", pkg.properties.get("ALLUSERS", ""))
    per_user_flag = props.get("MSIINSTALLPERUSER", pkg.properties.get("MSIINSTALLPERUSER", ""))
    if allusers == "1":
        return "machine"
    if allusers == "2":
        return "user" if per_user_flag == "1" else "machine"
    return "user"


def target_dirs(host: Sessions, pkg: MsiPackage, context: str, user: str, props: dict[str, str]) -> dict[str, str]:
    """Directory key -> target path (with trailing backslash, as Windows Installer keeps directory properties)."""
    env = host.env(user)
    local_programs = env["LOCALAPPDATA"] + "\\Programs"
    roots = {
        "TARGETDIR": "C:\\",
        "ProgramFiles64Folder": local_programs if context == "user" else "C:\\Program Files",
        "ProgramFilesFolder": local_programs if context == "user" else "C:\\Program Files (x86)",
        "LocalAppDataFolder": env["LOCALAPPDATA"],
        "AppDataFolder": env["APPDATA"],
        "CommonAppDataFolder": "C:\\ProgramData",
        "WindowsFolder": "C:\\Windows",
        "TempFolder": env["TEMP"],
    }
    out: dict[str, str] = {}

    def resolve(key: str, depth: int = 0) -> str:
        if key in out:
            return out[key]
        if props.get(key):
            path = props[key]
        elif key in roots:
            path = roots[key]
        elif key in pkg.directories and depth < 64:
            parent, name = pkg.directories[key]
            base = resolve(parent, depth + 1) if parent else "C:\\"
            path = base if name in (".", "SourceDir") else base.rstrip("\\") + "\\" + name
        else:
            path = "C:\\"
        out[key] = path.rstrip("\\") + "\\"
        return out[key]

    for key in pkg.directories:
        resolve(key)
    return out


def registry_root(root: int, context: str, sid: str) -> tuple[str, str]:
    """Registry table Root -> hive prefix. -1 is HKMU (wixl writes 4 for it); per-user HKMU means HKCU."""
    if root in (-1, 4):
        return ("HKLM", "") if context == "machine" else ("HKU", sid)
    return {0: ("HKLM", "SOFTWARE\\Classes"), 1: ("HKU", sid), 2: ("HKLM", ""), 3: ("HKU", "")}.get(root, ("HKLM", ""))


def typed_value(value: str) -> tuple[str, Any]:
    """Registry table value prefixes: #123 DWORD, #x binary, #% expandable, [~] multi-string."""
    if value.startswith("#x"):
        return "REG_BINARY", bytes.fromhex(value[2:])
    if value.startswith("#%"):
        return "REG_EXPAND_SZ", value[2:]
    if value.startswith("##"):
        return "REG_SZ", value[1:]
    if value.startswith("#") and re.fullmatch(r"#[+-]?\d+", value):
        return "REG_DWORD", int(value[1:]) % 2**32
    if "\0" in value:
        return "REG_MULTI_SZ", [p for p in value.split("\0") if p]
    return "REG_SZ", value


def registry_entries(pkg: MsiPackage, context: str, sid: str, props: dict[str, str]) -> list[dict[str, Any]]:
    """The package's Registry table rows as the values they write (key, name, type, data)."""
    entries: list[dict[str, Any]] = []
    for row in pkg.registry:
        hive, prefix = registry_root(row["root"], context, sid)
        key = "\\".join(p for p in (hive, prefix, format_text(row["key"], props)) if p)
        type_, data = typed_value(format_text(row["value"], props))
        entries.append({"key": key, "name": format_text(row["name"], props), "type": type_, "data": data})
    return entries
