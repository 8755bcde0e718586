# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client of the product backend's client management API (docs/backend-api.yaml), for action plugins.

The backend modules talk to the backend from the controller, never through the
host's connection: a task against a Windows host in the inventory opens no WinRM
connection to it. HTTP goes through ansible's ``open_url`` so proxies, TLS settings
and certificate validation behave as in every other ansible module that calls an
API. The token travels only in the Authorization header: it is never part of a
URL, a message or a result, so nothing that ansible logs or prints can show it.

Settings validation lives here too (limits and units), so a bad value fails the
task with a message naming the option before any request is made.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import typing as t
import urllib.error
import urllib.parse
from dataclasses import dataclass

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = 30
# The largest honest answer (settings, a page of clients) is a few KB; a hostile or broken backend
# cannot make the controller hold more than this.
MAX_ANSWER_BYTES = 4 * 1024 * 1024

# Inventory variables used when the option is not given (the lab inventory sets them).
FALLBACK_VARIABLES = {
    "backend_url": "rollout_backend_url",
    "backend_token": "rollout_backend_token",
    "ca_path": "rollout_backend_ca_path",
    "allow_insecure_http": "rollout_backend_allow_insecure_http",
}
INSECURE_HTTP_WARNING = (
    "backend_url is plain http (allow_insecure_http is set): the admin token and every answer travel "
    "unencrypted and anyone on the path can read or change them; use https"
)


class BackendError(Exception):
    """A failure talking to the backend, with a message that says what to fix."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


# ---- settings: limits and units ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    minimum: int
    maximum: int
    interval: bool


# The contract's limits (a unit test compares them with docs/backend-api.yaml). Intervals in seconds.
SETTING_RULES: dict[str, Rule] = {
    "update_check_interval": Rule(300, 2_592_000, True),
    "error_interval": Rule(60, 604_800, True),
    "download_attempts": Rule(1, 100, False),
    "process_check_interval": Rule(10, 3_600, True),
    "process_check_attempts": Rule(1, 10_000, False),
    "install_attempts": Rule(1, 100, False),
    "max_parallel_syncs": Rule(1, 100_000, False),
}
THROTTLE_SETTINGS = ("max_parallel_syncs",)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}
_INTERVAL = re.compile(r"^(\d+)([smhd]?)$")


def format_interval(seconds: int) -> str:
    """The largest unit that divides ``seconds`` exactly: 86400 -> 1d, 90 -> 90s, 5400 -> 90m."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_interval(name: str, value: t.Any) -> int:
    """Seconds from an integer (seconds) or a string: ``90``, ``90s``, ``60m``, ``2h``, ``1d``."""
    accepted = "whole seconds (3600) or a whole number with s, m, h or d (90s, 60m, 2h, 1d)"
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not an interval; use {accepted}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _INTERVAL.match(value.strip().lower())
        if match:
            return int(match.group(1)) * _UNITS[match.group(2)]
        if value.strip().startswith("-"):
            raise ValueError(f"{name}: {value!r} is negative; use {accepted}")
    raise ValueError(f"{name}: {value!r} is not an interval; use {accepted}")


def validate_setting(name: str, value: t.Any) -> int | None:
    """The API value for one module option, or ValueError naming the option, its range and its units."""
    rule = SETTING_RULES[name]
    if name == "max_parallel_syncs" and value == 0:
        return None  # 0 in the module: no limit (null in the API)
    if rule.interval:
        seconds = parse_interval(name, value)
        if not rule.minimum <= seconds <= rule.maximum:
            raise ValueError(
                f"{name} must be from {format_interval(rule.minimum)} to {format_interval(rule.maximum)} "
                f"({rule.minimum} to {rule.maximum} seconds), got {value!r}"
            )
        return seconds
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not rule.minimum <= value <= rule.maximum:
        extra = " (0 means no limit)" if name == "max_parallel_syncs" else ""
        raise ValueError(f"{name} must be from {rule.minimum} to {rule.maximum}{extra}, got {value}")
    return value


# ---- connection ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    url: str
    token: str | None
    validate_certs: bool
    ca_path: str | None
    timeout: int = DEFAULT_TIMEOUT
    insecure_http: bool = False

    def __repr__(self) -> str:  # never show the token, not even in a traceback
        return f"Connection(url={self.url!r}, validate_certs={self.validate_certs}, ca_path={self.ca_path!r})"


