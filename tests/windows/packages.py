"""The acceptance kit's own test packages, built on the controller with Debian's ``wixl``.

``python -m tests.windows.packages build OUTDIR`` builds them where you like (for example
on a Linux box, to copy to a controller without wixl) and prints what it built; the kit
builds them itself into ``.tmp/windows-kit/packages`` unless ROLLOUT_WINDOWS_PACKAGES
names such a folder.

Four packages, each ``<outdir>/<name>/RolloutKit.msi`` with its ``payload/`` folder:

- ``machine-1.0.0`` and ``machine-1.1.0``: a per-machine product (ALLUSERS=1), the newer
  a major upgrade of the older;
- ``user-1.0.0``: a dual-purpose package installed per user (ALLUSERS=2 with
  MSIINSTALLPERUSER=1);
- ``fail-1.0.0``: a per-machine package whose launch condition is never true, so that
  Windows Installer ends it with 1603 before it changes anything on the machine.

Why not the lab's packages (lab/msi): they are the simulated fleet's fixtures and may change
with the lab; this kit runs on a real machine and must install nothing that could ever be
mistaken for a real product. So it has its own template, product names and a GUID namespace
of its own, and no import from ``lab``. The layout technique is the same as lab/msi's: wixl
cannot write an uncompressed source layout, so ``msibuild`` SQL afterwards marks the files
non-compressed (msidbFileAttributesNoncompressed), adds a cabinet-less Media row and gives
INSTALLDIR the source name ``payload``; Windows Installer then reads each file from
``SourceDir\\payload\\<name>`` (File table and Directory table DefaultDir "target:source",
learn.microsoft.com/windows/win32/msi/file-table and .../directory-table).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "AcceptanceProduct.wxs.in"
MSI_NAME = "RolloutKit.msi"
PAYLOAD_FILES = ("readme.txt", "manifest.xml")
# (variant, version): the packages the kit installs.
PACKAGES = (("machine", "1.0.0"), ("machine", "1.1.0"), ("user", "1.0.0"), ("fail", "1.0.0"))
NAMES = {
    "machine": "Rollout Windows Acceptance Test",
    "user": "Rollout Windows Acceptance Test (per user)",
    "fail": "Rollout Windows Acceptance Test (fails)",
}
# Short names for the install folder (the DefaultDir "short|long" form needs a valid 8.3 one).
SHORT_NAMES = {"machine": "RWKITM", "user": "RWKITU", "fail": "RWKITF"}
# Launch condition of the fail variant: a private property (mixed case, so no command line
# can set it) that nothing sets. A launch condition that is false ends a quiet install with
# 1603 ("Action ended: LaunchConditions. Return value 3.", then "MainEngineThread is
# returning 1603"; learn.microsoft.com/windows/win32/msi/launchconditions-action).
FAIL_MESSAGE = "The rollout.windows acceptance kit fails this package on purpose (expected 1603)."
_NAMESPACE = uuid.UUID("0f7c3a52-6e1b-4d7e-9b0a-2c8e5d41a6f3")
_STAMP = ".build-stamp"


def _guid(*parts: str) -> str:
    return "{" + str(uuid.uuid5(_NAMESPACE, "/".join(parts))).upper() + "}"


def upgrade_code(variant: str) -> str:
    return _guid("upgrade", variant)


def product_code(variant: str, version: str) -> str:
    return _guid("product", variant, version)


def render_wxs(variant: str, version: str) -> str:
    per_user = variant == "user"
    values = {
        "PRODUCT_CODE": product_code(variant, version),
        "UPGRADE_CODE": upgrade_code(variant),
        "PRODUCT_NAME": NAMES[variant],
        "VERSION": version,
        "VARIANT": variant,
        "INSTALL_SCOPE": "perUser" if per_user else "perMachine",
        "EXTRA_PROPERTIES": (
            '    <Property Id="ALLUSERS" Value="2" />\n    <Property Id="MSIINSTALLPERUSER" Value="1" />'
            if per_user
            else ""
        ),
        "CONDITION": (f'    <Condition Message="{FAIL_MESSAGE}">KitNeverSet</Condition>' if variant == "fail" else ""),
        "COMPONENT_GUID": _guid("component", variant, "files"),
        "SETTINGS_GUID": _guid("component", variant, "settings"),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _payload(variant: str, version: str, name: str) -> bytes:
    """Version-specific content, so an upgrade ships other file hashes than the version it replaces."""
    if name.endswith(".xml"):
        return f'<?xml version="1.0" encoding="utf-8"?>\n<kit variant="{variant}" version="{version}" />\n'.encode()
    return f"rollout.windows acceptance kit test product, {variant} {version}.\r\n".encode()


def _tool_versions() -> str:
    return subprocess.run(["wixl", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for path in (TEMPLATE, Path(__file__)):
        digest.update(path.read_bytes())
    digest.update(_tool_versions().encode())
    return digest.hexdigest()


def build_package(variant: str, version: str, outdir: Path) -> Path:
    target = outdir / f"{variant}-{version}"
    if target.exists():
        shutil.rmtree(target)
    (target / "payload").mkdir(parents=True)
    for name in PAYLOAD_FILES:
        (target / "payload" / name).write_bytes(_payload(variant, version, name))
    wxs = target / "RolloutKit.wxs"
    wxs.write_text(render_wxs(variant, version), encoding="utf-8")
    # -a x64: the product registers in the native 64-bit view, where the collection reads it.
    subprocess.run(["wixl", "-a", "x64", "-o", MSI_NAME, wxs.name], check=True, capture_output=True, cwd=target)
    msi = target / MSI_NAME
    default_dir = f"{SHORT_NAMES[variant]}|{NAMES[variant]}:payload"
    queries = [
        f"UPDATE `Directory` SET `DefaultDir`='{default_dir}' WHERE `Directory`='INSTALLDIR'",
        f"INSERT INTO `Media` (`DiskId`, `LastSequence`) VALUES (1, {len(PAYLOAD_FILES)})",
        # 8192 msidbFileAttributesNoncompressed | 512 msidbFileAttributesVital
        "UPDATE `File` SET `Attributes`=8704",
    ]
    command = ["msibuild", str(msi)]
    for query in queries:
        command += ["-q", query]
    subprocess.run(command, check=True, capture_output=True)
    wxs.unlink()
    return msi


def build_packages(outdir: str | Path) -> dict[str, dict[str, str]]:
    """Build (or reuse, when nothing changed) every package; return ``{"<variant>-<version>": facts}``."""
    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / _STAMP
    wanted = _inputs_hash()
    fresh = stamp.is_file() and stamp.read_text() == wanted
    if not fresh or not all((out / f"{v}-{ver}" / MSI_NAME).is_file() for v, ver in PACKAGES):
        for variant, version in PACKAGES:
            build_package(variant, version, out)
        stamp.write_text(wanted)
    return describe(out)


def describe(folder: str | Path) -> dict[str, dict[str, str]]:
    """What each package folder under ``folder`` is; raises FileNotFoundError naming a missing one."""
    out = Path(folder).resolve()
    result: dict[str, dict[str, str]] = {}
    for variant, version in PACKAGES:
        package = out / f"{variant}-{version}"
        if not (package / MSI_NAME).is_file():
            raise FileNotFoundError(f"{package / MSI_NAME} is missing (python -m tests.windows.packages build DIR)")
        result[f"{variant}-{version}"] = {
            "dir": str(package),
            "msi": str(package / MSI_NAME),
            "name": NAMES[variant],
            "version": version,
            "product_code": product_code(variant, version),
            "upgrade_code": upgrade_code(variant),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.windows.packages", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build every package into OUTDIR").add_argument("outdir")
    args = parser.parse_args(argv)
    json.dump(build_packages(args.outdir), sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
