from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.rollout.windows.plugins.filter import plan as filters


def test_filters_are_registered() -> None:
    assert set(filters.FilterModule().filters()) == {
        "wave_serial",
        "wave_batches",
        "wave_groups",
        "wave_pattern",
        "batch_cap",
        "wave_batch",
        "batch_gate",
        "differing_settings",
    }


def test_serial_batches_and_pattern_agree() -> None:
    groups = {"pilot": ["p"], "wave_1": ["a", "b", "c"], "wave_2": ["d"], "rollout_clients": ["a", "b", "c", "d", "p"]}
    hosts = groups["rollout_clients"]
    assert filters.wave_serial(hosts, groups, max_batch=2) == [1, 2, 1, 1]
    batches = filters.wave_batches(hosts, groups, max_batch=2)
    assert batches[1] == {"batch": 2, "wave": "wave_1", "part": 1, "parts": 2, "size": 2, "hosts": ["a", "b"]}
    assert filters.wave_groups(groups) == ["pilot", "wave_1", "wave_2"]
    assert filters.wave_pattern(groups) == "pilot:wave_1:wave_2"
    assert filters.wave_pattern(groups, tail="rollout_clients") == "pilot:wave_1:wave_2:rollout_clients"


def test_plan_errors_become_filter_errors() -> None:
    with pytest.raises(AnsibleFilterError, match="rollout plan: host a is in two waves, pilot and wave_1"):
        filters.wave_serial(["a"], {"pilot": ["a"], "wave_1": ["a"]})
    with pytest.raises(AnsibleFilterError, match="no wave groups"):
        filters.wave_pattern({"rollout_clients": ["a"]})
    with pytest.raises(AnsibleFilterError, match="groups mapping"):
        filters.wave_groups(["pilot"])  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1_000, 10_000])
def test_planning_covers_every_host_of_a_large_fleet(size: int) -> None:
    # How long it takes is a figure, not an assertion: bench/controller_cpu.py prints it.
    hosts = [f"pc-{i:05d}.corp.example.com" for i in range(size)]
    pilot = size // 20
    third = (size - pilot) // 3
    groups = {
        "pilot": hosts[:pilot],
        "wave_1": hosts[pilot : pilot + third],
        "wave_2": hosts[pilot + third : pilot + 2 * third],
        "wave_3": hosts[pilot + 2 * third :],
        "rollout_clients": hosts,
    }
    serial = filters.wave_serial(list(reversed(hosts)), groups, max_batch=200)
    assert sum(serial) == size
    assert max(serial) <= 200


def test_wave_batch_finds_the_batch_ansible_runs_and_refuses_another_cut() -> None:
    batches = [
        {"batch": 1, "wave": "pilot", "part": 1, "parts": 1, "size": 1, "hosts": ["a"]},
        {"batch": 2, "wave": "wave_1", "part": 1, "parts": 1, "size": 2, "hosts": ["b", "c"]},
    ]
    assert filters.wave_batch(batches, ["c", "b"])["batch"] == 2
    with pytest.raises(AnsibleFilterError, match=r"batch 2 should be wave_1 \(2 hosts\) but Ansible runs 3 other"):
        filters.wave_batch(batches, ["b", "c", "a"])
    with pytest.raises(AnsibleFilterError, match="x is in no planned batch"):
        filters.wave_batch(batches, ["x"])


GATE_BATCHES = [
    {"batch": 1, "wave": "pilot", "part": 1, "parts": 1, "size": 2, "hosts": ["p1", "p2"]},
    {"batch": 2, "wave": "wave_1", "part": 1, "parts": 2, "size": 3, "hosts": ["a", "b", "c"]},
    {"batch": 3, "wave": "wave_1", "part": 2, "parts": 2, "size": 1, "hosts": ["d"]},
    {"batch": 4, "wave": "wave_2", "part": 1, "parts": 1, "size": 1, "hosts": ["e"]},
]


