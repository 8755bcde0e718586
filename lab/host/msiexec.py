"""msiexec.exe for the lab: parses the argument array, installs and removes real MSI files.

What it does like Windows Installer:
- ``/i <package>`` reads ProductCode, ProductVersion, UpgradeCode, ALLUSERS,
  MSIINSTALLPERUSER and the Upgrade, LaunchCondition, File, Directory, Media and
  Registry tables from the .msi that is on the host.
- Context: ALLUSERS=1 per-machine; ALLUSERS="" per-user; ALLUSERS=2 per-user only
  with MSIINSTALLPERUSER=1. Command-line properties override the Property table.
- FindRelatedProducts + RemoveExistingProducts: a product with the same
  UpgradeCode in the same context and a version in a non-OnlyDetect Upgrade row's
  range is removed (major upgrade). OnlyDetect rows set their ActionProperty; a
  LaunchCondition that then fails (WiX's "NOT WIX_DOWNGRADE_DETECTED") ends with
  1603 and the condition's message, e.g. "A newer version ... is already installed".
- Same ProductCode already installed: same version -> maintenance, 0; different
  version -> 1638 "Another version of this product is already installed".
- Uncompressed source files (the payload folder) must exist beside the package:
  a missing one is "Error 1308. Source file not found" and 1603. An external
  cabinet that is missing is error 1311, 1603.
- 1619 package missing, 1620 not an MSI, 1622 log folder missing, 1624 transform
  missing, 1639 invalid command line, 1605 ``/x`` of a product not installed,
  1618 while another msiexec runs on the host (the _MSIExecute mutex).
- 3010 (from the behaviour queue) installs and sets the pending-reboot flag; without
  /norestart the quiet install reboots the machine itself and returns 1641.
- A verbose log (UTF-16LE with BOM, as msiexec writes it) goes to the ``/L*V`` path.
Transforms are checked for existence and recorded but not applied (no .mst parser).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lab.host.msipackage import (
    MSI_CACHE,
    UPGRADE_ONLY_DETECT,
    MsiPackage,
    MsiParseError,
    evaluate_condition,
    format_text,
    upgrade_matches,
    version_key,
)
from lab.host.registry import pack_guid
from lab.host.sessions import OFFICE_APPLICATIONS, Sessions
from lab.host.state import HostDropped

MACHINE_SID = "S-1-5-18"
UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
USERDATA = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData"
# RegisterProduct maps every product to its UpgradeCode here, per-user ones too, besides the per-context
# UpgradeCodes key that PublishProduct writes (HKLM\SOFTWARE\Classes\Installer or the user's own hive).
# Wine's msi conformance test test_register_product (dlls/msi/tests/action.c), which passes on Windows,
# finds this key after a per-user and after a per-machine install.
ALL_UPGRADE_CODES = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UpgradeCodes"
_PROPERTY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$", re.DOTALL)
_GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
# Windows Installer's text for 1605 (ERROR_UNKNOWN_PRODUCT), which the log shows for /x of a product not installed.
NOT_INSTALLED = "This action is only valid for products that are currently installed."


class InvalidCommandLine(ValueError):
    pass


@dataclass
class Invocation:
    action: str  # 'install' | 'uninstall'
    target: str  # package path or product code
    properties: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None
    log_mode: str = ""
    ui: str = "full"
    restart: str = "default"  # 'default' | 'norestart' | 'forcerestart' | 'promptrestart'


_PROPERTY_START = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)="')


def split_command_line(line: str) -> list[str]:
    """msiexec's reading of its command line, which is all a real msiexec ever gets.

    ``NAME="value"`` takes everything up to the closing quote, a doubled ``""`` standing
    for one ``"`` (msiexec's own property syntax, so a value may hold spaces, ``;``,
    newlines or quotes); every other token follows the CommandLineToArgvW rules.
    """
    args: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        prop = _PROPERTY_START.match(line, i)
        if prop:
            value: list[str] = []
            j = prop.end()
            while j < n:
                if line[j] == '"':
                    if j + 1 < n and line[j + 1] == '"':
                        value.append('"')
                        j += 2
                        continue
                    j += 1
                    break
                value.append(line[j])
                j += 1
            args.append(f"{prop.group(1)}={''.join(value)}")
            i = j
            continue
        token: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                k = i
                while k < n and line[k] == "\\":
                    k += 1
                count = k - i
                if k < n and line[k] == '"':
                    token.append("\\" * (count // 2))
                    if count % 2:
                        token.append('"')
                        i = k + 1
                    else:
                        i = k
                    continue
                token.append("\\" * count)
                i = k
                continue
            if line[i] == '"':
                quoted = not quoted
                i += 1
                continue
            token.append(line[i])
            i += 1
        args.append("".join(token))
    return args


def parse_arguments(argv: list[str]) -> Invocation:
    """Parse msiexec's argument array; options are case-insensitive and may start with '/' or '-'."""
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise InvalidCommandLine("arguments must be a list of strings")
    action: str | None = None
    target = ""
    props: dict[str, str] = {}
    inv = Invocation("install", "")
    i = 0
    while i < len(argv):
        arg = argv[i]
        low = arg.lower()
        prop = _PROPERTY.match(arg)
        if prop and not arg.startswith(("/", "-")):
            props[prop.group(1)] = prop.group(2)  # literally: quotes, spaces, ;, $(), backticks, newlines
        elif low[:1] in ("/", "-") and len(low) > 1:
            opt = low[1:]
            if opt in ("i", "package", "x", "uninstall"):
                if action is not None or i + 1 >= len(argv):
                    raise InvalidCommandLine(f"option {arg} needs exactly one package or product code")
                action = "install" if opt in ("i", "package") else "uninstall"
                target = argv[i + 1]
                i += 1
            elif opt in ("q", "qn", "quiet", "qb", "qr", "qf", "passive", "qn+", "qb-", "qb+", "qb!", "qb!-"):
                inv.ui = "quiet" if opt in ("q", "qn", "quiet") else opt
            elif opt in ("norestart", "forcerestart", "promptrestart"):
                inv.restart = opt
            elif opt.startswith("l") and (opt == "log" or re.fullmatch(r"l[iwearucmopvx+!*]*", opt)):
                if i + 1 >= len(argv):
                    raise InvalidCommandLine(f"option {arg} needs a log file path")
                inv.log_mode = opt[1:] if opt != "log" else "*v"
                inv.log_path = argv[i + 1]
                i += 1
            else:
                raise InvalidCommandLine(f"unsupported option {arg}")
        else:
            raise InvalidCommandLine(f"unexpected argument {arg!r}")
        i += 1
    if action is None or not target:
        raise InvalidCommandLine("one of /i <package> or /x <package|ProductCode> is required")
    inv.action, inv.target, inv.properties = action, target, props
    return inv


