"""The controller's record of what it read from a package: parsed once per content, never trusted blindly."""

from __future__ import annotations

import json
import stat
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi, _msi_cache, _package_source
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The .msi files really parsed (pymsi) while the test runs."""
    seen: list[Path] = []
    real = _msi.read_msi

    def counted(source: t.Any) -> _msi.MsiInfo:
        seen.append(source)
        return real(source)

    monkeypatch.setattr(_msi, "read_msi", counted)
    return seen


def package(msi_folder: Path) -> tuple[Path, str]:
    msi = next(msi_folder.glob("*.msi"))
    return msi, _msi.sha256_file(msi)


def test_a_package_is_parsed_once_per_content(msi_folder: Path, msi_facts_dir: Path, parses: list[Path]) -> None:
    msi, digest = package(msi_folder)
    first = _msi_cache.read_msi(msi, digest)
    again = _msi_cache.read_msi(msi, digest)
    assert again == first
    assert parses == [msi]
    assert first.facts()["version"] == "9.3.0"
    assert stat.S_IMODE(msi_facts_dir.stat().st_mode) == 0o700
    assert [p.name for p in msi_facts_dir.iterdir()] == [f"{digest}.json"]


def test_each_host_task_reads_the_record_the_plan_left(msi_folder: Path, parses: list[Path]) -> None:
    # The plan's lookup parsed the package; an install task on a host then reads the record only.
    msi, digest = package(msi_folder)
    _msi_cache.read_msi(msi, digest)
    defaults = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    options = MsiOptions.from_args({**defaults, "src": str(msi_folder)})
    read = _package_source._read_src(options, msi_folder)
    assert (read.product_code, read.version) == (_msi.read_msi(msi).product_code, "9.3.0")
    assert parses == [msi, msi]  # the second parse is the assertion's own


@pytest.mark.parametrize(
    "record",
    [
        "not json",
        json.dumps(["a list"]),
        json.dumps(
            {"product_code": 1, "product_version": "1", "upgrade_code": "", "product_name": "", "all_users": "1"}
        ),
        json.dumps(
            {
                **dict.fromkeys(("product_code", "product_version", "upgrade_code", "product_name", "all_users"), "x"),
                "properties": {"A": 1},
                "payload": [],
            }
        ),
    ],
)
def test_a_record_of_another_shape_is_read_from_the_package_again(
    msi_folder: Path, msi_facts_dir: Path, parses: list[Path], record: str
) -> None:
    msi, digest = package(msi_folder)
    msi_facts_dir.mkdir(mode=0o700)
    (msi_facts_dir / f"{digest}.json").write_text(record, encoding="utf-8")
    info = _msi_cache.read_msi(msi, digest)
    assert parses == [msi]
    assert info.facts()["version"] == "9.3.0"
    assert json.loads((msi_facts_dir / f"{digest}.json").read_text())["product_version"] == "9.3.0"


def test_a_folder_that_cannot_be_written_costs_only_the_speed_up(
    msi_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[Path]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(_msi_cache.ENV_DIR, str(blocker / "msi-facts"))
    msi, digest = package(msi_folder)
    assert _msi_cache.read_msi(msi, digest).facts()["version"] == "9.3.0"
    assert _msi_cache.read_msi(msi, digest).facts()["version"] == "9.3.0"
    assert parses == [msi, msi]


def test_a_key_that_is_not_a_sha256_is_refused(msi_folder: Path) -> None:
    msi, _digest = package(msi_folder)
    with pytest.raises(ValueError, match=r"not a SHA-256 in hex: '\.\./x'"):
        _msi_cache.read_msi(msi, "../x")
