# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-user auto-updater as the controller sees it: options, the host's answer, the product's requirements.

``autoupdater`` (which turns the updater on or off) and ``autoupdater_info`` (which reports on it) read the
same answer of ``Get-AutoUpdater`` and must agree on what it means: who has the product, whether the
updater can run for them and what is set. Everything the host says is untrusted, the user's hive most of
all (its owner writes it): a value of the wrong type or size is named as such, never used.
"""

from __future__ import annotations

import ntpath
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi

PRIMITIVE = "Get-AutoUpdater"
# The collection's assumptions about the product (docs/autoupdater.md); every one is an option.
DEFAULT_EXECUTABLE = "ExampleSuite.Updater.exe"
DEFAULT_POLICY_KEY = r"Software\Policies\Example Corp\Example Office Suite\AutoUpdater"
DEFAULT_SETTINGS_KEY = r"Software\Example Corp\Example Office Suite"
DEFAULT_CACHE = r"AppData\Local\Package Cache"
DEFAULT_TASK_PATH = "\\rollout.windows\\AutoUpdater\\"
UPDATER_ARGUMENT = "/background"
MIN_VERSION = "8.4"
PER_USER_ONLY = "the auto-updater exists only in the per-user variant"
WEBVIEW2_KEY = r"Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
MAX_TEXT = 4096  # the primitive cuts hive strings at this length; anything longer did not come from it
BOOT_TRIGGER = "MSFT_TaskBootTrigger"  # New-ScheduledTaskTrigger -AtStartup

COMMON_SPEC: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str", "required": True},
    "users": {"type": "list", "elements": "str"},
    "updater_executable": {"type": "str", "default": DEFAULT_EXECUTABLE},
    "policy_key": {"type": "str", "default": DEFAULT_POLICY_KEY},
    "settings_key": {"type": "str", "default": DEFAULT_SETTINGS_KEY},
    "suite_installer_cache": {"type": "str", "default": DEFAULT_CACHE},
    "task_path": {"type": "str", "default": DEFAULT_TASK_PATH},
}
_KEY_PART = re.compile(r"^[^\x00-\x1f\\*?\"<>|:]+$")
_FILE_NAME = re.compile(r'^[^\x00-\x1f\\/:*?"<>|]+\.exe$', re.IGNORECASE)


def _relative(option: str, value: str, what: str) -> str:
    """A path below a user's hive or profile: relative, climbing nowhere, no drive or hive name."""
    parts = value.replace("/", "\\").strip("\\").split("\\")
    if (
        not value.strip()
        or any(not p or p in (".", "..") or not _KEY_PART.match(p) for p in parts)
        or ":" in value
        or parts[0].upper().startswith("HK")
    ):
        raise ValueError(f"{option} must be a {what} relative to the user's, like {COMMON_SPEC[option]['default']!r}")
    return "\\".join(parts)


