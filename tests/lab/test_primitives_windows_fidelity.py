"""Windows behaviour the primitives must survive (issue 11): unloaded user hives, TLS versions, proxies,
redirects, protected processes and shutdown.exe's implied /f, each as the lab models Windows."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.rollout.windows.plugins.action.reboot import shutdown_arguments
from ansible_collections.rollout.windows.plugins.modules import reboot as reboot_docs
from ansible_collections.rollout.windows.plugins.plugin_utils._cmdline import command_line
from lab import collection
from lab.downloads import ConnectProxy, DownloadServer, server_context
from lab.host.certstore import trust_root
from lab.host.msiregister import ALL_UPGRADE_CODES
from lab.host.registry import pack_guid
from lab.primitives import core
from lab.primitives.download import (
    NETFX_KEY,
    initial_security_protocol,
    primitive_security_protocol,
    protocol_name,
    routes,
    set_network,
    set_system_proxy,
)
from lab.primitives.hostinfo import dotnet_o
from lab.tls import LabCA

winhost = collection.winhost()
PRIMITIVES = Path(__file__).resolve().parents[2] / "plugins" / "plugin_utils" / "primitives"
CACHE = "C:\\ProgramData\\rollout.windows\\cache\\url-test"


def call(host: Any, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    rc, out, err = asyncio.run(core.run(host, name, args or {}, host.username))
    return winhost.parse_output(name, rc, out, err)


async def acall(host: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return winhost.parse_output(name, *await core.run(host, name, args, host.username))


def only_logged_on(host: Any, *users: str) -> None:
    for session in list(host.sessions.values()):
        host.logoff(session["user"])
    for user in users:
        host.logon(user)


# -- Get-InstalledProduct: a per-user product of a user who is not logged on ----------------------------------
def install_per_user(kit: Any, host: Any, user: str) -> dict[str, str]:
    msi = kit.stage(host, "user-9.3.0")
    host.register_task("u", user=user, trigger={"type": "once"}, exe="msiexec.exe", arguments=["/i", msi, "/qn"])
    assert asyncio.run(host.run_task("u"))["last_result"] == 0
    host.unregister_task("u")
    return kit.packages["user-9.3.0"]


def test_a_logged_off_users_hive_is_unloaded_and_their_product_keeps_its_upgrade_code(kit: Any) -> None:
    host = kit.host(users=["alice", "bob"])
    only_logged_on(host, "alice")
    info = install_per_user(kit, host, "alice")
    sid = host.sid_of("alice")
    own_upgrade_codes = f"HKU\\{sid}\\Software\\Microsoft\\Installer\\UpgradeCodes"
    assert sid in host.registry.subkeys("HKU")
    assert host.registry.key_exists(f"{own_upgrade_codes}\\{pack_guid(info['upgrade_code'])}")

    host.logoff("alice")
    # What the old primitive read for per-user products is gone with the hive: HKU lists loaded hives only.
    assert sid not in host.registry.subkeys("HKU")
    assert not host.registry.key_exists(own_upgrade_codes)
    (product,) = call(host, "Get-InstalledProduct")["products"]
    assert (product["scope"], product["sid"]) == ("user", sid)
    assert product["upgrade_code"] == info["upgrade_code"]
    found = call(host, "Get-InstalledProduct", {"upgrade_code": info["upgrade_code"]})["products"]
    assert [p["sid"] for p in found] == [sid]

    host.logon("alice")  # the hive is back with the user, data and all
    assert host.registry.key_exists(own_upgrade_codes)


def test_without_the_machine_wide_map_the_cached_package_names_the_upgrade_code(kit: Any) -> None:
    host = kit.host(users=["alice"])
    only_logged_on(host, "alice")
    info = install_per_user(kit, host, "alice")
    host.logoff("alice")
    assert host.registry.delete_key(f"HKLM\\{ALL_UPGRADE_CODES}", recurse=True)
    (product,) = call(host, "Get-InstalledProduct")["products"]
    assert product["upgrade_code"] == info["upgrade_code"]  # read from InstallProperties\LocalPackage
    host.files.remove(product["local_package"])
    (product,) = call(host, "Get-InstalledProduct")["products"]
    assert product["upgrade_code"] is None  # nothing left that names it, and no error either


def test_the_machine_wide_map_outlives_one_users_uninstall_while_another_user_has_the_product(kit: Any) -> None:
    host = kit.host(users=["alice", "bob"])
    only_logged_on(host, "alice", "bob")
    info = install_per_user(kit, host, "alice")
    install_per_user(kit, host, "bob")
    host.register_task(
        "x", user="alice", trigger={"type": "once"}, exe="msiexec.exe", arguments=["/x", info["product_code"], "/qn"]
    )
    assert asyncio.run(host.run_task("x"))["last_result"] == 0
    host.logoff("bob")
    (product,) = call(host, "Get-InstalledProduct")["products"]
    assert (product["sid"], product["upgrade_code"]) == (host.sid_of("bob"), info["upgrade_code"])


# -- Stop-SessionProcess: one protected process fails alone ---------------------------------------------------
def test_a_protected_process_fails_its_own_entry_and_the_others_are_still_stopped(kit: Any) -> None:
    host = kit.host(users=["alice"])
    only_logged_on(host, "alice")
    word = host.start_process("alice", "WINWORD.EXE")
    excel = host.start_process("alice", "EXCEL.EXE")
    word["protected"] = True
    targets = [
        {"pid": p["pid"], "name": p["name"], "start_time": dotnet_o(_when(p["start_time"]))} for p in (word, excel)
    ]
    out = call(host, "Stop-SessionProcess", {"processes": targets})["processes"]
    assert out == [
        {
            "pid": word["pid"],
            "name": "WINWORD.EXE",
            "status": "failed",
            "error": f'Cannot stop process "WINWORD ({word["pid"]})" because of the following error: Access is denied',
        },
        {"pid": excel["pid"], "name": "EXCEL.EXE", "status": "stopped", "error": None},
    ]
    assert word["pid"] in host.processes
    assert excel["pid"] not in host.processes


def test_stop_session_process_catches_every_failure_per_process() -> None:
    script = (PRIMITIVES / "Stop-SessionProcess.ps1").read_text()
    # HasExited/WaitForExit throw "Access is denied" for a process the account may not open: inside a try.
    assert "try { $exited = $process.WaitForExit(" in script
    assert "HasExited" not in script.replace("# HasExited itself throws", "")
    assert script.count("try {") >= 4


def _when(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)


# -- Restart-Host: /f is explicit and documented ---------------------------------------------------------------
def test_restart_passes_f_explicitly_and_the_docs_say_what_it_does() -> None:
    from lab.clock import Clock
    from lab.host import BlobStore, make_host

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        host = make_host("pc001", "client", seed=3, clock=Clock(1000.0), blobs=BlobStore())
        now = await acall(host, "Restart-Host", {"command_line": command_line(shutdown_arguments(0, ""))})
        recorded = dict(host.snapshot()["scheduled_restart"] or {})
        host.abort_restart()
        return now, recorded

    now, recorded = asyncio.run(scenario())
    assert now["command_line"] == "/r /f /t 0"
    assert recorded["arguments"] == ["/r", "/f", "/t", "0"]
    assert shutdown_arguments(0, "") == ["/r", "/f", "/t", "0"]  # the controller builds the line shutdown.exe gets
    docs = yaml.safe_load(reboot_docs.DOCUMENTATION)
    text = " ".join(docs["description"] + docs["options"]["pre_reboot_delay"]["description"])
    assert "C(/f)" in text
    assert "unsaved work" in text
    assert "closed without" in text
    assert "msi_install_reboot=true" in text


# -- Save-PackageUrl: TLS versions, proxies, redirects ----------------------------------------------------------
@pytest.fixture
def ca(tmp_path: Path) -> LabCA:
    return LabCA(tmp_path / "ca")


@pytest.fixture
def site(tmp_path: Path, msi_packages: dict[str, dict[str, str]]) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "suite.msi").write_bytes(Path(msi_packages["machine-9.3.0"]["msi"]).read_bytes())
    return root


def save_args(url: str, root: Path, **extra: Any) -> dict[str, Any]:
    digest = hashlib.sha256((root / "suite.msi").read_bytes()).hexdigest()
    return {
        "url": url,
        "sha256": digest,
        "directory": CACHE,
        "file_name": "suite.msi",
        "timeout_seconds": 30,
        "max_bytes": 1 << 30,
        **extra,
    }


def serve(
    ca: LabCA,
    root: Path,
    scenario: Callable[[DownloadServer, ConnectProxy], Awaitable[Any]],
    *,
    tls13_only: bool = False,
    require_auth: bool = False,
) -> Any:
    async def main() -> Any:
        ctx = server_context(ca)
        if tls13_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        server = DownloadServer(root, ctx)
        proxy = ConnectProxy(require_auth=require_auth)
        await server.start()
        await proxy.start()
        try:
            return await scenario(server, proxy)
        finally:
            await proxy.close()
            await server.close()

    return asyncio.run(main())


async def attempt(host: Any, args: dict[str, Any]) -> dict[str, Any] | str:
    """The primitive's result, or its failure message."""
    try:
        return await acall(host, "Save-PackageUrl", args)
    except winhost.PrimitiveError as exc:
        return exc.msg


