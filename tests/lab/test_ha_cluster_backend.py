"""The lab backend on an HA cluster: /info's cluster object, writes during an update lost, clients still served."""

from __future__ import annotations

import asyncio
import typing as t
from datetime import UTC, datetime

import aiohttp

from lab.backend import BackendConfig, BackendServer
from lab.clock import Clock
from lab.host import BlobStore, Cluster, make_host
from lab.host.serverproduct import run_server_installer, stage_server_installer


async def _scenario() -> None:
    clock = Clock(start=datetime(2026, 12, 1, 10, tzinfo=UTC), virtual=True)
    cluster = Cluster(name="hq")
    blobs = BlobStore()
    hosts = [make_host(f"server-{i:02d}", "server", seed=1, clock=clock, blobs=blobs, cluster=cluster) for i in (1, 2)]
    for host in hosts:
        host.apply_control({"behaviour": {"msiexec_duration": [30, 30], "server_restart_duration": [5, 5]}})
    server = BackendServer(BackendConfig(version="9.3.2"), cluster=cluster)
    await server.start()
    admin = {"Authorization": f"Bearer {server.config.admin_token}"}
    client = {"Authorization": f"Bearer {server.config.client_token}"}
    try:
        async with aiohttp.ClientSession(server.api_url + "/") as http:

            async def call(method: str, path: str, headers: dict[str, str], body: t.Any = None) -> t.Any:
                async with http.request(method, path, headers=headers, json=body) as response:
                    assert response.status < 300, await response.text()
                    return await response.json()

            info = await call("GET", "info", {})
            assert info["cluster"] == {
                "name": "hq",
                "members": [
                    {"name": "SERVER-01", "version": "9.2.0", "mode": "production"},
                    {"name": "SERVER-02", "version": "9.2.0", "mode": "production"},
                ],
                "update_in_progress": False,
                "updated": 2,
                "total": 2,
            }
            await call("PATCH", "settings", admin, {"download_attempts": 7})  # production: kept
            path = str(stage_server_installer(hosts[0], "9.3.0")["path"])
            assert (await run_server_installer(hosts[0], path, ["/quiet"], hosts[0].username))[0] == 0
            info = (await call("GET", "info", {}))["cluster"]
            assert (info["update_in_progress"], info["updated"], info["total"]) == (True, 1, 2)
            assert info["members"][0]["mode"] == "update"
            # An admin write that still arrives goes to the local copy: visible now, lost later.
            await call("PATCH", "settings", admin, {"download_attempts": 9, "max_parallel_syncs": 3})
            await call("PUT", "update-lock", admin, {"state": "locked", "message": "maintenance"})
            assert (await call("GET", "settings", {}))["download_attempts"] == 9
            # Clients are still served.
            assert (await call("GET", "releases", client))["releases"] == []
            slot = await call("POST", "sync-slots", client, {"client": "PC001"})
            assert slot["client"] == "PC001"
            path = str(stage_server_installer(hosts[1], "9.3.0")["path"])
            assert (await run_server_installer(hosts[1], path, ["/quiet"], hosts[1].username))[0] == 0
            await clock.sleep(5)
            info = (await call("GET", "info", {}))["cluster"]
            assert info["update_in_progress"] is False
            assert [m["mode"] for m in info["members"]] == ["production", "production"]
            settings = await call("GET", "settings", {})
            assert (settings["download_attempts"], settings["max_parallel_syncs"]) == (7, None)
            assert (await call("GET", "update-lock", {}))["state"] == "released"
            assert (await call("GET", "sync-slots", {}))["max_parallel_syncs"] is None
            # After the update, writes reach production again and stay.
            await call("PATCH", "settings", admin, {"download_attempts": 8})
            assert (await call("GET", "settings", {}))["download_attempts"] == 8
    finally:
        await server.close()


def test_writes_during_an_update_are_lost_and_clients_are_served() -> None:
    asyncio.run(_scenario())


def test_info_without_a_cluster_says_null() -> None:
    async def scenario() -> None:
        server = BackendServer(BackendConfig(version="9.2.0"))
        await server.start()
        try:
            async with aiohttp.ClientSession() as http, http.get(server.api_url + "/info") as response:
                assert (await response.json())["cluster"] is None
        finally:
            await server.close()

    asyncio.run(scenario())
