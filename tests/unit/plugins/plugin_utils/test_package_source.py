"""_package_source: where a package is, and how it reaches the host (with what that costs)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi, _package_source
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PUT_FILE_CHUNK, CallStats

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
SUM = "5e" * 32
CACHE = "C:\\ProgramData\\rollout.windows\\cache"


class Host:
    """Answers only what a test scripts; every other primitive is a test failure."""

    def __init__(self, **answers: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]) -> None:
        self.answers = {name.replace("_", "-"): reply for name, reply in answers.items()}
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append((name, args))
        self.stats.commands += 1
        if name not in self.answers:
            raise AssertionError(f"{name} was not expected")
        return self.answers[name](args)


def options(**overrides: t.Any) -> MsiOptions:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(overrides)
    return MsiOptions.from_args(base)


def test_src_is_read_on_the_controller_and_costs_no_command(msi_folder: Path) -> None:
    host = Host()
    wanted = options(src=str(msi_folder))
    package = _package_source.locate(host, wanted, lambda src: src, check_mode=False)  # type: ignore[arg-type]
    assert host.calls == []
    assert package.product_code == _msi.read_msi(next(msi_folder.glob("*.msi"))).product_code
    assert package.files[0].relpath == package.msi_name  # the .msi first
    target = _package_source.target_path(wanted, package)
    assert target == f"{CACHE}\\{_msi.cache_key(package.files)}\\{package.msi_name}"


def test_src_is_delivered_into_the_cache_and_each_upload_is_counted(msi_folder: Path) -> None:
    uploads: list[tuple[str, str]] = []
    host = Host(Initialize_PackageCache=lambda a: {"directory": a["directory"], "stale": [a["files"][0]["path"]]})
    wanted = options(src=str(msi_folder))
    package = _package_source.locate(host, wanted, lambda src: src, check_mode=False)  # type: ignore[arg-type]
    notes: list[str] = []
    delivered = _package_source.deliver(
        host, wanted, package, notes=notes, upload=lambda local, remote: uploads.append((local, remote))
    )
    assert delivered.target == _package_source.target_path(wanted, package)
    assert delivered.transferred == [package.msi_name]
    assert delivered.downloaded is False
    assert uploads == [(str(msi_folder / str(package.msi_name)), delivered.target)]
    size = package.files[0].size
    assert host.stats.commands == 2  # the cache check and one upload
    assert host.stats.bytes_sent == 4 * ((size + 2) // 3) + 2
    assert notes == []


@pytest.mark.parametrize(
    ("size", "sent"),
    [
        (0, 0),
        (3, 6),
        (PUT_FILE_CHUNK, 333_338),  # what ansible-core puts on stdin for one full chunk
        (PUT_FILE_CHUNK + 1, 333_336 + 2 + 4 + 2),
        (3 * PUT_FILE_CHUNK, 3 * (333_336 + 2)),
    ],
)
def test_an_upload_counts_one_command_and_its_base64_stdin(size: int, sent: int) -> None:
    stats = CallStats()
    stats.count_put_file(size)
    assert (stats.commands, stats.bytes_sent) == (1, sent)


def test_path_with_every_fact_given_is_not_read() -> None:
    host = Host()
    wanted = options(path="C:\\pkg\\suite.msi", product_code=CODE, version="9.3.1")
    package = _package_source.locate(host, wanted, str, check_mode=False)
    delivered = _package_source.deliver(host, wanted, package, notes=[], upload=lambda *a: None)
    assert (host.calls, delivered.target, delivered.transferred) == ([], "C:\\pkg\\suite.msi", None)


def test_path_without_facts_is_read_on_the_host_and_given_facts_win() -> None:
    host = Host(Get_MsiProperty=lambda a: {"ProductCode": CODE, "ProductVersion": "9.3.1", "ALLUSERS": "1"})
    package = _package_source.locate(host, options(path="C:\\pkg\\suite.msi", version="9.3.2"), str, check_mode=False)
    assert [c[0] for c in host.calls] == ["Get-MsiProperty"]
    assert (package.product_code, package.version) == (CODE, "9.3.2")
    assert package.properties == {"ALLUSERS": "1", "MSIINSTALLPERUSER": "", "ProductName": ""}


def saved(downloaded: bool) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
    return lambda a: {"present": True, "downloaded": downloaded, "folder": a["directory"], "files": ["suite.msi"]}


def read(args: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"path": args["path"], "ProductCode": CODE, "ProductVersion": "9.3.1", "word_count": 0, "tables": {}}


def test_a_url_is_downloaded_once_and_delivered_from_there() -> None:
    host = Host(Save_PackageUrl=saved(True), Get_MsiProperty=read)
    wanted = options(url="https://packages.example.com/suite.msi", checksum=SUM)
    package = _package_source.locate(host, wanted, str, check_mode=False)
    assert package.downloaded is True
    delivered = _package_source.deliver(host, wanted, package, notes=[], upload=lambda *a: None)
    assert [c[0] for c in host.calls] == ["Save-PackageUrl", "Get-MsiProperty"]
    assert delivered.downloaded is True
    assert delivered.target == f"{CACHE}\\url-{SUM[:16]}\\suite.msi"


def test_a_url_whose_facts_are_given_is_downloaded_only_when_delivered() -> None:
    host = Host(Save_PackageUrl=saved(True), Get_MsiProperty=read)
    wanted = options(url="https://packages.example.com/suite.msi", checksum=SUM, product_code=CODE, version="9.3.1")
    package = _package_source.locate(host, wanted, str, check_mode=False)
    assert host.calls == []
    with pytest.raises(ValueError, match="not on the host yet"):
        _package_source.target_path(wanted, package)
    delivered = _package_source.deliver(host, wanted, package, notes=[], upload=lambda *a: None)
    assert host.calls[0][1]["check_only"] is False
    assert delivered.downloaded is True


def test_check_mode_only_looks_in_the_cache() -> None:
    host = Host(Save_PackageUrl=lambda a: {"present": False})
    wanted = options(url="https://packages.example.com/suite.msi", checksum=SUM)
    package = _package_source.locate(host, wanted, str, check_mode=True)
    assert host.calls[0][1]["check_only"] is True
    assert (package.host_path, package.downloaded, package.product_code) == (None, False, None)


def test_a_cache_whose_acl_was_reset_is_noted() -> None:
    note = _package_source.folder_reset_note("the package cache", CACHE, ["evil.dll"])
    assert note.startswith(f"the package cache {CACHE} had an owner or ACL")
    assert note.endswith("removed what a user may have planted: evil.dll")
