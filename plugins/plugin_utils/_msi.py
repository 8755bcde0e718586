# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows Installer knowledge the controller decides with: versions, exit codes, msiexec arguments,
which payload files a package needs, and what a package URL and its checksum must look like.

Everything here is pure Python so it is unit-tested without a host. Reading an
``.msi`` needs ``pymsi`` (pure Python, on olefile), imported by :func:`load_parser` only: the rest works
without it, and a worker that never parses (the plan's ``msi_facts`` lookup finding the package's record)
does not pay 60-170 ms for the import.

The lab's MSI reader (``lab/host/msipackage.py``, what its msiexec installs from) is deliberately
a separate implementation of the same Windows Installer rules, written from what Windows does and
not from this module: it is the independent check on this collection's reading of a package. Were
it to reuse this code, a wrong rule here would be mirrored there and every test would still pass.
``tests/unit/plugins/plugin_utils/test_msi.py::test_the_lab_reads_every_package_as_the_controller_does``
holds the two readers together on every test package (product facts, context properties, payload).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline

# Windows Installer compares major.minor.build only; a fourth field is ignored, so
# 9.3.1.7 and 9.3.1.9 are the same version to it, and must be to us.
_VERSION_PATTERN = re.compile(r"^\d{1,3}(\.\d{1,3}(\.\d{1,5}(\.\d{1,5})?)?)?$")
_GUID_PATTERN = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$")
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

FILE_NONCOMPRESSED = 0x2000
FILE_COMPRESSED = 0x4000
WORDCOUNT_COMPRESSED = 0x2


