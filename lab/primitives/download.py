"""Save-PackageUrl: the host downloads a package over HTTPS into its cache.

The download is real: the lab process fetches the URL over TLS, validating the
server's certificate against the certificates in the simulated host's
**machine root store** (:mod:`lab.host.certstore`, in the registry where Windows keeps it), and
nothing else. The fleet puts the lab CA there; a server whose certificate comes from another CA
fails validation as it would on Windows. Only 127.0.0.0/8 is reachable:
any other name or address fails like a name that does not resolve or an address
that does not answer. Errors read like the .NET messages the PowerShell primitive
reports (the innermost exception's message).

Also modelled, as the PowerShell meets them on Windows:
- **TLS versions.** ``[Net.ServicePointManager]::SecurityProtocol`` starts as .NET decides from
  ``HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319`` (:func:`initial_security_protocol`); the
  primitive keeps SystemDefault and otherwise enables TLS 1.2 and drops SSL 3.0/TLS 1.0/1.1
  (:func:`primitive_security_protocol`). The result's ``security_protocol`` is what it set, and the
  connection offers exactly those versions (SystemDefault: what the host's Schannel offers).
- **Proxies.** With no ``proxy`` argument the request uses ``[Net.WebRequest]::DefaultWebProxy``, the
  WinRM account's Internet Options proxy (``HKCU\\...\\Internet Settings`` ProxyEnable/ProxyServer/
  ProxyOverride). A host whose network lets web traffic out only through a proxy
  (:func:`set_network`) cannot reach a server directly. HTTPS goes through a proxy as ``CONNECT``.
  Over WinRM the session cannot pass the admin's credentials on (the double hop), so a proxy that
  wants them answers 407 even with ``proxy_use_default_credentials``.
- **Redirects** are not followed (``AllowAutoRedirect = $false``): a 3xx is a failure naming where it
  leads. In the lab 127.0.0.0/8 addresses stand for remote servers, so .NET's rule that loopback
  addresses never go through a proxy is not modelled.
"""

from __future__ import annotations

import asyncio
import fnmatch
import io
import ipaddress
import ssl
import weakref
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from lab.host.certstore import trusted_roots
from lab.host.filesystem import USERS
from lab.primitives.core import PrimitiveContext, PrimitiveFailure, arg_str, primitive
from lab.primitives.files import protect_folder

if TYPE_CHECKING:
    from lab.host.host import Host

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# The lab keeps downloads in memory and serves every host from one event loop: bound them
# whatever the controller asks (real seconds, bytes; zip contents count against the size too).
LAB_TIMEOUT_SECONDS = 60.0
LAB_MAX_BYTES = 256 * 1024 * 1024
LAB_MAX_ZIP_ENTRIES = 10_000
_REASONS = {
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
}
# System.Net.SecurityProtocolType (a [Flags] enum; ToString lists the names in ascending value order).
SECURITY_PROTOCOLS = {"Ssl3": 48, "Tls": 192, "Tls11": 768, "Tls12": 3072, "Tls13": 12288}
NETFX_KEY = r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319"
INTERNET_SETTINGS = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
# What .NET's WebException says when Schannel and the server share no protocol version.
_NO_SECURE_CHANNEL = "The request was aborted: Could not create SSL/TLS secure channel."


class DownloadFailure(Exception):
    """The download failed; the message is what .NET's innermost exception would say."""


# -- TLS versions ---------------------------------------------------------------------------------------------
def protocol_name(value: int) -> str:
    """``[string][Net.SecurityProtocolType]value`` as .NET prints it: ``SystemDefault``, ``Tls12, Tls13``."""
    if value == 0:
        return "SystemDefault"
    return ", ".join(name for name, bit in SECURITY_PROTOCOLS.items() if value & bit)


