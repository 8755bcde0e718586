"""The nudge in the lab: the updater's client id on the release request, /checknow, and Start-AutoUpdaterNow."""

from __future__ import annotations

import asyncio
import json
import typing as t
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from _autoupdater_kit import UpdaterKit
from aiohttp import web

from lab.host.autoupdater import TASK_PATH, UPDATER_EXE, start_updater
from lab.host.updater_client import HttpBackendClient
from lab.host.updater_state import POLICY_KEY
from lab.primitives import core

Scenario = Callable[[UpdaterKit], Awaitable[None]]
NOW_PATH = TASK_PATH + "CheckNow\\"


@pytest.fixture
def packages(msi_packages: dict[str, dict[str, str]]) -> Path:
    return Path(msi_packages["user-9.3.0"]["dir"]).parent


def run(packages: Path, scenario: Scenario, **options: t.Any) -> None:
    async def main() -> None:
        async with UpdaterKit(packages, **options) as kit:
            await scenario(kit)

    asyncio.run(main())


async def nudge(kit: UpdaterKit, start: bool = True, users: list[str] | None = None) -> dict[str, t.Any]:
    """Start-AutoUpdaterNow's lab twin, as the collection calls it."""
    args = {
        "policy_key": POLICY_KEY,
        "task_path": TASK_PATH,
        "now_path": NOW_PATH,
        "updater_executable": UPDATER_EXE,
        "argument": "/checknow",
        "users": users or [],
        "start": start,
    }
    rc, stdout, stderr = await core.run(kit.host, "Start-AutoUpdaterNow", args, kit.host.username)
    assert rc == 0, (stdout, stderr)
    answer: dict[str, t.Any] = json.loads(stdout)
    return answer


def test_the_release_request_names_the_client() -> None:
    """X-Client (and ?client=, for names a header cannot carry) with the client token on GET /releases/{channel}."""
    seen: list[tuple[str | None, str | None, str | None]] = []

    async def release(request: web.Request) -> web.Response:
        seen.append(
            (request.headers.get("X-Client"), request.query.get("client"), request.headers.get("Authorization"))
        )
        return web.json_response({"channel": request.match_info["channel"], "version": "9.3.1", "packages": []})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/releases/{channel}", release)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as session:
                client = HttpBackendClient(f"http://127.0.0.1:{port}", "tok", session, None)
                assert (await client.release("stable", "PC001\\alice"))["version"] == "9.3.1"
                await client.release("stable", "PC001\\jürgen")
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert seen == [("PC001\\alice", "PC001\\alice", "Bearer tok"), (None, "PC001\\jürgen", "Bearer tok")]


def test_a_backend_that_ignores_the_client_still_answers(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        start_updater(kit.host, kit.user)
        await kit.run(400)
        assert (kit.version(), kit.state()["LastOutcome"]) == ("9.3.1", "installed")

    run(packages, scenario)


def test_checknow_checks_at_once_whatever_the_interval(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable()
        kit.release("9.3.0")
        start_updater(kit.host, kit.user, ["/background"])
        await kit.run(1)
        assert (kit.updater().checks, kit.state()["LastOutcome"]) == (1, "no_update")
        kit.release("9.3.1")
        start_updater(kit.host, kit.user, ["/background"])  # the startup task: the day's interval holds
        await kit.run(60)
        assert kit.updater().checks == 1
        start_updater(kit.host, kit.user, ["/CheckNow"])
        await kit.run(1)
        assert kit.updater().checks == 2
        assert kit.state()["PendingVersion"] == "9.3.1"

    run(packages, scenario)


def test_the_nudge_runs_each_enabled_updater_once_with_checknow(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        for user in ("alice", "bob"):
            kit.enable(user)
        kit.release("9.3.0")
        start_updater(kit.host, "alice")
        await kit.run(1)
        assert kit.updater().checks == 1
        kit.host.registry.set_value(f"HKU\\{kit.host.sid_of('bob')}\\{POLICY_KEY}", "Enabled", 0, "REG_DWORD")
        registered = dict(kit.host.tasks)
        answer = await nudge(kit)
        by_user = {u["user"].rsplit("\\", 1)[-1]: u for u in answer["users"]}
        assert by_user["alice"] == {
            "sid": kit.sid,
            "user": "PC001\\alice",
            "policy_enabled": True,
            "task_state": "Ready",
            "started": True,
            "error": None,
        }
        assert (by_user["bob"]["policy_enabled"], by_user["bob"]["started"]) == (False, False)
        assert kit.host.tasks == registered  # the one-shot task is gone again, the startup tasks untouched
        await kit.run(1)
        assert kit.updater().checks == 2  # at once, although the interval of a day has not elapsed
        assert kit.updater("bob").checks == 0
        listed = [c["client"] for c in kit.backend.backend.clients.listing()]
        assert "pc001\\alice" in [c.lower() for c in listed]

    run(packages, scenario, users=("alice", "bob"))


def test_the_nudge_without_start_and_for_named_users_only(packages: Path) -> None:
    async def scenario(kit: UpdaterKit) -> None:
        kit.enable("alice")
        kit.enable("bob")
        answer = await nudge(kit, start=False)
        assert [u["started"] for u in answer["users"]] == [False, False]
        answer = await nudge(kit, users=["bob"])
        assert [(u["user"], u["started"]) for u in answer["users"]] == [("PC001\\bob", True)]
        await kit.run(1)
        assert (kit.updater("alice").started, kit.updater("bob").started) == (0, 1)

    run(packages, scenario, users=("alice", "bob"))
