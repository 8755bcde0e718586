"""The lab refuses what cmd.exe refuses, and speaks the console's code page unless told UTF-8.

Both are Windows facts the collection must live with: WinRS runs every command line through
cmd.exe (8,191 characters at most, Microsoft KB 830473), and Windows PowerShell 5.1 writes stdout
in the OEM code page unless ``[Console]::OutputEncoding`` is set.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator

import pytest
import winrm
from _winrm_client import encoded, run

from lab.fleet import FleetHost, FleetThread
from lab.testing import start_test_fleet
from lab.winrm.commands import winhost


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    ft = start_test_fleet(tmp_path_factory.mktemp("cmdline"), clients=2, servers=0, transport="basic")
    try:
        yield ft
    finally:
        ft.stop()


def _run(fh: FleetHost, command: str, args: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    p = winrm.Protocol(
        f"http://{fh.address}:{fh.http_port}/wsman",
        transport="basic",
        username=fh.host.username,
        password=fh.host.password,
    )
    return run(p, command, args, stdin)


def _control(fleet: FleetThread, name: str, behaviour: dict[str, t.Any]) -> None:
    fleet.run_sync(lambda: fleet.fleet.hosts[name].host.apply_control({"behaviour": behaviour}))


def test_command_line_over_8191_is_refused(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0001"]
    # "echo " plus padding: exactly 8,191 characters pass cmd.exe, one more does not.
    rc, _out, err = _run(fh, "echo", ["x" * (8191 - len("echo "))])
    assert b"too long" not in err
    rc, out, err = _run(fh, "echo", ["x" * (8192 - len("echo "))])
    assert (rc, out, err) == (1, b"", b"The command line is too long.\r\n")


def test_a_primitive_sent_as_encoded_command_is_too_long(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0001"]
    command, args = encoded(winhost.build_script("Save-PackageUrl"))
    rc, _out, err = _run(fh, command, args, winhost.encode_args({}))
    assert (rc, err) == (1, b"The command line is too long.\r\n")


def test_the_bootstrap_runs_every_primitive_from_stdin(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0001"]
    command, args = encoded(winhost.bootstrap_script())
    rc, out, err = _run(fh, command, args, winhost.build_stdin("Get-HostInfo", {}))
    assert rc == 0, err
    assert winhost.parse_output("Get-HostInfo", rc, out.decode("utf-8"), err.decode())["computer_name"]


def test_output_is_in_the_oem_code_page_unless_the_script_sets_utf8(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0002"]
    _control(fleet, "client-0002", {"oem_codepage": 850})
    fleet.run_sync(lambda: fh.host.logon("J\u00fcrgen"))
    # A bootstrap that does not set the output encoding: the answer comes in code page 850.
    no_utf8 = "\n".join(line for line in winhost.bootstrap_script().splitlines() if "OutputEncoding" not in line)
    command, args = encoded(no_utf8)
    rc, raw, _err = _run(fh, command, args, winhost.build_stdin("Get-HostInfo", {}))
    assert rc == 0
    assert "J\u00fcrgen".encode("cp850") in raw
    assert "J\u00fcrgen".encode() not in raw
    # Behind the bootstrap, UTF-8.
    command, args = encoded(winhost.bootstrap_script())
    rc, raw, _err = _run(fh, command, args, winhost.build_stdin("Get-HostInfo", {}))
    users = json.loads(raw.decode("utf-8"))["logged_on_users"]
    assert any(u.endswith("\\J\u00fcrgen") for u in users)


def test_constrained_language_gets_a_clear_refusal(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0001"]
    _control(fleet, "client-0001", {"language_mode": "ConstrainedLanguage"})
    before = fleet.run_sync(lambda: fh.host.counters.get("primitive:Get-HostInfo", 0))
    try:
        command, args = encoded(winhost.bootstrap_script())
        rc, out, _err = _run(fh, command, args, winhost.build_stdin("Get-HostInfo", {}))
        with pytest.raises(winhost.PrimitiveError, match="ConstrainedLanguage mode on this host"):
            winhost.parse_output("Get-HostInfo", rc, out.decode(), "")
        assert fleet.run_sync(lambda: fh.host.counters.get("primitive:Get-HostInfo", 0)) == before
    finally:
        _control(fleet, "client-0001", {"language_mode": "FullLanguage"})


def test_a_bootstrap_without_the_language_check_meets_windows_own_error(fleet: FleetThread) -> None:
    fh = fleet.fleet.hosts["client-0001"]
    _control(fleet, "client-0001", {"language_mode": "ConstrainedLanguage"})
    try:
        unguarded = "\n".join(line for line in winhost.bootstrap_script().splitlines() if "LanguageMode" not in line)
        command, args = encoded(unguarded)
        rc, _out, err = _run(fh, command, args, winhost.build_stdin("Get-HostInfo", {}))
        assert rc == 1
        assert b"Method invocation is supported only on core types in this language mode." in err
    finally:
        _control(fleet, "client-0001", {"language_mode": "FullLanguage"})


def test_arguments_over_convertfrom_json_limit_are_refused_in_its_words(fleet: FleetThread) -> None:
    # Windows PowerShell 5.1's ConvertFrom-Json reads at most 2,097,152 characters (MaxJsonLength).
    fh = fleet.fleet.hosts["client-0001"]
    command, args = encoded(winhost.bootstrap_script())
    fits = winhost.build_stdin("Get-HostInfo", {"pad": "x" * (winhost.MAX_ARGS_CHARS - len('{"pad":""}'))})
    rc, out, err = _run(fh, command, args, fits)
    assert rc == 0, err
    script, _sep, _args = fits.partition(winhost.STDIN_SEPARATOR.encode("ascii"))
    over = script + winhost.STDIN_SEPARATOR.encode("ascii") + b'{"pad":"' + b"x" * winhost.MAX_ARGS_CHARS + b'"}\n'
    rc, out, err = _run(fh, command, args, over)
    assert rc != 0
    with pytest.raises(winhost.PrimitiveError, match="exceeds the value set on the maxJsonLength property"):
        winhost.parse_output("Get-HostInfo", rc, out.decode("utf-8"), err.decode())
    # The controller never sends that much: it refuses first, naming the limit.
    with pytest.raises(ValueError, match=r"over the 2,097,152 Windows PowerShell 5\.1's ConvertFrom-Json reads"):
        winhost.build_stdin("Get-HostInfo", {"pad": "x" * winhost.MAX_ARGS_CHARS})
