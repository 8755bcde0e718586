# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wave approval filters: whether a wave is approved in advance, and whether an answer to the prompt approves.

The rollout role asks before each wave boundary; ``rollout_approve_waves`` answers for runs without
a terminal. Its value arrives as YAML (``true``, a list) or, from ``-e key=value``, as a string
(``"true"``, ``"wave_1,wave_2"``), so reading it is a decision worth a test of its own. The
documentation of each filter is the sidecar ``<filter>.yml`` beside this file.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

# Strings from -e key=value that approve every wave.
ALL_WAVES = ("true", "yes", "all")
# Answers to the prompt that approve the next wave; anything else (an empty line too) refuses it.
YES = ("yes", "y")


def wave_approved(approvals: t.Any, wave: str) -> bool:
    """Whether ``approvals`` (``rollout_approve_waves``) approves ``wave`` in advance.

    ``true`` approves all and so do the strings in :data:`ALL_WAVES`; a list names waves exactly, a
    string names them separated by commas. Anything else (``false``, a mapping, a number) approves none.
    """
    if approvals is True:
        return True
    if isinstance(approvals, str):
        if approvals.lower() in ALL_WAVES:
            return True
        return wave in (name.strip() for name in approvals.split(","))
    if isinstance(approvals, Iterable) and not isinstance(approvals, Mapping):
        return wave in approvals
    return False


def wave_answer_approves(answer: t.Any) -> bool:
    """Whether an answer typed at the prompt approves the next wave: ``yes`` or ``y``, in any case."""
    return isinstance(answer, str) and answer.strip().lower() in YES


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"wave_approved": wave_approved, "wave_answer_approves": wave_answer_approves}
