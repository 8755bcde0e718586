"""update_lock through its run(): the lock's states, idempotency, check mode, who works, refusals."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import update_lock
from tests.unit.plugins.action.fakebackend import FakeBackend, options, serve, updating_cluster
from tests.unit.plugins.action.fakehost import action_for


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    served = FakeBackend("9.3.2")
    serve(monkeypatch, served)
    return served


def lock(check_mode: bool = False, diff: bool = False, **args: t.Any) -> dict[str, t.Any]:
    return action_for(update_lock, None, options(**args), check_mode=check_mode, diff=diff).run(task_vars={})


def puts(backend: FakeBackend) -> list[t.Any]:
    return [body for method, path, body in backend.requests if (method, path) == ("PUT", "/update-lock")]


def test_announce_then_again_changes_nothing(backend: FakeBackend) -> None:
    first = lock(state="announced", message="Update at 18:00", diff=True)
    assert first["changed"] is True
    assert (first["previous_state"], first["state"], first["message"]) == ("released", "announced", "Update at 18:00")
    assert first["window_started_at"] == "2026-01-01T10:00:00Z"
    assert first["diff"]["before"] == {"state": "released", "message": None, "override_users": []}
    assert backend.lock.state == "announced"
    again = lock(state="announced", message="Update at 18:00")
    assert again["changed"] is False
    assert len(puts(backend)) == 1


def test_an_option_left_out_keeps_what_the_backend_has(backend: FakeBackend) -> None:
    lock(state="announced", message="Update at 18:00", override_users=["CORP\\admin"])
    locked = lock(state="locked")
    assert (locked["message"], locked["override_users"]) == ("Update at 18:00", ["CORP\\admin"])
    assert puts(backend)[-1] == {"state": "locked", "message": "Update at 18:00", "override_users": ["CORP\\admin"]}


def test_check_mode_writes_nothing_and_a_window_that_would_start_has_no_start_yet(backend: FakeBackend) -> None:
    result = lock(check_mode=True, state="locked", message="Now")
    assert result["changed"] is True
    assert result["state"] == "locked"
    assert result["window_started_at"] is None
    assert puts(backend) == []
    assert backend.lock.state == "released"


def test_it_reports_who_still_works_and_who_wants_a_restart(backend: FakeBackend) -> None:
    working = backend.sessions.start("pc-0001", "CORP\\ben", False, backend.lock)
    working.restart_after_update = True
    backend.sessions.start("pc-0002", "CORP\\eva", False, backend.lock)
    result = lock(state="announced", message="Please save your work")
    assert result["open_sessions"] == 2
    assert [s["user"] for s in result["sessions"]] == ["CORP\\ben", "CORP\\eva"]
    assert result["restart_requested"] == [
        {"host": "pc-0001", "user": "CORP\\ben", "session_id": working.session_id, "state": "open"}
    ]


def test_release_ends_the_window(backend: FakeBackend) -> None:
    lock(state="locked", message="Now")
    released = lock(state="released")
    assert (released["changed"], released["previous_state"], backend.lock.state) == (True, "locked", "released")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"message": "x" * 1001}, "message has 1001 characters; the backend takes at most 1000"),
        ({"override_users": ["CORP\\ann", "corp\\ANN"]}, "override_users lists a user twice"),
        ({"override_users": ["bad\nname"]}, "is not a user name"),
        ({"override_users": [f"u{i}" for i in range(101)]}, "lists 101 users; the backend takes at most 100"),
    ],
)
def test_a_bad_value_fails_before_any_request(backend: FakeBackend, args: dict[str, t.Any], named: str) -> None:
    result = lock(state="locked", **args)
    assert result["failed"] is True
    assert named in result["msg"]
    assert backend.requests == []


def test_a_state_is_required(backend: FakeBackend) -> None:
    with pytest.raises(AnsibleActionFail, match="missing required arguments: state"):
        lock()
    with pytest.raises(AnsibleActionFail, match="value of state must be one of: released, announced, locked"):
        lock(state="open")
    assert backend.requests == []


def test_no_lock_is_written_while_the_backend_cluster_is_being_updated(backend: FakeBackend) -> None:
    backend.cluster = updating_cluster(1, 3)
    for check_mode in (False, True):
        result = lock(check_mode=check_mode, state="locked", message="Now")
        assert result["failed"] is True
        assert result["msg"] == (
            "the backend cluster backend is being updated (1 of 3 servers updated); a change now would be written "
            "to a server's local database copy and lost when it reconnects to production. Run it after the update, "
            "or set allow_during_cluster_update=true."
        )
    assert backend.writes() == []
    assert {path for _method, path, _body in backend.requests} == {"/info"}


def test_allow_during_cluster_update_writes_and_warns(backend: FakeBackend) -> None:
    backend.cluster = updating_cluster(2, 3)
    result = lock(state="locked", message="Now", allow_during_cluster_update=True)
    assert result["changed"] is True
    assert backend.lock.state == "locked"
    assert any("(2 of 3 servers updated)" in w for w in result["warnings"])


def test_a_cluster_not_being_updated_changes_nothing_about_a_write(backend: FakeBackend) -> None:
    backend.cluster = {**updating_cluster(3, 3), "update_in_progress": False}
    result = lock(state="locked", message="Now")
    assert result["changed"] is True
    assert result["warnings"] == []
