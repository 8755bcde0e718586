"""rollout_slices: a plan variable, the same for every client, and what the batch cap is computed with."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "rollout"


def plan_tasks() -> list[dict[str, t.Any]]:
    tasks: list[dict[str, t.Any]] = yaml.safe_load((ROLE / "tasks" / "plan.yml").read_text(encoding="utf-8"))
    return tasks


def task(name: str) -> dict[str, t.Any]:
    (found,) = [entry for entry in plan_tasks() if entry["name"] == name]
    return found


def test_rollout_slices_is_a_plan_option_with_default_1() -> None:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    option = specs["plan"]["options"]["rollout_slices"]
    assert (option["type"], option["default"]) == ("int", 1)
    assert yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))["rollout_slices"] == 1


def test_rollout_slices_must_be_the_same_for_every_client() -> None:
    check = task("Check the rollout's settings and inputs")
    assert "'rollout_slices'" in check["vars"]["__rollout_differing"]


def test_the_slices_are_checked_before_the_backend_is_changed() -> None:
    names = [entry["name"] for entry in plan_tasks()]
    assert names.index("Check the rollout's settings and inputs") < names.index("Apply the backend settings")
    problems = task("Check the rollout's settings and inputs")["vars"]["__rollout_problems"]
    assert "| rollout.windows.batch_cap(slices=rollout_slices) >= 0" in problems
    assert "if rollout_method == 'autoupdater' and rollout_slices | int != 1" in problems


def test_the_plan_caps_batches_at_the_slices_share_and_keeps_their_number() -> None:
    keep = task("Keep the plan for the rollout play")
    assert "batch_cap(max_batch=rollout_max_batch | int, slices=rollout_slices)" in keep["vars"]["__rollout_cap"]
    assert keep["ansible.builtin.set_fact"]["__rollout_plan"]["slices"] == "{{ rollout_slices | int }}"
