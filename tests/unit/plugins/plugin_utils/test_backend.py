"""The backend client: interval units, setting limits, connection options and error messages."""

from __future__ import annotations

import io
import ssl
import typing as t
import urllib.error
from pathlib import Path

import pytest
import yaml

from ansible_collections.rollout.windows.plugins.action.update_lock import restart_requests
from ansible_collections.rollout.windows.plugins.plugin_utils import _backend

CONTRACT = Path(__file__).resolve().parents[4] / "docs" / "backend-api.yaml"
TOKEN = "secret-token-abc123"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(3600, 3600), ("3600", 3600), ("90s", 90), ("60m", 3600), ("2h", 7200), ("1d", 86400), (" 1D ", 86400)],
)
def test_intervals_accept_seconds_and_units(value: t.Any, seconds: int) -> None:
    assert _backend.parse_interval("error_interval", value) == seconds


@pytest.mark.parametrize("value", ["1.5h", "2w", "5 min", "", "m", "1h30m", True, 1.5, None, [60]])
def test_intervals_refuse_anything_else(value: t.Any) -> None:
    with pytest.raises(ValueError, match=r"error_interval: .* is not an interval; use whole seconds"):
        _backend.parse_interval("error_interval", value)


def test_negative_interval_says_so() -> None:
    with pytest.raises(ValueError, match="'-5m' is negative"):
        _backend.parse_interval("error_interval", "-5m")


@pytest.mark.parametrize(("seconds", "text"), [(86400, "1d"), (7200, "2h"), (5400, "90m"), (90, "90s"), (0, "0s")])
def test_format_interval_uses_the_largest_exact_unit(seconds: int, text: str) -> None:
    assert _backend.format_interval(seconds) == text


def test_settings_in_range_pass_and_out_of_range_name_the_limits() -> None:
    assert _backend.validate_setting("update_check_interval", "1d") == 86400
    assert _backend.validate_setting("max_parallel_syncs", 0) is None
    assert _backend.validate_setting("download_attempts", 100) == 100
    with pytest.raises(ValueError, match=r"update_check_interval must be from 5m to 30d \(300 to 2592000 seconds\)"):
        _backend.validate_setting("update_check_interval", "4m")
    with pytest.raises(ValueError, match="install_attempts must be from 1 to 100, got 0"):
        _backend.validate_setting("install_attempts", 0)
    with pytest.raises(ValueError, match="download_attempts must be a whole number"):
        _backend.validate_setting("download_attempts", True)


def test_limits_are_the_contracts() -> None:
    documented = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))["components"]["schemas"]["Settings"]
    assert set(documented["properties"]) == set(_backend.SETTING_RULES)
    for name, rule in _backend.SETTING_RULES.items():
        prop = documented["properties"][name]
        assert (prop["minimum"], prop["maximum"]) == (rule.minimum, rule.maximum), name


def test_connection_options_fall_back_to_inventory_variables() -> None:
    variables = {
        "rollout_backend_url": "https://b:8443/",
        "rollout_backend_token": TOKEN,
        "rollout_backend_ca_path": "/ca",
    }
    conn = _backend.connection_from({"validate_certs": True}, variables)
    assert (conn.url, conn.token, conn.ca_path) == ("https://b:8443", TOKEN, "/ca")
    given = _backend.connection_from({"backend_url": "https://x/api/v1", "ca_path": "/other"}, variables)
    assert (given.url, given.ca_path) == ("https://x", "/other")
    assert TOKEN not in repr(conn)
    with pytest.raises(ValueError, match="backend_url is required"):
        _backend.connection_from({}, {})
    with pytest.raises(ValueError, match="must be an http"):
        _backend.connection_from({"backend_url": "backend:8443"}, {})


class FakeOpener:
    """Stands in for open_url: records calls, answers or raises what the test says."""

    def __init__(self, answer: t.Any) -> None:
        self.answer = answer
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, url: str, **kwargs: t.Any) -> t.Any:
        self.calls.append({"url": url, **kwargs})
        if isinstance(self.answer, BaseException):
            raise self.answer
        return io.BytesIO(self.answer)


def client(answer: t.Any, token: str | None = TOKEN, ca_path: str | None = "/lab/ca.pem") -> tuple[t.Any, FakeOpener]:
    opener = FakeOpener(answer)
    conn = _backend.Connection("https://backend:8443", token, True, ca_path)
    return _backend.BackendClient(conn, opener=opener), opener


def http_error(status: int, body: bytes) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://backend:8443/api/v1/x", status, "reason", None, io.BytesIO(body))  # type: ignore[arg-type]


def test_token_goes_in_the_header_only_and_tls_is_validated() -> None:
    api, opener = client(b'{"state": "locked"}')
    assert api.set_lock("locked", None, [])["state"] == "locked"
    call = opener.calls[0]
    assert call["url"] == "https://backend:8443/api/v1/update-lock"
    assert TOKEN not in call["url"]
    assert call["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert (call["validate_certs"], call["ca_path"], call["method"]) == (True, "/lab/ca.pem", "PUT")


def test_writes_without_a_token_fail_before_any_request() -> None:
    api, opener = client(b"{}", token=None)
    with pytest.raises(_backend.BackendError, match="needs the admin token: set backend_token"):
        api.update_settings({"install_attempts": 3})
    assert opener.calls == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"code": "unauthorized", "message": "the token is not valid"}', "refused the token (401 Unauthorized)"),
        (403, b'{"code": "forbidden", "message": "needs the admin token"}', "(403 Forbidden)"),
        (404, b"<html>not here</html>", "has no client management API at /api/v1/settings (404); check backend_url"),
        (422, b'{"code": "invalid", "message": "install_attempts must be between 1 and 100"}', "with 422: install"),
    ],
)
def test_http_errors_become_clear_messages(status: int, body: bytes, expected: str) -> None:
    api, _opener = client(http_error(status, body))
    with pytest.raises(_backend.BackendError) as caught:
        api.settings()
    assert expected in str(caught.value)
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)


def test_certificate_failure_names_the_ca_option() -> None:
    error = urllib.error.URLError(ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get issuer"))
    api, _opener = client(error)
    with pytest.raises(_backend.BackendError, match=r"could not be verified against the CA in ca_path \(/lab/ca.pem\)"):
        api.info()
    api, _opener = client(error, ca_path=None)
    with pytest.raises(_backend.BackendError, match=r"the system's trusted CAs.*Set ca_path"):
        api.info()


def test_refused_connection_names_the_url() -> None:
    api, _opener = client(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    with pytest.raises(
        _backend.BackendError, match=r"cannot connect to backend https://backend:8443: connection refused"
    ):
        api.info()


def test_restart_requests_cover_the_window_only() -> None:
    def session(user: str, restart: bool, closed: str | None) -> dict[str, t.Any]:
        state = "open" if closed is None else "closed"
        return {
            "host": "pc",
            "user": user,
            "session_id": user,
            "state": state,
            "restart_after_update": restart,
            "closed_at": closed,
        }

    sessions = [
        session("before-window", True, "2026-01-01T09:00:00Z"),
        session("in-window", True, "2026-01-01T11:00:00Z"),
        session("open", True, None),
        session("no-restart", False, None),
    ]
    assert [r["user"] for r in restart_requests(sessions, "2026-01-01T10:00:00Z")] == ["in-window", "open"]
    assert [r["user"] for r in restart_requests(sessions, None)] == ["open"]
