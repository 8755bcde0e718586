"""The Windows PowerShell 5.1 hazard guards of tools/ps_parse.py and the Add-Type C# check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import cs_compile, ps_parse

ROOT = Path(__file__).resolve().parents[3]
PRIMITIVES = ROOT / "plugins" / "plugin_utils" / "primitives"


@pytest.mark.parametrize(
    "source",
    [
        "$tail = @(Get-Content -LiteralPath $log -Tail 40)\nWrite-RwResult -Result @{ log_tail = $tail }",
        "Write-RwResult -Result @{ log_tail = (Get-Content $log) }",
        "$t = Get-Content $log -Raw",
        "$t = [string[]]@(Get-Content $log | Select-Object -Last 5)",
        "$t = @(gc $log)",
        # A cast does not reliably drop the note properties either.
        "$tail = [string[]]@(Get-Content -LiteralPath $log -Tail 40)",
        "$tail = @(Get-Content $log -Tail 40 | ForEach-Object { [string]$_ })",
    ],
)
def test_get_content_is_refused(source: str) -> None:
    problems = ps_parse.check_source(source)
    assert [p.message for p in problems if "no Get-Content" in p.message], problems


@pytest.mark.parametrize(
    "source",
    [
        "$tail = Read-RwLogTail -Path $logPath",
        "$lines = [IO.File]::ReadAllLines($path)",
    ],
)
def test_lines_read_through_dotnet_pass(source: str) -> None:
    assert ps_parse.check_source(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "$rc = [int]$info.LastTaskResult",
        "$rc = [int]($info.LastTaskResult)",
        "Write-RwResult -Result @{ rc = [Int32]$info.LastTaskResult }",
        "$rc = [int]$process.ExitCode",
    ],
)
def test_signed_cast_of_unsigned_result_is_refused(source: str) -> None:
    problems = ps_parse.check_source(source)
    assert [p.message for p in problems if "unsigned task/CIM result" in p.message], problems


@pytest.mark.parametrize(
    "source", ["$rc = [int64]$info.LastTaskResult", "$rc = [uint32]$info.LastTaskResult", "$n = [int]$list.Count"]
)
def test_wide_cast_of_unsigned_result_passes(source: str) -> None:
    assert ps_parse.check_source(source) == []


def test_shipped_primitives_pass_the_guards() -> None:
    for script in sorted(PRIMITIVES.glob("*.ps1")):
        assert ps_parse.check_source(script.read_text(encoding="utf-8-sig"), str(script)) == []


# -- Add-Type C# sources compile with mcs --------------------------------------------------------------
needs_mcs = pytest.mark.skipif(
    shutil.which("mcs") is None, reason="mcs missing: tools/setup.sh installs mono-mcs; run make setup"
)

BROKEN_MEMBERS = """$x = 1
Add-Type -Namespace RolloutWindows -Name Broken -MemberDefinition @'
[DllImport("wtsapi32.dll")]
private static extern bool WTSLogoffSession(IntPtr server, int sessionId, bool wait);
public static int Logoff(int id) { return WTSLogoffSession(IntPtr.Zero, id, false); }
'@
"""

BROKEN_TYPE = """Add-Type -TypeDefinition @'
namespace RolloutWindows { public static class T { public static int F() { return 1 } } }
'@
"""

CLEAN_MEMBERS = BROKEN_MEMBERS.replace("return WTSLogoffSession(IntPtr.Zero, id, false);", "return id;")


@needs_mcs
def test_member_definition_with_a_type_error_is_refused_at_its_ps1_line() -> None:
    (source,) = cs_compile.extract(BROKEN_MEMBERS, "Broken.ps1")
    problems = cs_compile.compile_source(source)
    assert len(problems) == 1
    # The bool returned as int is on line 5 of the script, not of the generated wrapper.
    assert problems[0].line == 5
    assert "CS0029" in problems[0].message


@needs_mcs
def test_type_definition_with_a_syntax_error_is_refused() -> None:
    (source,) = cs_compile.extract(BROKEN_TYPE, "Broken.ps1")
    problems = cs_compile.compile_source(source)
    assert problems
    assert problems[0].line == 2
    assert "CS1525" in problems[0].message


@needs_mcs
def test_clean_member_definition_compiles_with_add_types_default_usings() -> None:
    # DllImport and IntPtr need the System and InteropServices usings Add-Type adds by itself.
    (source,) = cs_compile.extract(CLEAN_MEMBERS, "Clean.ps1")
    assert cs_compile.compile_source(source) == []


@needs_mcs
def test_every_shipped_add_type_source_compiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert cs_compile.main([]) == 0
    out = capsys.readouterr().out
    assert "0 problems" in out
    assert "Add-Type sources" in out
    assert not out.startswith("cs-compile: 0 ")


def test_missing_compiler_is_a_problem_not_a_pass() -> None:
    (source,) = cs_compile.extract(CLEAN_MEMBERS, "Clean.ps1")
    problems = cs_compile.compile_source(source, mcs="/nonexistent/mcs")
    assert problems
    assert "mcs" in problems[0].message
