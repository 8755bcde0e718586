"""Installing a per-user package the way the product's suite installer does.

The suite installer (a bundle) copies the package it carries into the user's package cache,
``<profile>\\AppData\\Local\\Package Cache\\{<bundle-guid>}\\``, and runs Windows Installer as
the user from there, so the product's ``InstallSource`` names that folder. The collection's
auto-updater module checks exactly that (it refuses a per-user install of another origin), so
the lab offers this path next to the plain msiexec one. The simulated auto-updater stages its
downloads the same way.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from lab.host.msiexec import Msiexec, MsiexecResult

if TYPE_CHECKING:
    from lab.host.sessions import Sessions
    from lab.host.state import HostState

PACKAGE_CACHE = r"AppData\Local\Package Cache"
MSI_NAME = "ExampleOfficeSuite.msi"
# Fixed namespace: one bundle GUID per version on every host and in every build, as a vendor's bundle has.
_BUNDLE_NAMESPACE = uuid.UUID("0f6b3c52-2a1d-4c8e-b7a4-6e9d5f1c2b30")


def bundle_guid(version: str) -> str:
    """The suite bundle's id of one product version (``{...}``, upper case as Burn writes it)."""
    return "{" + str(uuid.uuid5(_BUNDLE_NAMESPACE, f"suite/{version}")).upper() + "}"


def cache_folder(host: HostState, user: str, version: str) -> str:
    """``<profile>\\AppData\\Local\\Package Cache\\{<bundle-guid>}`` of ``user`` for ``version``."""
    return f"{host.profile_dir(user)}\\{PACKAGE_CACHE}\\{bundle_guid(version)}"


def stage(host: HostState, user: str, version: str, files: dict[str, bytes]) -> str:
    """Write a package folder (relative path -> bytes, ``payload\\x`` style) into the user's cache; the .msi's path."""
    folder = cache_folder(host, user, version)
    msi = ""
    for relpath, data in sorted(files.items()):
        rel = relpath.replace("/", "\\")
        parent = rel.rsplit("\\", 1)[0] if "\\" in rel else ""
        host.files.mkdir(f"{folder}\\{parent}" if parent else folder)
        host.files.write_bytes(f"{folder}\\{rel}", data)
        if rel.lower().endswith(".msi") and "\\" not in rel:
            msi = f"{folder}\\{rel}"
    if not msi:
        raise ValueError(f"the package for {version} has no .msi at its top level")
    return msi


def read_package(folder: Path) -> dict[str, bytes]:
    """A built package folder on the lab machine (``<variant>-<version>/``) as relative path -> bytes."""
    if not folder.is_dir():
        raise KeyError(f"no package folder {folder}")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def package_folder(packages_dir: Path, version: str) -> Path:
    """The per-user package of ``version`` in a ``python -m lab.msi build`` folder; KeyError when it was not built."""
    folder = Path(packages_dir) / f"user-{version}"
    if not folder.is_dir():
        built = sorted(p.name.removeprefix("user-") for p in Path(packages_dir).glob("user-*") if p.is_dir())
        raise KeyError(f"no per-user package {version} in {packages_dir}; built: {', '.join(built) or 'none'}")
    return folder


async def suite_install(host: Sessions, user: str, folder: Path, version: str | None = None) -> MsiexecResult:
    """Install the per-user package in ``folder`` as ``user``, from the user's package cache, as the suite does.

    ``version`` names the bundle (its cache folder); default: the folder's ``<variant>-<version>`` suffix.
    """
    version = version or folder.name.partition("-")[2]
    msi = stage(host, user, version, read_package(folder))
    # The bundle runs the package silently and leaves restarts to itself (/norestart: never 1641), as Burn does.
    return await Msiexec(host, ["/i", msi, "/qn", "/norestart"], user).run()
