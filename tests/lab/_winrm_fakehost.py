"""A tiny, fully controllable host for WinRM-layer tests (long commands, drops) independent of the host model.

It offers the command envelope; the primitives it runs are the lab's own (``lab.primitives.core.run``),
so it has the few members ``Get-HostInfo`` reads, and any other primitive name answers "not implemented".
"""

from __future__ import annotations

import asyncio
import typing as t
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lab.host import HostDropped
from lab.host.blobs import BlobStore
from lab.host.filesystem import FileSystem
from lab.winrm.hostapi import WinRMHost

T = t.TypeVar("T")


@dataclass
class FakeConsole:
    language_mode: str = "FullLanguage"
    oem_codepage: int = 437


class FakeHost:
    """Implements :class:`lab.winrm.hostapi.WinRMHost` and the few control-API calls the WinRM tests make."""

    def __init__(self, name: str, kind: str, *, seed: int, clock: t.Any, blobs: BlobStore, **kwargs: t.Any) -> None:
        self.name = name
        self.kind = kind
        self.username = str(kwargs.get("username", "labadmin"))
        self.password = str(kwargs.get("password", "Lab-Passw0rd!"))
        self.files = FileSystem(blobs, lambda: datetime.now(UTC))
        self.files.mkdir("C:\\Users\\labadmin\\AppData\\Local\\Temp")
        self.counters: dict[str, int] = {}
        self.behaviour = FakeConsole()
        self.boot_id = 1
        self.boot_time = datetime.now(UTC)
        self.os_version = "10.0.19045"
        self.up = True
        self.latency = 0.0
        self.drop_next = 0
        self.command_seconds = 0.0  # real seconds every command takes before it ends or drops

    def network_up(self) -> bool:
        return self.up

    def latency_seconds(self) -> float:
        return self.latency

    def env(self, user: str | None = None) -> dict[str, str]:
        return {
            "COMPUTERNAME": self.name.upper(),
            "TEMP": "C:\\Users\\labadmin\\AppData\\Local\\Temp",
            "USERPROFILE": "C:\\Users\\labadmin",
        }

    def profile_dir(self, user: str) -> str:
        return "C:\\Users\\labadmin"

    def list_processes(self) -> list[dict[str, t.Any]]:
        return []  # nobody is logged on

    def sid_of(self, user: str) -> str:
        return "S-1-5-21-1-2-3-500"

    async def run_command(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        self.counters[f"primitive:{name}"] = self.counters.get(f"primitive:{name}", 0) + 1
        if self.command_seconds:
            await asyncio.sleep(self.command_seconds)
        if self.drop_next:
            self.drop_next -= 1
            raise HostDropped()
        return await work()

    def snapshot(self) -> dict[str, t.Any]:
        return {"name": self.name, "files": len(self.files.walk_files())}

    def apply_control(self, payload: dict[str, t.Any]) -> dict[str, t.Any]:
        # Same schema as the real host model, for the few keys the WinRM tests need.
        unknown = set(payload) - {"faults", "behaviour"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]}; accepted: behaviour, faults")
        faults = payload.get("faults", {})
        if "unreachable" in faults:
            self.up = not faults["unreachable"]
        self.drop_next = int(faults.get("drop_next", self.drop_next))
        self.latency = float(payload.get("behaviour", {}).get("latency_ms", self.latency * 1000)) / 1000
        return {"faults": {"unreachable": not self.up, "drop_next": self.drop_next}}

    def reboot(self, downtime_sim_seconds: float | None = None) -> None:
        self.boot_id += 1


def make_host(name: str, kind: str, **kwargs: t.Any) -> FakeHost:
    host = FakeHost(name, kind, **kwargs)
    # The protocol's members are checked statically by mypy (below) and here at run time.
    assert isinstance(host, WinRMHost)
    return host


if t.TYPE_CHECKING:
    _STAND_IN: type[WinRMHost] = FakeHost
