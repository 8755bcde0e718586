"""The lab's HTTPS package server (lab/downloads.py) and the host side of a download (Save-PackageUrl)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import ssl
import urllib.error
import urllib.request
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from lab import collection
from lab.downloads import DownloadServer, server_context
from lab.host.certstore import ROOT_STORE, trust_root, trusted_roots, untrust_root
from lab.primitives import core
from lab.testing import start_test_fleet
from lab.tls import LabCA

winhost = collection.winhost()
CACHE = "C:\\ProgramData\\rollout.windows\\cache\\url-test"


@pytest.fixture
def ca(tmp_path: Path) -> LabCA:
    return LabCA(tmp_path / "ca")


@pytest.fixture
def site(tmp_path: Path, msi_packages: dict[str, dict[str, str]]) -> Path:
    """A published directory: a bare .msi, a zip of a package folder, a zip that escapes, a symlink out."""
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    info = msi_packages["machine-9.3.0"]
    (root / "suite.msi").write_bytes(Path(info["msi"]).read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(info["msi"], "suite-9.3.0/ExampleOfficeSuite.msi")
        for item in sorted(Path(info["payload"]).iterdir()):
            archive.write(item, f"suite-9.3.0/payload/{item.name}")
    (root / "sub" / "suite.zip").write_bytes(buffer.getvalue())
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", b"x")
    (root / "evil.zip").write_bytes(evil.getvalue())
    (tmp_path / "secret.txt").write_text("not for you")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve(
    ca: LabCA, root: Path, scenario: Callable[[DownloadServer], Awaitable[Any]], server_ca: LabCA | None = None
) -> Any:
    """Run ``scenario`` with a download server for ``root`` on a fresh event loop (the host shares the loop)."""

    async def main() -> Any:
        server = DownloadServer(root, server_context(server_ca or ca))
        await server.start()
        try:
            return await scenario(server)
        finally:
            await server.close()

    return asyncio.run(main())


def http(ca: LabCA, method: str, url: str) -> tuple[int, dict[str, str], bytes]:
    ctx = ssl.create_default_context(cafile=str(ca.ca_path))
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- the server ------------------------------------------------------------------------------------------------
def test_server_serves_files_read_only_and_counts(ca: LabCA, site: Path) -> None:
    async def scenario(server: DownloadServer) -> dict[str, Any]:
        def client() -> dict[str, Any]:
            base = server.url
            return {
                "get": http(ca, "GET", base + "sub/suite.zip"),
                "localhost": http(ca, "GET", base.replace("127.0.0.1", "localhost") + "suite.msi")[0],
                "head": http(ca, "HEAD", base + "suite.msi"),
                "post": http(ca, "POST", base + "suite.msi"),
                "missing": http(ca, "GET", base + "nothing.msi")[0],
                "dir": http(ca, "GET", base + "sub")[0],
                "root": http(ca, "GET", base)[0],
                "dotdot": http(ca, "GET", base + "sub/%2e%2e/suite.msi")[0],
                "backslash": http(ca, "GET", base + "sub%5csuite.zip")[0],
                "symlink": http(ca, "GET", base + "link.txt")[0],
            }

        out = await asyncio.to_thread(client)
        out["requests"] = dict(server.requests)
        out["bytes"] = dict(server.bytes_sent)
        return out

    out = serve(ca, site, scenario)
    status, headers, body = out["get"]
    assert status == 200
    assert body == (site / "sub" / "suite.zip").read_bytes()
    assert headers["Content-Length"] == str(len(body))
    assert out["localhost"] == 200  # the certificate names localhost and 127.0.0.1
    status, headers, body = out["head"]
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str((site / "suite.msi").stat().st_size)
    assert out["post"][0] == 405
    assert out["post"][1]["Allow"] == "GET, HEAD"
    assert [out[k] for k in ("missing", "dir", "root", "dotdot", "backslash", "symlink")] == [404] * 6
    assert out["requests"]["GET /sub/suite.zip"] == 1
    sizes = {
        "/sub/suite.zip": (site / "sub" / "suite.zip").stat().st_size,
        "/suite.msi": (site / "suite.msi").stat().st_size,
    }
    assert out["bytes"] == sizes  # the GET through localhost; HEAD sends no body


def test_server_needs_an_existing_directory(ca: LabCA, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        DownloadServer(tmp_path / "nope", server_context(ca))


# -- the host's root store ---------------------------------------------------------------------------------------
def test_root_store_holds_der_in_serialized_blobs(kit: Any, ca: LabCA) -> None:
    host = kit.host()
    assert trusted_roots(host) == []
    thumbprint = trust_root(host, ca.ca_path.read_bytes())
    blob = host.registry.get(f"{ROOT_STORE}\\{thumbprint}", "Blob")
    der = ssl.PEM_cert_to_DER_cert(ca.ca_path.read_text())
    assert thumbprint == hashlib.sha1(der).hexdigest().upper()
    assert blob.endswith(der)
    assert trusted_roots(host) == [der]
    assert untrust_root(host, thumbprint.lower())
    assert trusted_roots(host) == []


# -- Save-PackageUrl ---------------------------------------------------------------------------------------------
async def call(host: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run a primitive on the running loop, as the WinRM server does, and parse it as the controller does."""
    rc, out, err = await core.run(host, name, args, host.username)
    return winhost.parse_output(name, rc, out, err)


