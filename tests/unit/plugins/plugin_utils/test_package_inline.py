"""A small package travels inside Initialize-PackageCache's command; a large one file by file."""

from __future__ import annotations

import base64
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _package_source
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from tests.unit.plugins.action.fakehost import FakeHost


def options(src: Path) -> MsiOptions:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(src=str(src))
    return MsiOptions.from_args(base)


def deliver(host: FakeHost, src: Path) -> tuple[_package_source.Package, _package_source.Delivered, list[str]]:
    uploads: list[str] = []

    def upload(local: str, remote: str) -> None:
        uploads.append(remote)
        host.put(remote, Path(local).read_bytes())

    wanted = options(src)
    package = _package_source.locate(host, wanted, lambda s: s, check_mode=False)  # type: ignore[arg-type]
    delivered = _package_source.deliver(host, wanted, package, notes=[], upload=upload)  # type: ignore[arg-type]
    return package, delivered, uploads


def test_a_small_package_is_written_by_the_cache_command_itself(built_packages: Path) -> None:
    host = FakeHost()
    src = built_packages / "machine-9.3.1"
    package, delivered, uploads = deliver(host, src)
    assert host.names() == ["Initialize-PackageCache"]
    assert uploads == []
    assert sorted(delivered.transferred or []) == sorted(f.relpath for f in package.files)
    folder = delivered.target.rpartition("\\")[0]
    for f in package.files:
        assert host.lab.files.read_bytes(f"{folder}\\{f.relpath}") == (src / f.relpath.replace("\\", "/")).read_bytes()
    # Again: the host has every file, so nothing is written, and it is still the one command.
    host.calls.clear()
    _package, again, uploads = deliver(host, src)
    assert (host.names(), again.transferred, uploads) == (["Initialize-PackageCache"], [], [])


def test_a_large_package_is_asked_about_then_copied_file_by_file(
    built_packages: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_package_source, "INLINE_BYTES", 1)
    host = FakeHost()
    package, _delivered, uploads = deliver(host, built_packages / "machine-9.3.1")
    (cache_call,) = [args for name, args in host.calls if name == "Initialize-PackageCache"]
    assert all("content" not in entry for entry in cache_call["files"])
    assert len(uploads) == len(package.files)
    assert host.stats.commands == 1 + len(package.files)


def test_a_written_entry_the_controller_did_not_send_is_refused(built_packages: Path) -> None:
    host = FakeHost()

    def hostile(args: dict[str, t.Any]) -> dict[str, t.Any]:
        honest = host.twin("Initialize-PackageCache", args)
        return {**honest, "written": [*honest["written"], "..\\..\\.vault_pass"]}

    host.answer("Initialize-PackageCache", hostile)
    with pytest.raises(PrimitiveError, match="written entry"):
        deliver(host, built_packages / "machine-9.3.1")


def test_the_host_refuses_content_without_the_named_hash() -> None:
    host = FakeHost()
    args = {
        "directory": "C:\\ProgramData\\rollout.windows\\cache\\k",
        "cache_dir": "C:\\ProgramData\\rollout.windows\\cache",
        "files": [{"path": "a.msi", "sha256": "00" * 32, "content": base64.b64encode(b"planted").decode()}],
    }
    with pytest.raises(PrimitiveError, match=r"content of a\.msi does not have its SHA-256"):
        host.run("Initialize-PackageCache", args)
    assert not host.lab.files.exists("C:\\ProgramData\\rollout.windows\\cache\\k\\a.msi")
