"""The product's per-user auto-updater, simulated: seed 003's behaviour as clock events.

An updater is started by its startup task (``\\rollout.windows\\AutoUpdater\\<SID>``, action
``ExampleSuite.Updater.exe``) at every system restart, and when that task is started. It reads
its last check from the user's hive and sleeps until the interval in force has elapsed. A check
loads the settings and the release from the backend, takes a sync slot, downloads the per-user
package into the user's package cache, polls the user's Office processes, then starts the
install and ends; five minutes later the install is checked. What it does is left in the hive
(:mod:`lab.host.updater_state`), the way ``autoupdater_info`` reads it.

Cost: a sleeping updater is one :meth:`Clock.call_at` entry; only a step that is running (a few
requests) is an asyncio task. Each step holds the clock (:meth:`Clock.hold`), so in virtual mode
simulated time never passes during a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lab.clock import Timer
from lab.host.behaviour import webview2_installed
from lab.host.msiexec import Msiexec, MsiexecResult
from lab.host.sessions import OFFICE_APPLICATIONS
from lab.host.suite import stage
from lab.host.updater_client import CONNECTION_REFUSED, BackendClient, BackendError
from lab.host.updater_state import INSTALL_CHECK_DELAY, HiveState, iso_utc, next_due, parse_utc, version_tuple

if TYPE_CHECKING:
    from lab.host.sessions import Sessions  # the updater needs the host's state and sessions, not Host

log = logging.getLogger(__name__)
UPDATER_EXE = "ExampleSuite.Updater.exe"
TASK_PATH = "\\rollout.windows\\AutoUpdater\\"
CHANNEL = "stable"
CHECKNOW = "/checknow"  # the argument that makes the updater check at once (the collection's assumption)
NO_WEBVIEW2 = "The WebView2 Runtime is not installed; the auto-updater cannot start."
UNRECOVERABLE_MESSAGE = (
    "Example Office Suite could not be updated to {version}. Please contact your administrator. "
    "The updater tries again in 7 days."
)


class Updater:
    """One user's updater on one host: its persisted state is in the hive, in memory only what runs now."""

    def __init__(self, hub: UpdaterHub, host: Sessions, user: str) -> None:
        self.hub = hub
        self.host = host
        self.user = user
        self.hive = HiveState(host, user)
        self.client_id = f"{host.name}\\{user}"
        self.timer: Timer | None = None
        self.busy = False
        self.boot = host.boot_id
        self.install: asyncio.Task[MsiexecResult] | None = None
        self.started = 0
        self.checks = 0
        self.package: dict[str, Any] = {}  # the release's per-user package being worked on
        self.msi = ""  # its .msi in the user's package cache once downloaded

    # -- scheduling ------------------------------------------------------------------------------------------
    def _at(self, when: datetime, step: Callable[[], Awaitable[None]]) -> None:
        """Sleep until ``when`` (simulated): one clock callback, which runs ``step`` if this process still lives."""
        if self.timer is not None:
            self.timer.cancel()
        clock = self.host.clock
        boot = self.boot
        delay = (when - clock.now()).total_seconds()

        def fire() -> None:
            self.timer = None
            if self.host.boot_id == boot:  # a restart ended the process that slept
                self._run(step)

        self.timer = clock.call_at(clock.monotonic() + max(0.0, delay), fire)

    def _after(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        self._at(self.host.clock.now() + timedelta(seconds=seconds), step)

    def _run(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run one step as a short task; the clock is held from now until it ends."""
        hold = self.host.clock.hold()
        hold.__enter__()
        self.busy = True

        async def body() -> None:
            try:
                await step()
            except Exception as exc:  # a lab bug must show in the hive, not stop the updater silently
                log.exception("auto-updater of %s failed", self.client_id)
                await self._conclude("error", f"lab internal error: {exc!r}")
            finally:
                self.busy = False
                hold.__exit__(None, None, None)

        self.host.keep_running(asyncio.ensure_future(body()))

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # -- start -----------------------------------------------------------------------------------------------
    def start(self, checknow: bool = False) -> bool:
        """The updater process starts (startup task, Start-ScheduledTask); False when one already works (mutex).

        ``checknow`` (the ``/checknow`` argument, the collection's assumption): check at once, whatever the
        interval in force says; an install waiting for its check is still checked when that check is due.
        """
        if self.busy and self.boot == self.host.boot_id:
            return False  # a step of this boot's process is running; one of an earlier boot died with it
        self.stop()
        self.boot = self.host.boot_id
        self.started += 1
        self._run(lambda: self._decide(checknow))
        return True

    async def _decide(self, checknow: bool = False) -> None:
        policy = self.hive.policy()
        if policy["Enabled"] != 1 or not isinstance(policy["BackendUrl"], str) or not policy["BackendUrl"]:
            return  # turned off (or never configured): the process ends at once
        installed = self.hive.installed_version()
        if installed is None:
            return
        self.hive.write(UpdaterVersion=installed)
        state = self.hive.read()
        if not state.LastCheck and state.LastOutcome == "none":
            self.hive.write_all(state)  # a first start leaves the whole table, as "nothing happened yet"
        if not webview2_installed(self.host.registry, self.hive.sid):
            self.hive.write(LastOutcome="error", LastError=NO_WEBVIEW2, Phase="idle")
            self._after(state.config()["error_interval"], self._decide)
            return
        if state.Phase in ("installing", "checking_install"):
            # The install closed the updater; its success is checked 5 minutes after the install started.
            started = parse_utc(state.LastCheck) or self.host.clock.now()
            verify_at = started + timedelta(seconds=INSTALL_CHECK_DELAY)
            if verify_at <= self.host.clock.now():
                await self._verify()
            else:
                self._at(verify_at, self._verify)
            return
        last = parse_utc(state.LastCheck)
        if checknow or last is None or state.Phase != "idle":  # asked to, never checked, or a check interrupted
            await self._check()
            return
        due = next_due(state, last, self.host.behaviour.timezone)
        if due <= self.host.clock.now():
            await self._check()
        else:
            self._at(due, self._check)

    # -- a check ---------------------------------------------------------------------------------------------
    def _client(self) -> BackendClient:
        if self.host.faults.backend_unreachable:
            raise BackendError(CONNECTION_REFUSED)
        policy = self.hive.policy()
        thumbprint = policy["CertificateThumbprint"] if isinstance(policy["CertificateThumbprint"], str) else None
        return self.hub.client_for(str(policy["BackendUrl"]), thumbprint)

    async def _check(self) -> None:
        self.checks += 1
        now = self.host.clock.now()
        state = self.hive.read()
        config = state.config()
        if state.DownloadAttempts >= config["download_attempts"] or state.InstallAttempts >= config["install_attempts"]:
            self.hive.write(DownloadAttempts=0, InstallAttempts=0, PendingVersion="")  # a new round for the version
        self.hive.write(LastCheck=iso_utc(now))
        try:
            client = self._client()
            settings = await client.settings()
            loaded = {k: _int(settings.get(k), v) for k, v in config.items()}
            self.hive.write(Config=json.dumps(loaded, sort_keys=True))
            release = await client.release(CHANNEL, self.client_id)
        except BackendError as exc:
            await self._conclude("error", str(exc))
            return
        installed = self.hive.installed_version() or ""
        version = str(release.get("version", ""))
        # A customizing change without a new version is no update: only a higher version is installed.
        if version_tuple(version) <= version_tuple(installed):
            await self._conclude("no_update")
            return
        package = next((p for p in release.get("packages", []) if p.get("variant") == "user"), None)
        if package is None:
            await self._conclude("error", f"release {version} has no per-user package")
            return
        if self.hive.read().PendingVersion != version:
            self.hive.write(PendingVersion=version, DownloadAttempts=0, InstallAttempts=0)
        self.package = package
        await self._download()

    async def _download(self) -> None:
        self.hive.write(Phase="downloading")
        version = self.hive.read().PendingVersion
        try:
            client = self._client()
            slot, retry_after = await client.acquire_slot(self.client_id)
            if slot is None:  # all sync slots taken: ask again when the backend says
                self._after(max(1.0, retry_after), self._download)
                return
            try:
                files = {}
                for item in [self.package["msi"], *self.package["payload"]]:
                    files[item["path"].split("/", 1)[-1]] = self._verified(item, await client.download(item["url"]))
            finally:
                await client.release_slot(slot)
        except BackendError as exc:
            state = self.hive.read()
            self.hive.write(DownloadAttempts=state.DownloadAttempts + 1)
            await self._conclude("error", f"the download of {version} failed: {exc}")
            return
        self.msi = stage(self.host, self.user, version, files)
        self.hive.write(Phase="waiting_for_apps", ProcessPolls=0)
        await self._poll()

    def _verified(self, item: dict[str, Any], data: bytes) -> bytes:
        if self.host.faults.download_corrupt > 0:
            self.host.faults.download_corrupt -= 1
            data = data[:-1] + bytes([data[-1] ^ 0xFF]) if data else b"\x00"
        digest = hashlib.sha256(data).hexdigest()
        if digest != item["sha256"] or len(data) != item["size"]:
            name = item["path"].rsplit("/", 1)[-1]
            raise BackendError(f"{name} does not match its checksum (SHA-256 {digest}, expected {item['sha256']})")
        return data

    async def _poll(self) -> None:
        """One look at the user's Office processes; install when none runs, give up after the configured polls."""
        logged_on = any(s["user"].lower() == self.user.lower() for s in self.host.sessions.values())
        if self.host.faults.office_never_closed and logged_on and not self._office():
            self.host.start_process(self.user, "WINWORD.EXE")  # the user opens Office again before each look
        state = self.hive.read()
        config = state.config()
        polls = state.ProcessPolls + 1
        self.hive.write(ProcessPolls=polls)
        if not self._office():
            await self._install()
        elif polls >= config["process_check_attempts"]:
            await self._conclude("apps_running", "Office applications are still running")
        else:
            self._after(config["process_check_interval"], self._poll)

    def _office(self) -> list[dict[str, Any]]:
        return [
            p for p in self.host.list_processes(list(OFFICE_APPLICATIONS)) if p["user"].lower() == self.user.lower()
        ]

    async def _install(self) -> None:
        """Start the install as the user and end: the installation closes the updater; a check follows later."""
        self.hive.write(Phase="installing")
        # msiexec below the composed Host (as Host.msiexec runs it); /norestart: never the 1641 that reboots.
        task = asyncio.ensure_future(Msiexec(self.host, ["/i", self.msi, "/qn", "/norestart"], self.user).run())
        self.install = task
        self.host.keep_running(task)
        task.add_done_callback(self._install_ended)
        self._after(INSTALL_CHECK_DELAY, self._verify)

    def _install_ended(self, task: asyncio.Task[MsiexecResult]) -> None:
        state = self.hive.read()
        if state.Phase == "installing":  # not yet checked: the check is what comes next
            # Not a step of the updater (the install closed it): the 5-minute check still counts from the start.
            self.hive.write(Phase="checking_install", LastCheck=state.LastCheck)

    async def _verify(self) -> None:
        state = self.hive.read()
        installed = self.hive.installed_version()
        if state.PendingVersion and installed == state.PendingVersion:
            self.hive.write(UpdaterVersion=installed, DownloadAttempts=0, InstallAttempts=0, PendingVersion="")
            await self._conclude("installed")
            return
        task, self.install = self.install, None
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            why = f"msiexec exit code {task.result().rc}"
        else:
            why = "the installation did not finish"
        attempts = state.InstallAttempts + 1
        self.hive.write(InstallAttempts=attempts)
        error = f"the installation of {state.PendingVersion} failed ({why})"
        if attempts >= state.config()["install_attempts"]:
            await self._conclude("unrecoverable", error)
            for session in list(self.host.sessions.values()):
                if session["user"].lower() == self.user.lower():
                    text = UNRECOVERABLE_MESSAGE.format(version=state.PendingVersion)
                    self.host.send_message(text, session["id"], title="Example Office Suite")
        else:
            await self._conclude("error", error)

    async def _conclude(self, outcome: str, error: str = "") -> None:
        """End a check: outcome and error in the hive, the version to the backend, then sleep until the next."""
        self.hive.write(LastOutcome=outcome, LastError=error, Phase="idle")
        state = self.hive.read()
        report = {"version": state.UpdaterVersion or "0.0.0", "last_check": state.LastCheck, "outcome": outcome}
        try:
            await self._client().report(self.client_id, report)
        except BackendError as exc:
            log.debug("report of %s not delivered: %s", self.client_id, exc)
        due = next_due(state, self.host.clock.now(), self.host.behaviour.timezone)
        self._at(due, self._check)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class UpdaterHub:
    """The updaters of every host of a fleet (or test), and how they reach a backend."""

    def __init__(self, client_for: Callable[[str, str | None], BackendClient]) -> None:
        """``client_for(backend_url, certificate_thumbprint)`` makes the client of one updater's request."""
        self.client_for = client_for
        self.updaters: dict[tuple[int, str], Updater] = {}

    def attach(self, host: Sessions) -> None:
        _HUBS[host] = self

    def updater(self, host: Sessions, user: str) -> Updater:
        key = (id(host), user.lower())
        found = self.updaters.get(key)
        if found is None or found.host is not host:
            found = self.updaters[key] = Updater(self, host, user)
        return found

    def stop(self) -> None:
        for updater in self.updaters.values():
            updater.stop()


_HUBS: weakref.WeakKeyDictionary[Any, UpdaterHub] = weakref.WeakKeyDictionary()


def hub_of(host: Sessions) -> UpdaterHub | None:
    return _HUBS.get(host)


def is_updater_action(action: dict[str, Any]) -> bool:
    return str(action.get("exe", "")).replace("/", "\\").rsplit("\\", 1)[-1].lower() == UPDATER_EXE.lower()


def principal_user(host: Sessions, principal: str) -> str:
    """A task principal as an account name: ``user``, ``HOST\\user`` or the user's SID."""
    if principal.upper().startswith("S-1-5-"):
        return host.user_of_sid(principal) or principal
    return principal.rsplit("\\", 1)[-1]


def start_updater(host: Sessions, user: str, arguments: Sequence[str] = ()) -> int:
    """The updater exe runs as ``user`` with ``arguments``: 0 when it started (or one already runs), 2 (file
    not found) without a hub. ``/checknow`` among the arguments makes it check at once."""
    hub = hub_of(host)
    if hub is None:
        return 2  # ERROR_FILE_NOT_FOUND: this host has no simulated updater attached
    checknow = CHECKNOW in " ".join(arguments).lower().split()
    hub.updater(host, principal_user(host, user)).start(checknow)
    return 0


def startup_updaters(host: Sessions) -> list[str]:
    """Users whose updater startup task exists (path, principal, action): what starts at a restart."""
    users = []
    for task in host.tasks.values():
        if (
            task["path"].lower() == TASK_PATH.lower()
            and task["trigger"].get("type") == "startup"
            and task["state"] != "Disabled"
            and is_updater_action(task["action"])
        ):
            users.append(principal_user(host, str(task["principal"])))
    return users


def on_restart(host: Sessions, downtime: float) -> None:
    """After a restart: each startup task's updater starts once the host is up again."""
    hub = hub_of(host)
    if hub is None:
        return
    for user in startup_updaters(host):
        updater = hub.updater(host, user)
        updater.stop()
        boot = host.boot_id

        def begin(u: Updater = updater, b: int = boot) -> None:
            if host.boot_id == b:
                u.start()

        host.clock.call_later(downtime, begin)
