"""The backend server product on a simulated Windows Server: what it reports, its service, its installer.

What a server leaves on the host (the collection reads it with Get-ServerState; the contract is the
HA spec's table), kept current from the host's :class:`lab.host.cluster.ServerState` whenever it
changes, under ``HKLM\\SOFTWARE\\Example Corp\\Example Backend``: Version, Mode, Database,
SchemaVersion, ClusterName (REG_SZ), ClusterMembers (REG_MULTI_SZ, upper-case host names),
UpdateProgress ("n of m servers updated", absent before the first update) and LastInstallLog.
The Windows service ``ExampleBackend`` is the server process.

API for the primitive twins (the host model's side of the contract)::

    service_status(host, name="ExampleBackend") -> "Running" | "Stopped" | "StartPending" | None
        None: no such service (a client, or another name).
    stage_server_installer(host, version, directory=None) -> {"path", "sha256", "size", "version"}
        Places ExampleBackendSetup.exe (content derived from the version) in directory
        (default C:\\Install\\Example Backend\\<version>); the admin's staging step.
    await run_server_installer(host, path, arguments, user) -> (exit_code, log_path)
        What Start-Process -ArgumentList <array> -Wait -PassThru of the installer does. Raises
        FileNotFoundError when path is no file. log_path is '' when no log was written.

Exit codes: 0 done; 87 an unknown switch or /log without a path; 1602 no /quiet (the wizard has no
desktop to show on in a WinRM session); 1618 another installation is in progress; 1620 the file is
not this product's installer; 1622 the log cannot be written (its folder does not exist); 1638 a
newer version is installed; 1925 the user is not the administrator account; otherwise the fault
``server_installer_exit`` (e.g. 1603; the installer rolls back). The install takes
``behaviour.msiexec_duration`` of simulated time with the service stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import TYPE_CHECKING

from lab.host.cluster import ServerState
from lab.host.msipackage import version_key

if TYPE_CHECKING:
    from lab.host.state import HostState

SETTINGS_KEY = r"HKLM\SOFTWARE\Example Corp\Example Backend"
SERVICE_NAME = "ExampleBackend"
INSTALLER_NAME = "ExampleBackendSetup.exe"
INSTALL_DIR = r"C:\Program Files\Example Backend"
LOG_DIR = r"C:\ProgramData\Example Backend\Logs"
STAGING_DIR = r"C:\Install\Example Backend"
_MARK = re.compile(rb"Example Backend Setup (\d+\.\d+\.\d+)\n")
EXIT_MEANINGS = {
    0: "the installation completed",
    87: "a parameter is not valid",
    1602: "the user cancelled the installation",
    1603: "a fatal error occurred during the installation",
    1618: "another installation is already in progress",
    1620: "the installation package could not be opened",
    1622: "the log file could not be opened",
    1638: "another version of this product is already installed",
    1925: "insufficient privileges to complete the installation for all users",
}


class ServerProduct:
    """The hooks the cluster calls on one server host (:class:`lab.host.cluster.MemberHooks`)."""

    def __init__(self, host: HostState) -> None:
        self.host = host

    def changed(self, state: ServerState) -> None:
        write_registry(self.host)

    def reconnects(self) -> bool:
        return not self.host.faults.server_no_reconnect

    def restart_seconds(self) -> float:
        lo, hi = self.host.behaviour.server_restart_duration
        return self.host.rng("server_restart").uniform(lo, hi)


def attach_server(host: HostState) -> None:
    """Install the server product on a new server host: program and log folders, the registry values."""
    assert host.server is not None
    host.server.hooks = ServerProduct(host)
    host.files.mkdir(INSTALL_DIR)
    host.files.mkdir(LOG_DIR)
    write_registry(host)


def write_registry(host: HostState) -> None:
    """What the server process writes as LocalSystem, from the cluster's view of this server."""
    state, cluster = host.server, host.cluster
    if state is None or cluster is None:
        return
    reg = host.registry
    for name, value in (
        ("Version", state.version),
        ("Mode", state.mode),
        ("Database", state.database),
        ("SchemaVersion", state.schema_version),
        ("ClusterName", cluster.name),
    ):
        reg.set_value(SETTINGS_KEY, name, value)
    reg.set_value(SETTINGS_KEY, "ClusterMembers", cluster.known_members(state), "REG_MULTI_SZ")
    if state.progress is not None:
        reg.set_value(SETTINGS_KEY, "UpdateProgress", progress_text(*state.progress))
    else:
        reg.delete_value(SETTINGS_KEY, "UpdateProgress")
    if state.last_install_log is not None:
        reg.set_value(SETTINGS_KEY, "LastInstallLog", state.last_install_log)


def progress_text(updated: int, total: int) -> str:
    return f"{updated} of {total} servers updated"


def service_status(host: HostState, name: str = SERVICE_NAME) -> str | None:
    if host.server is None or name.lower() != SERVICE_NAME.lower():
        return None
    return host.server.service_status


# -- the installer file --------------------------------------------------------------------------------------
def installer_content(version: str) -> bytes:
    """The same bytes for the same version on every host, so its SHA-256 is known before it is staged."""
    head = b"MZ\x90\x00" + f"lab installer: Example Backend Setup {version}\n".encode()
    body = b"".join(hashlib.sha256(f"{version}:{i}".encode()).digest() for i in range(128))
    return head + body


