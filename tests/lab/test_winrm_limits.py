"""The WinRM quotas a Windows host enforces, enforced by the lab in Windows' own words (lab/winrm/limits.py).

Every test goes through real pywinrm (or ansible-playbook) and asserts what a client would see:
the HTTP status, the WS-Man fault code, and the fault's text.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import winrm
from _winrm_client import encoded
from _winrm_fakehost import FakeHost
from _winrm_fakehost import make_host as make_fake_host
from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from lab.control import ControlClient
from lab.fleet import FleetHost, FleetThread
from lab.testing import start_test_fleet
from lab.winrm.commands import winhost
from lab.winrm.limits import WinRMLimits

HERE = Path(__file__).resolve().parent
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
SHELL_NOT_FOUND = 2150858843
QUOTA_MAX_SHELLS = 2150859173
QUOTA_MAX_OPERATIONS = 2150859174


def _protocol(fh: FleetHost, transport: str = "basic", **kwargs: t.Any) -> winrm.Protocol:
    return winrm.Protocol(
        f"http://{fh.address}:{fh.http_port}/wsman",
        transport=transport,
        username=fh.host.username,
        password=fh.host.password,
        **kwargs,
    )


def _host_info(p: winrm.Protocol, shell: str) -> int:
    command, args = encoded(winhost.bootstrap_script())
    command_id = p.run_command(shell, command, args)
    p.send_command_input(shell, command_id, winhost.build_stdin("Get-HostInfo", {}), end=True)
    _out, _err, rc = p.get_command_output(shell, command_id)
    p.cleanup_command(shell, command_id)
    return rc


@pytest.fixture(scope="module")
def default_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    """Windows' default limits, real host model, nothing else sharing its shells."""
    fleet = start_test_fleet(tmp_path_factory.mktemp("limits_default"), clients=3, servers=0)
    try:
        yield fleet
    finally:
        fleet.stop()


def test_fleets_enforce_windows_defaults_unless_told_otherwise(default_fleet: FleetThread) -> None:
    limits = default_fleet.fleet.hosts["client-0001"].server.limits
    assert limits == WinRMLimits()
    assert (limits.max_envelope_size_kb, limits.max_shells_per_user) == (500, 30)
    assert (limits.max_concurrent_operations_per_user, limits.idle_timeout_ms, limits.max_timeout_ms) == (
        1500,
        7_200_000,
        60_000,
    )
    with pytest.raises(ValueError, match="at least 32"):
        WinRMLimits(max_envelope_size_kb=31)
    with pytest.raises(ValueError, match="positive integer"):
        WinRMLimits(max_shells_per_user=0)


# ---- MaxEnvelopeSizekb -------------------------------------------------------------------------------


def _raw_post(fh: FleetHost, size: int) -> requests.Response:
    """A Create envelope padded with XML whitespace to exactly ``size`` bytes, sent with Basic auth."""
    head = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        "</s:Header><s:Body>"
    ).encode()
    tail = b"</s:Body></s:Envelope>"
    body = head + b" " * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return requests.post(
        f"http://{fh.address}:{fh.http_port}/wsman",
        data=body,
        auth=(fh.host.username, fh.host.password),
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        timeout=30,
    )


