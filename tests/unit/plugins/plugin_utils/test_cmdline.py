"""_cmdline: the one CommandLineToArgvW quoting, read back by the lab's independent splitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.plugin_utils import _cmdline, _msi
from lab.host.msiargs import split_argv, split_command_line


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\dir with space\\", '"C:\\dir with space\\\\"'),
        ("C:\\no\\space\\", "C:\\no\\space\\"),  # backslashes are literal where no quote follows
        ("tab\there", '"tab\there"'),
        ("line\nbreak", '"line\nbreak"'),
    ],
)
def test_quote(value: str, quoted: str) -> None:
    assert _cmdline.quote(value) == quoted


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20), max_size=6))
def test_command_line_splits_back_into_the_same_arguments(arguments: list[str]) -> None:
    assert split_argv(_cmdline.command_line(arguments)) == arguments


def test_name_value_gets_no_msiexec_syntax() -> None:
    # A general program does not know msiexec's NAME="value": only _msi.command_line uses it.
    assert _cmdline.command_line(["PROP=va lue"]) == '"PROP=va lue"'
    assert _msi.command_line(["PROP=va lue"]) == 'PROP="va lue"'


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20), max_size=6))
def test_msiexec_command_line_quotes_other_arguments_the_same_way(arguments: list[str]) -> None:
    plain = [a for a in arguments if "=" not in a]
    assert _msi.command_line(plain) == _cmdline.command_line(plain)
    assert split_command_line(_msi.command_line(plain)) == plain
