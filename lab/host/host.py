"""One simulated Windows host: state, behaviour, and the entry point the WinRM server calls.

Everything runs on one asyncio event loop with no per-host tasks: time-dependent
state (a user closing Office some seconds after a message, a reboot finishing)
is stored as a deadline on the simulated clock and settled lazily whenever the
host is looked at. That keeps 1,000 idle hosts at zero CPU.

``Host`` composes the parts of the model: its state (:mod:`.state`), sessions and processes
(:mod:`.sessions`), the task scheduler (:mod:`.tasks`) and restarts (:mod:`.power`), and adds
msiexec, the server update, control and the snapshot. It offers the envelope every command runs in
(network, counters, a connection dropped mid-command) but knows no primitive: the layer above
(:func:`lab.primitives.core.run`) picks one and hands its work in, so the model never imports it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lab.host.autoupdater import is_updater_action, on_restart, start_updater
from lab.host.behaviour import CONTROL_KEYS, apply_behaviour, apply_environment, apply_faults
from lab.host.msiexec import Msiexec, MsiexecResult
from lab.host.power import Power
from lab.host.serverproduct import attach_server
from lab.host.sessions import Sessions
from lab.host.state import HostDropped
from lab.host.tasks import TaskScheduler

T = TypeVar("T")


class Host(Sessions, TaskScheduler, Power):
    """A simulated Windows 10/11 client or Windows Server with the state the collection touches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.server is not None:
            attach_server(self)  # the backend server product: its folders, service and registry values

    # -- msiexec and servers -------------------------------------------------------------------------------
    async def msiexec(self, argv: list[str], user: str) -> MsiexecResult:
        """Run msiexec with an argument array as ``user``; a 1641 result reboots the host afterwards."""
        result = await Msiexec(self, argv, user).run()
        if result.reboot:
            self.reboot()
        return result

    async def run_action(self, action: dict[str, Any], user: str) -> int:
        """A scheduled task's msiexec action really runs the lab's msiexec as that user; other programs succeed."""
        exe = action["exe"].replace("/", "\\").rsplit("\\", 1)[-1].lower()
        if exe == "msiexec.exe":
            return (await self.msiexec(action["arguments"], user)).rc
        if is_updater_action(action):
            return start_updater(self, user, action["arguments"])
        return 0

    def reboot(self, downtime_sim_seconds: float | None = None) -> None:
        """Restart (:meth:`Power.reboot`); the auto-updaters' startup tasks start once the host is up again."""
        super().reboot(downtime_sim_seconds)
        downtime = self.behaviour.reboot_downtime if downtime_sim_seconds is None else float(downtime_sim_seconds)
        on_restart(self, downtime)
        if self.server is not None:
            self.server.changed()  # the service started again with the host

    async def server_update(self, version: str) -> dict[str, Any]:
        """The backend installer on this server: service stops, update runs, cluster bookkeeping follows."""
        if self.server is None or self.cluster is None:
            raise ValueError(f"{self.name} is not a server")
        self.server.service = "stopped"
        lo, hi = self.behaviour.msiexec_duration
        await self.clock.sleep(self.rng("server_update").uniform(lo, hi))
        return self.cluster.server_updated(self.name, version)

    # -- commands ------------------------------------------------------------------------------------------
    async def run_command(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run one WinRM command, the primitive ``name``, whose ``work`` the layer above supplies.

        The host decides only what Windows decides around any command: whether it is reachable, the
        ``primitive:<name>`` count, and a connection that drops mid-command (``HostDropped``), after
        which the work keeps running on the host, as it would.
        """
        self.settle()
        if not self.network_up():
            raise HostDropped(f"{self.name} is not on the network")
        key = f"primitive:{name}"
        self.counters[key] = self.counters.get(key, 0) + 1
        if self.faults.drop_next > 0:
            self.faults.drop_next -= 1
            self._spawn(work())
            await asyncio.sleep(0)
            self._go_offline(self.faults.drop_downtime)
            raise HostDropped(f"{self.name} dropped the connection during {name}")
        return await work()

    # -- control -------------------------------------------------------------------------------------------
    def control_state(self) -> dict[str, Any]:
        return {
            "behaviour": self.behaviour.as_dict(self.clock.monotonic()),
            "faults": self.faults.as_dict(server=self.kind == "server"),
            "network_up": self.network_up(),
        }

    def apply_control(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Set behaviours and faults (schema in lab.host.behaviour); all-or-nothing, ValueError when invalid."""
        if not isinstance(payload, dict):
            raise ValueError("control payload must be an object with keys: " + ", ".join(CONTROL_KEYS))
        unknown = sorted(set(payload) - set(CONTROL_KEYS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]}; accepted: {', '.join(CONTROL_KEYS)}")
        behaviour = previous = self.behaviour
        faults = self.faults
        if "behaviour" in payload:
            behaviour = apply_behaviour(behaviour, payload["behaviour"], self.clock.monotonic(), self.users)
        if "faults" in payload:
            faults = apply_faults(faults, payload["faults"], server=self.kind == "server")
        self.behaviour, self.faults = behaviour, faults
        if (behaviour.webview2, behaviour.timezone) != (previous.webview2, previous.timezone):
            apply_environment(self.registry, behaviour, lambda: list(self._sids.values()), self.sid_of)
        return self.control_state()

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


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def make_host(name: str, kind: str, **options: Any) -> Host:
    """A host whose every random choice derives from (seed, name): same inputs, same behaviour.

    The fleet's factory signature; the keyword options are Host's.
    """
    return Host(name, kind, **options)
