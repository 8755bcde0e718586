"""What the simulated auto-updater keeps in the user's hive, and when its next check is due.

The values and their types are the host-side contract's table (the collection's
``autoupdater_info`` reads them): one key per user,
``HKU\\<SID>\\Software\\Example Corp\\Example Office Suite\\AutoUpdater``. The intervals are
seed 003's figures, implemented here on their own: the lab is the independent check of the
collection's model, so nothing of the collection's schedule code is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from lab.host.state import HostState

VENDOR_KEY = r"Software\Example Corp\Example Office Suite"
STATE_KEY = VENDOR_KEY + r"\AutoUpdater"
POLICY_KEY = r"Software\Policies\Example Corp\Example Office Suite\AutoUpdater"
PRODUCT_NAME = "Example Office Suite"
OUTCOMES = ("none", "no_update", "installed", "error", "apps_running", "unrecoverable")
PHASES = ("idle", "downloading", "waiting_for_apps", "installing", "checking_install")
# Seed 003: the install closes the updater, which checks the installation's success 5 minutes after it started
# (the table's "5 minutes after a restart through an install by the updater": one and the same check; once it
# has confirmed the new version, the regular interval follows), and 7 days after an unrecoverable error the
# user was told about.
INSTALL_CHECK_DELAY = 300.0
AFTER_UNRECOVERABLE = 7 * 86400.0
# The backend's defaults (lab/backend/state.py SETTINGS), used until a check has loaded the real ones.
DEFAULT_CONFIG = {
    "update_check_interval": 86400,
    "error_interval": 3600,
    "download_attempts": 5,
    "process_check_interval": 120,
    "process_check_attempts": 120,
    "install_attempts": 5,
}
_SZ = ("UpdaterVersion", "LastCheck", "LastOutcome", "LastError", "PendingVersion", "Phase", "Config")
_DWORD = ("DownloadAttempts", "InstallAttempts", "ProcessPolls")
# Every value of the updater's record, and the administrator's policy values (the contract's tables).
STATE_VALUES = (*_SZ, *_DWORD)
POLICY_VALUES = ("Enabled", "BackendUrl", "CertificateThumbprint")
# A change of any of these is a step of the updater, and LastCheck records when it was taken: the interval in
# force counts from there (seed 003: each retry is scheduled with the error interval after the failure).
_STEPS = frozenset(("LastOutcome", "Phase", "DownloadAttempts", "InstallAttempts", "ProcessPolls"))


def iso_utc(when: datetime) -> str:
    """``2026-12-02T01:00:00Z``: ISO 8601 UTC to the second, as the table says."""
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in version.split("."))
    except ValueError:
        return ()


@dataclass
class UpdaterState:
    """The table's values for one user (absent ones as their defaults)."""

    UpdaterVersion: str = ""
    LastCheck: str = ""
    LastOutcome: str = "none"
    LastError: str = ""
    DownloadAttempts: int = 0
    InstallAttempts: int = 0
    ProcessPolls: int = 0
    PendingVersion: str = ""
    Phase: str = "idle"
    Config: str = ""

    def config(self) -> dict[str, int]:
        """The settings loaded at the last check, the defaults for what is missing or unreadable."""
        try:
            loaded = json.loads(self.Config) if self.Config else {}
        except ValueError:
            loaded = {}
        return {
            k: int(loaded[k]) if isinstance(loaded.get(k), int) and not isinstance(loaded[k], bool) else v
            for k, v in DEFAULT_CONFIG.items()
        }


class HiveState:
    """Reads and writes one user's updater values, as that user (the hive loaded with the profile)."""

    def __init__(self, host: HostState, user: str) -> None:
        self.host = host
        self.user = user
        self.sid = host.sid_of(user)
        self.key = f"HKU\\{self.sid}\\{STATE_KEY}"

    def read(self) -> UpdaterState:
        state = UpdaterState()
        with self.host.registry.loaded(self.sid):
            for name in STATE_VALUES:
                value = self.host.registry.get(self.key, name)
                if isinstance(value, str if name in _SZ else int):
                    setattr(state, name, value)
        return state

    def write(self, **values: Any) -> None:
        if "LastCheck" not in values and _STEPS & values.keys():
            values["LastCheck"] = iso_utc(self.host.clock.now())
        for name, value in values.items():
            if name in _SZ:
                self.host.registry.set_value(self.key, name, str(value), "REG_SZ")
            elif name in _DWORD:
                self.host.registry.set_value(self.key, name, int(value), "REG_DWORD")
            else:
                raise KeyError(f"not an updater value: {name}")

    def write_all(self, state: UpdaterState) -> None:
        self.write(**{name: getattr(state, name) for name in STATE_VALUES})

    def policy(self) -> dict[str, Any]:
        """Enabled / BackendUrl / CertificateThumbprint (the administrator's policy values; users read only)."""
        key = f"HKU\\{self.sid}\\{POLICY_KEY}"
        with self.host.registry.loaded(self.sid):
            return {n: self.host.registry.get(key, n) for n in POLICY_VALUES}

    def installed_version(self) -> str | None:
        """The product version installed for this user (per user), None when it is not installed for them."""
        for product in self.host.products.values():
            if product.get("sid", "").upper() == self.sid.upper() and product.get("name") == PRODUCT_NAME:
                return str(product["version"])
        return None

    def install_dir(self) -> str | None:
        with self.host.registry.loaded(self.sid):
            value = self.host.registry.get(f"HKU\\{self.sid}\\{VENDOR_KEY}", "InstallDir")
        return value if isinstance(value, str) else None


def next_local_midnight(after: datetime, zone: str) -> datetime:
    """The first local midnight strictly after ``after`` in ``zone`` (computed per date: DST moves the UTC offset)."""
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return midnight.astimezone(UTC)


def next_due(state: UpdaterState, settled: datetime, zone: str) -> datetime:
    """When the next check is due after a check ended with ``state.LastOutcome`` at ``settled``.

    Seed 003's table: the error interval after an error, the next local midnight while applications run, 7 days
    after an unrecoverable error, the update check interval otherwise, also after a confirmed install (its own
    5-minute row is the install check, scheduled when the install starts). An error that used up the download
    attempts gives the version up until the regular check.
    """
    config = state.config()
    outcome = state.LastOutcome
    if outcome == "error" and state.DownloadAttempts < config["download_attempts"]:
        return settled + timedelta(seconds=config["error_interval"])
    if outcome == "apps_running":
        return next_local_midnight(settled, zone)
    if outcome == "unrecoverable":
        return settled + timedelta(seconds=AFTER_UNRECOVERABLE)
    return settled + timedelta(seconds=config["update_check_interval"])


# Where the suite installer (and so the updater) runs the package from: InstallSource contains it.
PACKAGE_CACHE_MARK = "\\AppData\\Local\\Package Cache\\"
