"""Shared fixtures for the lab tests."""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# ---- WinRM server / fleet fixtures -----------------------------------------------------------------

from lab.fleet import FleetThread
from lab.testing import start_test_fleet  # re-exported for the WinRM tests


@pytest.fixture(scope="session")
def lab_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    """A small fleet (4 clients, alternating ntlm/basic, and 1 server) running for the whole test session."""
    fleet = start_test_fleet(tmp_path_factory.mktemp("lab_fleet"))
    try:
        yield fleet
    finally:
        fleet.stop()


# ---- host model fixtures (lab/host, lab/msi) -------------------------------------------------------

import lab.primitives  # noqa: E402, F401  (the host model runs the lab's primitives once they are imported)
from lab.msi import build_packages  # noqa: E402

MSI_BUILD_DIR = Path(__file__).resolve().parents[2] / ".tmp" / "lab-msi"


@pytest.fixture(scope="session")
def msi_packages() -> dict[str, dict[str, str]]:
    """The six wixl-built test packages (``machine-9.3.0`` etc.), cached across sessions by an input hash."""
    return build_packages(MSI_BUILD_DIR)


class HostKit:
    """Makes hosts on a fast clock and copies built packages onto them (what put_file would do)."""

    def __init__(self, packages: dict[str, dict[str, str]]) -> None:
        from lab.clock import Clock
        from lab.host import BlobStore

        self.packages = packages
        self.clock = Clock(time_scale=100_000.0)
        self.blobs = BlobStore()

    def host(self, name: str = "pc001", kind: str = "client", seed: int = 1, **kw: t.Any) -> t.Any:
        from lab.host import make_host

        return make_host(name, kind, seed=seed, clock=self.clock, blobs=self.blobs, **kw)

    def stage(self, host: t.Any, key: str, dest: str = "C:\\Cache", skip: tuple[str, ...] = ()) -> str:
        """Copy ``<key>``'s .msi and payload folder to ``dest\\<key>`` on ``host``; returns the .msi path there."""
        info = self.packages[key]
        folder = f"{dest}\\{key}"
        host.files.mkdir(folder + "\\payload")
        msi = f"{folder}\\ExampleOfficeSuite.msi"
        host.files.write_bytes(msi, Path(info["msi"]).read_bytes())
        for item in sorted(Path(info["payload"]).iterdir()):
            if item.name not in skip:
                host.files.write_bytes(f"{folder}\\payload\\{item.name}", item.read_bytes())
        return msi


@pytest.fixture
def kit(msi_packages: dict[str, dict[str, str]]) -> HostKit:
    return HostKit(msi_packages)