def version_key(version: str) -> tuple[int, int, int]:
    """Sortable key of an MSI ProductVersion as Windows Installer compares it (fourth field ignored)."""
    if not _VERSION_PATTERN.match(version or ""):
        raise ValueError(f"not an MSI version (major.minor.build[.revision], numbers only): {version!r}")
    parts = [int(p) for p in version.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def compare_versions(installed: str, wanted: str) -> int:
    """-1 when ``installed`` is older than ``wanted``, 0 when equal, 1 when newer."""
    a, b = version_key(installed), version_key(wanted)
    return (a > b) - (a < b)


def normalize_guid(value: str, option: str) -> str:
    """``{XXXXXXXX-...}`` upper case, the form Windows registers; a clear error names the option."""
    guid = value.strip().upper()
    if not guid.startswith("{"):
        guid = "{" + guid + "}"
    if not _GUID_PATTERN.match(guid):
        raise ValueError(f"{option} must be a GUID like {{12345678-1234-1234-1234-123456789ABC}}, got {value!r}")
    return guid


@dataclass(frozen=True)
class ExitCode:
    """What an msiexec exit code means for the task."""

    code: int
    meaning: str
    ok: bool
    reboot_required: bool = False
    retry_when_busy: bool = False


_EXIT_CODES: dict[int, tuple[str, bool, bool, bool]] = {
    # code: (meaning, ok, reboot_required, retry_when_busy)
    0: ("The action completed successfully.", True, False, False),
    1641: ("The installer has initiated a restart.", True, True, False),
    3010: ("A restart is required to complete the install.", True, True, False),
    1602: ("The user cancelled installation.", False, False, False),
    1603: ("A fatal error occurred during installation.", False, False, False),
    1605: ("This action is only valid for products that are currently installed.", False, False, False),
    1612: ("The installation source for this product is not available.", False, False, False),
    1618: ("Another installation is already in progress.", False, False, True),
    1619: ("This installation package could not be opened.", False, False, False),
    1620: ("Not a valid Windows Installer package.", False, False, False),
    1622: ("Error opening the installation log file (does its folder exist and is it writable?).", False, False, False),
    1624: ("Error applying transforms.", False, False, False),
    1625: ("This installation is forbidden by system policy.", False, False, False),
    1633: ("This installation package is not supported on this platform.", False, False, False),
    1638: ("Another version of this product is already installed.", False, False, False),
    1639: ("Invalid command line argument.", False, False, False),
}


def exit_code(code: int) -> ExitCode:
    """Meaning of an msiexec exit code; unknown codes are failures that say so."""
    meaning, ok, reboot, busy = _EXIT_CODES.get(code, (f"Windows Installer error {code}.", False, False, False))
    return ExitCode(code, meaning, ok, reboot, busy)


# HRESULTs a scheduled task reports as its last result when it could not start its program at all
# (winerror.h: HRESULT_FROM_WIN32 of the Win32 error, 0x8007xxxx). msiexec's own exit codes are
# small positive numbers, so anything from 0x80000000 on is the task's failure, not msiexec's.
_TASK_LAUNCH_ERRORS = {
    0x8007052E: "The user name or password is incorrect (ERROR_LOGON_FAILURE).",
    0x800710E0: "The operator or administrator has refused the request (ERROR_REQUEST_REFUSED).",
    0x80070002: "The system cannot find the file specified (ERROR_FILE_NOT_FOUND).",
    0x800704DD: "The user is not logged on (ERROR_NOT_LOGGED_ON), for a task that runs only then.",
}


def task_launch_error(result: int) -> str | None:
    """What a task's last result says when it is a launch failure rather than msiexec's exit code.

    ``result`` is LastTaskResult as Windows gives it: a uint32 (MSFT_TaskDynamicInfo). Values from
    0x80000000 on are HRESULTs (signed, negative); None for anything msiexec itself can return.
    """
    value = int(result) & 0xFFFFFFFF
    if value < 0x80000000:
        return None
    meaning = _TASK_LAUNCH_ERRORS.get(value, f"HRESULT {value - 0x100000000}.")
    return f"0x{value:08X}: {meaning}"


# restart_manager option -> MSIRESTARTMANAGERCONTROL (learn.microsoft.com/windows/win32/msi/msirestartmanagercontrol).
# Unset, a quiet msiexec lets Restart Manager shut down every application holding a file it replaces,
# without asking anyone: unsaved work in them is lost. "Disable" keeps Restart Manager out entirely
# (the FilesInUse behaviour: in a quiet run files in use are replaced at the next restart, exit code
# 3010); "DisableShutdown" still has Restart Manager detect the files in use, and shuts nothing down.
RESTART_MANAGER: dict[str, str | None] = {
    "disable": "Disable",
    "disable_shutdown": "DisableShutdown",
    "enable": None,
}


def with_secrets(properties: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``properties`` plus ``secrets``, with MsiHiddenProperties naming the secrets.

    Windows Installer then writes ``**********`` for them in its verbose log ("MsiHiddenProperties
    property", learn.microsoft.com). It may still log properties given on the command line where the
    Debug policy is 7 ("Preventing Confidential Information from Being Written into the Log File"),
    which is why the log folder is administrators-only and every result is masked on the controller.
    """
    if not secrets:
        return dict(properties)
    merged = {**properties, **secrets}
    given = next((k for k in properties if k.upper() == "MSIHIDDENPROPERTIES"), None)
    hidden = [n for n in str(properties[given]).split(";") if n] if given else []
    merged.pop(given or "", None)
    merged["MsiHiddenProperties"] = ";".join([*hidden, *(n for n in secrets if n not in hidden)])
    return merged


def msiexec_arguments(
    action: str,
    target: str,
    log_path: str | None,
    properties: t.Mapping[str, t.Any] | None = None,
    transforms: t.Sequence[str] = (),
    *,
    restart_manager: str = "disable",
) -> list[str]:
    """The msiexec argument array: one element per argument, values passed literally.

    ``restart_manager`` (see :data:`RESTART_MANAGER`) decides whether a silent run may shut down the
    applications holding the package's files: by default it may not, and files in use are replaced at
    the next restart (exit code 3010) instead.

    Property values are never quoted or escaped here: the host turns the array into
    a command line with the Windows argv rules, so a value's quotes, spaces, ``;``,
    ``$()`` or backticks arrive in msiexec unchanged and nothing is interpreted.
    """
    if action not in ("install", "uninstall"):
        raise ValueError(f"action must be install or uninstall, got {action!r}")
    args = ["/i" if action == "install" else "/x", target, "/qn", "/norestart"]
    if restart_manager not in RESTART_MANAGER:
        raise ValueError(f"restart_manager must be one of {', '.join(RESTART_MANAGER)}, got {restart_manager!r}")
    if log_path is not None:
        args += ["/L*V", log_path]
    control = RESTART_MANAGER[restart_manager]
    if control:
        args.append(f"MSIRESTARTMANAGERCONTROL={control}")
    for name, value in (properties or {}).items():
        if not _PROPERTY_NAME.match(name):
            raise ValueError(f"properties: {name!r} is not a Windows Installer property name (letters, digits, _ .)")
        if name.upper() == "TRANSFORMS":
            raise ValueError("properties: give transforms in the 'transforms' option, not as TRANSFORMS")
        if name.upper() == "MSIRESTARTMANAGERCONTROL":
            raise ValueError("properties: choose Restart Manager with the 'restart_manager' option, not as a property")
        args.append(f"{name}={property_text(value)}")
    if transforms:
        args.append("TRANSFORMS=" + ";".join(transforms))
    return args


def command_line(arguments: t.Sequence[str]) -> str:
    """The one command line msiexec parses back into ``arguments``: what the primitives run, and
    what Active Setup stores.

    ``NAME=value`` uses msiexec's own syntax (``NAME="value"``, a literal ``"`` doubled), which its
    parser needs for a value with spaces; every other argument is quoted by the CommandLineToArgvW
    rules (:func:`_cmdline.quote`, the collection's only quoting of that kind).
    """
    return " ".join(_msiexec_argument(a) for a in arguments)


def _msiexec_argument(value: str) -> str:
    prop = re.match(r"(?s)^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$", value)
    if prop:
        return prop.group(1) + '="' + prop.group(2).replace('"', '""') + '"'
    return _cmdline.quote(value)


def install_context(properties: t.Mapping[str, str]) -> str:
    """``machine`` or ``user``: where Windows Installer puts a package with these properties.

    ALLUSERS=1 is per machine; ALLUSERS empty is per user; ALLUSERS=2 is per user only with
    MSIINSTALLPERUSER=1 (otherwise per machine for an administrator, who is who runs installs).
    """
    all_users = str(properties.get("ALLUSERS") or "")
    if all_users == "":
        return "user"
    if all_users == "2" and str(properties.get("MSIINSTALLPERUSER") or "") == "1":
        return "user"
    return "machine"


def property_text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass(frozen=True)
class PackageFile:
    """A file of the package folder: path relative to it (Windows separators), size and hash."""

    relpath: str
    size: int
    sha256: str


@dataclass
class MsiInfo:
    """What the controller reads from an .msi and the folder it ships in."""

    product_code: str
    product_version: str
    upgrade_code: str
    product_name: str
    all_users: str
    properties: dict[str, str]
    # Files Windows Installer reads from beside the .msi (uncompressed source layout
    # or external cabinets): the payload folder that must be complete.
    payload: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, str]:
        """The product facts under msi_package's option names, and ProductName: what the msi_facts lookup returns."""
        return {
            "product_code": self.product_code,
            "version": self.product_version,
            "upgrade_code": self.upgrade_code,
            "product_name": self.product_name,
        }


# A package is untrusted input and pymsi is a pre-release parser: these bounds make a hostile
# file fail with a clear message before the parser allocates for it. Windows Installer itself
# cannot open a package of 2 GB or more (its database is a compound file with 32-bit offsets);
# real packages have a few dozen tables and metadata streams of kilobytes to a few megabytes.
MAX_MSI_BYTES = 2 * 1024**3 - 1
MAX_MSI_STREAMS = 10_000
MAX_MSI_METADATA_STREAM_BYTES = 64 * 1024**2


def load_parser() -> tuple[t.Any, t.Any]:
    """pymsi and olefile, imported once per process; ValueError when the controller lacks them.

    An action plugin that may parse a package calls this when it is imported: the linear strategy imports
    action plugins in the main process before it forks the workers, which then find the modules loaded
    instead of paying 150-170 ms each to import them again.
    """
    try:
        import olefile
        import pymsi
    except ImportError:
        raise ValueError(
            "reading .msi files on the controller needs pymsi and olefile: pip install -r requirements.txt"
        ) from None
    return pymsi, olefile


def _check_bounds(source: bytes | Path, olefile: t.Any) -> None:
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if size > MAX_MSI_BYTES:
        raise ValueError(f"not a Windows Installer package: {size:,} bytes, over the {MAX_MSI_BYTES:,} it can have")
    try:
        ole = olefile.OleFileIO(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    except Exception as exc:
        raise ValueError(f"not a Windows Installer package: {exc}") from exc
    try:
        streams = ole.listdir(streams=True, storages=False)
        if len(streams) > MAX_MSI_STREAMS:
            raise ValueError(f"not a Windows Installer package: {len(streams):,} streams, over {MAX_MSI_STREAMS:,}")
        for entry in streams:
            # Table and string-pool streams carry names that start with U+4840 (MSI's stream name
            # encoding); embedded cabinets and binaries may be large, metadata may not.
            name = entry[-1]
            if name[:1] in ("\u4840", "\x05") and ole.get_size(entry) > MAX_MSI_METADATA_STREAM_BYTES:
                raise ValueError(
                    f"not a Windows Installer package: metadata stream of {ole.get_size(entry):,} bytes, "
                    f"over {MAX_MSI_METADATA_STREAM_BYTES:,}"
                )
    finally:
        ole.close()


def read_msi(source: bytes | Path) -> MsiInfo:
    """Product facts and required payload files of an .msi given as bytes or as a path.

    A path is read by the parser as it goes, so a large package with embedded cabinets is never
    held in memory whole.
    """
    pymsi, olefile = load_parser()
    _check_bounds(source, olefile)
    try:
        package = pymsi.Package(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
    except Exception as exc:
        raise ValueError(f"not a Windows Installer package: {exc}") from exc
    try:
        properties = {str(r["Property"]): str(r["Value"] or "") for r in package["Property"]}
        payload = _payload_files(package)
    except Exception as exc:
        raise ValueError(f"not a Windows Installer package: {exc}") from exc
    finally:
        package.close()
    return MsiInfo(
        product_code=properties.get("ProductCode", "").upper(),
        product_version=properties.get("ProductVersion", ""),
        upgrade_code=properties.get("UpgradeCode", "").upper(),
        product_name=properties.get("ProductName", ""),
        all_users=properties.get("ALLUSERS", ""),
        properties=properties,
        payload=payload,
    )


def _rows(package: t.Any, table: str) -> list[dict[str, t.Any]]:
    try:
        return [dict(row) for row in package[table]]
    except Exception:  # pymsi raises its own error types for a table the package lacks
        return []


# The tables (and their columns) that decide which files msiexec reads from beside the .msi.
PAYLOAD_TABLES: dict[str, tuple[str, ...]] = {
    "Directory": ("Directory", "Directory_Parent", "DefaultDir"),
    "Component": ("Component", "Directory_"),
    "File": ("FileName", "Component_", "Attributes"),
    "Media": ("Cabinet",),
}


def _payload_files(package: t.Any) -> list[str]:
    word_count = getattr(getattr(package, "summary", None), "word_count", None)
    count = int((word_count() if callable(word_count) else word_count) or 0)
    return payload_from_tables(count, {name: _rows(package, name) for name in PAYLOAD_TABLES})


def payload_from_tables(word_count: int, tables: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]]) -> list[str]:
    """Relative paths (``payload\\x.dll``, ``data1.cab``) msiexec opens beside the .msi.

    Takes the rows of :data:`PAYLOAD_TABLES` and the summary word count, so the same rules
    apply to a package read here (pymsi) and to one read on the host (Get-MsiProperty
    returns the raw rows; the COM API gives empty strings where pymsi gives None).
    """
    compressed_default = bool(word_count & WORDCOUNT_COMPRESSED)
    directories: dict[str, tuple[str | None, str]] = {}
    for row in tables.get("Directory", ()):
        target, _sep, source = str(row["DefaultDir"]).partition(":")
        name = source or target
        directories[str(row["Directory"])] = (row["Directory_Parent"] or None, name.split("|")[-1])

    def source_path(key: str, depth: int = 0) -> str:
        parent, name = directories.get(key, (None, ""))
        if parent is None or parent == key or depth > 64:
            return ""
        base = source_path(parent, depth + 1)
        piece = "" if name in (".", "SourceDir", "SOURCEDIR") else name
        return "\\".join(p for p in (base, piece) if p)

    components = {str(r["Component"]): str(r["Directory_"]) for r in tables.get("Component", ())}
    needed: list[str] = []
    for row in tables.get("File", ()):
        attributes = int(row["Attributes"] or 0)
        compressed = bool(attributes & FILE_COMPRESSED) or (not attributes & FILE_NONCOMPRESSED and compressed_default)
        if not compressed:
            directory = components.get(str(row["Component_"]), "TARGETDIR")
            name = str(row["FileName"]).rsplit("|", maxsplit=1)[-1]
            needed.append("\\".join(p for p in (source_path(directory), name) if p))
    for row in tables.get("Media", ()):
        cabinet = str(row["Cabinet"] or "")
        if cabinet and not cabinet.startswith("#"):
            needed.append(cabinet)
    return sorted(set(needed), key=str.lower)


def sha256_file(path: Path, chunk: int = 1024 * 1024) -> str:
    """SHA-256 of a file read in chunks: a package folder may hold gigabytes of cabinets."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def scan_package_folder(folder: Path, msi_name: str) -> list[PackageFile]:
    """Every file of a controller-side package folder (the .msi first), with hashes for the host cache."""
    files: list[PackageFile] = []
    for path in sorted(_package_folder_files(folder)):
        relative = path.relative_to(folder)
        digest = sha256_file(path)
        files.append(PackageFile("\\".join(relative.parts), path.stat().st_size, digest))
    files.sort(key=lambda f: (f.relpath.lower() != msi_name.lower(), f.relpath.lower()))
    return files


def _package_folder_files(folder: Path) -> list[Path]:
    """The regular files below ``folder``; a link (to a file or a folder, inside or outside) is refused.

    A link would send the host whatever it points to (a vault password file next to the playbook,
    an SSH key), so the package folder must hold the bytes itself. Fifos and devices are refused too:
    reading one would hang or stream without end.
    """
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs) + sorted(names):
            path = Path(top) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise ValueError(
                    f"src: {path} in the package folder {folder} is a symbolic link (to {os.readlink(path)}); "
                    "package folders must hold real files: copy the file in instead of linking it"
                )
            if name in names and not stat.S_ISREG(mode):
                raise ValueError(f"src: {path} in the package folder {folder} is not a regular file")
            if name in names:
                found.append(path)
    return found


def missing_payload(required: t.Iterable[str], present: t.Iterable[str]) -> list[str]:
    """Required payload files not in the package folder (case-insensitive, as on Windows)."""
    have = {p.lower().replace("/", "\\") for p in present}
    return [r for r in required if r.lower() not in have]


def cache_key(files: t.Sequence[PackageFile]) -> str:
    """Content address of a package folder: same files and bytes, same cache folder on every host."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath.lower()):
        digest.update(f"{f.relpath.lower()}\0{f.sha256}\n".encode())
    return digest.hexdigest()[:16]


# -- packages the host downloads (url + checksum) -----------------------------------------------------------
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_ALGORITHM_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):(.*)$", re.DOTALL)
# A file name the cache may use as is: no path separators, nothing Windows treats specially.
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,99}$")
PACKAGE_KINDS = (".msi", ".zip")


@dataclass(frozen=True)
class PackageUrl:
    """A package the host downloads: where from, the bytes it must have, and where they go in its cache."""

    url: str
    sha256: str
    kind: str  # ".msi" or ".zip"
    file_name: str  # what the download is called in the cache folder

    @property
    def cache_key(self) -> str:
        """Content address of the download: the same checksum, the same cache folder on every host."""
        return "url-" + self.sha256[:16]


def parse_checksum(value: str) -> str:
    """Lower-case SHA-256 hex of ``sha256:<64 hex>`` or the 64 hex digits alone; every other form is refused."""
    text = (value or "").strip()
    match = _ALGORITHM_PREFIX.match(text)
    digest = text
    if match:
        algorithm, digest = match.group(1), match.group(2).strip()
        if algorithm.lower() != "sha256":
            raise ValueError(
                f"checksum: only SHA-256 is accepted, as sha256:<64 hex digits> (or the 64 hex digits alone); "
                f"got algorithm {algorithm!r}"
            )
    if not _SHA256_HEX.match(digest):
        raise ValueError(
            f"checksum must be sha256:<64 hex digits> (or the 64 hex digits alone), got {value!r}"
            + (f" ({len(digest)} characters)" if digest and re.fullmatch(r"[0-9a-fA-F]+", digest) else "")
        )
    return digest.lower()


def package_url(url: str, checksum: str) -> PackageUrl:
    """Validate ``url``/``checksum`` before anything touches a host.

    Only https: the host downloads, and the checksum guards the bytes but not the
    confidentiality of what travels. No credentials in the URL: it is logged and returned.
    """
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname
        port = parts.port  # ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"url: not a URL: {url!r} ({exc})") from exc
    if port == 0:
        raise ValueError(f"url: port 0 is not a port: {url!r}")
    if parts.scheme.lower() != "https":
        raise ValueError(f"url must be an https:// URL (the host downloads it); got scheme {parts.scheme or 'none'!r}")
    if not host:
        raise ValueError(f"url has no host name: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials (user:password@): it is logged and returned")
    leaf = unquote(parts.path.rsplit("/", maxsplit=1)[-1])
    kind = next((k for k in PACKAGE_KINDS if leaf.lower().endswith(k)), None)
    if kind is None:
        raise ValueError(
            f"url must name a .msi file, or a .zip holding the .msi and its payload folder; got {leaf or parts.path!r}"
        )
    file_name = leaf if _SAFE_FILE_NAME.match(leaf) else "package" + kind
    return PackageUrl(parts.geturl(), parse_checksum(checksum), kind, file_name)


def locate_msi(download: PackageUrl, files: t.Sequence[str]) -> tuple[str, list[str]]:
    """The .msi in a downloaded package and the files beside it, relative to its folder.

    ``files`` are the paths in the host's cache folder (Windows separators): for a bare
    .msi the download itself, for a zip what it held. A zip made of a package folder may
    have the folder's files at its top level or inside one top folder (``zip -r x.zip suite-9.3.1``).
    """
    if download.kind == ".msi":
        return download.file_name, [f for f in files if "\\" not in f]
    top_msis = [f for f in files if "\\" not in f and f.lower().endswith(".msi")]
    prefix = ""
    if not top_msis:
        tops = {f.split("\\", 1)[0] for f in files}
        if len(tops) == 1 and all("\\" in f for f in files):
            prefix = tops.pop() + "\\"
            top_msis = [f for f in files if f.count("\\") == 1 and f.lower().endswith(".msi")]
    if len(top_msis) != 1:
        raise ValueError(
            f"url: the zip must hold exactly one .msi at its top level (or inside its single top folder), "
            f"found {len(top_msis)}" + (f": {', '.join(sorted(top_msis))}" if top_msis else "")
        )
    beside = [f[len(prefix) :] for f in files if f.lower().startswith(prefix.lower())]
    return top_msis[0], beside
