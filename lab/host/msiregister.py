"""The registry entries and files Windows Installer keeps for an installed product, and their removal.

RegisterProduct and PublishProduct write the Add/Remove Programs entry (Uninstall key), the
installer's own record under UserData (InstallProperties, LocalPackage), the published product and
the UpgradeCode maps; the product's own Registry table rows were resolved when it was installed.
Removal deletes all of that, the product's files and its cached package.
"""

from __future__ import annotations

from typing import Any

from lab.host.msipackage import version_key
from lab.host.registry import pack_guid
from lab.host.sessions import Sessions

MACHINE_SID = "S-1-5-18"
UNINSTALL = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
USERDATA = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UserData"
# RegisterProduct maps every product to its UpgradeCode here, per-user ones too, besides the per-context
# UpgradeCodes key that PublishProduct writes (HKLM\SOFTWARE\Classes\Installer or the user's own hive).
# Wine's msi conformance test test_register_product (dlls/msi/tests/action.c), which passes on Windows,
# finds this key after a per-user and after a per-machine install.
ALL_UPGRADE_CODES = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Installer\UpgradeCodes"


def register_product(host: Sessions, product: dict[str, Any]) -> None:
    """Write the registry entries Windows Installer writes for an installed product."""
    reg = host.registry
    pc, uc, sid = product["product_code"], product["upgrade_code"], product["sid"]
    packed = pack_guid(pc)
    major, minor, build = version_key(product["version"])
    arp = {
        "DisplayName": ("REG_SZ", product["name"]),
        "DisplayVersion": ("REG_SZ", product["version"]),
        "Publisher": ("REG_SZ", product["manufacturer"]),
        "InstallDate": ("REG_SZ", product["install_date"]),
        "InstallLocation": ("REG_SZ", product["install_location"]),
        "InstallSource": ("REG_SZ", product["install_source"]),
        "UninstallString": ("REG_EXPAND_SZ", f"MsiExec.exe /X{pc}"),
        "ModifyPath": ("REG_EXPAND_SZ", f"MsiExec.exe /I{pc}"),
        "WindowsInstaller": ("REG_DWORD", 1),
        "Version": ("REG_DWORD", (major << 24 | minor << 16 | build) % 2**32),
        "VersionMajor": ("REG_DWORD", major % 2**32),
        "VersionMinor": ("REG_DWORD", minor % 2**32),
        "Language": ("REG_DWORD", 1033),
    }
    view = 32 if product["arch"] == "Intel" else 64
    if product["scope"] == "machine":
        arp_key = f"HKLM\\{UNINSTALL}\\{pc}"
        published = f"HKLM\\SOFTWARE\\Classes\\Installer\\Products\\{packed}"
        upgrade = f"HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    else:
        arp_key = f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{pc}"
        published = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\Products\\{packed}"
        upgrade = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
        view = 64
    for name, (type_, data) in arp.items():
        reg.set_value(arp_key, name, data, type_, view=view)
    props_key = f"HKLM\\{USERDATA}\\{sid}\\Products\\{packed}\\InstallProperties"
    for name, (type_, data) in arp.items():
        reg.set_value(props_key, name, data, type_)
    reg.set_value(props_key, "LocalPackage", product["local_package"])
    reg.set_value(published, "ProductName", product["name"])
    reg.set_value(published, "PackageCode", pack_guid(product["package_code"]) if product["package_code"] else "")
    reg.set_value(published, "Version", arp["Version"][1], "REG_DWORD")
    reg.set_value(published, "Assignment", 1 if product["scope"] == "machine" else 0, "REG_DWORD")
    if upgrade:
        reg.set_value(upgrade, packed, "")
        reg.set_value(f"HKLM\\{ALL_UPGRADE_CODES}\\{pack_guid(uc)}", packed, "")
    for entry in product["registry"]:
        reg.set_value(entry["key"], entry["name"], entry["data"], entry["type"])


def unregister_product(host: Sessions, product: dict[str, Any]) -> None:
    reg = host.registry
    pc, uc, sid = product["product_code"], product["upgrade_code"], product["sid"]
    packed = pack_guid(pc)
    view = 32 if product["arch"] == "Intel" and product["scope"] == "machine" else 64
    if product["scope"] == "machine":
        reg.delete_key(f"HKLM\\{UNINSTALL}\\{pc}", recurse=True, view=view)
        reg.delete_key(f"HKLM\\SOFTWARE\\Classes\\Installer\\Products\\{packed}", recurse=True)
        upgrade = f"HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    else:
        reg.delete_key(f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{pc}", recurse=True)
        reg.delete_key(f"HKU\\{sid}\\Software\\Microsoft\\Installer\\Products\\{packed}", recurse=True)
        upgrade = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\UpgradeCodes\\{pack_guid(uc)}" if uc else None
    reg.delete_key(f"HKLM\\{USERDATA}\\{sid}\\Products\\{packed}", recurse=True)
    # The machine-wide map keeps a product code while another context (user) still has that product.
    still = any(p is not product and p["product_code"].upper() == pc.upper() for p in host.products.values())
    shared = f"HKLM\\{ALL_UPGRADE_CODES}\\{pack_guid(uc)}" if uc else None
    for key in (upgrade, None if still else shared):
        if key and reg.key_exists(key):
            reg.delete_value(key, packed)
            if not reg.values(key):
                reg.delete_key(key, recurse=True)
    for entry in product["registry"]:
        reg.delete_value(entry["key"], entry["name"])
    for path in product["files"]:
        if host.files.is_file(path):
            host.files.remove(path)
    location = product["install_location"]
    if location and host.files.is_dir(location) and not host.files.listdir(location):
        host.files.remove(location)
    if host.files.is_file(product["local_package"]):
        host.files.remove(product["local_package"])
    host.products.pop((sid, pc.upper()), None)
