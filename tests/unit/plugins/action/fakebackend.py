"""A backend for the backend modules' unit tests: an ``open_url`` stand-in that keeps state.

The FakeOpener of tests/unit/plugins/plugin_utils/test_backend.py answers one canned reply; the
modules read, compare and write, so this one remembers what was written. Its defaults, validation and
record shapes are the lab backend's own (``lab.backend.state``), so a module test sees what the lab
backend would answer without an HTTP server. :func:`serve` puts it behind every ``BackendClient`` the
actions make, whatever builds the client.
"""

from __future__ import annotations

import io
import json
import typing as t
import urllib.error
import urllib.parse

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from lab.backend import state
from lab.backend.rollout import Rollouts

URL = "https://backend.example:8443"
TOKEN = "admin-token-0123456789"
API = "/api/v1"


class FakeBackend:
    """A backend of ``version`` with default settings, a released lock and no sessions; records requests."""

    def __init__(self, version: str = "9.3.2") -> None:
        self.version = version
        self.settings = state.default_settings(version)
        self.lock = state.Lock()
        self.sessions = state.Sessions(wall=lambda: 1_767_261_600.0)  # 2026-01-01T10:00:00Z
        self.throttle = state.Throttle(lease_seconds=600)
        self.requests: list[tuple[str, str, t.Any]] = []
        self.fail: urllib.error.URLError | None = None
        # GET /info's cluster object (the lab backend's Cluster.info() shape) when set; a lone backend has none.
        self.cluster: dict[str, t.Any] | None = None
        # The rollout through the auto-updater: the lab backend's own rules, over a channel one version behind.
        self.channels = {"stable": "9.3.1"}
        self.clients = state.Clients(wall=self.sessions.wall)
        self.rollouts = Rollouts(self.channels, {"9.3.0", "9.3.1", "9.4.0"}, wall=self.sessions.wall)

    def writes(self) -> list[tuple[str, str, t.Any]]:
        return [r for r in self.requests if r[0] != "GET"]

    def __call__(self, url: str, *, data: bytes | None = None, method: str = "GET", **kw: t.Any) -> io.BytesIO:
        parsed = urllib.parse.urlsplit(url)
        path = parsed.path.removeprefix(API)
        body = json.loads(data) if data else None
        self.requests.append((method, path, body))
        if self.fail is not None:
            raise self.fail
        if kw.get("headers", {}).get("Authorization") != f"Bearer {TOKEN}":
            raise self._error(401, "unauthorized", "the token is not valid")
        try:
            answer = self._route(method, path, body, urllib.parse.parse_qs(parsed.query))
        except state.ApiError as exc:
            raise self._error(exc.status, exc.code, exc.message) from None
        return io.BytesIO(json.dumps(answer).encode())

    def _route(self, method: str, path: str, body: t.Any, query: dict[str, list[str]]) -> t.Any:
        throttled = state.has_throttle(self.version)
        features = [*state.FEATURES_9_2, *([state.THROTTLE_FEATURE] if throttled else [])]
        routes: dict[tuple[str, str], t.Callable[[], t.Any]] = {
            ("GET", "/info"): lambda: {
                "version": self.version,
                "api_version": "1",
                "features": features,
                **({"cluster": self.cluster} if self.cluster is not None else {}),
            },
            ("GET", "/settings"): lambda: dict(self.settings),
            ("PATCH", "/settings"): lambda: self._patch(body),
            ("GET", "/sync-slots"): self.throttle.usage,
            ("GET", "/releases"): lambda: {
                "releases": [{"channel": c, "version": v} for c, v in self.channels.items()]
            },
            ("GET", "/update-lock"): self.lock.public,
            ("PUT", "/update-lock"): lambda: self._set_lock(body),
            ("GET", "/sessions"): lambda: {"sessions": self.sessions.listing(query.get("state", ["open"])[0])},
            ("GET", "/rollout"): self.rollouts.public,
            ("PUT", "/rollout"): lambda: self._rollout(self.rollouts.define, body),
            ("PATCH", "/rollout"): lambda: self._rollout(self.rollouts.set_state, body),
            ("GET", "/rollout/progress"): lambda: self.rollouts.progress(self.clients),
        }
        ring, _sep, step = path.removeprefix("/rollout/rings/").partition("/")
        if method == "POST" and path.startswith("/rollout/rings/") and step == "publish":
            return self._rollout(self.rollouts.publish, urllib.parse.unquote(ring))
        if method == "POST" and path.startswith("/rollout/rings/") and step == "gate":
            return self._rollout(lambda data: self.rollouts.gate(urllib.parse.unquote(ring), data), body)
        handler = routes.get((method, path))
        if handler is None:
            raise state.ApiError(404, "not_found", f"no such route: {method} {path}")
        return handler()

    def _patch(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        self.settings.update(state.validate_settings_update(body, self.version))
        if "max_parallel_syncs" in body:
            self.throttle.set_limit(self.settings["max_parallel_syncs"])
        return dict(self.settings)

    def _set_lock(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        lock = self.lock
        wanted = (body["state"], body["message"], list(body["override_users"]))
        if wanted != (lock.state, lock.message, lock.override_users):
            now = self.sessions.wall()
            if lock.state == "released" and body["state"] != "released":
                lock.window_started_at = now
            lock.state, lock.message, lock.override_users, lock.changed_at = (*wanted, now)
        return lock.public()

    def _rollout(self, change: t.Callable[[t.Any], object], argument: t.Any) -> dict[str, t.Any]:
        change(argument)
        return self.rollouts.public()

    @staticmethod
    def _error(status: int, code: str, message: str) -> urllib.error.HTTPError:
        payload = io.BytesIO(json.dumps({"code": code, "message": message}).encode())
        return urllib.error.HTTPError(URL, status, code, None, payload)  # type: ignore[arg-type]


def serve(monkeypatch: pytest.MonkeyPatch, backend: FakeBackend) -> None:
    """Every BackendClient made from now on talks to ``backend`` instead of the network."""
    original = _backend.BackendClient.__init__

    def init(self: _backend.BackendClient, conn: _backend.Connection, *args: t.Any, **kwargs: t.Any) -> None:
        original(self, conn, backend)

    monkeypatch.setattr(_backend.BackendClient, "__init__", init)


def updating_cluster(updated: int = 1, total: int = 3) -> dict[str, t.Any]:
    """GET /info's cluster while ``updated`` of ``total`` servers run the new version in update mode."""
    members = [
        {
            "name": f"SRV{i}",
            "version": "9.3.0" if i <= updated else "9.2.0",
            "mode": "update" if i <= updated else "production",
        }
        for i in range(1, total + 1)
    ]
    return {"name": "backend", "members": members, "update_in_progress": True, "updated": updated, "total": total}


def options(**more: t.Any) -> dict[str, t.Any]:
    """A task's connection options for the fake backend, and ``more``."""
    return {"backend_url": URL, "backend_token": TOKEN, **more}
