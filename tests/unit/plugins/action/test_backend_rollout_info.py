"""backend_rollout_info through its run(): the rollout, the next ring and each ring's progress."""

from __future__ import annotations

import pytest

from ansible_collections.rollout.windows.plugins.action import backend_rollout_info
from tests.unit.plugins.action.fakebackend import FakeBackend, options, serve
from tests.unit.plugins.action.fakehost import action_for

RINGS = [{"name": "pilot", "clients": ["PC1\\a", "PC2\\b"]}, {"name": "rest", "clients": ["PC3"]}]


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    served = FakeBackend("9.3.2")
    serve(monkeypatch, served)
    return served


def info(check_mode: bool = False) -> dict[str, object]:
    return action_for(backend_rollout_info, None, options(), check_mode=check_mode).run(task_vars={})


def test_no_rollout(backend: FakeBackend) -> None:
    result = info()
    assert (result["changed"], result["state"], result["version"], result["next_ring"]) == (False, "none", None, None)
    assert result["progress"] == []


def test_progress_and_next_ring(backend: FakeBackend) -> None:
    backend.rollouts.define({"version": "9.4.0", "rings": RINGS, "criterion_percent": 50})
    backend.rollouts.publish("pilot")
    backend.clients.report("PC1\\a", {"version": "9.4.0", "last_check": "2026-01-01T10:00:00Z", "outcome": "installed"})
    backend.clients.report("PC2\\b", {"version": "9.3.1", "last_check": "2026-01-01T10:00:00Z", "outcome": "error"})
    result = info(check_mode=True)
    assert (result["state"], result["version"], result["next_ring"]) == ("running", "9.4.0", "rest")
    pilot = result["progress"][0]  # type: ignore[index]
    assert (pilot["adopted"], pilot["failed"], pilot["percent_adopted"], pilot["criterion_met"]) == (
        ["PC1\\a"],
        ["PC2\\b"],
        50.0,
        True,
    )
    assert backend.writes() == []
