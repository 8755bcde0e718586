"""The ``/rollout`` routes of the reference backend (admin token only), over ``lab.backend.rollout``.

The request helpers (token check, body parsing) are the server's own; the server hands them over
with :func:`install_rollout_routes`, so this module needs no import of the server and the two stay one-way.
"""

from __future__ import annotations

import typing as t
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from lab.backend.rollout import Rollouts
from lab.backend.state import Clients

API = "/api/v1"


class RolloutHost(t.Protocol):
    """What the routes need of the backend: its rollout and its clients' reports."""

    rollouts: Rollouts
    clients: Clients


@dataclass(frozen=True)
class RolloutWiring:
    """The server's request helpers: a token check, the JSON body, the allowed fields, the backend."""

    require: Callable[[web.Request, str], None]
    body: Callable[[web.Request], Awaitable[dict[str, t.Any]]]
    only: Callable[[dict[str, t.Any], tuple[str, ...]], None]
    backend: Callable[[web.Request], RolloutHost]


WIRING_KEY = web.AppKey("rollout_wiring", RolloutWiring)
routes = web.RouteTableDef()


def install_rollout_routes(app: web.Application, wiring: RolloutWiring) -> None:
    app[WIRING_KEY] = wiring
    app.add_routes(routes)


def _admin(request: web.Request) -> tuple[RolloutWiring, Rollouts]:
    wiring = request.app[WIRING_KEY]
    wiring.require(request, "admin")
    return wiring, wiring.backend(request).rollouts


@routes.get(API + "/rollout")
async def get_rollout(request: web.Request) -> web.Response:
    rollouts = _admin(request)[1]
    return web.json_response(rollouts.public())


@routes.put(API + "/rollout")
async def define_rollout(request: web.Request) -> web.Response:
    wiring, rollouts = _admin(request)
    data = await wiring.body(request)
    wiring.only(data, ("version", "channel", "rings", "criterion_percent"))
    created = rollouts.define(data)
    return web.json_response(rollouts.public(), status=201 if created else 200)


@routes.patch(API + "/rollout")
async def change_rollout(request: web.Request) -> web.Response:
    wiring, rollouts = _admin(request)
    data = await wiring.body(request)
    wiring.only(data, ("state",))
    rollouts.set_state(data)
    return web.json_response(rollouts.public())


@routes.post(API + "/rollout/rings/{ring}/publish")
async def publish_ring(request: web.Request) -> web.Response:
    rollouts = _admin(request)[1]
    rollouts.publish(request.match_info["ring"])
    return web.json_response(rollouts.public())


@routes.post(API + "/rollout/rings/{ring}/gate")
async def gate_ring(request: web.Request) -> web.Response:
    wiring, rollouts = _admin(request)
    data = await wiring.body(request)
    wiring.only(data, ("passed", "reason"))
    rollouts.gate(request.match_info["ring"], data)
    return web.json_response(rollouts.public())


@routes.get(API + "/rollout/progress")
async def rollout_progress(request: web.Request) -> web.Response:
    wiring, rollouts = _admin(request)
    return web.json_response(rollouts.progress(wiring.backend(request).clients))
