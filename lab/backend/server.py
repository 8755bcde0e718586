"""The reference client management API over HTTPS (aiohttp), as ``docs/backend-api.yaml`` describes it.

It runs on the lab fleet's event loop (or any loop), on loopback, with a certificate
from the lab CA. Handlers are thin: they check the token, parse and validate the
input, call the state in ``lab.backend.state`` and render JSON. Every error is an
``Error`` object of the contract, including the router's own 404 and 405.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import socket
import typing as t
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from lab.backend.rollout import Rollouts
from lab.backend.rollout_routes import RolloutWiring, install_rollout_routes
from lab.backend.state import (
    CLIENT_ID,
    FEATURES_9_2,
    LOCK_STATES,
    THROTTLE_FEATURE,
    ApiError,
    Clients,
    ClusterView,
    Lock,
    Production,
    Sessions,
    Slot,
    Throttle,
    default_channels,
    default_settings,
    has_throttle,
    parse_version,
    scan_packages,
    validate_settings_update,
)

if t.TYPE_CHECKING:
    from lab.tls import LabCA

log = logging.getLogger(__name__)
API = "/api/v1"
CERT_NAME = "lab-backend"
# A rollout's rings list every computer of the fleet: 10,000 names take about 200 KiB, so 1 MiB leaves room.
MAX_BODY = 1024 * 1024
MAX_WAIT = 60
SWEEP_INTERVAL = 0.25
_NAME = re.compile(r"^[^\x00-\x1f]{1,256}$")
# Query parameters each operation knows; any other is refused, so a typo (?stat=all) never passes silently.
_QUERY = {
    ("POST", API + "/sync-slots"): ("wait",),
    ("GET", API + "/sessions"): ("state",),
    ("GET", API + "/releases/{channel}"): ("client",),
}


def lab_token(seed: int, kind: str) -> str:
    """Tokens derive from the fleet seed like the host passwords: the same seed gives the same inventory."""
    return f"lab-{kind}-" + hashlib.sha256(f"backend-token:{kind}:{seed}".encode()).hexdigest()[:32]


@dataclass
class BackendConfig:
    """What a reference backend looks like; every field has a lab default."""

    version: str = "9.3.2"
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    admin_token: str = ""
    client_token: str = ""
    # Built test packages (``python -m lab.msi build DIR``); releases list what is there.
    packages_dir: Path | None = None
    # Base URL the release files are downloaded from (a file server of packages_dir);
    # None: this server serves packages_dir itself under /downloads/.
    download_url: str | None = None
    # Channel -> version; None: "stable" is the newest version in packages_dir.
    channels: dict[str, str] | None = None
    lease_seconds: float = 300.0

    def __post_init__(self) -> None:
        parse_version(self.version)
        self.admin_token = self.admin_token or lab_token(self.seed, "admin")
        self.client_token = self.client_token or lab_token(self.seed, "client")
        if self.admin_token == self.client_token:
            raise ValueError("the admin and client tokens must differ")
        if self.packages_dir is not None:
            self.packages_dir = Path(self.packages_dir).absolute()
        if not self.lease_seconds > 0:
            raise ValueError("lease_seconds must be > 0")


class Backend:
    """The state of one backend; HTTP-free so tests can drive it directly on the loop."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.version = config.version
        self.throttle_enabled = has_throttle(config.version)
        self.settings = default_settings(config.version)
        self.throttle = Throttle(config.lease_seconds)
        self.lock = Lock()
        self.sessions = Sessions()
        self.clients = Clients()
        self.packages = scan_packages(config.packages_dir)
        self.channels = dict(config.channels) if config.channels is not None else default_channels(self.packages)
        known = {p.version for p in self.packages}
        for channel, version in self.channels.items():
            if version not in known:
                raise ValueError(f"channel {channel!r} names version {version}, which is not in {config.packages_dir}")
        self.rollouts = Rollouts(self.channels, known)
        self.download_base = ""
        # The servers this backend runs on (None: a single server). While one of them is in update mode,
        # writes go to a server's local copy of the database, and the copy is dropped when the last one
        # reconnects to production: what production held at the update's start is what remains.
        self.cluster: ClusterView | None = None
        self.production: Production | None = None

    def observe_cluster(self) -> dict[str, t.Any] | None:
        """The cluster as ``GET /info`` shows it; first drops what was written during an update that finished."""
        if self.cluster is None:
            return None
        info = self.cluster.info()
        held = self.production
        if held is not None and (
            not info["update_in_progress"] or self.cluster.finished_updates != held.finished_updates
        ):
            self.production = None
            self.settings = dict(held.settings)
            if self.throttle_enabled:
                self.throttle.set_limit(self.settings.get("max_parallel_syncs"))
            self.lock.__dict__.update(held.lock.__dict__, override_users=list(held.lock.override_users))
            log.info("cluster %s reconnected to production: changes made during the update are gone", info["name"])
        if info["update_in_progress"] and self.production is None:
            lock = Lock(**{**self.lock.__dict__, "override_users": list(self.lock.override_users)})
            self.production = Production(self.cluster.finished_updates, dict(self.settings), lock)
        return info

    def features(self) -> list[str]:
        return [*FEATURES_9_2, THROTTLE_FEATURE] if self.throttle_enabled else list(FEATURES_9_2)

    def release(self, channel: str, client: str | None = None) -> dict[str, t.Any]:
        """The channel's release; a client of a published ring of the running rollout gets the rollout's."""
        version = self.channels.get(channel)
        if version is None:
            raise ApiError(404, "not_found", f"no channel {channel!r}; channels: {', '.join(sorted(self.channels))}")
        version = self.rollouts.visible_version(channel, client) or version
        base = self.download_base.rstrip("/") + "/"

        def file(f: t.Any) -> dict[str, t.Any]:
            return {"path": f.path, "url": base + f.path, "sha256": f.sha256, "size": f.size}

        packages = [
            {"variant": p.variant, "msi": file(p.msi), "payload": [file(x) for x in p.payload]}
            for p in self.packages
            if p.version == version
        ]
        return {"channel": channel, "version": version, "packages": packages}


