"""The batch cap of one job when job slicing runs several at once: their share of the backend's throttle."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollout.windows.plugins.filter import plan as filters
from ansible_collections.rollout.windows.plugins.plugin_utils import _plan


@pytest.mark.parametrize(
    ("throttle", "max_batch", "slices", "cap"),
    [
        (200, 0, 1, 200),  # one job: the whole throttle, as before slicing
        (200, 0, 3, 66),  # rounded down: 3 x 66 = 198 <= 200
        (6, 0, 3, 2),
        (7, 0, 3, 2),
        (3, 0, 3, 1),  # as many slices as slots: one host per batch, never 0
        (200, 50, 3, 50),  # rollout_max_batch below the share applies to each slice
        (200, 100, 3, 66),  # the share below rollout_max_batch wins
        (0, 0, 3, 0),  # no throttle, no max_batch: no cap, whatever the slices
        (0, 5, 3, 5),  # no throttle: rollout_max_batch alone, per slice
        (None, 0, 1, 0),  # the backend reports no throttle
        ("6", "0", "3", 2),  # -e key=value hands over strings
        (6, None, None, 6),  # unset max_batch and slices: no cap of its own, one job
    ],
)
def test_the_cap_is_the_slices_share_of_the_throttle(
    throttle: t.Any, max_batch: t.Any, slices: t.Any, cap: int
) -> None:
    assert _plan.batch_cap(throttle, max_batch, slices) == cap


@pytest.mark.parametrize("slices", [1, 2, 3, 4, 5, 6, 7, 10, 50, 199, 200])
def test_the_slices_together_never_exceed_the_throttle(slices: int) -> None:
    cap = _plan.batch_cap(200, 0, slices)
    assert cap >= 1
    assert slices * cap <= 200


def test_more_slices_than_the_throttle_are_refused_naming_both_settings() -> None:
    with pytest.raises(_plan.PlanError) as caught:
        _plan.batch_cap(4, 0, 5)
    message = str(caught.value)
    assert "rollout_slices=5" in message
    assert "max_parallel_syncs=4" in message
    assert "Lower rollout_slices" in message
    assert "raise max_parallel_syncs (rollout_backend_settings)" in message


def test_many_slices_without_a_throttle_are_not_refused() -> None:
    # Nothing to share: the slices' batches are only capped by rollout_max_batch, if set.
    assert _plan.batch_cap(0, 0, 500) == 0


@pytest.mark.parametrize("slices", [0, -1, "0", "x", "2.5", 2.5, True, [3]])
def test_slices_below_one_or_not_whole_are_refused(slices: t.Any) -> None:
    with pytest.raises(_plan.PlanError, match="rollout_slices must be a whole number of at least 1"):
        _plan.batch_cap(6, 0, slices)


@pytest.mark.parametrize("throttle", [-1, "many", 2.5])
def test_a_throttle_that_is_not_a_count_is_refused(throttle: t.Any) -> None:
    with pytest.raises(_plan.PlanError, match="max_parallel_syncs must be a whole number"):
        _plan.batch_cap(throttle, 0, 1)


def test_a_negative_max_batch_is_refused() -> None:
    with pytest.raises(_plan.PlanError, match="max_batch must be a whole number"):
        _plan.batch_cap(6, -1, 1)


def test_the_filter_passes_the_cap_and_turns_refusals_into_filter_errors() -> None:
    assert filters.batch_cap(200, max_batch=0, slices=3) == 66
    with pytest.raises(AnsibleFilterError, match="rollout plan: rollout_slices=3 job slices cannot share"):
        filters.batch_cap(2, slices=3)


def test_a_slice_plans_its_waves_within_its_share() -> None:
    # A slice of a job template sliced in 3 holds every third host by name; its waves are cut at its share.
    hosts = [f"pc-{i:02d}" for i in range(1, 25)]
    groups = {"pilot": hosts[:3], "wave_1": hosts[3:15], "wave_2": hosts[15:]}
    share = _plan.batch_cap(6, 0, 3)
    for number in range(3):
        mine = set(hosts[number::3])
        sliced = {name: [host for host in members if host in mine] for name, members in groups.items()}
        batches = _plan.plan(sorted(mine), sliced, max_batch=share)
        assert max(len(batch.hosts) for batch in batches) <= share
        assert sorted(host for batch in batches for host in batch.hosts) == sorted(mine)
