"""msi_package url=... where the hosts reach web servers only through a proxy, and where a server redirects.

Real ansible-playbook over real WinRM; the lab hosts' network lets web traffic out only through the lab's
CONNECT proxy (lab.downloads.ConnectProxy), as on networks where the firewall blocks direct access.
"""

from __future__ import annotations

import hashlib
import typing as t
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.control import ControlClient
from lab.downloads import ConnectProxy
from lab.fleet import FleetThread
from lab.primitives.download import set_network
from lab.testing import start_test_fleet

TIME_SCALE = 120.0
ZIP = "suite-9.3.0.zip"
INSTALL = """
- name: install
  rollout.windows.msi_package:
    url: "{{ lab_download_url }}{{ file }}"
    checksum: "{{ checksum }}"
    proxy: "{{ proxy | default(omit) }}"
    proxy_use_default_credentials: "{{ use_credentials | default(false) }}"
"""


def checksum(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> dict[str, str]:
    """The package folder as a zip (the .msi needs its payload folder beside it)."""
    root = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(root / ZIP, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((packages / "machine-9.3.0").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(packages / "machine-9.3.0").as_posix())
    return {"root": str(root), ZIP: checksum(root / ZIP)}


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory, site: dict[str, str]) -> Iterator[FleetThread]:
    running = start_test_fleet(
        tmp_path_factory.mktemp("fleet"), time_scale=TIME_SCALE, servers=0, downloads_dir=Path(site["root"])
    )
    try:
        # Every client may reach web servers only through a proxy.
        for fh in running.fleet.hosts.values():
            running.run_sync(lambda host=fh.host: set_network(host, direct=False))
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxy(fleet: FleetThread) -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    fleet.call(server.start())
    try:
        yield server
    finally:
        fleet.call(server.close())


@pytest.fixture
def strict_proxy(fleet: FleetThread) -> Iterator[ConnectProxy]:
    server = ConnectProxy(require_auth=True)
    fleet.call(server.start())
    try:
        yield server
    finally:
        fleet.call(server.close())


@dataclass
class Lab:
    ansible: t.Any
    control: ControlClient
    clients: list[str]
    fleet: FleetThread
    site: dict[str, str]


@pytest.fixture
def lab(ansible: t.Any, control: ControlClient, clients: list[str], fleet: FleetThread, site: dict[str, str]) -> Lab:
    return Lab(ansible, control, clients, fleet, site)


def machine_versions(control: ControlClient, host: str) -> list[str]:
    return [p["version"] for p in control.host(host)["products"] if p["scope"] == "machine"]


def test_direct_fails_and_the_proxy_option_gets_through(lab: Lab, proxy: ConnectProxy) -> None:
    ansible, control, clients, fleet, site = lab.ansible, lab.control, lab.clients, lab.fleet, lab.site
    host = clients[0]
    extra: dict[str, t.Any] = {"file": ZIP, "checksum": site[ZIP]}
    direct = ansible.playbook(INSTALL, hosts=host, extra_vars=extra).result(host, "install")
    assert direct["_status"] == "failed"
    assert "failed to respond" in direct["msg"]
    assert fleet.fleet.downloads.requests[f"GET /{ZIP}"] == 0
    assert machine_versions(control, host) == []

    run = ansible.playbook(INSTALL, hosts=host, extra_vars={**extra, "proxy": proxy.url})
    result = run.result(host, "install")
    assert result["_status"] == "changed", run.stdout
    assert result["downloaded"] is True
    assert machine_versions(control, host) == ["9.3.0"]
    assert sum(proxy.tunnels.values()) == 1
    assert fleet.fleet.downloads.requests[f"GET /{ZIP}"] == 1


def test_a_proxy_that_wants_credentials_fails_naming_the_double_hop(lab: Lab, strict_proxy: ConnectProxy) -> None:
    ansible, control, clients, site = lab.ansible, lab.control, lab.clients, lab.site
    host = clients[1]
    extra = {"file": ZIP, "checksum": site[ZIP], "proxy": strict_proxy.url, "use_credentials": True}
    result = ansible.playbook(INSTALL, hosts=host, extra_vars=extra).result(host, "install")
    assert result["_status"] == "failed"
    assert "(407) Proxy Authentication Required" in result["msg"]
    assert "double hop" in result["msg"]
    assert sum(strict_proxy.refused.values()) == 1
    assert machine_versions(control, host) == []


def test_proxy_needs_url_and_holds_no_credentials(lab: Lab) -> None:
    ansible, control, clients, site = lab.ansible, lab.control, lab.clients, lab.site
    host = clients[1]
    before = control.counters(host)["commands"]
    secret = ansible.playbook(
        INSTALL,
        hosts=host,
        extra_vars={"file": ZIP, "checksum": site[ZIP], "proxy": "http://me:Secret1@127.0.0.1:3128"},
    ).result(host, "install")
    assert secret["_status"] == "failed"
    assert "proxy must not hold credentials" in secret["msg"]
    assert "Secret1" not in secret["msg"]
    alone = ansible.playbook(
        "- name: install\n  rollout.windows.msi_package:\n    path: C:\\x.msi\n    proxy: http://127.0.0.1:3128\n",
        hosts=host,
    ).result(host, "install")
    assert alone["_status"] == "failed"
    assert "proxy" in alone["msg"]
    assert "url" in alone["msg"]
    assert control.counters(host)["commands"] == before


def test_a_redirect_is_refused_with_the_advice_to_give_the_final_url(lab: Lab, proxy: ConnectProxy) -> None:
    ansible, control, clients, fleet, site = lab.ansible, lab.control, lab.clients, lab.fleet, lab.site
    host = clients[2]
    downloads = fleet.fleet.downloads
    fleet.run_sync(lambda: downloads.redirect("/moved.zip", "http://127.0.0.1:8080/elsewhere/suite.zip"))
    extra = {"file": "moved.zip", "checksum": site[ZIP], "proxy": proxy.url}
    result = ansible.playbook(INSTALL, hosts=host, extra_vars=extra).result(host, "install")
    assert result["_status"] == "failed"
    assert "the server redirects (302) to http://127.0.0.1:8080/" in result["msg"]
    assert "give the final URL" in result["msg"]
    assert downloads.requests["GET /moved.zip"] == 1
    assert machine_versions(control, host) == []


def test_role_threads_the_proxy_through(lab: Lab, proxy: ConnectProxy) -> None:
    ansible, control, clients, site = lab.ansible, lab.control, lab.clients, lab.site
    host = clients[3]
    role = """
- name: role
  ansible.builtin.include_role:
    name: rollout.windows.msi_install
  vars:
    msi_install_url: "{{ lab_download_url }}{{ file }}"
    msi_install_checksum: "{{ checksum }}"
    msi_install_proxy: "{{ proxy }}"
    office_gate_interval: 1
    office_gate_force: true
    office_gate_deadline: 5
"""
    run = ansible.playbook(role, hosts=host, extra_vars={"file": ZIP, "checksum": site[ZIP], "proxy": proxy.url})
    assert run.rc == 0, run.stdout
    installed = run.result(
        host,
        "rollout.windows.msi_install : Install, upgrade or remove the package",
    )
    assert installed["_status"] == "changed"
    assert installed["downloaded"] is True
    assert machine_versions(control, host) == ["9.3.0"]
    assert sum(proxy.tunnels.values()) >= 1
