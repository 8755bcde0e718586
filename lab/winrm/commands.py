"""What a WinRM command line means on a simulated host, and running it.

Three kinds of command reach a host:

(a) ansible-core's own bootstrap scripts (temp directories, file transfer,
    removal, modules), recognised by the action name in their stdin manifest;
(b) the collection's primitives: its bootstrap on the command line (``_winhost.is_bootstrap``)
    with the primitive and its arguments on stdin, or a primitive script on the command line
    itself; recognised by ``_winhost.recognise`` and run by :func:`lab.primitives.core.run`
    inside the host's command envelope. Stdin may instead carry one of the two loaders of the
    host cache (``_winhost.parse_stdin``: the cached or the store form); the lab accepts only
    the collection's own loader text and does what it does on the file system model
    (:mod:`lab.primitives.cache`);
(c) anything else. That answers exit code 1 and ``lab: not implemented: ...`` so
    nothing the lab does not model can pass silently.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import typing as t
from dataclasses import dataclass
from pathlib import Path

from lab import collection
from lab.primitives import cache, core
from lab.primitives.core import PrimitiveContext

if t.TYPE_CHECKING:
    from lab.host.host import Host
    from lab.winrm.hostapi import WinRMHost

BOOTSTRAP_SEPARATOR = b"\n\0\0\0\0\n"
_REMOVE = re.compile(r"^Remove-Item '((?:[^']|'')*)' -Force( -Recurse)?;?$", re.IGNORECASE)
_RC_CHECK_PREFIX = "If (-not $?)"
_ENV_VAR = re.compile(r"%([^%]+)%")
# cmd.exe refuses a longer line, and WinRS starts every command through it (Microsoft KB 830473,
# "Command prompt (Cmd.exe) command-line string limitation"); vagrant #3816 and pywinrm #87 show
# the reply: "The command line is too long." on stderr and exit code 1.
MAX_COMMAND_LINE = 8191
TOO_LONG = b"The command line is too long.\r\n"
# Setting [Console]::OutputEncoding to UTF-8 is what switches Windows PowerShell 5.1 away from
# the console's OEM code page (ansible-core's exec wrapper does the same).
_SETS_UTF8_OUTPUT = re.compile(r"\[Console\]::OutputEncoding\s*=\s*New-Object\b[^\n]*UTF8Encoding", re.IGNORECASE)
# about_Language_Modes (and ansible/ansible #41534, which quotes it from a real host): in
# ConstrainedLanguage, calling a method or setting a property of a type
# outside the allowed core types fails with these texts.
CLM_METHOD_ERROR = "Cannot invoke method. Method invocation is supported only on core types in this language mode."
_LANGUAGE_CHECK = re.compile(r"\$ExecutionContext\.SessionState\.LanguageMode", re.IGNORECASE)
_FIRST_DOTNET_CALL = re.compile(r"\[(?!string\])[A-Za-z.]+\]::", re.IGNORECASE)
# The guarded branch: the string expression the bootstrap prints, single-quoted pieces and the mode variable.
_CLM_BRANCH = re.compile(r"\{\s*('(?:[^']|'')*'(?:\s*\+\s*(?:\$\w+|'(?:[^']|'')*'))*)\s*;?\s*exit 1")


winhost = collection.winhost()


@dataclass(slots=True)
class Outcome:
    rc: int
    stdout: bytes
    stderr: bytes


@dataclass(slots=True)
class Decoded:
    """A command line understood as far as the lab needs: its PowerShell script, or the raw text."""

    script: str | None
    raw: str

    @property
    def text(self) -> str:
        return self.script if self.script is not None else self.raw


def decode_command_line(command: str, arguments: list[str]) -> Decoded:
    """Decode ``PowerShell ... -EncodedCommand <base64 of UTF-16LE>``; anything else keeps its raw text."""
    raw = " ".join([command, *arguments]).strip()
    try:
        parts = shlex.split(raw, posix=False)  # Windows paths: backslashes are not escapes
    except ValueError:
        parts = raw.split()
    program = Path(parts[0].strip("'\"").replace("\\", "/")).name.lower() if parts else ""
    if program not in ("powershell", "powershell.exe", "pwsh", "pwsh.exe"):
        return Decoded(None, raw)
    for i, part in enumerate(parts[:-1]):
        if part.lower() in ("-encodedcommand", "-enc", "-e", "-ec"):
            try:
                script = base64.b64decode(parts[i + 1].strip("'\""), validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return Decoded(None, raw)
            return Decoded(script, raw)
    return Decoded(None, raw)


def not_implemented(what: str) -> Outcome:
    first = " ".join(what.split())[:80]
    return Outcome(1, b"", f"lab: not implemented: {first}\r\n".encode())


def _count(host: WinRMHost, key: str) -> None:
    host.counters[key] = host.counters.get(key, 0) + 1


def _parse_bootstrap(stdin: bytes) -> tuple[str, dict[str, t.Any], bytes] | None:
    """(action name, params, input after the manifest) when stdin is ansible-core's bootstrap input."""
    parts = stdin.split(BOOTSTRAP_SEPARATOR, 2)
    if len(parts) < 2:
        return None
    try:
        wrapper = json.loads(parts[0])
        manifest = json.loads(parts[1])
    except ValueError:
        return None
    if not isinstance(wrapper, dict) or wrapper.get("name") != "exec_wrapper" or not isinstance(manifest, dict):
        return None
    actions = manifest.get("actions") or []
    if not actions or not isinstance(actions[-1], dict):
        return None
    action = actions[-1]
    return str(action.get("name", "")), dict(action.get("params") or {}), parts[2] if len(parts) > 2 else b""


