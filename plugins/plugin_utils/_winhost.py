# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's PowerShell primitives on a Windows host, one WinRM command each.

The convention defined here is the single contract between the controller side
and any Windows host (or the lab simulator, which imports this module to
recognise what it is asked to run):

* A primitive is ``plugins/plugin_utils/primitives/<Verb-Noun>.ps1``. Its name is
  its file name; nothing inside the file repeats it.
* The command line carries only ``_Bootstrap.ps1`` as ``-EncodedCommand``: a fixed
  script, the same for every primitive, that stays far below cmd.exe's 8,191
  characters (:data:`MAX_COMMAND_LINE`). It starts with :data:`BOOTSTRAP_MARKER`.
* Everything else travels on **stdin** (:func:`build_stdin`): :data:`MARKER_PREFIX`
  plus the name on the first line, then ``_Prelude.ps1``, then the primitive, then a
  line of four NUL characters, then the arguments as one JSON object. Arguments are
  never part of the script text or of any command line, so a hostile value cannot
  change what runs and a secret never shows up in a process listing.
* Stdin is pure ASCII (the JSON escapes everything else, the scripts are ASCII), so
  the console's input code page cannot change it; the prelude escapes the result the
  same way, so the output code page cannot change what the controller reads.
* The primitive prints exactly one JSON object on stdout. A failure is
  ``{"failed": true, "msg": "..."}`` with a non-zero exit code.

This module imports only the standard library at module level so the lab can
load it by path without ansible-core's collection loader.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

MARKER_PREFIX = "# rollout.windows primitive: "
BOOTSTRAP_MARKER = "# rollout.windows bootstrap"
# cmd.exe's limit for the line WinRS hands it (Microsoft KB 830473); over it the command
# fails with "The command line is too long." and exit code 1.
MAX_COMMAND_LINE = 8191
STDIN_SEPARATOR = "\n\0\0\0\0\n"
# A host's answer is untrusted: more than this is refused before parsing. The largest honest
# answer, Get-MsiProperty's table rows for a package of some thousand files, is under 2 MiB.
MAX_RESULT_CHARS = 16 * 1024 * 1024
# ansible-core's winrm put_file sends a file in chunks of this many bytes, each base64 plus CRLF on stdin.
PUT_FILE_CHUNK = 250_000
PRIMITIVE_DIR = Path(__file__).resolve().parent / "primitives"
_PRELUDE_NAME = "_Prelude"
_BOOTSTRAP_NAME = "_Bootstrap"
_SHARED_PATTERN = re.compile(r"^_[A-Z][A-Za-z]+$")
_USES_PATTERN = re.compile(r"^# rollout\.windows uses: ([A-Za-z_, ]+)$", re.MULTILINE)
_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z]+-[A-Z][A-Za-z]+$")
_MARKER_PATTERN = re.compile(r"^\s*" + re.escape(MARKER_PREFIX) + r"([A-Za-z]+-[A-Za-z]+)\s*$", re.MULTILINE)


class PrimitiveError(Exception):
    """A primitive ran but reported failure, or its output was not the promised JSON."""

    def __init__(self, name: str, msg: str, rc: int, stderr: str = "") -> None:
        super().__init__(f"{name}: {msg}")
        self.name = name
        self.msg = msg
        self.rc = rc
        self.stderr = stderr


def primitive_names() -> list[str]:
    """Every primitive shipped with the collection, sorted."""
    return sorted(p.stem for p in PRIMITIVE_DIR.glob("*.ps1") if _NAME_PATTERN.match(p.stem))


def shared_scripts(body: str) -> list[str]:
    """The shared function files (``_Acl`` ...) a primitive names on its ``# rollout.windows uses:`` line."""
    match = _USES_PATTERN.search(body)
    if match is None:
        return []
    names = [n.strip() for n in match.group(1).split(",") if n.strip()]
    for shared in names:
        if not _SHARED_PATTERN.match(shared) or shared in (_PRELUDE_NAME, _BOOTSTRAP_NAME):
            raise ValueError(f"not a shared script name: {shared!r}")
        if not (PRIMITIVE_DIR / f"{shared}.ps1").is_file():
            raise ValueError(f"unknown shared script {shared!r}")
    return names


@functools.cache  # the files do not change while a process runs; every command would read them again
def build_script(name: str) -> str:
    """The full PowerShell text sent for primitive ``name``: marker, prelude, the shared scripts it uses, body.

    Primitives cannot call one another (each is one command); what several need, such as setting a
    folder's ACL, lives once in a ``_Name.ps1`` file that each of them names on its uses-line.
    """
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"not a primitive name: {name!r}")
    path = PRIMITIVE_DIR / f"{name}.ps1"
    if not path.is_file():
        raise ValueError(f"unknown primitive {name!r}; known: {', '.join(primitive_names())}")
    body = path.read_text(encoding="utf-8")
    parts = [(PRIMITIVE_DIR / f"{_PRELUDE_NAME}.ps1").read_text(encoding="utf-8")]
    parts += [(PRIMITIVE_DIR / f"{shared}.ps1").read_text(encoding="utf-8") for shared in shared_scripts(body)]
    return f"{MARKER_PREFIX}{name}\n" + "\n".join([*parts, body])