# "MsiHiddenProperties property" (learn.microsoft.com): the installer does not write the values of the
# properties it names into the log; verbose logs show them as ten asterisks. Names are case-sensitive,
# as property names are. (Where the Debug policy is 7 Windows logs command-line properties anyway; the
# lab models the default policy.)
HIDDEN = "**********"


def hidden_properties(argv: list[str]) -> set[str]:
    names: set[str] = set()
    for arg in argv:
        match = _PROPERTY.match(arg)
        if match and match.group(1).lower() == "msihiddenproperties":
            names |= {n for n in match.group(2).split(";") if n}
    return names


def loggable(argv: list[str]) -> list[str]:
    """The command line as the verbose log shows it: values of hidden properties masked."""
    hidden = hidden_properties(argv)
    out = []
    for arg in argv:
        match = _PROPERTY.match(arg)
        out.append(f"{match.group(1)}={HIDDEN}" if match and match.group(1) in hidden else arg)
    return out


@dataclass
class MsiexecResult:
    rc: int
    log_lines: list[str]
    duration: float
    reboot: bool = False


class _Log:
    """Verbose log lines in msiexec's format, stamped with simulated time."""

    def __init__(self, host: Sessions, pid: int) -> None:
        self.host = host
        self.lines: list[str] = []
        self._tag = f"({pid % 256:02X}:{(pid * 7) % 256:02X})"

    def stamp(self) -> str:
        now: datetime = self.host.clock.now()
        return now.strftime("%H:%M:%S:") + f"{now.microsecond // 1000:03d}"

    def add(self, text: str, side: str = "s") -> None:
        self.lines.append(f"MSI ({side}) {self._tag} [{self.stamp()}]: {text}")

    def raw(self, text: str) -> None:
        self.lines.append(text)


