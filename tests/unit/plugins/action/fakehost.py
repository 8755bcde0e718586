"""One scripted stand-in for ``WinHost``: every primitive answers with the lab's Python twin of it.

Action tests used to script each primitive's answer by hand, in several places and shapes. Here the
answer comes from ``lab.primitives`` run against a fresh in-process lab host (the same code the lab's
WinRM server runs), goes through the collection's own ``parse_output``, and so has exactly the shape
and the failure semantics a playbook run against the lab sees. A test changes the lab host to arrange
a situation (``host.lab.logon(...)``), overrides one primitive's answer to play a hostile or broken
host (``host.answer(...)``), or injects a lost connection (``host.drop(...)``).

Two ways in:

- ``host.run(name, args)`` replaces ``WinHost`` where a test calls an action's ``_run`` directly.
- :func:`action_for` builds a real ``ActionModule`` whose connection carries the collection's real
  ``WinHost`` command lines to :meth:`FakeHost.execute`, for tests of ``WinHostAction.run`` itself
  (validation, refusals, masking, the ``winrm`` figures).
"""

from __future__ import annotations

import asyncio
import json
import types
import typing as t
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from ansible.plugins.loader import shell_loader

from ansible_collections.rollout.windows.plugins.plugin_utils import _winhost

# Importing it installs the primitives' twins in the host model.
from lab.clock import Clock
from lab.host import BlobStore, HostDropped, make_host
from lab.primitives import core

# What the existing tests' processes started at: 2025-03-04T07:00:00.0000000Z as .NET prints it.
START = datetime(2025, 3, 4, 7, 0, tzinfo=UTC)
START_O = "2025-03-04T07:00:00.0000000Z"
Reply = Mapping[str, t.Any] | Callable[[dict[str, t.Any]], Mapping[str, t.Any]]


def _lost() -> Exception:
    # What requests raises to pywinrm when the host goes away mid-command.
    return ConnectionResetError(104, "Connection reset by peer")


