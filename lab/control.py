"""Inspection and control API of a lab fleet: JSON over HTTP on its own loopback port.

Tests and operators use it to look at host state, log users on, start processes,
inject faults and reboot hosts. See ``lab/README.md`` for the routes; :class:`ControlClient`
(:mod:`lab.controlclient`) calls them.

The fleet starts this server and hands itself over as an :class:`InspectedFleet`, so this
module never imports :mod:`lab.fleet`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import typing as t
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from lab.controlclient import JSON, ControlClient, ControlError
from lab.winrm.http import BadRequest, Request, Response, read_request

if t.TYPE_CHECKING:
    from lab.fleethost import FleetHost

__all__ = ["ControlClient", "ControlError", "ControlServer", "InspectedFleet"]
log = logging.getLogger(__name__)


class InspectedFleet(t.Protocol):
    """What the control API needs of the fleet it serves."""

    @property
    def hosts(self) -> Mapping[str, FleetHost]: ...

    def describe(self) -> dict[str, t.Any]:
        """Size, seed, clock and shared stores of the fleet (``GET /fleet``)."""
        ...


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, payload: t.Any) -> Response:
    return Response(status, (json.dumps(payload, sort_keys=True, default=str) + "\n").encode(), content_type=JSON)


Handler = Callable[["ControlServer", Request, dict[str, str]], Awaitable[t.Any]]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _ROUTES.append((method, re.compile("^" + pattern + "$"), func))
        return func

    return register


def _body(request: Request) -> dict[str, t.Any]:
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except ValueError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _field(data: dict[str, t.Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"field {name!r} (non-empty string) is required")
    return value


class ControlServer:
    def __init__(self, fleet: InspectedFleet, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fleet = fleet
        self.bind_host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.bind_host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{self.bind_host}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                response = await self.dispatch(request)
                writer.write(response.render(request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except (BadRequest, ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("control connection ended: %s", exc)
        finally:
            writer.close()

    async def dispatch(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0].rstrip("/") or "/"
        allowed = False
        for method, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            try:
                result = await handler(self, request, match.groupdict())
            except ApiError as exc:
                return _json(exc.status, {"error": exc.message})
            except ValueError as exc:
                # The host model's way of saying the payload makes no sense.
                return _json(400, {"error": str(exc)})
            except KeyError as exc:
                return _json(404, {"error": f"not found: {exc.args[0] if exc.args else exc}"})
            return _json(200, result)
        if allowed:
            return _json(405, {"error": f"method {request.method} not allowed on {path}"})
        return _json(404, {"error": f"no such route: {request.method} {path}"})

    def host(self, name: str) -> FleetHost:
        fh = self.fleet.hosts.get(name)
        if fh is None:
            raise ApiError(404, f"unknown host {name!r}")
        return fh


def _summary(fh: FleetHost) -> dict[str, t.Any]:
    return {
        "name": fh.name,
        "kind": fh.host.kind,
        "address": fh.address,
        "http_port": fh.http_port,
        "https_port": fh.https_port,
        "transport": fh.transport,
        "up": fh.host.network_up(),
    }


@route("GET", "/hosts")
async def _list_hosts(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    return [_summary(fh) for fh in api.fleet.hosts.values()]


@route("GET", "/hosts/(?P<name>[^/]+)")
async def _get_host(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    out = dict(fh.host.snapshot())
    out.update(_summary(fh))
    out["counters"] = dict(fh.host.counters)
    out["open_connections"] = fh.server.connection_count
    out["open_shells"] = len(fh.server.shells)
    return out


@route("GET", "/hosts/(?P<name>[^/]+)/counters")
async def _host_counters(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    return dict(api.host(params["name"]).host.counters)


@route("GET", "/hosts/(?P<name>[^/]+)/file")
async def _file(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    query = urllib.parse.parse_qs(request.path.partition("?")[2])
    path = (query.get("path") or [""])[0]
    if not path:
        raise ApiError(400, "query parameter 'path' is required")
    files = fh.host.files
    if not files.exists(path):
        raise ApiError(404, f"no such file or directory on {fh.name}: {path}")
    if files.is_dir(path):
        return {"path": path, "is_dir": True, "entries": files.listdir(path)}
    return {
        "path": path,
        "is_dir": False,
        "size": files.size(path),
        "sha1": files.sha1(path),
        "sha256": files.sha256(path),
    }


@route("GET", "/hosts/(?P<name>[^/]+)/security")
async def _security(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """Owner, protection and DACL of a file or folder (of a junction itself), SIDs throughout."""
    fh = api.host(params["name"])
    path = (urllib.parse.parse_qs(request.path.partition("?")[2]).get("path") or [""])[0]
    if not path:
        raise ApiError(400, "query parameter 'path' is required")
    try:
        return {"path": path, **fh.host.files.security(path)}
    except FileNotFoundError as exc:
        raise ApiError(404, f"no such file or directory on {fh.name}: {path}") from exc


@route("POST", "/hosts/(?P<name>[^/]+)/as-user")
async def _as_user(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """What a standard user (or the WinRM administrator) can do to the file system, checked against the ACLs:
    ``action`` write (``text``), mkdir, junction (``target``) or remove of ``path``; 403 where Windows says
    "Access to the path '...' is denied."."""
    import base64

    from lab.host.filesystem import admin_principal, user_principal

    fh = api.host(params["name"])
    body = _body(request)
    user, action, path = _field(body, "user"), _field(body, "action"), _field(body, "path")
    # The WinRM account acts as an elevated administrator (what earlier collection versions did unchecked).
    if user.lower() == fh.host.username.lower():
        principal = admin_principal(fh.host.sid_of(user))
    elif user.lower() in {u.lower() for u in fh.host.users}:
        principal = user_principal(fh.host.sid_of(user))
    else:
        raise ApiError(400, f"{user} is not a user of {fh.name}")
    files = fh.host.files
    try:
        if action == "write":
            data = base64.b64decode(body["base64"]) if "base64" in body else str(body.get("text", "")).encode()
            files.write_bytes(path, data, principal=principal)
        elif action == "mkdir":
            files.mkdir(path, parents=False, principal=principal)
        elif action == "junction":
            files.make_junction(path, _field(body, "target"), principal=principal)
        elif action == "remove":
            files.remove(path, recurse=True, principal=principal)
        else:
            raise ApiError(400, "action must be one of write, mkdir, junction, remove")
    except PermissionError as exc:
        raise ApiError(403, exc.strerror or str(exc)) from exc
    except OSError as exc:
        raise ApiError(409, exc.strerror or str(exc)) from exc
    return {"path": path, "action": action, "user": user}


@route("POST", "/hosts/(?P<name>[^/]+)/logon")
async def _logon(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    return fh.host.logon(_field(_body(request), "user"))


@route("POST", "/hosts/(?P<name>[^/]+)/logoff")
async def _logoff(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    user = _field(_body(request), "user")
    fh.host.logoff(user)
    return {"user": user, "logged_on": False}


@route("POST", "/hosts/(?P<name>[^/]+)/processes")
async def _start_process(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    body = _body(request)
    return fh.host.start_process(_field(body, "user"), _field(body, "name"))


@route("DELETE", "/hosts/(?P<name>[^/]+)/processes/(?P<pid>[0-9]+)")
async def _stop_process(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    pid = int(params["pid"])
    fh.host.stop_process(pid)
    return {"pid": pid, "stopped": True}


@route("POST", "/hosts/(?P<name>[^/]+)/control")
async def _control(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    body = _body(request)
    if not body:
        raise ApiError(400, "a behaviour or fault payload is required")
    result = fh.host.apply_control(body)
    if not fh.host.network_up():
        fh.server.drop_connections()
    return result


@route("POST", "/hosts/(?P<name>[^/]+)/reboot")
async def _reboot(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    fh = api.host(params["name"])
    body = _body(request)
    downtime = body.get("downtime")
    if downtime is not None and (not isinstance(downtime, int | float) or downtime < 0):
        raise ApiError(400, "downtime must be a non-negative number of simulated seconds")
    fh.host.reboot(downtime)
    fh.server.drop_connections()
    return {"name": fh.name, "boot_id": fh.host.boot_id, "up": fh.host.network_up()}


@route("POST", "/hosts/(?P<name>[^/]+)/suite-install")
async def _suite_install(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """Install a built per-user package as the suite installer does: {user, version}."""
    from pathlib import Path

    from lab.host.suite import package_folder, suite_install

    fh = api.host(params["name"])
    body = _body(request)
    user, version = _field(body, "user"), _field(body, "version")
    packages = getattr(api.fleet, "suite_packages", None)
    if packages is None:
        raise ApiError(409, "the fleet has no built packages (start it with backend packages)")
    result = await suite_install(fh.host, user, package_folder(Path(packages), version), version)
    product = next((p for p in fh.host.products.values() if p.get("user") == user and p["version"] == version), None)
    return {
        "user": user,
        "version": version,
        "rc": result.rc,
        "install_source": product["install_source"] if product else None,
    }


@route("POST", "/hosts/(?P<name>[^/]+)/stage-server-installer")
async def _stage_server_installer(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """Place ExampleBackendSetup.exe on a server: {version, directory?} -> {path, sha256, size, version}."""
    from lab.host.serverproduct import stage_server_installer

    fh = api.host(params["name"])
    body = _body(request)
    directory = body.get("directory")
    if directory is not None and (not isinstance(directory, str) or not directory):
        raise ApiError(400, "directory must be a non-empty Windows path")
    if fh.host.kind != "server":
        raise ApiError(409, f"{fh.name} is not a server")
    return stage_server_installer(fh.host, _field(body, "version"), directory)


@route("GET", "/cluster")
async def _cluster(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """The servers' HA cluster: members, schema version and what happened when (history)."""
    cluster = getattr(api.fleet, "cluster", None)
    if cluster is None:
        raise ApiError(404, "the fleet has no servers")
    return {**cluster.snapshot(), "info": cluster.info()}