def _expand_env(host: WinRMHost, user: str, path: str) -> str:
    env = {k.upper(): v for k, v in host.env(user).items()}
    return _ENV_VAR.sub(lambda m: env.get(m.group(1).upper(), m.group(0)), path)


def _expand_user(host: WinRMHost, user: str, path: str) -> str:
    if path == "~":
        return host.profile_dir(user)
    if path.startswith("~\\") or path.startswith("~/"):
        return host.profile_dir(user).rstrip("\\") + "\\" + path[2:]
    return path


def _fail(message: str) -> Outcome:
    return Outcome(1, b"", (message.rstrip() + "\r\n").encode())


def _builtin(host: WinRMHost, user: str, name: str, params: dict[str, t.Any], data: bytes) -> Outcome:
    files = host.files
    if name == "powershell_mkdtemp.ps1":
        base = _expand_user(host, user, _expand_env(host, user, str(params.get("Directory", ""))))
        target = base.rstrip("\\/") + "\\" + str(params.get("Name", ""))
        if files.exists(target):
            return _fail(f"New-Item : An item with the specified name {target} already exists.")
        return Outcome(0, (files.mkdir(target, parents=True) + "\r\n").encode(), b"")
    if name == "powershell_expand_user.ps1":
        return Outcome(0, (_expand_user(host, user, str(params.get("Path", ""))) + "\r\n").encode(), b"")
    if name == "winrm_put_file.ps1":
        path = str(params.get("Path", ""))
        try:
            content = b"".join(base64.b64decode(line) for line in data.split() if line)
        except (binascii.Error, ValueError):
            return _fail('Exception calling "FromBase64String": The input is not a valid Base-64 string.')
        files.write_bytes(path, content)
        return Outcome(0, (json.dumps({"sha1": files.sha1(path)}) + "\r\n").encode(), b"")
    if name == "winrm_fetch_file.ps1":
        path = str(params.get("Path", ""))
        if files.is_dir(path):
            return Outcome(0, b"[DIR]\r\n", b"")
        if not files.exists(path):
            return _fail(f"{path} does not exist")
        offset, size = int(params.get("Offset", 0)), int(params.get("BufferSize", 524288))
        chunk = files.read_bytes(path)[offset : offset + size]
        return Outcome(0, (base64.b64encode(chunk) + b"\r\n") if chunk else b"", b"")
    return not_implemented(f"ansible-core script {name}")