def initial_security_protocol(host: Host) -> int:
    """``[Net.ServicePointManager]::SecurityProtocol`` in a fresh Windows PowerShell 5.1.

    PowerShell 5.1 runs on .NET Framework 4.x but targets an older framework, so .NET applies its legacy
    default, Ssl3|Tls, unless the registry opts in: SystemDefaultTlsVersions=1 gives SystemDefault (let
    Schannel decide) and SchUseStrongCrypto=1 gives Tls|Tls11|Tls12 (Microsoft Learn, "Transport Layer
    Security (TLS) best practices with .NET Framework", section "Configuring security via the Windows
    Registry"; r/PowerShell "PSA: Enabling TLS1.2 and you" shows 5.1 without them).
    """
    if host.registry.get(NETFX_KEY, "SystemDefaultTlsVersions") == 1:
        return 0
    if host.registry.get(NETFX_KEY, "SchUseStrongCrypto") == 1:
        return SECURITY_PROTOCOLS["Tls"] | SECURITY_PROTOCOLS["Tls11"] | SECURITY_PROTOCOLS["Tls12"]
    return SECURITY_PROTOCOLS["Ssl3"] | SECURITY_PROTOCOLS["Tls"]


def primitive_security_protocol(initial: int) -> int:
    """What Save-PackageUrl.ps1 sets: SystemDefault stays; otherwise add Tls12, drop Ssl3/Tls/Tls11."""
    if initial == 0:
        return 0
    legacy = SECURITY_PROTOCOLS["Ssl3"] | SECURITY_PROTOCOLS["Tls"] | SECURITY_PROTOCOLS["Tls11"]
    return (initial | SECURITY_PROTOCOLS["Tls12"]) & ~legacy


def _tls_range(host: Host, protocol: int) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    """The versions the connection offers. SystemDefault is Schannel's own choice: TLS 1.3 only from Windows 11
    and Server 2022 (build 20348) on ("TLS 1.3 is enabled by default" there; Microsoft Learn, "Protocols in
    TLS/SSL (Schannel SSP)"). The lab's OpenSSL offers nothing below TLS 1.2, so that is the floor."""
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    os_top = v13 if int(host.os_version.rsplit(".", 1)[1]) >= 20348 else v12
    if protocol == 0:
        return v12, os_top
    wanted = [v for v, bit in ((v12, "Tls12"), (v13, "Tls13")) if protocol & SECURITY_PROTOCOLS[bit] and v <= os_top]
    if not wanted:  # only SSL 3.0 to TLS 1.1 left, or TLS 1.3 where Schannel has none: no common version
        raise DownloadFailure(_NO_SECURE_CHANNEL)
    return min(wanted), max(wanted)


# -- the host's network and proxy -----------------------------------------------------------------------------
@dataclass
class HostNetwork:
    """How the host reaches web servers. ``direct=False``: its firewall lets web traffic out only via a proxy."""

    direct: bool = True


_NETWORK: weakref.WeakKeyDictionary[Host, HostNetwork] = weakref.WeakKeyDictionary()
# Every route a download took, per host (tests read it through :func:`routes`).
_ROUTES: weakref.WeakKeyDictionary[Host, list[Route]] = weakref.WeakKeyDictionary()


def set_network(host: Host, *, direct: bool) -> None:
    _NETWORK.setdefault(host, HostNetwork()).direct = direct


def routes(host: Host) -> list[Route]:
    """The route of each download the host attempted, oldest first."""
    return list(_ROUTES.get(host, []))


def set_system_proxy(host: Host, server: str | None, bypass: str = "<local>", user: str | None = None) -> None:
    """Set (or, with None, clear) the Internet Options proxy of ``user`` (default: the WinRM account)."""
    key = f"HKU\\{host.sid_of(user or host.username)}\\{INTERNET_SETTINGS}"
    host.registry.set_value(key, "ProxyEnable", 1 if server else 0, "REG_DWORD")
    if server:
        host.registry.set_value(key, "ProxyServer", server)
        host.registry.set_value(key, "ProxyOverride", bypass)


