"""One simulated Windows host: state, behaviour, and the entry point the WinRM server calls.

Everything runs on one asyncio event loop with no per-host tasks: time-dependent
state (a user closing Office some seconds after a message, a reboot finishing)
is stored as a deadline on the simulated clock and settled lazily whenever the
host is looked at. That keeps 1,000 idle hosts at zero CPU.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import traceback
from datetime import timedelta
from typing import Any

from lab.clock import Clock
from lab.host.behaviour import (
    CONTROL_KEYS,
    Behaviour,
    Faults,
    apply_behaviour,
    apply_faults,
    seeded_behaviour,
)
from lab.host.blobs import BlobStore
from lab.host.cluster import Cluster, ServerState
from lab.host.filesystem import FileSystem
from lab.host.msiexec import Msiexec, MsiexecResult
from lab.host.registry import Registry

OFFICE_PROCESSES = ("WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE", "OUTLOOK.EXE")
# What a user who agrees to an update message closes: every Office application, not only the four the seeded
# desktop starts, so a gate that waits for OneNote or Visio sees them go too.
OFFICE_APPLICATIONS = (
    *OFFICE_PROCESSES,
    "ONENOTE.EXE",
    "MSACCESS.EXE",
    "MSPUB.EXE",
    "VISIO.EXE",
    "WINPROJ.EXE",
)
KINDS = ("client", "server")
DEFAULT_USERNAME = "labadmin"
DEFAULT_PASSWORD = "Lab-Passw0rd!"
_FIRST_NAMES = ("anna", "ben", "clara", "david", "eva", "felix", "greta", "hanna", "ida", "jonas", "karla", "lukas")
# "demand": no trigger at all, the task runs only when started (Register-ScheduledTask without -Trigger).
TRIGGER_TYPES = ("startup", "logon", "daily", "once", "demand")


class HostDropped(Exception):
    """The host went away mid-command (drop fault or reboot): the server aborts the TCP connection."""


class Host:
    """A simulated Windows 10/11 client or Windows Server with the state the collection touches."""

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
        self._restart_task: asyncio.Task[None] | None = None
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
        self._background: set[asyncio.Task[Any]] = set()
        self.behaviour: Behaviour = seeded_behaviour(self.rng("behaviour"), self.users)
        self.faults = Faults()
        self.cluster: Cluster | None = None
        self.server: ServerState | None = None
        if kind == "server":
            self.cluster = cluster if cluster is not None else Cluster()
            self.server = self.cluster.join(name)
        self.registry = Registry(self._sids)
        # A user's hive is loaded while the user has a session; the WinRM account's profile is loaded for its commands.
        self.registry.hive_loaded = lambda sid: (
            sid in {self.sid_of(self.username).upper()} | {s["sid"].upper() for s in self.sessions.values()}
        )
        self.files = FileSystem(blobs, clock.now)
        self._base_image()
        self._initial_desktop()

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

    def _base_image(self) -> None:
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

    def _initial_desktop(self) -> None:
        """Seeded start state: most users are logged on, many with Office open."""
        rng = self.rng("desktop")
        for user in self.users:
            if rng.random() < 0.75:
                self.logon(user)
                for exe in OFFICE_PROCESSES:
                    if rng.random() < 0.5:
                        self.start_process(user, exe)

    # -- environment ---------------------------------------------------------------------------------------
    def profile_dir(self, user: str) -> str:
        """``C:\\Users\\<user>``, created (with AppData and Temp) the first time it is needed, like a first logon."""
        path = f"C:\\Users\\{user}"
        if not self.files.is_dir(path):
            for sub in ("AppData\\Local\\Temp", "AppData\\Roaming", "Desktop", "Documents"):
                self.files.mkdir(f"{path}\\{sub}")
            self.registry.set_value(
                rf"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\{self.sid_of(user)}",
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

    # -- lazy time-dependent state -------------------------------------------------------------------------
    def settle(self) -> None:
        """Apply whatever became due on the simulated clock (users closing Office after being asked)."""
        now = self.clock.monotonic()
        for user, deadline in list(self._pending_close.items()):
            if now >= deadline:
                del self._pending_close[user]
                for proc in list(self.processes.values()):
                    if proc["user"].lower() == user and proc["name"].upper() in OFFICE_APPLICATIONS:
                        del self.processes[proc["pid"]]

    # -- sessions and processes ----------------------------------------------------------------------------
    def logon(self, user: str, shell: str = "explorer") -> dict[str, Any]:
        """Interactive logon: a session (id >= 1) with its shell; returns the existing one if already on.

        ``shell="remoteapp"``: a RemoteApp session, which runs rdpinit.exe and rdpshell.exe and never
        explorer.exe (the published programs run in it under the user's account).
        """
        if shell not in ("explorer", "remoteapp"):
            raise ValueError(f"shell must be explorer or remoteapp, got {shell!r}")
        self.settle()
        existing = next((s for s in self.sessions.values() if s["user"].lower() == user.lower()), None)
        if existing is not None:
            return existing
        if user.lower() not in {u.lower() for u in self.users}:
            self.users.append(user)
            self.behaviour.users.setdefault(user, seeded_behaviour(self.rng(f"behaviour:{user}"), [user]).users[user])
        self.profile_dir(user)
        session_id = next(i for i in range(1, len(self.sessions) + 2) if i not in self.sessions)
        session = {
            "id": session_id,
            "user": user,
            "sid": self.sid_of(user),
            "state": "Active",
            "logon_time": self.clock.now().isoformat(),
        }
        self.sessions[session_id] = session
        for image in ("explorer.exe",) if shell == "explorer" else ("rdpinit.exe", "rdpshell.exe"):
            self.start_process(user, image)
        return session

    def logoff(self, user: str) -> None:
        self.settle()
        for sid, session in list(self.sessions.items()):
            if session["user"].lower() == user.lower():
                del self.sessions[sid]
                for pid, proc in list(self.processes.items()):
                    if proc["session_id"] == sid:
                        del self.processes[pid]
        self._pending_close.pop(user.lower(), None)

    def start_process(self, user: str, name: str) -> dict[str, Any]:
        session = next((s for s in self.sessions.values() if s["user"].lower() == user.lower()), None)
        if session is None:
            raise ValueError(f"user {user!r} is not logged on to {self.name}; logon first")
        pid = self.next_pid()
        proc = {
            "pid": pid,
            "name": name,
            "session_id": session["id"],
            "user": session["user"],
            "start_time": self.clock.now().isoformat(),
        }
        self.processes[pid] = proc
        return proc

    def stop_process(self, pid: int) -> None:
        self.settle()
        if pid not in self.processes:
            raise ProcessLookupError(f"no process with PID {pid} on {self.name}")
        del self.processes[pid]

    def list_processes(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        self.settle()
        wanted = {n.lower() for n in names} if names else None
        procs = sorted(self.processes.values(), key=lambda p: p["pid"])
        if wanted is None:
            return [dict(p) for p in procs]
        # Match 'WINWORD', 'WINWORD.EXE' or 'winword.exe' alike, as Get-Process -Name vs. image names differ.
        return [
            dict(p) for p in procs if p["name"].lower() in wanted or p["name"].lower().removesuffix(".exe") in wanted
        ]

    def send_message(self, text: str, session_id: int | None = None, title: str = "") -> list[dict[str, Any]]:
        """An update pop-up (WTSSendMessage): each recipient closes Office after a delay, or ignores it (behaviour).

        Returns who got it; the reaction is only recorded in ``messages`` (Windows cannot see it either).
        """
        self.settle()
        now = self.clock.monotonic()
        delivered = []
        for session in sorted(self.sessions.values(), key=lambda s: s["id"]):
            if session_id is not None and session["id"] != session_id:
                continue
            user = session["user"]
            reaction = self.behaviour.users.get(user)
            mode = reaction.on_message if reaction else self.behaviour.on_message
            delay = reaction.close_delay if reaction else self.behaviour.close_delay[0]
            if mode == "close":
                deadline = now + delay
                self._pending_close[user.lower()] = min(self._pending_close.get(user.lower(), deadline), deadline)
            record = {
                "session_id": session["id"],
                "user": user,
                "title": title,
                "text": text,
                "time": self.clock.now().isoformat(),
            }
            self.messages.append({**record, "reaction": mode})
            delivered.append({"session_id": session["id"], "user": user})
        return delivered

    # -- scheduled tasks -----------------------------------------------------------------------------------
    def register_task(
        self,
        name: str,
        *,
        user: str,
        trigger: dict[str, Any],
        exe: str,
        arguments: list[str] | None = None,
        path: str = "\\",
        enabled: bool = True,
    ) -> dict[str, Any]:
        if not name or "\\" in name:
            raise ValueError(f"task name must be non-empty without '\\', got {name!r}")
        if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
            raise ValueError(f"trigger.type must be one of {', '.join(TRIGGER_TYPES)}, got {trigger!r}")
        if arguments is not None and not (isinstance(arguments, list) and all(isinstance(a, str) for a in arguments)):
            raise ValueError("arguments must be a list of strings")
        task = {
            "name": name,
            "path": path if path.endswith("\\") else path + "\\",
            "principal": user,
            "trigger": dict(trigger),
            "action": {"exe": exe, "arguments": list(arguments or [])},
            "state": "Ready" if enabled else "Disabled",
            "last_run": None,
            "last_result": 267011,  # SCHED_S_TASK_HAS_NOT_RUN
        }
        self.tasks[(task["path"] + name).lower()] = task
        return task

    def unregister_task(self, name: str, path: str = "\\") -> None:
        key = ((path if path.endswith("\\") else path + "\\") + name).lower()
        if key not in self.tasks:
            raise KeyError(f"no scheduled task {path}{name}")
        del self.tasks[key]

    def start_task(self, name: str, path: str = "\\") -> dict[str, Any]:
        """Start-ScheduledTask: returns at once, the task runs in the background and shows Running until it ends."""
        key = ((path if path.endswith("\\") else path + "\\") + name).lower()
        task = self.tasks.get(key)
        if task is None:
            raise KeyError(f"no scheduled task {path}{name}")
        job = asyncio.ensure_future(self.run_task(name, path))
        self._background.add(job)
        job.add_done_callback(self._background_done)
        task["state"], task["last_result"] = "Running", 267009  # SCHED_S_TASK_RUNNING
        return task

    async def run_task(self, name: str, path: str = "\\") -> dict[str, Any]:
        """Run a task now, as its principal; an msiexec action really runs the lab's msiexec as that user."""
        key = ((path if path.endswith("\\") else path + "\\") + name).lower()
        task = self.tasks.get(key)
        if task is None:
            raise KeyError(f"no scheduled task {path}{name}")
        task["state"], task["last_run"] = "Running", self.clock.now().isoformat()
        # While it runs, Task Scheduler shows SCHED_S_TASK_RUNNING (0x41301) as its last result.
        task["last_result"] = 267009
        exe = task["action"]["exe"].replace("/", "\\").rsplit("\\", 1)[-1].lower()
        boot = self.boot_id
        failure = self.task_launch_failures.get(str(task["principal"]).lower())
        try:
            if failure is not None:
                task["last_result"] = failure
            elif exe == "msiexec.exe":
                result = await self.msiexec(task["action"]["arguments"], task["principal"])
                task["last_result"] = result.rc
            else:
                task["last_result"] = 0
        finally:
            if self.boot_id == boot:
                task["state"] = "Ready"
        return task

    # -- msiexec and servers -------------------------------------------------------------------------------
    async def msiexec(self, argv: list[str], user: str) -> MsiexecResult:
        """Run msiexec with an argument array as ``user``; a 1641 result reboots the host afterwards."""
        result = await Msiexec(self, argv, user).run()
        if result.reboot:
            self.reboot()
        return result

    async def server_update(self, version: str) -> dict[str, Any]:
        """The backend installer on this server: service stops, update runs, cluster bookkeeping follows."""
        if self.server is None or self.cluster is None:
            raise ValueError(f"{self.name} is not a server")
        self.server.service = "stopped"
        lo, hi = self.behaviour.msiexec_duration
        await self.clock.sleep(self.rng("server_update").uniform(lo, hi))
        return self.cluster.server_updated(self.name, version)

    # -- primitives ----------------------------------------------------------------------------------------
    async def run_primitive(self, name: str, args: dict[str, Any], user: str) -> tuple[int, str, str]:
        """Run the lab implementation of a primitive: (rc, stdout, stderr) as powershell.exe would produce."""
        from lab.primitives import REGISTRY, PrimitiveContext, PrimitiveFailure

        self.settle()
        if not self.network_up():
            raise HostDropped(f"{self.name} is not on the network")
        key = f"primitive:{name}"
        self.counters[key] = self.counters.get(key, 0) + 1
        impl = REGISTRY.get(name)
        if impl is None:
            return 1, "", f"lab: not implemented: primitive {name}"

        async def invoke() -> tuple[int, str, str]:
            if not isinstance(args, dict):
                return 1, _json({"failed": True, "msg": "arguments must be a JSON object"}), ""
            try:
                result = await impl(self, args, PrimitiveContext(user=user))
            except PrimitiveFailure as exc:
                return 1, _json({"failed": True, "msg": exc.msg}), ""
            except HostDropped:
                raise
            except Exception as exc:  # a lab bug must surface as a failed command, not kill the server
                return 1, _json({"failed": True, "msg": f"lab internal error: {exc!r}"}), traceback.format_exc()
            return 0, _json(result), ""

        if self.faults.drop_next > 0:
            # The connection drops mid-command; the command itself keeps running on the host, as it would.
            self.faults.drop_next -= 1
            task = asyncio.ensure_future(invoke())
            self._background.add(task)
            task.add_done_callback(self._background_done)
            await asyncio.sleep(0)
            self._go_offline(self.faults.drop_downtime)
            raise HostDropped(f"{self.name} dropped the connection during {name}")
        return await invoke()

    def keep_running(self, task: asyncio.Task[Any]) -> None:
        """Let work a primitive stopped waiting for go on, as a process on Windows would."""
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a dropped command's outcome is only visible in host state

    # -- control -------------------------------------------------------------------------------------------
    def control_state(self) -> dict[str, Any]:
        return {
            "behaviour": self.behaviour.as_dict(self.clock.monotonic()),
            "faults": self.faults.as_dict(),
            "network_up": self.network_up(),
        }

    def apply_control(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Set behaviours and faults (schema in lab.host.behaviour); all-or-nothing, ValueError when invalid."""
        if not isinstance(payload, dict):
            raise ValueError("control payload must be an object with keys: " + ", ".join(CONTROL_KEYS))
        unknown = sorted(set(payload) - set(CONTROL_KEYS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]}; accepted: {', '.join(CONTROL_KEYS)}")
        behaviour = self.behaviour
        faults = self.faults
        if "behaviour" in payload:
            behaviour = apply_behaviour(behaviour, payload["behaviour"], self.clock.monotonic(), self.users)
        if "faults" in payload:
            faults = apply_faults(faults, payload["faults"])
        self.behaviour, self.faults = behaviour, faults
        return self.control_state()

    def schedule_restart(self, delay_sim_seconds: float, comment: str | None = None) -> bool:
        """``shutdown.exe /r /t N``: reboot after the delay; False (exit code 1190) if one is already scheduled.

        The restart runs as a one-off task rather than a lazily settled deadline because the
        fleet must notice the boot change on its own to drop the host's open connections.
        """
        if self._restart_task is not None and not self._restart_task.done():
            return False
        delay = float(delay_sim_seconds)
        if delay < 0:
            raise ValueError("delay must be >= 0")

        async def restart() -> None:
            await self.clock.sleep(delay)
            self._restart_task = None  # reboot() cancels a pending restart; this one is no longer pending
            self.reboot()

        self.scheduled_restart = {"delay": delay, "comment": comment, "requested": self.clock.now().isoformat()}
        task = asyncio.ensure_future(restart())
        self._restart_task = task
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return True

    def abort_restart(self) -> bool:
        """``shutdown.exe /a``: cancel a scheduled restart; False (exit code 1116) when none is scheduled."""
        task, self._restart_task = self._restart_task, None
        self.scheduled_restart = None
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def reboot(self, downtime_sim_seconds: float | None = None) -> None:
        """Restart: off the network for the downtime, then a new boot: sessions, processes, msiexec gone."""
        downtime = self.behaviour.reboot_downtime if downtime_sim_seconds is None else float(downtime_sim_seconds)
        if downtime < 0:
            raise ValueError("downtime must be >= 0")
        comment = self.scheduled_restart.get("comment") if self.scheduled_restart else None
        self.abort_restart()  # a restart that comes first makes a scheduled one moot, as on Windows
        self._go_offline(downtime)
        self.boot_id += 1
        self.boot_time = self.clock.now() + timedelta(seconds=downtime)
        self.sessions.clear()
        self.processes.clear()
        self._pending_close.clear()
        self.pending_reboot = False
        self.msiexec_running = False
        for task in self.tasks.values():
            if task["state"] == "Running":
                task["state"] = "Ready"
            if task["trigger"]["type"] == "startup" and task["state"] != "Disabled":
                task["last_run"] = self.boot_time.isoformat()
        if self.server is not None:
            self.server.service = "running"
        self.reboots.append(
            {"boot_id": self.boot_id, "boot_time": self.boot_time.isoformat(), "downtime": downtime, "comment": comment}
        )

    # -- inspection ----------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        self.settle()
        return {
            "name": self.name,
            "kind": self.kind,
            "os_version": self.os_version,
            "boot_id": self.boot_id,
            "boot_time": self.boot_time.isoformat(),
            "network_up": self.network_up(),
            "pending_reboot": self.pending_reboot,
            "reboots": list(self.reboots),
            "scheduled_restart": dict(self.scheduled_restart) if self.scheduled_restart else None,
            "users": {u: self.sid_of(u) for u in [self.username, *self.users]},
            "sessions": [dict(s) for s in sorted(self.sessions.values(), key=lambda s: s["id"])],
            "processes": self.list_processes(),
            "messages": list(self.messages),
            "tasks": {t["path"] + t["name"]: _jsonable(t) for t in self.tasks.values()},
            "products": [
                {k: v for k, v in p.items() if k != "registry"}
                for p in sorted(self.products.values(), key=lambda p: (p["sid"], p["product_code"]))
            ],
            "msiexec_running": self.msiexec_running,
            "msiexec_history": list(self.msiexec_history),
            "server": self.server.as_dict() if self.server else None,
            "cluster": self.cluster.snapshot() if self.cluster else None,
            **self.control_state(),
            "counters": dict(self.counters),
            "registry": self.registry.snapshot(),
            "files": self.files.snapshot(),
        }


def _json(result: dict[str, Any]) -> str:
    """What Write-RwResult prints: compact JSON and a CRLF (Console.Out.WriteLine on Windows)."""
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False) + "\r\n"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def make_host(name: str, kind: str, **options: Any) -> Host:
    """A host whose every random choice derives from (seed, name): same inputs, same behaviour.

    The fleet's factory signature; the keyword options are Host's.
    """
    return Host(name, kind, **options)
