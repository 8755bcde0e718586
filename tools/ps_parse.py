"""PowerShell parse check: every .ps1 of the collection must parse as Windows PowerShell 5.1.

No PowerShell exists on the machines that test this collection, so the tree-sitter
PowerShell grammar stands in for the real parser. On top of syntax errors it refuses
what only PowerShell 7 understands (every Windows 10/11 PC has 5.1, not 7) and
``Invoke-Expression`` (primitives get their arguments as data on stdin, never as code).

Usage: ``python tools/ps_parse.py [PATH ...]`` (default: every .ps1 under the repository,
leaving out tool and test leftovers). Exit 1 when any file has a problem.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

PARSER = Parser(Language(tree_sitter_powershell.language()))
_SKIP_DIRS = {".git", ".venv", ".tmp", "tests/output", "node_modules", ".ansible"}
# 5.1 parses these as ordinary parameters, then fails at run time: refuse them here.
_PS7_PARAMETERS = {"-parallel": "ForEach-Object -Parallel", "-ashashtable": "-AsHashtable"}
_FORBIDDEN_COMMANDS = {"invoke-expression", "iex"}
# Primitives must stay reviewable on one screen (DESIGN.md).
MAX_LINES = 80


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def check_source(source: str, path: str = "<string>", max_lines: int | None = None) -> list[Problem]:
    """Every problem in one script, in source order; an empty list means it parses as 5.1."""
    problems: list[Problem] = []
    tree = PARSER.parse(source.encode("utf-8"))
    for node in walk(tree.root_node):
        line, column = node.start_point[0] + 1, node.start_point[1] + 1
        text = node.text.decode("utf-8", "replace") if node.text else ""
        if node.type == "ERROR":
            snippet = text.strip().splitlines()[0][:40] if text.strip() else ""
            problems.append(Problem(path, line, column, f"syntax error near {snippet!r} (PowerShell 5.1 grammar)"))
        elif node.is_missing:
            problems.append(Problem(path, line, column, f"missing {node.type!r}"))
        elif node.type == "pipeline_chain_tail":
            problems.append(Problem(path, line, column, "'&&'/'||' between pipelines needs PowerShell 7"))
        elif node.type == "command_parameter" and text.lower() in _PS7_PARAMETERS:
            problems.append(Problem(path, line, column, f"{_PS7_PARAMETERS[text.lower()]} needs PowerShell 7"))
        elif node.type == "command_name" and text.lower() in _FORBIDDEN_COMMANDS:
            problems.append(Problem(path, line, column, "Invoke-Expression is not allowed: pass data, not code"))
        elif node.type == "command" and _command_name(node) in _GET_CONTENT:
            problems.append(Problem(path, line, column, _GET_CONTENT_MSG))
        elif node.type == "cast_expression" and _signed_cast_of_unsigned(node):
            problems.append(Problem(path, line, column, _UNSIGNED_MSG.format(text.split("]")[0] + "]")))
    if max_lines is not None:
        count = len(source.splitlines())
        if count > max_lines:
            problems.append(Problem(path, 1, 1, f"{count} lines: keep a primitive under {max_lines} lines"))
    return problems


# Windows PowerShell 5.1 gives every line Get-Content returns PSPath/PSParentPath/PSChildName/
# PSDrive/PSProvider note properties; ConvertTo-Json -Depth 10 (Write-RwResult) walks PSProvider and
# hangs (PowerShell/PowerShell#6388, ansible.windows#373). A [string] cast does not reliably drop
# them (PowerShell keeps instance members of a wrapped object keyed by the object itself), so no
# Get-Content at all: lines come from .NET, as Read-RwLogTail (_Tail.ps1) reads them.
_GET_CONTENT = {"get-content", "gc", "cat", "type"}
_GET_CONTENT_MSG = (
    "no Get-Content: 5.1 gives its lines PSPath/PSProvider note properties that ConvertTo-Json walks and "
    "hangs on (PowerShell/PowerShell#6388), and a cast does not reliably drop them; use Read-RwLogTail "
    "(_Tail.ps1) or [IO.File]"
)
# Properties that are uint32 on Windows: MSFT_TaskDynamicInfo.LastTaskResult (HRESULTs of failed
# launches are 0x8xxxxxxx) and Win32_Process/CIM exit codes. A cast to a signed 32-bit (or smaller)
# type throws "Value was either too large or too small for an Int32" from 0x80000000 on.
_UNSIGNED_PROPERTIES = re.compile(r"\.\s*(LastTaskResult|ExitCode)\s*\)*\s*$", re.IGNORECASE)
_SIGNED_SMALL = {"int", "int32", "system.int32", "int16", "system.int16", "short", "sbyte", "byte"}
_UNSIGNED_MSG = "{} cast of an unsigned task/CIM result (uint32) overflows from 0x80000000 on: use [int64] or [uint32]"


def _command_name(command: Node) -> str:
    name = next((c for c in command.children if c.type == "command_name"), None)
    return name.text.decode("utf-8", "replace").lower() if name is not None and name.text else ""


def _signed_cast_of_unsigned(cast: Node) -> bool:
    kind = next((c for c in cast.children if c.type == "type_literal"), None)
    operand = next((c for c in cast.children if c.type == "unary_expression"), None)
    if kind is None or operand is None or not kind.text or not operand.text:
        return False
    if kind.text.decode("utf-8", "replace").strip("[] ").lower() not in _SIGNED_SMALL:
        return False
    return bool(_UNSIGNED_PROPERTIES.search(operand.text.decode("utf-8", "replace")))


def find_scripts(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*.ps1")):
        relative = path.relative_to(root).as_posix()
        if not any(relative == skip or relative.startswith(skip + "/") for skip in _SKIP_DIRS):
            yield path


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    paths = [Path(arg) for arg in argv] if argv else list(find_scripts(root))
    problems: list[Problem] = []
    for path in paths:
        limit = MAX_LINES if "primitives" in path.parts else None
        problems.extend(check_source(path.read_text(encoding="utf-8-sig"), str(path), limit))
    if not argv:
        # The transport guards (tools/ps_transport.py) read the bootstrap and prelude as a pair.
        sys.path.insert(0, str(root))
        from tools.ps_transport import check_primitive_dir

        problems.extend(check_primitive_dir(root / "plugins" / "plugin_utils" / "primitives"))
    for problem in problems:
        print(problem)
    print(f"ps-parse: {len(paths)} scripts, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