def stage_server_installer(host: HostState, version: str, directory: str | None = None) -> dict[str, object]:
    if host.server is None:
        raise ValueError(f"{host.name} is not a server")
    if version_key(version) == (0, 0, 0) or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"version must look like 9.3.0, got {version!r}")
    folder = directory or f"{STAGING_DIR}\\{version}"
    host.files.mkdir(folder)
    path = f"{folder.rstrip(chr(92))}\\{INSTALLER_NAME}"
    data = installer_content(version)
    host.files.write_bytes(path, data)
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "version": version}


# -- running it ----------------------------------------------------------------------------------------------
def parse_arguments(arguments: list[str]) -> tuple[bool, str | None, str | None]:
    """``(quiet, log_path, error)`` as the installer reads its command line (switches case-insensitive)."""
    quiet, log_path = False, None
    i = 0
    while i < len(arguments):
        switch = arguments[i].lower()
        if switch == "/quiet":
            quiet = True
        elif switch == "/norestart":
            pass  # nothing in this product needs a restart of Windows
        elif switch == "/log":
            if i + 1 >= len(arguments) or not arguments[i + 1] or arguments[i + 1].startswith("/"):
                return quiet, log_path, "/log needs a file path"
            i += 1
            log_path = arguments[i]
        else:
            return quiet, log_path, f"unknown switch {arguments[i]!r}; accepted: /quiet /norestart /log <path>"
        i += 1
    return quiet, log_path, None


async def run_server_installer(host: HostState, path: str, arguments: list[str], user: str) -> tuple[int, str]:
    """Run the staged installer; the install itself outlives a dropped connection, as a process would."""
    if host.server is None or host.cluster is None:
        raise ValueError(f"{host.name} is not a server")
    if not host.files.is_file(path):
        raise FileNotFoundError(path)
    task = asyncio.ensure_future(_install(host, path, list(arguments), user))
    host.keep_running(task)
    return await asyncio.shield(task)


async def _install(host: HostState, path: str, arguments: list[str], user: str) -> tuple[int, str]:
    state, cluster = host.server, host.cluster
    assert state is not None
    assert cluster is not None
    match = _MARK.search(host.files.read_bytes(path)[:200])
    version = match.group(1).decode() if match else "0.0.0"
    quiet, log_path, error = parse_arguments(arguments)
    if log_path is not None and not host.files.is_dir(log_path.rpartition("\\")[0] or "C:\\"):
        return 1622, ""
    log = _Log(host, log_path)
    log.line(f"Example Backend Setup {version} started by {user}: {path} {' '.join(arguments)}")
    if error is not None:
        return log.end(87, error)
    if match is None:
        return log.end(1620, "the file is not an Example Backend installer")
    if not quiet:
        return log.end(1602, "no desktop to show the setup wizard on; run it with /quiet")
    if user.lower() != host.username.lower():
        return log.end(1925, f"{user} is not an administrator of {host.name}")
    if state.installing or host.msiexec_running:
        return log.end(1618, "another installation is in progress")
    if version_key(version) < version_key(state.version):
        return log.end(1638, f"version {state.version} is installed, newer than {version}")
    if version == state.version:
        log.line(f"version {version} is installed already; nothing to do")
        return log.end(0, "")
    log.line(f"stopping service {SERVICE_NAME}")
    cluster.install_started(host.name, version)
    state.changed()
    lo, hi = host.behaviour.msiexec_duration
    duration = host.rng("server_install").uniform(lo, hi)
    down = host.faults.server_unreachable_during_install
    if down > 0:
        host.faults.server_unreachable_during_install = 0.0
        await host.clock.sleep(duration / 3)
        host._go_offline(down)
        duration -= duration / 3
    await host.clock.sleep(duration)
    code = host.faults.server_installer_exit
    if code is not None:
        log.line(f"replacing files in {INSTALL_DIR} failed; rolling back to {state.version}")
        cluster.install_failed(host.name, version, code)
        state.changed()
        return log.end(code, f"installation failed with exit code {code}")
    log.line(f"files of {version} in place; starting service {SERVICE_NAME}")
    result = cluster.server_updated(host.name, version, restart_wait=True)
    log.line(progress_text(result["updated"], result["total"]))
    if result["finished"]:
        log.line(f"production schema renewed to {version}; the other members are told to reconnect")
    else:
        log.line("running in update mode on a local copy of the database")
    return log.end(0, "")


class _Log:
    """The installer's log at /log; without /log it writes none."""

    def __init__(self, host: HostState, path: str | None) -> None:
        self.host, self.path = host, path or ""
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        """Written as it goes, so a log read while the installer runs shows how far it got."""
        self.lines.append(f"[{self.host.clock.now().strftime('%Y-%m-%d %H:%M:%S')}] {text}")
        if self.path:
            self.host.files.write_bytes(self.path, ("\r\n".join(self.lines) + "\r\n").encode("utf-8"))

    def end(self, code: int, message: str) -> tuple[int, str]:
        if message:
            self.line(message)
        self.line(f"Example Backend Setup exits with code {code}: {EXIT_MEANINGS.get(code, 'the installation failed')}")
        state = self.host.server
        if self.path and state is not None:
            state.last_install_log = self.path
            state.changed()
        return code, self.path
