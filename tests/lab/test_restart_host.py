"""Restart-Host in the lab: shutdown.exe's schedule, a real reboot after the delay, and a host that is away."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from lab import collection
from lab.clock import Clock
from lab.host import BlobStore, HostDropped, make_host
from lab.primitives import core
from lab.testing import start_test_fleet

winhost = collection.winhost()


def restart_args(delay: Any, msg: str | None = None) -> dict[str, Any]:
    """Restart-Host's arguments as the controller sends them: shutdown.exe's command line, quoted."""
    from ansible_collections.rollout.windows.plugins.action.reboot import shutdown_arguments
    from ansible_collections.rollout.windows.plugins.plugin_utils._cmdline import command_line

    return {"command_line": command_line(shutdown_arguments(delay, msg or ""))}


def _host(**kw: Any) -> Any:
    # A virtual clock: delays and downtimes pass when the test sleeps on it, never while the machine is busy.
    return make_host("pc001", "client", seed=3, clock=Clock(virtual=True), blobs=BlobStore(), **kw)


async def _call(host: Any, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    rc, out, err = await core.run(host, name, args or {}, host.username)
    return winhost.parse_output(name, rc, out, err)


def test_restart_happens_after_the_delay_with_the_behaviour_downtime() -> None:
    async def scenario() -> None:
        host = _host(users=["alice"])
        host.logon("alice")
        host.apply_control({"behaviour": {"reboot_downtime": 40}})
        before = (await _call(host, "Get-HostInfo"))["last_boot"]
        result = await _call(host, "Restart-Host", restart_args(10, "bye"))
        assert result == {"rc": 0, "output": "", "aborted_pending": False, "command_line": "/r /f /t 10 /c bye"}
        # shutdown.exe only schedules: the host still answers until the delay is over.
        assert host.network_up()
        assert host.snapshot()["scheduled_restart"]["comment"] == "bye"
        assert host.snapshot()["scheduled_restart"]["delay"] == 10
        assert host.snapshot()["scheduled_restart"]["arguments"] == ["/r", "/f", "/t", "10", "/c", "bye"]
        assert (await _call(host, "Get-HostInfo"))["last_boot"] == before
        await host.clock.sleep(11)
        assert not host.network_up()
        assert host.sessions == {}
        with pytest.raises(HostDropped):
            await core.run(host, "Get-HostInfo", {}, host.username)
        await host.clock.sleep(40)
        assert host.network_up()
        after = (await _call(host, "Get-HostInfo"))["last_boot"]
        assert after > before
        assert host.reboots[-1]["downtime"] == 40
        assert host.reboots[-1]["comment"] == "bye"
        assert host.snapshot()["scheduled_restart"] is None

    asyncio.run(scenario())


def test_a_scheduled_restart_is_replaced_not_doubled() -> None:
    async def scenario() -> None:
        host = _host()
        await _call(host, "Restart-Host", restart_args(600))
        boot_id = host.boot_id
        again = await _call(host, "Restart-Host", restart_args(1, "now"))
        assert again["aborted_pending"] is True
        await host.clock.sleep(2)
        assert host.boot_id == boot_id + 1
        await host.clock.sleep(700)
        assert host.boot_id == boot_id + 1  # the replaced 600 s restart never fires

    asyncio.run(scenario())


def test_a_reboot_from_elsewhere_cancels_the_scheduled_one() -> None:
    async def scenario() -> None:
        host = _host()
        await _call(host, "Restart-Host", restart_args(30))
        host.reboot(0)
        boot_id = host.boot_id
        await host.clock.sleep(60)
        assert host.boot_id == boot_id

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "args",
    [
        restart_args(-1),
        restart_args(315_360_001),
        restart_args(1, "x" * 513),
        {"command_line": "/r /f /t soon"},
        {"command_line": "/r /f /t"},
        {"command_line": "/r /f /t 10 /x"},
    ],
)
def test_invalid_parameters_answer_like_shutdown_exe(args: dict[str, Any]) -> None:
    async def scenario() -> None:
        host = _host()
        result = await _call(host, "Restart-Host", args)
        assert result["rc"] == 87
        assert host.snapshot()["scheduled_restart"] is None

    asyncio.run(scenario())


def test_no_command_line_fails_like_strict_mode() -> None:
    async def scenario() -> None:
        host = _host()
        rc, out, _ = await core.run(host, "Restart-Host", {}, host.username)
        assert rc == 1
        assert json.loads(out)["failed"] is True

    asyncio.run(scenario())


def _connect_is_refused(address: str, port: int) -> bool:
    """True when the host resets or refuses a new WinRM connection (a request gets no HTTP answer)."""
    try:
        with socket.create_connection((address, port), timeout=2) as sock:
            sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            return sock.recv(64) == b""
    except OSError:
        return True


def _wait_until(check: Any, what: str, bound: float = 60.0) -> None:
    """Poll until ``check()`` holds; the bound only stops a broken lab from hanging the suite."""
    give_up = time.monotonic() + bound
    while not check():
        assert time.monotonic() < give_up, f"still waiting for {what} after {bound:g} s"
        time.sleep(0.05)


def test_winrm_server_drops_the_host_while_it_is_down(tmp_path: Path) -> None:
    # One simulated second per real second and a day of downtime: the downtime ends when the test
    # advances the lab's clock, not because the machine was slow.
    fleet = start_test_fleet(tmp_path, clients=1, servers=0, time_scale=1.0)
    try:
        fh = fleet.fleet.hosts["client-0001"]
        boot = fleet.run_sync(lambda: fh.host.boot_id)

        async def restart() -> tuple[int, str, str]:
            fh.host.apply_control({"behaviour": {"reboot_downtime": 86_400}})
            return await core.run(fh.host, "Restart-Host", restart_args(0), fh.host.username)

        rc, _, _ = fleet.call(restart())
        assert rc == 0
        _wait_until(lambda: fleet.run_sync(lambda: fh.host.boot_id) == boot + 1, "the restart")
        assert fleet.run_sync(fh.host.network_up) is False
        assert _connect_is_refused(fh.address, fh.http_port)
        fleet.run_sync(lambda: fh.host.clock.advance(86_400))
        assert fleet.run_sync(fh.host.network_up) is True
        _wait_until(lambda: not _connect_is_refused(fh.address, fh.http_port), "the host to answer again")
    finally:
        fleet.stop()
