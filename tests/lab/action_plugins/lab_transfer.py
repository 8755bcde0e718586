"""Test-only action: ansible-core's own file transfer over WinRM (mkdtemp, put_file, fetch_file, remove)."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        remote_dir = self._make_tmp_path()  # powershell_mkdtemp.ps1
        remote = self._connection._shell.join_path(remote_dir, args.get("name", "payload.bin"))
        self._connection.put_file(args["src"], remote)  # winrm_put_file.ps1 (sha1 checked by the plugin)
        if args.get("fetch_to"):
            self._connection.fetch_file(remote, args["fetch_to"])  # winrm_fetch_file.ps1
        if args.get("keep"):
            # Forget the temp dir so the task executor's cleanup leaves it for the test to inspect.
            self._connection._shell.tmpdir = None
            result.update(remote_path=remote)
        else:
            self._remove_tmp_path(remote_dir, force=True)  # Remove-Item ... -Force -Recurse
        result.update(changed=True, remote_dir=remote_dir)
        return result