def options(args: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The common options, checked and in the form the host and the comparisons use."""
    task_path = str(args["task_path"]).replace("/", "\\").strip("\\")
    if not task_path or any(not p or p in (".", "..") or not _KEY_PART.match(p) for p in task_path.split("\\")):
        raise ValueError(f"task_path must be a Task Scheduler folder like {DEFAULT_TASK_PATH!r}")
    exe = str(args["updater_executable"])
    if not _FILE_NAME.match(exe):
        raise ValueError(f"updater_executable must be a file name (no folder) ending in .exe, got {exe!r}")
    if not str(args["name"]).strip():
        raise ValueError("name must not be empty")
    return {
        "name": str(args["name"]),
        "users": [str(u) for u in args.get("users") or [] if str(u).strip()],
        "updater_executable": exe,
        "policy_key": _relative("policy_key", str(args["policy_key"]), "registry key"),
        "settings_key": _relative("settings_key", str(args["settings_key"]), "registry key"),
        "suite_installer_cache": _relative("suite_installer_cache", str(args["suite_installer_cache"]), "folder"),
        "task_path": f"\\{task_path}\\",
    }


def query(opts: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The arguments of Get-AutoUpdater."""
    keys = ("name", "users", "policy_key", "settings_key", "task_path", "updater_executable")
    return {key: opts[key] for key in keys}


# ---- the host's answer ---------------------------------------------------------------------------------


@dataclass
class Install:
    """One user's per-user install and what the host reported about it."""

    sid: str
    user: str | None
    version: str | None
    install_source: str | None
    profile: str | None
    install_dir: str | None
    updater_exists: bool
    webview2_user: str | None
    policy: dict[str, t.Any]
    task: dict[str, t.Any] | None
    state: dict[str, t.Any]
    hive_error: str | None
    problems: list[str] = field(default_factory=list)  # every value the host answered wrongly
    blocking: list[str] = field(default_factory=list)  # those of them that leave a requirement unknown

    @property
    def label(self) -> str:
        return f"{self.user or self.sid} ({self.sid})" if self.user else self.sid


@dataclass
class Report:
    installs: list[Install]
    machine: list[dict[str, t.Any]]  # per-machine matches: name, version
    webview2_machine: str | None
    timezone_id: t.Any
    utc_offset_minutes: t.Any
    utc_now: t.Any
    problems: list[str]


def text(value: t.Any, where: str, problems: list[str], limit: int = MAX_TEXT) -> str | None:
    """A string of at most ``limit`` characters, else None with the problem named (absent is None, no problem)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        shown = repr(value)[:80]
        problems.append(f"{where}: {shown} is not a string of up to {limit} characters")
        return None
    return value


def _path(value: t.Any, where: str, problems: list[str]) -> str | None:
    path = text(value, where, problems, 1024)
    if path is not None and not (re.match(r"^[A-Za-z]:\\", path) or path.startswith("\\\\")):
        problems.append(f"{where}: {path!r} is not an absolute Windows path")
        return None
    if path is not None and ".." in path.replace("/", "\\").split("\\"):
        problems.append(f"{where}: {path!r} climbs out of its folder (..)")
        return None
    return path


def _task(value: t.Any, where: str, problems: list[str]) -> dict[str, t.Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(f"{where}: {value!r:.80} is not an object")
        return None
    task: dict[str, t.Any] = {key: text(value.get(key), f"{where}.{key}", problems, 1024) for key in _TASK_KEYS}
    triggers = value.get("triggers")
    triggers = triggers if isinstance(triggers, list) else [triggers] if isinstance(triggers, str) else []
    task["triggers"] = [item for item in triggers if isinstance(item, str) and len(item) <= 128]
    return task


_TASK_KEYS = ("execute", "arguments", "user_id", "logon_type", "run_level")


def _mapping(value: t.Any, names: tuple[str, ...], where: str, problems: list[str]) -> dict[str, t.Any]:
    if value is None:
        return dict.fromkeys(names)
    if not isinstance(value, dict):
        problems.append(f"{where}: {value!r:.80} is not an object")
        return dict.fromkeys(names)
    return {name: value.get(name) for name in names}


POLICY_NAMES = ("Enabled", "BackendUrl", "CertificateThumbprint")


def _policy(values: dict[str, t.Any], where: str, problems: list[str]) -> dict[str, t.Any]:
    """The policy values; one of the wrong type is named and counts as absent (the module writes it anew)."""
    enabled = values.get("Enabled")
    if enabled is not None and (isinstance(enabled, bool) or not isinstance(enabled, int)):
        problems.append(f"{where}: policy Enabled {enabled!r:.80} is not a REG_DWORD")
        enabled = None
    return {
        "Enabled": enabled,
        "BackendUrl": text(values.get("BackendUrl"), f"{where}: policy BackendUrl", problems, 2048),
        "CertificateThumbprint": text(
            values.get("CertificateThumbprint"), f"{where}: policy CertificateThumbprint", problems, 128
        ),
    }


STATE_NAMES = (
    "UpdaterVersion",
    "LastCheck",
    "LastOutcome",
    "LastError",
    "DownloadAttempts",
    "InstallAttempts",
    "ProcessPolls",
    "PendingVersion",
    "Phase",
    "Config",
)


def read(answer: t.Mapping[str, t.Any]) -> Report:
    """Get-AutoUpdater's answer, each value checked; entries without a usable SID are left out and named."""
    problems: list[str] = []
    installs: list[Install] = []
    machine: list[dict[str, t.Any]] = []
    for index, entry in enumerate(_answers.listed(answer, "products", PRIMITIVE)):
        where = f"products[{index}]"
        if not isinstance(entry, dict) or entry.get("scope") not in ("machine", "user"):
            problems.append(f"{where}: not a product entry with scope machine or user")
            continue
        own: list[str] = []
        blocking: list[str] = []
        version = text(entry.get("version"), f"{where}.version", blocking, 64)
        if entry["scope"] == "machine":
            machine.append({"name": text(entry.get("name"), f"{where}.name", own, 256), "version": version})
            problems.extend(blocking)
            continue
        try:
            sid = _answers.sid(entry.get("sid"), PRIMITIVE)
            user = None if entry.get("user") is None else _answers.account(entry.get("user"), PRIMITIVE)
        except _answers.HostAnswerError as exc:
            problems.append(f"{where}: {exc.msg}")
            continue
        where = user or sid
        installs.append(
            Install(
                sid=sid,
                user=user,
                version=version,
                install_source=_path(entry.get("install_source"), f"{where}: InstallSource", blocking),
                profile=_path(entry.get("profile"), f"{where}: profile", blocking),
                install_dir=_path(entry.get("install_dir"), f"{where}: InstallDir", blocking),
                updater_exists=entry.get("updater_exists") is True,
                webview2_user=text(entry.get("webview2_user"), f"{where}: WebView2 pv", blocking, 64),
                policy=_policy(_mapping(entry.get("policy"), POLICY_NAMES, f"{where}: policy", own), where, own),
                task=_task(entry.get("task"), f"{where}: task", own),
                state=_mapping(entry.get("state"), STATE_NAMES, f"{where}: updater state", own),
                hive_error=text(entry.get("hive_error"), f"{where}: hive_error", blocking, 1024),
                problems=blocking + own,
                blocking=blocking,
            )
        )
    installs.sort(key=lambda i: ((i.user or "").lower(), i.sid))
    return Report(
        installs=installs,
        machine=machine,
        webview2_machine=text(answer.get("webview2_machine"), "WebView2 pv per machine", problems, 64),
        timezone_id=answer.get("timezone_id"),
        utc_offset_minutes=answer.get("utc_offset_minutes"),
        utc_now=answer.get("utc_now"),
        problems=problems,
    )


def names_user(install: Install, name: str) -> bool:
    """Whether a user name from the options means this install's user (SID, DOMAIN\\user or user)."""
    wanted = name.strip().lower()
    known = {install.sid.lower()}
    if install.user:
        known |= {install.user.lower(), install.user.rsplit("\\", 1)[-1].lower()}
    return wanted in known


def without_install(report: Report, users: t.Iterable[str]) -> list[str]:
    return [u for u in users if not any(names_user(i, u) for i in report.installs)]


def only_asked(report: Report, users: list[str]) -> list[Install]:
    """The installs of the users asked about (all without ``users``): a host cannot add others."""
    return [i for i in report.installs if not users or any(names_user(i, u) for u in users)]


def scope_refusal(report: Report, name: str) -> str | None:
    """Why nothing can be done when no user has a per-user install; None when someone has."""
    if report.installs:
        return None
    if report.machine:
        versions = ", ".join(sorted({str(m["version"]) for m in report.machine}))
        return f"{PER_USER_ONLY}: {name!r} is installed per machine only (version {versions})"
    return f"no per-user install of a product named {name!r} was found"


# ---- the product's requirements ------------------------------------------------------------------------


def webview2_found(pv: str | None) -> bool:
    """The documented detection: pv exists and is neither empty nor 0.0.0.0."""
    return bool(pv) and pv != "0.0.0.0"


def updater_path(install: Install, opts: t.Mapping[str, t.Any]) -> str | None:
    return ntpath.join(install.install_dir, opts["updater_executable"]) if install.install_dir else None


def unmet(install: Install, report: Report, opts: t.Mapping[str, t.Any]) -> list[str]:
    """Each requirement of the auto-updater this install does not meet, as a sentence; empty when all are met."""
    reasons = [f"the host's answer is not usable: {problem}" for problem in install.blocking]
    if install.hive_error:
        reasons.append(f"its registry hive could not be read: {install.hive_error}")
    try:
        old = install.version is None or _msi.compare_versions(install.version, MIN_VERSION) < 0
    except ValueError:
        old = True
    if old:
        reasons.append(f"version {install.version} has no auto-updater (it comes with version {MIN_VERSION} and later)")
    elif not install.updater_exists:
        where = updater_path(install, opts) or f"InstallDir (not recorded under {opts['settings_key']})"
        reasons.append(f"the updater executable is missing: {where}")
    cache = ntpath.join(install.profile or "<profile>", opts["suite_installer_cache"])
    source = install.install_source
    if not source or not _under(source, cache):
        shown = source or "not recorded"
        reasons.append(f"not installed by the suite installer (its installation source is {shown}, not under {cache})")
    if not (webview2_found(report.webview2_machine) or webview2_found(install.webview2_user)):
        reasons.append(
            "the WebView2 Runtime is not installed, neither per machine (pv under "
            f"HKLM\\SOFTWARE\\WOW6432Node\\{WEBVIEW2_KEY}) nor for the user (HKU\\<SID>\\Software\\{WEBVIEW2_KEY})"
        )
    return reasons


def _under(path: str, folder: str) -> bool:
    def plain(value: str) -> str:
        return value.replace("/", "\\").rstrip("\\").lower()

    return plain(path).startswith(plain(folder) + "\\")


# ---- what is set ----------------------------------------------------------------------------------------


def principal_is(task: t.Mapping[str, t.Any], install: Install) -> bool:
    """Task Scheduler may show the principal as the SID it was given or as the account name."""
    user_id = task.get("user_id")
    return isinstance(user_id, str) and names_user(install, user_id)


def task_in_place(install: Install, opts: t.Mapping[str, t.Any]) -> bool:
    """The startup task exists exactly as the module registers it: anything else is registered again."""
    task, path = install.task, updater_path(install, opts)
    return (
        task is not None
        and path is not None
        and str(task.get("execute") or "").lower() == path.lower()
        and task.get("arguments") == UPDATER_ARGUMENT
        and str(task.get("logon_type") or "").lower() == "s4u"
        and str(task.get("run_level") or "").lower() == "limited"
        and task.get("triggers") == [BOOT_TRIGGER]
        and principal_is(task, install)
    )


def is_on(policy: t.Mapping[str, t.Any], task: t.Mapping[str, t.Any] | None) -> bool:
    """On, as the product reads it: the policy says Enabled=1 and a startup task starts the updater."""
    return policy.get("Enabled") == 1 and task is not None


def view(policy: t.Mapping[str, t.Any], task: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """A user's settings as results and diffs show them."""
    return {
        "enabled": is_on(policy, task),
        "policy": {name: policy.get(name) for name in POLICY_NAMES},
        "task": None if task is None else dict(task),
    }
