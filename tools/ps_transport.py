"""Guards on the scripts every primitive depends on: the bootstrap and the prelude.

Each guard stands for a Windows PowerShell 5.1 hazard that once made a primitive fail on a
real PC while every lab test passed:

* stdout leaves in the console's OEM code page unless the bootstrap sets UTF-8, and a
  result with non-ASCII text is then garbled: the bootstrap must set ``[Console]::OutputEncoding``
  to a UTF8Encoding, and ``Write-RwResult`` must escape non-ASCII as ``\\uXXXX``;
* an AppLocker/WDAC host runs PowerShell in ConstrainedLanguage, where the first .NET call
  fails with an obscure error: the bootstrap checks the language mode before any;
* a ``trap`` covers its whole scope, also the lines above it, so if the prelude does anything
  that can throw before the functions its trap calls exist, the real error is replaced by
  "The term 'Write-RwResult' is not recognized";
* stdin is decoded in the console's input code page: every script that travels there is ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tree_sitter import Node

from tools.ps_parse import PARSER, Problem, walk

_SETS_UTF8 = re.compile(r"\[Console\]::OutputEncoding\s*=\s*New-Object\b[^\n]*UTF8Encoding", re.IGNORECASE)
_LANGUAGE_CHECK = re.compile(r"\$ExecutionContext\.SessionState\.LanguageMode", re.IGNORECASE)
_DOTNET_STATIC = re.compile(r"\[(?!string\])[A-Za-z.]+\]::", re.IGNORECASE)
_READS_INPUT = re.compile(r"\$input\b", re.IGNORECASE)
_ESCAPES_NON_ASCII = re.compile(r"\[regex\]::Replace\([^\n]*\[\^\\u0000-\\u007F\]", re.IGNORECASE)
# Statements that cannot throw and so may stand before the trap's functions exist.
_HARMLESS = re.compile(r"^\$(ErrorActionPreference|ProgressPreference)\s*=\s*'[A-Za-z]+'$")


def _line(source: str, index: int) -> int:
    return source.count("\n", 0, index) + 1


def check_bootstrap(source: str, path: str = "_Bootstrap.ps1") -> list[Problem]:
    problems: list[Problem] = []
    utf8 = _SETS_UTF8.search(source)
    reads = _READS_INPUT.search(source)
    if utf8 is None:
        problems.append(Problem(path, 1, 1, "the bootstrap must set [Console]::OutputEncoding to a UTF8Encoding"))
    elif reads is not None and reads.start() < utf8.start():
        problems.append(Problem(path, _line(source, reads.start()), 1, "set UTF-8 output before reading $input"))
    check = _LANGUAGE_CHECK.search(source)
    first_call = _DOTNET_STATIC.search(source)
    if check is None:
        problems.append(Problem(path, 1, 1, "the bootstrap must check the language mode (Constrained Language Mode)"))
    elif first_call is not None and first_call.start() < check.start():
        problems.append(
            Problem(path, _line(source, first_call.start()), 1, "check the language mode before the first .NET call")
        )
    return problems


def _statements(source: str) -> Iterator[Node]:
    tree = PARSER.parse(source.encode("utf-8"))
    for child in tree.root_node.children:
        if child.type == "statement_list":
            yield from (node for node in child.children if node.type != "comment")


def _called_commands(node: Node) -> Iterator[str]:
    if node.type == "command_name" and node.text:
        yield node.text.decode("utf-8")
    for child in node.children:
        yield from _called_commands(child)


def check_prelude(source: str, path: str = "_Prelude.ps1") -> list[Problem]:
    problems: list[Problem] = []
    if _ESCAPES_NON_ASCII.search(source) is None:
        problems.append(Problem(path, 1, 1, "Write-RwResult must escape non-ASCII characters as \\uXXXX"))
    defined: set[str] = set()
    defined_before_risk: set[str] | None = None
    trap: Node | None = None
    for node in _statements(source):
        text = (node.text or b"").decode("utf-8").strip()
        if node.type == "function_statement":
            name = next((c.text.decode() for c in node.children if c.type == "function_name" and c.text), "")
            defined.add(name.lower())
        elif node.type == "trap_statement":
            trap = node
        elif not _HARMLESS.match(text) and defined_before_risk is None:
            defined_before_risk = set(defined)
    if trap is None:
        problems.append(Problem(path, 1, 1, "the prelude must set a trap that reports errors as JSON"))
        return problems
    available = defined if defined_before_risk is None else defined_before_risk
    for name in _called_commands(trap):
        if name.lower() in defined and name.lower() not in available:
            problems.append(
                Problem(
                    path,
                    trap.start_point[0] + 1,
                    1,
                    f"the trap calls {name}, which is defined after a statement that can throw "
                    "(a trap covers its whole scope): define it first",
                )
            )
    return problems


def check_ascii(source: str, path: str) -> list[Problem]:
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.isascii():
            return [
                Problem(path, number, 1, "not ASCII: scripts travel on stdin, which the console's code page decodes")
            ]
    return []


_RW_COMMAND = re.compile(r"^[A-Z][a-z]+-Rw[A-Za-z]+$")


def check_functions_defined(script: str, path: str) -> list[Problem]:
    """Every ``Verb-RwNoun`` a built primitive calls is defined in it (prelude or a shared script it uses).

    The lab runs its own Python for each primitive, so a missing ``# rollout.windows uses:`` line would
    pass every lab test and fail on Windows with "The term ... is not recognized".
    """
    tree = PARSER.parse(script.encode("utf-8"))
    defined = {
        (c.text or b"").decode().lower()
        for node in walk(tree.root_node)
        if node.type == "function_statement"
        for c in node.children
        if c.type == "function_name"
    }
    missing = sorted({name for name in _called_commands(tree.root_node) if _RW_COMMAND.match(name)})
    return [
        Problem(path, 1, 1, f"calls {name}, which neither the prelude nor a shared script on its uses-line defines")
        for name in missing
        if name.lower() not in defined
    ]


def check_primitive_dir(directory: Path) -> list[Problem]:
    """Every guard above over the shipped primitives folder."""
    from lab.winrm.commands import winhost

    problems: list[Problem] = []
    for name in winhost.primitive_names():
        problems.extend(check_functions_defined(winhost.build_script(name), str(directory / f"{name}.ps1")))
    for script in sorted(directory.glob("*.ps1")):
        problems.extend(check_ascii(script.read_text(encoding="utf-8"), str(script)))
    bootstrap = directory / "_Bootstrap.ps1"
    prelude = directory / "_Prelude.ps1"
    problems.extend(check_bootstrap(bootstrap.read_text(encoding="utf-8"), str(bootstrap)))
    problems.extend(check_prelude(prelude.read_text(encoding="utf-8"), str(prelude)))
    return problems
