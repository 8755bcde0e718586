"""Test-only action: run one collection primitive through ``_winhost.WinHost`` over the real connection."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

from ansible.plugins.action import ActionBase

# ansible-playbook loads this file by path, so the repository (where the lab lives) may not be on sys.path yet.
_REPO = str(Path(__file__).resolve().parents[3])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from lab import collection  # noqa: E402


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        winhost = collection.winhost()
        name = self._task.args.get("name", "Get-HostInfo")
        try:
            out = winhost.WinHost(self).run(name, self._task.args.get("args") or {})
        except winhost.PrimitiveError as exc:
            result.update(failed=True, msg=exc.msg, rc=exc.rc)
            return result
        result.update(changed=False, result=out)
        return result
