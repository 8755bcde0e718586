"""What the WinRM layer needs from a host model, declared so that any model can be served.

The lab's own model (:class:`lab.host.Host`) and the tests' stand-in (``tests/lab/_winrm_fakehost.py``)
both satisfy :class:`WinRMHost`; :mod:`.server` and :mod:`.commands` use nothing else of a host.
Members are read-only properties so a model may implement them as plain attributes of a narrower type.
The primitives themselves come from :mod:`lab.primitives`, which reads the lab's model; another model
offers the command envelope and the members the primitives it is asked to run read.
"""

from __future__ import annotations

import typing as t
from collections.abc import Awaitable, Callable

if t.TYPE_CHECKING:
    from lab.host.filesystem import FileSystem

T = t.TypeVar("T")


class WinRMConsole(t.Protocol):
    """The host settings that decide how a command's PowerShell console behaves."""

    @property
    def language_mode(self) -> str:
        """``FullLanguage`` or ``ConstrainedLanguage`` (what AppLocker/WDAC leave PowerShell)."""
        ...

    @property
    def oem_codepage(self) -> int:
        """The console's OEM code page, which output is encoded in unless the script asks for UTF-8."""
        ...


@t.runtime_checkable
class WinRMHost(t.Protocol):
    """A host as its WinRM listener sees it: credentials, reachability, counters, files and the command envelope."""

    @property
    def name(self) -> str: ...

    @property
    def username(self) -> str:
        """The one account WinRM accepts (Basic and NTLM)."""
        ...

    @property
    def password(self) -> str: ...

    @property
    def boot_id(self) -> int:
        """Changes on every reboot; shells made before it are gone."""
        ...

    @property
    def counters(self) -> dict[str, int]:
        """Request, byte and command counts the listener adds to (tests read them)."""
        ...

    @property
    def files(self) -> FileSystem:
        """The file system ansible-core's own scripts (temp dirs, transfers, removal) act on."""
        ...

    @property
    def behaviour(self) -> WinRMConsole: ...

    def network_up(self) -> bool:
        """False while the host is off the network: connections are reset, not answered."""
        ...

    def latency_seconds(self) -> float:
        """Real seconds to wait before answering each request."""
        ...

    def env(self, user: str | None = None) -> dict[str, str]:
        """The environment variables a command of ``user`` sees (``%TEMP%`` expansion)."""
        ...

    def profile_dir(self, user: str) -> str:
        """``~`` of ``user``."""
        ...

    async def run_command(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work``, the lab side of the collection's primitive ``name``, as one command on the host.

        The envelope is the host's (reachability, counters, ``HostDropped`` to drop the call); what the
        primitive does is ``lab.primitives``' business, which hands it in.
        """
        ...
