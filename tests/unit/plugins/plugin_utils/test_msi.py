from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi


@pytest.mark.parametrize(
    ("installed", "wanted", "expected"),
    [
        ("9.3.0", "9.3.1", -1),
        ("9.3.1", "9.3.1", 0),
        ("9.3.1", "9.3.0", 1),
        ("9.3", "9.3.0", 0),
        ("9.10.0", "9.9.0", 1),
        ("9.3.1.7", "9.3.1.9", 0),  # Windows Installer ignores the fourth field
        ("10.0.0", "9.99.9999", 1),
    ],
)
def test_versions_compare_like_windows_installer(installed: str, wanted: str, expected: int) -> None:
    assert _msi.compare_versions(installed, wanted) == expected


@pytest.mark.parametrize("bad", ["", "latest", "9.3.x", "1.2.3.4.5", "-1.0", "9..3"])
def test_bad_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an MSI version"):
        _msi.version_key(bad)


@pytest.mark.parametrize(
    ("code", "ok", "reboot", "busy"),
    [(0, True, False, False), (3010, True, True, False), (1641, True, True, False), (1618, False, False, True)],
)
def test_exit_code_meaning(code: int, ok: bool, reboot: bool, busy: bool) -> None:
    meaning = _msi.exit_code(code)
    assert (meaning.ok, meaning.reboot_required, meaning.retry_when_busy) == (ok, reboot, busy)


def test_fatal_and_unknown_exit_codes_fail_with_meaning() -> None:
    assert not _msi.exit_code(1603).ok
    assert "fatal" in _msi.exit_code(1603).meaning
    unknown = _msi.exit_code(4242)
    assert not unknown.ok
    assert "4242" in unknown.meaning


def test_guid_normalised_and_validated() -> None:
    assert _msi.normalize_guid("10010f76-051b-5bdc-831e-4348d9b33a7f", "product_code") == (
        "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    )
    with pytest.raises(ValueError, match="product_code must be a GUID"):
        _msi.normalize_guid("not-a-guid", "product_code")


def test_msiexec_arguments_layout() -> None:
    args = _msi.msiexec_arguments("install", r"C:\c\x.msi", r"C:\l.log", {"A": "1", "B": True}, ["a.mst", "b.mst"])
    assert args == [
        "/i",
        r"C:\c\x.msi",
        "/qn",
        "/norestart",
        "/L*V",
        r"C:\l.log",
        "A=1",
        "B=1",
        "TRANSFORMS=a.mst;b.mst",
    ]


hostile = st.text(alphabet=st.sampled_from([*list("ab \"';$()`\n\r\t&|<>%^!\\{}[]"), "ä", "€"]), max_size=40)


@given(value=hostile)
def test_property_values_pass_literally(value: str) -> None:
    args = _msi.msiexec_arguments("install", "x.msi", "l.log", {"PROP": value})
    assert args[-1] == f"PROP={value}"
    assert len(args) == 7  # one element, whatever the value holds


@pytest.mark.parametrize("name", ["bad name", "A=B", "", "1ABC", "X;Y"])
def test_bad_property_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="properties"):
        _msi.msiexec_arguments("install", "x.msi", "l.log", {name: "v"})


def test_transforms_only_through_their_option() -> None:
    with pytest.raises(ValueError, match="transforms"):
        _msi.msiexec_arguments("install", "x.msi", "l.log", {"TRANSFORMS": "a.mst"})


def test_missing_payload_is_case_insensitive() -> None:
    required = [r"payload\A.dll", r"payload\b.xml"]
    assert _msi.missing_payload(required, ["PAYLOAD/a.DLL"]) == [r"payload\b.xml"]


def test_cache_key_depends_on_content_not_order() -> None:
    a = _msi.PackageFile("x.msi", 1, "aa")
    b = _msi.PackageFile(r"payload\y", 2, "bb")
    assert _msi.cache_key([a, b]) == _msi.cache_key([b, a])
    assert _msi.cache_key([a, b]) != _msi.cache_key([a, _msi.PackageFile(r"payload\y", 2, "cc")])


def test_not_an_msi_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a Windows Installer package"):
        _msi.read_msi(b"MZ this is not an msi")


def test_shlex_is_not_how_arguments_travel() -> None:
    # A value that a shell would split stays one argument.
    args = _msi.msiexec_arguments("install", "x.msi", "l.log", {"P": "a b; rm -rf /"})
    assert args[-1] == "P=a b; rm -rf /"
    assert len(shlex.split(args[-1])) > 1
