"""Every command line the collection sends fits cmd.exe's 8,191 characters, whatever it runs.

WinRS starts each command through cmd.exe, which refuses a longer line (Microsoft KB 830473).
Before the bootstrap, six primitives were over it as ``-EncodedCommand`` (Save-PackageUrl at
14,168 characters), so they could never have run on Windows.
"""

from __future__ import annotations

import base64
import json
import typing as t

import pytest
from ansible.plugins.loader import shell_loader

from ansible_collections.rollout.windows.plugins.plugin_utils import _winhost

SECRET = "S3cret-Lizenz-Schluessel-0815"
# The largest values the modules pass: a long msiexec property line with a secret, a 2,000-entry
# payload list, a user name beyond ASCII, a long URL with a signed query string.
LARGEST_ARGS: dict[str, t.Any] = {
    "command_line": "/i C:\\x.msi " + " ".join(f"PROP{i}=value-{i}" for i in range(2000)) + f" LICENSE={SECRET}",
    "files": [f"payload\\sub{i}\\file-{i}.dll" for i in range(2000)],
    "user": "J\u00fcrgen M\u00fcller",
    "url": "https://files.example.test/pkg.zip?sig=" + "A" * 4000,
    "password": SECRET,
}


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self._connection = type("C", (), {"_shell": shell_loader.get("powershell")})()

    def _low_level_execute_command(self, cmd: str, in_data: bytes) -> dict[str, t.Any]:
        self.sent.append((cmd, in_data))
        return {"rc": 0, "stdout": "{}", "stderr": ""}


@pytest.mark.parametrize("name", _winhost.primitive_names())
def test_every_primitive_fits_cmd_exe_with_its_largest_arguments(name: str) -> None:
    action = _Recorder()
    _winhost.WinHost(action).run(name, LARGEST_ARGS)
    [(command, stdin)] = action.sent
    assert len(command) <= _winhost.MAX_COMMAND_LINE
    decoded = base64.b64decode(command.split()[-1]).decode("utf-16-le")
    assert SECRET not in command
    assert SECRET not in decoded
    assert "J\u00fcrgen" not in decoded
    # What reaches the host's stdin is ASCII, so no code page can change it, and it carries it all.
    assert stdin.isascii()
    parts = _winhost.split_stdin(stdin)
    assert parts is not None
    assert _winhost.recognise(parts[0]) == name
    assert json.loads(parts[1]) == LARGEST_ARGS


def test_the_command_line_is_the_same_for_every_primitive() -> None:
    action = _Recorder()
    host = _winhost.WinHost(action)
    for name in _winhost.primitive_names():
        host.run(name, {})
    assert len({sent[0] for sent in action.sent}) == 1


def test_a_primitive_as_encoded_command_would_not_fit() -> None:
    # Why the bootstrap exists: the old way, the largest primitive alone is over the limit.
    shell = shell_loader.get("powershell")
    longest = max(
        len(shell._encode_script(_winhost.build_script(n), strict_mode=True, preserve_rc=False))
        for n in _winhost.primitive_names()
    )
    assert longest > _winhost.MAX_COMMAND_LINE


def test_a_non_ascii_primitive_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_winhost, "build_script", lambda name: "# rollout.windows primitive: X-Y\n'\u00e4'")
    with pytest.raises(ValueError, match="not pure ASCII"):
        _winhost.build_stdin("X-Y", {})
