"""Which session a user name means, and which messages Windows would cut or refuse."""

from __future__ import annotations

import pytest

from ansible_collections.rollout.windows.plugins.plugin_utils import _sessions


def test_message_limits_count_utf16_units() -> None:
    _sessions.check_message("x" * 255, "t" * 64)
    _sessions.check_message("ü" * 255, "")
    with pytest.raises(ValueError, match=r"message must have at most 255 characters .* got 256"):
        _sessions.check_message("x" * 256, "")
    # An emoji is two UTF-16 units: 128 of them are 256 units.
    with pytest.raises(ValueError, match="got 256"):
        _sessions.check_message("\U0001f600" * 128, "")
    with pytest.raises(ValueError, match="title must have at most 64"):
        _sessions.check_message("hi", "t" * 65)
    with pytest.raises(ValueError, match="NUL"):
        _sessions.check_message("a\x00b", "")
    with pytest.raises(ValueError, match="text must not be empty"):
        _sessions.check_message("", "", text_option="text")


def test_user_matching() -> None:
    assert _sessions.user_matches("PC01\\Anna", "anna")
    assert _sessions.user_matches("PC01\\anna", "pc01\\ANNA")
    assert not _sessions.user_matches("CORP\\anna", "PC01\\anna")
    assert not _sessions.user_matches("PC01\\annabel", "anna")
    assert not _sessions.user_matches(None, "anna")
