"""Each docs-only module file documents exactly the options its action plugin accepts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

MODULES = sorted(
    p.stem for p in (Path(__file__).resolve().parents[3] / "plugins" / "modules").glob("*.py") if p.stem != "__init__"
)


def _fragment_options(docs: dict) -> dict:
    """Options the module takes from this collection's doc fragments (the backend connection options)."""
    options: dict = {}
    for fragment in docs.get("extends_documentation_fragment") or []:
        if fragment.startswith("rollout.windows."):
            module = importlib.import_module(
                f"ansible_collections.rollout.windows.plugins.doc_fragments.{fragment.split('.')[-1]}"
            )
            options.update(yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION).get("options") or {})
    return options


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_argument_spec(name: str) -> None:
    docs = yaml.safe_load(
        importlib.import_module(f"ansible_collections.rollout.windows.plugins.modules.{name}").DOCUMENTATION
    )
    spec = importlib.import_module(f"ansible_collections.rollout.windows.plugins.action.{name}").ARGUMENT_SPEC
    documented = {**_fragment_options(docs), **(docs.get("options") or {})}
    assert set(documented) == set(spec)
    for option, rules in spec.items():
        doc = documented[option]
        assert doc.get("type", "str") == rules.get("type", "str"), option
        assert doc.get("default") == rules.get("default"), option
        assert doc.get("choices") == rules.get("choices"), option
        assert doc.get("elements") == rules.get("elements"), option
    assert {"check_mode", "diff_mode"} <= set(docs["attributes"])
