"""The gate's defaults live in one role (office_gate); msi_install passes the gate's own variables through."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import yaml

from ansible_collections.rollout.windows.plugins.action import msi_package, office_processes
from ansible_collections.rollout.windows.plugins.filter.msi_install import (
    GIVEN_WHEN_SET,
    PASSED,
    SETTINGS,
    msi_install_args,
)
from ansible_collections.rollout.windows.plugins.plugin_utils import _office_gate

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_office_gate_defaults_match_its_argument_spec_and_the_module() -> None:
    gate = load(ROLES / "office_gate" / "defaults" / "main.yml")
    options = load(ROLES / "office_gate" / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(gate) == set(options)
    for name, value in gate.items():
        assert options[name].get("default") == value, name
    spec = office_processes.ARGUMENT_SPEC
    for option in ("processes", "message", "title", "interval", "attempts"):
        assert gate[f"office_gate_{option}"] == spec[option]["default"], option
    assert gate["office_gate_force"] is False  # closing loses work: never by default


def test_no_other_role_or_play_redeclares_a_gate_variable() -> None:
    install = load(ROLES / "msi_install" / "defaults" / "main.yml")
    assert install["msi_install_office_gate"] is True
    assert not [name for name in install if name.startswith("msi_install_office_gate_")]
    # Every gate variable a role's defaults, vars or argument spec declares is office_gate's own, in office_gate.
    for role in ROLES.iterdir():
        if role.name == "office_gate":
            continue
        for part in ("defaults/main.yml", "vars/main.yml", "meta/argument_specs.yml"):
            path = role / part
            if path.exists():
                declared = re.findall(
                    r"^\s*((?:msi_install_)?office_gate_\w+):", path.read_text(encoding="utf-8"), re.M
                )
                assert not declared, f"{path.relative_to(ROOT)} declares {declared}"
    # msi_install takes the gate's defaults from the role itself (its options entry point) and hands every
    # gate variable, as the user set it, to msi_package's office_gate: no copy of a default on the way.
    tasks = load(ROLES / "msi_install" / "tasks" / "main.yml")
    (imported,) = [task for task in tasks if "ansible.builtin.import_role" in task]
    assert imported["ansible.builtin.import_role"] == {
        "name": "rollout.windows.office_gate",
        "tasks_from": "options",
        "rolespec_validate": False,
    }
    (install,) = [task for task in tasks if "rollout.windows.msi_package" in task]
    assert install["rollout.windows.msi_package"] == {"options_from": "__msi_install_args"}
    # Each gate option comes from its own office_gate_* variable, whatever value the user gave it.
    given = {f"office_gate_{option}": f"given {option}" for option in _office_gate.WAIT_SPEC}
    given |= {"office_gate_notify": True, "office_gate_force": True}
    gate = msi_install_args(role_defaults() | given)["office_gate"]
    assert set(gate) == set(_office_gate.WAIT_SPEC)
    for option, value in gate.items():
        assert value == given[f"office_gate_{option}"], option


def role_defaults() -> dict[str, t.Any]:
    """What the msi_install role's install task reads: its defaults and the office_gate role's."""
    return load(ROLES / "office_gate" / "defaults" / "main.yml") | load(ROLES / "msi_install" / "defaults" / "main.yml")


def test_msi_install_passes_every_variable_to_a_msi_package_option() -> None:
    defaults = role_defaults()
    # The filter reads exactly the two roles' variables, by name (the role's vars/main.yml queries them all).
    assert set(SETTINGS) == set(defaults)
    variables = load(ROLES / "msi_install" / "vars" / "main.yml")
    assert "'^msi_install_', '^office_gate_'" in variables["__msi_install_names"]
    assert "rollout.windows.msi_install_args(inventory_hostname)" in variables["__msi_install_args"]
    arguments = msi_install_args(defaults | {"msi_install_src": "/srv/pkg", "msi_install_version": "9.3.1"})
    assert set(arguments) <= set(msi_package.ARGUMENT_SPEC)
    assert arguments["src"] == "/srv/pkg"
    assert arguments["version"] == "9.3.1"
    # Every other default reaches its option; empty locations and codes are left out for msi_package's own.
    for option in PASSED:
        assert arguments[option] == defaults[f"msi_install_{option}"], option
    assert not (set(GIVEN_WHEN_SET) - {"src", "version"}) & set(arguments)


def test_nothing_sets_the_removed_msi_install_office_gate_options() -> None:
    for folder in ("roles", "playbooks", "extensions", "inventories"):
        for path in (ROOT / folder).rglob("*.yml"):
            text = path.read_text(encoding="utf-8")
            assert "msi_install_office_gate_" not in text, path.relative_to(ROOT)
