"""Get-ServerState and Invoke-ServerInstaller in the lab: what a server reports, and its installer's run."""

from __future__ import annotations

import asyncio
import hashlib
import typing as t

import pytest

from lab import collection
from lab.clock import Clock
from lab.host import BlobStore, Cluster, make_host
from lab.host.serverproduct import SETTINGS_KEY, stage_server_installer
from lab.primitives import core

winhost = collection.winhost()
QUESTION = {"settings_key": r"SOFTWARE\Example Corp\Example Backend", "service": "ExampleBackend"}
LOG = r"C:\ProgramData\Example Backend\Logs\setup-9.3.0-test.log"


class Servers:
    """Servers of one cluster on one virtual clock, and the one event loop their commands run on."""

    def __init__(self, *names: str) -> None:
        self.clock = Clock(virtual=True)
        self.cluster = Cluster()
        blobs = BlobStore()
        self.hosts = {
            n: make_host(n, "server", seed=i, clock=self.clock, blobs=blobs, cluster=self.cluster)
            for i, n in enumerate(names, 1)
        }
        self.loop = asyncio.new_event_loop()

    def call(self, name: str, primitive: str, args: dict[str, t.Any], user: str | None = None) -> dict[str, t.Any]:
        host = self.hosts[name]
        rc, out, err = self.loop.run_until_complete(core.run(host, primitive, args, user or host.username))
        return winhost.parse_output(primitive, rc, out, err)

    def install(self, name: str, version: str = "9.3.0", **more: t.Any) -> dict[str, t.Any]:
        staged = stage_server_installer(self.hosts[name], version)
        args = {
            "installer": staged["path"],
            "sha256": staged["sha256"].upper(),
            "command_line": f'/quiet /norestart /log "{LOG}"',
            "log_path": LOG,
            "timeout_seconds": 3600,
            **more,
        }
        return self.call(name, "Invoke-ServerInstaller", args)


@pytest.fixture
def servers() -> t.Iterator[Servers]:
    made = Servers("srv1", "srv2")
    yield made
    made.loop.close()


def test_state_of_a_server_in_production(servers: Servers) -> None:
    answer = servers.call("srv1", "Get-ServerState", QUESTION)
    assert answer["name"] == "SRV1"
    assert answer["key_exists"] is True
    assert answer["service"] == "Running"
    assert answer["values"]["Version"] == "9.2.0"
    assert answer["values"]["Mode"] == "production"
    assert answer["values"]["ClusterMembers"] == ["SRV1", "SRV2"]
    assert answer["kinds"]["ClusterMembers"] == "MultiString"
    assert answer["kinds"]["Version"] == "String"
    assert answer["values"]["UpdateProgress"] is None
    assert answer["kinds"]["UpdateProgress"] is None


def test_state_reports_a_values_kind_and_bounds_its_length(servers: Servers) -> None:
    host = servers.hosts["srv1"]
    host.registry.set_value(SETTINGS_KEY, "Mode", 7, "REG_DWORD")
    host.registry.set_value(SETTINGS_KEY, "ClusterName", "x" * 10_000)
    answer = servers.call("srv1", "Get-ServerState", QUESTION)
    assert (answer["values"]["Mode"], answer["kinds"]["Mode"]) == (7, "DWord")
    assert len(answer["values"]["ClusterName"]) == 4096


def test_state_without_the_product_or_its_service(servers: Servers) -> None:
    answer = servers.call("srv1", "Get-ServerState", {"settings_key": r"SOFTWARE\Nobody", "service": "Nothing"})
    assert answer["key_exists"] is False
    assert answer["service"] is None
    assert set(answer["values"].values()) == {None}


def test_installer_puts_a_server_in_update_mode_then_the_last_finishes_the_cluster(servers: Servers) -> None:
    first = servers.install("srv1")
    assert (first["ran"], first["rc"], first["elevated"], first["running"]) == (True, 0, True, False)
    state = servers.call("srv1", "Get-ServerState", QUESTION)["values"]
    assert (state["Version"], state["Mode"], state["Database"]) == ("9.3.0", "update", "local-copy")
    assert state["UpdateProgress"] == "1 of 2 servers updated"
    assert state["LastInstallLog"] == LOG
    assert servers.install("srv2")["rc"] == 0
    last = servers.call("srv2", "Get-ServerState", QUESTION)["values"]
    assert (last["Mode"], last["Database"], last["SchemaVersion"]) == ("production", "production", "9.3.0")


def test_a_wrong_digest_runs_nothing(servers: Servers) -> None:
    answer = servers.install("srv1", sha256="0" * 64)
    assert answer["exists"] is True
    assert answer["ran"] is False
    assert answer["rc"] is None
    staged = servers.hosts["srv1"].files.read_bytes(r"C:\Install\Example Backend\9.3.0\ExampleBackendSetup.exe")
    assert answer["sha256"] == hashlib.sha256(staged).hexdigest().upper()
    assert servers.cluster.servers["srv1"].version == "9.2.0"


def test_a_missing_installer_and_a_standard_user(servers: Servers) -> None:
    missing = servers.call(
        "srv1", "Invoke-ServerInstaller", {"installer": r"C:\nothing.exe", "sha256": "0" * 64, "log_path": LOG}
    )
    assert (missing["exists"], missing["ran"]) == (False, False)
    staged = stage_server_installer(servers.hosts["srv1"], "9.3.0")
    args = {"installer": staged["path"], "sha256": staged["sha256"], "command_line": "/quiet", "log_path": LOG}
    servers.hosts["srv1"].sid_of("operator")
    as_user = servers.call("srv1", "Invoke-ServerInstaller", args, user="operator")
    assert (as_user["elevated"], as_user["ran"]) == (False, False)


def test_a_failing_installer_returns_its_code_and_log_tail(servers: Servers) -> None:
    servers.hosts["srv1"].apply_control({"faults": {"server_installer_exit": 1603}})
    answer = servers.install("srv1")
    assert answer["rc"] == 1603
    assert any("1603" in line for line in answer["log_tail"])
    assert servers.cluster.servers["srv1"].version == "9.2.0"


def test_an_installer_past_its_timeout_is_left_running(servers: Servers) -> None:
    servers.hosts["srv1"].apply_control({"behaviour": {"msiexec_duration": [600, 600]}})
    answer = servers.install("srv1", timeout_seconds=60)
    assert answer["running"] is True
    assert answer["rc"] is None
    assert isinstance(answer["pid"], int)
    servers.loop.run_until_complete(servers.clock.sleep(700))
    assert servers.cluster.servers["srv1"].mode == "update"