def test_envelope_over_500_kb_is_http_413(default_fleet: FleetThread) -> None:
    fh = default_fleet.fleet.hosts["client-0001"]
    at_limit = _raw_post(fh, 500 * 1024)
    assert at_limit.status_code == 200, at_limit.text
    # The shell it made is real: delete it again so it does not count against the quota.
    shell_id = at_limit.text.split('Name="ShellId">', 1)[1].split("<", 1)[0]
    _protocol(fh).close_shell(shell_id)
    over = _raw_post(fh, 500 * 1024 + 1)
    assert over.status_code == 413
    assert over.content == b""  # no SOAP fault: Windows' WinRM client only sees the status


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_pywinrm_send_over_the_limit_fails_and_ansible_sized_chunks_fit(
    default_fleet: FleetThread, transport: str
) -> None:
    fh = default_fleet.fleet.hosts["client-0002"]
    p = _protocol(fh, transport, message_encryption="auto" if transport == "ntlm" else "never")
    shell = p.open_shell(codepage=65001)
    try:
        command, args = encoded(f"{winhost.MARKER_PREFIX}Get-HostInfo\n$null = 1")
        command_id = p.run_command(shell, command, args)
        # ansible-core's put_file: 250,000 raw bytes, base64 + CRLF on stdin (333,338), base64 again in the
        # Send envelope: about 446 KB, which fits 500 KB (the reason for ansible's chunk size).
        put_chunk = base64.b64encode(os.urandom(250_000)) + b"\r\n"
        p.send_command_input(shell, command_id, put_chunk, end=False)
        # 400,000 bytes of stdin are 533,336 base64 characters: Windows answers 413 and pywinrm has no fault to parse.
        with pytest.raises(WinRMTransportError) as info:
            p.send_command_input(shell, command_id, b"x" * 400_000, end=True)
        assert info.value.code == 413
        assert not isinstance(info.value, WSManFaultError)
    finally:
        p.close_shell(shell)
    assert fh.host.counters["envelope_too_large"] >= 1


# ---- MaxShellsPerUser ---------------------------------------------------------------------------------


def test_31st_shell_is_refused_with_windows_quota_fault(default_fleet: FleetThread) -> None:
    fh = default_fleet.fleet.hosts["client-0003"]
    p = _protocol(fh)
    shells = [p.open_shell() for _ in range(30)]
    try:
        with pytest.raises(WSManFaultError) as info:
            p.open_shell()
        fault = info.value
        assert fault.code == 500
        assert fault.wsman_fault_code == QUOTA_MAX_SHELLS
        assert (fault.fault_code, fault.fault_subcode) == ("s:Sender", "w:QuotaLimit")
        assert fault.reason == (
            "The WS-Management service cannot process the request. The maximum number of concurrent shells for "
            "this user has been exceeded. Close existing shells or raise the quota for this user."
        )
        assert (
            "This user is allowed a maximum number of 30 concurrent shells, which has been exceeded. "
            "Close existing shells or raise the quota for this user." in fault.response
        )
        # The shells that were open still work, and closing one makes room for a new one.
        assert _host_info(p, shells[-1]) == 0
        p.close_shell(shells.pop())
        shells.append(p.open_shell())
    finally:
        for shell in shells:
            p.close_shell(shell)


# ---- MaxConcurrentOperationsPerUser -----------------------------------------------------------------


def test_commands_hold_operations_until_their_shell_closes_at_1500(default_fleet: FleetThread) -> None:
    fh = default_fleet.fleet.hosts["client-0001"]
    p = _protocol(fh)
    shell = p.open_shell()  # the shell is one operation
    try:
        # Commands that ran and were cleaned up still count: WinRS frees them only with their shell.
        assert _host_info(p, shell) == 0
        for _ in range(1498):
            p.run_command(shell, "cmd", ["/c", "ver"])
        with pytest.raises(WSManFaultError) as info:
            p.run_command(shell, "cmd", ["/c", "ver"])
        fault = info.value
        # The MSFT_WmiError form ansible-core's winrm plugin checks before it re-creates its shell.
        assert fault.wmierror_code == 0x803381A6 == QUOTA_MAX_OPERATIONS
        assert fault.wsman_fault_code is None
        assert (
            "This user is allowed a maximum number of 1500 concurrent operations, which has been exceeded. "
            "Close existing operations for this user, or raise the quota for this user." in fault.response
        )
    finally:
        p.close_shell(shell)
    fresh = p.open_shell()
    try:
        assert _host_info(p, fresh) == 0
    finally:
        p.close_shell(fresh)


@pytest.fixture(scope="module")
def low_ops_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    fleet = start_test_fleet(
        tmp_path_factory.mktemp("limits_ops"),
        clients=1,
        servers=0,
        transport="basic",
        winrm_limits=WinRMLimits(max_concurrent_operations_per_user=3),
    )
    try:
        yield fleet
    finally:
        fleet.stop()


