"""msi_package url=... over real WinRM: the lab host downloads from the lab's HTTPS package server."""

from __future__ import annotations

import hashlib
import shutil
import typing as t
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.control import ControlClient, ControlError
from lab.downloads import DownloadServer, server_context
from lab.fleet import FleetThread
from lab.msi import MSI_NAME
from lab.testing import start_test_fleet
from lab.tls import LabCA

# conftest.py's TIME_SCALE: this module starts its own fleet, with the package server.
TIME_SCALE = 120.0
CACHE = "C:\\ProgramData\\rollout.windows\\cache"
INSTALL = """
- name: install
  rollout.windows.msi_package:
    url: "{{ url if url is defined else lab_download_url + file }}"
    checksum: "{{ checksum }}"
    product_code: "{{ product_code | default(omit) }}"
    version: "{{ version | default(omit) }}"
"""


def zip_package(folder: Path, dest: Path, top: str | None = None) -> str:
    """Zip a package folder (the .msi and its payload folder) as a web server would publish it.

    ``top`` puts everything inside one top folder, as ``zip -r x.zip folder`` does. Returns
    the zip's checksum in the module's format.
    """
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                relative = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{relative}" if top else relative)
    return checksum(dest)


def checksum(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> dict[str, str]:
    """Published files and their checksums: two zips (with and without a top folder) and a bare .msi."""
    root = tmp_path_factory.mktemp("site")
    sums = {
        "suite-9.3.0.zip": zip_package(packages / "machine-9.3.0", root / "suite-9.3.0.zip", top="suite-9.3.0"),
        "suite-9.3.1.zip": zip_package(packages / "machine-9.3.1", root / "suite-9.3.1.zip"),
    }
    shutil.copy(packages / "machine-9.3.0" / MSI_NAME, root / MSI_NAME)
    sums[MSI_NAME] = checksum(root / MSI_NAME)
    return {"root": str(root), **sums}


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory, site: dict[str, str]) -> Iterator[FleetThread]:
    """This module's fleet: four clients and the lab's HTTPS package server for ``site``."""
    running = start_test_fleet(
        tmp_path_factory.mktemp("fleet"), time_scale=TIME_SCALE, servers=0, downloads_dir=Path(site["root"])
    )
    try:
        yield running
    finally:
        running.stop()


def machine_versions(control: ControlClient, host: str) -> list[str]:
    return [p["version"] for p in control.host(host)["products"] if p["scope"] == "machine"]


def exists(control: ControlClient, host: str, path: str) -> bool:
    try:
        control.file(host, path)
    except ControlError as exc:
        if exc.status != 404:
            raise
        return False
    return True


def cache_folder(site: dict[str, str], name: str) -> str:
    return f"{CACHE}\\url-{site[name].removeprefix('sha256:')[:16]}"


def url_vars(fleet: FleetThread, site: dict[str, str], name: str, **extra: t.Any) -> dict[str, t.Any]:
    """The package ``name`` on the fleet's server, through the inventory's lab_download_url."""
    return {"file": name, "checksum": site[name], **extra}


