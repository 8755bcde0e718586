from __future__ import annotations

from pathlib import Path

import pytest

from tools import ps_parse


def test_every_collection_script_parses() -> None:
    root = Path(__file__).resolve().parents[3]
    scripts = list(ps_parse.find_scripts(root))
    assert scripts, "the collection ships PowerShell primitives"
    problems = [p for s in scripts for p in ps_parse.check_source(s.read_text(encoding="utf-8-sig"), str(s))]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("function f { if ($x) { 1 }", "missing"),
        ("$a = $b ?? 3", "syntax error"),
        ("$a = $x ? 1 : 2", "syntax error"),
        ("Get-Item a && Get-Item b", "PowerShell 7"),
        ("1..3 | ForEach-Object -Parallel { $_ }", "ForEach-Object -Parallel needs PowerShell 7"),
        ("ConvertFrom-Json -AsHashtable -InputObject $x", "-AsHashtable needs PowerShell 7"),
        ("Invoke-Expression $userText", "Invoke-Expression is not allowed"),
        ("iex $userText", "Invoke-Expression is not allowed"),
    ],
)
def test_broken_or_ps7_script_is_refused(source: str, expected: str) -> None:
    problems = ps_parse.check_source(source)
    assert any(expected in p.message for p in problems), problems


def test_valid_51_script_passes() -> None:
    source = "$p = @{ a = 1 }\nif ($p.a -eq 1) { Write-Output 'ok' } else { exit 1 }\n"
    assert ps_parse.check_source(source) == []


def test_cli_fails_on_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "Broken.ps1"
    broken.write_text("function f {\n", encoding="utf-8")
    assert ps_parse.main([str(broken)]) == 1
    assert "Broken.ps1:" in capsys.readouterr().out


def test_primitive_length_limit() -> None:
    source = "\n".join(f"$v{i} = {i}" for i in range(ps_parse.MAX_LINES + 1))
    assert any("lines" in p.message for p in ps_parse.check_source(source, max_lines=ps_parse.MAX_LINES))