def _remove(host: WinRMHost, script: str) -> Outcome | None:
    """Handle ansible's ``Remove-Item '<path>' -Force [-Recurse];`` (strict mode and rc check lines allowed)."""
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Set-StrictMode") and not line.startswith(_RC_CHECK_PREFIX)]
    if len(lines) != 1:
        return None
    match = _REMOVE.match(lines[0])
    if not match:
        return None
    path = match.group(1).replace("''", "'")
    # ansible appends "\." to remove a directory's contents with the directory itself.
    while path.endswith("\\.") or path.endswith("/."):
        path = path[:-2]
    if not host.files.exists(path):
        return _fail(f"Remove-Item : Cannot find path '{path}' because it does not exist.")
    host.files.remove(path, recurse=bool(match.group(2)))
    return Outcome(0, b"", b"")


def _clm_outcome(bootstrap: str, mode: str) -> Outcome:
    """What the bootstrap prints in ConstrainedLanguage, or the error of its first blocked call.

    The lab does not run PowerShell, so it evaluates the bootstrap's one guarded branch: the
    string expression on the line after the LanguageMode check, with ``$rwMode`` substituted.
    """
    check = _LANGUAGE_CHECK.search(bootstrap)
    first_call = _FIRST_DOTNET_CALL.search(bootstrap)
    if check is None or (first_call is not None and first_call.start() < check.start()):
        return _fail(CLM_METHOD_ERROR)
    variable = re.search(r"(\$\w+)\s*=\s*\[string\]\s*$", bootstrap[: check.start()])
    branch = _CLM_BRANCH.search(bootstrap, check.end())
    if variable is None or branch is None:
        return _fail(CLM_METHOD_ERROR)
    pieces = [piece.strip() for piece in branch.group(1).split("+")]
    text = "".join(mode if piece == variable.group(1) else piece.strip("'") for piece in pieces)
    return Outcome(1, (text + "\r\n").encode("utf-8"), b"")


def _sets_utf8(script: str | None) -> bool:
    return bool(script and _SETS_UTF8_OUTPUT.search(script))


async def _run_primitive(
    host: WinRMHost,
    user: str,
    script: str,
    stdin: bytes,
    utf8: bool,
    *,
    before: core.Before | None = None,
    primitive: str | None = None,
    ran: dict[str, str] | None = None,
) -> Outcome:
    primitive = primitive or winhost.recognise(script)
    if primitive is None:
        return not_implemented(script)
    if len(stdin.strip()) > winhost.MAX_ARGS_CHARS:
        # The prelude's ConvertFrom-Json in Windows PowerShell 5.1: JavaScriptSerializer's default MaxJsonLength
        # of 2,097,152 characters (its ArgumentException, as Windows users report it; docs/architecture.md).
        return _fail(
            json.dumps(
                {
                    "failed": True,
                    "msg": "Error during serialization or deserialization using the JSON JavaScriptSerializer. "
                    "The length of the string exceeds the value set on the maxJsonLength property."
                    "\r\nParameter name: input",
                }
            )
        )
    try:
        args = json.loads(stdin.decode("utf-8")) if stdin.strip() else {}
    except ValueError as exc:
        return _fail(json.dumps({"failed": True, "msg": f"arguments on stdin are not JSON: {exc}"}))
    rc, out, err = await core.run(host, primitive, args, user, before)
    # Windows PowerShell 5.1 encodes stdout in the OEM code page unless the script switched to
    # UTF-8 (the bootstrap, or the prelude of the primitive that ran); a non-ASCII user name then
    # arrives garbled, as it would from a real PC.
    # ``ran``: what a loader ran instead (the kept script, known once the command read it).
    codec = "utf-8" if utf8 or _sets_utf8((ran or {}).get("script", script)) else f"cp{host.behaviour.oem_codepage}"
    return Outcome(rc, out.encode(codec, errors="replace"), err.encode(codec, errors="replace"))


