"""What every lab primitive is built from: its registration, its arguments, how it fails and how it runs.

Kept apart from the package's ``__init__`` (which imports every primitive module so that they
register) so that the primitive modules import this and never their own package. Importing this
module imports the package first, so :data:`REGISTRY` is full whenever :func:`run` can be called.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from lab.host.host import Host
from lab.host.state import HostDropped

T = TypeVar("T")


class PrimitiveFailure(Exception):
    """The primitive failed on the host (rc 1, ``{"failed": true, "msg": msg}``)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


@dataclass(frozen=True)
class PrimitiveContext:
    user: str  # the WinRM account the command runs as


class CommandHost(Protocol):
    """What running a primitive needs of a host besides the state the primitive reads: the command envelope."""

    async def run_command(self, name: str, work: Callable[[], Awaitable[T]]) -> T: ...


Impl = Callable[[Host, dict[str, Any], PrimitiveContext], Awaitable[dict[str, Any]]]
REGISTRY: dict[str, Impl] = {}


def primitive(name: str) -> Callable[[Impl], Impl]:
    """Register ``impl`` as the lab side of ``plugins/plugin_utils/primitives/<name>.ps1``."""

    def wrap(impl: Impl) -> Impl:
        if name in REGISTRY:
            raise ValueError(f"primitive {name} registered twice")
        REGISTRY[name] = impl
        return impl

    return wrap


# Work a loader does inside the command before the primitive: an answer that ends the command (a cache
# miss), or text printed before the primitive's own (the storing loader's report), or neither.
Before = Callable[[], "tuple[int, str, str] | str | None"]


async def run(host: CommandHost, name: str, args: Any, user: str, before: Before | None = None) -> tuple[int, str, str]:
    """Run primitive ``name`` on ``host`` as ``user``: (rc, stdout, stderr) as powershell.exe ends.

    The host's envelope comes first even for a primitive the lab lacks, as the command would reach
    Windows; ``HostDropped`` from it propagates. A host that is not the lab's model (a stand-in the
    WinRM server serves) answers for the members its primitives read. ``before`` is what a loader
    does first, inside the same command (lab.primitives.cache).
    """
    impl = REGISTRY.get(name)

    async def work() -> tuple[int, str, str]:
        prefix = ""
        if before is not None:
            first = before()
            if isinstance(first, tuple):
                return first
            prefix = first or ""
        if impl is None:
            return 1, prefix, f"lab: not implemented: primitive {name}"
        rc, out, err = await _command(impl, cast(Host, host), args, user)
        return rc, prefix + out, err

    return await host.run_command(name, work)


async def _command(impl: Impl, host: Host, args: Any, user: str) -> tuple[int, str, str]:
    """``impl`` as powershell.exe runs it: (rc, stdout, stderr), failures as the prelude's ``trap`` reports them."""
    if not isinstance(args, dict):  # stdin holds any JSON value
        return 1, _json({"failed": True, "msg": "arguments must be a JSON object"}), ""
    try:
        result = await impl(host, args, PrimitiveContext(user=user))
    except PrimitiveFailure as exc:
        return 1, _json({"failed": True, "msg": exc.msg}), ""
    except HostDropped:
        raise
    except Exception as exc:  # a lab bug must surface as a failed command, not kill the server
        return 1, _json({"failed": True, "msg": f"lab internal error: {exc!r}"}), traceback.format_exc()
    return 0, _json(result), ""


def _json(result: dict[str, Any]) -> str:
    """What Write-RwResult prints: compact JSON and a CRLF (Console.Out.WriteLine on Windows)."""
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False) + "\r\n"


def arg_str(args: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = args.get(key)
    if value is None or value == "":
        if required:
            raise PrimitiveFailure(f"argument {key} is required")
        return None
    if not isinstance(value, str):
        raise PrimitiveFailure(f"argument {key} must be a string")
    return value


def arg_str_list(args: dict[str, Any], key: str, required: bool = True) -> list[str]:
    value = args.get(key)
    if value is None:
        if required:
            raise PrimitiveFailure(f"argument {key} is required")
        return []
    if isinstance(value, str):  # the PowerShell side wraps with @(), so a lone string is a one-element list
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PrimitiveFailure(f"argument {key} must be a list of strings")
    return list(value)