def test_install_from_zip_then_rerun_without_downloading(ansible, control, clients, fleet, site) -> None:
    host = clients[0]
    first = ansible.playbook(INSTALL, hosts=host, extra_vars=url_vars(fleet, site, "suite-9.3.0.zip"))
    result = first.result(host, "install")
    assert result["_status"] == "changed", first.stdout
    assert result["action"] == "install"
    assert result["downloaded"] is True
    assert machine_versions(control, host) == ["9.3.0"]
    # Save-PackageUrl, Get-MsiProperty, Get-InstalledProduct, Invoke-Msiexec.
    assert result["winrm"]["commands"] == 4
    assert control.counters(host)["downloads"] == 1
    zip_state = control.file(host, cache_folder(site, "suite-9.3.0.zip") + "\\suite-9.3.0.zip")
    assert "sha256:" + zip_state["sha256"] == site["suite-9.3.0.zip"]

    before = control.counters(host)
    again = ansible.playbook(INSTALL, hosts=host, extra_vars=url_vars(fleet, site, "suite-9.3.0.zip"))
    rerun = again.result(host, "install")
    assert rerun["_status"] == "ok", again.stdout
    assert rerun["downloaded"] is False
    # The cache had it: Save-PackageUrl only hashes it, then the facts and the installed products.
    assert rerun["winrm"]["commands"] == 3
    assert control.counters(host)["commands"] - before["commands"] == 3
    assert control.counters(host)["downloads"] == 1
    assert fleet.fleet.downloads.requests["GET /suite-9.3.0.zip"] == 1

    # With the facts given, a host that has the version costs one command and never looks at the URL.
    code = control.host(host)["products"][0]["product_code"]
    known = ansible.playbook(
        INSTALL, hosts=host, extra_vars=url_vars(fleet, site, "suite-9.3.0.zip", product_code=code, version="9.3.0")
    )
    assert known.result(host, "install")["_status"] == "ok"
    assert known.result(host, "install")["winrm"]["commands"] == 1

    # A zip without a top folder upgrades the same way.
    upgrade = ansible.playbook(INSTALL, hosts=host, extra_vars=url_vars(fleet, site, "suite-9.3.1.zip"))
    assert upgrade.result(host, "install")["action"] == "upgrade", upgrade.stdout
    assert machine_versions(control, host) == ["9.3.1"]


def test_facts_given_decide_before_downloading(ansible, control, clients, fleet, site, *, packages: Path) -> None:
    host = clients[1]
    code = _product_code(packages, "machine-9.3.1")
    extra = url_vars(fleet, site, "suite-9.3.1.zip", product_code=code, version="9.3.1")
    run = ansible.playbook(INSTALL, hosts=host, extra_vars=extra)
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    # Get-InstalledProduct, Save-PackageUrl, Get-MsiProperty (payload check), Invoke-Msiexec.
    assert result["winrm"]["commands"] == 4
    assert machine_versions(control, host) == ["9.3.1"]
    rerun = ansible.playbook(INSTALL, hosts=host, extra_vars=extra).result(host, "install")
    assert (rerun["_status"], rerun["winrm"]["commands"], rerun["downloaded"]) == ("ok", 1, False)

    wrong = ansible.playbook(INSTALL, hosts=clients[2], extra_vars={**extra, "version": "9.3.0"}).result(
        clients[2], "install"
    )
    assert wrong["_status"] == "failed"
    assert "version 9.3.0 does not match the package" in wrong["msg"]
    assert machine_versions(control, clients[2]) == []


def test_wrong_checksum_fails_and_leaves_nothing(ansible, control, clients, fleet, site) -> None:
    host = clients[2]
    wrong = "sha256:" + "ab" * 32
    run = ansible.playbook(
        INSTALL, hosts=host, extra_vars={"url": fleet.fleet.download_url + "suite-9.3.0.zip", "checksum": wrong}
    )
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    actual = site["suite-9.3.0.zip"].removeprefix("sha256:")
    assert f"expected sha256:{'ab' * 32}, got sha256:{actual}" in result["msg"]
    assert machine_versions(control, host) == []
    assert control.counters(host).get("primitive:Invoke-Msiexec", 0) == 0
    assert not exists(control, host, f"{CACHE}\\url-{'ab' * 8}")


def test_http_is_refused_before_touching_the_host(ansible, control, clients, fleet, site) -> None:
    host = clients[3]
    before = control.counters(host)["commands"]
    url = fleet.fleet.download_url.replace("https://", "http://") + "suite-9.3.0.zip"
    run = ansible.playbook(INSTALL, hosts=host, extra_vars={"url": url, "checksum": site["suite-9.3.0.zip"]})
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "url must be an https:// URL" in result["msg"]
    assert control.counters(host)["commands"] == before

    md5 = ansible.playbook(
        INSTALL, hosts=host, extra_vars={"url": url.replace("http://", "https://"), "checksum": "md5:" + "a" * 32}
    ).result(host, "install")
    assert "only SHA-256 is accepted, as sha256:<64 hex digits>" in md5["msg"]
    assert control.counters(host)["commands"] == before


