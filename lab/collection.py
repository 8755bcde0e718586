"""The one piece of the collection the lab uses: its transport convention, ``plugins/plugin_utils/_winhost.py``.

Loaded by path, once per process under one module name, because the repository is not on an
``ansible_collections`` path and the lab must not depend on ansible-core's collection loader. One
copy matters: the lab's WinRM server, its primitives and the tests then share ``PrimitiveError``
and every other class of the module.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

WINHOST_PATH = Path(__file__).resolve().parents[1] / "plugins" / "plugin_utils" / "_winhost.py"
WINHOST_MODULE = "rollout_windows_winhost"


@functools.cache
def winhost() -> ModuleType:
    """The collection's ``_winhost`` module."""
    spec = importlib.util.spec_from_file_location(WINHOST_MODULE, WINHOST_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {WINHOST_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[WINHOST_MODULE] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
