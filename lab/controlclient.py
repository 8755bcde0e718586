"""Blocking client for the control API of a lab fleet (:mod:`lab.control`), standard library only.

Tests, ``bench/`` and scripts use it; it needs nothing of the lab but the URL (``lab_control_url``).
"""

from __future__ import annotations

import json
import typing as t
import urllib.error
import urllib.parse
import urllib.request

JSON = "application/json"


class ControlError(Exception):
    """The control API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """Blocking client for the control API (standard library only, for tests and scripts)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, payload: t.Any = None) -> t.Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", JSON)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                message = json.loads(body).get("error", body.decode())
            except ValueError:
                message = body.decode(errors="replace")
            raise ControlError(exc.code, message) from None

    def _object(self, method: str, path: str, payload: t.Any = None) -> dict[str, t.Any]:
        """``request`` for the routes that answer one JSON object (all but ``GET /hosts``)."""
        result = self.request(method, path, payload)
        if not isinstance(result, dict):
            raise ControlError(200, f"{method} {path} answered {type(result).__name__}, not an object")
        return result

    def hosts(self) -> list[dict[str, t.Any]]:
        result = self.request("GET", "/hosts")
        if not isinstance(result, list):
            raise ControlError(200, f"GET /hosts answered {type(result).__name__}, not a list")
        return result

    def host(self, name: str) -> dict[str, t.Any]:
        return self._object("GET", f"/hosts/{name}")

    def counters(self, name: str) -> dict[str, int]:
        return self._object("GET", f"/hosts/{name}/counters")

    def file(self, name: str, path: str) -> dict[str, t.Any]:
        """Size and hashes of a file on a host (or a directory listing)."""
        return self._object("GET", f"/hosts/{name}/file?path={urllib.parse.quote(path)}")

    def security(self, name: str, path: str) -> dict[str, t.Any]:
        """Owner SID, protection, DACL (and junction target) of a file or folder on a host."""
        return self._object("GET", f"/hosts/{name}/security?path={urllib.parse.quote(path)}")

    def as_user(self, name: str, user: str, action: str, path: str, **fields: t.Any) -> dict[str, t.Any]:
        """Act on a host's files as a standard user (write, mkdir, junction, remove), ACLs enforced."""
        return self._object("POST", f"/hosts/{name}/as-user", {"user": user, "action": action, "path": path, **fields})

    def logon(self, name: str, user: str) -> dict[str, t.Any]:
        return self._object("POST", f"/hosts/{name}/logon", {"user": user})

    def logoff(self, name: str, user: str) -> dict[str, t.Any]:
        return self._object("POST", f"/hosts/{name}/logoff", {"user": user})

    def start_process(self, name: str, user: str, process: str) -> dict[str, t.Any]:
        return self._object("POST", f"/hosts/{name}/processes", {"user": user, "name": process})

    def stop_process(self, name: str, pid: int) -> dict[str, t.Any]:
        return self._object("DELETE", f"/hosts/{name}/processes/{pid}")

    def control(self, name: str, payload: dict[str, t.Any]) -> dict[str, t.Any]:
        return self._object("POST", f"/hosts/{name}/control", payload)

    def reboot(self, name: str, downtime: float | None = None) -> dict[str, t.Any]:
        return self._object("POST", f"/hosts/{name}/reboot", {} if downtime is None else {"downtime": downtime})

    def reset_counters(self, hosts: list[str] | None = None) -> dict[str, t.Any]:
        return self._object("POST", "/counters/reset", {"hosts": hosts} if hosts else {})

    def fleet_counters(self) -> dict[str, int]:
        return self._object("GET", "/fleet/counters")

    def fleet(self) -> dict[str, t.Any]:
        return self._object("GET", "/fleet")