async def _run_loader(host: WinRMHost, user: str, parsed: t.Any, utf8: bool) -> Outcome:
    """The cached or the store form: only the collection's own loader text, as the lab knows what it does."""
    name, sha256 = str(parsed.name), str(parsed.sha256)
    expected = (winhost.cached_loader if parsed.form == "cached" else winhost.store_loader)(name, sha256)
    if parsed.loader != expected:
        _count(host, "not_implemented")
        return not_implemented(f"a loader that is not the collection's: {parsed.loader}")
    model = t.cast("Host", host)
    if parsed.form == "store":
        script = str(parsed.script)

        def keep() -> str:
            report = cache.store(model, PrimitiveContext(user=user), name, sha256, script)
            _count(host, "cache:stored" if report["stored"] else "cache:not_stored")
            return cache.report_line(report)

        return await _run_primitive(host, user, script, parsed.args, utf8, before=keep)
    kept: dict[str, str] = {}

    def verify() -> tuple[int, str, str] | None:
        text, reason = cache.load(model, user, name, sha256)
        if text is None:
            _count(host, "cache:miss")
            return 1, cache.miss_line(name, sha256, reason), ""
        if winhost.recognise(text) != name:
            return 1, "", f"lab: not implemented: a kept script that is not {name}"
        _count(host, "cache:hit")
        kept["script"] = text
        return None

    return await _run_primitive(host, user, expected, parsed.args, utf8, before=verify, primitive=name, ran=kept)


async def execute(host: WinRMHost, user: str, command: str, arguments: list[str], stdin: bytes) -> Outcome:
    """Run one WinRM command on ``host`` as ``user``. ``HostDropped`` from the host model propagates.

    The host's command envelope counts ``primitive:<name>``; this counts ``builtin:<script>``, ``not_implemented``
    and ``refused:command_line_too_long``.
    """
    if len(" ".join([command, *arguments]).strip()) > MAX_COMMAND_LINE:
        _count(host, "refused:command_line_too_long")
        return Outcome(1, b"", TOO_LONG)
    decoded = decode_command_line(command, arguments)
    if decoded.script is None:
        _count(host, "not_implemented")
        return not_implemented(decoded.raw)
    script = decoded.script
    try:
        if winhost.is_bootstrap(script):
            mode = host.behaviour.language_mode
            if mode != "FullLanguage":
                _count(host, "refused:language_mode")
                return _clm_outcome(script, mode)
            parsed = winhost.parse_stdin(stdin)
            if parsed is None:
                return _fail("lab: the bootstrap got no primitive on stdin")
            utf8 = _sets_utf8(script)
            # What reached the host as script (command line and stdin, arguments left out): the figure
            # the host cache is about.
            line = len(" ".join([command, *arguments]).strip())
            host.counters["script_chars"] = host.counters.get("script_chars", 0) + line + winhost.script_chars(stdin)
            if parsed.form != "full":
                return await _run_loader(host, user, parsed, utf8)
            return await _run_primitive(host, user, str(parsed.script), parsed.args, utf8)
        if winhost.recognise(script) is not None:
            return await _run_primitive(host, user, script, stdin, bool(_SETS_UTF8_OUTPUT.search(script)))
        bootstrap = _parse_bootstrap(stdin)
        if bootstrap is not None:
            name, params, data = bootstrap
            _count(host, f"builtin:{name}")
            if name == "module_wrapper.ps1":
                module = str(params.get("Script", "?")).removesuffix(".ps1")
                return _fail(f"lab: not implemented: PowerShell module {module}")
            return _builtin(host, user, name, params, data)
        removed = _remove(host, script)
        if removed is not None:
            _count(host, "builtin:remove")
            return removed
    except (OSError, ValueError, KeyError) as exc:
        # Filesystem errors from the host model surface like a PowerShell error would: text on stderr, rc 1.
        return _fail(f"{type(exc).__name__}: {exc}")
    _count(host, "not_implemented")
    return not_implemented(script)
