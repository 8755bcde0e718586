"""backend_info through its run(): what it reports, that it only reads, and how a bad backend fails."""

from __future__ import annotations

import typing as t
import urllib.error

import pytest

from ansible_collections.rollout.windows.plugins.action import backend_info
from tests.unit.plugins.action.fakebackend import FakeBackend, options, serve
from tests.unit.plugins.action.fakehost import action_for


def info(check_mode: bool = False, **more: t.Any) -> dict[str, t.Any]:
    return action_for(backend_info, None, options(**more), check_mode=check_mode).run(task_vars={})


def test_a_93_backend_reports_version_features_settings_throttle_and_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend("9.3.2")
    serve(monkeypatch, backend)
    result = info()
    assert result["changed"] is False
    assert (result["version"], result["api_version"]) == ("9.3.2", "1")
    assert "sync_throttle" in result["features"]
    assert result["settings"] == backend.settings
    assert result["throttle"]["max_parallel_syncs"] is None
    assert result["releases"] == [{"channel": "stable", "version": "9.3.1"}]
    assert result["update_lock"]["state"] == "released"
    assert backend.writes() == []


def test_a_92_backend_has_no_throttle_and_that_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend("9.2.4")
    serve(monkeypatch, backend)
    result = info()
    assert "failed" not in result
    assert result["throttle"] is None
    assert "max_parallel_syncs" not in result["settings"]
    assert ("GET", "/sync-slots", None) not in backend.requests


def test_check_mode_reports_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, FakeBackend())
    assert info(check_mode=True) == info()


def test_a_backend_that_refuses_the_connection_fails_naming_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend()
    backend.fail = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    serve(monkeypatch, backend)
    result = info()
    assert result["failed"] is True
    assert "cannot connect to backend https://backend.example:8443: connection refused" in result["msg"]


def test_without_a_url_it_says_which_option_or_variable_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend()
    serve(monkeypatch, backend)
    result = action_for(backend_info, None, {}).run(task_vars={})
    assert result["failed"] is True
    assert "backend_url is required" in result["msg"]
    assert backend.requests == []
