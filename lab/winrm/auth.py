"""Authentication for the lab's WinRM listeners: Basic, NTLM (pyspnego acceptor) and NTLM message encryption.

pyspnego's NTLM acceptor finds passwords through the process-global environment
variable ``NTLM_USER_FILE`` and reads that file again on every authenticate
message. Hosts may share a user name with different passwords, so one file for
the whole fleet would let the first matching line win. Each host therefore gets
its own file under ``<state-dir>/ntlm/`` and the variable is pointed at it right
before the (synchronous) acceptor step; that is safe because every acceptor
step runs on the single event-loop thread and initiators never read the variable.
``<state-dir>/ntlm_users`` additionally lists every host's credentials for people.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import spnego
import spnego.exceptions

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
CERT_AUTH_HEADER = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
_BOUNDARY = b"--Encrypted Boundary"


class AuthError(Exception):
    """Authentication failed: the client gets HTTP 401."""


def split_user(raw: str) -> tuple[str, str]:
    """(domain, user) from ``DOMAIN\\user``, ``user@domain`` or ``user``."""
    if "\\" in raw:
        domain, _, user = raw.partition("\\")
        return domain, user
    if "@" in raw:
        user, _, domain = raw.partition("@")
        return domain, user
    return "", raw


def user_matches(raw: str, host_name: str, username: str) -> bool:
    """Whether a client-supplied user name denotes the host's local account."""
    domain, user = split_user(raw)
    return user.lower() == username.lower() and domain.lower() in ("", ".", host_name.lower())


def check_basic(header: str, host_name: str, username: str, password: str) -> str:
    """The authenticated user name from a Basic Authorization header, or AuthError."""
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (IndexError, ValueError) as exc:
        raise AuthError("malformed Basic credentials") from exc
    user, sep, given = decoded.partition(":")
    if not sep or not user_matches(user, host_name, username) or given != password:
        raise AuthError("the specified credentials were rejected")
    return username


class NtlmUserFiles:
    """Per-host NTLM credential files for pyspnego's acceptor (see the module docstring for why per host)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "ntlm"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.all_path = Path(state_dir) / "ntlm_users"

    def write(self, hosts: list[tuple[str, str, str]]) -> None:
        """Write files for (host name, user, password) triples; an empty domain and the host name both match."""
        lines = []
        for name, user, password in hosts:
            entry = f":{user}:{password}\n{name.upper()}:{user}:{password}\n"
            path = self.path(name)
            if not path.is_file() or path.read_text(encoding="utf-8") != entry:
                path.write_text(entry, encoding="utf-8")
                path.chmod(0o600)
            lines.append(entry)
        self.all_path.write_text("".join(lines), encoding="utf-8")
        self.all_path.chmod(0o600)

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.txt"


@dataclass(slots=True)
class NtlmSession:
    """NTLM state of one TCP connection: the acceptor context and, once complete, the user."""

    user_file: str
    context: spnego.ContextProxy | None = None
    user: str | None = None

    def step(self, token: bytes) -> bytes | None:
        """Feed a client token; returns the token to send back (challenge) or None when authenticated."""
        os.environ["NTLM_USER_FILE"] = self.user_file
        if self.context is None or self.context.complete:
            self.context = spnego.server(protocol="ntlm")
            self.user = None
        try:
            out = self.context.step(token)
        except spnego.exceptions.SpnegoError as exc:
            self.context = None
            raise AuthError(f"NTLM authentication failed: {exc}") from exc
        if self.context.complete:
            principal = self.context.client_principal or ""
            self.user = split_user(principal)[1]
        return out

    @property
    def authenticated(self) -> bool:
        return self.context is not None and self.context.complete and self.user is not None

    def decrypt(self, body: bytes) -> bytes:
        """Plain SOAP from a ``multipart/encrypted`` body laid out like pywinrm's ``Encryption``."""
        assert self.context is not None
        parts = [p for p in body.split(_BOUNDARY + b"\r\n") if p]
        out = b""
        for i in range(0, len(parts) - 1, 2):
            header, payload = parts[i], parts[i + 1]
            try:
                expected = int(header.split(b"Length=")[1].split(b"\r\n")[0])
            except (IndexError, ValueError) as exc:
                raise ValueError("encrypted part without OriginalContent length") from exc
            if payload.endswith(_BOUNDARY + b"--\r\n"):
                payload = payload[: -len(_BOUNDARY + b"--\r\n")]
            payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            sig_len = struct.unpack("<i", payload[:4])[0]
            data = self.context.unwrap(payload[4 : 4 + sig_len] + payload[4 + sig_len :]).data
            if len(data) != expected:
                raise ValueError("decrypted length does not match OriginalContent")
            out += data
        return out

    def encrypt(self, data: bytes) -> bytes:
        assert self.context is not None
        wrapped = self.context.wrap(data, encrypt=True).data
        # pyspnego puts the 16-byte signature first; MS-WSMV frames it as length, signature, sealed data.
        stream = struct.pack("<i", 16) + wrapped
        return (
            _BOUNDARY
            + b"\r\n\tContent-Type: "
            + ENCRYPTED_PROTOCOL.encode()
            + b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(data)).encode()
            + b"\r\n"
            + _BOUNDARY
            + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + stream
            + _BOUNDARY
            + b"--\r\n"
        )
