# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logged-on users' sessions on the controller: whose session a user name means, and what a message may say.

The modules that message sessions or start programs in them (session_message, session_program,
office_processes) decide here, before anything touches the host, so a user name matches and a
message is refused the same way in every one of them.
"""

from __future__ import annotations

# msg.exe refuses a longer text; WTSSendMessage would take more, but 255 keeps a message valid for
# both, so an admin can repeat it by hand with msg.exe. Counted in UTF-16 code units as Windows does.
MAX_TEXT = 255
# One line of a message box title bar.
MAX_TITLE = 64


def utf16_length(text: str) -> int:
    """Length as Windows counts it: a character outside the Basic Multilingual Plane (an emoji) is two."""
    return len(text.encode("utf-16-le")) // 2


def check_message(text: str, title: str, text_option: str = "message", title_option: str = "title") -> None:
    """Refuse what Windows would cut or refuse, before anything touches the host."""
    if not text:
        raise ValueError(f"{text_option} must not be empty")
    for option, value, limit in ((text_option, text, MAX_TEXT), (title_option, title, MAX_TITLE)):
        if "\x00" in value:
            raise ValueError(f"{option} must not contain a NUL character (Windows would cut the message there)")
        length = utf16_length(value)
        if length > limit:
            raise ValueError(
                f"{option} must have at most {limit} characters (UTF-16 code units; an emoji counts as 2), got {length}"
            )


def user_matches(account: str | None, wanted: str) -> bool:
    """``alice`` matches ``PC01\\alice`` and ``DOMAIN\\alice``; ``DOMAIN\\alice`` matches only itself."""
    if not account:
        return False
    if "\\" in wanted:
        return account.lower() == wanted.lower()
    return account.rsplit("\\", 1)[-1].lower() == wanted.lower()
