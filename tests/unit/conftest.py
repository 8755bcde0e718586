from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def built_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real test MSIs built with wixl (lab/msi), once per session."""
    from lab.msi import build_packages

    out = tmp_path_factory.mktemp("msi")
    build_packages(out)
    return out


@pytest.fixture
def msi_folder(built_packages: Path, tmp_path: Path) -> Path:
    """A private copy of the per-machine 9.3.0 package folder that a test may break."""
    folder = tmp_path / "machine-9.3.0"
    shutil.copytree(built_packages / "machine-9.3.0", folder)
    return folder


@pytest.fixture(autouse=True)
def msi_facts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own record of what the controller read from packages (_msi_cache), never ~/.ansible."""
    folder = tmp_path / "msi-facts"
    monkeypatch.setenv("ROLLOUT_WINDOWS_MSI_FACTS_DIR", str(folder))
    return folder