# ---- request helpers ----------------------------------------------------------------------------------


def _backend(request: web.Request) -> Backend:
    return request.app[BACKEND_KEY]


def _role(request: web.Request) -> str | None:
    """``admin``, ``client`` or None (no token); a token that is sent but not valid is refused even on reads."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    given = token.strip().encode("utf-8", "surrogateescape")
    config = _backend(request).config
    if hmac.compare_digest(given, config.admin_token.encode()):
        return "admin"
    if hmac.compare_digest(given, config.client_token.encode()):
        return "client"
    raise _unauthorized("the token is not valid for this backend")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="client management API"'})


def _require(request: web.Request, role: str) -> None:
    have = _role(request)
    if have is None:
        raise _unauthorized(f"{request.method} {request.path} needs a bearer token")
    if role == "admin" and have != "admin":
        raise ApiError(403, "forbidden", f"{request.method} {request.path} needs the admin token, not a client token")


async def _body(request: web.Request) -> dict[str, t.Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


def _only(data: dict[str, t.Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise ApiError(422, "invalid", f"unknown field {key!r}; allowed: {', '.join(allowed)}", field=key)


def _name(data: dict[str, t.Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _NAME.match(value):
        raise ApiError(
            422, "invalid", f"{key} must be a string of 1 to 256 characters without control characters", field=key
        )
    return value


def _json(payload: t.Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)


def _throttle(request: web.Request) -> Throttle:
    backend = _backend(request)
    if not backend.throttle_enabled:
        raise ApiError(
            404,
            "feature_unavailable",
            f"the sync throttle needs backend 9.3 or later; this backend is {backend.version}",
        )
    return backend.throttle


# ---- handlers -----------------------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get(API + "/info")
async def get_info(request: web.Request) -> web.Response:
    _role(request)
    backend = _backend(request)
    return _json(
        {
            "product": "client management API (lab reference)",
            "version": backend.version,
            "api_version": "1",
            "features": backend.features(),
            "cluster": backend.observe_cluster(),
        }
    )


@routes.get(API + "/settings")
async def get_settings(request: web.Request) -> web.Response:
    _role(request)
    return _json(_backend(request).settings)


@routes.patch(API + "/settings")
async def update_settings(request: web.Request) -> web.Response:
    _require(request, "admin")
    backend = _backend(request)
    clean = validate_settings_update(await _body(request), backend.version)
    backend.settings.update(clean)
    if "max_parallel_syncs" in clean:
        backend.throttle.set_limit(clean["max_parallel_syncs"])
    log.info("settings changed: %s", clean)
    return _json(backend.settings)


@routes.get(API + "/sync-slots")
async def get_throttle(request: web.Request) -> web.Response:
    _role(request)
    return _json(_throttle(request).usage())


@routes.post(API + "/sync-slots")
async def acquire_slot(request: web.Request) -> web.Response:
    _require(request, "client")
    throttle = _throttle(request)
    raw_wait = request.query.get("wait", "0")
    if not raw_wait.isdigit() or int(raw_wait) > MAX_WAIT:
        raise ApiError(422, "invalid", f"wait must be whole seconds from 0 to {MAX_WAIT}, got {raw_wait!r}", "wait")
    data = await _body(request)
    _only(data, ("client",))
    client = _name(data, "client")
    # 200 only for a slot the client already had in hand; a new one, or one set aside while it waited, is 201.
    held_id = throttle.by_client.get(client)
    had_it = held_id is not None and throttle.slots[held_id].picked_up
    result = await throttle.acquire_waiting(client, int(raw_wait))
    if isinstance(result, Slot):
        return _json(throttle.public(result), status=200 if had_it and result.slot_id == held_id else 201)
    body = {
        "code": "throttled",
        "message": f"all {result.limit} sync slots are in use; position {result.queue_position} in the queue",
        "queue_position": result.queue_position,
        "retry_after": result.retry_after,
        "in_use": result.in_use,
        "max_parallel_syncs": result.limit,
    }
    return _json(body, status=429, headers={"Retry-After": str(result.retry_after)})


@routes.delete(API + "/sync-slots/{slot_id}")
async def release_slot(request: web.Request) -> web.Response:
    _require(request, "client")
    slot_id = request.match_info["slot_id"]
    if not _throttle(request).release(slot_id):
        raise ApiError(404, "not_found", f"no slot {slot_id!r} (given back already, or its lease expired)")
    return web.Response(status=204)


@routes.post(API + "/sync-slots/{slot_id}/renew")
async def renew_slot(request: web.Request) -> web.Response:
    _require(request, "client")
    throttle = _throttle(request)
    slot_id = request.match_info["slot_id"]
    slot = throttle.renew(slot_id)
    if slot is None:
        raise ApiError(404, "not_found", f"no slot {slot_id!r} (given back already, or its lease expired)")
    return _json(throttle.public(slot))


@routes.get(API + "/releases")
async def list_releases(request: web.Request) -> web.Response:
    _role(request)
    backend = _backend(request)
    return _json({"releases": [backend.release(c) for c in sorted(backend.channels)]})


@routes.get(API + "/releases/{channel}")
async def get_release(request: web.Request) -> web.Response:
    _role(request)
    client = request.headers.get("X-Client") or request.query.get("client")
    if client is not None and not CLIENT_ID.match(client):
        raise ApiError(422, "invalid", "the client id must be a computer name, optionally with \\user", "client")
    return _json(_backend(request).release(request.match_info["channel"], client))


@routes.get(API + "/update-lock")
async def get_lock(request: web.Request) -> web.Response:
    _role(request)
    return _json(_backend(request).lock.public())


@routes.put(API + "/update-lock")
async def set_lock(request: web.Request) -> web.Response:
    _require(request, "admin")
    data = await _body(request)
    _only(data, ("state", "message", "override_users"))
    state = data.get("state")
    if state not in LOCK_STATES:
        raise ApiError(422, "invalid", f"state must be one of {', '.join(LOCK_STATES)}, got {state!r}", "state")
    message = data.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > 1000):
        raise ApiError(422, "invalid", "message must be null or a string of at most 1000 characters", "message")
    users = data.get("override_users", [])
    if not isinstance(users, list) or len(users) > 100:
        raise ApiError(422, "invalid", "override_users must be a list of at most 100 user names", "override_users")
    names = [_name({"override_users": u}, "override_users") for u in users]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid", "override_users lists a user twice", "override_users")
    lock = _backend(request).lock
    if (state, message, names) != (lock.state, lock.message, lock.override_users):
        now = _backend(request).sessions.wall()
        if lock.state == "released" and state != "released":
            lock.window_started_at = now
        lock.state, lock.message, lock.override_users, lock.changed_at = state, message, names, now
        log.info("update lock: %s", state)
    return _json(lock.public())


@routes.get(API + "/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    _require(request, "admin")
    state = request.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, "invalid", f"state must be open, closed or all, got {state!r}", "state")
    return _json({"sessions": _backend(request).sessions.listing(state)})


@routes.post(API + "/sessions")
async def open_session(request: web.Request) -> web.Response:
    _require(request, "client")
    data = await _body(request)
    _only(data, ("host", "user", "override"))
    override = data.get("override", False)
    if not isinstance(override, bool):
        raise ApiError(422, "invalid", "override must be true or false", "override")
    backend = _backend(request)
    session = backend.sessions.start(_name(data, "host"), _name(data, "user"), override, backend.lock)
    return _json(session.public(), status=201)


@routes.patch(API + "/sessions/{session_id}")
async def update_session(request: web.Request) -> web.Response:
    _require(request, "client")
    data = await _body(request)
    _only(data, ("restart_after_update",))
    choice = data.get("restart_after_update")
    if not isinstance(choice, bool):
        raise ApiError(422, "invalid", "restart_after_update must be true or false", "restart_after_update")
    session = _backend(request).sessions.get_open(request.match_info["session_id"])
    session.restart_after_update = choice
    return _json(session.public())


@routes.delete(API + "/sessions/{session_id}")
async def close_session(request: web.Request) -> web.Response:
    _require(request, "client")
    _backend(request).sessions.close(request.match_info["session_id"])
    return web.Response(status=204)


@routes.put(API + "/clients/{client}")
async def report_client(request: web.Request) -> web.Response:
    """An auto-updater reports its version and how its last check went (client token)."""
    _require(request, "client")
    data = await _body(request)
    _only(data, ("version", "last_check", "outcome"))
    record = _backend(request).clients.report(request.match_info["client"], data)
    return _json(record.public())


@routes.get(API + "/clients")
async def list_clients(request: web.Request) -> web.Response:
    _require(request, "admin")
    return _json({"clients": _backend(request).clients.listing()})


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as the contract's Error object, also the router's own 404/405 and aiohttp's 413."""
    try:
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical.startswith(API):
            allowed = _QUERY.get((request.method, resource.canonical), ())
            for key in request.query:
                if key not in allowed:
                    raise ApiError(422, "invalid", f"unknown query parameter {key!r}", field=key)
        _backend(request).observe_cluster()  # an update that finished since the last request has dropped its writes
        return await handler(request)
    except ApiError as exc:
        return _json(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPMethodNotAllowed as exc:
        body = {"code": "method_not_allowed", "message": f"{request.method} is not allowed on {request.path}"}
        return _json(body, status=405, headers={"Allow": ",".join(sorted(exc.allowed_methods))})
    except web.HTTPNotFound:
        return _json({"code": "not_found", "message": f"no such route: {request.method} {request.path}"}, 404)
    except web.HTTPRequestEntityTooLarge:
        return _json({"code": "bad_request", "message": f"the body is larger than {MAX_BODY} bytes"}, 413)


BACKEND_KEY = web.AppKey("backend", Backend)


class BackendServer:
    """Serves one :class:`Backend` over HTTPS (HTTP when no CA is given) on the running loop."""

    def __init__(self, config: BackendConfig, ca: LabCA | None = None, cluster: ClusterView | None = None) -> None:
        self.config = config
        self.ca = ca
        self.backend = Backend(config)
        self.backend.cluster = cluster
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def api_url(self) -> str:
        return self.url + API

    @property
    def ca_path(self) -> Path | None:
        return self.ca.ca_path if self.ca is not None else None

    async def start(self) -> None:
        cfg = self.config
        app = web.Application(middlewares=[errors], client_max_size=MAX_BODY)
        app[BACKEND_KEY] = self.backend
        app.add_routes(routes)
        install_rollout_routes(app, RolloutWiring(_require, _body, _only, _backend))
        if cfg.download_url is None and cfg.packages_dir is not None and cfg.packages_dir.is_dir():
            app.router.add_static("/downloads/", cfg.packages_dir)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((cfg.host, cfg.port))
        except OSError:
            sock.close()
            raise
        ssl_context = self.ca.server_context(CERT_NAME, cfg.host) if self.ca is not None else None
        # access_log None: nothing about requests is logged, so no token can end up in a log.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # A big backlog: 200 clients connecting in the same instant must not wait for SYN retries.
        await web.SockSite(self._runner, sock, ssl_context=ssl_context, backlog=1024).start()
        port = sock.getsockname()[1]
        self.url = f"{'https' if ssl_context else 'http'}://{cfg.host}:{port}"
        self.backend.download_base = cfg.download_url or f"{self.url}/downloads/"
        self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Leases run out even when no request comes; the queue moves on then."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.backend.throttle.sweep()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
