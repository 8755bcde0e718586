"""Bytes and round trips per primitive command: the old way (the primitive as ``-EncodedCommand``)
against the bootstrap (a fixed command line, the primitive on stdin).

Part one needs no lab: the command-line length and the bytes ``WinHost`` counts for every
primitive. Part two starts a small lab fleet in this process (a random free ``127.x.y.1``
range, loopback only) and runs ``Get-HostInfo`` through real pywinrm over each transport,
reading the host's counters: HTTP requests, and body bytes in and out per command (SOAP,
base64 and NTLM sealing included). Bounded: ``--commands`` per transport, at most 200.

    .venv/bin/python bench/transport.py [--commands 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible.plugins.loader import shell_loader  # noqa: E402

from lab.testing import start_test_fleet  # noqa: E402
from lab.winrm.commands import winhost  # noqa: E402

MAX_COMMANDS = 200


def _encode(script: str) -> str:
    return shell_loader.get("powershell")._encode_script(script, strict_mode=True, preserve_rc=False)


def command_lines() -> list[tuple[str, int, int, int, int]]:
    """(primitive, old command line, old bytes, new command line, new bytes) with empty arguments."""
    rows = []
    bootstrap = _encode(winhost.bootstrap_script())
    for name in winhost.primitive_names():
        old = _encode(winhost.build_script(name))
        old_bytes = len(old) + len(winhost.encode_args({}))
        rows.append((name, len(old), old_bytes, len(bootstrap), len(bootstrap) + len(winhost.build_stdin(name, {}))))
    return rows


def wire(commands: int) -> list[tuple[str, str, float, float, float]]:
    """(transport, way, requests, bytes in, bytes out) per command, measured at a lab host."""
    import winrm

    out: list[tuple[str, str, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        fleet = start_test_fleet(Path(tmp), clients=1, servers=0)
        try:
            fh = fleet.fleet.hosts["client-0001"]
            assert fleet.fleet.ca is not None
            ways = {
                "old": (_encode(winhost.build_script("Get-HostInfo")), winhost.encode_args({})),
                "bootstrap": (_encode(winhost.bootstrap_script()), winhost.build_stdin("Get-HostInfo", {})),
            }
            for transport, scheme in (("ntlm", "http"), ("basic", "http"), ("ntlm", "https"), ("basic", "https")):
                port = fh.https_port if scheme == "https" else fh.http_port
                for way, (line, stdin) in ways.items():
                    p = winrm.Protocol(
                        f"{scheme}://{fh.address}:{port}/wsman",
                        transport=transport,
                        username=fh.host.username,
                        password=fh.host.password,
                        server_cert_validation="validate",
                        ca_trust_path=str(fleet.fleet.ca.ca_path),
                    )
                    shell = p.open_shell(codepage=65001)
                    command, *args = line.split(" ")
                    before = fleet.run_sync(lambda: dict(fh.host.counters))
                    for _ in range(commands):
                        command_id = p.run_command(shell, command, args)
                        p.send_command_input(shell, command_id, stdin, end=True)
                        p.get_command_output(shell, command_id)
                        p.cleanup_command(shell, command_id)
                    after = fleet.run_sync(lambda: dict(fh.host.counters))
                    p.close_shell(shell)
                    delta = {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "bytes_in", "bytes_out")}
                    out.append(
                        (
                            f"{transport}/{scheme}",
                            way,
                            delta["requests"] / commands,
                            delta["bytes_in"] / commands,
                            delta["bytes_out"] / commands,
                        )
                    )
        finally:
            fleet.stop()
    return out


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20)
    options = parser.parse_args(argv)
    commands = max(1, min(MAX_COMMANDS, options.commands))
    print("| primitive | old command line | old bytes sent | new command line | new bytes sent |")
    print("|---|---|---|---|---|")
    for name, old_line, old_bytes, new_line, new_bytes in command_lines():
        flag = " (over 8,191)" if old_line > winhost.MAX_COMMAND_LINE else ""
        print(f"| {name} | {old_line:,}{flag} | {old_bytes:,} | {new_line:,} | {new_bytes:,} |")
    print()
    print(f"Get-HostInfo at a lab host, mean of {commands} commands on one kept shell:")
    print("| transport | way | HTTP requests | bytes in (to host) | bytes out (from host) |")
    print("|---|---|---|---|---|")
    for transport, way, requests, bytes_in, bytes_out in wire(commands):
        print(f"| {transport} | {way} | {requests:.1f} | {bytes_in:,.0f} | {bytes_out:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
