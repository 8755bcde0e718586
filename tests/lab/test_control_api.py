"""The inspection and control API of a running fleet."""

from __future__ import annotations

import pytest

from lab.control import ControlClient, ControlError
from lab.fleet import FleetThread


@pytest.fixture
def control(lab_fleet: FleetThread) -> ControlClient:
    return ControlClient(lab_fleet.control_url)


def test_list_and_get_hosts(control: ControlClient, lab_fleet: FleetThread) -> None:
    hosts = control.hosts()
    assert [h["name"] for h in hosts] == ["client-0001", "client-0002", "client-0003", "client-0004", "server-01"]
    first = hosts[0]
    assert first["kind"] == "client"
    assert first["address"] == lab_fleet.fleet.hosts["client-0001"].address
    assert first["up"] is True
    detail = control.host("server-01")
    assert detail["kind"] == "server"
    assert "counters" in detail
    assert detail["name"] == "server-01"


def test_errors(control: ControlClient) -> None:
    with pytest.raises(ControlError) as info:
        control.host("no-such-host")
    assert info.value.status == 404
    with pytest.raises(ControlError) as info:
        control.control("client-0001", {"nonsense": True})
    assert info.value.status == 400
    assert "nonsense" in info.value.message
    with pytest.raises(ControlError) as info:
        control.logon("client-0001", "")
    assert info.value.status == 400
    with pytest.raises(ControlError) as info:
        control.request("POST", "/hosts")
    assert info.value.status == 405
    with pytest.raises(ControlError) as info:
        control.request("GET", "/nothing")
    assert info.value.status == 404
    with pytest.raises(ControlError) as info:
        control.reboot("client-0001", downtime=-1)
    assert info.value.status == 400


def test_sessions_and_processes(control: ControlClient) -> None:
    user = control.host("client-0002")["users"]
    person = next(u for u in user if u != "labadmin")
    session = control.logon("client-0002", person)
    assert session
    proc = control.start_process("client-0002", person, "WINWORD.EXE")
    pids = [p["pid"] for p in control.host("client-0002")["processes"]]
    assert proc["pid"] in pids
    control.stop_process("client-0002", proc["pid"])
    assert proc["pid"] not in [p["pid"] for p in control.host("client-0002")["processes"]]
    control.logoff("client-0002", person)


def test_counters_reset_and_fleet_sum(control: ControlClient, lab_fleet: FleetThread) -> None:
    control.reset_counters()
    assert all(v == 0 for v in control.fleet_counters().values())
    import winrm

    fh = lab_fleet.fleet.hosts["client-0002"]
    winrm.Session(f"http://{fh.address}:5985/wsman", auth=(fh.host.username, fh.host.password)).run_cmd("ver")
    counters = control.counters("client-0002")
    assert counters["commands"] == 1
    assert counters["not_implemented"] == 1
    assert control.fleet_counters()["requests"] == counters["requests"]


def test_control_fault_and_reboot(control: ControlClient) -> None:
    state = control.control("client-0003", {"faults": {"unreachable": True}})
    assert state["network_up"] is False
    assert control.host("client-0003")["up"] is False
    control.control("client-0003", {"faults": {"unreachable": False}})
    before = control.host("client-0003")["boot_id"]
    rebooted = control.reboot("client-0003", downtime=0)
    assert rebooted["boot_id"] == before + 1
    assert rebooted["up"] is True


def test_file_inspection(control: ControlClient) -> None:
    listing = control.file("client-0001", "C:\\Windows")
    assert listing["is_dir"] is True
    with pytest.raises(ControlError) as info:
        control.file("client-0001", "C:\\nope\\missing.txt")
    assert info.value.status == 404
