from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.plugin_utils import _plan


def _fleet(sizes: list[int]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    counter = 0
    for index, size in enumerate(sizes):
        name = "pilot" if index == 0 else f"wave_{index}"
        groups[name] = [f"h{counter + i:05d}" for i in range(size)]
        counter += size
    groups["rollout_clients"] = [h for name, hosts in groups.items() for h in hosts]
    return groups


def test_each_wave_is_one_batch() -> None:
    groups = _fleet([2, 5, 0, 7])
    batches = _plan.plan(groups["rollout_clients"], groups)
    assert [(b.wave, list(b.hosts)) for b in batches] == [
        ("pilot", groups["pilot"]),
        ("wave_1", groups["wave_1"]),
        ("wave_3", groups["wave_3"]),  # the empty wave_2 adds no batch (serial must not hold a 0)
    ]
    assert _plan.serial(batches) == [2, 5, 7]


def test_a_big_wave_is_cut_into_even_pieces_that_stay_inside_it() -> None:
    groups = _fleet([3, 100, 7])
    batches = _plan.plan(groups["rollout_clients"], groups, max_batch=40)
    assert _plan.serial(batches) == [3, 34, 33, 33, 7]
    assert [(b.wave, b.part, b.parts) for b in batches][1:4] == [("wave_1", 1, 3), ("wave_1", 2, 3), ("wave_1", 3, 3)]


def test_batches_follow_the_group_order_not_the_input_order() -> None:
    # Ansible enumerates pilot:wave_1 group by group, each in the group's order; the input
    # (ansible_play_hosts_all of a templated pattern, or rollout_clients) may be in any order.
    groups = {"pilot": ["c"], "wave_1": ["b", "a", "d"], "rollout_clients": ["a", "b", "c", "d"]}
    batches = _plan.plan(["d", "a", "b", "c"], groups, max_batch=2)
    assert [list(b.hosts) for b in batches] == [["c"], ["b", "a"], ["d"]]


def test_waves_are_found_by_number() -> None:
    groups = {name: ["x" + name] for name in ("wave_10", "wave_2", "pilot", "wave_1", "waves", "wave_x", "all")}
    assert _plan.discover_waves(groups) == ["pilot", "wave_1", "wave_2", "wave_10"]
    assert _plan.wave_pattern(_plan.discover_waves(groups), "rollout_clients") == (
        "pilot:wave_1:wave_2:wave_10:rollout_clients"
    )


def test_a_host_in_two_waves_is_refused_with_both_groups() -> None:
    groups = {"pilot": ["a"], "wave_1": ["b", "c"], "wave_2": ["c", "d"]}
    with pytest.raises(_plan.PlanError, match=r"host c is in two waves, wave_1 and wave_2"):
        _plan.plan(["a", "b", "c", "d"], groups)


def test_hosts_in_no_wave_are_refused_or_run_last_or_ignored() -> None:
    groups = {"pilot": ["a"], "wave_1": ["b"], "rollout_clients": ["a", "x", "b", "y", "z"]}
    with pytest.raises(_plan.PlanError, match=r"3 host\(s\) of the play are in no wave .*: x, y, z; .*unassigned"):
        _plan.plan(groups["rollout_clients"], groups)
    last = _plan.plan(groups["rollout_clients"], groups, unassigned="last", max_batch=2)
    assert [(b.wave, list(b.hosts)) for b in last] == [
        ("pilot", ["a"]),
        ("wave_1", ["b"]),
        ("unassigned", ["x", "y"]),
        ("unassigned", ["z"]),
    ]
    assert _plan.serial(_plan.plan(groups["rollout_clients"], groups, unassigned="ignore")) == [1, 1]


def test_limit_plans_only_the_hosts_within_it() -> None:
    groups = _fleet([2, 4, 4])
    limited = groups["wave_2"][:3] + groups["pilot"][:1]
    assert _plan.serial(_plan.plan(limited, groups)) == [1, 3]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "rolling"}, "strategy must be one of waves, pilot, big_bang"),
        ({"max_batch": -1}, "max_batch must be a whole number"),
        ({"max_batch": "ten"}, "max_batch must be a whole number"),
        ({"max_batch": 2.5}, "max_batch must be a whole number"),
        ({"unassigned": "skip"}, "unassigned must be one of error, last, ignore"),
        ({"waves": "pilot"}, "waves must be a list of group names"),
        ({"waves": ["pilot", "wave_9"]}, "inventory does not have: wave_9"),
        ({"waves": ["pilot", "pilot"]}, "names a group twice"),
        ({"strategy": "pilot", "steps": [10, 0]}, "steps must be percentages from 1 to 100"),
        ({"strategy": "pilot", "steps": "10,20"}, "steps must be a list"),
        ({"strategy": "pilot", "pilot": "canary"}, "needs a group named 'canary'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict[str, object], message: str) -> None:
    groups = _fleet([1, 2])
    with pytest.raises(_plan.PlanError, match=message):
        _plan.plan(groups["rollout_clients"], groups, **options)  # type: ignore[arg-type]


def test_pilot_then_growing_steps_of_the_rest_capped() -> None:
    groups = _fleet([5, 95])
    batches = _plan.plan(groups["rollout_clients"], groups, strategy="pilot")
    # 10 % of 95 = 9, 25 % = 23, 50 % = 47, then the 16 left
    assert _plan.serial(batches) == [5, 9, 23, 47, 16]
    assert [b.wave for b in batches] == ["pilot", "step_1", "step_2", "step_3", "step_4"]
    capped = _plan.plan(groups["rollout_clients"], groups, strategy="pilot", max_batch=20, steps=["10%", 25])
    assert _plan.serial(capped) == [5, 9, 12, 11, 16, 16, 16, 15]  # the 63 left: 4 even pieces
    assert max(_plan.serial(capped)) <= 20


def test_pilot_needs_pilot_hosts() -> None:
    groups = {"pilot": [], "wave_1": ["a"]}
    with pytest.raises(_plan.PlanError, match="has no host in this play"):
        _plan.plan(["a"], groups, strategy="pilot")


def test_big_bang_is_one_batch_and_refused_above_1000_unless_confirmed() -> None:
    hosts = [f"h{i}" for i in range(1001)]
    groups: dict[str, list[str]] = {"rollout_clients": hosts}
    assert _plan.serial(_plan.plan(hosts[:1000], groups, strategy="big_bang")) == [1000]
    with pytest.raises(_plan.PlanError, match=r"1001 hosts .* set rollout_big_bang_confirm=true"):
        _plan.plan(hosts, groups, strategy="big_bang")
    with pytest.raises(_plan.PlanError, match="rollout_big_bang_confirm"):
        _plan.plan(hosts, groups, strategy="big_bang", confirm="no")
    assert _plan.serial(_plan.plan(hosts, groups, strategy="big_bang", confirm=True, max_batch=10)) == [1001]
    assert _plan.serial(_plan.plan(hosts, groups, strategy="big_bang", confirm="True")) == [1001]
    assert _plan.plan([], groups, strategy="big_bang") == []


names = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=4)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[dict[str, list[str]], list[str]]:
    """Random waves (some empty), random input order, some hosts in no wave."""
    hosts = draw(st.lists(names, unique=True, max_size=60))
    count = draw(st.integers(min_value=1, max_value=6))
    groups: dict[str, list[str]] = {"pilot": [], **{f"wave_{i}": [] for i in range(1, count)}}
    waves = list(groups)
    stray: list[str] = []
    for host in hosts:
        slot = draw(st.integers(min_value=-1, max_value=len(waves) - 1))
        (stray if slot < 0 else groups[waves[slot]]).append(host)
    play = draw(st.permutations(hosts))
    return groups, list(play)


