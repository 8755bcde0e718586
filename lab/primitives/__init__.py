"""Python implementations of the collection's PowerShell primitives, run by the lab instead of PowerShell.

Each implementation is ``async def impl(host, args, ctx) -> dict`` registered under
the primitive's name (the ``.ps1`` file name). It reads and changes the simulated
host exactly where the PowerShell would read and change Windows, and returns the
same JSON shape. ``PrimitiveFailure`` becomes ``{"failed": true, "msg": ...}`` with rc 1,
which is what the prelude's ``trap`` produces on Windows.

This layer also dispatches: :func:`lab.primitives.core.run` looks the primitive up and runs it inside
the host's command envelope (``Host.run_command``: network, counters, a dropped connection), so the
dependency points one way, from here down to ``lab.host``, and the host model knows no primitive.
"""

from __future__ import annotations

# Importing the modules registers them.
from lab.primitives import (
    autoupdater,
    download,
    files,
    hostinfo,
    msi,
    products,
    programs,
    restart,
    server,
    sessions,
    usertasks,
)
from lab.primitives.core import REGISTRY, PrimitiveContext, PrimitiveFailure, primitive

__all__ = [
    "REGISTRY",
    "PrimitiveContext",
    "PrimitiveFailure",
    "autoupdater",
    "download",
    "files",
    "hostinfo",
    "msi",
    "primitive",
    "products",
    "programs",
    "restart",
    "server",
    "sessions",
    "usertasks",
]
