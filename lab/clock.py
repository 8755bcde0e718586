"""Simulated time shared by every host of a fleet.

Simulated time runs ``time_scale`` times faster than real time, so a 40-minute
install window can be rehearsed in seconds. It is derived from one real
monotonic reference instead of being advanced by a ticking task: with 1,000
hosts on one event loop, nothing should run just to keep time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

# Rounds of the event loop a virtual sleeper lets pass before it moves the clock: enough for a task
# that was just started to reach its own first sleep.
VIRTUAL_YIELDS = 5


class Timer:
    """A callback scheduled on a :class:`Clock`; ``cancel()`` drops it (it stays in the heap until it is due)."""

    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], object]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


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
        # Callbacks at simulated times, earliest first. One loop timer (real mode) serves all of them, so
        # 1,000 sleeping simulated programs cost 1,000 heap entries and no task each.
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        # Work in flight that virtual time must not jump over (a request to the lab backend): see hold().
        self._holds = 0
        self._idle = asyncio.Event()
        self._idle.set()

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
        target = self._offset + sim_seconds
        if self.virtual:
            self._run_due(target)  # callbacks started here run their async part at the new time
        self._offset = max(self._offset, target)
        if not self.virtual:
            self._arm()

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
        if self.monotonic() >= deadline and not self._holds:
            return  # nothing to wait for (sleep(0)), as before callbacks existed
        self._sleepers.append(deadline)
        try:
            while True:
                for _ in range(VIRTUAL_YIELDS):  # ready tasks run first and register their own sleeps
                    await asyncio.sleep(0)
                if self._holds:
                    # Held work (a callback's request) finishes before time moves on or this sleep ends, so
                    # what was due at the deadline is complete when the sleeper looks. Never sleep while holding.
                    await self._idle.wait()
                    continue
                if self.monotonic() >= deadline:
                    return
                earliest = min(self._sleepers)
                due = self._next_due()
                if due is not None and due <= earliest:
                    self._run_due(due)  # the earliest event is a callback: it goes first, at its own time
                elif deadline <= earliest:
                    self._offset = max(self._offset, deadline)
        finally:
            self._sleepers.remove(deadline)

    async def settle(self, rounds: int = 50) -> None:
        """Virtual mode: let work that is ready run at this instant; nobody's sleep jumps time meanwhile."""
        now = self.monotonic()
        self._sleepers.append(now)
        try:
            for _ in range(rounds):
                await asyncio.sleep(0)
        finally:
            self._sleepers.remove(now)

    # -- callbacks at simulated times -----------------------------------------------------------------------
    def call_at(self, when: float, fn: Callable[[], object]) -> Timer:
        """Call ``fn()`` when :meth:`monotonic` reaches ``when`` (simulated seconds); returns a cancellable Timer.

        Real mode: one ``loop.call_later`` for the earliest callback, scaled by ``time_scale`` and re-armed on
        :meth:`advance`. Virtual mode: callbacks run when a virtual sleeper (or :meth:`advance`) moves time past
        them, each with the clock standing at its own time. A callback that must do async work starts a task.
        """
        timer = Timer(float(when), fn)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        if not self.virtual:
            self._arm()
        return timer

    def call_later(self, delay: float, fn: Callable[[], object]) -> Timer:
        """:meth:`call_at` ``delay`` simulated seconds from now."""
        return self.call_at(self.monotonic() + max(0.0, delay), fn)

    def pending(self) -> int:
        """Scheduled callbacks not cancelled (tests, the bench)."""
        return sum(1 for _w, _s, timer in self._timers if not timer.cancelled)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Virtual mode: time stands still meanwhile (a real network request runs in no simulated time)."""
        self._holds += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._idle.set()

    def _next_due(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _run_due(self, until: float) -> None:
        """Run every callback due by ``until`` in time order; virtual time stands at each one's time meanwhile."""
        while True:
            due = self._next_due()
            if due is None or due > until:
                return
            _when, _seq, timer = heapq.heappop(self._timers)
            if self.virtual:
                self._offset = max(self._offset, timer.when)
            timer.fn()

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        due = self._next_due()
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop yet (a clock set up before the fleet starts): the next call_at arms it
            return
        self._handle = loop.call_later(max(0.0, (due - self.monotonic()) / self.time_scale), self._fire)

    def _fire(self) -> None:
        self._handle = None
        try:
            self._run_due(self.monotonic())
        finally:
            self._arm()