@pytest.mark.parametrize(
    ("start", "after"),
    [
        ("Ssl3, Tls", "Tls12"),  # Windows PowerShell 5.1 without the .NET registry opt-ins
        ("Tls, Tls11, Tls12", "Tls12"),  # SchUseStrongCrypto=1
        ("SystemDefault", "SystemDefault"),  # SystemDefaultTlsVersions=1: Windows chooses, TLS 1.3 included
        ("Tls12, Tls13", "Tls12, Tls13"),
        ("Tls, Tls13", "Tls12, Tls13"),
    ],
)
def test_the_primitive_keeps_system_default_and_never_leaves_old_protocols(start: str, after: str) -> None:
    values = {"SystemDefault": 0, "Ssl3": 48, "Tls": 192, "Tls11": 768, "Tls12": 3072, "Tls13": 12288}
    value = sum(values[name] for name in start.split(", "))
    assert protocol_name(primitive_security_protocol(value)) == after


def test_security_protocol_starts_from_the_net_registry_opt_ins(kit: Any) -> None:
    host = kit.host()
    assert protocol_name(initial_security_protocol(host)) == "Ssl3, Tls"
    host.registry.set_value(NETFX_KEY, "SchUseStrongCrypto", 1, "REG_DWORD")
    assert protocol_name(initial_security_protocol(host)) == "Tls, Tls11, Tls12"
    host.registry.set_value(NETFX_KEY, "SystemDefaultTlsVersions", 1, "REG_DWORD")
    assert protocol_name(initial_security_protocol(host)) == "SystemDefault"


