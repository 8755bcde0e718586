"""The sync throttle of the reference backend under real concurrent HTTPS requests."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from lab.backend import BackendServer
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

CLIENTS = 200
LIMIT = 20
# 200 syncs of at most 0.2 s through 20 slots need about 1 s of slot time; polling clients wait whole
# seconds (Retry-After). Only a guard against a throttle that never grants: how long the run takes
# is printed, not asserted.
BOUND_SECONDS = 600.0


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[tuple[FleetThread, BackendServer]]:
    fleet = start_test_fleet(tmp_path, clients=1, servers=0, backend=True)
    try:
        yield fleet, fleet.fleet.backend
    finally:
        fleet.stop()


class Client:
    """One simulated auto-updater: take a slot (long poll or Retry-After polling), sync, give the slot back."""

    def __init__(self, server: BackendServer, session: aiohttp.ClientSession, name: str, long_poll: bool) -> None:
        self.server = server
        self.session = session
        self.name = name
        self.long_poll = long_poll
        self.headers = {"Authorization": f"Bearer {server.config.client_token}"}
        self.attempts = 0
        self.waited_429 = 0
        self.retry_after_seen: list[int] = []

    async def acquire(self, deadline: float) -> dict[str, t.Any]:
        params = {"wait": "30"} if self.long_poll else {}
        while time.monotonic() < deadline:
            self.attempts += 1
            async with self.session.post(
                self.server.api_url + "/sync-slots", json={"client": self.name}, params=params, headers=self.headers
            ) as response:
                body = await response.json()
                if response.status in (200, 201):
                    return body
                assert response.status == 429, body
                self.waited_429 += 1
                retry_after = int(response.headers["Retry-After"])
                assert retry_after == body["retry_after"] >= 1
                assert body["queue_position"] >= 1
                self.retry_after_seen.append(retry_after)
                if not self.long_poll:
                    await asyncio.sleep(retry_after)
        raise AssertionError(f"{self.name} got no slot before the deadline")

    async def sync(self, holding: list[int], deadline: float, rng: random.Random) -> float:
        slot = await self.acquire(deadline)
        granted = time.monotonic()
        holding[0] += 1
        holding[1] = max(holding[1], holding[0])
        await asyncio.sleep(rng.uniform(0.05, 0.2))
        holding[0] -= 1
        async with self.session.delete(
            self.server.api_url + f"/sync-slots/{slot['slot_id']}", headers=self.headers
        ) as response:
            assert response.status == 204, await response.text()
        return granted


async def _stampede(server: BackendServer) -> dict[str, t.Any]:
    context = ssl.create_default_context(cafile=str(server.ca_path))
    connector = aiohttp.TCPConnector(ssl=context, limit=0)
    timeout = aiohttp.ClientTimeout(total=90)
    rng = random.Random(6)
    holding = [0, 0]  # slots held right now and at most, as the clients see it
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Half wait in the server's queue (long poll), half come back after Retry-After.
        clients = [Client(server, session, f"client-{i:04d}", long_poll=i % 2 == 0) for i in range(CLIENTS)]
        start = time.monotonic()
        deadline = start + BOUND_SECONDS
        granted = await asyncio.gather(*(c.sync(holding, deadline, rng) for c in clients))
        elapsed = time.monotonic() - start
    return {
        "elapsed": elapsed,
        "client_max": holding[1],
        "clients": clients,
        "last_grant": max(granted) - start,
    }


def test_200_clients_never_hold_more_than_20_slots_and_all_sync(backend: tuple[FleetThread, BackendServer]) -> None:
    fleet, server = backend
    fleet.run_sync(lambda: server.backend.settings.update(max_parallel_syncs=LIMIT))
    fleet.run_sync(lambda: server.backend.throttle.set_limit(LIMIT))

    outcome = asyncio.run(_stampede(server))
    usage = fleet.run_sync(server.backend.throttle.usage)

    print(
        f"\nthrottle: {CLIENTS} clients, limit {LIMIT}: peak {usage['peak_in_use']} slots held, "
        f"all synced in {outcome['elapsed']:.2f} s (last grant at {outcome['last_grant']:.2f} s), "
        f"{sum(c.waited_429 for c in outcome['clients'])} answers 429"
    )
    assert usage["peak_in_use"] == LIMIT  # the server's own record: never more, and the limit was reached
    assert outcome["client_max"] <= LIMIT
    assert usage["granted_total"] == usage["released_total"] == CLIENTS
    assert usage["in_use"] == usage["waiting"] == usage["expired_total"] == 0
    # Clients over the limit really waited, both kinds.
    assert any(c.waited_429 for c in outcome["clients"] if not c.long_poll)
    assert all(c.attempts >= 1 for c in outcome["clients"])


def test_a_crashed_client_loses_its_slot_when_the_lease_runs_out(backend: tuple[FleetThread, BackendServer]) -> None:
    fleet, server = backend

    def configure() -> None:
        server.backend.settings.update(max_parallel_syncs=1)
        server.backend.throttle.set_limit(1)
        server.backend.throttle.lease = 1.0

    fleet.run_sync(configure)

    async def scenario() -> tuple[int, int]:
        context = ssl.create_default_context(cafile=str(server.ca_path))
        headers = {"Authorization": f"Bearer {server.config.client_token}"}
        url = server.api_url + "/sync-slots"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            async with session.post(url, json={"client": "crashes"}, headers=headers) as first:
                assert first.status == 201
            async with session.post(url, json={"client": "next"}, headers=headers) as blocked:
                assert blocked.status == 429
            # Waits in the queue: the slot frees only when the crashed client's lease runs out.
            async with session.post(url, json={"client": "next"}, params={"wait": "10"}, headers=headers) as later:
                return blocked.status, later.status

    blocked, later = asyncio.run(scenario())
    # 201 within the long poll, and the server's record says the slot came from the expired lease.
    assert (blocked, later) == (429, 201)
    assert fleet.run_sync(server.backend.throttle.usage)["expired_total"] == 1
