"""The HA backend cluster update on the host model, on a virtual clock: installer, modes over time, faults."""

from __future__ import annotations

import asyncio
import typing as t
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from lab.clock import Clock
from lab.host import BlobStore, Cluster, Host, make_host
from lab.host.serverproduct import (
    LOG_DIR,
    SETTINGS_KEY,
    run_server_installer,
    service_status,
    stage_server_installer,
)

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LOG = LOG_DIR + "\\setup-9.3.0.log"
ARGS = ["/quiet", "/norestart", "/log", LOG]


class Kit:
    def __init__(self, servers: int = 3) -> None:
        self.clock = Clock(start=START, virtual=True)
        self.cluster = Cluster(name="hq")
        blobs = BlobStore()
        self.hosts = [
            make_host(f"server-{i:02d}", "server", seed=1, clock=self.clock, blobs=blobs, cluster=self.cluster)
            for i in range(1, servers + 1)
        ]
        for host in self.hosts:
            host.apply_control({"behaviour": {"msiexec_duration": [40, 40], "server_restart_duration": [5, 5]}})

    def reported(self, host: Host) -> dict[str, t.Any]:
        return {name: value.data for name, value in host.registry.values(SETTINGS_KEY).items()}

    async def install(self, host: Host, arguments: list[str] | None = None, user: str | None = None) -> tuple[int, str]:
        staged = stage_server_installer(host, "9.3.0")
        return await run_server_installer(
            host, str(staged["path"]), ARGS if arguments is None else arguments, user or host.username
        )

    def events(self) -> list[tuple[float, str, str]]:
        return [(e["at"], e["server"], e["event"]) for e in self.cluster.history]


def run(scenario: Callable[[Kit], Awaitable[None]], servers: int = 3) -> None:
    asyncio.run(scenario(Kit(servers)))


def test_a_server_reports_the_product_values() -> None:
    kit = Kit()
    values = kit.reported(kit.hosts[0])
    assert values == {
        "Version": "9.2.0",
        "Mode": "production",
        "Database": "production",
        "SchemaVersion": "9.2.0",
        "ClusterName": "hq",
        "ClusterMembers": ["SERVER-01", "SERVER-02", "SERVER-03"],
    }
    assert kit.hosts[0].registry.get_value(SETTINGS_KEY, "ClusterMembers").type == "REG_MULTI_SZ"
    assert service_status(kit.hosts[0]) == "Running"
    assert service_status(kit.hosts[0], "Spooler") is None


def test_three_servers_in_order_the_last_migrates_and_the_others_reconnect() -> None:
    async def scenario(kit: Kit) -> None:
        a, b, c = kit.hosts
        first = asyncio.ensure_future(kit.install(a))
        await kit.clock.sleep(10)
        assert service_status(a) == "Stopped"
        assert await first == (0, LOG)
        assert kit.clock.monotonic() == 40
        expected = {
            "Version": "9.3.0",
            "Mode": "update",
            "Database": "local-copy",
            "SchemaVersion": "9.2.0",
            "UpdateProgress": "1 of 3 servers updated",
            "LastInstallLog": LOG,
        }
        assert {k: kit.reported(a)[k] for k in expected} == expected
        assert a.server is not None
        assert a.server.as_dict()["admin_console"] is False
        assert kit.cluster.info()["update_in_progress"] is True
        assert await kit.install(b) == (0, LOG)
        assert kit.reported(a)["UpdateProgress"] == "2 of 3 servers updated"  # every member in update mode knows
        assert await kit.install(c) == (0, LOG)
        assert kit.reported(c)["Mode"] == "production"
        assert kit.reported(c)["SchemaVersion"] == "9.3.0"
        assert kit.reported(c)["UpdateProgress"] == "3 of 3 servers updated"
        assert kit.reported(a)["Mode"] == "update"
        assert service_status(a) == "StartPending"
        await kit.clock.sleep(5)
        for host in kit.hosts:
            values = kit.reported(host)
            assert (values["Mode"], values["Database"], values["SchemaVersion"], values["Version"]) == (
                "production",
                "production",
                "9.3.0",
                "9.3.0",
            )
            assert service_status(host) == "Running"
        assert kit.events() == [
            (0, "server-01", "install_started"),
            (40, "server-01", "update_mode"),
            (40, "server-02", "install_started"),
            (80, "server-02", "update_mode"),
            (80, "server-03", "install_started"),
            (120, "server-03", "schema_renewed"),
            (120, "server-01", "restarting"),
            (120, "server-02", "restarting"),
            (125, "server-01", "production"),
            (125, "server-02", "production"),
        ]
        assert [e["mode"] for e in kit.cluster.history if e["server"] == "server-01"] == [
            "production",
            "update",
            "update",
            "production",
        ]
        info = kit.cluster.info()
        assert info == {
            "name": "hq",
            "members": [{"name": f"SERVER-0{i}", "version": "9.3.0", "mode": "production"} for i in (1, 2, 3)],
            "update_in_progress": False,
            "updated": 3,
            "total": 3,
        }
        log = a.files.read_bytes(LOG).decode()
        assert "1 of 3 servers updated" in log
        assert log.rstrip().endswith("exits with code 0: the installation completed")

    run(scenario)


