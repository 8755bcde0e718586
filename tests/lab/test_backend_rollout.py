"""The rollout through the auto-updater at the reference backend: tokens, rings, gates, progress, refusals."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lab.backend import BackendServer
from lab.backend.rollout import NOT_AN_UPDATE
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

RINGS = [{"name": "pilot", "clients": ["PC0001\\ann"]}, {"name": "everyone", "clients": ["PC0002\\ben", "PC0003"]}]


@pytest.fixture
def server(tmp_path: Path, msi_packages: dict[str, t.Any]) -> Iterator[BackendServer]:
    packages = Path(next(iter(msi_packages.values()))["dir"]).parent
    fleet: FleetThread = start_test_fleet(tmp_path, clients=1, servers=0, backend=True, backend_packages=packages)
    server = fleet.fleet.backend
    # One version behind the newest package: 9.3.1 is an update.
    fleet.run_sync(lambda: server.backend.channels.update(stable="9.3.0"))
    try:
        yield server
    finally:
        fleet.stop()


class Api:
    def __init__(self, server: BackendServer, token: str | None) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, **kwargs: t.Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        url = self.server.api_url + path
        return requests.request(method, url, headers=headers, verify=str(self.server.ca_path), timeout=10, **kwargs)


def admin(server: BackendServer) -> Api:
    return Api(server, server.config.admin_token)


def client(server: BackendServer) -> Api:
    return Api(server, server.config.client_token)


def seen_by(server: BackendServer, who: str, *, query: bool = False) -> str:
    if query:
        answer = client(server)("GET", "/releases/stable", params={"client": who})
    else:
        answer = client(server)("GET", "/releases/stable", headers={"X-Client": who})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["version"])


def report(server: BackendServer, who: str, version: str, outcome: str) -> None:
    body = {"version": version, "last_check": "2026-01-01T10:00:00Z", "outcome": outcome}
    assert client(server)("PUT", f"/clients/{who}", json=body).status_code == 200


def test_no_rollout_reads_as_none_and_every_write_needs_the_admin_token(server: BackendServer) -> None:
    none = admin(server)("GET", "/rollout")
    assert none.status_code == 200
    assert none.json()["state"] == "none"
    assert none.json()["rings"] == []
    assert none.json()["version"] is None
    assert admin(server)("GET", "/rollout/progress").json()["rings"] == []
    writes = [
        ("PUT", "/rollout", {"version": "9.3.1", "rings": RINGS}),
        ("PATCH", "/rollout", {"state": "paused"}),
        ("POST", "/rollout/rings/pilot/publish", None),
        ("POST", "/rollout/rings/pilot/gate", {"passed": True}),
    ]
    for method, path, body in [*writes, ("GET", "/rollout", None), ("GET", "/rollout/progress", None)]:
        denied = client(server)(method, path, json=body)
        assert (denied.status_code, denied.json()["code"]) == (403, "forbidden"), path
        assert Api(server, None)(method, path, json=body).status_code == 401, path
    assert admin(server)("POST", "/rollout/rings/pilot/publish").status_code == 404
    assert admin(server)("PATCH", "/rollout", json={"state": "paused"}).status_code == 404
    assert seen_by(server, "PC0001\\ann") == "9.3.0"


def test_a_version_the_channel_offers_is_not_an_update(server: BackendServer) -> None:
    for version in ("9.3.0", "9.2.0"):
        refused = admin(server)("PUT", "/rollout", json={"version": version, "rings": RINGS})
        assert refused.status_code == 422
        assert refused.json()["code"] == "not_an_update"
        assert NOT_AN_UPDATE in refused.json()["message"]
        assert "offers 9.3.0" in refused.json()["message"]
    missing = admin(server)("PUT", "/rollout", json={"version": "9.4.0", "rings": RINGS})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    twice = [{"name": "a", "clients": ["PC1"]}, {"name": "b", "clients": ["pc1"]}]
    dup = admin(server)("PUT", "/rollout", json={"version": "9.3.1", "rings": twice})
    assert (dup.status_code, dup.json()["field"]) == (422, "rings")
    assert admin(server)("GET", "/rollout").json()["state"] == "none"


def test_rings_see_the_version_once_published_and_the_channel_moves_at_the_end(server: BackendServer) -> None:
    api = admin(server)
    created = api("PUT", "/rollout", json={"version": "9.3.1", "rings": RINGS, "criterion_percent": 50})
    assert created.status_code == 201
    rollout = created.json()
    assert (rollout["state"], rollout["channel"], rollout["criterion_percent"]) == ("running", "stable", 50)
    assert [r["published_at"] for r in rollout["rings"]] == [None, None]
    kept = api("PUT", "/rollout", json={"version": "9.3.1", "rings": RINGS, "criterion_percent": 50})
    assert (kept.status_code, kept.json()["id"], kept.json()["updated_at"]) == (
        200,
        rollout["id"],
        rollout["updated_at"],
    )
    assert seen_by(server, "PC0001\\ann") == "9.3.0"

    published = api("POST", "/rollout/rings/pilot/publish").json()
    at = published["rings"][0]["published_at"]
    assert at is not None
    assert api("POST", "/rollout/rings/pilot/publish").json()["rings"][0]["published_at"] == at
    assert seen_by(server, "PC0001\\ann") == "9.3.1"
    assert seen_by(server, "pc0001\\ANN", query=True) == "9.3.1"
    assert seen_by(server, "PC0002\\ben") == "9.3.0"
    assert client(server)("GET", "/releases/stable").json()["version"] == "9.3.0"
    assert api("GET", "/releases").json()["releases"][0]["version"] == "9.3.0"
    bad = client(server)("GET", "/releases/stable", headers={"X-Client": "not a client"})
    assert (bad.status_code, bad.json()["field"]) == (422, "client")

    passed = api("POST", "/rollout/rings/pilot/gate", json={"passed": True, "reason": "100% adopted"}).json()
    assert passed["rings"][0]["gate"]["passed_at"] is not None
    assert passed["state"] == "running"
    unpublished = api("POST", "/rollout/rings/everyone/gate", json={"passed": True})
    assert (unpublished.status_code, unpublished.json()["code"]) == (409, "conflict")
    api("POST", "/rollout/rings/everyone/publish")
    assert seen_by(server, "PC0003") == "9.3.1"
    done = api("POST", "/rollout/rings/everyone/gate", json={"passed": True}).json()
    assert done["state"] == "finished"
    assert "stable offers 9.3.1" in done["note"]
    assert client(server)("GET", "/releases/stable").json()["version"] == "9.3.1"
    assert seen_by(server, "PC9999") == "9.3.1"
    again = api("PUT", "/rollout", json={"version": "9.3.1", "rings": RINGS, "criterion_percent": 50})
    assert (again.status_code, again.json()["state"]) == (200, "finished")


def test_pause_hides_the_version_and_a_failed_gate_stops(server: BackendServer) -> None:
    api = admin(server)
    api("PUT", "/rollout", json={"version": "9.3.1", "rings": RINGS})
    api("POST", "/rollout/rings/pilot/publish")
    paused = api("PATCH", "/rollout", json={"state": "paused"})
    assert paused.json()["state"] == "paused"
    assert seen_by(server, "PC0001\\ann") == "9.3.0"
    refused = api("POST", "/rollout/rings/everyone/publish")
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")
    assert api("PATCH", "/rollout", json={"state": "running"}).json()["state"] == "running"
    assert seen_by(server, "PC0001\\ann") == "9.3.1"
    assert api("PATCH", "/rollout", json={"state": "finished"}).status_code == 422
    stopped = api("POST", "/rollout/rings/pilot/gate", json={"passed": False, "reason": "crash at start"}).json()
    assert stopped["state"] == "stopped"
    assert stopped["rings"][0]["gate"]["stopped_at"] is not None
    assert stopped["rings"][0]["gate"]["reason"] == "crash at start"
    assert "crash at start" in stopped["note"]
    assert seen_by(server, "PC0001\\ann") == "9.3.0"
    assert api("PATCH", "/rollout", json={"state": "running"}).status_code == 409
    assert api("POST", "/rollout/rings/pilot/publish").status_code == 409
    assert client(server)("GET", "/releases/stable").json()["version"] == "9.3.0"


def test_progress_per_ring_from_the_clients_reports(server: BackendServer) -> None:
    api = admin(server)
    rings = [
        {"name": "pilot", "clients": ["PC1\\a", "PC2\\b", "PC3\\c", "PC4\\d"]},
        {"name": "rest", "clients": ["PC5"]},
    ]
    api("PUT", "/rollout", json={"version": "9.3.1", "rings": rings, "criterion_percent": 25})
    report(server, "PC1\\a", "9.3.0", "no_update")  # before the publish: not a report about 9.3.1
    before = api("GET", "/rollout/progress").json()
    assert before["rings"][0]["pending"] == ["PC1\\a"]
    assert before["rings"][0]["not_reporting"] == ["PC2\\b", "PC3\\c", "PC4\\d"]
    api("POST", "/rollout/rings/pilot/publish")
    report(server, "pc1\\A", "9.3.1", "installed")
    report(server, "PC2\\b", "9.3.0", "error")
    report(server, "PC3\\c", "9.3.0", "apps_running")
    progress = api("GET", "/rollout/progress").json()
    assert (progress["version"], progress["state"], progress["criterion_percent"]) == ("9.3.1", "running", 25)
    pilot, rest = progress["rings"]
    assert pilot["adopted"] == ["PC1\\a"]
    assert pilot["failed"] == ["PC2\\b"]
    assert pilot["pending"] == ["PC3\\c"]
    assert pilot["not_reporting"] == ["PC4\\d"]
    assert (pilot["percent_adopted"], pilot["criterion_met"]) == (25.0, True)
    assert pilot["published_at"] is not None
    assert pilot["clients"] == rings[0]["clients"]
    assert (rest["published_at"], rest["not_reporting"], rest["percent_adopted"]) == (None, ["PC5"], 0.0)


def test_a_computer_entry_holds_every_user_of_that_computer(server: BackendServer) -> None:
    api = admin(server)
    rings = [{"name": "pilot", "clients": ["CLIENT-0001", "CLIENT-0002"]}, {"name": "rest", "clients": ["PC9\\z"]}]
    assert api("PUT", "/rollout", json={"version": "9.3.1", "rings": rings}).status_code == 201
    api("POST", "/rollout/rings/pilot/publish")
    # The updater reports COMPUTER\user, in the case Windows gave it: matched case-insensitively.
    assert seen_by(server, "client-0001\\ann") == "9.3.1"
    assert seen_by(server, "CLIENT-00010\\ann") == "9.3.0"
    report(server, "client-0001\\ann", "9.3.1", "installed")
    report(server, "client-0001\\ben", "9.3.0", "apps_running")
    pilot = api("GET", "/rollout/progress").json()["rings"][0]
    assert pilot["clients"] == ["CLIENT-0001", "CLIENT-0002"]
    assert (pilot["adopted"], pilot["pending"]) == (["client-0001\\ann"], ["client-0001\\ben"])
    # A computer none of whose users reported yet counts once, as not reporting.
    assert (pilot["not_reporting"], pilot["percent_adopted"]) == (["CLIENT-0002"], 33.3)
    overlap = [{"name": "a", "clients": ["PC1"]}, {"name": "b", "clients": ["pc1\\ann"]}]
    refused = api("PUT", "/rollout", json={"version": "9.3.1", "rings": overlap})
    assert (refused.status_code, refused.json()["field"]) == (422, "rings")
