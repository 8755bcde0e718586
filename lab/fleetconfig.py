"""What a lab fleet looks like, decided before anything starts: its config and everything derived from the seed.

The same config and seed give the same host names, addresses, passwords and waves, so an inventory
written by one ``lab serve`` run stays valid for the next.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.winrm.limits import WinRMLimits

if t.TYPE_CHECKING:
    from lab.host import Host

TRANSPORTS = ("basic", "ntlm", "mixed")
ADDRESS_MODES = ("auto", "ip", "port")
HostFactory = Callable[..., "Host"]


@dataclass
class FleetConfig:
    """Everything that decides what a fleet looks like; the same config and seed give the same fleet."""

    clients: int = 0
    servers: int = 0
    seed: int = 0
    time_scale: float = 1.0
    state_dir: Path = field(default_factory=lambda: Path(".tmp/lab"))
    inventory: Path | None = None
    transport: str = "ntlm"
    https: bool = False
    base_address: str = "127.0.1.1"
    http_port: int = 5985
    https_port: int = 5986
    address_mode: str = "auto"
    control_host: str = "127.0.0.1"
    control_port: int = 0
    # None: the lab's host model (lab.host.make_host), with the lab CA in each machine root store. A factory of
    # stand-in hosts (the WinRM tests') provisions them itself; the fleet only needs what HostServer serves.
    host_factory: HostFactory | None = None
    # The reference backend (lab/backend): its URL, admin token and CA path go into the inventory's all.vars.
    backend: bool = False
    backend_version: str = "9.3.2"
    backend_port: int = 0
    backend_packages: Path | None = None  # built test packages that releases list (python -m lab.msi build DIR)
    backend_download_url: str | None = None  # base URL of release files; None: the backend serves them itself
    # Channel -> version the backend offers (e.g. {'stable': '9.3.0'}); None: stable is the newest built version.
    backend_channels: dict[str, str] | None = None
    # A directory served read-only over HTTPS (lab/downloads.py) as `lab_download_url`; None: no server.
    downloads_dir: Path | None = None
    # The WinRM quotas every host enforces (lab/winrm/limits.py): Windows' defaults unless a test lowers one.
    winrm_limits: WinRMLimits = field(default_factory=WinRMLimits)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()
        if self.downloads_dir is not None:
            self.downloads_dir = Path(self.downloads_dir).absolute()
            if not self.downloads_dir.is_dir():
                raise ValueError(f"downloads directory does not exist: {self.downloads_dir}")
        if self.inventory is not None:
            self.inventory = Path(self.inventory).absolute()
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {self.transport!r}")
        if self.address_mode not in ADDRESS_MODES:
            raise ValueError(f"address_mode must be one of {', '.join(ADDRESS_MODES)}, got {self.address_mode!r}")
        if self.clients < 0 or self.servers < 0 or self.clients + self.servers == 0:
            raise ValueError("a fleet needs at least one client or server")
        if not self.time_scale > 0:
            raise ValueError("time_scale must be > 0")
        if self.backend:
            from lab.backend.state import parse_version

            parse_version(self.backend_version)


def client_name(i: int) -> str:
    return f"client-{i:04d}"


def server_name(i: int) -> str:
    return f"server-{i:02d}"


def host_addresses(base: str, count: int) -> list[str]:
    """``count`` loopback addresses counting up from ``base``, skipping last octets 0 and 255."""
    current = int(ipaddress.IPv4Address(base))
    loopback = ipaddress.IPv4Network("127.0.0.0/8")
    out: list[str] = []
    while len(out) < count:
        addr = ipaddress.IPv4Address(current)
        if addr not in loopback:
            raise ValueError(f"not enough loopback addresses after {base} for {count} hosts")
        if (current & 0xFF) not in (0, 255) and str(addr) != "127.0.0.1":
            out.append(str(addr))
        current += 1
    return out


def host_seed(seed: int, name: str) -> int:
    """Per-host seed derived from the fleet seed and the name (stable across Python runs, unlike hash())."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big")


def host_password(seed: int, name: str) -> str:
    """Each host its own password (derived, so the same seed gives the same inventory); complex like Windows wants."""
    return "Lab-" + hashlib.sha256(f"password:{seed}:{name}".encode()).hexdigest()[:16] + "!"


def assign_waves(names: list[str], seed: int) -> dict[str, list[str]]:
    """Split clients into pilot (~5%, at least 1) and wave_1..3 (the rest, evenly), deterministically by seed."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    groups: dict[str, list[str]] = {"pilot": [], "wave_1": [], "wave_2": [], "wave_3": []}
    if not shuffled:
        return groups
    pilot = max(1, round(len(shuffled) * 0.05))
    groups["pilot"] = sorted(shuffled[:pilot])
    rest = shuffled[pilot:]
    for i in range(3):
        groups[f"wave_{i + 1}"] = sorted(rest[i::3])
    return groups
