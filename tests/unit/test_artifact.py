"""The collection tarball: what a user installs must be complete and hold nothing else."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FORBIDDEN_TOP = {"lab", "tests", "bench", ".ci", "docs", "tools", ".tmp", ".venv", ".git", "collections"}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (tarball,) = out.glob("rollout-windows-*.tar.gz")
    return tarball


def test_artifact_holds_the_collection_and_nothing_else(artifact: Path) -> None:
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert {"MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "CHANGELOG.md"} <= set(names)
    assert "plugins/plugin_utils/_winhost.py" in names
    assert "plugins/plugin_utils/primitives/_Prelude.ps1" in names
    leftovers = [n for n in names if n.split("/")[0] in FORBIDDEN_TOP or "__pycache__" in n or n.endswith(".pyc")]
    assert leftovers == []
    assert not any(n.startswith(("Makefile", "pyproject.toml", "requirements-dev")) for n in names)


def test_artifact_installs(artifact: Path, tmp_path: Path) -> None:
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "--force", "-p", str(tmp_path), str(artifact)],
        check=True,
        capture_output=True,
    )
    installed = tmp_path / "ansible_collections" / "rollout" / "windows"
    assert (installed / "plugins" / "plugin_utils" / "_winhost.py").is_file()
    assert not (installed / "lab").exists()


def test_changelog_covers_every_fragment() -> None:
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    listed = set(changes["releases"][version]["fragments"])
    on_disk = {p.name for p in (ROOT / "changelogs" / "fragments").glob("*.y*ml")}
    assert on_disk == listed, "run `make changelog` after adding a fragment"
    assert f"v{version}".replace(".", "\\.") in (ROOT / "CHANGELOG.md").read_text()
