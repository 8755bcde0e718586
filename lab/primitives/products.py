"""Get-InstalledProduct: Windows Installer products per machine and per user, read from the registry.

It reads exactly what the PowerShell reads: ``Installer\\UserData\\<SID>\\Products\\<packed>\\InstallProperties``
(S-1-5-18 is the per-machine context) and the UpgradeCodes keys that map products back to their UpgradeCode:
the machine-wide one RegisterProduct writes for every context, the per-machine one and those of the user hives
that are loaded. A per-user product whose user is not logged on has no loaded hive, so when no key names it
the UpgradeCode comes from its cached package (InstallProperties\\LocalPackage), read like Get-MsiProperty.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from lab.host.msipackage import MSI_CACHE, MsiParseError
from lab.host.msiregister import ALL_UPGRADE_CODES, MACHINE_SID, USERDATA
from lab.host.registry import pack_guid, unpack_guid
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, primitive

if TYPE_CHECKING:
    from lab.host.host import Host


def _upgrade_map(host: Host) -> dict[str, str]:
    """Packed ProductCode -> UpgradeCode from the machine's and every loaded user hive's UpgradeCodes keys."""
    reg = host.registry
    roots = [f"HKLM\\{ALL_UPGRADE_CODES}", r"HKLM\SOFTWARE\Classes\Installer\UpgradeCodes"]
    roots += [rf"HKU\{sid}\Software\Microsoft\Installer\UpgradeCodes" for sid in reg.subkeys("HKU")]
    out: dict[str, str] = {}
    for root in roots:
        if not reg.key_exists(root):
            continue
        for packed_uc in reg.subkeys(root):
            for packed_pc in reg.values(f"{root}\\{packed_uc}"):
                if packed_pc:
                    out[packed_pc.upper()] = unpack_guid(packed_uc)
    return out


def _guid_arg(args: dict[str, Any], key: str) -> str | None:
    value = arg_str(args, key, required=False)
    if value is None:
        return None
    try:
        return unpack_guid(pack_guid(value))  # canonical {UPPER-CASE} form
    except ValueError as exc:
        raise PrimitiveFailure(f"argument {key} is not a GUID: {value}") from exc


@primitive("Get-InstalledProduct")
async def get_installed_product(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    return {"products": installed_products(host, args)}


def installed_products(host: Host, args: dict[str, Any]) -> list[dict[str, Any]]:
    """What _Products.ps1's Get-RwInstalledProduct answers for ``args`` (product_code, upgrade_code, name):
    Get-InstalledProduct's products, and Invoke-Msiexec's report of what msiexec left registered."""
    want_pc = _guid_arg(args, "product_code")
    want_uc = _guid_arg(args, "upgrade_code")
    pattern = arg_str(args, "name", required=False)
    reg = host.registry
    upgrades = _upgrade_map(host)
    products: list[dict[str, Any]] = []
    if not reg.key_exists(f"HKLM\\{USERDATA}"):
        return products
    for sid in reg.subkeys(f"HKLM\\{USERDATA}"):
        base = f"HKLM\\{USERDATA}\\{sid}\\Products"
        if not reg.key_exists(base):
            continue
        for packed in reg.subkeys(base):
            props_key = f"{base}\\{packed}\\InstallProperties"
            if not reg.key_exists(props_key):
                continue
            values = {k.lower(): v.data for k, v in reg.values(props_key).items()}
            product_code = unpack_guid(packed)
            name = values.get("displayname")
            entry = {
                "product_code": product_code,
                "upgrade_code": upgrades.get(packed.upper()) or _package_upgrade_code(host, values.get("localpackage")),
                "name": name,
                "version": values.get("displayversion"),
                "publisher": values.get("publisher"),
                "scope": "machine" if sid == MACHINE_SID else "user",
                "user": None if sid == MACHINE_SID else _account(host, sid),
                "sid": sid,
                "install_date": values.get("installdate"),
                "install_location": values.get("installlocation"),
                "local_package": values.get("localpackage"),
            }
            if want_pc and product_code != want_pc:
                continue
            if want_uc and entry["upgrade_code"] != want_uc:
                continue
            if pattern and not fnmatch.fnmatchcase(str(name or "").lower(), pattern.lower()):
                continue
            products.append(entry)
    return products


def _package_upgrade_code(host: Host, path: Any) -> str | None:
    """The Property table's UpgradeCode of a cached package; None when it is gone or unreadable (COM throws)."""
    if not isinstance(path, str) or not host.files.is_file(path):
        return None
    try:
        code = MSI_CACHE.get(host.files.read_bytes(path), host.files.sha256(path)).upgrade_code
    except (OSError, ValueError, MsiParseError):
        return None
    return code.upper() if code else None


def _account(host: Host, sid: str) -> str | None:
    """SecurityIdentifier.Translate(NTAccount): COMPUTER\\user for local accounts, None if unresolvable."""
    user = host.user_of_sid(sid)
    return None if user is None else f"{host.env(host.username)['COMPUTERNAME']}\\{user}"