def test_ansible_recreates_its_shell_when_the_operation_quota_is_hit(
    low_ops_fleet: FleetThread, tmp_path: Path
) -> None:
    """Five primitives in one task's connection, with room for a shell and two commands: ansible copes."""
    play = tmp_path / "play.yml"
    play.write_text(
        """
- hosts: client-0001
  gather_facts: false
  tasks:
    - lab_primitive: {name: Get-HostInfo}
      loop: [1, 2, 3, 4, 5]
""",
        encoding="utf-8",
    )
    env = dict(
        os.environ,
        ANSIBLE_ACTION_PLUGINS=str(HERE / "action_plugins"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    assert low_ops_fleet.config.inventory is not None
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(low_ops_fleet.config.inventory), str(play)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counters = ControlClient(low_ops_fleet.control_url).counters("client-0001")
    assert counters["primitive:Get-HostInfo"] == 5
    assert counters["quota_operations"] >= 1  # the quota was really hit, and ansible opened a new shell


# ---- IdleTimeout ------------------------------------------------------------------------------------------


def test_idle_shell_is_deleted_after_two_hours_of_lab_time(tmp_path: Path) -> None:
    fleet = start_test_fleet(tmp_path, clients=1, servers=0, winrm_limits=WinRMLimits(max_shells_per_user=1))
    try:
        fh = fleet.fleet.hosts["client-0001"]
        clock = fleet.fleet.clock
        assert clock is not None
        p = _protocol(fh)
        shell = p.open_shell()
        # Every request restarts the countdown: two idle spells just under 7,200 s each are fine.
        fleet.run_sync(lambda: clock.advance(7_199))
        assert _host_info(p, shell) == 0
        fleet.run_sync(lambda: clock.advance(7_199))
        assert _host_info(p, shell) == 0
        fleet.run_sync(lambda: clock.advance(7_201))
        with pytest.raises(WSManFaultError) as info:
            p.run_command(shell, "cmd", ["/c", "ver"])
        assert info.value.wsman_fault_code == SHELL_NOT_FOUND
        assert info.value.reason == (
            f"The request for the Windows Remote Shell with ShellId {shell} failed because the shell was not found "
            "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists "
            "on the server. Provide the correct ShellId or create a new shell and retry the operation. "
        )
        # The expired shell no longer counts against MaxShellsPerUser (1 here).
        fresh = p.open_shell()
        assert _host_info(p, fresh) == 0
        p.close_shell(fresh)
        assert fh.host.counters["shells_expired"] == 1
    finally:
        fleet.stop()


# ---- MaxTimeoutms -------------------------------------------------------------------------------------------


def test_operation_timeout_above_max_timeout_is_capped_not_refused(tmp_path: Path) -> None:
    fleet = start_test_fleet(
        tmp_path,
        clients=1,
        servers=0,
        host_factory=make_fake_host,
        transport="basic",
        winrm_limits=WinRMLimits(max_timeout_ms=500),
    )
    try:
        fh = fleet.fleet.hosts["client-0001"]
        # The client asks for 60 s per Receive; the host answers the timeout fault after MaxTimeoutms
        # instead, and pywinrm polls again until the command ends.
        p = _protocol(fh, operation_timeout_sec=60, read_timeout_sec=70)
        shell = p.open_shell()
        command, args = encoded(f"{winhost.MARKER_PREFIX}Wait-Lab\n$null = 1")

        def slow_commands() -> None:  # host state belongs to the fleet's loop thread
            assert isinstance(fh.host, FakeHost)
            fh.host.command_seconds = 1.5

        fleet.run_sync(slow_commands)
        command_id = p.run_command(shell, command, args)
        p.send_command_input(shell, command_id, b"{}", end=True)
        timeouts = 0
        while True:
            try:
                _out, _err, rc, done = p.get_command_output_raw(shell, command_id)
            except WinRMOperationTimeoutError:
                timeouts += 1
                continue
            if done:
                break
        assert timeouts >= 1
        assert rc == 1
        p.close_shell(shell)
    finally:
        fleet.stop()
