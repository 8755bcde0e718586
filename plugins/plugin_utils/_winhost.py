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
* A host may keep the primitives (``%ProgramData%\\rollout.windows\\primitives``, one file per script, named
  by its SHA-256).
  Stdin then has one of three forms: the *full* script as above; the *cached* form
  (:func:`build_cached_stdin`), a short loader ``_Cached.ps1`` naming the primitive and its hash,
  which runs the kept file only if its bytes have that hash and otherwise answers a cache miss
  (``{"failed": true, "cache_miss": name, "sha256": ..., "reason": ...}``, nothing run); and the
  *store* form (:func:`build_store_stdin`), the loader ``_Store.ps1``, then the full script, then
  the arguments, which keeps the script and runs it, first printing one ``{"rw_cache": ...}`` line.

This module imports only the standard library at module level so the lab can
load it by path without ansible-core's collection loader.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

MARKER_PREFIX = "# rollout.windows primitive: "
STORE_PREFIX = "# rollout.windows store: "
BOOTSTRAP_MARKER = "# rollout.windows bootstrap"
# cmd.exe's limit for the line WinRS hands it (Microsoft KB 830473); over it the command
# fails with "The command line is too long." and exit code 1.
MAX_COMMAND_LINE = 8191
STDIN_SEPARATOR = "\n\0\0\0\0\n"
# A host's answer is untrusted: more than this is refused before parsing. The largest honest
# answer, Get-MsiProperty's table rows for a package of some thousand files, is under 2 MiB.
MAX_RESULT_CHARS = 16 * 1024 * 1024
# Windows PowerShell 5.1's ConvertFrom-Json (the prelude reads the arguments with it) uses JavaScriptSerializer
# with its default MaxJsonLength: a longer text fails with "The length of the string exceeds the value set on
# the maxJsonLength property." Refused before anything is sent.
MAX_ARGS_CHARS = 2_097_152
# ansible-core's winrm put_file sends a file in chunks of this many bytes, each base64 plus CRLF on stdin.
PUT_FILE_CHUNK = 250_000
PRIMITIVE_DIR = Path(__file__).resolve().parent / "primitives"
_PRELUDE_NAME = "_Prelude"
_BOOTSTRAP_NAME = "_Bootstrap"
_LOADER_NAMES = ("_Cached", "_Store")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
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
        if not _SHARED_PATTERN.match(shared) or shared in (_PRELUDE_NAME, _BOOTSTRAP_NAME, *_LOADER_NAMES):
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
    # LF only: the host rebuilds the script from the lines it reads, and hashes what it rebuilt.
    return (f"{MARKER_PREFIX}{name}\n" + "\n".join([*parts, body])).replace("\r\n", "\n")


def _compact(text: str) -> list[str]:
    """The lines of a script the collection controls fully (bootstrap, loaders), without comment lines,
    blank lines and indentation: none of them has a here-string or a string over several lines."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@functools.cache
def bootstrap_script() -> str:
    """The fixed script every command line carries, compacted: each character costs 2.67 on the wire."""
    text = (PRIMITIVE_DIR / f"{_BOOTSTRAP_NAME}.ps1").read_text(encoding="utf-8")
    return "\n".join([BOOTSTRAP_MARKER, *_compact(text)])


@functools.cache
def script_sha256(name: str) -> str:
    """SHA-256 (lower-case hex) of the script the host keeps for ``name``: the ASCII bytes of
    :func:`build_script`, which is exactly what the bootstrap joins from the lines it reads."""
    return hashlib.sha256(_ascii_script(name)).hexdigest()


def cached_file_name(name: str, sha256: str) -> str:
    """The kept file's name: the hash in it lets several versions of the collection share one host."""
    return f"{name}-{sha256}.ps1"


@functools.cache
def _loader_body(loader: str) -> str:
    text = (PRIMITIVE_DIR / f"{loader}.ps1").read_text(encoding="utf-8")
    shared = [(PRIMITIVE_DIR / f"{s}.ps1").read_text(encoding="utf-8") for s in shared_scripts(text)]
    return "\n".join(line for part in [*shared, text] for line in _compact(part))


