"""Interactive sessions and their processes, and what users do when an update message reaches them.

A user who agrees to close Office does so some simulated seconds later: the deadline is kept in
``_pending_close`` and settled lazily (:meth:`Sessions.settle`) whenever the host is looked at, so
idle hosts cost nothing.
"""

from __future__ import annotations

from typing import Any

from lab.host.behaviour import seeded_behaviour
from lab.host.state import HostState

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


class Sessions(HostState):
    """Logon and logoff, processes in sessions, and messages to them (WTSSendMessage)."""

    def _initial_desktop(self) -> None:
        """Seeded start state: most users are logged on, many with Office open."""
        rng = self.rng("desktop")
        for user in self.users:
            if rng.random() < 0.75:
                self.logon(user)
                for exe in OFFICE_PROCESSES:
                    if rng.random() < 0.5:
                        self.start_process(user, exe)

    def settle(self) -> None:
        """Apply whatever became due on the simulated clock (users closing Office after being asked)."""
        now = self.clock.monotonic()
        for user, deadline in list(self._pending_close.items()):
            if now >= deadline:
                del self._pending_close[user]
                for proc in list(self.processes.values()):
                    if proc["user"].lower() == user and proc["name"].upper() in OFFICE_APPLICATIONS:
                        del self.processes[proc["pid"]]

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
