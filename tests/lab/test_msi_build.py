"""The wixl-built test packages: real MSI files with the facts and payload layout the lab relies on."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from lab.host.msipackage import parse_msi
from lab.msi import PAYLOAD_FILES, UPDATER_EXE, VARIANTS, VERSIONS, build_packages, payload_files


def test_every_package_with_payload(msi_packages: dict[str, dict[str, str]]) -> None:
    assert sorted(msi_packages) == sorted(f"{v}-{ver}" for v in VARIANTS for ver in VERSIONS)
    for info in msi_packages.values():
        assert Path(info["msi"]).is_file()
        expected = payload_files(info["variant"], info["version"])
        assert sorted(p.name for p in Path(info["payload"]).iterdir()) == sorted(expected)
        assert set(PAYLOAD_FILES) <= set(expected)


def test_updater_only_in_per_user_packages_from_8_4(msi_packages: dict[str, dict[str, str]]) -> None:
    with_updater = sorted(k for k, info in msi_packages.items() if (Path(info["payload"]) / UPDATER_EXE).is_file())
    assert with_updater == ["user-9.2.0", "user-9.3.0", "user-9.3.1"]
    assert "user-8.3.0" in msi_packages
    assert "machine-8.3.0" in msi_packages


def test_properties_read_from_the_real_msi(msi_packages: dict[str, dict[str, str]]) -> None:
    codes = set()
    for key, info in msi_packages.items():
        data = Path(info["msi"]).read_bytes()
        pkg = parse_msi(data, hashlib.sha256(data).hexdigest())
        assert pkg.product_code == info["product_code"]
        assert pkg.upgrade_code == info["upgrade_code"]
        assert pkg.product_version == info["version"]
        assert pkg.product_name == "Example Office Suite"
        assert pkg.manufacturer == "Example Corp"
        assert pkg.arch == "x64"
        if key.startswith("user-"):
            assert (pkg.properties["ALLUSERS"], pkg.properties["MSIINSTALLPERUSER"]) == ("2", "1")
        else:
            assert pkg.properties["ALLUSERS"] == "1"
        # Uncompressed source layout: every file is read from payload\ beside the .msi.
        expected = payload_files(info["variant"], info["version"])
        assert sorted(f.source_relpath or "" for f in pkg.files) == sorted(f"payload\\{n}" for n in expected)
        codes.add(pkg.product_code)
    assert len(codes) == len(VARIANTS) * len(VERSIONS)
    # msitools agrees with pymsi on what the package says.
    out = subprocess.run(
        ["msiinfo", "export", msi_packages["machine-9.3.1"]["msi"], "Property"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ProductVersion\t9.3.1" in out


def test_rebuild_is_cached(msi_packages: dict[str, dict[str, str]]) -> None:
    folder = Path(msi_packages["machine-9.2.0"]["dir"]).parent
    before = Path(msi_packages["machine-9.2.0"]["msi"]).stat().st_mtime_ns
    assert build_packages(folder) == msi_packages
    assert Path(msi_packages["machine-9.2.0"]["msi"]).stat().st_mtime_ns == before
