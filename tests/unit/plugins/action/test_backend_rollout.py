"""backend_rollout through its run(): define, publish, gate, pause; idempotency, check mode, diff, refusals."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import backend_rollout
from tests.unit.plugins.action.fakebackend import FakeBackend, options, serve, updating_cluster
from tests.unit.plugins.action.fakehost import action_for

RINGS = [{"name": "pilot", "clients": ["PC0001\\ann"]}, {"name": "everyone", "clients": ["PC0002\\ben", "PC0003"]}]


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    served = FakeBackend("9.3.2")
    serve(monkeypatch, served)
    return served


def rollout(check_mode: bool = False, diff: bool = False, **args: t.Any) -> dict[str, t.Any]:
    return action_for(backend_rollout, None, options(**args), check_mode=check_mode, diff=diff).run(task_vars={})


def test_define_and_publish_then_again_changes_nothing(backend: FakeBackend) -> None:
    first = rollout(version="9.4.0", rings=RINGS, publish="pilot", diff=True)
    assert first["changed"] is True, first
    assert first["steps"] == ["define", "publish pilot"]
    assert first["state"] == "running"
    assert first["rollout"]["rings"][0]["published_at"] == "2026-01-01T10:00:00Z"
    assert first["diff"]["before"]["state"] == "none"
    assert first["diff"]["after"]["rings"][0] == {
        "name": "pilot",
        "clients": ["PC0001\\ann"],
        "published": True,
        "gate": None,
    }
    assert backend.rollouts.visible_version("stable", "pc0001\\ANN") == "9.4.0"
    assert [p["name"] for p in first["progress"]] == ["pilot", "everyone"]
    writes = len(backend.writes())
    again = rollout(version="9.4.0", rings=RINGS, publish="pilot")
    assert (again["changed"], again["steps"]) == (False, [])
    assert len(backend.writes()) == writes


def test_gate_and_publish_move_on_and_the_last_gate_finishes(backend: FakeBackend) -> None:
    rollout(version="9.4.0", rings=RINGS, publish="pilot")
    moved = rollout(gate={"ring": "pilot", "passed": True, "reason": "all adopted"}, publish="everyone")
    assert moved["steps"] == ["gate pilot passed", "publish everyone"]
    assert moved["rollout"]["rings"][0]["gate"]["reason"] == "all adopted"
    done = rollout(gate={"ring": "everyone", "passed": True})
    assert (done["changed"], done["state"]) == (True, "finished")
    assert backend.channels["stable"] == "9.4.0"
    assert rollout(gate={"ring": "everyone", "passed": True})["changed"] is False


def test_check_mode_predicts_and_sends_nothing(backend: FakeBackend) -> None:
    result = rollout(check_mode=True, diff=True, version="9.4.0", rings=RINGS, publish="pilot")
    assert (result["changed"], result["steps"], result["state"]) == (True, ["define", "publish pilot"], "running")
    assert result["rollout"]["rings"][0]["published"] is True
    assert backend.writes() == []
    assert backend.rollouts.current is None
    refused = rollout(check_mode=True, version="9.4.0", rings=RINGS, gate={"ring": "pilot", "passed": True})
    assert refused["failed"] is True
    assert "not published yet" in refused["msg"]


def test_pause_and_resume(backend: FakeBackend) -> None:
    rollout(version="9.4.0", rings=RINGS, publish="pilot")
    paused = rollout(state="paused")
    assert (paused["changed"], paused["state"]) == (True, "paused")
    assert backend.rollouts.visible_version("stable", "PC0001\\ann") is None
    assert rollout(state="paused")["changed"] is False
    refused = rollout(publish="everyone")
    assert refused["failed"] is True
    assert "paused" in refused["msg"]
    assert rollout(state="running")["state"] == "running"


def test_a_failed_gate_stops(backend: FakeBackend) -> None:
    rollout(version="9.4.0", rings=RINGS, publish="pilot")
    stopped = rollout(gate={"ring": "pilot", "passed": False, "reason": "crash at start"})
    assert stopped["state"] == "stopped"
    assert "crash at start" in stopped["rollout"]["note"]
    assert rollout(state="running")["failed"] is True


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("version", ["9.3.1", "9.3.0"])
def test_a_version_the_channel_offers_is_not_an_update(backend: FakeBackend, check_mode: bool, version: str) -> None:
    result = rollout(check_mode=check_mode, version=version, rings=RINGS)
    assert result["failed"] is True
    assert "a customizing change without a version change is not an update" in result["msg"]
    assert "the auto-updater installs only a newer version" in result["msg"]
    assert backend.writes() == []


def test_the_backend_refuses_a_version_without_packages(backend: FakeBackend) -> None:
    result = rollout(version="9.5.0", rings=RINGS)
    assert result["failed"] is True
    assert "no package of version 9.5.0" in result["msg"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"version": "9.4.0"}, "version and rings go together"),
        ({}, "nothing to do"),
        ({"version": "9.4", "rings": RINGS}, "version must look like 9.3.2"),
        ({"version": "9.4.0", "rings": []}, "at least one ring"),
        (
            {"version": "9.4.0", "rings": [{"name": "a", "clients": ["PC1"]}, {"name": "b", "clients": ["pc1"]}]},
            "is in ring 'a' and again in ring 'b'",
        ),
        ({"version": "9.4.0", "rings": [{"name": "bad name"}]}, "not a ring name"),
        ({"state": "paused", "publish": "pilot"}, "contradict"),
        ({"gate": {"ring": "pilot", "passed": False}, "publish": "everyone"}, "stops the rollout"),
        ({"state": "paused", "criterion_percent": 0}, "criterion_percent"),
    ],
)
def test_bad_options_are_refused_before_any_request(backend: FakeBackend, args: dict[str, t.Any], named: str) -> None:
    result = rollout(**args)
    assert result["failed"] is True
    assert named in result["msg"]
    assert backend.requests == []


def test_nothing_defined_yet(backend: FakeBackend) -> None:
    result = rollout(publish="pilot")
    assert result["failed"] is True
    assert "no rollout is defined" in result["msg"]


def test_writes_wait_for_a_cluster_update(backend: FakeBackend) -> None:
    backend.cluster = updating_cluster()
    refused = rollout(version="9.4.0", rings=RINGS)
    assert refused["failed"] is True
    assert "allow_during_cluster_update" in refused["msg"]
    assert backend.writes() == []
    allowed = rollout(version="9.4.0", rings=RINGS, allow_during_cluster_update=True)
    assert allowed["changed"] is True
    assert any("may be lost" in w for w in allowed["warnings"])
