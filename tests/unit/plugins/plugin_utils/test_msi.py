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
        "MSIRESTARTMANAGERCONTROL=Disable",
        "A=1",
        "B=1",
        "TRANSFORMS=a.mst;b.mst",
    ]


hostile = st.text(alphabet=st.sampled_from([*list("ab \"';$()`\n\r\t&|<>%^!\\{}[]"), "ä", "€"]), max_size=40)


@given(value=hostile)
def test_property_values_pass_literally(value: str) -> None:
    args = _msi.msiexec_arguments("install", "x.msi", "l.log", {"PROP": value})
    assert args[-1] == f"PROP={value}"
    assert len(args) == 8  # one element, whatever the value holds


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


# -- url and checksum ------------------------------------------------------------------------------------------
DIGEST = "0123456789abcdef" * 4


@pytest.mark.parametrize("value", [f"sha256:{DIGEST}", f"SHA256:{DIGEST.upper()}", DIGEST, f"  sha256: {DIGEST} "])
def test_checksum_forms_accepted(value: str) -> None:
    assert _msi.parse_checksum(value) == DIGEST


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("md5:" + "a" * 32, "only SHA-256 is accepted, as sha256:<64 hex digits>.*got algorithm 'md5'"),
        ("sha1:" + "a" * 40, "only SHA-256 is accepted.*'sha1'"),
        ("sha512:" + "a" * 128, "only SHA-256 is accepted.*'sha512'"),
        ("a" * 40, r"checksum must be sha256:<64 hex digits> \(or the 64 hex digits alone\).*\(40 characters\)"),
        ("sha256:" + "g" * 64, "checksum must be sha256:<64 hex digits>"),
        ("", "checksum must be sha256:<64 hex digits>"),
    ],
)
def test_other_checksums_refused_naming_the_accepted_form(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _msi.parse_checksum(value)


def test_package_url_fields_and_cache_key() -> None:
    package = _msi.package_url("HTTPS://Packages.example.com:8443/a/Suite%209.3.1.ZIP?sig=x", DIGEST)
    assert package.kind == ".zip"
    assert package.file_name == "Suite 9.3.1.ZIP"
    assert package.sha256 == DIGEST
    assert package.cache_key == "url-" + DIGEST[:16]
    odd = _msi.package_url("https://h/%E2%82%AC%3Cx%3E.msi", DIGEST)
    assert (odd.kind, odd.file_name) == (".msi", "package.msi")  # a name Windows might not take


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h/x.msi", "url must be an https:// URL .*got scheme 'http'"),
        ("ftp://h/x.msi", "got scheme 'ftp'"),
        ("\\\\share\\x.msi", "got scheme 'none'"),
        ("https:///x.msi", "url has no host name"),
        ("https://user:secret@h/x.msi", "must not carry credentials"),
        ("https://h/x.exe", "url must name a .msi file, or a .zip"),
        ("https://h/", "url must name a .msi file"),
        ("https://h:99999/x.msi", "url: not a URL"),
    ],
)
def test_bad_urls_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _msi.package_url(url, DIGEST)


def test_locate_msi_in_a_download() -> None:
    bare = _msi.package_url("https://h/Suite.msi", DIGEST)
    assert _msi.locate_msi(bare, ["Suite.msi"]) == ("Suite.msi", ["Suite.msi"])
    flat = _msi.package_url("https://h/s.zip", DIGEST)
    files = ["Suite.msi", r"payload\a.dll"]
    assert _msi.locate_msi(flat, files) == ("Suite.msi", files)
    top = [r"suite\Suite.MSI", r"suite\payload\a.dll"]
    assert _msi.locate_msi(flat, top) == (r"suite\Suite.MSI", ["Suite.MSI", r"payload\a.dll"])
    with pytest.raises(ValueError, match=r"exactly one \.msi .* found 2: a.msi, b.msi"):
        _msi.locate_msi(flat, ["a.msi", "b.msi"])
    with pytest.raises(ValueError, match="found 0"):
        _msi.locate_msi(flat, [r"one\x.msi", r"two\y.msi"])  # two top folders: which package?