def system_proxy(host: Host, user: str, target_host: str) -> str | None:
    """``[Net.WebRequest]::DefaultWebProxy.GetProxy(url)`` for an https URL, from the user's Internet Options.

    .NET Framework reads "the current user's Internet options proxy settings" (Microsoft Learn,
    WebRequest.DefaultWebProxy), which over WinRM are the connecting account's, not ``netsh winhttp``'s.
    ProxyServer is ``host:port`` or per scheme ``http=...;https=...``; ProxyOverride lists names that go
    direct, ``<local>`` meaning names without a dot.
    """
    key = f"HKU\\{host.sid_of(user)}\\{INTERNET_SETTINGS}"
    if host.registry.get(key, "ProxyEnable") != 1:
        return None
    server = str(host.registry.get(key, "ProxyServer") or "")
    if "=" in server:
        entries = dict(p.split("=", 1) for p in server.split(";") if "=" in p)
        server = entries.get("https", "")
    if not server:
        return None
    for entry in str(host.registry.get(key, "ProxyOverride") or "").split(";"):
        pattern = entry.strip().lower()
        if (pattern == "<local>" and "." not in target_host) or (pattern and fnmatch.fnmatch(target_host, pattern)):
            return None
    return server if "://" in server else f"http://{server}"


def _client_context(host: Host, versions: tuple[ssl.TLSVersion, ssl.TLSVersion]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
    ctx.minimum_version, ctx.maximum_version = versions
    for der in trusted_roots(host):
        ctx.load_verify_locations(cadata=der)
    return ctx


@dataclass(frozen=True)
class Route:
    """How one request leaves the host: the TLS versions it offers and the proxy it goes through, if any."""

    protocol: int = 0
    proxy: str | None = None
    default_credentials: bool = False


def _unreachable(address: Any, port: int) -> DownloadFailure:
    return DownloadFailure(
        "A connection attempt failed because the connected party did not properly respond after a period "
        f"of time, or established connection failed because connected host has failed to respond {address}:{port}"
    )


def _loopback(name: str, port: int) -> Any:
    """The address a lab name stands for; anything outside 127.0.0.0/8 is out of reach."""
    try:
        address = ipaddress.ip_address("127.0.0.1" if name.lower() == "localhost" else name)
    except ValueError as exc:
        raise DownloadFailure(f"The remote name could not be resolved: '{name}'") from exc
    if address not in _LOOPBACK:
        raise _unreachable(address, port)
    return address


async def _open(address: Any, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_connection(str(address), port)
    except ConnectionRefusedError as exc:
        raise DownloadFailure(
            f"No connection could be made because the target machine actively refused it {address}:{port}"
        ) from exc
    except OSError as exc:
        raise DownloadFailure(f"Unable to connect to the remote server ({exc})") from exc


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    reason = head[0].split(" ", 2)[2] if head[0].count(" ") >= 2 else _REASONS.get(status, "")
    headers = {k.strip().lower(): v.strip() for k, _sep, v in (line.partition(":") for line in head[1:] if line)}
    return status, reason, headers


# -- the download ---------------------------------------------------------------------------------------------
async def fetch(host: Host, url: str, timeout: float, max_bytes: int, route: Route | None = None) -> bytes:
    """GET ``url`` the way the host would, within ``timeout`` real seconds and ``max_bytes``."""
    try:
        return await asyncio.wait_for(_fetch(host, url, max_bytes, route or Route()), timeout)
    except TimeoutError as exc:
        raise DownloadFailure("The operation has timed out") from exc


async def _connect(host: Host, name: str, port: int, route: Route) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP stream to ``name:port``, directly or as a CONNECT tunnel through the route's proxy."""
    if route.proxy is None:
        address = _loopback(name, port)
        if not _NETWORK.get(host, HostNetwork()).direct:
            raise _unreachable(address, port)  # the firewall drops it: web traffic must use the proxy
        return await _open(address, port)
    proxy = urlsplit(route.proxy)
    proxy_port = proxy.port or 80
    reader, writer = await _open(_loopback(proxy.hostname or "", proxy_port), proxy_port)
    target = f"{name}:{port}"
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("latin-1"))
    await writer.drain()
    status, reason, _headers = await _read_head(reader)
    if status != 200:
        writer.close()
        raise DownloadFailure(f"The remote server returned an error: ({status}) {reason}.")
    return reader, writer


async def _fetch(host: Host, url: str, max_bytes: int, route: Route) -> bytes:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise DownloadFailure("The URI prefix is not recognized.")
    name = parts.hostname or ""
    port = parts.port or 443
    versions = _tls_range(host, route.protocol)
    reader, writer = await _connect(host, name, port, route)
    try:
        await writer.start_tls(_client_context(host, versions), server_hostname=name)
    except ssl.SSLCertVerificationError as exc:
        writer.close()
        raise DownloadFailure("The remote certificate is invalid according to the validation procedure.") from exc
    except (ssl.SSLError, ConnectionError) as exc:
        writer.close()
        # No common protocol version (the server's alert reaches asyncio as a reset) or another handshake
        # failure: .NET says no more than this.
        raise DownloadFailure(_NO_SECURE_CHANNEL) from exc
    except OSError as exc:
        writer.close()
        raise DownloadFailure(f"Unable to connect to the remote server ({exc})") from exc
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        await writer.drain()
        status, reason, headers = await _read_head(reader)
        if 300 <= status < 400:
            # AllowAutoRedirect = $false: the 3xx comes back to the primitive, which refuses it.
            to = urlsplit(urljoin(url, headers.get("location", "")))
            default = {"https": 443, "http": 80}.get(to.scheme.lower())
            authority = (to.hostname or "") + (f":{to.port}" if to.port and to.port != default else "")
            raise DownloadFailure(
                f"the server redirects ({status}) to {to.scheme.lower()}://{authority}/, and redirects are not "
                "followed: give the final URL"
            )
        if status != 200:
            raise DownloadFailure(f"The remote server returned an error: ({status}) {reason}.")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise DownloadFailure("lab: chunked transfer encoding is not modelled")
        length = int(headers["content-length"]) if "content-length" in headers else None
        if length is not None and length > max_bytes:
            raise DownloadFailure(f"the download is larger than {max_bytes} bytes")
        body = bytearray()
        while length is None or len(body) < length:
            chunk = await reader.read(256 * 1024)
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise DownloadFailure(f"the download is larger than {max_bytes} bytes")
        if length is not None and len(body) < length:
            raise DownloadFailure("The underlying connection was closed: An unexpected error occurred on a receive.")
        return bytes(body)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, IndexError) as exc:
        raise DownloadFailure(f"The server committed a protocol violation ({exc})") from exc
    finally:
        writer.close()


