"""Build the lab's test MSI packages from one WiX template with Debian's ``wixl``.

Eight packages: per-machine and per-user variants of "Example Office Suite" at
8.3.0, 9.2.0, 9.3.0 and 9.3.1, each as ``<outdir>/<variant>-<version>/ExampleOfficeSuite.msi``
with its ``payload/`` folder beside it (as the vendor ships it). The per-user packages from
8.4 on also install the auto-updater, ``ExampleSuite.Updater.exe`` (the product has it only
in the per-user variant and only from 8.4 on): :func:`payload_files` says what each ships.

How the payload folder is modelled: the package uses an *uncompressed source
layout*. Its files are listed in the File table, flagged non-compressed
(``msidbFileAttributesNoncompressed``), the Media row has no cabinet, and the
install directory's DefaultDir carries the source name ``payload``
(``EXAMPL~1|Example Office Suite:payload``). Windows Installer therefore reads
each file from ``SourceDir\\payload\\<name>``, and fails with error 1308 "Source
file not found" (exit 1603) when one is missing: exactly what the lab engine
does. wixl cannot express that layout directly, so :func:`_postprocess` applies it
with ``msibuild`` SQL after wixl has run.

Builds are cached: a stamp file holds a hash of every input (template, payload
recipe, this file, wixl version), so repeated builds are instant. Built files are
never committed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "ExampleOfficeSuite.wxs.in"
MSI_NAME = "ExampleOfficeSuite.msi"
VARIANTS = ("machine", "user")
VERSIONS = ("8.3.0", "9.2.0", "9.3.0", "9.3.1")
# What every package ships; payload_files() adds the updater where the product has it.
PAYLOAD_FILES = ("ExampleSuite.AddIn.dll", "ExampleSuite.Core.dll", "manifest.xml")
UPDATER_EXE = "ExampleSuite.Updater.exe"
UPDATER_SINCE = (8, 4)
# Fixed namespace so codes are stable across builds and machines: tests may hard-code none of them,
# but two builds must agree (a cached build and a fresh one are interchangeable).
_NAMESPACE = uuid.UUID("5b0c1f4e-8d4a-4c6e-9a57-3f7d2a1e9c10")
_STAMP = ".build-stamp"


def _guid(*parts: str) -> str:
    return "{" + str(uuid.uuid5(_NAMESPACE, "/".join(parts))).upper() + "}"


def upgrade_code(variant: str) -> str:
    """The variants are separate products for Windows Installer (different UpgradeCodes), as vendors ship them."""
    return _guid("upgrade", variant)


def product_code(variant: str, version: str) -> str:
    """Every version gets a new ProductCode, so each newer version is a major upgrade of the older."""
    return _guid("product", variant, version)


def has_updater(variant: str, version: str) -> bool:
    """The auto-updater exists only in the per-user variant, from 8.4 on."""
    return variant == "user" and tuple(int(x) for x in version.split(".")[:2]) >= UPDATER_SINCE


def payload_files(variant: str, version: str) -> tuple[str, ...]:
    """The payload folder of one package, in File table order."""
    return (*PAYLOAD_FILES, UPDATER_EXE) if has_updater(variant, version) else PAYLOAD_FILES


def _payload_bytes(variant: str, version: str, name: str) -> bytes:
    """Deterministic, version-specific content: different versions ship different file hashes."""
    if name.endswith(".xml"):
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<manifest product="Example Office Suite" '
            f'version="{version}" variant="{variant}" />\n'
        ).encode()
    seed = hashlib.sha256(f"{name}:{version}".encode()).digest()
    return b"MZ" + seed * 64


def render_wxs(variant: str, version: str, payload_dir: str = "payload") -> str:
    """The WiX source for one package (public so tests and curious humans can look at it)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    per_user = variant == "user"
    extra_props = (
        '    <Property Id="ALLUSERS" Value="2" />\n    <Property Id="MSIINSTALLPERUSER" Value="1" />\n'
        '    <Property Id="AUTOUPDATE" Value="0" />'
        if per_user
        else ""
    )
    extra_reg = (
        '            <RegistryValue Root="HKMU" Key="Software\\Example Corp\\Example Office Suite" '
        'Name="AutoUpdate" Type="string" Value="[AUTOUPDATE]" />'
        if per_user
        else ""
    )
    values = {
        "PRODUCT_CODE": product_code(variant, version),
        "UPGRADE_CODE": upgrade_code(variant),
        "VERSION": version,
        "VARIANT": variant,
        # perMachine makes wixl add ALLUSERS=1. The per-user variant is a dual-purpose package
        # (ALLUSERS=2 + MSIINSTALLPERUSER=1), which is how a per-user MSI is built since Windows 7.
        "INSTALL_SCOPE": "perUser" if per_user else "perMachine",
        "EXTRA_PROPERTIES": extra_props,
        "EXTRA_REGISTRY": extra_reg,
        "COMPONENT_GUID": _guid("component", variant, "files"),
        "SETTINGS_GUID": _guid("component", variant, "settings"),
        "EXTRA_FILES": (
            f'            <File Id="Updater" Name="{UPDATER_EXE}" Source="{payload_dir}/{UPDATER_EXE}" />'
            if has_updater(variant, version)
            else ""
        ),
        # wixl resolves File/@Source relative to the .wxs and refuses absolute paths.
        "PAYLOAD": payload_dir,
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _wixl_version() -> str:
    return subprocess.run(["wixl", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    digest.update(TEMPLATE.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(_wixl_version().encode())
    return digest.hexdigest()


def _postprocess(msi: Path, file_count: int) -> None:
    """Turn wixl's output into the uncompressed layout described in the module docstring."""
    queries = [
        "UPDATE `Directory` SET `DefaultDir`='EXAMPL~1|Example Office Suite:payload' WHERE `Directory`='INSTALLDIR'",
        f"INSERT INTO `Media` (`DiskId`, `LastSequence`) VALUES (1, {file_count})",
        # 8192 msidbFileAttributesNoncompressed | 512 msidbFileAttributesVital
        "UPDATE `File` SET `Attributes`=8704",
    ]
    cmd = ["msibuild", str(msi)]
    for query in queries:
        cmd += ["-q", query]
    subprocess.run(cmd, check=True, capture_output=True)


def build_package(variant: str, version: str, outdir: Path) -> Path:
    """Build one package into ``outdir/<variant>-<version>/`` and return the .msi path."""
    target = outdir / f"{variant}-{version}"
    if target.exists():
        shutil.rmtree(target)
    payload = target / "payload"
    payload.mkdir(parents=True)
    files = payload_files(variant, version)
    for name in files:
        (payload / name).write_bytes(_payload_bytes(variant, version, name))
    wxs = target / "ExampleOfficeSuite.wxs"
    wxs.write_text(render_wxs(variant, version), encoding="utf-8")
    msi = target / MSI_NAME
    # -a x64: the package registers in the native 64-bit registry view, like a 64-bit Office add-in.
    subprocess.run(["wixl", "-a", "x64", "-o", MSI_NAME, wxs.name], check=True, capture_output=True, cwd=target)
    _postprocess(msi, len(files))
    wxs.unlink()
    return msi


def build_packages(outdir: str | Path) -> dict[str, dict[str, str]]:
    """Build (or reuse) every package; return ``{"<variant>-<version>": {msi, payload, dir, ...}}``."""
    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / _STAMP
    wanted = _inputs_hash()
    expected = [out / f"{v}-{ver}" / MSI_NAME for v in VARIANTS for ver in VERSIONS]
    fresh = stamp.is_file() and stamp.read_text() == wanted and all(p.is_file() for p in expected)
    if not fresh:
        for variant in VARIANTS:
            for version in VERSIONS:
                build_package(variant, version, out)
        stamp.write_text(wanted)
    result: dict[str, dict[str, str]] = {}
    for variant in VARIANTS:
        for version in VERSIONS:
            folder = out / f"{variant}-{version}"
            result[f"{variant}-{version}"] = {
                "dir": str(folder),
                "msi": str(folder / MSI_NAME),
                "payload": str(folder / "payload"),
                "variant": variant,
                "version": version,
                "product_code": product_code(variant, version),
                "upgrade_code": upgrade_code(variant),
            }
    return result