def save_args(url: str, sha256: str, file_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "sha256": sha256,
        "directory": CACHE,
        "file_name": file_name,
        "expand": file_name.endswith(".zip"),
        "timeout_seconds": 30,
        "max_bytes": 10_000_000,
        **extra,
    }


def test_msi_download_is_verified_cached_and_not_repeated(kit: Any, ca: LabCA, site: Path) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer) -> tuple[dict[str, Any], ...]:
        args = save_args(server.url + "suite.msi", sha(site / "suite.msi"), "suite.msi")
        looked = await call(host, "Save-PackageUrl", {**args, "check_only": True})
        first = await call(host, "Save-PackageUrl", args)
        again = await call(host, "Save-PackageUrl", args)
        return looked, first, again, dict(server.requests)

    looked, first, again, requests = serve(ca, site, scenario)
    # A fresh 5.1 without the .NET registry opt-ins starts at "Ssl3, Tls": the primitive leaves TLS 1.2 only.
    tls = {"security_protocol": "Tls12"}
    assert looked == {"present": False, "downloaded": False, "folder": CACHE, "files": [], **tls}
    assert first == {"present": True, "downloaded": True, "folder": CACHE, "files": ["suite.msi"], **tls}
    assert again["downloaded"] is False
    assert again["present"] is True
    assert requests == {"GET /suite.msi": 1}
    assert host.files.sha256(CACHE + "\\suite.msi") == sha(site / "suite.msi")
    assert host.counters["downloads"] == 1
    assert host.counters["download_bytes"] == (site / "suite.msi").stat().st_size


def test_zip_is_expanded_and_facts_read_there(kit: Any, ca: LabCA, site: Path) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())
    digest = sha(site / "sub" / "suite.zip")

    async def scenario(server: DownloadServer) -> tuple[dict[str, Any], dict[str, Any]]:
        saved = await call(host, "Save-PackageUrl", save_args(server.url + "sub/suite.zip", digest, "suite.zip"))
        download = _msi.package_url(server.url + "sub/suite.zip", digest)
        msi, _beside = _msi.locate_msi(download, saved["files"])
        facts = await call(host, "Get-MsiProperty", {"path": saved["folder"] + "\\" + msi, "payload": True})
        return saved, facts

    saved, facts = serve(ca, site, scenario)
    assert saved["folder"] == CACHE + "\\package"
    assert sorted(saved["files"]) == [
        "suite-9.3.0\\ExampleOfficeSuite.msi",
        "suite-9.3.0\\payload\\ExampleSuite.AddIn.dll",
        "suite-9.3.0\\payload\\ExampleSuite.Core.dll",
        "suite-9.3.0\\payload\\manifest.xml",
    ]
    assert host.files.is_file(CACHE + "\\suite.zip")
    assert not host.files.exists(CACHE + "\\suite.zip.partial")
    # The rows the host returns give the controller the same payload list as reading the .msi itself.
    controller = _msi.read_msi((site / "suite.msi").read_bytes())
    assert _msi.payload_from_tables(facts["word_count"], facts["tables"]) == controller.payload
    assert controller.payload  # the test package does need its payload folder
    assert facts["ProductVersion"] == "9.3.0"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("mismatch", "checksum mismatch for https://127.0.0.1:{port}/suite.msi: expected sha256:{zeros}, got sha256:"),
        ("untrusted", "The remote certificate is invalid according to the validation procedure."),
        ("too_big", "the download is larger than 1000 bytes"),
        ("missing", "The remote server returned an error: (404) Not Found."),
        ("name", "The remote name could not be resolved: 'packages.example.com'"),
        ("address", "established connection failed because connected host has failed to respond 10.1.2.3:443"),
    ],
)
def test_failed_downloads_leave_nothing_behind(kit: Any, ca: LabCA, site: Path, case: str, message: str) -> None:
    host = kit.host()
    other = LabCA(site.parent / "other-ca")
    trust_root(host, ca.ca_path.read_bytes())
    zeros = "0" * 64

    async def scenario(server: DownloadServer) -> str:
        url = server.url + "suite.msi"
        args = save_args(url, sha(site / "suite.msi"), "suite.msi")
        if case == "mismatch":
            args["sha256"] = zeros
        elif case == "too_big":
            args["max_bytes"] = 1000
        elif case == "missing":
            args["url"] = server.url + "other.msi"
        elif case == "name":
            args["url"] = "https://packages.example.com/suite.msi"
        elif case == "address":
            args["url"] = "https://10.1.2.3/suite.msi"
        with pytest.raises(winhost.PrimitiveError) as failure:
            await call(host, "Save-PackageUrl", args)
        return failure.value.msg.replace(str(server.port), "{port}")

    msg = serve(ca, site, scenario, server_ca=other if case == "untrusted" else None)
    assert message.format(port="{port}", zeros=zeros) in msg
    assert msg.startswith(("checksum mismatch", "download of https://"))
    assert not host.files.exists(CACHE)
    assert host.counters.get("downloads", 0) == (1 if case == "mismatch" else 0)


