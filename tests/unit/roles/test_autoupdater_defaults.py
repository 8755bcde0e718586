"""The autoupdater role's defaults are its argument spec's and, for the path options, the module's own."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

from ansible_collections.rollout.windows.plugins.action import autoupdater

ROLE = Path(__file__).resolve().parents[3] / "roles" / "autoupdater"


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_defaults_match_the_argument_spec_and_the_module() -> None:
    defaults = load(ROLE / "defaults" / "main.yml")
    options = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    for name, value in defaults.items():
        assert options[name].get("default") == value, name
    spec = autoupdater.ARGUMENT_SPEC
    for option in ("updater_executable", "policy_key", "settings_key", "suite_installer_cache", "task_path"):
        assert defaults[f"autoupdater_{option}"] == spec[option]["default"], option
    assert options["autoupdater_state"]["choices"] == spec["state"]["choices"]
    # One inventory value serves the backend modules and the updaters.
    assert "rollout_backend_url" in defaults["autoupdater_backend_url"]


def test_every_module_option_is_passed_and_only_internal_names_are_registered() -> None:
    tasks = load(ROLE / "tasks" / "main.yml")
    (task,) = [entry for entry in tasks if "rollout.windows.autoupdater" in entry]
    assert set(task["rollout.windows.autoupdater"]) == set(autoupdater.ARGUMENT_SPEC)
    for entry in tasks:
        assert str(entry.get("register", "__autoupdater_")).startswith("__autoupdater_"), entry["name"]