def connection_from(args: dict[str, t.Any], variables: dict[str, t.Any]) -> Connection:
    """The connection from the module options, each missing one taken from its ``rollout_backend_*`` variable.

    ``variables`` holds the already templated values of the variables in FALLBACK_VARIABLES that are defined.
    """
    values = {
        option: args.get(option) if args.get(option) not in (None, "") else variables.get(var)
        for option, var in FALLBACK_VARIABLES.items()
    }
    url = values["backend_url"]
    if not url:
        raise ValueError("backend_url is required (or set the variable rollout_backend_url)")
    url = str(url).rstrip("/")
    allow_http = _truthy(values["allow_insecure_http"])
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        raise ValueError(f"backend_url must be an https URL like https://backend.example:8443, got {redact_url(url)!r}")
    parts = urllib.parse.urlsplit(url)
    if "@" in parts.netloc:
        # The password must not reach a message or a log: only the redacted form is named.
        raise ValueError(
            f"backend_url {redact_url(url)!r} contains a user name or password (user:password@); "
            "remove it and give the admin token in backend_token"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"backend_url {redact_url(url)!r} has a query string or fragment; give only the base URL "
            "and the admin token in backend_token"
        )
    if parts.scheme.lower() == "http" and not allow_http:
        raise ValueError(
            f"backend_url {url!r} is plain http: the admin token would travel unencrypted. Use the backend's "
            "https URL; for a test backend only, set allow_insecure_http=true "
            "(or the variable rollout_backend_allow_insecure_http)"
        )
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    token = values["backend_token"]
    ca_path = values["ca_path"]
    return Connection(
        url,
        str(token) if token else None,
        bool(args.get("validate_certs", True)),
        ca_path or None,
        insecure_http=parts.scheme.lower() == "http",
    )


