"""Behaviour of the reference backend that the contract alone does not pin down."""

from __future__ import annotations

import asyncio
import hashlib
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lab.backend import BackendServer
from lab.backend.state import Slot, Throttle, Wait
from lab.fleet import FleetThread
from lab.testing import start_test_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, msi_packages: dict[str, t.Any]) -> Iterator[FleetThread]:
    packages = Path(next(iter(msi_packages.values()))["dir"]).parent
    running = start_test_fleet(
        tmp_path_factory.mktemp("backend"), clients=1, servers=0, backend=True, backend_packages=packages
    )
    try:
        yield running
    finally:
        running.stop()


class Api:
    def __init__(self, server: BackendServer, token: str | None) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, **kwargs: t.Any) -> requests.Response:
        return requests.request(
            method,
            self.server.api_url + path,
            headers=self.headers,
            verify=str(self.server.ca_path),
            timeout=10,
            **kwargs,
        )


@pytest.fixture(scope="module")
def server(fleet: FleetThread) -> BackendServer:
    return fleet.fleet.backend


def test_inventory_names_url_token_and_ca(fleet: FleetThread, server: BackendServer) -> None:
    variables = fleet.fleet.inventory()["all"]["vars"]
    assert variables["rollout_backend_url"] == server.url
    assert variables["rollout_backend_url"].startswith("https://127.0.0.1:")
    assert variables["rollout_backend_token"] == server.config.admin_token
    assert variables["rollout_backend_ca_path"] == str(fleet.fleet.ca.ca_path)


def test_tokens_reads_and_writes(server: BackendServer) -> None:
    anonymous, admin = Api(server, None), Api(server, server.config.admin_token)
    client, wrong = Api(server, server.config.client_token), Api(server, "nope")
    assert anonymous("GET", "/settings").status_code == 200
    denied = wrong("GET", "/settings")  # a wrong token is refused even where none is needed
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert denied.json()["code"] == "unauthorized"
    assert anonymous("PATCH", "/settings", json={}).status_code == 401
    forbidden = client("PATCH", "/settings", json={"install_attempts": 4})
    assert forbidden.status_code == 403
    assert "admin token" in forbidden.json()["message"]
    assert admin("PATCH", "/settings", json={"install_attempts": 4}).json()["install_attempts"] == 4
    assert anonymous("GET", "/sessions").status_code == 401  # user names are not public


def test_invalid_settings_change_nothing_and_name_the_field(server: BackendServer) -> None:
    admin = Api(server, server.config.admin_token)
    before = admin("GET", "/settings").json()
    answer = admin("PATCH", "/settings", json={"download_attempts": 3, "error_interval": 59})
    assert answer.status_code == 422
    assert answer.json() == {
        "code": "invalid",
        "field": "error_interval",
        "message": "error_interval must be between 60 and 604800, got 59",
    }
    assert admin("GET", "/settings").json() == before
    assert admin("PATCH", "/settings", data=b"{not json").json()["code"] == "bad_request"
    assert admin("GET", "/sessions", params={"stat": "all"}).json()["field"] == "stat"


def test_backend_92_has_no_throttle(tmp_path: Path) -> None:
    old = start_test_fleet(tmp_path, clients=1, servers=0, backend=True, backend_version="9.2.4")
    try:
        api = Api(old.fleet.backend, old.fleet.backend.config.admin_token)
        assert "sync_throttle" not in api("GET", "/info").json()["features"]
        assert api("GET", "/sync-slots").json()["code"] == "feature_unavailable"
        refused = api("PATCH", "/settings", json={"max_parallel_syncs": 5})
        assert refused.status_code == 422
        assert refused.json()["code"] == "feature_unavailable"
        assert "needs backend 9.3 or later" in refused.json()["message"]
    finally:
        old.stop()


def test_releases_list_the_built_packages_with_their_sha256(server: BackendServer) -> None:
    api = Api(server, None)
    (stable,) = api("GET", "/releases").json()["releases"]
    assert (stable["channel"], stable["version"]) == ("stable", "9.3.1")
    assert {p["variant"] for p in stable["packages"]} == {"machine", "user"}
    for package in stable["packages"]:
        for item in [package["msi"], *package["payload"]]:
            data = requests.get(item["url"], verify=str(server.ca_path), timeout=10).content
            assert hashlib.sha256(data).hexdigest() == item["sha256"]
            assert len(data) == item["size"]
    assert api("GET", "/releases/nightly").status_code == 404


# ---- throttle logic on a hand-driven clock --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_queue_is_first_come_and_a_slot_waits_for_its_client() -> None:
    clock = Clock()
    throttle = Throttle(lease_seconds=30, clock=clock)
    throttle.set_limit(1)
    first = throttle.acquire("a")
    assert isinstance(first, Slot)
    waits = [throttle.acquire(name) for name in ("b", "c")]
    assert [w.queue_position for w in waits if isinstance(w, Wait)] == [1, 2]
    throttle.release(first.slot_id)
    # b is away: its slot is set aside for it, c (and a newcomer) still wait.
    assert isinstance(throttle.acquire("c"), Wait)
    assert isinstance(throttle.acquire("d"), Wait)
    assert isinstance(throttle.acquire("b"), Slot)
    assert throttle.usage()["in_use"] == 1
    assert throttle.peak == 1


def test_a_queued_client_that_never_comes_back_loses_its_place() -> None:
    clock = Clock()
    throttle = Throttle(lease_seconds=30, clock=clock)
    throttle.set_limit(1)
    held = throttle.acquire("a")
    assert isinstance(held, Slot)
    gone = throttle.acquire("gone")
    assert isinstance(gone, Wait)
    assert isinstance(throttle.acquire("next"), Wait)
    throttle.release(held.slot_id)  # set aside for "gone", which never asks again
    clock.now += gone.retry_after + 6
    throttle.sweep()
    assert isinstance(throttle.acquire("next"), Slot)
    assert throttle.expired_total == 1


def test_raising_the_limit_serves_the_queue_at_once() -> None:
    throttle = Throttle(lease_seconds=30, clock=Clock())
    throttle.set_limit(1)
    throttle.acquire("a")

    async def scenario() -> Slot | Wait:
        waiting = asyncio.ensure_future(throttle.acquire_waiting("b", 5))
        await asyncio.sleep(0)
        throttle.set_limit(2)
        return await waiting

    assert isinstance(asyncio.run(scenario()), Slot)
    assert throttle.peak == 2