@settings(max_examples=300, deadline=None)
@given(fleet=fleets(), cap=st.integers(min_value=0, max_value=7), mode=st.sampled_from(["last", "ignore"]))
def test_plan_properties(fleet: tuple[dict[str, list[str]], list[str]], cap: int, mode: str) -> None:
    groups, play = fleet
    batches = _plan.plan(play, groups, max_batch=cap, unassigned=mode)
    flat = [h for b in batches for h in b.hosts]
    member = {h: w for w, hosts in groups.items() for h in hosts}
    expected = [h for w in _plan.discover_waves(groups) for h in groups[w]]
    stray = [h for h in play if h not in member]
    if mode == "last":
        expected += stray
    # every host exactly once, in the order Ansible enumerates pilot:wave_1:...:<tail>
    assert flat == expected
    for batch in batches:
        assert batch.hosts  # no empty batch: a 0 in serial would mean "all hosts"
        assert cap == 0 or len(batch.hosts) <= cap
        # no batch crosses a wave boundary
        assert {member.get(h, _plan.UNASSIGNED) for h in batch.hosts} == {batch.wave}
    assert sum(_plan.serial(batches)) == len(flat)


@settings(max_examples=200, deadline=None)
@given(rest=st.integers(min_value=0, max_value=400), cap=st.integers(min_value=0, max_value=50))
def test_pilot_plan_covers_everyone_once(rest: int, cap: int) -> None:
    groups = _fleet([3, rest])
    batches = _plan.plan(groups["rollout_clients"], groups, strategy="pilot", max_batch=cap)
    flat = [h for b in batches for h in b.hosts]
    assert flat == groups["rollout_clients"]
    assert all(len(b.hosts) > 0 and (cap == 0 or len(b.hosts) <= cap) for b in batches)
    assert batches[0].wave == "pilot"
