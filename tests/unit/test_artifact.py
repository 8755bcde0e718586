"""The collection tarball: what a user installs must be complete and hold nothing else."""

from __future__ import annotations

import shutil
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


# Issue 17: files an admin or a run leaves in the checkout (the README's vault location, reports, keys,
# editor and tool leftovers) must stay out of the tarball, wherever they lie.
PLANTED = [
    "inventories/example/group_vars/all/vault.yml",
    "inventories/prod/group_vars/all/vault.yaml",
    "rollout-reports/rollout-20261201.html",
    "rollout-reports/rollout-20261201.json",
    "playbooks/rollout-reports/rollout.md",
    "roles/rollout/tasks/main.yml.tmp",
    "plugins/action/scratch.tmp",
    ".env",
    "playbooks/.env",
    "deploy.pem",
    "inventories/example/backend-ca.pem",
    "plugins/modules/client.key",
    ".vault_pass.txt",
    "README.md~",
    "playbooks/site.retry",
    "ansible.log",
]


def _copy_tree(dest: Path) -> None:
    skip = {".git", ".venv", ".tmp", ".hypothesis", ".ruff_cache", ".pytest_cache", ".ansible", "lab", "tests", "bench"}
    shutil.copytree(ROOT, dest, ignore=lambda folder, names: [n for n in names if n in skip or n == "__pycache__"])


def test_planted_secrets_and_leftovers_stay_out(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _copy_tree(tree)
    for rel in PLANTED:
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("vault_rolloutadmin_password: planted-secret\n", encoding="utf-8")
    out = tmp_path / "dist"
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", str(out), str(tree)],
        check=True,
        capture_output=True,
    )
    (tarball,) = out.glob("rollout-windows-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        leaked = [m.name for m in tar.getmembers() if m.isfile() and b"planted-secret" in tar.extractfile(m).read()]  # type: ignore[union-attr]
    assert [rel for rel in PLANTED if rel in names] == []
    assert not any(n == "rollout-reports" or n.endswith("/rollout-reports") for n in names)
    assert leaked == []
    # The real content is still there: the ignore patterns are not so wide that they drop the collection.
    assert {"inventories/example/group_vars/all/main.yml", "roles/rollout/tasks/main.yml", "README.md"} <= names
