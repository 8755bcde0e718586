"""The gate's defaults live in one role (office_gate); msi_install passes the gate's own variables through."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import yaml
from jinja2 import Environment, nodes

from ansible_collections.rollout.windows.plugins.action import msi_package, office_processes
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
    assert install["args"] == "{{ __msi_install_args }}"
    gate = install_arguments()["office_gate"]
    assert isinstance(gate, nodes.CondExpr)  # omitted when msi_install_office_gate is false
    passed = {str(pair.key.value): pair.value for pair in gate.expr1.items}
    assert set(passed) == set(_office_gate.WAIT_SPEC)
    for option, value in passed.items():
        assert f"office_gate_{option}" in names(value), option


def install_arguments() -> dict[str, nodes.Node]:
    """msi_install's arguments to msi_package: the keys of the one dict expression in its vars/main.yml."""
    expression = load(ROLES / "msi_install" / "vars" / "main.yml")["__msi_install_args"]
    (output,) = Environment().parse(expression).body
    (built,) = output.nodes
    assert isinstance(built, nodes.Dict)
    return {str(pair.key.value): pair.value for pair in built.items}


def names(node: nodes.Node) -> set[str]:
    """The variables an expression reads."""
    found = [node, *node.find_all(nodes.Name)] if not isinstance(node, nodes.Name) else [node]
    return {n.name for n in found if isinstance(n, nodes.Name)}


def test_msi_install_passes_every_variable_to_a_msi_package_option() -> None:
    arguments = install_arguments()
    assert set(arguments) <= set(msi_package.ARGUMENT_SPEC)
    used = {name for value in arguments.values() for name in names(value)}
    defaults = load(ROLES / "msi_install" / "defaults" / "main.yml")
    assert set(defaults) <= used


def test_nothing_sets_the_removed_msi_install_office_gate_options() -> None:
    for folder in ("roles", "playbooks", "extensions", "inventories"):
        for path in (ROOT / folder).rglob("*.yml"):
            text = path.read_text(encoding="utf-8")
            assert "msi_install_office_gate_" not in text, path.relative_to(ROOT)
