"""Registry model: case rules, typed values, the WOW6432Node view, HKCU and packed GUIDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.host.registry import Registry, pack_guid, unpack_guid


def test_case_insensitive_keys_and_value_names() -> None:
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Example Corp\Suite", "ServerUrl", "https://x")
    assert reg.get(r"hkey_local_machine\software\EXAMPLE CORP\suite", "serverurl") == "https://x"
    assert reg.values(r"HKLM:\Software\Example Corp\Suite")["ServerUrl"].type == "REG_SZ"
    assert reg.subkeys(r"HKLM\SOFTWARE") == ["Example Corp"]


def test_typed_values_are_validated() -> None:
    reg = Registry()
    reg.set_value(r"HKLM\S", "d", 4294967295, "REG_DWORD")
    reg.set_value(r"HKLM\S", "q", 2**64 - 1, "REG_QWORD")
    reg.set_value(r"HKLM\S", "m", ["a", "b"], "REG_MULTI_SZ")
    reg.set_value(r"HKLM\S", "e", "%SystemRoot%\\x", "REG_EXPAND_SZ")
    reg.set_value(r"HKLM\S", "b", b"\x00\x01", "REG_BINARY")
    assert reg.snapshot()[r"HKLM\S"]["b"] == {"type": "REG_BINARY", "data": "0001"}
    for type_, data in (("REG_DWORD", 2**32), ("REG_DWORD", "1"), ("REG_MULTI_SZ", "a"), ("REG_SZ", 1), ("REG_X", 1)):
        with pytest.raises(ValueError, match="REG_"):
            reg.set_value(r"HKLM\S", "bad", data, type_)


def test_wow64_view_redirects_software_but_not_classes() -> None:
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "v", "32", view=32)
    assert reg.get(r"HKLM\SOFTWARE\WOW6432Node\Vendor", "v") == "32"
    assert reg.get(r"HKLM\SOFTWARE\Vendor", "v") is None
    reg.set_value(r"HKLM\SOFTWARE\Classes\Installer\X", "v", "shared", view=32)
    assert reg.get(r"HKLM\SOFTWARE\Classes\Installer\X", "v") == "shared"


def test_hkcu_maps_to_the_users_sid_and_delete_rules() -> None:
    reg = Registry({"alice": "S-1-5-21-1-2-3-1001"})
    reg.set_value(r"HKCU\Software\Example", "a", "1", user="Alice")
    assert reg.get(r"HKU\S-1-5-21-1-2-3-1001\Software\Example", "a") == "1"
    with pytest.raises(ValueError, match="HKCU needs a known user"):
        reg.set_value(r"HKCU\Software\Example", "a", "1", user="nobody")
    with pytest.raises(OSError, match="has subkeys"):
        reg.delete_key(r"HKU\S-1-5-21-1-2-3-1001\Software")
    assert reg.delete_key(r"HKU\S-1-5-21-1-2-3-1001\Software", recurse=True)
    assert not reg.key_exists(r"HKU\S-1-5-21-1-2-3-1001\Software")


def test_pack_guid_matches_windows_installer() -> None:
    # Known pair from Windows Installer documentation of the packed GUID format.
    assert pack_guid("{12345678-ABCD-EF01-2345-6789ABCDEF01}") == "87654321DCBA10FE32547698BADCFE10"


@given(st.uuids())
def test_pack_guid_round_trips(value: object) -> None:
    guid = "{" + str(value).upper() + "}"
    assert unpack_guid(pack_guid(guid)) == guid
