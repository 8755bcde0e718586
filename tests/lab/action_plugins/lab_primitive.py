"""Test-only action: run one collection primitive through ``_winhost.WinHost`` over the real connection."""

from __future__ import annotations

import importlib.util
import sys
import typing as t
from pathlib import Path

from ansible.plugins.action import ActionBase

_WINHOST = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "_winhost.py"


def _winhost() -> t.Any:
    name = "_lab_test_winhost"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _WINHOST)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        winhost = _winhost()
        name = self._task.args.get("name", "Get-HostInfo")
        try:
            out = winhost.WinHost(self).run(name, self._task.args.get("args") or {})
        except winhost.PrimitiveError as exc:
            result.update(failed=True, msg=exc.msg, rc=exc.rc)
            return result
        result.update(changed=False, result=out)
        return result
