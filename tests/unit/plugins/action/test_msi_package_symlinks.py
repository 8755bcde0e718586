"""A `src` package folder never sends the host what a symbolic link inside it points to."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from tests.unit.plugins.action.fakehost import FakeHost


def _run(folder: Path) -> tuple[FakeHost, pytest.ExceptionInfo[ValueError]]:
    """Run msi_package with ``src=folder``; the shared fake host records any primitive the controller got as far as."""
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    action._find_needle = lambda _kind, path: path  # type: ignore[method-assign]
    args = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    args.update(src=str(folder))
    host = FakeHost()
    with pytest.raises(ValueError, match="src: ") as caught:
        action._run(host, args)  # type: ignore[arg-type]
    return host, caught


def test_a_file_link_to_a_controller_secret_is_refused_naming_it(msi_folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "vault_pass"
    secret.write_text("controller secret\n")
    link = msi_folder / "payload" / "extra.cfg"
    link.symlink_to(secret)
    host, caught = _run(msi_folder)
    assert f"src: {link} in the package folder {msi_folder} is a symbolic link (to {secret})" in str(caught.value)
    assert host.calls == []


def test_a_folder_link_is_refused_even_when_it_points_inside(msi_folder: Path) -> None:
    link = msi_folder / "again"
    link.symlink_to(msi_folder / "payload", target_is_directory=True)
    host, caught = _run(msi_folder)
    assert f"{link} in the package folder {msi_folder} is a symbolic link" in str(caught.value)
    assert host.calls == []


def test_a_fifo_is_refused_instead_of_hanging(msi_folder: Path) -> None:
    fifo = msi_folder / "payload" / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=f"{fifo} in the package folder .* is not a regular file"):
        _msi.scan_package_folder(msi_folder, "suite.msi")


def test_a_folder_of_real_files_still_scans(msi_folder: Path) -> None:
    files = _msi.scan_package_folder(msi_folder, next(msi_folder.glob("*.msi")).name)
    assert files[0].relpath.lower().endswith(".msi")
    assert "payload\\manifest.xml" in [f.relpath for f in files]