def test_system_default_reaches_a_tls13_only_server_where_windows_has_tls13(kit: Any, ca: LabCA, site: Path) -> None:
    server_2022 = kit.host("srv01", kind="server")
    windows_10 = kit.host("pc001")
    pinned = kit.host("pc002")
    for host in (server_2022, windows_10):
        host.registry.set_value(NETFX_KEY, "SystemDefaultTlsVersions", 1, "REG_DWORD")
    for host in (server_2022, windows_10, pinned):
        trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer, proxy: ConnectProxy) -> list[Any]:
        args = save_args(server.url + "suite.msi", site)
        return [await attempt(host, args) for host in (server_2022, windows_10, pinned)]

    on_2022, on_10, on_pinned = serve(ca, site, scenario, tls13_only=True)
    assert isinstance(on_2022, dict), on_2022
    assert (on_2022["downloaded"], on_2022["security_protocol"]) == (True, "SystemDefault")
    # Windows 10's Schannel has no TLS 1.3, and "Tls12" alone (what -bor Tls12 made of SystemDefault) neither.
    channel = "Could not create SSL/TLS secure channel."
    assert isinstance(on_10, str)
    assert on_10.endswith(channel)
    assert isinstance(on_pinned, str)
    assert on_pinned.endswith(channel)


def test_a_host_that_may_only_use_a_proxy_downloads_through_it(kit: Any, ca: LabCA, site: Path) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())
    set_network(host, direct=False)

    async def scenario(server: DownloadServer, proxy: ConnectProxy) -> tuple[Any, ...]:
        direct = await attempt(host, save_args(server.url + "suite.msi", site))
        given = await attempt(host, save_args(server.url + "suite.msi", site, proxy=proxy.url))
        host.files.remove(CACHE, recurse=True)
        set_system_proxy(host, f"127.0.0.1:{proxy.port}")  # the WinRM account's Internet Options
        system = await attempt(host, save_args(server.url + "suite.msi", site))
        return direct, given, system, dict(proxy.tunnels), dict(server.requests)

    direct, given, system, tunnels, requests = serve(ca, site, scenario)
    assert isinstance(direct, str)
    assert "failed to respond" in direct
    assert isinstance(given, dict), given
    assert given["downloaded"] is True
    assert isinstance(system, dict), system
    assert system["downloaded"] is True
    assert sum(tunnels.values()) == 2
    assert requests == {"GET /suite.msi": 2}  # the direct attempt never reached the server
    assert [r.proxy is not None for r in routes(host)] == [False, True, True]


def test_a_proxy_that_wants_credentials_gets_none_over_winrm(kit: Any, ca: LabCA, site: Path) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer, proxy: ConnectProxy) -> Any:
        args = save_args(server.url + "suite.msi", site, proxy=proxy.url, proxy_use_default_credentials=True)
        return await attempt(host, args)

    failure = serve(ca, site, scenario, require_auth=True)
    assert isinstance(failure, str)
    assert failure.endswith("The remote server returned an error: (407) Proxy Authentication Required.")
    assert routes(host)[-1].default_credentials is True
    assert not host.files.exists(CACHE)


@pytest.mark.parametrize(
    ("location", "where"),
    [
        ("http://127.0.0.1:8080/suite.msi", "http://127.0.0.1:8080/"),
        ("https://localhost/x/suite.msi", "https://localhost/"),
    ],
)
def test_a_redirect_is_refused_naming_where_it_leads(
    kit: Any, ca: LabCA, site: Path, location: str, where: str
) -> None:
    host = kit.host()
    trust_root(host, ca.ca_path.read_bytes())

    async def scenario(server: DownloadServer, proxy: ConnectProxy) -> tuple[Any, dict[str, int]]:
        server.redirect("/old.msi", location)
        return await attempt(host, save_args(server.url + "old.msi", site)), dict(server.requests)

    failure, requests = serve(ca, site, scenario)
    assert isinstance(failure, str)
    assert f"the server redirects (302) to {where}, and redirects are not followed: give the final URL" in failure
    assert requests == {"GET /old.msi": 1}
    assert not host.files.exists(CACHE)


def test_save_package_url_refuses_redirects_and_guards_system_default() -> None:
    script = (PRIMITIVES / "Save-PackageUrl.ps1").read_text()
    assert "$request.AllowAutoRedirect = $false" in script
    assert "if ($protocol -ne 0)" in script
    assert "-bor $tls12" not in script
