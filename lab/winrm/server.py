"""The WinRM listeners of one simulated host: HTTP and HTTPS, shells, commands, and network faults."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
import struct
import typing as t
import uuid
from dataclasses import dataclass, field

from lab.host import HostDropped
from lab.winrm import wsman
from lab.winrm.auth import (
    CERT_AUTH_HEADER,
    ENCRYPTED_CONTENT_TYPE,
    AuthError,
    NtlmSession,
    check_basic,
)
from lab.winrm.commands import Outcome, execute
from lab.winrm.hostapi import WinRMHost
from lab.winrm.http import BadRequest, Request, Response, read_request
from lab.winrm.limits import WinRMLimits

if t.TYPE_CHECKING:
    from lab.clock import Clock

log = logging.getLogger(__name__)
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_CHALLENGE_HEADERS = [
    ("WWW-Authenticate", "Negotiate"),
    ("WWW-Authenticate", "NTLM"),
    ("WWW-Authenticate", 'Basic realm="WSMAN"'),
]


@dataclass(slots=True, eq=False)
class Command:
    id: str
    command: str
    arguments: list[str]
    user: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    task: asyncio.Task[Outcome] | None = None


@dataclass(slots=True, eq=False)
class Shell:
    id: str
    boot_id: int
    user: str
    last_used: float  # lab clock (simulated seconds) of the last request on the shell
    commands: dict[str, Command] = field(default_factory=dict)
    # Operations the shell holds against MaxConcurrentOperationsPerUser: itself and every command it ever
    # started. WinRS releases a command's operation only with its shell (pywinrm#124; ansible-core 2.19's
    # winrm plugin: "WinRS does not decrement the operation count for commands").
    operations: int = 1


class _Dropped(Exception):
    """The host dropped mid-request: abort the TCP connection without a reply."""


@dataclass(slots=True, eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    scheme: str
    task: asyncio.Task[None] | None = None
    ntlm: NtlmSession | None = None


class HostServer:
    """Serves WinRM for one host on ``address`` (ports ``http_port``/``https_port``; 0 or None disables one)."""

    def __init__(
        self,
        host: WinRMHost,
        *,
        address: str,
        http_port: int | None,
        https_port: int | None,
        ssl_context: ssl.SSLContext | None,
        ntlm_user_file: str,
        limits: WinRMLimits | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.limits = limits or WinRMLimits()
        if clock is None:
            from lab.clock import Clock

            clock = Clock()
        # Idle timeouts run on the fleet's clock, like every other time the host sees.
        self.clock = clock
        self.address = address
        self.http_port = http_port
        self.https_port = https_port
        self.ssl_context = ssl_context
        self.ntlm_user_file = ntlm_user_file
        self.shells: dict[str, Shell] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()

    async def start(self) -> None:
        if self.http_port:
            self._servers.append(await self._listen(self.http_port, None))
        if self.https_port and self.ssl_context is not None:
            self._servers.append(await self._listen(self.https_port, self.ssl_context))

    async def _listen(self, port: int, ctx: ssl.SSLContext | None) -> asyncio.AbstractServer:
        scheme = "https" if ctx else "http"

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Dropping a connection cancels its handler, which Python 3.11's start_server logs as an
            # error; here it is routine (reboots, drop faults), so end the handler quietly instead.
            with contextlib.suppress(asyncio.CancelledError):
                await self._serve_connection(reader, writer, scheme)

        if ctx is None:
            return await asyncio.start_server(handle, self.address, port, reuse_address=True, backlog=64)
        return await asyncio.start_server(
            handle, self.address, port, ssl=ctx, reuse_address=True, backlog=64, ssl_handshake_timeout=30
        )

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        self.drop_connections()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for shell in self.shells.values():
            self._discard_shell(shell)
        self.shells.clear()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def drop_connections(self) -> None:
        """Reset every open connection (the host went off the network or crashed)."""
        for conn in list(self._connections):
            self._abort(conn)

    def _abort(self, conn: _Connection) -> None:
        _reset(conn.writer)
        if conn.task is not None and conn.task is not asyncio.current_task():
            conn.task.cancel()
        self._connections.discard(conn)

    # ---- connection loop ------------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str) -> None:
        conn = _Connection(writer, scheme, asyncio.current_task())
        if not self.host.network_up():
            # A host off the network must make Ansible report UNREACHABLE at once, not hang.
            _reset(writer)
            return
        self._connections.add(conn)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                if not self.host.network_up():
                    _reset(writer)
                    return
                latency = self.host.latency_seconds()
                if latency > 0:
                    await asyncio.sleep(latency)
                self._count("requests")
                self._count("bytes_in", len(request.body))
                try:
                    response = await self._handle(conn, request)
                except _Dropped:
                    _reset(writer)
                    return
                self._count("bytes_out", len(response.body))
                keep = request.keep_alive
                writer.write(response.render(keep))
                await writer.drain()
                if not keep:
                    break
        except (BadRequest, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.debug("%s: connection ended: %s", self.host.name, exc)
        except asyncio.CancelledError:
            _reset(writer)
            raise
        finally:
            self._connections.discard(conn)
            if not writer.is_closing():
                writer.close()

    def _count(self, key: str, amount: int = 1) -> None:
        counters = self.host.counters
        counters[key] = counters.get(key, 0) + amount

    # ---- HTTP + auth ----------------------------------------------------------------------------

    async def _handle(self, conn: _Connection, request: Request) -> Response:
        if request.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            return Response(404, b"", content_type="text/plain")
        if request.method != "POST":
            return Response(405, b"", headers=[("Allow", "POST")])
        user = self._authenticate(conn, request)
        if isinstance(user, Response):
            return user
        encrypted = request.headers.get("content-type", "").lower().startswith("multipart/encrypted")
        body = request.body
        if encrypted:
            if conn.ntlm is None or not conn.ntlm.authenticated:
                return Response(
                    400, b"encrypted message on a connection without NTLM session", content_type="text/plain"
                )
            try:
                body = conn.ntlm.decrypt(body)
            except Exception as exc:  # any unwrap failure (bad signature, framing) is the client's fault
                return Response(400, f"cannot decrypt message: {exc}".encode(), content_type="text/plain")
        if not body:
            # pywinrm's empty POST that establishes the NTLM context for message encryption.
            return Response(200, b"")
        if len(body) > self.limits.max_envelope_bytes:
            # MaxEnvelopeSizekb also bounds request packets (MS-WSMV 2.2.4.10). Windows answers HTTP 413 without
            # a SOAP fault: pywinrm raises WinRMTransportError "Code 413" (ansible.windows#391, #620), and
            # Windows' own client reports 0x80338111 ERROR_WSMAN_HTTP_REQUEST_TOO_LARGE_STATUS
            # (AutomatedLab#1147, SharePointDsc#670).
            self._count("envelope_too_large")
            return Response(413, b"")
        status, reply = await self._wsman(body, user)
        if encrypted and conn.ntlm is not None:
            return Response(status, conn.ntlm.encrypt(reply), content_type=ENCRYPTED_CONTENT_TYPE)
        return Response(status, reply, content_type=SOAP_CONTENT_TYPE)

    def _authenticate(self, conn: _Connection, request: Request) -> str | Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        scheme_l = scheme.lower()
        if header.strip().lower() == CERT_AUTH_HEADER:
            return _unauthorized("certificate authentication is not supported by the lab; use basic or ntlm")
        if scheme_l == "basic":
            try:
                return check_basic(header, self.host.name, self.host.username, self.host.password)
            except AuthError as exc:
                return _unauthorized(str(exc))
        if scheme_l in ("ntlm", "negotiate"):
            if conn.ntlm is None:
                conn.ntlm = NtlmSession(self.ntlm_user_file)
            try:
                out = conn.ntlm.step(base64.b64decode(token.strip()))
            except (AuthError, ValueError) as exc:
                conn.ntlm = None
                return _unauthorized(str(exc))
            if not conn.ntlm.authenticated:
                challenge = base64.b64encode(out or b"").decode()
                return Response(401, b"", headers=[("WWW-Authenticate", f"{scheme} {challenge}")])
            assert conn.ntlm.user is not None
            if conn.ntlm.user.lower() != self.host.username.lower():
                conn.ntlm = None
                return _unauthorized("the specified credentials were rejected")
            return self.host.username
        if header:
            return _unauthorized(f"unsupported authentication scheme {scheme!r}")
        if conn.ntlm is not None and conn.ntlm.authenticated:
            return self.host.username
        return _unauthorized("authentication required")

    # ---- WS-Management --------------------------------------------------------------------------

    async def _wsman(self, body: bytes, user: str) -> tuple[int, bytes]:
        relates = ""
        try:
            req = wsman.parse_request(body)
            relates = req.message_id
            action = req.action
            self._expire_shells()
            if action == wsman.TRANSFER + "Create":
                return 200, self._create(req, user)
            if action == wsman.TRANSFER + "Delete":
                shell = self._shell(req)
                self._discard_shell(shell)
                self.shells.pop(shell.id, None)
                return 200, wsman.deleted(relates)
            if action == wsman.SHELL + "Command":
                return 200, self._command(req, user)
            if action == wsman.SHELL + "Send":
                return 200, self._send(req)
            if action == wsman.SHELL + "Receive":
                return 200, await self._receive(req)
            if action == wsman.SHELL + "Signal":
                return 200, self._signal(req)
            raise wsman.WSManFault(
                wsman.CODE_ACTION_NOT_SUPPORTED, "a:ActionNotSupported", f"The action {action} is not supported."
            )
        except wsman.WSManFault as fault:
            return fault.status, wsman.fault_envelope(relates, fault, self.host.name)

    def _create(self, req: wsman.WSManRequest, user: str) -> bytes:
        mine = [s for s in self.shells.values() if s.user.lower() == user.lower()]
        if len(mine) >= self.limits.max_shells_per_user:
            self._count("quota_shells")
            raise wsman.shell_quota_fault(self.limits.max_shells_per_user)
        self._check_operations(user)
        shell_id = str(uuid.uuid4()).upper()
        self.shells[shell_id] = Shell(shell_id, self.host.boot_id, user, self.clock.monotonic())
        return wsman.shell_created(req.message_id, shell_id, self.address)

    def _check_operations(self, user: str) -> None:
        held = sum(s.operations for s in self.shells.values() if s.user.lower() == user.lower())
        if held >= self.limits.max_concurrent_operations_per_user:
            self._count("quota_operations")
            raise wsman.operation_quota_fault(self.limits.max_concurrent_operations_per_user)

    def _expire_shells(self) -> None:
        """Delete shells Windows would no longer have: made before a reboot, or idle past IdleTimeout."""
        now = self.clock.monotonic()
        idle = self.limits.idle_timeout_seconds
        for shell in list(self.shells.values()):
            if shell.boot_id != self.host.boot_id or now - shell.last_used > idle:
                self._discard_shell(shell)
                del self.shells[shell.id]
                self._count("shells_expired")

    def _shell(self, req: wsman.WSManRequest) -> Shell:
        shell = self.shells.get(req.shell_id or "")
        if shell is None:
            raise wsman.shell_not_found(req.shell_id)
        shell.last_used = self.clock.monotonic()
        return shell

    def _discard_shell(self, shell: Shell) -> None:
        for command in shell.commands.values():
            if command.task is not None and not command.task.done():
                command.task.cancel()
        shell.commands.clear()

    def _command(self, req: wsman.WSManRequest, user: str) -> bytes:
        shell = self._shell(req)
        line = req.body_child("rsp", "CommandLine")
        if line is None:
            raise wsman.WSManFault(wsman.CODE_BAD_REQUEST, "w:InvalidMessage", "Command without rsp:CommandLine", 400)
        command = (line.findtext("rsp:Command", "", wsman.NS) or "").strip()
        arguments = [(a.text or "") for a in line.iterfind("rsp:Arguments", wsman.NS)]
        self._check_operations(shell.user)
        shell.operations += 1
        command_id = str(uuid.uuid4()).upper()
        shell.commands[command_id] = Command(command_id, command, arguments, user)
        self._count("commands")
        return wsman.command_started(req.message_id, command_id)

    def _find_command(self, shell: Shell, element: t.Any) -> Command:
        command_id = element.get("CommandId") if element is not None else None
        command = shell.commands.get(command_id or "")
        if command is None:
            raise wsman.command_not_found(command_id)
        return command

    def _send(self, req: wsman.WSManRequest) -> bytes:
        shell = self._shell(req)
        send = req.body_child("rsp", "Send")
        if send is None:
            raise wsman.WSManFault(wsman.CODE_BAD_REQUEST, "w:InvalidMessage", "Send without rsp:Send", 400)
        for element in send.iterfind("rsp:Stream", wsman.NS):
            chunk = wsman.read_stream(element)
            command = self._find_command(shell, element)
            if command.stdin_done:
                raise wsman.WSManFault(wsman.CODE_BAD_REQUEST, "w:InvalidMessage", "stdin already closed", 400)
            command.stdin += chunk.data
            if chunk.end:
                command.stdin_done = True
                self._start(command)
        return wsman.send_done(req.message_id)

    def _start(self, command: Command) -> asyncio.Task[Outcome]:
        if command.task is None:
            stdin = bytes(command.stdin)
            command.stdin = bytearray()  # the task owns the data now; do not keep two copies of a 5 MB upload
            command.task = asyncio.ensure_future(
                execute(self.host, command.user, command.command, command.arguments, stdin)
            )
        return command.task

    async def _receive(self, req: wsman.WSManRequest) -> bytes:
        shell = self._shell(req)
        receive = req.body_child("rsp", "Receive")
        desired = receive.find("rsp:DesiredStream", wsman.NS) if receive is not None else None
        command = self._find_command(shell, desired)
        # A command without stdin (raw commands) starts at its first Receive, like a process whose stdin is empty.
        task = self._start(command)
        # A larger OperationTimeout is not refused: Windows waits MaxTimeoutms instead (MS-WSMV 3.1.4.1.6). Real
        # seconds, not the lab clock: it is what keeps a Receive inside the client's HTTP read timeout.
        timeout = min(req.operation_timeout, self.limits.max_timeout_seconds)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        # A shell is not idle while a Receive waits on it.
        shell.last_used = self.clock.monotonic()
        if not done:
            raise wsman.operation_timeout_fault()
        if task.cancelled():
            outcome = Outcome(1, b"", b"lab: command was terminated\r\n")
        else:
            exc = task.exception()
            if isinstance(exc, HostDropped):
                raise _Dropped() from exc
            if exc is not None:
                log.exception("%s: command failed inside the lab", self.host.name, exc_info=exc)
                outcome = Outcome(1, b"", f"lab: internal error: {type(exc).__name__}: {exc}\r\n".encode())
            else:
                outcome = task.result()
        stdout = [base64.b64encode(outcome.stdout).decode()] if outcome.stdout else []
        stderr = [base64.b64encode(outcome.stderr).decode()] if outcome.stderr else []
        return wsman.receive_output(req.message_id, command.id, stdout, stderr, outcome.rc)

    def _signal(self, req: wsman.WSManRequest) -> bytes:
        shell = self._shell(req)
        signal = req.body_child("rsp", "Signal")
        command = self._find_command(shell, signal)
        code = (signal.findtext("rsp:Code", "", wsman.NS) if signal is not None else "") or ""
        if code.strip() in (wsman.SIGNAL_TERMINATE, wsman.SIGNAL_CTRL_C):
            if command.task is not None and not command.task.done():
                command.task.cancel()
            shell.commands.pop(command.id, None)
        return wsman.signal_done(req.message_id)


def _unauthorized(reason: str) -> Response:
    return Response(401, reason.encode() + b"\r\n", headers=list(_CHALLENGE_HEADERS), content_type="text/plain")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST so the client fails at once (ECONNRESET) instead of waiting for a timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
