from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools import import_cycles


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *roots: str
) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    rc = import_cycles.main(list(roots))
    return rc, capsys.readouterr().out


def test_a_clean_tree_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(
        tmp_path,
        {
            # A package that imports its own modules, which import each other one way: no circle.
            "lab/__init__.py": "",
            "lab/host/__init__.py": "from lab.host.model import Host\n",
            "lab/host/model.py": "from lab.host.files import FileSystem\nimport os\n",
            "lab/host/files.py": "import json\n",
            "lab/fleet.py": "from lab.host import Host\nfrom . import control\n",
            "lab/control.py": "import typing as t\nif t.TYPE_CHECKING:\n    from lab.host.model import Host\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "lab")
    assert rc == 0
    assert "no circle among 6 modules" in out


def test_a_circle_through_a_function_and_a_relative_import_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/fleet.py": "def start():\n    from lab.control import ControlServer\n",
            "lab/control.py": "from .fleet import Fleet\n",
            "lab/other.py": "import lab.fleet\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "lab")
    assert rc == 1
    assert out.splitlines() == [
        "import circle of 2 modules: lab.control, lab.fleet",
        "  lab.control -> lab.fleet  (lab/control.py:1)",
        "  lab.fleet -> lab.control  (lab/fleet.py:2)",
    ]


def test_type_checking_imports_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(
        tmp_path,
        {
            "lab/a.py": "from lab import b\n",
            "lab/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lab.a import A\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "lab")
    assert rc == 1
    assert "import circle of 2 modules: lab.a, lab.b" in out


def test_a_package_init_closes_a_circle_from_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Importing lab.host.files runs lab/host/__init__.py, which imports lab.primitives.
    _tree(
        tmp_path,
        {
            "lab/host/__init__.py": "import lab.primitives.run\n",
            "lab/host/files.py": "",
            "lab/primitives/__init__.py": "",
            "lab/primitives/run.py": "from lab.host.files import FileSystem\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "lab")
    assert rc == 1
    assert "import circle of 2 modules: lab.host, lab.primitives.run" in out


def test_a_package_importing_its_own_names_back_is_a_circle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(
        tmp_path,
        {
            "lab/primitives/__init__.py": "def primitive(f):\n    return f\nfrom lab.primitives import files\n",
            "lab/primitives/files.py": "from lab.primitives import primitive\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "lab")
    assert rc == 1
    assert "lab.primitives, lab.primitives.files" in out


def test_collection_imports_map_onto_plugins_across_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(
        tmp_path,
        {
            "plugins/action/install.py": (
                "from ansible_collections.rollout.windows.plugins.plugin_utils import _action\n"
            ),
            "plugins/plugin_utils/_action.py": (
                "from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost\n"
            ),
            "plugins/plugin_utils/_winhost.py": "from ..action import install\n",
            "lab/commands.py": "from ansible_collections.rollout.windows.plugins.plugin_utils import _winhost\n",
        },
    )
    rc, out = _run(tmp_path, monkeypatch, capsys, "plugins", "lab")
    assert rc == 1
    assert out.splitlines()[0] == (
        "import circle of 3 modules: "
        "plugins.action.install, plugins.plugin_utils._action, plugins.plugin_utils._winhost"
    )
    assert "lab.commands" not in out


def test_a_root_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a directory"):
        import_cycles.main([str(tmp_path / "missing")])
