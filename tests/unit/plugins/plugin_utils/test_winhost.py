from __future__ import annotations

import base64
import json
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.plugin_utils import _winhost


def test_script_carries_marker_prelude_and_body() -> None:
    script = _winhost.build_script("Get-HostInfo")
    assert script.splitlines()[0] == "# rollout.windows primitive: Get-HostInfo"
    assert "$rwArgs" in script
    assert "Win32_OperatingSystem" in script
    assert _winhost.recognise(script) == "Get-HostInfo"


def test_bootstrap_marker_survives_ansible_encoding() -> None:
    from ansible.plugins.loader import shell_loader

    shell = shell_loader.get("powershell")
    command = shell._encode_script(_winhost.bootstrap_script(), strict_mode=True, preserve_rc=False)
    decoded = base64.b64decode(command.split()[-1]).decode("utf-16-le")
    assert _winhost.is_bootstrap(decoded)
    assert _winhost.recognise(decoded) is None


@pytest.mark.parametrize("name", ["Get-Nothing", "get-hostinfo", "_Prelude", "../x", "Get-HostInfo; rm"])
def test_unknown_or_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="primitive"):
        _winhost.build_script(name)


def test_recognise_ignores_scripts_without_marker() -> None:
    assert _winhost.recognise("Write-Output 'hello'") is None


@given(st.dictionaries(st.text(min_size=1), st.one_of(st.text(), st.integers(), st.lists(st.text()))))
def test_args_travel_as_exact_json(args: dict[str, t.Any]) -> None:
    assert json.loads(_winhost.encode_args(args).decode("utf-8")) == args


def test_parse_output_takes_last_json_object() -> None:
    out = 'banner\n{"a": 1}\nnoise\n{"b": 2}\n'
    assert _winhost.parse_output("Get-HostInfo", 0, out, "") == {"b": 2}


def test_parse_output_raises_failure_with_message() -> None:
    with pytest.raises(_winhost.PrimitiveError) as info:
        _winhost.parse_output("Get-HostInfo", 1, '{"failed": true, "msg": "access denied"}', "")
    assert info.value.msg == "access denied"
    assert info.value.rc == 1


def test_parse_output_without_json_reports_stderr() -> None:
    with pytest.raises(_winhost.PrimitiveError, match="lab: not implemented"):
        _winhost.parse_output("Get-HostInfo", 1, "", "lab: not implemented: x")


def test_winhost_counts_commands_and_bytes() -> None:
    from ansible.plugins.loader import shell_loader

    sent: list[tuple[str, bytes]] = []

    class FakeAction:
        class _connection:
            _shell = shell_loader.get("powershell")

        def _low_level_execute_command(self, cmd: str, in_data: bytes) -> dict[str, t.Any]:
            sent.append((cmd, in_data))
            return {"rc": 0, "stdout": '{"computer_name": "PC1"}', "stderr": ""}

    host = _winhost.WinHost(FakeAction())
    assert host.run("Get-HostInfo", {"x": "a b"}) == {"computer_name": "PC1"}
    assert host.stats.commands == 1
    assert host.stats.bytes_sent == len(sent[0][0]) + len(sent[0][1])
    parts = _winhost.split_stdin(sent[0][1])
    assert parts is not None
    assert _winhost.recognise(parts[0]) == "Get-HostInfo"
    assert json.loads(parts[1]) == {"x": "a b"}
    assert "a b" not in sent[0][0]


def test_an_oversized_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_winhost, "MAX_RESULT_CHARS", 100)
    with pytest.raises(_winhost.PrimitiveError, match="over the 100 accepted"):
        _winhost.parse_output("Get-HostInfo", 0, '{"a": "' + "x" * 200 + '"}', "")


def test_a_deeply_nested_answer_is_no_result_not_a_crash() -> None:
    hostile = "{" + '"a":[' * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(_winhost.PrimitiveError, match="returned no JSON result"):
        _winhost.parse_output("Get-HostInfo", 0, hostile, "")
