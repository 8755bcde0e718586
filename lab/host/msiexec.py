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

The command line is read in :mod:`lab.host.msiargs`, where files and registry values go in
:mod:`lab.host.msitargets`, and the product's registration in :mod:`lab.host.msiregister`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lab.host.msiargs import HIDDEN, InvalidCommandLine, Invocation, hidden_properties, loggable, parse_arguments
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
from lab.host.msiregister import MACHINE_SID, register_product, unregister_product
from lab.host.msitargets import install_context, registry_entries, target_dirs
from lab.host.sessions import OFFICE_APPLICATIONS, Sessions
from lab.host.state import HostDropped

_GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
# Windows Installer's text for 1605 (ERROR_UNKNOWN_PRODUCT), which the log shows for /x of a product not installed.
NOT_INSTALLED = "This action is only valid for products that are currently installed."


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


def _find_installed(host: Sessions, product_code: str, sid: str | None = None) -> dict[str, Any] | None:
    for product in host.products.values():
        if product["product_code"].upper() == product_code.upper() and (sid is None or product["sid"] == sid):
            return product
    return None


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
        context = install_context(pkg, inv.properties)
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
        dirs = target_dirs(host, pkg, context, self.user, props)
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
            "registry": registry_entries(pkg, context, sid, props),
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