def _context(pkg: MsiPackage, props: dict[str, str]) -> str:
    allusers = props.get("ALLUSERS", pkg.properties.get("ALLUSERS", ""))
    per_user_flag = props.get("MSIINSTALLPERUSER", pkg.properties.get("MSIINSTALLPERUSER", ""))
    if allusers == "1":
        return "machine"
    if allusers == "2":
        return "user" if per_user_flag == "1" else "machine"
    return "user"


def _target_dirs(host: Sessions, pkg: MsiPackage, context: str, user: str, props: dict[str, str]) -> dict[str, str]:
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


def _registry_root(root: int, context: str, sid: str) -> tuple[str, str]:
    """Registry table Root -> hive prefix. -1 is HKMU (wixl writes 4 for it); per-user HKMU means HKCU."""
    if root in (-1, 4):
        return ("HKLM", "") if context == "machine" else ("HKU", sid)
    return {0: ("HKLM", "SOFTWARE\\Classes"), 1: ("HKU", sid), 2: ("HKLM", ""), 3: ("HKU", "")}.get(root, ("HKLM", ""))


def _typed(value: str) -> tuple[str, Any]:
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


def _find_installed(host: Sessions, product_code: str, sid: str | None = None) -> dict[str, Any] | None:
    for product in host.products.values():
        if product["product_code"].upper() == product_code.upper() and (sid is None or product["sid"] == sid):
            return product
    return None


def register_product(host: Sessions, product: dict[str, Any]) -> None:
    """Write the registry entries Windows Installer writes for an installed product."""
    reg = host.registry
    pc, uc, sid = product["product_code"], product["upgrade_code"], product["sid"]
    packed = pack_guid(pc)
    major, minor, build = version_key(product["version"])
    arp = {
        "DisplayName": ("REG_SZ", product["name"]),
        "DisplayVersion": ("REG_SZ", product["version"]),
        "Publisher": ("REG_SZ", product["manufacturer"]),
        "InstallDate": ("REG_SZ", product["install_date"]),
        "InstallLocation": ("REG_SZ", product["install_location"]),
        "InstallSource": ("REG_SZ", product["install_source"]),
        "UninstallString": ("REG_EXPAND_SZ", f"MsiExec.exe /X{pc}"),
        "ModifyPath": ("REG_EXPAND_SZ", f"MsiExec.exe /I{pc}"),
        "WindowsInstaller": ("REG_DWORD", 1),
        "Version": ("REG_DWORD", (major << 24 | minor << 16 | build) % 2**32),
        "VersionMajor": ("REG_DWORD", major % 2**32),
        "VersionMinor": ("REG_DWORD", minor % 2**32),
        "Language": ("REG_DWORD", 1033),
    }
    view = 32 if product["arch"] == "Intel" else 64
    if product["scope"] == "machine":
        arp_key = f"HKLM\\{UNINSTALL}\\{pc}"
        published = f"HKLM\\SOFTWARE\\Classes\\Installer\\Products\\{packed}"
        upgrade = f"HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    else:
        arp_key = f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{pc}"
        published = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\Products\\{packed}"
        upgrade = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
        view = 64
    for name, (type_, data) in arp.items():
        reg.set_value(arp_key, name, data, type_, view=view)
    props_key = f"HKLM\\{USERDATA}\\{sid}\\Products\\{packed}\\InstallProperties"
    for name, (type_, data) in arp.items():
        reg.set_value(props_key, name, data, type_)
    reg.set_value(props_key, "LocalPackage", product["local_package"])
    reg.set_value(published, "ProductName", product["name"])
    reg.set_value(published, "PackageCode", pack_guid(product["package_code"]) if product["package_code"] else "")
    reg.set_value(published, "Version", arp["Version"][1], "REG_DWORD")
    reg.set_value(published, "Assignment", 1 if product["scope"] == "machine" else 0, "REG_DWORD")
    if upgrade:
        reg.set_value(upgrade, packed, "")
        reg.set_value(f"HKLM\\{ALL_UPGRADE_CODES}\\{pack_guid(uc)}", packed, "")
    for entry in product["registry"]:
        reg.set_value(entry["key"], entry["name"], entry["data"], entry["type"])


