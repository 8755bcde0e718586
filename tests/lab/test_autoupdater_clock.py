"""Clock.call_at: callbacks at simulated times, in virtual and in scaled real time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from lab.clock import Clock

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_virtual_callbacks_run_in_time_order_at_their_own_time() -> None:
    clock = Clock(start=START, virtual=True)
    seen: list[tuple[str, float]] = []
    clock.call_at(30, lambda: seen.append(("b", clock.monotonic())))
    clock.call_at(10, lambda: seen.append(("a", clock.monotonic())))
    dropped = clock.call_later(20, lambda: seen.append(("x", clock.monotonic())))
    dropped.cancel()
    assert clock.pending() == 2

    asyncio.run(clock.sleep(100))
    assert seen == [("a", 10.0), ("b", 30.0)]
    assert clock.monotonic() == 100
    assert clock.pending() == 0


def test_virtual_callbacks_interleave_with_sleepers_and_chain() -> None:
    clock = Clock(start=START, virtual=True)
    seen: list[str] = []

    def tick(n: int) -> None:
        seen.append(f"tick{n}@{clock.monotonic():g}")
        if n < 3:
            clock.call_later(10, lambda: tick(n + 1))

    async def sleeper() -> None:
        await clock.sleep(15)
        seen.append(f"sleeper@{clock.monotonic():g}")

    async def main() -> None:
        clock.call_later(10, lambda: tick(1))
        await asyncio.gather(sleeper(), clock.sleep(100))

    asyncio.run(main())
    assert seen == ["tick1@10", "sleeper@15", "tick2@20", "tick3@30"]


def test_held_clock_does_not_move_during_real_work() -> None:
    clock = Clock(start=START, virtual=True)
    seen: list[float] = []

    async def request() -> None:
        with clock.hold():
            await asyncio.sleep(0.05)  # real I/O: no simulated time passes meanwhile
            seen.append(clock.monotonic())

    async def main() -> None:
        clock.call_at(5, lambda: asyncio.ensure_future(request()))
        await clock.sleep(1000)

    asyncio.run(main())
    assert seen == [5.0]


def test_advance_runs_due_callbacks_in_virtual_mode() -> None:
    clock = Clock(start=START, virtual=True)
    seen: list[float] = []
    clock.call_at(50, lambda: seen.append(clock.monotonic()))
    clock.call_at(500, lambda: seen.append(clock.monotonic()))
    clock.advance(100)
    assert seen == [50.0]
    assert clock.monotonic() == 100


def test_real_mode_is_scaled_and_honours_advance() -> None:
    clock = Clock(time_scale=1000.0, start=START)

    async def main() -> list[str]:
        seen: list[str] = []
        clock.call_later(50, lambda: seen.append("scaled"))  # 50 ms real
        clock.call_later(86400, lambda: seen.append("advanced"))  # a day: only advance() brings it
        await asyncio.sleep(0.2)
        assert seen == ["scaled"]
        clock.advance(86400)
        await asyncio.sleep(0.05)
        return seen

    assert asyncio.run(main()) == ["scaled", "advanced"]
    assert clock.pending() == 0
