"""Behaviours and faults of a simulated host, and the strict schema ``apply_control`` accepts.

Schema (every key optional; unknown keys are refused with the list of accepted ones)::

    {
      "behaviour": {
        "latency_ms": 0..60000,                 # mean real delay per WinRM request
        "latency_jitter_ms": 0..60000,          # +/- uniform jitter, drawn from the host's seeded RNG
        "msiexec_duration": [min, max],         # simulated seconds an install/uninstall takes (seeded uniform)
        "msiexec_results": [code, ...],         # queue: the next msiexec runs end with these codes, one each
                                                #   0 normal, 1603 fatal error, 3010 success + reboot required,
                                                #   1618 another installation in progress
        "msiexec_busy_seconds": s,              # from now on, for s simulated seconds, every msiexec gets 1618
        "on_message": "close" | "ignore",       # default reaction of users to an update message
        "close_delay": [min, max],              # simulated seconds until a user who closes Office does so
        "users": {"<user>": {"on_message": "close" | "ignore", "close_delay": s}},
        "reboot_downtime": s,                   # simulated seconds a reboot keeps the host off the network
        "language_mode": "FullLanguage" | "ConstrainedLanguage",  # what AppLocker/WDAC leave PowerShell
        "oem_codepage": 437 | 850 | 852 | 866,  # the console's OEM code page (437 en-US, 850 de-DE)
        "webview2": "machine" | "none" | "user:<name>[,<name>]",  # where the WebView2 Runtime is installed
        "timezone": "Europe/Berlin",            # the host's local time zone (IANA name the lab maps to Windows)
        "server_restart_duration": [min, max]   # servers: simulated seconds a member takes to restart and
                                                #   reconnect once the last server renewed the schema
      },
      "faults": {
        "unreachable": true | false,            # host is off the network until cleared
        "drop_next": n,                         # the next n primitives drop the connection mid-command
        "drop_downtime": s,                     # simulated seconds the host stays away after a drop
        "backend_unreachable": true | false,    # the auto-updater cannot reach the backend
        "download_corrupt": n,                  # the auto-updater's next n package downloads fail their checksum
        "office_never_closed": true | false,    # the user reopens Office whenever the auto-updater looks
        "server_installer_exit": code | null,   # servers: the backend installer ends with this exit code
                                                #   (e.g. 1603) and rolls back, until cleared with null
        "server_unreachable_during_install": s, # servers: the next install takes the host off the network
                                                #   for s simulated seconds, starting during it (0: off)
        "server_no_reconnect": true | false     # servers: told the update is complete, the service does
                                                #   not come back (stays in update mode, stopped)
      }
    }
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.host.registry import Registry

MSIEXEC_RESULT_CODES = (0, 1603, 1618, 3010)
MESSAGE_REACTIONS = ("close", "ignore")
# about_Language_Modes (Microsoft): an AppLocker or WDAC policy in enforce mode puts every
# PowerShell session of a non-exempt user in ConstrainedLanguage.
LANGUAGE_MODES = ("FullLanguage", "ConstrainedLanguage")
# The OEM code pages Windows uses for the console of common system locales (Microsoft's
# "Code Page Identifiers"): 437 United States, 850 Western Europe, 852 Central Europe, 866 Cyrillic.
OEM_CODEPAGES = (437, 850, 852, 866)
# WebView2 Runtime detection (Microsoft Learn, "Distribute your app and the WebView2 Runtime", "Detect if a
# WebView2 Runtime is already installed"): value pv under this client key, per machine in the 32-bit view of
# 64-bit Windows, per user in the user's hive; installed when pv is neither empty nor 0.0.0.0.
WEBVIEW2_CLIENT = r"Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
WEBVIEW2_MACHINE_KEY = "HKLM\\SOFTWARE\\WOW6432Node\\" + WEBVIEW2_CLIENT
WEBVIEW2_VERSION = "131.0.2903.70"
WEBVIEW2_MODES = ("machine", "none", "user:<name>[,<name>]")
DEFAULT_TIMEZONE = "Europe/Berlin"
# IANA name -> Windows time zone Id, the lab's own small map (the ids are those of the registry's
# HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Time Zones; pairs as in CLDR's windowsZones.xml).
WINDOWS_TIMEZONES = {
    "UTC": "UTC",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Vienna": "W. Europe Standard Time",
    "Europe/Zurich": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Europe/London": "GMT Standard Time",
    "Europe/Warsaw": "Central European Standard Time",
    "Europe/Prague": "Central Europe Standard Time",
    "Europe/Helsinki": "FLE Standard Time",
    "Europe/Moscow": "Russian Standard Time",
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "Asia/Kolkata": "India Standard Time",
    "Asia/Tokyo": "Tokyo Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
}
TIMEZONE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\TimeZoneInformation"


@dataclass
class UserBehaviour:
    on_message: str  # 'close' | 'ignore'
    close_delay: float  # simulated seconds

    def as_dict(self) -> dict[str, Any]:
        return {"on_message": self.on_message, "close_delay": self.close_delay}


@dataclass
class Behaviour:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    msiexec_duration: tuple[float, float] = (20.0, 60.0)
    msiexec_results: list[int] = field(default_factory=list)
    busy_until: float = 0.0  # simulated monotonic time
    on_message: str = "close"
    close_delay: tuple[float, float] = (10.0, 120.0)
    users: dict[str, UserBehaviour] = field(default_factory=dict)
    reboot_downtime: float = 60.0
    language_mode: str = "FullLanguage"
    oem_codepage: int = 437
    webview2: str = "machine"
    timezone: str = DEFAULT_TIMEZONE
    server_restart_duration: tuple[float, float] = (5.0, 15.0)

    def as_dict(self, now_mono: float) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "latency_jitter_ms": self.latency_jitter_ms,
            "msiexec_duration": list(self.msiexec_duration),
            "msiexec_results": list(self.msiexec_results),
            "msiexec_busy_seconds": max(0.0, self.busy_until - now_mono),
            "on_message": self.on_message,
            "close_delay": list(self.close_delay),
            "users": {u: b.as_dict() for u, b in sorted(self.users.items())},
            "reboot_downtime": self.reboot_downtime,
            "language_mode": self.language_mode,
            "oem_codepage": self.oem_codepage,
            "webview2": self.webview2,
            "timezone": self.timezone,
            "server_restart_duration": list(self.server_restart_duration),
        }


@dataclass
class Faults:
    unreachable: bool = False
    drop_next: int = 0
    drop_downtime: float = 30.0
    backend_unreachable: bool = False
    download_corrupt: int = 0
    office_never_closed: bool = False
    server_installer_exit: int | None = None
    server_unreachable_during_install: float = 0.0
    server_no_reconnect: bool = False

    def as_dict(self, server: bool = False) -> dict[str, Any]:
        """The faults; those of the backend installer only for a server (a client has none)."""
        out = {
            "unreachable": self.unreachable,
            "drop_next": self.drop_next,
            "drop_downtime": self.drop_downtime,
            "backend_unreachable": self.backend_unreachable,
            "download_corrupt": self.download_corrupt,
            "office_never_closed": self.office_never_closed,
        }
        if server:
            out.update({key: getattr(self, key) for key in SERVER_FAULT_KEYS})
        return out


def seeded_behaviour(rng: random.Random, users: list[str]) -> Behaviour:
    """Defaults drawn from the host's seed: most users close Office when asked, some never do."""
    behaviour = Behaviour()
    for user in users:
        reaction = "close" if rng.random() < 0.8 else "ignore"
        behaviour.users[user] = UserBehaviour(reaction, round(rng.uniform(*behaviour.close_delay), 1))
    return behaviour


