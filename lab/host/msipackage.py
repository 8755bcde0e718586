"""Read what Windows Installer reads from a real .msi file (pymsi over olefile).

Parsed packages are cached by SHA-256, so a fleet of 1,000 hosts installing the
same MSI parses it once.

This reader is deliberately separate from the collection's (``plugins/plugin_utils/_msi.py``)
and must not be merged with it: the lab is the independent check on the collection's Windows
Installer rules, written from what Windows does. A shared reader would mirror a wrong rule on
both sides and every test would still pass.
``tests/unit/plugins/plugin_utils/test_msi.py::test_the_lab_reads_every_package_as_the_controller_does``
holds the two readers together on every test package (product facts, context properties, payload).
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pymsi

# msidbFileAttributes*
FILE_NONCOMPRESSED = 8192
FILE_COMPRESSED = 16384
# msidbUpgradeAttributes*
UPGRADE_ONLY_DETECT = 2
UPGRADE_VERSION_MIN_INCLUSIVE = 256
UPGRADE_VERSION_MAX_INCLUSIVE = 512
# Summary information word count bit: set = files are compressed by default.
WORDCOUNT_COMPRESSED = 2


class MsiParseError(Exception):
    """The bytes are not a Windows Installer database (msiexec: 1620)."""


@dataclass(frozen=True)
class UpgradeRow:
    upgrade_code: str
    version_min: str | None
    version_max: str | None
    attributes: int
    action_property: str


@dataclass(frozen=True)
class SourceFile:
    """A file the package installs: where it is read from (relative to the .msi) and where it goes."""

    file_key: str
    name: str
    size: int
    source_relpath: str | None  # None: inside a cabinet
    cabinet: str | None  # external cabinet name or '#stream'
    target_dir: str  # Directory key


@dataclass
class MsiPackage:
    sha256: str
    properties: dict[str, str]
    arch: str  # 'Intel' | 'x64' | 'Arm64' ...
    package_code: str
    upgrades: list[UpgradeRow] = field(default_factory=list)
    launch_conditions: list[tuple[str, str]] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)
    registry: list[dict[str, Any]] = field(default_factory=list)
    directories: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # key -> (parent, target long name)

    @property
    def product_code(self) -> str:
        return self.properties.get("ProductCode", "")

    @property
    def product_version(self) -> str:
        return self.properties.get("ProductVersion", "")

    @property
    def upgrade_code(self) -> str:
        return self.properties.get("UpgradeCode", "")

    @property
    def product_name(self) -> str:
        return self.properties.get("ProductName", "")

    @property
    def manufacturer(self) -> str:
        return self.properties.get("Manufacturer", "")

    def summary(self) -> dict[str, str | None]:
        """The five properties Get-MsiProperty reports (None when the Property table lacks one)."""
        keys = ("ProductCode", "ProductVersion", "UpgradeCode", "ProductName", "ALLUSERS")
        out: dict[str, str | None] = {k: self.properties.get(k) for k in keys}
        out["Manufacturer"] = self.properties.get("Manufacturer")
        out["MSIINSTALLPERUSER"] = self.properties.get("MSIINSTALLPERUSER")
        return out


def _long(name: str) -> str:
    """``SHORT~1|Long Name`` -> ``Long Name``."""
    return name.split("|", 1)[1] if "|" in name else name


def _rows(pkg: Any, table: str) -> list[dict[str, Any]]:
    try:
        return [dict(r) for r in pkg[table]]
    except (KeyError, Exception):  # pymsi raises its own errors for absent tables
        return []


def _source_paths(dirs: dict[str, tuple[str | None, str]]) -> dict[str, str]:
    """Directory key -> source path relative to the package folder, from DefaultDir's ``target:source`` part."""
    resolved: dict[str, str] = {}

    def resolve(key: str, depth: int = 0) -> str:
        if key in resolved:
            return resolved[key]
        if depth > 64 or key not in dirs:
            return ""
        parent, source = dirs[key]
        base = "" if parent is None or parent == key else resolve(parent, depth + 1)
        piece = "" if (parent is None or source in (".", "SourceDir", "SOURCEDIR")) else source
        path = "\\".join(p for p in (base, piece) if p)
        resolved[key] = path
        return path

    for key in dirs:
        resolve(key)
    return resolved


