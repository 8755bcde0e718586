"""A read-only HTTPS file server on loopback: the web server a package is published on.

``msi_package url=...`` makes the *host* download the package, so the lab needs a
server its hosts can reach: this one serves one directory over HTTPS with a
certificate from the lab CA (the hosts trust it like a domain PKI root, see
:mod:`lab.primitives.download`). GET and HEAD only; anything that is not a regular
file inside the directory is 404, including ``..`` tricks and symlinks that point
out of it. It counts requests and bytes per path so tests can tell whether a host
downloaded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import typing as t
import urllib.parse
from collections import Counter
from pathlib import Path

from lab.winrm.http import BadRequest, read_request

if t.TYPE_CHECKING:
    from lab.tls import LabCA

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
# A client that sends nothing for this long loses its connection (a loopback test server needs no patience).
IDLE_SECONDS = 30.0
# The name the certificate is issued for: clients may use https://localhost:PORT/ or https://127.0.0.1:PORT/.
CERT_NAME = "localhost"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def server_context(ca: LabCA, address: str = "127.0.0.1") -> ssl.SSLContext:
    """TLS context with a lab-CA certificate for ``localhost`` and ``address``."""
    return ca.server_context(CERT_NAME, address)


class DownloadServer:
    """Serves ``root`` read-only at ``https://<address>:<port>/`` until :meth:`close`."""

    def __init__(self, root: Path, ssl_context: ssl.SSLContext, address: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValueError(f"downloads directory does not exist: {root}")
        self.address = address
        self.port = port
        self._ssl = ssl_context
        self._server: asyncio.AbstractServer | None = None
        self.requests: Counter[str] = Counter()  # "GET /x.zip" -> how often, whatever the answer
        self.bytes_sent: Counter[str] = Counter()  # "/x.zip" -> body bytes sent

    @property
    def url(self) -> str:
        """Base URL with a trailing slash: ``url + "suite.zip"`` names a file of the directory."""
        return f"https://{self.address}:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.address, self.port, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def resolve(self, target: str) -> Path | None:
        """The file a request target names, or None when it names nothing servable."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        if not path.startswith("/") or "\\" in path or "\0" in path:
            return None
        pieces = [p for p in path.split("/") if p]
        if not pieces or any(p in (".", "..") for p in pieces):
            return None
        candidate = self.root.joinpath(*pieces).resolve()
        # resolve() follows symlinks: a link pointing out of the directory is outside, hence 404.
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await asyncio.wait_for(read_request(reader), IDLE_SECONDS)
                if request is None:
                    break
                self.requests[f"{request.method} {request.path}"] += 1
                await self._answer(writer, request.method, request.path, request.keep_alive)
                if not request.keep_alive:
                    break
        except (BadRequest, ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.debug("download connection ended: %s", exc)
        finally:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, method: str, target: str, keep_alive: bool) -> None:
        if method not in ("GET", "HEAD"):
            self._head(writer, 405, 0, keep_alive, extra=[("Allow", "GET, HEAD")])
            await writer.drain()
            return
        path = self.resolve(target)
        if path is None:
            body = b"not found\n"
            self._head(writer, 404, len(body), keep_alive)
            if method == "GET":
                writer.write(body)
            await writer.drain()
            return
        size = path.stat().st_size
        self._head(writer, 200, size, keep_alive, content_type="application/octet-stream")
        if method == "GET":
            key = urllib.parse.urlsplit(target).path
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    writer.write(chunk)
                    self.bytes_sent[key] += len(chunk)
                    await writer.drain()
        await writer.drain()

    @staticmethod
    def _head(
        writer: asyncio.StreamWriter,
        status: int,
        length: int,
        keep_alive: bool,
        *,
        extra: list[tuple[str, str]] | None = None,
        content_type: str = "text/plain",
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Type: {content_type}", f"Content-Length: {length}"]
        lines += [f"{k}: {v}" for k, v in extra or []]
        if not keep_alive:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def trust_lab_ca(hosts: t.Iterable[t.Any], ca: LabCA) -> None:
    """Put the lab CA into every host's machine root store, as a domain PKI root is on managed PCs."""
    from lab.primitives.download import trust_root

    pem = ca.ca_path.read_bytes()
    for host in hosts:
        if hasattr(host, "registry"):  # a test's stand-in host model may have none
            trust_root(host, pem)
