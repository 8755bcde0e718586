"""pywinrm straight against the lab's WinRM listeners: every transport, auth failures, faults, long commands."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import winrm
from _winrm_client import encoded, run
from _winrm_fakehost import FakeHost
from _winrm_fakehost import make_host as make_fake_host
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

from lab.fleet import FleetHost, FleetThread
from lab.testing import start_test_fleet
from lab.winrm.commands import winhost


def _run(p: winrm.Protocol, script: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    return run(p, *encoded(script), stdin)


def _protocol(fh: FleetHost, fleet: FleetThread, transport: str, scheme: str, **kwargs: t.Any) -> winrm.Protocol:
    port = fh.https_port if scheme == "https" else fh.http_port
    assert fleet.fleet.ca is not None
    return winrm.Protocol(
        f"{scheme}://{fh.address}:{port}/wsman",
        transport=transport,
        username=kwargs.pop("username", fh.host.username),
        password=kwargs.pop("password", fh.host.password),
        server_cert_validation="validate",
        ca_trust_path=str(fleet.fleet.ca.ca_path),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("transport", "scheme"), [("basic", "http"), ("ntlm", "http"), ("basic", "https"), ("ntlm", "https")]
)
def test_primitive_over_every_transport(lab_fleet: FleetThread, transport: str, scheme: str) -> None:
    fh = lab_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh, lab_fleet, transport, scheme)
    rc, out, err = _run(p, winhost.bootstrap_script(), winhost.build_stdin("Get-HostInfo", {}))
    assert rc == 0, err
    result = winhost.parse_output("Get-HostInfo", rc, out.decode(), err.decode())
    assert isinstance(result, dict)
    # NTLM over plain http must really encrypt (what pywinrm negotiates with message_encryption=auto).
    assert (p.transport.encryption is not None) == (transport == "ntlm" and scheme == "http")


def test_raw_command_is_not_implemented(lab_fleet: FleetThread) -> None:
    fh = lab_fleet.fleet.hosts["client-0002"]
    session = winrm.Session(f"http://{fh.address}:5985/wsman", auth=(fh.host.username, fh.host.password))
    r = session.run_cmd("ipconfig", ["/all"])
    assert r.status_code == 1
    assert r.std_err.decode().strip() == "lab: not implemented: ipconfig /all"
    r = session.run_ps("Get-Service | Select-Object -First 1")
    assert r.std_err.decode().startswith("lab: not implemented: Get-Service | Select-Object -First 1")


@pytest.mark.parametrize(("transport", "scheme"), [("basic", "http"), ("ntlm", "http"), ("ntlm", "https")])
def test_wrong_password_is_401(lab_fleet: FleetThread, transport: str, scheme: str) -> None:
    fh = lab_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh, lab_fleet, transport, scheme, password="not-the-password")
    with pytest.raises(InvalidCredentialsError):
        p.open_shell()


def test_other_hosts_password_is_rejected(lab_fleet: FleetThread) -> None:
    one, two = lab_fleet.fleet.hosts["client-0001"], lab_fleet.fleet.hosts["client-0002"]
    p = _protocol(one, lab_fleet, "ntlm", "http", password=two.host.password)
    if one.host.password != two.host.password:
        with pytest.raises(InvalidCredentialsError):
            p.open_shell()


def test_certificate_auth_is_refused(lab_fleet: FleetThread) -> None:
    fh = lab_fleet.fleet.hosts["client-0001"]
    assert lab_fleet.fleet.ca is not None
    r = requests.post(
        f"https://{fh.address}:{fh.https_port}/wsman",
        data=b"<x/>",
        headers={"Authorization": "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"},
        verify=str(lab_fleet.fleet.ca.ca_path),
        timeout=10,
    )
    assert r.status_code == 401
    assert "certificate authentication is not supported" in r.text


def test_unknown_shell_is_a_fault(lab_fleet: FleetThread) -> None:
    fh = lab_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh, lab_fleet, "ntlm", "http")
    with pytest.raises(WSManFaultError) as info:
        p.run_command("7E5F8A4C-0000-0000-0000-000000000000", "cmd", ["/c", "ver"])
    assert info.value.wsman_fault_code == 2150858843


def test_https_certificate_names_the_host(lab_fleet: FleetThread) -> None:
    fh = lab_fleet.fleet.hosts["client-0003"]
    assert lab_fleet.fleet.ca is not None
    # Validation by IP address (what the inventory uses) is covered above; the DNS name is in the SAN too.
    from cryptography import x509

    cert = x509.load_pem_x509_certificates(lab_fleet.fleet.ca.host_cert_path(fh.name, fh.address).read_bytes())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert fh.name in san.get_values_for_type(x509.DNSName)


# ---- behaviour that needs a controllable host: a dedicated fleet of fake hosts --------------------------


@pytest.fixture(scope="module")
def fake_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    fleet = start_test_fleet(
        tmp_path_factory.mktemp("fake_fleet"), clients=3, servers=0, host_factory=make_fake_host, transport="ntlm"
    )
    try:
        yield fleet
    finally:
        fleet.stop()


_WAIT = f"{winhost.MARKER_PREFIX}Wait-Lab\n$null = 1"


def _slow_commands(fh: FleetHost, seconds: float) -> None:
    assert isinstance(fh.host, FakeHost)
    fh.host.command_seconds = seconds


def test_long_command_polls_through_operation_timeouts(fake_fleet: FleetThread) -> None:
    fh = fake_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh, fake_fleet, "ntlm", "http", operation_timeout_sec=1, read_timeout_sec=3)
    shell = p.open_shell()
    command, args = encoded(_WAIT)
    fake_fleet.run_sync(lambda: _slow_commands(fh, 2.2))
    try:
        command_id = p.run_command(shell, command, args)
        p.send_command_input(shell, command_id, b"{}", end=True)
        timeouts = 0
        started = time.monotonic()  # a lower bound only: the command takes 2.2 s, a slow machine just adds to it
        while True:
            try:
                _out, _err, rc, done = p.get_command_output_raw(shell, command_id)
            except WinRMOperationTimeoutError:
                timeouts += 1
                continue
            if done:
                break
    finally:
        fake_fleet.run_sync(lambda: _slow_commands(fh, 0.0))
    assert timeouts >= 2
    assert rc == 1
    assert time.monotonic() - started > 2.0
    p.close_shell(shell)


def test_dropped_host_aborts_the_connection(fake_fleet: FleetThread) -> None:
    fh = fake_fleet.fleet.hosts["client-0002"]
    p = _protocol(fh, fake_fleet, "basic", "http")
    shell = p.open_shell()
    command, args = encoded(_WAIT)
    command_id = p.run_command(shell, command, args)
    fake_fleet.run_sync(lambda: fh.host.apply_control({"faults": {"drop_next": 1}}))
    p.send_command_input(shell, command_id, b"{}", end=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        p.get_command_output(shell, command_id)


def test_network_down_resets_connections_quickly(fake_fleet: FleetThread) -> None:
    fh = fake_fleet.fleet.hosts["client-0003"]
    p = _protocol(fh, fake_fleet, "ntlm", "http")
    shell = p.open_shell()
    fake_fleet.run_sync(lambda: fh.host.apply_control({"faults": {"unreachable": True}}))
    try:
        # Reset, not a client timeout: the lab drops the connection instead of letting it hang.
        with pytest.raises(requests.exceptions.ConnectionError) as open_conn:
            p.run_command(shell, "cmd", ["/c", "ver"])
        assert not isinstance(open_conn.value, requests.exceptions.Timeout)
        fresh = _protocol(fh, fake_fleet, "basic", "http")
        with pytest.raises(requests.exceptions.ConnectionError) as new_conn:
            fresh.open_shell()
        assert not isinstance(new_conn.value, requests.exceptions.Timeout)
    finally:
        fake_fleet.run_sync(lambda: fh.host.apply_control({"faults": {"unreachable": False}}))
    assert _protocol(fh, fake_fleet, "basic", "http").open_shell()


def test_shell_is_gone_after_reboot(fake_fleet: FleetThread) -> None:
    fh = fake_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh, fake_fleet, "basic", "http")
    shell = p.open_shell()
    fake_fleet.run_sync(lambda: fh.host.reboot(0))
    with pytest.raises(WSManFaultError) as info:
        p.run_command(shell, "cmd", ["/c", "ver"])
    assert info.value.wsman_fault_code == 2150858843


def test_latency_is_applied(fake_fleet: FleetThread) -> None:
    fh = fake_fleet.fleet.hosts["client-0002"]
    p = _protocol(fh, fake_fleet, "basic", "http")
    fake_fleet.run_sync(lambda: fh.host.apply_control({"behaviour": {"latency_ms": 150}}))
    try:
        started = time.monotonic()
        p.close_shell(p.open_shell())
        assert time.monotonic() - started >= 0.3
    finally:
        fake_fleet.run_sync(lambda: fh.host.apply_control({"behaviour": {"latency_ms": 0}}))


def test_counters(fake_fleet: FleetThread, tmp_path: Path) -> None:
    fh = fake_fleet.fleet.hosts["client-0003"]
    fake_fleet.run_sync(fh.host.counters.clear)
    p = _protocol(fh, fake_fleet, "basic", "http")
    rc, _, _ = _run(p, winhost.bootstrap_script(), winhost.build_stdin("Get-HostInfo", {}))
    assert rc == 0
    counters = dict(fh.host.counters)
    assert counters["commands"] == 1
    assert counters["primitive:Get-HostInfo"] == 1
    assert counters["requests"] == 6  # create, command, send, receive, signal, delete
    assert counters["bytes_in"] > 0
    assert counters["bytes_out"] > 0
