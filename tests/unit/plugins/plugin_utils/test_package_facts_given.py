"""With src and the package's facts given, deciding reads nothing: the package is read when it is delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi, _package_source
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from tests.unit.plugins.action.fakehost import FakeHost


def options(src: Path, **facts: str) -> MsiOptions:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(src=str(src), **facts)
    return MsiOptions.from_args(base)


def facts_of(src: Path) -> dict[str, str]:
    info = _msi.read_msi(next(src.glob("*.msi")))
    return {"product_code": info.product_code, "version": info.product_version, "upgrade_code": info.upgrade_code}


def test_locating_with_every_fact_given_reads_no_package(built_packages: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = built_packages / "machine-9.3.1"
    wanted = options(src, **facts_of(src))

    def no_read(source: object) -> None:
        raise AssertionError("the package was read to decide")

    monkeypatch.setattr(_msi, "read_msi", no_read)
    package = _package_source.locate(FakeHost(), wanted, str, check_mode=False)  # type: ignore[arg-type]
    assert (package.product_code, package.version, package.files) == (wanted.product_code, wanted.version, ())


def test_delivering_reads_the_package_and_copies_it(built_packages: Path) -> None:
    src = built_packages / "machine-9.3.1"
    wanted = options(src, **facts_of(src))
    host = FakeHost()
    package = _package_source.locate(host, wanted, str, check_mode=False)  # type: ignore[arg-type]
    delivered = _package_source.deliver(host, wanted, package, notes=[], upload=lambda local, remote: None)
    assert delivered.target.endswith("\\ExampleOfficeSuite.msi")
    assert delivered.transferred


@pytest.mark.parametrize("option", ["product_code", "version", "upgrade_code"])
def test_a_package_that_is_not_the_given_one_is_refused_before_the_host_is_touched(
    built_packages: Path, option: str
) -> None:
    src = built_packages / "machine-9.3.1"
    other = facts_of(built_packages / "machine-9.3.0")
    given = facts_of(src)
    # The 9.3.0 package has another version; for the codes, a made-up product family.
    given[option] = other[option] if option == "version" else "{00000000-0000-0000-0000-000000000001}"
    wanted = options(src, **given)
    host = FakeHost()
    package = _package_source.locate(host, wanted, str, check_mode=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"^{option}: .* was given, but ExampleOfficeSuite\.msi has "):
        _package_source.deliver(host, wanted, package, notes=[], upload=lambda local, remote: None)
    assert host.names() == []
