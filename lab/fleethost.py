"""One host of a fleet together with where and how it is served.

Its own module because both the fleet, which makes these, and the control API, which inspects them,
need it, and the fleet is what starts the control API: neither imports the other for it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from lab.host import Host
    from lab.winrm.server import HostServer


@dataclass(eq=False)
class FleetHost:
    host: Host
    index: int
    address: str
    http_port: int
    https_port: int
    transport: str
    server: HostServer

    @property
    def name(self) -> str:
        return self.host.name
