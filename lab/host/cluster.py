"""The high-availability server cluster of a fleet and its shared production database.

Models the documented update procedure: a server being updated switches to
update mode and works on a local copy of the database (its admin console is
closed); the *last* server updated renews the production schema, and then every
server restarts, reconnects to production and runs in production mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.host.msipackage import version_key


@dataclass
class ServerState:
    service: str = "running"  # 'running' | 'stopped'
    version: str = "9.2.0"
    mode: str = "production"  # 'production' | 'update'
    database: str = "production"  # 'production' | 'local-copy'
    restarts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, admin_console=self.mode == "production" and self.service == "running")


@dataclass
class Cluster:
    """Shared by every server of one fleet: pass the same object to ``make_host(..., cluster=)``."""

    name: str = "backend"
    schema_version: str = "9.2.0"
    servers: dict[str, ServerState] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def join(self, host_name: str, version: str | None = None) -> ServerState:
        state = self.servers.get(host_name)
        if state is None:
            state = self.servers[host_name] = ServerState(version=version or self.schema_version)
        return state

    def progress(self, version: str) -> dict[str, int]:
        done = sum(1 for s in self.servers.values() if version_key(s.version) >= version_key(version))
        return {"updated": done, "total": len(self.servers)}

    def server_updated(self, host_name: str, version: str) -> dict[str, Any]:
        """Installer finished on one server: update mode on a local copy, or, if it was the last, finish all."""
        state = self.join(host_name)
        state.version = version
        state.mode, state.database, state.service = "update", "local-copy", "running"
        progress = self.progress(version)
        finished = progress["updated"] == progress["total"]
        if finished:
            # The last server renews the production schema; the others are told, restart and reconnect.
            self.schema_version = version
            for server in self.servers.values():
                server.mode, server.database, server.service = "production", "production", "running"
                server.restarts += 1
        self.history.append({"server": host_name, "version": version, **progress, "finished": finished})
        return {**progress, "finished": finished, "schema_version": self.schema_version}

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema_version": self.schema_version,
            "servers": {n: s.as_dict() for n, s in sorted(self.servers.items())},
            "history": list(self.history),
        }
