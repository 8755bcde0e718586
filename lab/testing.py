"""Starting a fleet for a test session: on a random free loopback range, so parallel
test sessions and a running ``lab serve`` never collide."""

from __future__ import annotations

import errno
import random
import typing as t
from pathlib import Path

from lab.fleet import FleetThread, start_fleet_in_thread
from lab.fleetconfig import FleetConfig


def start_test_fleet(tmp_dir: Path, attempts: int = 8, **overrides: t.Any) -> FleetThread:
    """A running fleet (4 clients, 1 server, mixed transports unless overridden) in a background thread."""
    last: Exception | None = None
    for _ in range(attempts):
        base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.1"
        config = FleetConfig(
            **{
                "clients": 4,
                "servers": 1,
                "seed": 7,
                "state_dir": tmp_dir / "state",
                "inventory": tmp_dir / "inventory.yml",
                "transport": "mixed",
                "base_address": base,
                "address_mode": "ip",
                **overrides,
            }
        )
        try:
            return start_fleet_in_thread(config)
        except RuntimeError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                last = exc
                continue
            raise
    raise RuntimeError(f"no free loopback range for the test fleet: {last}")
