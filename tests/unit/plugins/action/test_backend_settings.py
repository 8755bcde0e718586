"""backend_settings through its run(): what reaches the backend, idempotency, check mode, refusals."""

from __future__ import annotations

import typing as t
import urllib.error

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import backend_settings
from tests.unit.plugins.action.fakebackend import TOKEN, FakeBackend, options, serve, updating_cluster
from tests.unit.plugins.action.fakehost import action_for


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    served = FakeBackend("9.3.2")
    serve(monkeypatch, served)
    return served


def apply(check_mode: bool = False, diff: bool = False, **settings: t.Any) -> dict[str, t.Any]:
    # No host: the module talks only to the backend, so a host connection must never be needed.
    return action_for(backend_settings, None, options(**settings), check_mode=check_mode, diff=diff).run(task_vars={})


def test_settings_are_applied_then_a_second_run_changes_nothing(backend: FakeBackend) -> None:
    before = dict(backend.settings)
    first = apply(diff=True, update_check_interval="2h", install_attempts=3, max_parallel_syncs=20)
    assert first["changed"] is True
    assert first["changes"] == ["install_attempts", "max_parallel_syncs", "update_check_interval"]
    assert backend.settings == {
        **before,
        "update_check_interval": 7200,
        "install_attempts": 3,
        "max_parallel_syncs": 20,
    }
    assert first["settings"] == backend.settings
    assert first["diff"] == {"before": before, "after": backend.settings}
    assert first["backend_version"] == "9.3.2"
    # Only what differs is sent, in one write.
    assert backend.writes() == [
        ("PATCH", "/settings", {"update_check_interval": 7200, "install_attempts": 3, "max_parallel_syncs": 20})
    ]

    backend.requests.clear()
    second = apply(update_check_interval=7200, install_attempts=3, max_parallel_syncs=20)
    assert (second["changed"], second["changes"]) == (False, [])
    assert backend.writes() == []


def test_zero_lifts_the_throttle(backend: FakeBackend) -> None:
    apply(max_parallel_syncs=20)
    result = apply(max_parallel_syncs=0)
    assert result["changes"] == ["max_parallel_syncs"]
    assert backend.settings["max_parallel_syncs"] is None
    assert backend.throttle.limit is None


def test_check_mode_predicts_and_writes_nothing(backend: FakeBackend) -> None:
    before = dict(backend.settings)
    result = apply(check_mode=True, diff=True, error_interval="1d")
    assert result["changed"] is True
    assert result["settings"] == {**before, "error_interval": 86400}
    assert result["diff"]["after"]["error_interval"] == 86400
    assert backend.writes() == []
    assert backend.settings == before


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("update_check_interval", "4m", "update_check_interval must be from 5m to 30d"),
        ("install_attempts", 0, "install_attempts must be from 1 to 100, got 0"),
        ("error_interval", "1h30m", "error_interval: '1h30m' is not an interval"),
    ],
)
def test_a_bad_value_fails_naming_it_before_any_request(
    backend: FakeBackend, setting: str, value: t.Any, named: str
) -> None:
    # A good value next to the bad one: nothing half-applies.
    result = apply(download_attempts=7, **{setting: value})
    assert result["failed"] is True
    assert named in result["msg"]
    assert backend.requests == []


def test_a_92_backend_refuses_the_throttle_and_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    old = FakeBackend("9.2.4")
    serve(monkeypatch, old)
    result = apply(max_parallel_syncs=10, install_attempts=3)
    assert result["failed"] is True
    assert "max_parallel_syncs: the sync throttle needs backend 9.3 or later" in result["msg"]
    assert "runs 9.2.4" in result["msg"]
    assert old.writes() == []


def test_a_wrong_token_fails_clearly_without_showing_the_token(backend: FakeBackend) -> None:
    result = action_for(
        backend_settings, None, {**options(), "backend_token": "wrong-token-xyz", "install_attempts": 3}
    )
    outcome = result.run(task_vars={})
    assert outcome["failed"] is True
    assert "refused the token (401 Unauthorized)" in outcome["msg"]
    assert "wrong-token-xyz" not in outcome["msg"]
    assert TOKEN not in outcome["msg"]


def test_a_backend_that_does_not_answer_names_its_url(backend: FakeBackend) -> None:
    backend.fail = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    result = apply(install_attempts=3)
    assert result["failed"] is True
    assert "cannot connect to backend https://backend.example:8443: connection refused" in result["msg"]


def test_plain_http_is_refused_unless_allowed_and_then_warned_about(backend: FakeBackend) -> None:
    http = {"backend_url": "http://backend.example:8080"}
    refused = action_for(backend_settings, None, {**options(), **http}).run(task_vars={})
    assert refused["failed"] is True
    assert "set allow_insecure_http=true" in refused["msg"]
    assert backend.requests == []
    allowed = action_for(backend_settings, None, {**options(), **http, "allow_insecure_http": True}).run(task_vars={})
    assert "failed" not in allowed
    assert any("backend_url is plain http" in w for w in allowed["warnings"])


def test_an_unknown_setting_is_refused_by_the_argument_spec(backend: FakeBackend) -> None:
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters"):
        apply(install_retries=3)
    assert backend.requests == []


def test_no_setting_is_written_while_the_backend_cluster_is_being_updated(backend: FakeBackend) -> None:
    backend.cluster = updating_cluster(2, 3)
    result = apply(install_attempts=3)
    assert result["failed"] is True
    assert result["msg"].startswith("the backend cluster backend is being updated (2 of 3 servers updated);")
    assert backend.writes() == []
    assert backend.requests == [("GET", "/info", None)]


def test_allow_during_cluster_update_writes_with_a_warning_and_reads_info_once(backend: FakeBackend) -> None:
    backend.cluster = updating_cluster(1, 2)
    result = apply(install_attempts=3, allow_during_cluster_update=True)
    assert result["changed"] is True
    assert backend.settings["install_attempts"] == 3
    assert any("may be lost when the server reconnects to production" in w for w in result["warnings"])
    assert [r for r in backend.requests if r[1] == "/info"] == [("GET", "/info", None)]


def test_an_unreadable_cluster_answer_writes_nothing(backend: FakeBackend) -> None:
    backend.cluster = {"name": "backend", "update_in_progress": "yes"}
    result = apply(install_attempts=3)
    assert result["failed"] is True
    assert "update_in_progress is not true or false" in result["msg"]
    assert backend.writes() == []
