"""Save-PackageUrl: the host downloads a package over HTTPS into its cache; the machine's trusted roots.

The download is real: the lab process fetches the URL over TLS, validating the
server's certificate against the certificates in the simulated host's
**machine root store** (``HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\ROOT\\Certificates``,
where Windows keeps it, each as a serialized ``Blob``), and nothing else. The fleet
puts the lab CA there (:func:`trust_root`); a server whose certificate comes from
another CA fails validation as it would on Windows. Only 127.0.0.0/8 is reachable:
any other name or address fails like a name that does not resolve or an address
that does not answer. Errors read like the .NET messages the PowerShell primitive
reports (the innermost exception's message).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import ipaddress
import ssl
import struct
import zipfile
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.primitives import PrimitiveContext, PrimitiveFailure, arg_str, primitive

if TYPE_CHECKING:
    from lab.host.host import Host

ROOT_STORE = r"HKLM\SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates"
# Serialized certificate store element: property id 32 (CERT_CERT_PROP_ID) holds the DER certificate.
_CERT_PROP_ID = 32
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# The lab keeps downloads in memory and serves every host from one event loop: bound them
# whatever the controller asks (real seconds, bytes; zip contents count against the size too).
LAB_TIMEOUT_SECONDS = 60.0
LAB_MAX_BYTES = 256 * 1024 * 1024
LAB_MAX_ZIP_ENTRIES = 10_000
_REASONS = {301: "Moved Permanently", 302: "Found", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


class DownloadFailure(Exception):
    """The download failed; the message is what .NET's innermost exception would say."""


# -- the machine root store -----------------------------------------------------------------------------------
def trust_root(host: Host, certificate: bytes) -> str:
    """Add a CA certificate (PEM or DER) to the host's machine root store; returns its thumbprint."""
    cert = (
        x509.load_pem_x509_certificate(certificate)
        if certificate.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(certificate)
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    thumbprint = hashlib.sha1(der).hexdigest().upper()  # Windows names store entries by SHA-1
    blob = struct.pack("<III", _CERT_PROP_ID, 1, len(der)) + der
    host.registry.set_value(f"{ROOT_STORE}\\{thumbprint}", "Blob", blob, "REG_BINARY")
    return thumbprint


def untrust_root(host: Host, thumbprint: str) -> bool:
    """Remove a certificate from the host's machine root store (True when it was there)."""
    return host.registry.delete_key(f"{ROOT_STORE}\\{thumbprint.upper()}", recurse=True)


def trusted_roots(host: Host) -> list[bytes]:
    """DER certificates in the host's machine root store."""
    if not host.registry.key_exists(ROOT_STORE):
        return []
    out: list[bytes] = []
    for thumbprint in host.registry.subkeys(ROOT_STORE):
        blob = host.registry.get(f"{ROOT_STORE}\\{thumbprint}", "Blob")
        offset = 0
        while isinstance(blob, bytes) and offset + 12 <= len(blob):
            prop, _flags, length = struct.unpack_from("<III", blob, offset)
            if prop == _CERT_PROP_ID:
                out.append(bytes(blob[offset + 12 : offset + 12 + length]))
                break
            offset += 12 + length
    return out


def _client_context(host: Host) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for der in trusted_roots(host):
        ctx.load_verify_locations(cadata=der)
    return ctx


# -- the download ---------------------------------------------------------------------------------------------
async def fetch(host: Host, url: str, timeout: float, max_bytes: int) -> bytes:
    """GET ``url`` the way the host would, within ``timeout`` real seconds and ``max_bytes``."""
    try:
        return await asyncio.wait_for(_fetch(host, url, max_bytes), timeout)
    except TimeoutError as exc:
        raise DownloadFailure("The operation has timed out") from exc


async def _fetch(host: Host, url: str, max_bytes: int) -> bytes:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise DownloadFailure("The URI prefix is not recognized.")
    name = parts.hostname or ""
    port = parts.port or 443
    try:
        address = ipaddress.ip_address("127.0.0.1" if name.lower() == "localhost" else name)
    except ValueError as exc:
        raise DownloadFailure(f"The remote name could not be resolved: '{name}'") from exc
    if address not in _LOOPBACK:
        raise DownloadFailure(
            "A connection attempt failed because the connected party did not properly respond after a period "
            f"of time, or established connection failed because connected host has failed to respond {address}:{port}"
        )
    try:
        reader, writer = await asyncio.open_connection(
            str(address), port, ssl=_client_context(host), server_hostname=name
        )
    except ssl.SSLCertVerificationError as exc:
        raise DownloadFailure("The remote certificate is invalid according to the validation procedure.") from exc
    except ConnectionRefusedError as exc:
        raise DownloadFailure(
            f"No connection could be made because the target machine actively refused it {address}:{port}"
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise DownloadFailure(f"Unable to connect to the remote server ({exc})") from exc
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _sep, v in (line.partition(":") for line in head[1:] if line)}
        if status != 200:
            reason = head[0].split(" ", 2)[2] if head[0].count(" ") >= 2 else _REASONS.get(status, "")
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


def _expand(host: Host, zip_path: str, dest: str) -> None:
    """``Expand-Archive -ErrorAction Stop``: every entry inside ``dest``, or nothing at all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(host.files.read_bytes(zip_path)))
        entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise PrimitiveFailure(f"cannot expand {zip_path}: {exc}") from exc
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
    try:
        root = host.files.canonical(directory)
    except ValueError as exc:
        msg = f"Cannot find drive. A drive with the name of '{directory[:1]}' does not exist."
        raise PrimitiveFailure(msg) from exc
    file = f"{root}\\{file_name}"
    content = f"{root}\\package"

    downloaded = False
    present = host.files.is_file(file) and host.files.sha256(file) == expected
    if not present and not check_only:
        host.files.mkdir(root)
        partial = file + ".partial"
        try:
            data = await fetch(host, url, timeout, max_bytes)
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
        _expand(host, file, content)
        ready = True
    folder = content if expand else root
    files: list[str] = []
    if ready:
        folder = host.files.canonical(folder)
        prefix = folder.lower() + "\\"
        files = [p[len(prefix) :] for p in host.files.walk_files() if p.lower().startswith(prefix)]
    return {"present": ready, "downloaded": downloaded, "folder": folder, "files": files}
