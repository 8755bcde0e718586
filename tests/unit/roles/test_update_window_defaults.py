"""update_window: the defaults, the argument spec and the modules it drives must agree; force never by default."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.rollout.windows.plugins.action import office_processes

ROLE = Path(__file__).resolve().parents[3] / "roles" / "update_window"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_closing_users_work_is_never_the_default() -> None:
    defaults = load(ROLE / "defaults" / "main.yml")
    options = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert defaults["update_window_force_confirm"] is False
    assert options["update_window_force_confirm"]["default"] is False


def test_defaults_match_the_argument_spec_and_public_names_are_prefixed() -> None:
    defaults = load(ROLE / "defaults" / "main.yml")
    specs = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    assert list(specs) == ["main"]
    options = specs["main"]["options"]
    assert all(name.startswith("update_window_") for name in options)
    assert set(defaults) <= set(options)
    for name, value in defaults.items():
        assert options[name].get("default") == value, name
    # No default for what only the caller knows.
    for name in ("update_window_update_tasks", "update_window_restart_program"):
        assert options[name]["required"] is True
        assert name not in defaults
    assert defaults["update_window_process_names"] == list(office_processes.ARGUMENT_SPEC["processes"]["default"])


def test_internal_variables_are_double_underscored() -> None:
    names: set[str] = set()
    for path in [*(ROLE / "tasks").glob("*.yml"), ROLE / "vars" / "main.yml"]:
        names |= set(re.findall(r"\b(_*update_window_\w+)", path.read_text(encoding="utf-8")))
    public = set(load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"])
    for name in names - public:
        assert name.startswith("__update_window_"), name