def _summary_field(summary: Any, name: str) -> Any:
    """pymsi exposes some summary fields as attributes and others as methods."""
    value = getattr(summary, name, None)
    return value() if callable(value) else value


def parse_msi(data: bytes, sha256: str) -> MsiPackage:
    try:
        pkg = pymsi.Package(io.BytesIO(data))
        props = {str(r["Property"]): str(r["Value"] or "") for r in pkg["Property"]}
    except Exception as exc:
        raise MsiParseError(f"not a Windows Installer package: {exc}") from exc
    summary = getattr(pkg, "summary", None)
    arch = str(_summary_field(summary, "arch") or "Intel")
    word_count = int(_summary_field(summary, "word_count") or 0)
    package_code = str(_summary_field(summary, "uuid") or "")
    dirs_raw: dict[str, tuple[str | None, str]] = {}
    target_dirs: dict[str, tuple[str | None, str]] = {}
    for row in _rows(pkg, "Directory"):
        default = str(row["DefaultDir"])
        target, _, source = default.partition(":")
        dirs_raw[str(row["Directory"])] = (row["Directory_Parent"], _long(source or target))
        target_dirs[str(row["Directory"])] = (row["Directory_Parent"], _long(target))
    source_of = _source_paths(dirs_raw)
    components = {str(r["Component"]): str(r["Directory_"]) for r in _rows(pkg, "Component")}
    media = sorted(_rows(pkg, "Media"), key=lambda r: int(r["LastSequence"] or 0))
    files: list[SourceFile] = []
    for row in sorted(_rows(pkg, "File"), key=lambda r: int(r["Sequence"] or 0)):
        attrs = int(row["Attributes"] or 0)
        directory = components.get(str(row["Component_"]), "TARGETDIR")
        name = _long(str(row["FileName"]))
        compressed = bool(attrs & FILE_COMPRESSED) or (
            not attrs & FILE_NONCOMPRESSED and bool(word_count & WORDCOUNT_COMPRESSED)
        )
        cabinet = None
        if compressed:
            seq = int(row["Sequence"] or 0)
            medium = next((m for m in media if int(m["LastSequence"] or 0) >= seq), None)
            cabinet = str(medium["Cabinet"]) if medium and medium["Cabinet"] else None
        rel = None if compressed else "\\".join(p for p in (source_of.get(directory, ""), name) if p)
        files.append(SourceFile(str(row["File"]), name, int(row["FileSize"] or 0), rel, cabinet, directory))
    upgrades = [
        UpgradeRow(
            str(r["UpgradeCode"]).upper(),
            r["VersionMin"] or None,
            r["VersionMax"] or None,
            int(r["Attributes"] or 0),
            str(r["ActionProperty"]),
        )
        for r in _rows(pkg, "Upgrade")
    ]
    conditions = [(str(r["Condition"]), str(r["Description"] or "")) for r in _rows(pkg, "LaunchCondition")]
    registry = [
        {"root": int(r["Root"]), "key": str(r["Key"]), "name": r["Name"], "value": r["Value"]}
        for r in _rows(pkg, "Registry")
    ]
    return MsiPackage(sha256, props, arch, package_code, upgrades, conditions, files, registry, target_dirs)


