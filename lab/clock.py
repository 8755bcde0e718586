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

# Rounds of the event loop a virtual sleeper lets pass before it moves the clock: enough for a task
# that was just started to reach its own first sleep.
VIRTUAL_YIELDS = 5


class Clock:
    """Simulated wall clock and monotonic clock; ``sleep`` waits real time scaled down."""

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None, *, virtual: bool = False) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.time_scale = float(time_scale)
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._real_origin = time.monotonic()
        self._offset = 0.0  # simulated seconds added by advance(): lets tests jump without waiting
        # Virtual: real time never moves the clock; advance() and sleep() do. Host-model tests use it so
        # that what they assert ("still down", "still installing") cannot pass by while the machine is busy.
        self.virtual = virtual
        self._sleepers: list[float] = []

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made (never goes backwards)."""
        if self.virtual:
            return self._offset
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
        if self.virtual:
            await self._sleep_virtual(deadline)
            return
        while True:
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                return
            # Wake at least every 0.5 real seconds so a concurrent advance() shortens the wait.
            await asyncio.sleep(min(remaining / self.time_scale, 0.5))

    async def _sleep_virtual(self, deadline: float) -> None:
        """Virtual time jumps to the earliest sleeper's deadline once the tasks that are ready have run."""
        self._sleepers.append(deadline)
        try:
            while self.monotonic() < deadline:
                for _ in range(VIRTUAL_YIELDS):  # ready tasks run first and register their own sleeps
                    await asyncio.sleep(0)
                if deadline <= min(self._sleepers):
                    self._offset = max(self._offset, deadline)
        finally:
            self._sleepers.remove(deadline)
