"""The msi_facts lookup reads what msi_package would read from the same src."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader

from ansible_collections.rollout.windows.plugins.lookup.msi_facts import LookupModule
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi


def lookup(*terms: str) -> list[dict[str, str]]:
    return LookupModule(loader=DataLoader()).run(list(terms), variables={})


def test_a_folder_and_its_msi_give_the_package_facts(built_packages: Path) -> None:
    folder = built_packages / "machine-9.3.1"
    (msi,) = folder.glob("*.msi")
    info = _msi.read_msi(msi)
    expected = {
        "product_code": info.product_code,
        "version": "9.3.1",
        "upgrade_code": info.upgrade_code,
        "product_name": info.product_name,
    }
    assert lookup(str(folder), str(msi)) == [expected, expected]
    assert info.product_code.startswith("{")
    assert info.upgrade_code.startswith("{")


def test_a_missing_path_or_a_folder_without_one_msi_is_refused(built_packages: Path, tmp_path: Path) -> None:
    with pytest.raises(AnsibleLookupError, match=r"msi_facts: .*nowhere was not found on the controller"):
        lookup(str(tmp_path / "nowhere"))
    with pytest.raises(AnsibleLookupError, match=r"must hold exactly one \.msi, found 0"):
        lookup(str(tmp_path))
