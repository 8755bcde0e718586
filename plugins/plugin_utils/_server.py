# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ha_server_info and ha_server_install share: the server's state as checked facts, and the installer.

A server reports itself through registry values the product writes and its service (Get-ServerState). The
values are untrusted input: each one is checked for its registry type and its form, and one that is wrong is
named in ``problems`` and left out (null), never used to decide. The installer's command line, its exit codes
and the states an update passes through are the collection's assumption of the product (docs: the modules'
descriptions); they are written here once.
"""

from __future__ import annotations

import ntpath
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _cmdline
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

DEFAULT_SETTINGS_KEY = r"SOFTWARE\Example Corp\Example Backend"
DEFAULT_SERVICE = "ExampleBackend"
DEFAULT_LOG_DIR = r"C:\ProgramData\Example Backend\Logs"
COMMON_SPEC: dict[str, dict[str, t.Any]] = {
    "settings_key": {"type": "str", "default": DEFAULT_SETTINGS_KEY},
    "service": {"type": "str", "default": DEFAULT_SERVICE},
}
MODES = ("production", "update")
DATABASES = ("production", "local-copy")
# What Get-Service reports as Status (ServiceControllerStatus).
SERVICE_STATES = ("Running", "Stopped", "StartPending", "StopPending", "ContinuePending", "PausePending", "Paused")
MAX_MEMBERS = 64
_VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){1,3}$")
# The version a task names must be written as the server writes its own (9.3.0): "9.3" would never compare equal.
_FULL_VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){2,3}$")
# A NetBIOS computer name: at most 15 characters, none of those Windows refuses in one.
_NETBIOS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!@#$%^&'()_{}~.-]{0,14}$")
_CLUSTER_NAME = re.compile(r"^[^\x00-\x1f]{1,256}$")
_PROGRESS = re.compile(r"^(\d{1,4}) of (\d{1,4}) servers updated$")
_LOCAL_PATH = re.compile(r'^[A-Za-z]:\\[^\x00-\x1f<>"|?*]{1,255}$')
_SHA256 = re.compile(r"^sha256:([0-9A-Fa-f]{64})$")

# The installer's exit codes, as the collection assumes them (the Windows Installer convention): meaning, success,
# restart needed. Anything else is a failure that says its code.
EXIT_CODES: dict[int, tuple[str, bool, bool]] = {
    0: ("the installation is done", True, False),
    3010: ("the installation is done; a restart of the server is needed to complete it", True, True),
    1602: ("the installation was cancelled", False, False),
    1603: ("a fatal error during the installation", False, False),
    1618: ("another installation is in progress on the server; run again when it has finished", False, False),
}


@dataclass(frozen=True)
class ExitCode:
    code: int
    meaning: str
    ok: bool
    restart_needed: bool


def exit_code(code: int) -> ExitCode:
    meaning, ok, restart = EXIT_CODES.get(code, (f"the installer failed with exit code {code}", False, False))
    return ExitCode(code, meaning, ok, restart)


def query(args: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Get-ServerState's question."""
    key = str(args["settings_key"]).strip("\\")
    if not key or "\x00" in key:
        raise ValueError(f"settings_key {args['settings_key']!r} is not a registry key below HKLM")
    service = str(args["service"])
    if not re.match(r"^[^\x00-\x1f\\/]{1,256}$", service):
        raise ValueError(f"service {service!r} is not a Windows service name")
    return {"settings_key": key, "service": service}


@dataclass
class ServerState:
    """One Get-ServerState answer, checked: every field is a valid value or None."""

    name: str | None = None
    version: str | None = None
    mode: str | None = None
    database: str | None = None
    schema_version: str | None = None
    cluster_name: str | None = None
    members: list[str] = field(default_factory=list)
    progress: dict[str, int] | None = None
    progress_text: str | None = None
    service: str | None = None
    last_install_log: str | None = None
    installed: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def admin_console(self) -> bool:
        """The admin console takes logins only from a running server in production mode."""
        return self.mode == "production" and self.service == "Running"

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "version": self.version,
            "mode": self.mode,
            "database": self.database,
            "schema_version": self.schema_version,
            "cluster_name": self.cluster_name,
            "members": list(self.members),
            "progress": None if self.progress is None else dict(self.progress),
            "progress_text": self.progress_text,
            "service": self.service,
            "admin_console": self.admin_console,
            "last_install_log": self.last_install_log,
        }

    def summary(self) -> str:
        """What the server said, for a message."""
        return (
            f"version {self.version or 'unknown'}, mode {self.mode or 'unknown'}, "
            f"database {self.database or 'unknown'}, service {self.service or 'not found'}"
        )


def _text(
    value: t.Any, kind: t.Any, name: str, *, pattern: re.Pattern[str], form: str, problems: list[str]
) -> str | None:
    """A REG_SZ value of the given form, else None with a problem (an absent value is no problem)."""
    if value is None and kind is None:
        return None
    if kind != "String" or not isinstance(value, str):
        problems.append(f"{name} is {kind or 'no'} registry value {value!r:.80}, not a REG_SZ")
        return None
    if not pattern.match(value):
        problems.append(f"{name} {value!r:.80} is not {form}")
        return None
    return value


def _members(value: t.Any, kind: t.Any, problems: list[str]) -> list[str]:
    if value is None and kind is None:
        return []
    if kind != "MultiString" or not isinstance(value, list):
        problems.append(f"ClusterMembers is {kind or 'no'} registry value {value!r:.80}, not a REG_MULTI_SZ")
        return []
    if len(value) > MAX_MEMBERS:
        problems.append(f"ClusterMembers lists {len(value)} servers, more than {MAX_MEMBERS}; left out")
        return []
    members: list[str] = []
    for entry in value:
        if not isinstance(entry, str) or not _NETBIOS.match(entry):
            problems.append(f"ClusterMembers entry {entry!r:.80} is not a computer name; left out")
        elif entry.upper() not in members:
            members.append(entry.upper())
    return members


