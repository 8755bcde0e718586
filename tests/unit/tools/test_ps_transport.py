"""Each transport guard refuses a script that breaks it, and the shipped scripts pass them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import ps_transport

PRIMITIVES = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "primitives"
BOOTSTRAP = (PRIMITIVES / "_Bootstrap.ps1").read_text(encoding="utf-8")
PRELUDE = (PRIMITIVES / "_Prelude.ps1").read_text(encoding="utf-8")


def _messages(problems: list[ps_transport.Problem]) -> str:
    return "\n".join(p.message for p in problems)


def test_the_shipped_scripts_pass_every_guard() -> None:
    assert ps_transport.check_primitive_dir(PRIMITIVES) == []


def test_a_bootstrap_without_utf8_output_is_refused() -> None:
    broken = "\n".join(line for line in BOOTSTRAP.splitlines() if "OutputEncoding" not in line)
    assert "must set [Console]::OutputEncoding" in _messages(ps_transport.check_bootstrap(broken))


def test_utf8_set_after_reading_input_is_refused() -> None:
    lines = BOOTSTRAP.splitlines()
    utf8 = next(line for line in lines if "OutputEncoding" in line)
    broken = "\n".join([line for line in lines if line != utf8] + [utf8])
    assert "before reading $input" in _messages(ps_transport.check_bootstrap(broken))


def test_a_bootstrap_without_the_language_check_is_refused() -> None:
    broken = "\n".join(line for line in BOOTSTRAP.splitlines() if "LanguageMode" not in line)
    assert "must check the language mode" in _messages(ps_transport.check_bootstrap(broken))


def test_a_dotnet_call_before_the_language_check_is_refused() -> None:
    broken = "$x = [System.IO.Path]::GetTempPath()\n" + BOOTSTRAP
    assert "before the first .NET call" in _messages(ps_transport.check_bootstrap(broken))


def test_a_trap_that_can_fire_before_its_function_exists_is_refused() -> None:
    broken = (
        "$ErrorActionPreference = 'Stop'\n"
        "$rwArgs = ConvertFrom-Json -InputObject $text\n"
        "function Write-RwResult { param ($Result) [regex]::Replace($j, '[^\\u0000-\\u007F]', { 1 }) }\n"
        "trap { Write-RwResult -Result @{ failed = $true }; exit 1 }\n"
    )
    assert "the trap calls Write-RwResult, which is defined after" in _messages(ps_transport.check_prelude(broken))


def test_a_prelude_that_does_not_escape_non_ascii_is_refused() -> None:
    broken = PRELUDE.replace("[regex]::Replace(", "[regex]::Matches(")
    assert "escape non-ASCII" in _messages(ps_transport.check_prelude(broken))


def test_a_prelude_without_a_trap_is_refused() -> None:
    broken = "\n".join(line for line in PRELUDE.splitlines() if not line.startswith("trap"))
    assert "must set a trap" in _messages(ps_transport.check_prelude(broken.replace("exit 1\n}", "")))


@pytest.mark.parametrize("text", ["# J\u00fcrgen\n$a = 1", "$a = '\u2013'"])
def test_a_script_beyond_ascii_is_refused(text: str) -> None:
    assert "not ASCII" in _messages(ps_transport.check_ascii(text, "x.ps1"))


def test_a_primitive_calling_a_shared_function_it_does_not_declare_is_refused() -> None:
    from lab.winrm.commands import winhost

    built = winhost.build_script("Invoke-Msiexec")
    assert ps_transport.check_functions_defined(built, "Invoke-Msiexec.ps1") == []
    without_uses = built.replace((PRIMITIVES / "_Tail.ps1").read_text(encoding="utf-8"), "")
    problems = ps_transport.check_functions_defined(without_uses, "Invoke-Msiexec.ps1")
    assert "calls Read-RwLogTail, which neither the prelude nor a shared script" in _messages(problems)


def test_a_uses_line_naming_an_unknown_script_is_refused() -> None:
    from ansible_collections.rollout.windows.plugins.plugin_utils import _winhost

    with pytest.raises(ValueError, match="unknown shared script"):
        _winhost.shared_scripts("# rollout.windows uses: _Nothing\n$a = 1")
    with pytest.raises(ValueError, match="not a shared script name"):
        _winhost.shared_scripts("# rollout.windows uses: _Prelude\n$a = 1")