class FakeHost:
    """A ``WinHost`` stand-in over a fresh lab host; records every primitive run, counts them like WinHost.

    ``lab`` is the lab ``Host`` (use its public methods to arrange state); the lab host runs on a
    virtual clock that only :meth:`sleep` (or the lab's own waits) moves, starting at :data:`START`.
    """

    def __init__(
        self,
        name: str = "pc",
        *,
        kind: str = "client",
        users: list[str] | None = None,
        seed: int = 1,
        desktop: bool = False,
    ) -> None:
        clock = Clock(start=START, virtual=True)
        self.lab = make_host(name, kind, seed=seed, clock=clock, blobs=BlobStore(), users=users)
        if not desktop:  # the seeded desktop logs users on at random; a test arranges its own
            for user in list(self.lab.users):
                self.lab.logoff(user)
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.stats = _winhost.CallStats()
        self._answers: dict[str, Reply] = {}
        self._drop_after: int | None = None
        # One loop for the host's life: work a primitive leaves running (a scheduled task, a timed
        # restart) goes on during the next command, as it would on Windows.
        self._loop = asyncio.new_event_loop()
        weakref.finalize(self, self._loop.close)

    # -- what a test arranges ---------------------------------------------------------------------------
    def answer(self, name: str, reply: Reply) -> None:
        """From now on ``name`` answers ``reply`` (or ``reply(args)``) instead of the lab's twin.

        The answer still goes through ``parse_output``: ``{"failed": True, "msg": ...}`` raises
        PrimitiveError as a failing primitive would. A callable may call :meth:`twin` to start from the
        honest answer and spoil one field of it.
        """
        self._answers[name] = reply

    def drop(self, after: int = 0) -> None:
        """The connection is lost on the command after the next ``after`` ones (0: the next one)."""
        self._drop_after = len(self.calls) + after

    def install(self, package: Path, user: str | None = None, dest: str = "C:\\Staged") -> str:
        """Stage a built package folder (``.msi`` and ``payload/``) and install it with the lab's msiexec
        as ``user`` (the WinRM account by default), as an earlier deployment would have; the .msi's path."""
        folder = f"{dest}\\{package.name}"
        for item in sorted(package.rglob("*")):
            if item.is_file():
                self.put(folder + "\\" + "\\".join(item.relative_to(package).parts), item.read_bytes())
        msi = next(f"{folder}\\{item.name}" for item in package.iterdir() if item.suffix.lower() == ".msi")
        result = self._loop.run_until_complete(self.lab.msiexec(["/i", msi, "/qn"], user or self.lab.username))
        if result.rc != 0:
            raise AssertionError(f"arranging {package.name} failed: msiexec {result.rc}")
        return msi

    def put(self, path: str, data: bytes) -> None:
        """Write a file onto the lab host, its folders too, as the WinRM administrator's upload would."""
        parent = path.rsplit("\\", 1)[0]
        if not self.lab.files.is_dir(parent):
            self.lab.files.mkdir(parent)
        self.lab.files.write_bytes(path, data)

    def twin(self, name: str, args: Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """The lab twin's answer for ``name``, neither recorded nor counted."""
        rc, stdout, stderr = self._loop.run_until_complete(
            core.run(self.lab, name, dict(args or {}), self.lab.username)
        )
        return _winhost.parse_output(name, rc, stdout, stderr)

    # -- the WinHost interface ----------------------------------------------------------------------------
    def run(self, name: str, args: Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """Run primitive ``name`` as ``WinHost.run`` does: one command, counted, parsed the collection's way."""
        payload = _winhost.build_stdin(name, args)  # refuses an unknown primitive or non-ASCII script
        self.stats.commands += 1
        self.stats.bytes_sent += len(payload)
        self.stats.by_primitive[name] = self.stats.by_primitive.get(name, 0) + 1
        return self._answer(name, json.loads(_winhost.encode_args(args or {})))

    def execute(self, command: str, in_data: bytes | None = None, **_kw: t.Any) -> dict[str, t.Any]:
        """``_low_level_execute_command`` for a real WinHost: the primitive is read from stdin, as the lab's
        WinRM server reads it, and its answer printed as Write-RwResult prints it."""
        parts = _winhost.split_stdin(in_data or b"")
        name = _winhost.recognise(parts[0]) if parts else None
        if parts is None or name is None:
            return {"rc": 1, "stdout": "", "stderr": f"fake host: not a primitive: {command[:80]}"}
        try:
            result = self._answer(name, json.loads(parts[1]))
        except _winhost.PrimitiveError as exc:
            return {"rc": exc.rc or 1, "stdout": json.dumps({"failed": True, "msg": str(exc.msg)}), "stderr": ""}
        return {"rc": 0, "stdout": json.dumps(result) + "\r\n", "stderr": ""}

    def _answer(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append((name, args))
        if self._drop_after is not None and len(self.calls) > self._drop_after:
            raise _lost()
        reply = self._answers.get(name)
        if reply is None:
            try:
                return self.twin(name, args)
            except HostDropped as exc:  # the lab's own faults (drop_next, unreachable)
                raise _lost() from exc
        answer = reply(args) if callable(reply) else reply
        return _winhost.parse_output(name, 0, json.dumps(dict(answer)), "")

    # -- for actions that wait -------------------------------------------------------------------------
    def clock(self) -> float:
        """The lab host's simulated monotonic seconds: pass as an action's ``clock``."""
        return self.lab.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass on the lab host: pass as an action's ``sleep``.

        A sleep on the lab's virtual clock, so what the host has scheduled meanwhile (a timed restart,
        a task finishing) happens in its turn, before the sleep ends.
        """
        self._loop.run_until_complete(self.lab.clock.sleep(seconds))

    def names(self) -> list[str]:
        """The primitives run so far, in order."""
        return [name for name, _args in self.calls]


class FakeConnection:
    """The task's connection: winrm (or what ``transport`` says), the real PowerShell shell plugin.

    ``put_file`` records each upload and, with a ``host``, writes the file onto its lab host as the
    WinRM administrator, so a package sent with ``src`` is there for the lab's msiexec.
    """

    def __init__(self, transport: str = "winrm", host: FakeHost | None = None) -> None:
        self.transport = transport
        self._shell = shell_loader.get("powershell")
        self.uploads: list[tuple[str, str]] = []
        self._host = host

    def put_file(self, local: str, remote: str) -> None:
        self.uploads.append((local, remote))
        if self._host is not None:
            self._host.put(remote, Path(local).read_bytes())


def action_for(
    module: types.ModuleType,
    host: FakeHost | None,
    args: Mapping[str, t.Any],
    *,
    check_mode: bool = False,
    diff: bool = False,
    transport: str = "winrm",
    become: bool = False,
) -> t.Any:
    """``module.ActionModule`` as ansible-core builds it for a task with ``args``, talking to ``host``."""
    task = types.SimpleNamespace(
        args=dict(args),
        check_mode=check_mode,
        diff=diff,
        async_val=0,
        action=f"rollout.windows.{module.__name__.rsplit('.', 1)[-1]}",
    )
    play_context = types.SimpleNamespace(become=become)
    action = module.ActionModule(task, FakeConnection(transport, host), play_context, None, None, None)
    if host is not None:
        action._low_level_execute_command = host.execute
    return action