@functools.cache
def bootstrap_script() -> str:
    """The fixed script every command line carries; comment lines are left out to keep it short."""
    text = (PRIMITIVE_DIR / f"{_BOOTSTRAP_NAME}.ps1").read_text(encoding="utf-8")
    body = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return "\n".join([BOOTSTRAP_MARKER, *body])


def build_stdin(name: str, args: t.Mapping[str, t.Any] | None = None) -> bytes:
    """What the bootstrap reads: the primitive's script, the separator line, its arguments."""
    script = build_script(name)
    if not script.isascii():
        raise ValueError(f"primitive {name} is not pure ASCII; stdin's code page would change it")
    return script.encode("ascii") + STDIN_SEPARATOR.encode("ascii") + encode_args(args or {})


def split_stdin(stdin: bytes) -> tuple[str, bytes] | None:
    """(script, argument bytes) of a bootstrap's stdin, or None when it has no separator line."""
    text = stdin.decode("utf-8", errors="replace").replace("\r\n", "\n")
    script, sep, rest = text.partition(STDIN_SEPARATOR)
    if not sep:
        return None
    return script, rest.encode("utf-8")


def is_bootstrap(script: str) -> bool:
    """Whether a decoded ``-EncodedCommand`` script is the collection's bootstrap."""
    return BOOTSTRAP_MARKER in script


def recognise(script: str) -> str | None:
    """Name of the primitive a decoded ``-EncodedCommand`` script carries, or None."""
    match = _MARKER_PATTERN.search(script)
    return match.group(1) if match else None


def encode_args(args: t.Mapping[str, t.Any]) -> bytes:
    """A primitive's arguments: one JSON object, ASCII (``\\uXXXX`` for the rest), newline-terminated."""
    return (json.dumps(dict(args), separators=(",", ":"), sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def parse_output(name: str, rc: int, stdout: str, stderr: str) -> dict[str, t.Any]:
    """Turn a primitive's raw output into its result dict, or raise PrimitiveError.

    Windows PowerShell may print banners or progress records around the JSON;
    like ansible-core's module handling, only the last line that parses as a
    JSON object counts.
    """
    if len(stdout) > MAX_RESULT_CHARS:
        raise PrimitiveError(name, f"returned {len(stdout):,} characters, over the {MAX_RESULT_CHARS:,} accepted", rc)
    result: dict[str, t.Any] | None = None
    for raw_line in reversed(stdout.splitlines()):
        line = raw_line.strip()
        if line.startswith("{"):
            try:
                candidate = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(candidate, dict):
                result = candidate
                break
    if result is None:
        detail = (stderr or stdout).strip()[-2000:] or "no output"
        raise PrimitiveError(name, f"returned no JSON result (rc={rc}): {detail}", rc, stderr)
    if rc != 0 or result.get("failed"):
        raise PrimitiveError(name, str(result.get("msg") or f"failed with rc={rc}"), rc, stderr)
    return result


@dataclass
class CallStats:
    """What running primitives cost on one host: a performance figure worth reporting."""

    commands: int = 0
    bytes_sent: int = 0
    by_primitive: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, t.Any]:
        return {"commands": self.commands, "bytes_sent": self.bytes_sent, "by_primitive": dict(self.by_primitive)}

    def count_put_file(self, size: int) -> None:
        """A file of ``size`` bytes sent with the connection's own put_file: one command whose stdin is
        the file in base64 chunks, counted as :meth:`WinHost.run` counts the stdin of a primitive."""
        full, rest = divmod(size, PUT_FILE_CHUNK)
        self.commands += 1
        self.bytes_sent += full * _base64_line(PUT_FILE_CHUNK) + (_base64_line(rest) if rest else 0)


def _base64_line(size: int) -> int:
    return 4 * ((size + 2) // 3) + len("\r\n")


class WinHost:
    """Runs primitives over an action plugin's own connection (every ``ansible_winrm_*`` applies)."""

    def __init__(self, action: t.Any) -> None:
        self._action = action
        self.stats = CallStats()

    def run(self, name: str, args: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """Run primitive ``name`` with ``args`` in one WinRM command and return its JSON result."""
        shell = self._action._connection._shell
        command = shell._encode_script(bootstrap_script(), strict_mode=True, preserve_rc=False)
        if len(command) > MAX_COMMAND_LINE:
            raise PrimitiveError(
                name, f"command line of {len(command)} characters is over cmd.exe's {MAX_COMMAND_LINE}", 1
            )
        payload = build_stdin(name, args)
        self.stats.commands += 1
        self.stats.bytes_sent += len(command) + len(payload)
        self.stats.by_primitive[name] = self.stats.by_primitive.get(name, 0) + 1
        raw = self._action._low_level_execute_command(command, in_data=payload)
        return parse_output(name, int(raw.get("rc", 1)), raw.get("stdout", ""), raw.get("stderr", ""))
