"""Wave approvals: which values of rollout_approve_waves approve a wave, and which answers to the prompt do."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.filter import approval


def test_filters_are_registered() -> None:
    assert set(approval.FilterModule().filters()) == {"wave_approved", "wave_answer_approves"}


@pytest.mark.parametrize(
    "approvals",
    [
        True,
        "true",  # -e rollout_approve_waves=true passes a string
        "True",
        "yes",
        "ALL",
        ["wave_1", "wave_2"],
        ("wave_2",),
        "wave_2",
        "wave_1,wave_2",
        "wave_1, wave_2 ",
    ],
)
def test_approved_in_advance(approvals: t.Any) -> None:
    assert approval.wave_approved(approvals, "wave_2") is True


@pytest.mark.parametrize(
    "approvals",
    [
        False,
        None,
        [],
        "",
        "false",
        "no",
        ["wave_1"],
        [" wave_2"],  # a list names waves exactly
        ["WAVE_2"],
        "wave_1,wave_3",
        "Wave_2",  # wave names keep their case
        "wave_22",
        {"wave_2": True},  # a mapping is not a list of waves
        1,
    ],
)
def test_not_approved_in_advance(approvals: t.Any) -> None:
    assert approval.wave_approved(approvals, "wave_2") is False


@pytest.mark.parametrize("answer", ["yes", "y", "YES", "Y", " yes ", "Yes\n"])
def test_answers_that_approve(answer: str) -> None:
    assert approval.wave_answer_approves(answer) is True


@pytest.mark.parametrize("answer", ["", " ", "no", "n", "yess", "ye", "yes please", "ok", "true", None, True])
def test_answers_that_refuse(answer: t.Any) -> None:
    assert approval.wave_answer_approves(answer) is False
