"""The high-availability server cluster of a fleet and its shared production database.

Models the documented update procedure: a server being updated switches to
update mode and works on a local copy of the database (its admin console is
closed); the *last* server updated renews the production schema, and then every
other server is told, restarts its service and reconnects to production.

The cluster knows no host: each member's :class:`ServerState` carries :class:`MemberHooks` (set by
:mod:`lab.host.serverproduct`) through which a change reaches the member's registry and a member's
faults decide whether it reconnects. What the cluster did, and when, is kept in :attr:`Cluster.history`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lab.host.msipackage import version_key

if TYPE_CHECKING:
    from lab.clock import Clock

# The service states as Get-Service shows them (ServiceControllerStatus names).
SERVICE_STATUS = {"running": "Running", "stopped": "Stopped", "start_pending": "StartPending"}


class MemberHooks(Protocol):
    """What the cluster asks of the host a member runs on."""

    def changed(self, state: ServerState) -> None:
        """The member's state changed: the server product writes what it reports again."""

    def reconnects(self) -> bool:
        """Whether the member comes back to production when told the update is complete."""

    def restart_seconds(self) -> float:
        """Simulated seconds the member's service takes to restart and reconnect."""


@dataclass
class ServerState:
    service: str = "running"  # 'running' | 'stopped' | 'start_pending' (SERVICE_STATUS)
    version: str = "9.2.0"
    mode: str = "production"  # 'production' | 'update'
    database: str = "production"  # 'production' | 'local-copy'
    restarts: int = 0
    name: str = ""
    schema_version: str = "9.2.0"  # the production schema this server last connected to
    progress: tuple[int, int] | None = None  # (updated, total) while an update runs and at its end
    last_install_log: str | None = None
    members: list[str] | None = None  # what this server knows of the network; None: every member
    installing: bool = False
    hooks: MemberHooks | None = field(default=None, repr=False, compare=False)

    @property
    def service_status(self) -> str:
        return SERVICE_STATUS[self.service]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.service,
            "service_status": self.service_status,
            "version": self.version,
            "mode": self.mode,
            "database": self.database,
            "schema_version": self.schema_version,
            "progress": list(self.progress) if self.progress else None,
            "last_install_log": self.last_install_log,
            "restarts": self.restarts,
            "installing": self.installing,
            "admin_console": self.mode == "production" and self.service == "running",
        }

    def changed(self) -> None:
        if self.hooks is not None:
            self.hooks.changed(self)