def progress_of(text: str | None, problems: list[str]) -> dict[str, int] | None:
    """ "n of m servers updated" as {updated, total}."""
    match = _PROGRESS.match(text or "")
    if text is None or match is None:
        return None
    updated, total = int(match.group(1)), int(match.group(2))
    if total < 1 or updated > total:
        problems.append(f"UpdateProgress {text!r} counts {updated} of {total} servers, which cannot be")
        return None
    return {"updated": updated, "total": total}


def read_state(answer: t.Mapping[str, t.Any]) -> ServerState:
    """Get-ServerState's answer as checked facts."""
    problems: list[str] = []
    values = answer.get("values")
    kinds = answer.get("kinds")
    if not isinstance(values, dict) or not isinstance(kinds, dict):
        raise _answers.HostAnswerError("Get-ServerState", "values and kinds must be objects")

    def text(name: str, pattern: re.Pattern[str], form: str) -> str | None:
        return _text(values.get(name), kinds.get(name), name, pattern=pattern, form=form, problems=problems)

    name = answer.get("name")
    if not isinstance(name, str) or not _NETBIOS.match(name):
        problems.append(f"the computer name {name!r:.80} is not a NetBIOS name")
        name = None
    service = answer.get("service")
    if service is not None and service not in SERVICE_STATES:
        problems.append(f"the service status {service!r:.80} is not one of {', '.join(SERVICE_STATES)}")
        service = None
    mode_form = f"one of {', '.join(MODES)}"
    progress_text = text("UpdateProgress", _PROGRESS, "like '2 of 3 servers updated'")
    progress = progress_of(progress_text, problems)
    return ServerState(
        name=name.upper() if name else None,
        version=text("Version", _VERSION, "a version like 9.2.0"),
        mode=text("Mode", re.compile(f"^({'|'.join(MODES)})$"), mode_form),
        database=text("Database", re.compile(f"^({'|'.join(DATABASES)})$"), f"one of {', '.join(DATABASES)}"),
        schema_version=text("SchemaVersion", _VERSION, "a version like 9.2.0"),
        cluster_name=text("ClusterName", _CLUSTER_NAME, "a name of 1 to 256 characters"),
        members=_members(values.get("ClusterMembers"), kinds.get("ClusterMembers"), problems),
        progress=progress,
        progress_text=progress_text if progress is not None else None,
        service=service,
        last_install_log=text("LastInstallLog", _LOCAL_PATH, "a local path like C:\\ProgramData\\...\\setup.log"),
        installed=bool(answer.get("key_exists")),
        problems=problems,
    )


def get_state(host: WinHost, question: t.Mapping[str, str]) -> ServerState:
    """One Get-ServerState command."""
    return read_state(host.run("Get-ServerState", question))


# ---- the installer ----------------------------------------------------------------------------------------


def version_option(value: t.Any) -> str:
    if not isinstance(value, str) or not _FULL_VERSION.match(value):
        raise ValueError(f"version {value!r} is not a version like 9.3.0 (three or four numbers)")
    return value


def sha256_of(checksum: t.Any) -> str:
    """The hex digest of ``sha256:<hex>``, upper case as Get-FileHash writes it."""
    match = _SHA256.match(checksum if isinstance(checksum, str) else "")
    if match is None:
        raise ValueError(f"checksum {checksum!r:.100} is not sha256: followed by 64 hexadecimal digits")
    return match.group(1).upper()


def installer_arguments(log_path: str, extra: t.Sequence[str]) -> list[str]:
    """The installer's argument array: silent, no restart, a log where the collection reads its tail."""
    for argument in extra:
        if not argument or any(ord(c) < 32 for c in argument):
            raise ValueError(f"arguments: {argument!r} is not an argument (empty or with control characters)")
    return ["/quiet", "/norestart", "/log", log_path, *extra]


def installer_run(args: t.Mapping[str, t.Any], version: str, stamp: str) -> dict[str, t.Any]:
    """Invoke-ServerInstaller's request: the installer, its digest and the command line quoted here."""
    installer = str(args["installer"])
    if not _LOCAL_PATH.match(installer):
        raise ValueError(f"installer {installer!r} is not a path on the server like C:\\Setup\\ExampleBackendSetup.exe")
    log_dir = str(args["log_dir"]).rstrip("\\")
    if not _LOCAL_PATH.match(log_dir + "\\x"):
        raise ValueError(f"log_dir {log_dir!r} is not a local folder on the server")
    for option in ("timeout", "wait_timeout"):
        if args[option] < (1 if option == "timeout" else 0):
            raise ValueError(f"{option} must be at least {1 if option == 'timeout' else 0} seconds, got {args[option]}")
    log_path = ntpath.join(log_dir, f"setup-{version}-{stamp}.log")
    line = _cmdline.command_line(installer_arguments(log_path, list(args["arguments"] or [])))
    if len(installer) + 3 + len(line) > _cmdline.MAX_COMMAND_LINE:
        raise ValueError(f"the installer's command line would exceed {_cmdline.MAX_COMMAND_LINE} characters")
    return {
        "installer": installer,
        "sha256": sha256_of(args["checksum"]),
        "command_line": line,
        "log_path": log_path,
        "timeout_seconds": int(args["timeout"]),
    }


def reached(state: ServerState, version: str) -> bool:
    """Done with this server: update mode on a local copy, or production (the cluster finished), on ``version``."""
    if state.version != version or state.service != "Running":
        return False
    return (state.mode, state.database) in (("update", "local-copy"), ("production", "production"))
