"""The msi_facts lookup reads what msi_package would read from the same src."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after ``code``: a forked worker's imports, counted."""
    script = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return set(done.stdout.split())


def test_the_plans_lookup_reads_a_known_package_without_importing_the_parser(msi_folder: Path) -> None:
    # The plan's lookup runs in a freshly forked worker; with the package's record there, importing pymsi (60-170 ms
    # of controller CPU) would buy nothing. The first read parses, so it must import it.
    use = (
        "from ansible.parsing.dataloader import DataLoader\n"
        "from ansible_collections.rollout.windows.plugins.lookup.msi_facts import LookupModule\n"
        f"print(LookupModule(loader=DataLoader()).run([{str(msi_folder)!r}], variables={{}}))"
    )
    assert {"pymsi", "olefile"} <= _modules_after(use)
    assert not {"pymsi", "olefile"} & _modules_after(use)


def test_the_install_action_loads_the_parser_before_the_workers_fork() -> None:
    # The linear strategy imports action plugins in the main process, before it forks: the workers inherit pymsi.
    loaded = _modules_after("import ansible_collections.rollout.windows.plugins.action.msi_package")
    assert {"pymsi", "olefile"} <= loaded
