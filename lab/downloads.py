"""A read-only HTTPS file server on loopback: the web server a package is published on.

``msi_package url=...`` makes the *host* download the package, so the lab needs a
server its hosts can reach: this one serves one directory over HTTPS with a
certificate from the lab CA (the fleet's hosts trust it like a domain PKI root, see
:mod:`lab.host.certstore`; :mod:`lab.primitives.download` is the host side). GET and
HEAD only; anything that is not a regular file inside the directory is 404, including
``..`` tricks and symlinks that point out of it. It counts requests and bytes per path so tests can tell whether a host
downloaded again. :meth:`DownloadServer.redirect` makes a path answer with a redirect
instead (which the hosts refuse to follow).

:class:`ConnectProxy` is the web proxy of a network where hosts may not reach servers
directly: plain HTTP on loopback, ``CONNECT`` tunnels to loopback servers only, and with
``require_auth`` the 407 a proxy answers when it wants Windows credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
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
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
}


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
        self.redirects: dict[str, tuple[int, str]] = {}  # "/old.zip" -> (status, Location)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer GET/HEAD of ``path`` with ``status`` and ``Location: location`` (absolute or relative)."""
        if status not in (301, 302, 307, 308):
            raise ValueError(f"redirect status must be 301, 302, 307 or 308, not {status}")
        self.redirects[path] = (status, location)

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
        moved = self.redirects.get(urllib.parse.urlsplit(target).path)
        if moved is not None:
            body = b"moved\n"
            self._head(writer, moved[0], len(body), keep_alive, extra=[("Location", moved[1])])
            if method == "GET":
                writer.write(body)
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


class ConnectProxy:
    """An HTTP proxy on loopback that tunnels HTTPS (``CONNECT host:port``) to loopback servers only."""

    def __init__(self, address: str = "127.0.0.1", port: int = 0, *, require_auth: bool = False) -> None:
        self.address = address
        self.port = port
        # A proxy that authenticates its users: without credentials the answer is 407 with the schemes it
        # takes (Negotiate, NTLM), which a WinRM session cannot satisfy (no delegated credentials).
        self.require_auth = require_auth
        self.tunnels: Counter[str] = Counter()  # "127.0.0.1:443" -> CONNECTs answered 200
        self.refused: Counter[str] = Counter()  # "127.0.0.1:443" -> CONNECTs answered otherwise
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.address, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pipes):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            request = await asyncio.wait_for(read_request(reader), IDLE_SECONDS)
            if request is None:
                return
            if request.method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            target = request.path
            name, _sep, port = target.rpartition(":")
            if self.require_auth:
                self.refused[target] += 1
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
                    b"Proxy-Authenticate: NTLM\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            try:
                if not ipaddress.ip_address(name.strip("[]")).is_loopback:
                    raise ValueError(name)
                up_reader, upstream = await asyncio.open_connection(name.strip("[]"), int(port))
            except (ValueError, OSError):
                self.refused[target] += 1
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.tunnels[target] += 1
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(up_reader, writer))
        except (BadRequest, ConnectionError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.debug("proxy connection ended: %s", exc)
        finally:
            for end in (writer, upstream):
                if end is not None:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        end.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while chunk := await source.read(CHUNK):
                sink.write(chunk)
                await sink.drain()
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            if sink.can_write_eof():
                sink.write_eof()