def _truthy(value: t.Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def redact_url(url: str) -> str:
    """``url`` without user info, query string or fragment, for messages: these may carry secrets."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    if netloc != parts.netloc:
        netloc = "***@" + netloc
    query = "?***" if parts.query else ""
    fragment = "#***" if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query + fragment


def warnings_for(client: BackendClient) -> list[str]:
    """What a backend action adds to its result's warnings."""
    return [INSECURE_HTTP_WARNING] if client.conn.insecure_http else []


class BackendClient:
    """One backend; each method is one API call and returns the decoded JSON."""

    def __init__(self, conn: Connection, opener: t.Callable[..., t.Any] = open_url) -> None:
        self.conn = conn
        self._open = opener
        self.requests = 0

    # -- reads
    def info(self) -> dict[str, t.Any]:
        return self._call("GET", "/info")

    def settings(self) -> dict[str, t.Any]:
        return self._call("GET", "/settings")

    def throttle(self) -> dict[str, t.Any]:
        return self._call("GET", "/sync-slots")

    def releases(self) -> list[dict[str, t.Any]]:
        releases: list[dict[str, t.Any]] = self._call("GET", "/releases")["releases"]
        return releases

    def lock(self) -> dict[str, t.Any]:
        return self._call("GET", "/update-lock")

    def sessions(self, state: str = "open") -> list[dict[str, t.Any]]:
        sessions: list[dict[str, t.Any]] = self._call("GET", f"/sessions?state={state}", auth=True)["sessions"]
        return sessions

    # -- writes (admin token)
    def update_settings(self, changes: dict[str, t.Any]) -> dict[str, t.Any]:
        return self._call("PATCH", "/settings", changes, auth=True)

    def set_lock(self, state: str, message: str | None, override_users: list[str]) -> dict[str, t.Any]:
        body = {"state": state, "message": message, "override_users": override_users}
        return self._call("PUT", "/update-lock", body, auth=True)

    # -- the rollout through the auto-updater (admin token, also to read)
    def rollout(self) -> dict[str, t.Any]:
        return self._call("GET", "/rollout", auth=True)

    def rollout_progress(self) -> dict[str, t.Any]:
        return self._call("GET", "/rollout/progress", auth=True)

    def define_rollout(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        return self._call("PUT", "/rollout", body, auth=True)

    def set_rollout_state(self, state: str) -> dict[str, t.Any]:
        return self._call("PATCH", "/rollout", {"state": state}, auth=True)

    def publish_ring(self, ring: str) -> dict[str, t.Any]:
        return self._call("POST", f"/rollout/rings/{urllib.parse.quote(ring, safe='')}/publish", auth=True)

    def gate_ring(self, ring: str, passed: bool, reason: str | None) -> dict[str, t.Any]:
        body = {"passed": passed, "reason": reason}
        return self._call("POST", f"/rollout/rings/{urllib.parse.quote(ring, safe='')}/gate", body, auth=True)

    # -- transport
    def _call(self, method: str, path: str, body: t.Any = None, auth: bool = False) -> dict[str, t.Any]:
        conn = self.conn
        url = conn.url + API_PREFIX + path
        headers = {"Accept": "application/json"}
        if conn.token:
            headers["Authorization"] = f"Bearer {conn.token}"
        elif auth:
            raise BackendError(f"{method} {API_PREFIX}{path} needs the admin token: set backend_token")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            response = self._open(
                url,
                data=data,
                headers=headers,
                method=method,
                validate_certs=conn.validate_certs,
                ca_path=conn.ca_path,
                timeout=conn.timeout,
                follow_redirects="none",
                use_proxy=True,
                # A ~/.netrc entry for the backend's host would replace the bearer token with Basic auth.
                use_netrc=False,
            )
            # An answer is untrusted input: more than MAX_ANSWER_BYTES is refused, not held in memory.
            raw = response.read(MAX_ANSWER_BYTES + 1)
            if len(raw) > MAX_ANSWER_BYTES:
                raise BackendError(
                    f"backend {redact_url(conn.url)} answered {method} {path} with more than "
                    f"{MAX_ANSWER_BYTES:,} bytes; refused"
                )
        except urllib.error.HTTPError as exc:
            raise self._http_error(method, path, exc) from None
        except (urllib.error.URLError, OSError, UrlsConnectionError) as exc:
            raise self._transport_error(exc) from None
        if not raw:
            return {}
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        # Every answer of the API is a JSON object; anything else would fail later, without naming the backend.
        if not isinstance(answer, dict):
            raise BackendError(
                f"backend {redact_url(conn.url)} answered {method} {path} with something that is not a JSON object"
            )
        return answer

    def _http_error(self, method: str, path: str, exc: urllib.error.HTTPError) -> BackendError:
        status = exc.code
        code: str | None = None
        detail = ""
        try:
            payload = json.loads(exc.read(MAX_ANSWER_BYTES) or b"{}")
            if isinstance(payload, dict):
                code = payload.get("code")
                detail = str(payload.get("message") or "")
        except (ValueError, OSError):
            pass
        where = f"backend {redact_url(self.conn.url)}"
        if status == 401:
            message = (
                f"{where} refused the token (401 Unauthorized): {detail or 'no valid token'}. "
                "Check backend_token (or the variable rollout_backend_token)"
            )
        elif status == 403:
            message = (
                f"{where} does not allow this token to {method} {API_PREFIX}{path} (403 Forbidden): {detail}. "
                "The backend modules need the admin token"
            )
        elif status == 404 and code is None:
            message = f"{where} has no client management API at {API_PREFIX}{path} (404); check backend_url"
        else:
            message = f"{where} answered {method} {API_PREFIX}{path} with {status}: {detail or exc.reason}"
        return BackendError(message, status=status, code=code)

    def _transport_error(self, exc: BaseException) -> BackendError:
        reason: t.Any = getattr(exc, "reason", exc)
        url = redact_url(self.conn.url)
        text = str(reason)
        if isinstance(reason, ssl.SSLCertVerificationError | SSLValidationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            where = f"the CA in ca_path ({self.conn.ca_path})" if self.conn.ca_path else "the system's trusted CAs"
            return BackendError(
                f"the TLS certificate of backend {url} could not be verified against {where}: {text}. "
                "Set ca_path (or the variable rollout_backend_ca_path) to the CA that issued the backend's "
                "certificate; validate_certs=false turns the check off (not for production)"
            )
        if isinstance(reason, ConnectionRefusedError) or "Connection refused" in text:
            return BackendError(
                f"cannot connect to backend {url}: connection refused (is backend_url right and is "
                "the backend running?)"
            )
        if isinstance(reason, socket.timeout | TimeoutError) or "timed out" in text:
            return BackendError(f"backend {url} did not answer within {self.conn.timeout} seconds")
        if isinstance(reason, ssl.SSLError):
            return BackendError(f"TLS with backend {url} failed: {text} (is it an https URL of the backend?)")
        return BackendError(f"cannot reach backend {url}: {text}")


def has_throttle(info: dict[str, t.Any]) -> bool:
    return "sync_throttle" in (info.get("features") or [])
