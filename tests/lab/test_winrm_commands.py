"""Command-line decoding and ansible-core bootstrap parsing, without a network."""

from __future__ import annotations

import base64
import json

import pytest

from lab.winrm.commands import BOOTSTRAP_SEPARATOR, _parse_bootstrap, decode_command_line, not_implemented


def _b64(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("PowerShell", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-EncodedCommand", "{b}"]),
        ("powershell", ["-NoProfile", "-EncodedCommand", "'{b}'"]),
        ("PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand {b}", []),
        ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", ["-encodedcommand", '"{b}"']),
    ],
)
def test_decode_encoded_command(command: str, args: list[str]) -> None:
    script = "Write-Output 'héllo'\nexit 0"
    b = _b64(script)
    decoded = decode_command_line(command.format(b=b), [a.format(b=b) for a in args])
    assert decoded.script == script


def test_non_powershell_keeps_raw_text() -> None:
    decoded = decode_command_line("cmd", ["/c", "ver"])
    assert decoded.script is None
    assert decoded.text == "cmd /c ver"


def test_not_implemented_message_is_bounded() -> None:
    outcome = not_implemented("x" * 200 + "\n\n  y")
    assert outcome.rc == 1
    assert outcome.stderr == b"lab: not implemented: " + b"x" * 80 + b"\r\n"


def test_bootstrap_input_parsing() -> None:
    wrapper = json.dumps({"name": "exec_wrapper", "script": "", "params": {}})
    manifest = json.dumps({"scripts": {}, "actions": [{"name": "winrm_put_file.ps1", "params": {"Path": "C:\\x"}}]})
    stdin = f"{wrapper}\n\0\0\0\0\n{manifest}".encode() + BOOTSTRAP_SEPARATOR + b"QUJD\r\n"
    assert _parse_bootstrap(stdin) == ("winrm_put_file.ps1", {"Path": "C:\\x"}, b"QUJD\r\n")
    assert _parse_bootstrap(b"{}") is None
    assert _parse_bootstrap(b"not json\n\0\0\0\0\nnot json") is None
