"""Clock, reboots, seeded behaviour, faults and the control schema of the host model."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils._msi import command_line
from lab.clock import Clock
from lab.host import BlobStore, Cluster, HostDropped, make_host
from lab.primitives import core


def _host(name: str = "pc001", seed: int = 5, scale: float = 100_000.0, virtual: bool = False, **kw: Any) -> Any:
    return make_host(name, "client", seed=seed, clock=Clock(scale, virtual=virtual), blobs=BlobStore(), **kw)


def test_clock_runs_time_scale_faster() -> None:
    clock = Clock(time_scale=1000.0, start=datetime(2026, 3, 1, tzinfo=UTC))
    # Bracketing each reading with real ones bounds the ratio whatever the machine's speed.
    outer_start = time.monotonic()
    sim_start = clock.monotonic()
    inner_start = time.monotonic()
    asyncio.run(clock.sleep(50))  # 50 simulated seconds = 0.05 real
    inner_end = time.monotonic()
    sim_end = clock.monotonic()
    outer_end = time.monotonic()
    assert sim_end - sim_start >= 50
    assert inner_end - inner_start >= 0.05 * 0.99  # a sleep never returns early in real time
    assert 1000 * (inner_end - inner_start) <= sim_end - sim_start <= 1000 * (outer_end - outer_start) + 1e-6
    assert clock.now().tzinfo is not None
    clock.advance(3600)
    assert clock.monotonic() >= 3650
    with pytest.raises(ValueError, match="time_scale must be > 0"):
        Clock(0)


def test_virtual_clock_moves_only_when_told_or_slept_and_wakes_sleepers_in_order() -> None:
    clock = Clock(virtual=True)
    time.sleep(0.01)
    assert clock.monotonic() == 0
    clock.advance(10)
    assert clock.monotonic() == 10
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    async def scenario() -> None:
        await asyncio.gather(sleeper("late", 300), sleeper("early", 30), sleeper("middle", 120))

    asyncio.run(scenario())
    assert woke == [("early", 40), ("middle", 130), ("late", 310)]


def test_same_seed_and_name_behave_identically() -> None:
    a, b = _host(), _host()
    c = _host(seed=6)
    for host in (a, b, c):
        host.logon("zoe")
        for _ in range(3):
            host.start_process("zoe", "WINWORD.EXE")
    strip = ("boot_time", "logon_time", "start_time", "time")

    def shape(h: Any) -> Any:
        snap = h.snapshot()
        procs = [{k: v for k, v in p.items() if k not in strip} for p in snap["processes"]]
        return snap["users"], procs, snap["behaviour"], h.machine_sid, h.latency_seconds()

    assert shape(a) == shape(b)
    assert shape(a) != shape(c)


def test_reboot_drops_the_host_and_clears_sessions() -> None:
    host = _host(virtual=True, users=["alice"])
    host.logon("alice")
    host.start_process("alice", "WINWORD.EXE")
    host.pending_reboot = True
    boot_id, boot_time = host.boot_id, host.boot_time
    host.reboot(downtime_sim_seconds=30)
    assert not host.network_up()
    assert host.boot_id == boot_id + 1
    assert host.boot_time > boot_time
    assert host.sessions == {}
    assert host.processes == {}
    assert not host.pending_reboot
    with pytest.raises(HostDropped):
        asyncio.run(core.run(host, "Get-HostInfo", {}, host.username))
    host.clock.advance(29)
    assert not host.network_up()
    asyncio.run(host.clock.sleep(1))
    assert host.network_up()
    rc, out, _ = asyncio.run(core.run(host, "Get-HostInfo", {}, host.username))
    assert rc == 0
    assert '"logged_on_users":[]' in out


def test_users_close_office_after_a_delay_or_ignore() -> None:
    host = _host(users=["alice", "bob"], virtual=True)  # real time never moves the clock; advance() does
    for user in ("alice", "bob"):
        host.logon(user)
        host.start_process(user, "WINWORD.EXE")
    host.apply_control(
        {"behaviour": {"users": {"alice": {"on_message": "close", "close_delay": 60}, "bob": {"on_message": "ignore"}}}}
    )
    delivered = host.send_message("Please close Office")
    assert {d["user"] for d in delivered} == {"alice", "bob"}
    host.clock.advance(59)
    assert {p["user"] for p in host.list_processes(["winword"])} == {"alice", "bob"}  # seeded ones included
    host.clock.advance(2)
    assert {p["user"] for p in host.list_processes(["WINWORD.EXE"])} == {"bob"}
    assert host.list_processes(["explorer"])  # the session itself stays


def test_unreachable_latency_and_drop_faults() -> None:
    host = _host(virtual=True)  # the drop's downtime must not pass in real time before it is checked
    host.apply_control({"faults": {"unreachable": True}, "behaviour": {"latency_ms": 200, "latency_jitter_ms": 50}})
    assert not host.network_up()
    assert 0.15 <= host.latency_seconds() <= 0.25
    host.apply_control({"faults": {"unreachable": False, "drop_next": 1, "drop_downtime": 120}})
    assert host.network_up()

    async def dropped() -> None:
        with pytest.raises(HostDropped):
            await core.run(host, "Get-HostInfo", {}, host.username)

    asyncio.run(dropped())
    assert not host.network_up()
    host.clock.advance(121)
    assert host.network_up()
    assert asyncio.run(core.run(host, "Get-HostInfo", {}, host.username))[0] == 0
    assert host.counters["primitive:Get-HostInfo"] == 2


def test_dropped_msiexec_still_completes_on_the_host(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    host.apply_control({"faults": {"drop_next": 1, "drop_downtime": 5}})

    async def scenario() -> None:
        with pytest.raises(HostDropped):
            await core.run(
                host, "Invoke-Msiexec", {"command_line": command_line(["/i", msi, "/qn", "/norestart"])}, host.username
            )
        while host._background:
            await asyncio.sleep(0.001)

    asyncio.run(scenario())
    assert [p["version"] for p in host.products.values()] == ["9.3.0"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"behavior": {}}, "unknown key behavior; accepted: behaviour, faults"),
        ({"behaviour": {"latency": 1}}, "unknown key behaviour.latency; accepted: latency_ms"),
        ({"behaviour": {"msiexec_results": [0, 42]}}, "behaviour.msiexec_results must be a list of exit codes from 0"),
        ({"behaviour": {"on_message": "maybe"}}, "behaviour.on_message must be one of close, ignore"),
        ({"behaviour": {"msiexec_duration": [9, 1]}}, "behaviour.msiexec_duration must have min <= max"),
        ({"behaviour": {"users": {"mallory": {}}}}, "behaviour.users: unknown user 'mallory'"),
        ({"faults": {"unreachable": "yes"}}, "faults.unreachable must be true or false"),
        ({"faults": {"drop_next": -1}}, "faults.drop_next must be an integer from 0 to 1000"),
    ],
)
def test_control_is_validated_strictly(payload: dict[str, Any], message: str) -> None:
    host = _host()
    before = host.control_state()
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        host.apply_control(payload)
    assert host.control_state() == before


def test_control_returns_the_new_state() -> None:
    state = _host().apply_control({"behaviour": {"msiexec_results": [3010], "reboot_downtime": 10}})
    assert state["behaviour"]["msiexec_results"] == [3010]
    assert state["behaviour"]["reboot_downtime"] == 10
    assert state["faults"] == {
        "unreachable": False,
        "drop_next": 0,
        "drop_downtime": 30.0,
        "backend_unreachable": False,
        "download_corrupt": 0,
        "office_never_closed": False,
    }


def test_server_cluster_update_mode_and_schema() -> None:
    cluster = Cluster(schema_version="9.2.0")
    clock, blobs = Clock(100_000.0), BlobStore()
    servers = [make_host(f"srv{i}", "server", seed=1, clock=clock, blobs=blobs, cluster=cluster) for i in range(3)]
    assert all(s.server.mode == "production" for s in servers)
    first = asyncio.run(servers[0].server_update("9.3.0"))
    assert first == {"updated": 1, "total": 3, "finished": False, "schema_version": "9.2.0"}
    assert servers[0].server.as_dict()["admin_console"] is False
    assert servers[0].server.database == "local-copy"
    asyncio.run(servers[1].server_update("9.3.0"))
    last = asyncio.run(servers[2].server_update("9.3.0"))
    assert last["finished"]
    assert cluster.schema_version == "9.3.0"
    assert all(s.server.mode == "production" and s.server.database == "production" for s in servers)
    assert servers[0].snapshot()["cluster"]["schema_version"] == "9.3.0"


def test_scheduled_tasks_and_startup_trigger() -> None:
    host = _host(users=["alice"])
    host.register_task(
        "Updater", user="alice", trigger={"type": "startup"}, exe="C:\\Tools\\updater.exe", arguments=["--check"]
    )
    with pytest.raises(ValueError, match=r"trigger.type must be one of startup, logon, daily, once"):
        host.register_task("Bad", user="alice", trigger={"type": "hourly"}, exe="x.exe")
    host.reboot(1)
    task = host.snapshot()["tasks"]["\\Updater"]
    assert task["last_run"] == host.boot_time.isoformat()
    assert task["action"] == {"exe": "C:\\Tools\\updater.exe", "arguments": ["--check"]}
