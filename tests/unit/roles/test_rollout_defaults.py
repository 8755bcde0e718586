"""The rollout role's defaults are its argument specs' (both entry points), the method's variables included."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "rollout"


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_default_is_an_option_with_the_same_default() -> None:
    defaults = load(ROLE / "defaults" / "main.yml")
    specs = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    options = {**specs["plan"]["options"], **specs["main"]["options"]}
    assert set(defaults) <= set(options)
    for name, value in defaults.items():
        assert options[name].get("default") == value, name


def test_the_method_and_its_variables_are_in_the_main_entry_point() -> None:
    options = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["rollout_method"]["choices"] == ["push", "autoupdater"]
    assert options["rollout_method"]["default"] == "push"
    for name in (
        "rollout_autoupdater_nudge",
        "rollout_adoption_timeout",
        "rollout_adoption_poll",
        "rollout_wave_min_age",
    ):
        assert name in options, name


def test_the_autoupdater_tasks_are_included_only_for_that_method() -> None:
    tasks = load(ROLE / "tasks" / "main.yml")
    (include,) = [task for task in tasks if task.get("ansible.builtin.include_tasks") == "autoupdater.yml"]
    assert include["when"] == "rollout_method == 'autoupdater'"