@dataclass
class Cluster:
    """Shared by every server of one fleet: pass the same object to ``make_host(..., cluster=)``."""

    name: str = "backend"
    schema_version: str = "9.2.0"
    servers: dict[str, ServerState] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    # How many updates the last server finished: the backend notices a finished update by it changing.
    finished_updates: int = 0
    clock: Clock | None = field(default=None, repr=False)

    def join(self, host_name: str, version: str | None = None, *, clock: Clock | None = None) -> ServerState:
        if clock is not None and self.clock is None:
            self.clock = clock
        state = self.servers.get(host_name)
        if state is None:
            version = version or self.schema_version
            state = self.servers[host_name] = ServerState(
                version=version, name=host_name, schema_version=self.schema_version
            )
            for other in self.servers.values():
                other.changed()  # every member knows the new one (ClusterMembers)
        return state

    # -- what the servers report -------------------------------------------------------------------------
    def member_names(self) -> list[str]:
        """Every member as Windows shows a computer name: NetBIOS, upper case, at most 15 characters."""
        return sorted(netbios(n) for n in self.servers)

    def known_members(self, state: ServerState) -> list[str]:
        return list(state.members) if state.members is not None else self.member_names()

    def target_version(self) -> str:
        return max((s.version for s in self.servers.values()), key=version_key, default=self.schema_version)

    def progress(self, version: str) -> dict[str, int]:
        done = sum(1 for s in self.servers.values() if version_key(s.version) >= version_key(version))
        return {"updated": done, "total": len(self.servers)}

    def update_in_progress(self) -> bool:
        return any(s.mode == "update" for s in self.servers.values())

    def info(self) -> dict[str, Any]:
        """The ``cluster`` object of the backend's ``GET /info`` (docs/backend-api.yaml, ClusterInfo)."""
        progress = self.progress(self.target_version())
        return {
            "name": self.name,
            "members": [
                {"name": netbios(n), "version": s.version, "mode": s.mode} for n, s in sorted(self.servers.items())
            ],
            "update_in_progress": self.update_in_progress(),
            **progress,
        }

    # -- the installer's steps ---------------------------------------------------------------------------
    def install_started(self, host_name: str, version: str) -> None:
        state = self.servers[host_name]
        state.installing, state.service = True, "stopped"
        self._record(state, "install_started", target=version)

    def install_failed(self, host_name: str, version: str, exit_code: int) -> None:
        """The installer rolled back: the old version runs again as it did before."""
        state = self.servers[host_name]
        state.installing, state.service = False, "running"
        self._record(state, "install_failed", target=version, exit_code=exit_code)

    def server_updated(self, host_name: str, version: str, *, restart_wait: bool = False) -> dict[str, Any]:
        """Installer finished on one server: update mode on a local copy, or, if it was the last, finish all.

        ``restart_wait``: the other members take their :meth:`MemberHooks.restart_seconds` on the cluster's
        clock to restart and reconnect (and may refuse to); otherwise they reconnect at once.
        """
        state = self.join(host_name)
        state.installing = False
        state.version = version
        state.mode, state.database, state.service = "update", "local-copy", "running"
        progress = self.progress(version)
        finished = progress["updated"] == progress["total"]
        updated, total = progress["updated"], progress["total"]
        if not finished:
            for server in self.servers.values():
                if server.mode == "update":
                    server.progress = (updated, total)
                    server.changed()
            self._record(state, "update_mode")
        else:
            # The last server renews the production schema; the others are told, restart and reconnect.
            self.schema_version = version
            self.finished_updates += 1
            state.mode, state.database, state.schema_version = "production", "production", version
            state.progress = (updated, total)
            state.restarts += 1
            state.changed()
            self._record(state, "schema_renewed")
            for other in self.servers.values():
                if other is not state:
                    self._tell_complete(other, restart_wait)
        return {**progress, "finished": finished, "schema_version": self.schema_version}

    def _tell_complete(self, state: ServerState, restart_wait: bool) -> None:
        delay = state.hooks.restart_seconds() if restart_wait and state.hooks is not None else 0.0
        if delay <= 0 or self.clock is None:
            self._reconnect(state, restart_wait)
            return
        state.service = "start_pending"
        state.changed()
        self._record(state, "restarting")
        self.clock.call_later(delay, lambda: self._reconnect(state, restart_wait))

    def _reconnect(self, state: ServerState, restart_wait: bool) -> None:
        state.restarts += 1
        if restart_wait and state.hooks is not None and not state.hooks.reconnects():
            state.service = "stopped"  # the service did not come back; the server still runs on its copy
            state.changed()
            self._record(state, "not_reconnected")
            return
        total = len(self.servers)
        state.mode, state.database, state.service = "production", "production", "running"
        state.schema_version, state.progress = self.schema_version, (total, total)
        state.changed()
        self._record(state, "production")

    def _record(self, state: ServerState, event: str, **extra: Any) -> None:
        at = self.clock.monotonic() if self.clock is not None else None
        self.history.append(
            {
                "at": at,
                "time": self.clock.now().isoformat() if self.clock is not None else None,
                "server": state.name,
                "event": event,
                "version": state.version,
                "mode": state.mode,
                "database": state.database,
                "service": state.service_status,
                **extra,
            }
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema_version": self.schema_version,
            "finished_updates": self.finished_updates,
            "servers": {n: s.as_dict() for n, s in sorted(self.servers.items())},
            "history": list(self.history),
        }


def netbios(host_name: str) -> str:
    return host_name.upper()[:15]