# -- the primitive --------------------------------------------------------------------------------------------
def _remove_if_empty(host: Host, folder: str) -> None:
    if host.files.is_dir(folder) and not host.files.listdir(folder):
        host.files.remove(folder)


def _expand(host: Host, zip_path: str, dest: str, max_bytes: int) -> None:
    """``Expand-RwPackageZip`` (_Zip.ps1): bounded by ``max_bytes`` and 100,000 entries from the central
    directory before anything is written, then ``Expand-Archive -ErrorAction Stop``: every entry inside
    ``dest``, or nothing at all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(host.files.read_bytes(zip_path)))
        entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise PrimitiveFailure(f"cannot expand {zip_path}: {exc}") from exc
    total = sum(e.file_size for e in entries)
    if total > max_bytes:
        raise PrimitiveFailure(f"cannot expand {zip_path}: it expands to {total} bytes, over {max_bytes}")
    if len(entries) > LAB_MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > LAB_MAX_BYTES:
        raise PrimitiveFailure(f"lab: {zip_path} expands to more than the lab allows")
    for entry in entries:
        pieces = entry.filename.replace("\\", "/").split("/")
        if entry.filename.startswith(("/", "\\")) or ":" in pieces[0] or ".." in pieces:
            msg = f"Can not process invalid archive entry '{entry.filename}'."
            raise PrimitiveFailure(f"cannot expand {zip_path}: {msg}")
    if host.files.exists(dest):
        host.files.remove(dest, recurse=True)
    host.files.mkdir(dest)
    try:
        for entry in entries:
            path = dest + "\\" + "\\".join(p for p in entry.filename.replace("\\", "/").split("/") if p)
            if entry.is_dir():
                host.files.mkdir(path)
                continue
            host.files.mkdir(path.rsplit("\\", 1)[0])
            host.files.write_bytes(path, archive.read(entry))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        host.files.remove(dest, recurse=True)
        raise PrimitiveFailure(f"cannot expand {zip_path}: {exc}") from exc


@primitive("Save-PackageUrl")
async def save_package_url(host: Host, args: dict[str, Any], ctx: PrimitiveContext) -> dict[str, Any]:
    url = arg_str(args, "url")
    expected = (arg_str(args, "sha256") or "").lower()
    directory = arg_str(args, "directory")
    file_name = arg_str(args, "file_name")
    assert url is not None
    assert directory is not None
    assert file_name is not None
    expand = bool(args.get("expand"))
    check_only = bool(args.get("check_only"))
    timeout = min(float(args.get("timeout_seconds") or LAB_TIMEOUT_SECONDS), LAB_TIMEOUT_SECONDS)
    max_bytes = min(int(args.get("max_bytes") or LAB_MAX_BYTES), LAB_MAX_BYTES)
    proxy = arg_str(args, "proxy", required=False)
    protocol = primitive_security_protocol(initial_security_protocol(host))
    try:
        root = host.files.canonical(directory)
    except ValueError as exc:
        msg = f"Cannot find drive. A drive with the name of '{directory[:1]}' does not exist."
        raise PrimitiveFailure(msg) from exc
    file = f"{root}\\{file_name}"
    content = f"{root}\\package"
    if not check_only:
        # msiexec runs elevated from the cache: as Initialize-PackageCache, the cache root gets its ACL first
        # (Protect-RwFolder, _Acl.ps1): a root whose ACL was wrong is made anew, empty, before anything is used.
        protect_folder(host, ctx, arg_str(args, "cache_dir", required=False) or root.rpartition("\\")[0], read=(USERS,))

    downloaded = False
    present = host.files.is_file(file) and host.files.sha256(file) == expected
    if not present and not check_only:
        host.files.mkdir(root)
        partial = file + ".partial"
        if proxy is None:
            proxy = system_proxy(host, ctx.user, (urlsplit(url).hostname or "").lower())
        route = Route(protocol, proxy, bool(args.get("proxy_use_default_credentials")))
        _ROUTES.setdefault(host, []).append(route)
        try:
            data = await fetch(host, url, timeout, max_bytes, route)
        except DownloadFailure as exc:
            _remove_if_empty(host, root)
            raise PrimitiveFailure(f"download of {url} failed: {exc}") from exc
        host.counters["downloads"] = host.counters.get("downloads", 0) + 1
        host.counters["download_bytes"] = host.counters.get("download_bytes", 0) + len(data)
        host.files.write_bytes(partial, data)
        actual = host.files.sha256(partial)
        if actual != expected:
            host.files.remove(partial)
            _remove_if_empty(host, root)
            raise PrimitiveFailure(
                f"checksum mismatch for {url}: expected sha256:{expected}, got sha256:{actual}; "
                "the download was deleted"
            )
        host.files.copy(partial, file)
        host.files.remove(partial)
        present = downloaded = True
    ready = present and (not expand or host.files.is_dir(content))
    if present and expand and not check_only and (downloaded or not ready):
        _expand(host, file, content, int(args.get("max_bytes") or LAB_MAX_BYTES))
        ready = True
    folder = content if expand else root
    files: list[str] = []
    if ready:
        folder = host.files.canonical(folder)
        prefix = folder.lower() + "\\"
        files = [p[len(prefix) :] for p in host.files.walk_files() if p.lower().startswith(prefix)]
    return {
        "present": ready,
        "downloaded": downloaded,
        "folder": folder,
        "files": files,
        "security_protocol": protocol_name(protocol),
    }