@route("POST", "/clock/advance")
async def _advance_clock(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    """Move the fleet's simulated clock forward: {seconds} or {to: ISO 8601}; what is due on the way runs."""
    from datetime import datetime

    clock = getattr(api.fleet, "clock", None)
    if clock is None:
        raise ApiError(409, "the fleet has no clock yet")
    body = _body(request)
    if "to" in body:
        try:
            target = datetime.fromisoformat(str(body["to"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ApiError(400, f"to must be an ISO 8601 time with an offset: {exc}") from exc
        if target.tzinfo is None:
            raise ApiError(400, "to must be an ISO 8601 time with an offset")
        seconds = max(0.0, (target - clock.now()).total_seconds())
    else:
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, "seconds must be a non-negative number of simulated seconds (or give to)")
    clock.advance(float(seconds))
    return {"advanced": float(seconds), "now": clock.now().isoformat()}


@route("POST", "/counters/reset")
async def _reset_counters(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    names = _body(request).get("hosts") or list(api.fleet.hosts)
    for name in names:
        api.host(name).host.counters.clear()
    return {"reset": len(names)}


@route("GET", "/fleet/counters")
async def _fleet_counters(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    total: dict[str, int] = {}
    for fh in api.fleet.hosts.values():
        for key, value in fh.host.counters.items():
            total[key] = total.get(key, 0) + value
    return total


@route("GET", "/fleet")
async def _fleet(api: ControlServer, request: Request, params: dict[str, str]) -> t.Any:
    return api.fleet.describe()
