"""Each docs-only module file documents exactly the options its action plugin accepts."""

from __future__ import annotations

import importlib
import types
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.utils.plugin_docs import add_fragments

MODULES_DIR = Path(__file__).resolve().parents[3] / "plugins" / "modules"
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__")
COLLECTION = "rollout.windows"


class _Fragments:
    """ansible-doc's fragment loader, reduced to this collection's doc_fragments.

    With it ``add_fragments`` assembles a module's documentation as ansible-doc does: named fragments
    (``rollout.windows._attributes.windows``) and the module's own keys winning over a fragment's.
    """

    def get(self, name: str) -> type | None:
        collection, _dot, file = name.rpartition(".")
        if collection != COLLECTION:
            return None  # ansible then retries with the last part as the fragment's variable
        try:
            module = importlib.import_module(f"ansible_collections.rollout.windows.plugins.doc_fragments.{file}")
        except ModuleNotFoundError:
            return None
        fragment = module.ModuleDocFragment
        return types.new_class("Fragment", (fragment,), exec_body=lambda ns: ns.update(ansible_name=name))


def assembled(name: str) -> dict[str, t.Any]:
    docs: dict[str, t.Any] = yaml.safe_load(
        importlib.import_module(f"ansible_collections.rollout.windows.plugins.modules.{name}").DOCUMENTATION
    )
    add_fragments(docs, str(MODULES_DIR / f"{name}.py"), fragment_loader=_Fragments(), is_module=True)
    return docs


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_argument_spec(name: str) -> None:
    documented = assembled(name).get("options") or {}
    spec = importlib.import_module(f"ansible_collections.rollout.windows.plugins.action.{name}").ARGUMENT_SPEC
    assert set(documented) == set(spec)
    for option, rules in spec.items():
        doc = documented[option]
        assert doc.get("type", "str") == rules.get("type", "str"), option
        assert doc.get("default") == rules.get("default"), option
        assert doc.get("choices") == rules.get("choices"), option
        assert doc.get("elements") == rules.get("elements"), option


@pytest.mark.parametrize("name", MODULES)
def test_every_module_states_its_attributes(name: str) -> None:
    attributes = assembled(name)["attributes"]
    assert {"check_mode", "diff_mode", "platform", "action_group"} <= set(attributes)
    for attribute, doc in attributes.items():
        assert doc.get("support") in ("full", "partial", "none", "N/A"), attribute
        assert doc.get("description"), attribute
    # What a module says of its own check and diff mode is its own; only the support level and the
    # meaning of the attribute come from the fragments.
    action = importlib.import_module(f"ansible_collections.rollout.windows.plugins.action.{name}").ActionModule
    assert (attributes["check_mode"]["support"] == "full") == bool(action._supports_check_mode)
    assert (attributes["diff_mode"]["support"] == "full") == bool(getattr(action, "_supports_diff", False))
