"""Script characters, bytes and round trips per primitive command, before and after the host cache.

Ways a primitive travels (the command line is always ``-EncodedCommand`` of a fixed bootstrap):

* ``before``: the bootstrap as it was before the host cache (2,452 characters encoded, kept below as
  :data:`OLD_BOOTSTRAP` for this comparison) and the whole script on stdin, on every command;
* ``first``: a host's first command for a primitive (the controller has no record it holds it): the
  storing loader, then the whole script, which the host keeps;
* ``next``: every later command: a short loader naming the primitive and its SHA-256;
* ``off``: ``rollout_windows_primitive_cache: false`` (or a host that cannot keep them): the whole script.

Part one needs no lab: the characters of script per command (command line plus stdin up to the
arguments) for every primitive. Part two starts a small lab fleet in this process (a random free
``127.x.y.1`` range, loopback only) and runs ``Get-HostInfo`` through real pywinrm each way, reading
the host's counters: HTTP requests, and body bytes in and out per command (SOAP, base64 and NTLM
sealing included). Bounded: ``--commands`` per way and transport, at most 200.

    .venv/bin/python bench/transport.py [--commands 20]

Measured on the 2-core development machine (``--commands 5``), Get-HostInfo, per command (4 HTTP
requests each way: Command, Send, Receive, Signal; https rows equal basic/http):

| transport | way | HTTP requests | bytes in (to host) | bytes out (from host) |
|---|---|---|---|---|
| ntlm/http | before | 4.0 | 15,783 | 4,930 |
| ntlm/http | first | 4.0 | 21,240 | 5,076 |
| ntlm/http | next | 4.0 | 10,171 | 4,930 |
| ntlm/http | off | 4.0 | 14,651 | 4,930 |
| basic/http | before | 4.0 | 14,751 | 3,901 |
| basic/http | first | 4.0 | 20,207 | 4,045 |
| basic/http | next | 4.0 | 9,139 | 3,901 |
| basic/http | off | 4.0 | 13,619 | 3,901 |

Script characters per command (arguments excluded; ``{}`` adds 3): command line 2,452 before, 1,320
now. Before: 4,880 to 15,391 (Get-HostInfo 6,459). First (keeps it): 8,690 to 19,205 (10,267). Next
(hash only): 1,968 to 1,980 for every primitive. Off: 3,748 to 14,259 (5,327). What stays per
command is SOAP: about 7 KB of the 9 KB a command still costs.
"""

from __future__ import annotations

import argparse
import base64
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
SAMPLE = "Get-HostInfo"
# The bootstrap before the host cache, as bootstrap_script() compacted it then (its comment lines left
# out): the language check with the whole message, UTF-8 output, and stdin split into two lists.
OLD_BOOTSTRAP = "\n".join(
    [
        "# rollout.windows bootstrap",
        "$rwMode = [string]$ExecutionContext.SessionState.LanguageMode",
        "if ($rwMode -ne 'FullLanguage') {",
        '    \'{"failed":true,"clm":true,"msg":"PowerShell runs in \' + $rwMode + \' mode on this host (an '
        "AppLocker or WDAC policy): rollout.windows needs FullLanguage for the WinRM account. Exempt that "
        "account or its scripts from the policy.\"}'",
        "    exit 1",
        "}",
        "try { [Console]::OutputEncoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false } "
        "catch {}",
        "$rwCode = New-Object -TypeName System.Collections.Generic.List[string]",
        "$rwData = New-Object -TypeName System.Collections.Generic.List[string]",
        "$rwInto = $rwCode",
        "foreach ($rwLine in $input) {",
        '    if ([string]::Equals($rwLine, "`0`0`0`0")) { $rwInto = $rwData; continue }',
        "    $rwInto.Add([string]$rwLine)",
        "}",
        '$rwBlock = [ScriptBlock]::Create([string]::Join("`n", $rwCode))',
        "$rwData | & $rwBlock",
    ]
)
WAYS = ("before", "first", "next", "off")


def _encode(script: str) -> str:
    return shell_loader.get("powershell")._encode_script(script, strict_mode=True, preserve_rc=False)


def way(name: str, kind: str, args: dict[str, t.Any] | None = None) -> tuple[str, bytes]:
    """(command line, stdin) of one command of ``name`` sent ``kind``."""
    if kind == "before":
        return _encode(OLD_BOOTSTRAP), winhost.build_stdin(name, args)
    build = {"first": winhost.build_store_stdin, "next": winhost.build_cached_stdin, "off": winhost.build_stdin}
    return _encode(winhost.bootstrap_script()), build[kind](name, args)


def script_chars() -> list[tuple[str, dict[str, int]]]:
    """Per primitive and way: command line plus stdin script, the JSON arguments left out."""
    rows = []
    for name in winhost.primitive_names():
        figures = {}
        for kind in WAYS:
            line, stdin = way(name, kind)
            figures[kind] = len(line) + winhost.script_chars(stdin)
        rows.append((name, figures))
    return rows


def wire(commands: int) -> list[tuple[str, str, float, float, float]]:
    """(transport, way, requests, bytes in, bytes out) per command of ``SAMPLE``, measured at a lab host."""
    import winrm

    out: list[tuple[str, str, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        fleet = start_test_fleet(Path(tmp), clients=1, servers=0)
        try:
            fh = fleet.fleet.hosts["client-0001"]
            assert fleet.fleet.ca is not None
            for transport, scheme in (("ntlm", "http"), ("basic", "http"), ("ntlm", "https"), ("basic", "https")):
                port = fh.https_port if scheme == "https" else fh.http_port
                for kind in WAYS:  # "first" stores the file "next" then runs from
                    line, stdin = way(SAMPLE, kind, {})
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
                        stdout, _err, rc = p.get_command_output(shell, command_id)
                        p.cleanup_command(shell, command_id)
                        if rc != 0:
                            raise RuntimeError(f"{kind} over {transport}/{scheme}: rc {rc}: {stdout[-300:]!r}")
                    after = fleet.run_sync(lambda: dict(fh.host.counters))
                    p.close_shell(shell)
                    delta = {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "bytes_in", "bytes_out")}
                    out.append(
                        (
                            f"{transport}/{scheme}",
                            kind,
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
    old_line = len(_encode(OLD_BOOTSTRAP))
    new_line = len(_encode(winhost.bootstrap_script()))
    print(f"Command line: before {old_line:,} characters, now {new_line:,} (cmd.exe allows 8,191).")
    assert base64.b64decode(_encode(winhost.bootstrap_script()).split()[-1])  # a real -EncodedCommand
    print()
    print("Script characters per command: command line + stdin up to the JSON arguments (arguments add their")
    print("JSON, 3 characters for {}).")
    print("| primitive | before | first (keeps it) | next (hash only) | cache off |")
    print("|---|---|---|---|---|")
    for name, figures in script_chars():
        print(f"| {name} | " + " | ".join(f"{figures[kind]:,}" for kind in WAYS) + " |")
    print()
    print(f"{SAMPLE} at a lab host, mean of {commands} commands on one kept shell:")
    print("| transport | way | HTTP requests | bytes in (to host) | bytes out (from host) |")
    print("|---|---|---|---|---|")
    for transport, kind, requests, bytes_in, bytes_out in wire(commands):
        print(f"| {transport} | {kind} | {requests:.1f} | {bytes_in:,.0f} | {bytes_out:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