def test_zip_entry_outside_the_folder_is_refused(kit: Any, ca: LabCA, site: Path) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer) -> str:
        args = save_args(server.url + "evil.zip", sha(site / "evil.zip"), "evil.zip")
        with pytest.raises(winhost.PrimitiveError) as failure:
            await call(host, "Save-PackageUrl", args)
        return failure.value.msg

    assert "Can not process invalid archive entry '../outside.txt'" in serve(ca, site, scenario)
    assert not host.files.exists(CACHE + "\\package")
    assert not host.files.exists("C:\\ProgramData\\rollout.windows\\cache\\outside.txt")


def test_a_zip_that_expands_beyond_the_bound_writes_nothing(kit: Any, ca: LabCA, site: Path) -> None:
    # A zip bomb in miniature: 64 KB that expands to 4 MB, against a 1 MB bound.
    bomb = site / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ExampleOfficeSuite.msi", b"\0" * (4 * 1024 * 1024))
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer) -> str:
        args = save_args(server.url + "bomb.zip", sha(bomb), "bomb.zip", max_bytes=1024 * 1024)
        with pytest.raises(winhost.PrimitiveError) as failure:
            await call(host, "Save-PackageUrl", args)
        return failure.value.msg

    assert f"expands to {4 * 1024 * 1024} bytes, over {1024 * 1024}" in serve(ca, site, scenario)
    assert not host.files.exists(CACHE + "\\package")


# -- the fleet ---------------------------------------------------------------------------------------------------
def test_fleet_serves_downloads_and_hosts_trust_its_ca(tmp_path: Path, site: Path) -> None:
    fleet = start_test_fleet(tmp_path / "fleet", clients=1, servers=0, downloads_dir=site)
    try:
        url = fleet.fleet.download_url
        inventory = yaml.safe_load((tmp_path / "fleet" / "inventory.yml").read_text())
        assert inventory["all"]["vars"]["lab_download_url"] == url
        assert json.loads((tmp_path / "fleet" / "state" / "lab.json").read_text())["download_url"] == url
        assert http(fleet.fleet.ca, "GET", url + "suite.msi")[0] == 200
        host = fleet.fleet.hosts["client-0001"].host
        roots = fleet.run_sync(lambda: trusted_roots(host))
        assert roots == [ssl.PEM_cert_to_DER_cert(fleet.fleet.ca.ca_path.read_text())]
    finally:
        fleet.stop()
    with pytest.raises(ValueError, match="downloads directory does not exist"):
        start_test_fleet(tmp_path / "fleet2", clients=1, servers=0, downloads_dir=tmp_path / "nope")
