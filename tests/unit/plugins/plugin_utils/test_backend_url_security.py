"""Issue 17: the backend URL cannot leak the admin token (plain http, user info, query strings, ~/.netrc)."""

from __future__ import annotations

import http.server
import threading
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend

TOKEN = "admin-token-7f3e"


def test_plain_http_is_refused_without_the_explicit_option() -> None:
    with pytest.raises(ValueError, match=r"plain http: the admin token would travel unencrypted.*allow_insecure_http"):
        _backend.connection_from({"backend_url": "http://backend:8080", "backend_token": TOKEN}, {})
    with pytest.raises(ValueError, match="plain http"):
        _backend.connection_from({"backend_url": "HTTP://backend:8080"}, {"rollout_backend_allow_insecure_http": "no"})


@pytest.mark.parametrize(
    ("args", "variables"),
    [
        ({"backend_url": "http://backend:8080", "allow_insecure_http": True}, {}),
        ({}, {"rollout_backend_url": "http://backend:8080", "rollout_backend_allow_insecure_http": "true"}),
    ],
)
def test_the_insecure_option_allows_http_and_warns(args: dict[str, t.Any], variables: dict[str, t.Any]) -> None:
    conn = _backend.connection_from(args, variables)
    assert conn.url == "http://backend:8080"
    warnings = _backend.warnings_for(_backend.BackendClient(conn))
    assert warnings == [_backend.INSECURE_HTTP_WARNING]
    assert "unencrypted" in warnings[0]


def test_https_has_no_warning() -> None:
    conn = _backend.connection_from({"backend_url": "https://backend:8443"}, {})
    assert _backend.warnings_for(_backend.BackendClient(conn)) == []


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://admin:Hunter2pw@backend:8443", "Hunter2pw"),
        ("https://Hunter2pw@backend:8443", "Hunter2pw"),
        ("http://admin:Hunter2pw@backend:8080", "Hunter2pw"),
        ("https://backend:8443/?token=Hunter2pw", "Hunter2pw"),
        ("https://backend:8443/#Hunter2pw", "Hunter2pw"),
        ("ftp://admin:Hunter2pw@backend", "Hunter2pw"),
    ],
)
def test_user_info_and_query_tokens_are_refused_and_never_repeated(url: str, secret: str) -> None:
    with pytest.raises(ValueError, match="backend_url") as caught:
        _backend.connection_from({"backend_url": url, "allow_insecure_http": True}, {})
    assert secret not in str(caught.value)
    assert "admin:" not in str(caught.value)
    assert "backend" in str(caught.value)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: t.ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        body = b'{"state": "open", "message": null, "override_users": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


def test_a_netrc_entry_does_not_replace_the_bearer_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible's open_url reads ~/.netrc (or $NETRC) by default and sends Basic auth from it instead.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    _Recorder.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = _backend.connection_from(
            {
                "backend_url": f"http://127.0.0.1:{server.server_port}",
                "backend_token": TOKEN,
                "allow_insecure_http": True,
            },
            {},
        )
        assert _backend.BackendClient(conn).lock()["state"] == "open"
        anonymous = _backend.connection_from(
            {"backend_url": f"http://127.0.0.1:{server.server_port}", "allow_insecure_http": True}, {}
        )
        _backend.BackendClient(anonymous).lock()
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.seen == [f"Bearer {TOKEN}", None]


class _Flood(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"state": "' + b"x" * (64 * 1024) + b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


def test_an_answer_over_the_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backend, "MAX_ANSWER_BYTES", 1024)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    server = http.server.HTTPServer(("127.0.0.1", 0), _Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = _backend.connection_from(
            {"backend_url": f"http://127.0.0.1:{server.server_port}", "allow_insecure_http": True}, {}
        )
        with pytest.raises(_backend.BackendError, match="with more than 1,024 bytes; refused"):
            _backend.BackendClient(conn).lock()
    finally:
        server.shutdown()
        server.server_close()
