"""Simulated time shared by every host of a fleet.

Simulated time runs ``time_scale`` times faster than real time, so a 40-minute
install window can be rehearsed in seconds. It is derived from one real
monotonic reference instead of being advanced by a ticking task: with 1,000
hosts on one event loop, nothing should run just to keep time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Simulated wall clock and monotonic clock; ``sleep`` waits real time scaled down."""

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.time_scale = float(time_scale)
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._real_origin = time.monotonic()
        self._offset = 0.0  # simulated seconds added by advance(): lets tests jump without waiting

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made (never goes backwards)."""
        return (time.monotonic() - self._real_origin) * self.time_scale + self._offset

    def now(self) -> datetime:
        """Simulated current time, timezone-aware UTC."""
        return self._start + timedelta(seconds=self.monotonic())

    def advance(self, sim_seconds: float) -> None:
        """Jump simulated time forward (tests; an operator skipping a soak time). Sleepers notice on wake-up."""
        if sim_seconds < 0:
            raise ValueError("the clock cannot go backwards")
        self._offset += sim_seconds

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep ``sim_seconds`` of simulated time (real ``sim_seconds / time_scale``), honouring ``advance``."""
        deadline = self.monotonic() + max(0.0, sim_seconds)
        while True:
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                return
            # Wake at least every 0.5 real seconds so a concurrent advance() shortens the wait.
            await asyncio.sleep(min(remaining / self.time_scale, 0.5))
