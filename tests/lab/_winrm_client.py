"""Raw pywinrm calls for the WinRM-layer tests: a script as ``-EncodedCommand``, run in a shell of its own."""

from __future__ import annotations

import base64

import winrm


def encoded(script: str) -> tuple[str, list[str]]:
    """``PowerShell ... -EncodedCommand <base64 of UTF-16LE>``, as ansible-core's shell plugin sends it."""
    command = base64.b64encode(script.encode("utf-16-le")).decode()
    return "PowerShell", [
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Unrestricted",
        "-EncodedCommand",
        command,
    ]


# ansible-core's winrm connection sends stdin in pieces of this size (_wrapper_payload_stream, buffer_size=200000).
STDIN_PIECE = 200_000


def run(p: winrm.Protocol, command: str, args: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """(rc, stdout, stderr) of one command in a shell opened and closed for it."""
    shell = p.open_shell(codepage=65001)
    try:
        command_id = p.run_command(shell, command, args)
        if stdin is not None:
            # In pieces, as ansible-core sends stdin: one Send must fit WinRM's MaxEnvelopeSizekb.
            pieces = [stdin[i : i + STDIN_PIECE] for i in range(0, len(stdin), STDIN_PIECE)] or [b""]
            for index, piece in enumerate(pieces):
                p.send_command_input(shell, command_id, piece, end=index == len(pieces) - 1)
        out, err, rc = p.get_command_output(shell, command_id)
        p.cleanup_command(shell, command_id)
        return rc, out, err
    finally:
        p.close_shell(shell)
