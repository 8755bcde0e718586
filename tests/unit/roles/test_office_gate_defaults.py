"""The gate's defaults are written in three places (module, office_gate, msi_install): they must agree."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.rollout.windows.plugins.action import office_processes

ROLES = Path(__file__).resolve().parents[3] / "roles"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_msi_install_passes_the_office_gate_defaults_through_unchanged() -> None:
    gate = load(ROLES / "office_gate" / "defaults" / "main.yml")
    install = load(ROLES / "msi_install" / "defaults" / "main.yml")
    passed = {
        k.replace("msi_install_office_gate_", "office_gate_"): v for k, v in install.items() if "office_gate_" in k
    }
    assert passed == gate
    assert install["msi_install_office_gate"] is True
    assert gate["office_gate_force"] is False  # closing loses work: never by default


def test_role_defaults_match_the_module_and_the_argument_specs() -> None:
    spec = office_processes.ARGUMENT_SPEC
    gate = load(ROLES / "office_gate" / "defaults" / "main.yml")
    for option in ("processes", "message", "title", "interval", "attempts"):
        assert gate[f"office_gate_{option}"] == spec[option]["default"], option
    for role in ("office_gate", "msi_install"):
        defaults = load(ROLES / role / "defaults" / "main.yml")
        options = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
        for name, value in defaults.items():
            if "office_gate" in name:
                assert options[name].get("default") == value, name
