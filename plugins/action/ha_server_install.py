# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.ha_server_install: update one server of the HA backend cluster and wait until it reports so.

The server's own state decides: a server already on the version is never run again (a rerun after a stopped
update, or after the connection dropped during the install, goes on with the next server). Otherwise the
installer runs once, checked against its SHA-256 on the host, and the server is polled until it reports update
mode on a local copy, or, for the last one, production on the new version with the cluster finished.
"""

from __future__ import annotations

import time
import typing as t
from datetime import UTC, datetime

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi, _server
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._server import ServerState
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "installer": {"type": "str", "required": True},
    "checksum": {"type": "str", "required": True},
    "version": {"type": "str", "required": True},
    "arguments": {"type": "list", "elements": "str", "default": []},
    "log_dir": {"type": "str", "default": _server.DEFAULT_LOG_DIR},
    "timeout": {"type": "int", "default": 3600},
    "wait_timeout": {"type": "int", "default": 900},
    **_server.COMMON_SPEC,
}
POLL_SECONDS = 5.0
PRIMITIVE = "Invoke-ServerInstaller"


def _outcome(state: ServerState, changed: bool, rc: int | None, version: str) -> dict[str, t.Any]:
    """``finished``: this server runs ``version`` in production, so the cluster's update is complete."""
    return {
        "changed": changed,
        "version": state.version,
        "mode": state.mode,
        "database": state.database,
        "progress": state.progress,
        "progress_text": state.progress_text,
        "finished": state.version == version and state.mode == "production" and state.database == "production",
        "rc": rc,
        "server": state.as_dict(),
        "problems": state.problems,
    }


def _checked_run(answer: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Invoke-ServerInstaller's answer, with the fields the decision uses of the right type."""
    rc = answer.get("rc")
    if rc is not None and (isinstance(rc, bool) or not isinstance(rc, int)):
        raise _answers.HostAnswerError(PRIMITIVE, f"rc {rc!r:.40} is not an exit code")
    tail = _answers.listed(answer, "log_tail", PRIMITIVE)
    if not all(isinstance(line, str) for line in tail):
        raise _answers.HostAnswerError(PRIMITIVE, "log_tail must be a list of lines")
    return {**answer, "rc": rc, "log_tail": [line[:1000] for line in tail[-40:]]}


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(
        self,
        host: WinHost,
        args: dict[str, t.Any],
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> dict[str, t.Any]:
        version = _server.version_option(args["version"])
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        request = _server.installer_run(args, version, stamp)  # every option checked before the first command
        question = _server.query(args)
        state = _server.get_state(host, question)
        who = state.name or "the server"
        if state.version == version:
            if state.mode not in _server.MODES:
                raise ValueError(
                    f"{who} runs {version} but reports no valid mode ({'; '.join(state.problems) or state.summary()}); "
                    "it is not installed again: check the server"
                )
            return {**_outcome(state, False, None, version), "msg": f"{who} already runs {version} ({state.mode} mode)"}
        self._refuse(state, who, version, args)
        if self._task.check_mode:
            result = _outcome(state, True, None, version)
            result["msg"] = f"{who} would be updated from {state.version} to {version} with {request['installer']}"
            return result
        run = _checked_run(host.run(PRIMITIVE, request))
        failure = self._failure(run, request, who, args)
        if failure:
            return {**_outcome(state, bool(run.get("ran")), run["rc"], version), **failure}
        code = _server.exit_code(int(run["rc"]))
        if not code.ok:
            tail = run["log_tail"]
            return {
                **_outcome(state, True, code.code, version),
                "failed": True,
                "exit_code_meaning": code.meaning,
                "log_path": request["log_path"],
                "log_tail": tail,
                "msg": f"{who}: the installer of {version} failed with exit code {code.code}: {code.meaning}. "
                f"Log {request['log_path']}" + (f", last lines: {' | '.join(tail[-5:])}" if tail else ", empty"),
            }
        state = self._wait(host, question, version, float(args["wait_timeout"]), clock=clock, sleep=sleep)
        result = {
            **_outcome(state, True, code.code, version),
            "exit_code_meaning": code.meaning,
            "log_path": request["log_path"],
        }
        if code.restart_needed:
            result["warnings"] = [f"{who}: {code.meaning}"]
        if not _server.reached(state, version):
            result["failed"] = True
            result["msg"] = (
                f"{who}: the installer of {version} ended with {code.code} ({code.meaning}), but the server did not "
                f"report update mode on a local copy or production on {version} within wait_timeout="
                f"{args['wait_timeout']} s; it last reported {state.summary()}"
            )
        return result

    @staticmethod
    def _refuse(state: ServerState, who: str, version: str, args: t.Mapping[str, t.Any]) -> None:
        """What the installer must not be run for: no server product there, or a newer one."""
        if not state.installed or state.version is None:
            raise ValueError(
                f"{who} has no server product under HKLM\\{args['settings_key']} with a valid Version "
                f"({'; '.join(state.problems) or 'nothing recorded'}); ha_server_install updates an installed server"
            )
        if _msi.compare_versions(state.version, version) > 0:
            raise ValueError(f"{who} runs {state.version}, newer than {version}; the installer would downgrade it")

    @staticmethod
    def _failure(
        run: t.Mapping[str, t.Any], request: t.Mapping[str, t.Any], who: str, args: t.Mapping[str, t.Any]
    ) -> dict[str, t.Any] | None:
        """Why the installer did not run to its end, as a failed result; None when it did."""
        if not run.get("exists"):
            msg = f"{who}: the installer {request['installer']} is not there; stage it first. Nothing was run"
        elif run.get("sha256") != request["sha256"]:
            msg = (
                f"{who}: the SHA-256 of {request['installer']} is {str(run.get('sha256'))[:64]}, not "
                f"{request['sha256']} as checksum says; nothing was run"
            )
        elif run.get("elevated") is not True:
            msg = (
                f"{who}: the WinRM account is not an administrator (its token has no Administrators group); "
                "the installer needs one. Nothing was run"
            )
        elif run.get("running"):
            msg = (
                f"{who}: the installer is still running after timeout={args['timeout']} s (process "
                f"{run.get('pid')!r:.20}); it was left to finish, since stopping it halfway leaves the server broken. "
                f"Its log is {request['log_path']}; run again later"
            )
        elif run.get("rc") is None:
            msg = f"{who}: the installer ran but no exit code was reported"
        else:
            return None
        return {"failed": True, "msg": msg}

    @staticmethod
    def _wait(
        host: WinHost,
        question: t.Mapping[str, str],
        version: str,
        timeout: float,
        *,
        clock: t.Callable[[], float],
        sleep: t.Callable[[float], None],
    ) -> ServerState:
        """Poll Get-ServerState until the server reports the update done, or ``timeout`` has passed."""
        deadline = clock() + timeout
        while True:
            state = _server.get_state(host, question)
            remaining = deadline - clock()
            if _server.reached(state, version) or remaining <= 0:
                return state
            sleep(min(POLL_SECONDS, remaining))