def test_payload_from_com_rows_matches_the_rules() -> None:
    tables = {
        "Directory": [
            {"Directory": "TARGETDIR", "Directory_Parent": "", "DefaultDir": "SourceDir"},
            {"Directory": "APP", "Directory_Parent": "TARGETDIR", "DefaultDir": "APP~1|App:payload"},
            {"Directory": "BIN", "Directory_Parent": "APP", "DefaultDir": "bin"},
        ],
        "Component": [{"Component": "C", "Directory_": "APP"}, {"Component": "B", "Directory_": "BIN"}],
        "File": [
            {"FileName": "LOOSE~1.DLL|Loose.dll", "Component_": "C", "Attributes": "8192"},  # noncompressed
            {"FileName": "packed.dll", "Component_": "C", "Attributes": "16384"},  # compressed
            {"FileName": "default.dll", "Component_": "B", "Attributes": ""},  # package default
        ],
        "Media": [{"Cabinet": "data1.cab"}, {"Cabinet": "#embedded.cab"}, {"Cabinet": ""}],
    }
    assert _msi.payload_from_tables(0, tables) == ["data1.cab", r"payload\bin\default.dll", r"payload\Loose.dll"]
    assert _msi.payload_from_tables(_msi.WORDCOUNT_COMPRESSED, tables) == ["data1.cab", r"payload\Loose.dll"]
    assert _msi.payload_from_tables(0, {}) == []


def test_payload_read_here_and_on_the_host_agree(built_packages) -> None:
    from lab.primitives.msi import payload_rows

    data = (built_packages / "machine-9.3.0" / "ExampleOfficeSuite.msi").read_bytes()
    rows = payload_rows(data)
    assert _msi.payload_from_tables(rows["word_count"], rows["tables"]) == _msi.read_msi(data).payload
    assert _msi.read_msi(data).payload == [
        r"payload\ExampleSuite.AddIn.dll",
        r"payload\ExampleSuite.Core.dll",
        r"payload\manifest.xml",
    ]


@pytest.mark.parametrize(
    ("bound", "value", "message"),
    [
        ("MAX_MSI_BYTES", 1000, "bytes, over the 1,000 it can have"),
        ("MAX_MSI_STREAMS", 3, "streams, over 3"),
        ("MAX_MSI_METADATA_STREAM_BYTES", 64, "metadata stream of"),
    ],
)
def test_a_package_over_a_bound_fails_before_the_parser_reads_it(
    built_packages, monkeypatch: pytest.MonkeyPatch, bound: str, value: int, message: str
) -> None:
    # The bounds are far above any real package; lowered here, a real package stands in for a hostile one.
    import pymsi

    path = built_packages / "machine-9.3.0" / "ExampleOfficeSuite.msi"
    monkeypatch.setattr(_msi, bound, value)
    monkeypatch.setattr(pymsi, "Package", lambda *a, **k: pytest.fail("the parser ran"))
    with pytest.raises(ValueError, match=message):
        _msi.read_msi(path)


def test_a_path_and_its_bytes_read_the_same(built_packages) -> None:
    path = built_packages / "machine-9.3.0" / "ExampleOfficeSuite.msi"
    assert _msi.read_msi(path) == _msi.read_msi(path.read_bytes())


def test_the_lab_reads_every_package_as_the_controller_does(built_packages) -> None:
    """The lab's msiexec reads a package with its own code (lab/host/msipackage.py), the independent check
    on _msi.read_msi: on every test package both find the same facts and the same payload files."""
    import hashlib

    from lab.host.msipackage import parse_msi

    folders = sorted(p for p in built_packages.iterdir() if p.is_dir() and any(p.glob("*.msi")))
    assert {f.name.split("-")[0] for f in folders} == {"machine", "user"}
    for folder in folders:
        data = next(folder.glob("*.msi")).read_bytes()
        controller = _msi.read_msi(data)
        lab = parse_msi(data, hashlib.sha256(data).hexdigest())
        assert controller.product_code == lab.product_code.upper()
        assert controller.upgrade_code == lab.upgrade_code.upper()
        assert (controller.product_version, controller.product_name) == (lab.product_version, lab.product_name)
        for name in ("ALLUSERS", "MSIINSTALLPERUSER"):
            assert controller.properties.get(name) == lab.properties.get(name)
        beside = {f.source_relpath for f in lab.files if f.source_relpath}
        beside |= {f.cabinet for f in lab.files if f.cabinet and not f.cabinet.startswith("#")}
        assert controller.payload == sorted(beside, key=str.lower)
        assert controller.payload
