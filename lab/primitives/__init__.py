"""Python implementations of the collection's PowerShell primitives, run by the lab instead of PowerShell.

Each implementation is ``async def impl(host, args, ctx) -> dict`` registered under
the primitive's name (the ``.ps1`` file name). It reads and changes the simulated
host exactly where the PowerShell would read and change Windows, and returns the
same JSON shape. ``PrimitiveFailure`` becomes ``{"failed": true, "msg": ...}`` with rc 1,
which is what the prelude's ``trap`` produces on Windows.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.host.host import Host

WINHOST_PATH = Path(__file__).resolve().parents[2] / "plugins" / "plugin_utils" / "_winhost.py"


class PrimitiveFailure(Exception):
    """The primitive failed on the host (rc 1, ``{"failed": true, "msg": msg}``)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


@dataclass(frozen=True)
class PrimitiveContext:
    user: str  # the WinRM account the command runs as


Impl = Callable[["Host", dict[str, Any], PrimitiveContext], Awaitable[dict[str, Any]]]
REGISTRY: dict[str, Impl] = {}


def primitive(name: str) -> Callable[[Impl], Impl]:
    """Register ``impl`` as the lab side of ``plugins/plugin_utils/primitives/<name>.ps1``."""

    def wrap(impl: Impl) -> Impl:
        if name in REGISTRY:
            raise ValueError(f"primitive {name} registered twice")
        REGISTRY[name] = impl
        return impl

    return wrap


def load_winhost() -> ModuleType:
    """The collection's ``_winhost`` module, loaded by path (the repo is not on an ansible_collections path)."""
    name = "rollout_windows_winhost"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, WINHOST_PATH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


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


# Importing the modules registers them.
from lab.primitives import download, files, hostinfo, msi, products, programs, restart, sessions, usertasks  # noqa: E402

__all__ = [
    "REGISTRY",
    "PrimitiveContext",
    "PrimitiveFailure",
    "download",
    "files",
    "hostinfo",
    "load_winhost",
    "msi",
    "primitive",
    "products",
    "programs",
    "restart",
    "sessions",
    "usertasks",
]