def test_installer_exit_code_fault_rolls_back() -> None:
    async def scenario(kit: Kit) -> None:
        a = kit.hosts[0]
        a.apply_control({"faults": {"server_installer_exit": 1603}})
        code, log = await kit.install(a)
        assert (code, log) == (1603, LOG)
        assert kit.reported(a)["Version"] == "9.2.0"
        assert kit.reported(a)["Mode"] == "production"
        assert kit.reported(a)["LastInstallLog"] == LOG
        assert service_status(a) == "Running"
        assert "exits with code 1603" in a.files.read_bytes(LOG).decode().splitlines()[-1]
        assert kit.events() == [(0, "server-01", "install_started"), (40, "server-01", "install_failed")]
        a.apply_control({"faults": {"server_installer_exit": None}})
        assert await kit.install(a) == (0, LOG)

    run(scenario)


def test_unreachable_mid_update_the_install_completes_meanwhile() -> None:
    async def scenario(kit: Kit) -> None:
        a = kit.hosts[0]
        a.apply_control({"faults": {"server_unreachable_during_install": 60}})
        install = asyncio.ensure_future(kit.install(a))
        await kit.clock.sleep(20)
        assert not a.network_up()
        assert await install == (0, LOG)
        assert not a.network_up()  # down from 40/3 s to 40/3 + 60 s
        assert kit.reported(a)["Mode"] == "update"
        await kit.clock.sleep(40)
        assert a.network_up()
        assert a.faults.server_unreachable_during_install == 0

    run(scenario)


def test_a_member_that_does_not_reconnect_stays_in_update_mode_stopped() -> None:
    async def scenario(kit: Kit) -> None:
        a, b = kit.hosts[:2]
        a.apply_control({"faults": {"server_no_reconnect": True}})
        for host in kit.hosts:
            assert (await kit.install(host))[0] == 0
        await kit.clock.sleep(30)
        assert (kit.reported(a)["Mode"], kit.reported(a)["Database"]) == ("update", "local-copy")
        assert kit.reported(a)["SchemaVersion"] == "9.2.0"
        assert service_status(a) == "Stopped"
        assert kit.reported(b)["Mode"] == "production"
        assert kit.cluster.info()["update_in_progress"] is True
        assert ("server-01", "not_reconnected") in [(s, e) for _at, s, e in kit.events()]

    run(scenario)


@pytest.mark.parametrize(
    ("arguments", "user", "code", "line"),
    [
        (["/quiet", "/norestart", "/log", LOG, "/silent"], None, 87, "unknown switch '/silent'"),
        (["/quiet", "/log"], None, 87, "/log needs a file path"),
        (["/norestart", "/log", LOG], None, 1602, "run it with /quiet"),
        (ARGS, "someone", 1925, "someone is not an administrator"),
    ],
)
def test_the_installer_checks_its_arguments(arguments: list[str], user: str | None, code: int, line: str) -> None:
    async def scenario(kit: Kit) -> None:
        a = kit.hosts[0]
        got, log = await kit.install(a, arguments, user)
        assert got == code
        assert kit.reported(a)["Version"] == "9.2.0"
        assert service_status(a) == "Running"
        if log:
            assert line in a.files.read_bytes(log).decode()
        assert kit.clock.monotonic() == 0

    run(scenario)


def test_installer_without_log_missing_log_folder_and_foreign_file() -> None:
    async def scenario(kit: Kit) -> None:
        a = kit.hosts[0]
        assert await kit.install(a, ["/quiet", "/log", "C:\\NoSuchDir\\x.log"]) == (1622, "")
        a.files.write_bytes("C:\\Install\\other.exe", b"MZ not ours")
        assert (await run_server_installer(a, "C:\\Install\\other.exe", ARGS, a.username))[0] == 1620
        with pytest.raises(FileNotFoundError):
            await run_server_installer(a, "C:\\Install\\missing.exe", ARGS, a.username)
        assert await kit.install(a, ["/QUIET", "/NoRestart"]) == (0, "")  # switches are case-insensitive
        assert await kit.install(a) == (0, LOG)  # the same version again: nothing to do
        assert kit.reported(a)["UpdateProgress"] == "1 of 3 servers updated"

    run(scenario)


def test_staged_installer_has_a_stable_checksum() -> None:
    kit = Kit()
    one, two = (stage_server_installer(h, "9.3.0") for h in kit.hosts[:2])
    assert one["sha256"] == two["sha256"]
    assert one["path"] == "C:\\Install\\Example Backend\\9.3.0\\ExampleBackendSetup.exe"
    assert kit.hosts[0].files.sha256(str(one["path"])) == one["sha256"]
    with pytest.raises(ValueError, match="version must look like"):
        stage_server_installer(kit.hosts[0], "latest")


def test_server_faults_are_refused_on_clients_and_hidden() -> None:
    client = make_host("pc001", "client", seed=1, clock=Clock(start=START, virtual=True), blobs=BlobStore())
    with pytest.raises(ValueError, match=r"unknown key faults\.server_no_reconnect"):
        client.apply_control({"faults": {"server_no_reconnect": True}})
    assert "server_installer_exit" not in client.control_state()["faults"]
    with pytest.raises(ValueError, match=r"faults\.server_installer_exit must be null or an exit code"):
        Kit(1).hosts[0].apply_control({"faults": {"server_installer_exit": "1603"}})