def test_batch_gate_judges_a_cut_wave_on_all_its_hosts_so_far() -> None:
    # b failed in the first piece of wave_1: 1 of 3 (66.7 %) stops at 95 %; after the second piece 3 of 4 (75 %)
    # still stops at 95 % but passes at 75 %, and the next batch starts wave_2.
    first = filters.batch_gate(GATE_BATCHES, GATE_BATCHES[1], ["p1", "p2", "a", "c", "d", "e"], 95)
    assert (first["done"], first["total"], first["percent"], first["missing"]) == (2, 3, 66.7, ["b"])
    assert first["stop"] is True
    assert first["label"] == "wave_1 (batches so far: 1 of 2)"
    assert (first["next"]["batch"], first["boundary"]) == (3, False)
    last = filters.batch_gate(GATE_BATCHES, GATE_BATCHES[2], ["p1", "p2", "a", "c", "d", "e"], "75")
    assert (last["done"], last["total"], last["stop"], last["boundary"]) == (3, 4, False, True)
    assert last["next"]["wave"] == "wave_2"


def test_batch_gate_passes_exactly_at_the_percentage_and_ends_after_the_last_batch() -> None:
    gate = filters.batch_gate(GATE_BATCHES, GATE_BATCHES[0], ["p2"], 50)
    assert (gate["done"], gate["stop"], gate["missing"], gate["label"]) == (1, False, ["p1"], "pilot")
    assert filters.batch_gate(GATE_BATCHES, GATE_BATCHES[0], ["p2"], 51)["stop"] is True
    end = filters.batch_gate(GATE_BATCHES, GATE_BATCHES[3], ["e"], 100)
    assert (end["next"], end["boundary"], end["stop"]) == (None, False, False)


def test_batch_gate_refuses_a_percentage_that_is_not_a_number() -> None:
    with pytest.raises(AnsibleFilterError, match=r"rollout_success_percentage must be a whole number .* got 'most'"):
        filters.batch_gate(GATE_BATCHES, GATE_BATCHES[0], [], "most")


class _HostVars(dict):  # type: ignore[type-arg]
    """hostvars as a filter sees it: each host's variables, templated on access (here: raising when undefined)."""


class _Vars(dict):  # type: ignore[type-arg]
    def __getitem__(self, name: str) -> object:
        value = super().__getitem__(name)
        if value == "{{ undefined }}":
            raise AnsibleUndefinedVariable("'undefined' is undefined")
        return value


def test_differing_settings_names_each_setting_with_one_host_per_value() -> None:
    hostvars = _HostVars(
        a=_Vars(rollout_soak_seconds=0, office_gate_force=False, rollout_backend_settings={"x": 1, "y": 2}),
        b=_Vars(rollout_soak_seconds=0, office_gate_force=True, rollout_backend_settings={"y": 2, "x": 1}),
        c=_Vars(rollout_soak_seconds=0, office_gate_force=True, rollout_backend_settings={"x": 1, "y": 2}),
    )
    names = ["rollout_soak_seconds", "office_gate_force", "rollout_backend_settings"]
    # Mappings compare by content, not by the order their keys were written in.
    assert filters.differing_settings(["a", "b", "c"], hostvars, names) == [
        "office_gate_force differs between clients (a, b have different values)"
    ]
    assert filters.differing_settings(["b", "c"], hostvars, names) == []


def test_differing_settings_tells_an_unset_or_undefined_value_from_a_set_one() -> None:
    hostvars = _HostVars(a=_Vars(), b=_Vars(msi_install_reboot=True), c=_Vars(msi_install_reboot="{{ undefined }}"))
    assert filters.differing_settings(["a", "b", "c"], hostvars, ["msi_install_reboot"]) == [
        "msi_install_reboot differs between clients (a, b, c have different values)"
    ]
    assert filters.differing_settings(["a"], hostvars, ["msi_install_reboot"]) == []