def unregister_product(host: Sessions, product: dict[str, Any]) -> None:
    reg = host.registry
    pc, uc, sid = product["product_code"], product["upgrade_code"], product["sid"]
    packed = pack_guid(pc)
    view = 32 if product["arch"] == "Intel" and product["scope"] == "machine" else 64
    if product["scope"] == "machine":
        reg.delete_key(f"HKLM\\{UNINSTALL}\\{pc}", recurse=True, view=view)
        reg.delete_key(f"HKLM\\SOFTWARE\\Classes\\Installer\\Products\\{packed}", recurse=True)
        upgrade = f"HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    else:
        reg.delete_key(f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{pc}", recurse=True)
        reg.delete_key(f"HKU\\{sid}\\Software\\Microsoft\\Installer\\Products\\{packed}", recurse=True)
        upgrade = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    reg.delete_key(f"HKLM\\{USERDATA}\\{sid}\\Products\\{packed}", recurse=True)
    # The machine-wide map keeps a product code while another context (user) still has that product.
    still = any(p is not product and p["product_code"].upper() == pc.upper() for p in host.products.values())
    shared = f"HKLM\\{ALL_UPGRADE_CODES}\\{pack_guid(uc)}" if uc else None
    for key in (upgrade, None if still else shared):
        if key and reg.key_exists(key):
            reg.delete_value(key, packed)
            if not reg.values(key):
                reg.delete_key(key, recurse=True)
    for entry in product["registry"]:
        reg.delete_value(entry["key"], entry["name"])
    for path in product["files"]:
        if host.files.is_file(path):
            host.files.remove(path)
    location = product["install_location"]
    if location and host.files.is_dir(location) and not host.files.listdir(location):
        host.files.remove(location)
    if host.files.is_file(product["local_package"]):
        host.files.remove(product["local_package"])
    host.products.pop((sid, pc.upper()), None)


class Msiexec:
    """One msiexec.exe run on a host, as ``user``.

    It needs the host's state and its sessions (Restart Manager closes programs in them), not the
    composed :class:`lab.host.host.Host`, which runs it: so msiexec sits below Host in the host model.
    """

    def __init__(self, host: Sessions, argv: list[str], user: str) -> None:
        self.host = host
        self.argv = list(argv)
        self.user = user
        self.pid = host.next_pid()
        self.log = _Log(host, self.pid)
        # What Restart Manager did about files in use (recorded in msiexec_history for tests to see).
        self.files_in_use: dict[str, Any] = {}

    def _finish(self, rc: int, inv: Invocation | None, started: float, reboot: bool = False) -> MsiexecResult:
        log = self.log
        if inv is not None:
            # A verbose log ends with the property dump; hidden properties show as asterisks.
            hidden = hidden_properties(self.argv)
            for name, value in sorted(inv.properties.items()):
                log.add(f"Property(S): {name} = {HIDDEN if name in hidden else value}")
        log.add(f"MainEngineThread is returning {rc}")
        log.raw(f"=== Verbose logging stopped: {self.host.clock.now().strftime('%m/%d/%Y  %H:%M:%S')} ===")
        if inv is not None and inv.log_path:
            text = "\r\n".join(log.lines) + "\r\n"
            with contextlib.suppress(OSError, ValueError):  # the folder was checked up front
                self.host.files.write_bytes(inv.log_path, b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass"))
        duration = self.host.clock.monotonic() - started
        result = MsiexecResult(rc, log.lines, duration, reboot)
        self.host.msiexec_history.append(
            {
                "time": self.host.clock.now().isoformat(),
                "user": self.user,
                "argv": self.argv,
                "rc": rc,
                "duration": round(duration, 3),
                **self.files_in_use,
            }
        )
        return result

    async def run(self) -> MsiexecResult:
        host, log = self.host, self.log
        started = host.clock.monotonic()
        log.raw(
            f"=== Verbose logging started: {host.clock.now().strftime('%m/%d/%Y  %H:%M:%S')}  Build type: SHIP UNICODE "
            f"5.00.10011.00  Calling process: C:\\Windows\\system32\\msiexec.exe ==="
        )
        log.add("Resetting cached policy values", "c")
        log.add(f"Machine policy value 'DisableUserInstalls' is 0; command line: {loggable(self.argv)!r}", "c")
        try:
            inv = parse_arguments(self.argv)
        except InvalidCommandLine as exc:
            log.add(f"Note: 1: 1639 2: {exc}", "c")
            return self._finish(1639, None, started)
        if inv.log_path:
            try:
                parent = host.files.canonical(inv.log_path).rpartition("\\")[0] or "C:\\"
                ok = host.files.is_dir(parent if len(parent) > 2 else parent + "\\")
            except ValueError:
                ok = False
            if not ok:
                return self._finish(1622, None, started)
        busy = host.behaviour.busy_until > host.clock.monotonic()
        queued = host.behaviour.msiexec_results[0] if host.behaviour.msiexec_results else None
        if host.msiexec_running or busy or queued == 1618:
            if queued == 1618 and not (host.msiexec_running or busy):
                host.behaviour.msiexec_results.pop(0)
            log.add("Failed to grab execution mutex. System error 258.", "c")
            log.add(
                "Error 1500. Another installation is in progress. You must complete that installation "
                "before continuing this one.",
                "c",
            )
            return self._finish(1618, inv, started)
        host.msiexec_running = True
        host.msiexec_pid = self.pid
        boot = host.boot_id
        try:
            # msiexec runs with its user's profile, so that user's hive (HKCU) is loaded meanwhile.
            with host.registry.loaded(host.sid_of(self.user)):
                if inv.action == "install":
                    return await self._install(inv, started, boot)
                return await self._uninstall(inv, started, boot)
        finally:
            if host.boot_id == boot:
                host.msiexec_running = False

    async def _work(self, boot: int) -> None:
        """Spend the simulated install time; a reboot meanwhile kills msiexec (the transaction never commits)."""
        lo, hi = self.host.behaviour.msiexec_duration
        await self.host.clock.sleep(self.host.rng("msiexec").uniform(lo, hi))
        if self.host.boot_id != boot:
            raise HostDropped(f"{self.host.name} rebooted during msiexec")

    def _outcome(self) -> int:
        results = self.host.behaviour.msiexec_results
        return results.pop(0) if results else 0

    def _fail(self, inv: Invocation, started: float, pkg: MsiPackage | None, message: str) -> MsiexecResult:
        name = pkg.product_name if pkg else "Windows Installer"
        self.log.add(f"Product: {name} -- {message}")
        self.log.add(f"Product: {name} -- Installation operation failed.")
        if pkg:
            self.log.add(
                f"Windows Installer installed the product. Product Name: {name}. Product Version: "
                f"{pkg.product_version}. Product Language: 1033. Manufacturer: {pkg.manufacturer}. "
                f"Installation success or error status: 1603."
            )
        return self._finish(1603, inv, started)

    async def _install(self, inv: Invocation, started: float, boot: int) -> MsiexecResult:
        host, log = self.host, self.log
        try:
            package = host.files.canonical(inv.target)
            data = host.files.read_bytes(package)
        except (OSError, ValueError):
            log.add(f"Note: 1: 1309 2: 5 3: {inv.target}", "c")
            log.add(f"MainEngineThread: Failed to open package {inv.target}: 1619", "c")
            return self._finish(1619, inv, started)
        try:
            pkg = MSI_CACHE.get(data, host.files.sha256(package))
        except MsiParseError as exc:
            log.add(f"Note: 1: 2203 2: {package} 3: -2147286960 ({exc})", "c")
            return self._finish(1620, inv, started)
        folder = package.rpartition("\\")[0]
        for transform in [t for t in inv.properties.get("TRANSFORMS", "").split(";") if t]:
            tpath = transform if re.match(r"^[A-Za-z]:[\\/]", transform) else f"{folder}\\{transform.lstrip(':@|')}"
            if not host.files.is_file(tpath):
                log.add(f"Note: 1: 2203 2: {tpath} 3: -2147287038")
                log.add(f"Product: {pkg.product_name} -- Error 2729. Transform {transform} invalid or missing.")
                return self._finish(1624, inv, started)
        props = {**pkg.properties, **inv.properties}
        context = _context(pkg, inv.properties)
        sid = MACHINE_SID if context == "machine" else host.sid_of(self.user)
        log.add(f"Original package ==> {package}")
        log.add(f"Package we're running from ==> {package}")
        log.add(f"PROPERTY CHANGE: Adding ALLUSERS property. Its value is '{props.get('ALLUSERS', '')}'.")
        log.add(f"Product Code from property table: {pkg.product_code}. Context: {context} (SID {sid})")
        for key in sorted(inv.properties):
            shown = HIDDEN if key in hidden_properties(self.argv) else inv.properties[key]
            log.add(f"PROPERTY CHANGE: Adding {key} property. Its value is '{shown}'.")
        same = _find_installed(host, pkg.product_code, sid)
        if same is not None and version_key(same["version"]) != version_key(pkg.product_version):
            log.add(f"Product: {pkg.product_name} -- Error 1316. Another version of this product is already installed.")
            return self._finish(1638, inv, started)
        if same is not None:
            await self._work(boot)
            log.add(f"Product: {pkg.product_name} -- Configuration completed successfully.")
            return self._finish(self._success_code(inv, 0), inv, started)
        log.add("Doing action: FindRelatedProducts")
        to_remove: list[dict[str, Any]] = []
        for row in pkg.upgrades:
            hits = [
                p
                for p in host.products.values()
                if p["sid"] == sid
                and p["upgrade_code"].upper() == row.upgrade_code
                and upgrade_matches(row, p["version"])
            ]
            if hits:
                props[row.action_property] = ";".join(p["product_code"] for p in hits)
                for p in hits:
                    log.add(f"FindRelatedProducts: Found application: {p['product_code']} ({p['version']})")
                if not row.attributes & UPGRADE_ONLY_DETECT:
                    to_remove.extend(p for p in hits if p not in to_remove)
        log.add("Doing action: LaunchConditions")
        for condition, description in pkg.launch_conditions:
            try:
                ok = evaluate_condition(condition, props)
            except ValueError as exc:
                log.add(f"Note: condition not evaluated ({exc}); treated as true")
                ok = True
            if not ok:
                return self._fail(inv, started, pkg, format_text(description, props))
        for f in pkg.files:
            if f.source_relpath is not None:
                src = f"{folder}\\{f.source_relpath}"
                if not host.files.is_file(src):
                    return self._fail(
                        inv,
                        started,
                        pkg,
                        f"Error 1308. Source file not found: {src}.  Verify that the file exists and that you can "
                        f"access it.",
                    )
            elif f.cabinet and not f.cabinet.startswith("#") and not host.files.is_file(f"{folder}\\{f.cabinet}"):
                return self._fail(
                    inv, started, pkg, f"Error 1311. Source file not found (cabinet): {folder}\\{f.cabinet}."
                )
        at_reboot = self._restart_manager(inv, to_remove)
        await self._work(boot)
        outcome = self._outcome()
        if outcome == 1603:
            return self._fail(inv, started, pkg, "Error 1722. There is a problem with this Windows Installer package.")
        if at_reboot and outcome == 0:
            outcome = 3010
        for old in to_remove:
            log.add(f"Doing action: RemoveExistingProducts: removing {old['product_code']} ({old['version']})")
            unregister_product(host, old)
        self._commit(pkg, inv, props, (context, sid, package))
        log.add(f"Product: {pkg.product_name} -- Installation completed successfully.")
        log.add(
            f"Windows Installer installed the product. Product Name: {pkg.product_name}. Product Version: "
            f"{pkg.product_version}. Product Language: 1033. Manufacturer: {pkg.manufacturer}. "
            f"Installation success or error status: 0."
        )
        rc = self._success_code(inv, outcome)
        return self._finish(rc, inv, started, reboot=rc == 1641)

    def _restart_manager(self, inv: Invocation, replaced: list[dict[str, Any]]) -> bool:
        """Files of installed products that Office holds open: shut Office down, or replace them at reboot.

        Windows Installer 4.0+ asks Restart Manager which processes hold files it replaces or removes.
        Without MSIRESTARTMANAGERCONTROL=Disable or DisableShutdown, and with no dialog to ask a user in
        (quiet or basic UI), it has Restart Manager shut them down: in every session, without asking, and
        their unsaved work is gone. With either value it falls back to the FilesInUse behaviour, which a
        quiet run answers by scheduling the files for replacement at the next restart (3010).
        (learn.microsoft.com/windows/win32/msi/msirestartmanagercontrol; "Using Windows Installer with
        Restart Manager"; MsiRMFilesInUse Dialog: the dialog is shown only with the full UI.)
        Modelled simply: an Office application in any session holds the files of every installed product
        with files (add-ins load into all of them); the DisableAutomaticApplicationShutdown policy is not modelled.
        Returns whether files are replaced at the next restart.
        """
        host, log = self.host, self.log
        if not any(p.get("files") for p in replaced):
            return False
        holders = [dict(p) for p in host.list_processes() if p["name"].upper() in OFFICE_APPLICATIONS]
        if not holders:
            return False
        held = next(f for p in replaced for f in p.get("files") or [])
        for proc in holders:
            log.add(
                f"RESTART MANAGER: Detected that application with id {proc['pid']}, friendly name "
                f"'{proc['name']}', of type RmMainWindow and status 1 holds file[s] in use."
            )
        control = inv.properties.get("MSIRESTARTMANAGERCONTROL", "")
        if control in ("Disable", "DisableShutdown") or inv.ui not in ("quiet", "qb", "qb-", "qb!", "qb!-", "passive"):
            for proc in holders:
                log.add(
                    f"Info 1603. The file {held} is being held in use by the following process: "
                    f"Name: {proc['name']}, Id: {proc['pid']}, Window Title: '(not determined yet)'. Close that "
                    "application and retry."
                )
            self.files_in_use = {"files_in_use": holders, "replaced_at_reboot": True, "closed_by_restart_manager": []}
            return True
        log.add("RESTART MANAGER: Shutting down all applications in the service's session that held files in use.")
        closed = []
        for proc in holders:
            with contextlib.suppress(ProcessLookupError):
                host.stop_process(proc["pid"])
            closed.append({**proc, "unsaved_work_lost": True})
        log.add(
            "RESTART MANAGER: Successfully shut down all applications in the service's session that held files in use."
        )
        self.files_in_use = {"files_in_use": holders, "replaced_at_reboot": False, "closed_by_restart_manager": closed}
        return False

    def _success_code(self, inv: Invocation, outcome: int) -> int:
        if outcome != 3010:
            return 0
        self.host.pending_reboot = True
        self.log.add("Windows Installer requires a system restart.")
        if inv.restart == "norestart" or inv.ui not in ("quiet", "passive"):
            return 3010
        self.log.add("Product: reboot initiated by the installer (REBOOT=Force semantics of a quiet install).")
        return 1641

    def _commit(self, pkg: MsiPackage, inv: Invocation, props: dict[str, str], where: tuple[str, str, str]) -> None:
        context, sid, package = where
        host = self.host
        dirs = _target_dirs(host, pkg, context, self.user, props)
        props = {**props, **dirs}
        folder = package.rpartition("\\")[0]
        files: list[str] = []
        for f in pkg.files:
            target_dir = dirs.get(f.target_dir, "C:\\")
            host.files.mkdir(target_dir)
            dest = target_dir + f.name
            if f.source_relpath is not None:
                host.files.copy(f"{folder}\\{f.source_relpath}", dest)
            else:
                host.files.write_bytes(dest, b"")  # cabinet extraction is not modelled
            files.append(host.files.canonical(dest))
        registry: list[dict[str, Any]] = []
        for row in pkg.registry:
            hive, prefix = _registry_root(row["root"], context, sid)
            key = "\\".join(p for p in (hive, prefix, format_text(row["key"], props)) if p)
            type_, data = _typed(format_text(row["value"], props))
            registry.append({"key": key, "name": format_text(row["name"], props), "type": type_, "data": data})
        install_dir = dirs.get("INSTALLDIR") or (dirs.get(pkg.files[0].target_dir, "") if pkg.files else "")
        host.files.mkdir("C:\\Windows\\Installer")
        local_package = f"C:\\Windows\\Installer\\{host.rng('localpackage').getrandbits(32):x}.msi"
        host.files.copy(package, local_package)
        user = None if context == "machine" else self.user
        product = {
            "product_code": pkg.product_code.upper(),
            "upgrade_code": pkg.upgrade_code.upper(),
            "package_code": pkg.package_code,
            "name": pkg.product_name,
            "version": pkg.product_version,
            "manufacturer": pkg.manufacturer,
            "scope": context,
            "user": user,
            "sid": sid,
            "arch": pkg.arch,
            "install_date": host.clock.now().strftime("%Y%m%d"),
            "install_location": install_dir,
            "install_source": folder + "\\",
            "local_package": local_package,
            "package_sha256": pkg.sha256,
            "properties": dict(inv.properties),  # exactly what arrived on the command line
            "transforms": inv.properties.get("TRANSFORMS", ""),
            "files": files,
            "registry": registry,
        }
        host.products[(sid, pkg.product_code.upper())] = product
        register_product(host, product)

    async def _uninstall(self, inv: Invocation, started: float, boot: int) -> MsiexecResult:
        host, log = self.host, self.log
        code = inv.target
        if not _GUID.match(code):
            try:
                data = host.files.read_bytes(code)
                code = MSI_CACHE.get(data, host.files.sha256(code)).product_code
            except (OSError, ValueError, MsiParseError):
                return self._finish(1619, inv, started)
        user_sid = host.sid_of(self.user)
        product = _find_installed(host, code, user_sid) or _find_installed(host, code, MACHINE_SID)
        if product is None:
            log.add(f"Product: {code} -- {NOT_INSTALLED}", "c")
            return self._finish(1605, inv, started)
        at_reboot = self._restart_manager(inv, [product])
        await self._work(boot)
        outcome = self._outcome()
        if outcome == 1603:
            return self._fail(inv, started, None, "Error 1722. There is a problem with this Windows Installer package.")
        if at_reboot and outcome == 0:
            outcome = 3010
        unregister_product(host, product)
        log.add(f"Product: {product['name']} -- Removal completed successfully.")
        log.add(
            f"Windows Installer removed the product. Product Name: {product['name']}. Product Version: "
            f"{product['version']}. Product Language: 1033. Manufacturer: {product['manufacturer']}. "
            f"Removal success or error status: 0."
        )
        rc = self._success_code(inv, outcome)
        return self._finish(rc, inv, started, reboot=rc == 1641)