def _loader(prefix: str, loader: str, name: str, sha256: str) -> str:
    if not _NAME_PATTERN.match(name) or not _HEX64.match(sha256):
        raise ValueError(f"not a primitive name and hash: {name!r} {sha256!r}")
    # The cached loader goes with every command: no marker line, its first line says what it is.
    marker = f"{prefix}{name}\n" if prefix else ""
    return f"{marker}$rwName = '{name}'\n$rwHash = '{sha256}'\n{_loader_body(loader)}"


def cached_loader(name: str, sha256: str | None = None) -> str:
    """The stdin script that runs the host's kept copy of ``name`` (of this collection's hash unless
    ``sha256`` names another) after checking its hash."""
    return _loader("", "_Cached", name, sha256 or script_sha256(name))


def store_loader(name: str, sha256: str | None = None) -> str:
    """The stdin script that keeps the full script following it on the host, then runs it."""
    return _loader(STORE_PREFIX, "_Store", name, sha256 or script_sha256(name))


def _ascii_script(name: str) -> bytes:
    script = build_script(name)
    if not script.isascii() or "\r" in script or "\0" in script:
        raise ValueError(f"primitive {name} is not pure ASCII lines; stdin's code page would change it")
    return script.encode("ascii")


def build_stdin(name: str, args: t.Mapping[str, t.Any] | None = None) -> bytes:
    """The full form: the primitive's script, the separator line, its arguments."""
    return _ascii_script(name) + STDIN_SEPARATOR.encode("ascii") + encode_args(args or {})


def build_cached_stdin(name: str, args: t.Mapping[str, t.Any] | None = None) -> bytes:
    """The cached form: the loader naming the primitive and its hash, the separator, the arguments."""
    return cached_loader(name).encode("ascii") + STDIN_SEPARATOR.encode("ascii") + encode_args(args or {})


def build_store_stdin(name: str, args: t.Mapping[str, t.Any] | None = None) -> bytes:
    """The store form: the storing loader, the separator, the full script, the separator, the arguments."""
    sep = STDIN_SEPARATOR.encode("ascii")
    return store_loader(name).encode("ascii") + sep + _ascii_script(name) + sep + encode_args(args or {})


def script_chars(stdin: bytes) -> int:
    """How much of a stdin is script (everything before the arguments), as the figures count it."""
    return len(stdin) - len(stdin.rpartition(STDIN_SEPARATOR.encode("ascii"))[2])


@dataclass(frozen=True)
class Stdin:
    """A bootstrap's stdin understood: its form, the primitive, the hash a loader names, the script, the data."""

    form: str  # "full", "cached" or "store"
    name: str | None
    sha256: str | None
    loader: str | None  # the loader's text (cached and store forms)
    script: str | None  # the primitive's script (full and store forms)
    args: bytes


_LOADER_HEAD = re.compile(
    r"^(?:" + re.escape(STORE_PREFIX) + r"([A-Za-z]+-[A-Za-z]+)\n)?\$rwName = '([A-Za-z]+-[A-Za-z]+)'\n"
    r"\$rwHash = '([0-9a-f]{64})'\n"
)


def parse_stdin(stdin: bytes) -> Stdin | None:
    """The form of a bootstrap's stdin, or None when it has no separator line."""
    text = stdin.decode("utf-8", errors="replace").replace("\r\n", "\n")
    code, sep, rest = text.partition(STDIN_SEPARATOR)
    if not sep:
        return None
    head = _LOADER_HEAD.match(code + "\n")
    if head is None:
        return Stdin("full", recognise(code), None, None, code, rest.encode("utf-8"))
    marked, name, sha256 = head.groups()
    form = "cached" if marked is None else "store"
    if form == "cached":
        return Stdin(form, name, sha256, code, None, rest.encode("utf-8"))
    script, sep, data = rest.partition(STDIN_SEPARATOR)
    if not sep:
        return None
    return Stdin(form, name, sha256, code, script, data.encode("utf-8"))


