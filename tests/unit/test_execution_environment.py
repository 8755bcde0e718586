"""execution-environment.yml: the AWX / Automation Platform image holds the collection and all it needs.

No container runtime here, so the image is never built. `ansible-builder create` writes the build context,
and the two stages that decide what goes into the image are then run as the Containerfile runs them: the
galaxy stage's `ansible-galaxy collection install -r requirements.yml` from the context's _build folder, and
the builder stage's introspect.py (shipped in the context), which merges the installed collection's
meta/execution-environment.yml with the definition's own lists into the pip and bindep files it installs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ansible_builder.user_definition import UserDefinition
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFINITION = ROOT / "execution-environment.yml"
# What bindep reports inside the CentOS Stream 9 base image (platform profiles) and in each build stage.
RPM_PLATFORM = ["platform:rpm", "platform:redhat", "platform:centos"]


@dataclass(frozen=True)
class Image:
    """What the image build would install, read from a build context made by `ansible-builder create`."""

    context: Path
    containerfile: str
    tarball: Path
    pip: list[Requirement]
    bindep: Depends


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        line = text.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{path.name} pins exactly: {line}"
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def _checkout_copy(dest: Path, tarball: Path) -> Path:
    """The definition and every file it names, in a fresh folder, with the tarball where `make build` puts it."""
    definition = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    dest.mkdir()
    shutil.copy2(DEFINITION, dest / DEFINITION.name)
    for value in definition["dependencies"].values():
        if isinstance(value, str):
            shutil.copy2(ROOT / value, dest / value)
    for entry in definition.get("additional_build_files", []):
        assert Path(entry["src"]).name == tarball.name, (
            f"execution-environment.yml copies {entry['src']}, but `make build` writes {tarball.name}: "
            "update the tarball name there (additional_build_files and dependencies.galaxy)"
        )
        (dest / entry["src"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tarball, dest / entry["src"])
    return dest / DEFINITION.name


def _introspect(context: Path, containerfile: str, collections: Path, out: Path) -> None:
    """The builder stage's introspect line from the Containerfile, run here with the context's own script."""
    (line,) = [ln for ln in containerfile.splitlines() if "/output/scripts/introspect.py" in ln]
    args = shlex.split(line.removeprefix("RUN "))
    assert args[:3] == ["$PYCMD", "/output/scripts/introspect.py", "introspect"]
    options = [re.sub(r"^(--write-\w+)=/tmp/src/", rf"\1={out}/", a) for a in args[3:]]
    script = context / "_build" / "scripts" / "introspect.py"
    subprocess.run(
        [sys.executable, str(script), "introspect", str(collections), *options],
        cwd=context / "_build",  # the Containerfile's WORKDIR /build, where _build's files are copied to
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    work = tmp_path_factory.mktemp("ee")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", str(work / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (tarball,) = (work / "dist").glob("rollout-windows-*.tar.gz")
    definition = _checkout_copy(work / "checkout", tarball)
    context = work / "context"
    # A fixed file name: by default it follows whichever container runtime the machine has (none here).
    built = subprocess.run(
        [
            BIN / "ansible-builder",
            "create",
            "--file",
            str(definition),
            "--context",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")

    # The galaxy stage: COPY _build /build, WORKDIR /build, then ansible-galaxy with the context's requirements.
    collections = work / "collections"
    # Only the image's own collection path: `make` exports this checkout's, where ansible-galaxy would find
    # rollout.windows already installed and install nothing.
    env = dict(os.environ, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1", ANSIBLE_COLLECTIONS_PATH=str(collections))
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "-p", str(collections)],
        cwd=context / "_build",
        env=env,
        check=True,
        capture_output=True,
    )
    merged = work / "src"
    _introspect(context, containerfile, collections, merged)
    pip = [
        Requirement(ln.split("#", 1)[0].strip())
        for ln in (merged / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if ln.split("#", 1)[0].strip()
    ]
    bindep = Depends((merged / "bindep.txt").read_text(encoding="utf-8"))
    (copied,) = (context / "_build").rglob("rollout-windows-*.tar.gz")
    return Image(context, containerfile, copied, pip, bindep)


def test_the_definition_is_ansible_builder_schema_3() -> None:
    definition = UserDefinition(str(DEFINITION))
    definition.validate()
    assert definition.version == 3


def test_the_context_has_a_containerfile_from_the_documented_base_image(image: Image) -> None:
    base = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in image.containerfile
    for stage in ("base", "galaxy", "builder", "final"):
        assert f" AS {stage}" in image.containerfile
    assert "ansible-galaxy collection install" in image.containerfile
    assert "RUN /output/scripts/assemble" in image.containerfile


def test_the_image_gets_the_collection_from_the_built_tarball(image: Image) -> None:
    requirements = yaml.safe_load((image.context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    (entry,) = requirements["collections"]
    assert entry["type"] == "file"
    # Relative to /build, the galaxy stage's working directory, which holds the context's _build folder.
    assert image.context / "_build" / entry["name"] == image.tarball
    with tarfile.open(image.tarball) as tar:
        member = tar.extractfile("MANIFEST.json")
        assert member is not None
        manifest = json.load(member)
        names = set(tar.getnames())
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    assert manifest["collection_info"]["version"] == version
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt"} <= names
    assert "execution-environment.yml" not in names, "it builds from a checkout; build_ignore leaves it out"


def test_the_collection_metadata_points_at_requirements_txt_and_bindep() -> None:
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_the_image_installs_the_controller_requirements_with_kerberos(image: Image) -> None:
    wanted = _pins(ROOT / "requirements.txt")
    installed: dict[str, set[str]] = {}
    extras: set[str] = set()
    for req in image.pip:
        installed.setdefault(canonicalize_name(req.name), set()).add(str(req.specifier))
        if canonicalize_name(req.name) == "pywinrm":
            extras |= req.extras
    assert {"pywinrm", "requests-ntlm", "pyspnego", "pymsi", "olefile"} <= installed.keys()
    assert "kerberos" in extras, "pywinrm[kerberos] brings pykerberos, which ansible's winrm Kerberos imports"
    # The same pins as a controller set up from requirements.txt, none pulled another way.
    for name, specs in installed.items():
        assert specs == {f"=={wanted[name]}"}, name
    # ansible-builder drops a collection's ansible-core pin; the image's own must be the tested release.
    core = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))["dependencies"]["ansible_core"]["package_pip"]
    assert core == f"ansible-core=={wanted['ansible-core']}"


def test_the_image_has_kerberos_and_builds_pykerberos_in_the_build_stage_only(image: Image) -> None:
    interpreter = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))["dependencies"]["python_interpreter"]
    final = {rule[0] for rule in image.bindep.active_rules(["default", *RPM_PLATFORM])}
    build = {rule[0] for rule in image.bindep.active_rules(["compile", *RPM_PLATFORM])}
    assert "krb5-workstation" in final, "ansible's winrm connection runs kinit for each job's Kerberos ticket"
    assert {"gcc", "krb5-devel", f"{interpreter['package_system']}-devel"} <= build
    assert not {"gcc", "krb5-devel"} & final


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules the collection's plugins import, outside the standard library and ansible itself."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in {"__future__", "ansible", "ansible_collections"}:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_package_the_plugins_import_is_in_the_image(image: Image) -> None:
    imports = _third_party_imports()
    assert {"pymsi", "olefile"} <= imports.keys(), "the import scan no longer sees plugins/plugin_utils/_msi.py"
    # ansible-core's own dependencies come with the image's ansible-core.
    core = {canonicalize_name(Requirement(r).name) for r in importlib.metadata.requires("ansible-core") or []}
    provided = {canonicalize_name(req.name) for req in image.pip} | core
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, files in imports.items():
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not names & provided:
            missing[module] = sorted(files)
    assert missing == {}, "add the package to requirements.txt (the collection's runtime list), then lock it"