# -- validation ------------------------------------------------------------------------------------------------
def _keys(section: str, given: dict[str, Any], accepted: tuple[str, ...]) -> None:
    if not isinstance(given, dict):
        raise ValueError(f"{section} must be an object")
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ValueError(f"unknown key {section}.{unknown[0]}; accepted: {', '.join(accepted)}")


def _number(key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValueError(f"{key} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def _range(key: str, value: Any, hi: float) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{key} must be [min, max] simulated seconds, got {value!r}")
    lo_v, hi_v = _number(f"{key}[0]", value[0], 0, hi), _number(f"{key}[1]", value[1], 0, hi)
    if lo_v > hi_v:
        raise ValueError(f"{key} must have min <= max, got {value!r}")
    return lo_v, hi_v


def _reaction(key: str, value: Any) -> str:
    if value not in MESSAGE_REACTIONS:
        raise ValueError(f"{key} must be one of {', '.join(MESSAGE_REACTIONS)}, got {value!r}")
    return str(value)


BEHAVIOUR_KEYS = (
    "latency_ms",
    "latency_jitter_ms",
    "msiexec_duration",
    "msiexec_results",
    "msiexec_busy_seconds",
    "on_message",
    "close_delay",
    "users",
    "reboot_downtime",
    "language_mode",
    "oem_codepage",
    "webview2",
    "timezone",
    "server_restart_duration",
)
FAULT_KEYS = (
    "unreachable",
    "drop_next",
    "drop_downtime",
    "backend_unreachable",
    "download_corrupt",
    "office_never_closed",
    "server_installer_exit",
    "server_unreachable_during_install",
    "server_no_reconnect",
)
SERVER_FAULT_KEYS = FAULT_KEYS[-3:]
CONTROL_KEYS = ("behaviour", "faults")
DAY = 86400.0


def apply_behaviour(b: Behaviour, spec: dict[str, Any], now_mono: float, known_users: list[str]) -> Behaviour:
    """Validate everything first, then apply to a copy: a refused payload changes nothing."""
    _keys("behaviour", spec, BEHAVIOUR_KEYS)
    new = Behaviour(**{**b.__dict__, "users": dict(b.users), "msiexec_results": list(b.msiexec_results)})
    if "latency_ms" in spec:
        new.latency_ms = _number("behaviour.latency_ms", spec["latency_ms"], 0, 60000)
    if "latency_jitter_ms" in spec:
        new.latency_jitter_ms = _number("behaviour.latency_jitter_ms", spec["latency_jitter_ms"], 0, 60000)
    if "msiexec_duration" in spec:
        new.msiexec_duration = _range("behaviour.msiexec_duration", spec["msiexec_duration"], DAY)
    if "msiexec_results" in spec:
        codes = spec["msiexec_results"]
        if not isinstance(codes, list) or any(c not in MSIEXEC_RESULT_CODES or isinstance(c, bool) for c in codes):
            accepted = ", ".join(map(str, MSIEXEC_RESULT_CODES))
            raise ValueError(f"behaviour.msiexec_results must be a list of exit codes from {accepted}, got {codes!r}")
        new.msiexec_results = list(codes)
    if "msiexec_busy_seconds" in spec:
        new.busy_until = now_mono + _number("behaviour.msiexec_busy_seconds", spec["msiexec_busy_seconds"], 0, DAY)
    if "on_message" in spec:
        new.on_message = _reaction("behaviour.on_message", spec["on_message"])
        # A fleet-wide default overrides the seeded per-user reactions unless users{} says otherwise below.
        new.users = {u: UserBehaviour(new.on_message, ub.close_delay) for u, ub in new.users.items()}
    if "close_delay" in spec:
        new.close_delay = _range("behaviour.close_delay", spec["close_delay"], DAY)
        mid = (new.close_delay[0] + new.close_delay[1]) / 2
        new.users = {u: UserBehaviour(ub.on_message, mid) for u, ub in new.users.items()}
    if "users" in spec:
        users = spec["users"]
        if not isinstance(users, dict):
            raise ValueError("behaviour.users must be an object {user: {on_message, close_delay}}")
        for user, ub in users.items():
            match = next((k for k in known_users if k.lower() == str(user).lower()), None)
            if match is None:
                raise ValueError(f"behaviour.users: unknown user {user!r}; known: {', '.join(known_users)}")
            _keys(f"behaviour.users.{user}", ub, ("on_message", "close_delay"))
            current = new.users.get(match, UserBehaviour(new.on_message, new.close_delay[0]))
            reaction = _reaction(f"behaviour.users.{user}.on_message", ub.get("on_message", current.on_message))
            delay = current.close_delay
            if "close_delay" in ub:
                delay = _number(f"behaviour.users.{user}.close_delay", ub["close_delay"], 0, DAY)
            new.users[match] = UserBehaviour(reaction, delay)
    if "reboot_downtime" in spec:
        new.reboot_downtime = _number("behaviour.reboot_downtime", spec["reboot_downtime"], 0, DAY)
    if "language_mode" in spec:
        if spec["language_mode"] not in LANGUAGE_MODES:
            accepted = ", ".join(LANGUAGE_MODES)
            raise ValueError(f"behaviour.language_mode must be one of {accepted}, got {spec['language_mode']!r}")
        new.language_mode = spec["language_mode"]
    if "oem_codepage" in spec:
        if spec["oem_codepage"] not in OEM_CODEPAGES or isinstance(spec["oem_codepage"], bool):
            accepted = ", ".join(map(str, OEM_CODEPAGES))
            raise ValueError(f"behaviour.oem_codepage must be one of {accepted}, got {spec['oem_codepage']!r}")
        new.oem_codepage = spec["oem_codepage"]
    if "webview2" in spec:
        new.webview2 = _webview2(spec["webview2"], known_users)
    if "timezone" in spec:
        if spec["timezone"] not in WINDOWS_TIMEZONES:
            accepted = ", ".join(WINDOWS_TIMEZONES)
            raise ValueError(f"behaviour.timezone must be one of {accepted}, got {spec['timezone']!r}")
        new.timezone = spec["timezone"]
    if "server_restart_duration" in spec:
        new.server_restart_duration = _range("behaviour.server_restart_duration", spec["server_restart_duration"], DAY)
    return new


def _webview2(value: Any, known_users: list[str]) -> str:
    if value in ("machine", "none"):
        return str(value)
    if isinstance(value, str) and value.startswith("user:"):
        names = [n.strip() for n in value[5:].split(",")]
        chosen = []
        for name in names:
            match = next((k for k in known_users if k.lower() == name.lower()), None)
            if match is None:
                raise ValueError(f"behaviour.webview2: unknown user {name!r}; known: {', '.join(known_users)}")
            chosen.append(match)
        return "user:" + ",".join(chosen)
    raise ValueError(f"behaviour.webview2 must be one of {', '.join(WEBVIEW2_MODES)}, got {value!r}")


def webview2_user_key(sid: str) -> str:
    return f"HKU\\{sid}\\Software\\{WEBVIEW2_CLIENT}"


def apply_environment(
    registry: Registry, behaviour: Behaviour, sids: Callable[[], list[str]], sid_of: Callable[[str], str]
) -> None:
    """Write what the behaviour says about the host's software and locale into its registry.

    Called when the base image is made and whenever the behaviour changes: the WebView2 Runtime is installed
    per machine, for some users or not at all; the time zone is the one the host runs in.
    """
    registry.delete_key(WEBVIEW2_MACHINE_KEY, recurse=True)
    for sid in sids():
        registry.delete_key(webview2_user_key(sid), recurse=True)
    if behaviour.webview2 == "machine":
        registry.set_value(WEBVIEW2_MACHINE_KEY, "pv", WEBVIEW2_VERSION)
    elif behaviour.webview2.startswith("user:"):
        for user in behaviour.webview2[5:].split(","):
            registry.set_value(webview2_user_key(sid_of(user)), "pv", WEBVIEW2_VERSION)
    registry.set_value(TIMEZONE_KEY, "TimeZoneKeyName", WINDOWS_TIMEZONES[behaviour.timezone])


def webview2_installed(registry: Registry, sid: str) -> bool:
    """The documented detection: pv per machine or in the user's hive, neither empty nor 0.0.0.0."""
    for key in (WEBVIEW2_MACHINE_KEY, webview2_user_key(sid)):
        with registry.loaded(sid):
            pv = registry.get(key, "pv")
        if isinstance(pv, str) and pv not in ("", "0.0.0.0"):
            return True
    return False


def apply_faults(f: Faults, spec: dict[str, Any], server: bool = True) -> Faults:
    _keys("faults", spec, FAULT_KEYS if server else FAULT_KEYS[: -len(SERVER_FAULT_KEYS)])
    new = Faults(**f.__dict__)
    if "unreachable" in spec:
        if not isinstance(spec["unreachable"], bool):
            raise ValueError(f"faults.unreachable must be true or false, got {spec['unreachable']!r}")
        new.unreachable = spec["unreachable"]
    if "drop_next" in spec:
        value = spec["drop_next"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            raise ValueError(f"faults.drop_next must be an integer from 0 to 1000, got {value!r}")
        new.drop_next = value
    if "drop_downtime" in spec:
        new.drop_downtime = _number("faults.drop_downtime", spec["drop_downtime"], 0, DAY)
    for key in ("backend_unreachable", "office_never_closed", "server_no_reconnect"):
        if key in spec:
            if not isinstance(spec[key], bool):
                raise ValueError(f"faults.{key} must be true or false, got {spec[key]!r}")
            setattr(new, key, spec[key])
    if "download_corrupt" in spec:
        value = spec["download_corrupt"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            raise ValueError(f"faults.download_corrupt must be an integer from 0 to 1000, got {value!r}")
        new.download_corrupt = value
    if "server_installer_exit" in spec:
        code = spec["server_installer_exit"]
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 65535):
            raise ValueError(f"faults.server_installer_exit must be null or an exit code from 1 to 65535, got {code!r}")
        new.server_installer_exit = code
    if "server_unreachable_during_install" in spec:
        new.server_unreachable_during_install = _number(
            "faults.server_unreachable_during_install", spec["server_unreachable_during_install"], 0, DAY
        )
    return new