def split_stdin(stdin: bytes) -> tuple[str, bytes] | None:
    """(script, argument bytes) of a bootstrap's stdin, or None when it has no separator line. For the
    store form the script is the primitive's, not the loader's; for the cached form it is the loader."""
    parsed = parse_stdin(stdin)
    if parsed is None:
        return None
    return (parsed.script if parsed.script is not None else parsed.loader or ""), parsed.args


def is_bootstrap(script: str) -> bool:
    """Whether a decoded ``-EncodedCommand`` script is the collection's bootstrap."""
    return BOOTSTRAP_MARKER in script


def recognise(script: str) -> str | None:
    """Name of the primitive a decoded ``-EncodedCommand`` script carries, or None."""
    match = _MARKER_PATTERN.search(script)
    return match.group(1) if match else None


def encode_args(args: t.Mapping[str, t.Any]) -> bytes:
    """A primitive's arguments: one JSON object, ASCII (``\\uXXXX`` for the rest), newline-terminated."""
    text = json.dumps(dict(args), separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    if len(text) > MAX_ARGS_CHARS:
        raise ValueError(
            f"the arguments are {len(text):,} characters of JSON, over the {MAX_ARGS_CHARS:,} Windows PowerShell 5.1's "
            "ConvertFrom-Json reads (MaxJsonLength); nothing was sent"
        )
    return (text + "\n").encode("ascii")


def last_json_object(stdout: str) -> dict[str, t.Any] | None:
    """The last line of ``stdout`` that parses as a JSON object (the caller bounds its length)."""
    for raw_line in reversed(stdout.splitlines()):
        line = raw_line.strip()
        if line.startswith("{"):
            try:
                candidate = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(candidate, dict):
                return candidate
    return None


def parse_output(name: str, rc: int, stdout: str, stderr: str) -> dict[str, t.Any]:
    """Turn a primitive's raw output into its result dict, or raise PrimitiveError.

    Windows PowerShell may print banners or progress records around the JSON;
    like ansible-core's module handling, only the last line that parses as a
    JSON object counts.
    """
    if len(stdout) > MAX_RESULT_CHARS:
        raise PrimitiveError(name, f"returned {len(stdout):,} characters, over the {MAX_RESULT_CHARS:,} accepted", rc)
    result = last_json_object(stdout)
    if result is None:
        detail = (stderr or stdout).strip()[-2000:] or "no output"
        raise PrimitiveError(name, f"returned no JSON result (rc={rc}): {detail}", rc, stderr)
    if result.get("clm") and result.get("failed"):
        raise PrimitiveError(name, clm_message(result["clm"]), rc, stderr)
    if rc != 0 or result.get("failed"):
        raise PrimitiveError(name, str(result.get("msg") or f"failed with rc={rc}"), rc, stderr)
    return result


def clm_message(mode: t.Any) -> str:
    """The bootstrap answers only the language mode (every character on the command line costs 2.67)."""
    shown = re.sub(r"[^A-Za-z]", "", str(mode))[:40] or "a restricted"
    return (
        f"PowerShell runs in {shown} mode on this host (an AppLocker or WDAC policy): rollout.windows needs "
        "FullLanguage for the WinRM account. Exempt that account or its scripts from the policy."
    )


@dataclass
class CallStats:
    """What running primitives cost on one host: a performance figure worth reporting."""

    commands: int = 0
    bytes_sent: int = 0  # command lines and stdin as sent, whichever form the stdin had
    by_primitive: dict[str, int] = field(default_factory=dict)
    cached: int = 0  # commands that sent only a hash (the host kept the primitive)
    misses: int = 0  # of those, the ones the host answered with a cache miss (the script followed)

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "commands": self.commands,
            "bytes_sent": self.bytes_sent,
            "by_primitive": dict(self.by_primitive),
            "cached": self.cached,
            "misses": self.misses,
        }

    def count_put_file(self, size: int) -> None:
        """A file of ``size`` bytes sent with the connection's own put_file: one command whose stdin is
        the file in base64 chunks, counted as :meth:`WinHost.run` counts the stdin of a primitive."""
        full, rest = divmod(size, PUT_FILE_CHUNK)
        self.commands += 1
        self.bytes_sent += full * _base64_line(PUT_FILE_CHUNK) + (_base64_line(rest) if rest else 0)