class MsiCache:
    """Parsed packages by SHA-256 (bounded, least recently used goes first)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._cache: OrderedDict[str, MsiPackage | MsiParseError] = OrderedDict()

    def get(self, data: bytes, sha256: str) -> MsiPackage:
        hit = self._cache.get(sha256)
        if hit is None:
            try:
                hit = parse_msi(data, sha256)
            except MsiParseError as exc:
                hit = exc
            self._cache[sha256] = hit
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(sha256)
        if isinstance(hit, MsiParseError):
            raise hit
        return hit


MSI_CACHE = MsiCache()


# -- version comparison as Windows Installer does it: major.minor.build, the fourth field is ignored --------
def version_key(version: str) -> tuple[int, int, int]:
    parts = [int(p) if p.isdigit() else 0 for p in (version or "0").split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def upgrade_matches(row: UpgradeRow, installed_version: str) -> bool:
    """Does an installed version fall in an Upgrade row's range (FindRelatedProducts)?"""
    v = version_key(installed_version)
    if row.version_min:
        lo = version_key(row.version_min)
        if v < lo or (v == lo and not row.attributes & UPGRADE_VERSION_MIN_INCLUSIVE):
            return False
    if row.version_max:
        hi = version_key(row.version_max)
        if v > hi or (v == hi and not row.attributes & UPGRADE_VERSION_MAX_INCLUSIVE):
            return False
    return True


# -- a small evaluator for Windows Installer conditional statements -------------------------------------------
_TOKEN = re.compile(r'\s*(?:(\()|(\))|("[^"]*")|(<>|>=|<=|=|<|>)|([A-Za-z_][A-Za-z0-9_.]*)|(-?\d+))')


def evaluate_condition(text: str, props: dict[str, str]) -> bool:
    """Evaluate ``NOT``, ``AND``, ``OR``, ``XOR``, parentheses, comparisons and bare properties.

    A bare property is true when it is set to a non-empty value. Anything the
    grammar does not cover raises ValueError (the engine logs it and treats the
    condition as true, like an unevaluable condition would be reported, not hidden).
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse condition {text!r}")
        kind = ("(", ")", "str", "op", "id", "num")[m.lastindex - 1 if m.lastindex else 0]
        tokens.append((kind, m.group(m.lastindex or 0)))
        pos = m.end()
    index = 0

    def peek() -> tuple[str, str] | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal index
        tok = tokens[index]
        index += 1
        return tok

    def value(tok: tuple[str, str]) -> str | int:
        kind, raw = tok
        if kind == "str":
            return raw[1:-1]
        if kind == "num":
            return int(raw)
        v = props.get(raw, "")
        return int(v) if re.fullmatch(r"-?\d+", v) else v

    def term() -> bool:
        tok = peek()
        if tok is None:
            raise ValueError("unexpected end of condition")
        if tok[0] == "id" and tok[1].upper() == "NOT":
            take()
            return not term()
        if tok[0] == "(":
            take()
            result = expr()
            if peek() is None or take()[0] != ")":
                raise ValueError("missing ')'")
            return result
        left = take()
        op = peek()
        if op is not None and op[0] == "op":
            take()
            a, b = value(left), value(take())
            if isinstance(a, int) != isinstance(b, int):
                a, b = str(a), str(b)
            ops = {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}  # type: ignore[operator]
            return ops[op[1]]
        v = value(left)
        return v not in ("", 0)

    def expr() -> bool:
        result = term()
        while (tok := peek()) is not None and tok[0] == "id" and tok[1].upper() in ("AND", "OR", "XOR"):
            op = take()[1].upper()
            right = term()
            result = (result and right) if op == "AND" else (result or right) if op == "OR" else (result != right)
        return result

    outcome = expr()
    if index != len(tokens):
        raise ValueError(f"trailing tokens in condition {text!r}")
    return outcome


def format_text(text: str | None, props: dict[str, str]) -> str:
    """Windows Installer ``Formatted`` type, single pass: ``[PROP]`` -> value, ``[\\x]`` -> x, ``[~]`` -> NUL.

    Single pass matters: a property value containing ``[OTHER]`` is stored literally, never expanded again.
    """
    if not text:
        return ""

    def sub(m: re.Match[str]) -> str:
        inner = m.group(1)
        if inner == "~":
            return "\0"
        if inner.startswith("\\") and len(inner) == 2:
            return inner[1]
        return props.get(inner, "")

    return re.sub(r"\[([^\[\]]+)\]", sub, text)