def test_untrusted_certificate_fails_saying_so(ansible, control, clients, fleet, tmp_path: Path) -> None:
    host = clients[3]
    root = fleet.fleet.downloads.root
    site = {"suite-9.3.0.zip": checksum(root / "suite-9.3.0.zip")}
    # The same files on a server whose certificate comes from a CA the hosts do not trust.
    rogue = DownloadServer(root, server_context(LabCA(tmp_path / "rogue-ca")))
    fleet.call(rogue.start())
    try:
        run = ansible.playbook(
            INSTALL, hosts=host, extra_vars={"url": rogue.url + "suite-9.3.0.zip", "checksum": site["suite-9.3.0.zip"]}
        )
    finally:
        fleet.call(rogue.close())
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    assert "The remote certificate is invalid according to the validation procedure" in result["msg"]
    assert "does not trust the server's certificate" in result["msg"]
    assert machine_versions(control, host) == []
    assert not exists(control, host, cache_folder(site, "suite-9.3.0.zip"))


def test_bare_msi_that_needs_its_payload_folder_fails_naming_the_files(ansible, control, clients, fleet, site) -> None:
    host = clients[3]
    run = ansible.playbook(INSTALL, hosts=host, extra_vars=url_vars(fleet, site, MSI_NAME))
    result = run.result(host, "install")
    assert result["_status"] == "failed"
    for name in ("payload\\ExampleSuite.AddIn.dll", "payload\\ExampleSuite.Core.dll", "payload\\manifest.xml"):
        assert name in result["msg"]
    assert "publish the package folder as a .zip" in result["msg"]
    assert control.counters(host).get("primitive:Invoke-Msiexec", 0) == 0
    assert machine_versions(control, host) == []


def test_check_mode_changes_nothing(ansible, control, clients, fleet, site, *, packages: Path) -> None:
    host = clients[2]
    downloads = control.counters(host).get("downloads", 0)
    run = ansible.playbook(
        INSTALL, hosts=host, check=True, diff=True, extra_vars=url_vars(fleet, site, "suite-9.3.0.zip")
    )
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["downloaded"] is False
    assert "not in the host's package cache yet" in run.stdout  # the warning
    code = _product_code(packages, "machine-9.3.1")
    exact = ansible.playbook(
        INSTALL,
        hosts=host,
        check=True,
        extra_vars=url_vars(fleet, site, "suite-9.3.1.zip", product_code=code, version="9.3.1"),
    ).result(host, "install")
    assert (exact["_status"], exact["action"]) == ("changed", "install")
    assert control.counters(host).get("downloads", 0) == downloads
    assert control.counters(host).get("primitive:Invoke-Msiexec", 0) == 0
    assert not exists(control, host, cache_folder(site, "suite-9.3.0.zip"))
    assert machine_versions(control, host) == []


def _product_code(packages: Path, name: str) -> str:
    """The package's own ProductCode, read on the controller: no test needs another to have installed it."""
    from ansible_collections.rollout.windows.plugins.plugin_utils import _msi

    return _msi.read_msi((packages / name / MSI_NAME).read_bytes()).product_code


def test_role_installs_from_url_and_verifies(ansible, control, clients, fleet, site) -> None:
    host = clients[3]
    role = """
- name: role
  ansible.builtin.include_role:
    name: rollout.windows.msi_install
  vars:
    msi_install_url: "{{ lab_download_url }}suite-9.3.1.zip"
    msi_install_checksum: "{{ checksum }}"
    office_gate_interval: 1
    office_gate_force: true
    office_gate_deadline: 5
"""
    run = ansible.playbook(role, hosts=host, extra_vars={"checksum": site["suite-9.3.1.zip"]})
    assert run.rc == 0, run.stdout
    installed = run.result(
        host,
        "rollout.windows.msi_install : Install, upgrade or remove the package",
    )
    assert installed["_status"] == "changed"
    assert installed["downloaded"] is True
    assert installed["verified"]["found"] == ["9.3.1"]
    assert machine_versions(control, host) == ["9.3.1"]
