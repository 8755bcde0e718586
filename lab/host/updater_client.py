"""How the simulated auto-updater talks to the backend: a small protocol and its HTTPS implementation.

The updater speaks to the lab backend over real HTTP with the client token, as the product
does, through one shared aiohttp session per process (1,000 updaters, one connection pool).
Tests that want a fault the backend cannot produce inject their own :class:`BackendClient`.
"""

from __future__ import annotations

import hashlib
import ssl
from typing import Any, Protocol

import aiohttp

API = "/api/v1"
# What .NET's HttpClient says on Windows when nothing listens (WSAECONNREFUSED) or no answer comes in time.
CONNECTION_REFUSED = "No connection could be made because the target machine actively refused it."
TIMED_OUT = "The operation has timed out."
# .NET's AuthenticationException text when the server's certificate is refused (here: not the pinned one).
CERTIFICATE_INVALID = "The remote certificate is invalid according to the validation procedure."


class BackendError(Exception):
    """A backend request that failed: the text the updater writes as LastError."""


class BackendClient(Protocol):
    """What the updater needs of the client management API (docs/backend-api.yaml)."""

    async def settings(self) -> dict[str, Any]:
        """``GET /settings``."""
        ...

    async def release(self, channel: str, client: str) -> dict[str, Any]:
        """``GET /releases/{channel}`` as client ``client`` (``COMPUTER\\user``): a backend may answer per client."""
        ...

    async def acquire_slot(self, client: str) -> tuple[str | None, float]:
        """``POST /sync-slots``: (slot id, 0) when granted, (None, retry after seconds) while full.

        A backend without the sync throttle (9.2) grants at once: ("", 0).
        """
        ...

    async def release_slot(self, slot_id: str) -> None:
        """``DELETE /sync-slots/{slot_id}``."""
        ...

    async def download(self, url: str) -> bytes:
        """A release file."""
        ...

    async def report(self, client: str, report: dict[str, Any]) -> None:
        """``PUT /clients/{client}``: version, last_check, outcome."""
        ...


class HttpBackendClient:
    """:class:`BackendClient` over HTTPS with the client token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession,
        ssl_context: ssl.SSLContext | None,
        thumbprint: str | None = None,
    ) -> None:
        self.api = base_url.rstrip("/") + API
        self.token = token
        self.session = session
        self.ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        # CertificateThumbprint (SHA-1, hex): the backend's certificate must be exactly this one, whoever issued it.
        self.thumbprint = thumbprint.upper() if thumbprint else None
        if self.thumbprint:
            pinned = ssl.create_default_context()
            pinned.check_hostname = False
            pinned.verify_mode = ssl.CERT_NONE
            self.ssl = pinned

    async def _request(
        self,
        method: str,
        url: str,
        json: Any = None,
        ok: tuple[int, ...] = (200,),
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        try:
            async with self.session.request(
                method, url, json=json, headers=headers, params=params, ssl=self.ssl
            ) as resp:
                self._check_pin(resp)
                body = await resp.read()
                if resp.status not in ok:
                    raise BackendError(f"the backend answered {method} {url} with HTTP {resp.status}: {body[:200]!r}")
                if resp.content_type == "application/json":
                    return resp.status, await resp.json()
                return resp.status, body
        except aiohttp.ClientConnectorError as exc:
            raise BackendError(CONNECTION_REFUSED) from exc
        except TimeoutError as exc:
            raise BackendError(TIMED_OUT) from exc
        except (aiohttp.ClientError, RuntimeError) as exc:  # RuntimeError: the shared session closed (shutdown)
            raise BackendError(f"the request to the backend failed: {exc}") from exc

    def _check_pin(self, resp: aiohttp.ClientResponse) -> None:
        if not self.thumbprint:
            return
        transport = resp.connection.transport if resp.connection is not None else None
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or hashlib.sha1(der).hexdigest().upper() != self.thumbprint:  # a certificate thumbprint is SHA-1
            raise BackendError(CERTIFICATE_INVALID)

    async def settings(self) -> dict[str, Any]:
        return (await self._request("GET", self.api + "/settings"))[1]  # type: ignore[no-any-return]

    async def release(self, channel: str, client: str) -> dict[str, Any]:
        # The id goes as X-Client and as ?client=: a header carries only ASCII (.NET's HttpClient refuses
        # anything else), the query carries any user name percent-encoded; a backend may read either.
        headers = {"X-Client": client} if client.isascii() else {}
        url = f"{self.api}/releases/{channel}"
        return (await self._request("GET", url, headers=headers, params={"client": client}))[1]  # type: ignore[no-any-return]

    async def acquire_slot(self, client: str) -> tuple[str | None, float]:
        status, body = await self._request("POST", self.api + "/sync-slots", {"client": client}, (200, 201, 404, 429))
        if status == 404:  # feature_unavailable: a 9.2 backend has no throttle
            return "", 0.0
        if status == 429:
            return None, float(body.get("retry_after", 1))
        return str(body["slot_id"]), 0.0

    async def release_slot(self, slot_id: str) -> None:
        if slot_id:
            await self._request("DELETE", f"{self.api}/sync-slots/{slot_id}", ok=(204, 404))

    async def download(self, url: str) -> bytes:
        body = (await self._request("GET", url))[1]
        return body if isinstance(body, bytes) else str(body).encode()

    async def report(self, client: str, report: dict[str, Any]) -> None:
        from urllib.parse import quote

        await self._request("PUT", f"{self.api}/clients/{quote(client, safe='')}", report)


class HttpClients:
    """Makes :class:`HttpBackendClient` s for backend URLs, sharing one session (call :meth:`close`)."""

    def __init__(self, token: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self.token = token
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def __call__(self, base_url: str, thumbprint: str | None = None) -> BackendClient:
        if self._session is None or self._session.closed:
            # Many updaters at once: a generous pool, and no cookie jar (the API uses none).
            connector = aiohttp.TCPConnector(limit=100)
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return HttpBackendClient(base_url, self.token, self._session, self.ssl_context, thumbprint)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
