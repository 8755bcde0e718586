"""A simulated host's state and the small services every part of the host model uses.

``HostState`` holds all the state of one host (identity, boot, sessions, tasks, products, behaviour)
and what every part reads it through: seeded randomness, SIDs, PIDs, the environment of a user,
reachability and background work. The parts that change the state in their own ways are mixins on
top of it (:mod:`.sessions`, :mod:`.tasks`, :mod:`.power`), composed with the msiexec and primitive
entry points into :class:`lab.host.host.Host`; none of them imports another, they meet in this state.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from lab.clock import Clock
from lab.host.behaviour import Behaviour, Faults, apply_environment, seeded_behaviour
from lab.host.blobs import BlobStore
from lab.host.cluster import Cluster, ServerState
from lab.host.filesystem import FileSystem
from lab.host.registry import Registry

# Where Windows records each profile folder (ProfileImagePath), also for users who are not logged on.
PROFILE_LIST = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"

KINDS = ("client", "server")
DEFAULT_USERNAME = "labadmin"
DEFAULT_PASSWORD = "Lab-Passw0rd!"
_FIRST_NAMES = ("anna", "ben", "clara", "david", "eva", "felix", "greta", "hanna", "ida", "jonas", "karla", "lukas")


class HostDropped(Exception):
    """The host went away mid-command (drop fault or reboot): the server aborts the TCP connection."""


class HostState:
    """The state of a simulated Windows 10/11 client or Windows Server that the collection touches."""

    def __init__(
        self,
        name: str,
        kind: str,
        *,
        seed: int,
        clock: Clock,
        blobs: BlobStore,
        users: list[str] | None = None,
        cluster: Cluster | None = None,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.name = name
        self.kind = kind
        self.seed = seed
        self.clock = clock
        self.blobs = blobs
        self.username = username
        self.password = password
        self._rngs: dict[str, random.Random] = {}
        rng = self.rng("identity")
        self.machine_sid = f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}-" + str(
            rng.randint(10**9, 4 * 10**9)
        )
        if users is None:
            users = [] if kind == "server" else [f"{rng.choice(_FIRST_NAMES)}{rng.randint(10, 99)}"]
        self.users: list[str] = list(users)
        self._sids: dict[str, str] = {}
        self.sid_of(username)
        for user in self.users:
            self.sid_of(user)
        self.counters: dict[str, int] = {"requests": 0, "commands": 0, "bytes_in": 0, "bytes_out": 0}
        self.boot_id = 1
        self.boot_time = clock.now() - timedelta(seconds=rng.randint(600, 14 * 86400))
        self.pending_reboot = False
        self.reboots: list[dict[str, Any]] = []
        self._down_until = -math.inf
        self._restart_task: asyncio.Future[None] | None = None
        self.scheduled_restart: dict[str, Any] | None = None
        self.sessions: dict[int, dict[str, Any]] = {}
        self.processes: dict[int, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        # Per principal (lower-case user): the HRESULT a task launch fails with instead of running its
        # action, e.g. 0x8007052E (HRESULT_FROM_WIN32(ERROR_LOGON_FAILURE), "The user name or password is
        # incorrect.") or 0x800710E0 (ERROR_REQUEST_REFUSED, "The operator or administrator has refused
        # the request."); Task Scheduler reports it as the task's LastTaskResult, a uint32 (winerror.h).
        self.task_launch_failures: dict[str, int] = {}
        self.products: dict[tuple[str, str], dict[str, Any]] = {}
        self.msiexec_running = False
        self.msiexec_pid: int | None = None  # the msiexec that holds the mutex, while one does
        self.msiexec_history: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._pending_close: dict[str, float] = {}
        self._pid = 1000 + 4 * rng.randint(0, 500)
        self._background: set[asyncio.Future[Any]] = set()
        self.behaviour: Behaviour = seeded_behaviour(self.rng("behaviour"), self.users)
        self.faults = Faults()
        self.cluster: Cluster | None = None
        self.server: ServerState | None = None
        if kind == "server":
            self.cluster = cluster if cluster is not None else Cluster()
            self.server = self.cluster.join(name, clock=clock)
        self.registry = Registry(self._sids)
        # A user's hive is loaded while the user has a session; the WinRM account's profile is loaded for its commands.
        self.registry.hive_loaded = lambda sid: (
            sid in {self.sid_of(self.username).upper()} | {s["sid"].upper() for s in self.sessions.values()}
        )
        self.files = FileSystem(blobs, clock.now)
        self._base_image()
        self._initial_desktop()

    def _base_image(self) -> None:
        """What a fresh install has that the collection reads: the system folders and the OS version keys."""
        for path in (
            "C:\\Windows\\System32",
            "C:\\Windows\\Temp",
            "C:\\Windows\\Installer",
            "C:\\Program Files",
            "C:\\Program Files (x86)",
            "C:\\ProgramData",
            "C:\\Users\\Public",
        ):
            self.files.mkdir(path)
        nt = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
        product = "Windows Server 2022 Standard" if self.kind == "server" else "Windows 10 Enterprise"
        self.registry.set_value(nt, "ProductName", product)
        self.registry.set_value(nt, "CurrentBuild", self.os_version.rsplit(".", 1)[1])
        self.registry.set_value(nt, "DisplayVersion", "21H2" if self.kind == "server" else "22H2")
        self.registry.set_value(
            r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName", "ComputerName", self.name.upper()[:15]
        )
        self.profile_dir(self.username)
        # WebView2 and the time zone as the behaviour says (lab.host.behaviour; set again when it changes).
        apply_environment(self.registry, self.behaviour, lambda: list(self._sids.values()), self.sid_of)

    def _initial_desktop(self) -> None:
        """Who is logged on when the host starts: nobody here; :class:`lab.host.sessions.Sessions` seeds it."""

    # -- identity, randomness ------------------------------------------------------------------------------
    def rng(self, purpose: str) -> random.Random:
        """An independent seeded stream per purpose, so one behaviour's draws never shift another's."""
        stream = self._rngs.get(purpose)
        if stream is None:
            stream = self._rngs[purpose] = random.Random(f"{self.seed}:{self.name}:{purpose}")
        return stream

    def sid_of(self, user: str) -> str:
        """SID of a local account, created on first use (RID 500 for Administrator, 1000+ otherwise)."""
        for known, sid in self._sids.items():
            if known.lower() == user.lower():
                return sid
        rid = (
            500
            if user.lower() == "administrator"
            else 1000 + len([u for u in self._sids if u.lower() != "administrator"])
        )
        sid = self._sids[user] = f"{self.machine_sid}-{rid}"
        return sid

    def user_of_sid(self, sid: str) -> str | None:
        return next((u for u, s in self._sids.items() if s.upper() == sid.upper()), None)

    def next_pid(self) -> int:
        self._pid += 4 * self.rng("pid").randint(1, 40)
        return self._pid

    @property
    def os_version(self) -> str:
        return "10.0.20348" if self.kind == "server" else "10.0.19045"

    # -- environment ---------------------------------------------------------------------------------------
    def profile_dir(self, user: str) -> str:
        """``C:\\Users\\<user>``, created (with AppData and Temp) the first time it is needed, like a first logon."""
        path = f"C:\\Users\\{user}"
        if not self.files.is_dir(path):
            for sub in ("AppData\\Local\\Temp", "AppData\\Roaming", "Desktop", "Documents"):
                self.files.mkdir(f"{path}\\{sub}")
            self.registry.set_value(
                f"{PROFILE_LIST}\\{self.sid_of(user)}",
                "ProfileImagePath",
                path,
                "REG_EXPAND_SZ",
            )
            self.registry.create_key(rf"HKU\{self.sid_of(user)}\Software")
        return self.files.canonical(path)

    def env(self, user: str | None = None) -> dict[str, str]:
        user = user or self.username
        profile = self.profile_dir(user)
        return {
            "ALLUSERSPROFILE": "C:\\ProgramData",
            "APPDATA": f"{profile}\\AppData\\Roaming",
            "COMPUTERNAME": self.name.upper()[:15],
            "HOMEDRIVE": "C:",
            "HOMEPATH": profile[2:],
            "LOCALAPPDATA": f"{profile}\\AppData\\Local",
            "OS": "Windows_NT",
            "PROCESSOR_ARCHITECTURE": "AMD64",
            "ProgramData": "C:\\ProgramData",
            "ProgramFiles": "C:\\Program Files",
            "ProgramFiles(x86)": "C:\\Program Files (x86)",
            "ProgramW6432": "C:\\Program Files",
            "PUBLIC": "C:\\Users\\Public",
            "SystemDrive": "C:",
            "SystemRoot": "C:\\Windows",
            "TEMP": f"{profile}\\AppData\\Local\\Temp",
            "TMP": f"{profile}\\AppData\\Local\\Temp",
            "USERDOMAIN": self.name.upper()[:15],
            "USERNAME": user,
            "USERPROFILE": profile,
            "windir": "C:\\Windows",
        }

    # -- network -------------------------------------------------------------------------------------------
    def network_up(self) -> bool:
        return not self.faults.unreachable and self.clock.monotonic() >= self._down_until

    def latency_seconds(self) -> float:
        b = self.behaviour
        if b.latency_ms <= 0 and b.latency_jitter_ms <= 0:
            return 0.0
        jitter = self.rng("latency").uniform(-b.latency_jitter_ms, b.latency_jitter_ms)
        return max(0.0, b.latency_ms + jitter) / 1000.0

    def _go_offline(self, sim_seconds: float) -> None:
        self._down_until = max(self._down_until, self.clock.monotonic() + sim_seconds)

    # -- background work -----------------------------------------------------------------------------------
    def _spawn(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        """Start work that outlives the command that began it (a task's action, a scheduled restart)."""
        task = asyncio.ensure_future(work)
        self.keep_running(task)
        return task

    def keep_running(self, task: asyncio.Future[Any]) -> None:
        """Let work a primitive stopped waiting for go on, as a process on Windows would."""
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a dropped command's outcome is only visible in host state