def _base64_line(size: int) -> int:
    return 4 * ((size + 2) // 3) + len("\r\n")


class WinHost:
    """Runs primitives over an action plugin's own connection (every ``ansible_winrm_*`` applies).

    With the host cache on (the default; ``rollout_windows_primitive_cache: false`` turns it off) a
    primitive the controller's record says the host holds goes as its hash only; any other goes in
    full with the instruction to keep it. The record (``_primitive_cache``) is a hint: a host that no
    longer holds the file answers a cache miss, and the full script follows in one more command.
    """

    def __init__(self, action: t.Any) -> None:
        self._action = action
        self.stats = CallStats()
        self.warnings: list[str] = []
        self._record: t.Any = None

    def run(self, name: str, args: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """Run primitive ``name`` with ``args`` in one WinRM command (two after a cache miss) and return its result."""
        record = self._host_record()
        if record is None or not record.usable():
            return self._parse(name, self._send(name, build_stdin(name, args)))
        digest = script_sha256(name)
        cache = _cache()
        if record.holds(digest):
            self.stats.cached += 1
            raw = self._send(name, build_cached_stdin(name, args))
            miss = self._miss(name, digest, raw)
            if miss is None:
                return self._parse(name, raw)
            self.stats.misses += 1
            record.forget(digest)
            if miss == "mismatch":
                self._warn(
                    f"the copy of {name} kept on this host in {cache.CACHE_FOLDER} was not the collection's "
                    "(its SHA-256 differs): it was not run, and the full script was sent and kept again"
                )
        raw = self._send(name, build_store_stdin(name, args))
        if self._miss(name, digest, raw, expected=False) is not None:
            raise PrimitiveError(name, "the host answered a cache miss to a command that carried the whole script", 1)
        for warning in record.stored(digest, cache.store_report(str(raw.get("stdout", ""))[:MAX_RESULT_CHARS])):
            self._warn(warning)
        return self._parse(name, raw)

    def _send(self, name: str, payload: bytes) -> dict[str, t.Any]:
        shell = self._action._connection._shell
        command = shell._encode_script(bootstrap_script(), strict_mode=True, preserve_rc=False)
        if len(command) > MAX_COMMAND_LINE:
            raise PrimitiveError(
                name, f"command line of {len(command)} characters is over cmd.exe's {MAX_COMMAND_LINE}", 1
            )
        self.stats.commands += 1
        self.stats.bytes_sent += len(command) + len(payload)
        self.stats.by_primitive[name] = self.stats.by_primitive.get(name, 0) + 1
        raw: dict[str, t.Any] = dict(self._action._low_level_execute_command(command, in_data=payload))
        return raw

    @staticmethod
    def _miss(name: str, digest: str, raw: t.Mapping[str, t.Any], expected: bool = True) -> str | None:
        """The reason of a cache-miss answer, or None (an answer too long for parse_output is none)."""
        if len(str(raw.get("stdout", ""))) > MAX_RESULT_CHARS:
            return None
        try:
            last = last_json_object(str(raw.get("stdout", ""))) if int(raw.get("rc", 1)) != 0 else None
            reason: str | None = _cache().cache_miss(name, digest, last, expected)
        except _cache().UnsentMiss as exc:
            raise PrimitiveError(name, str(exc), 1) from None
        return reason

    @staticmethod
    def _parse(name: str, raw: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return parse_output(name, int(raw.get("rc", 1)), str(raw.get("stdout", "")), str(raw.get("stderr", "")))

    def _host_record(self) -> t.Any:
        if self._record is None:
            self._record = _cache().record_for(self._action)
        return self._record if self._record is not False else None

    def _warn(self, msg: str) -> None:
        if msg in self.warnings:
            return
        self.warnings.append(msg)
        from ansible.utils.display import Display

        # ansible-core 2.19 adds a warning shown while an action runs to that task's result.
        Display().warning(msg)


def _cache() -> t.Any:
    # Imported when first used: the lab loads this module by path, without the collection's package around it.
    from ansible_collections.rollout.windows.plugins.plugin_utils import _primitive_cache

    return _primitive_cache
