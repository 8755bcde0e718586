# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.msi_package: install, upgrade, downgrade or remove an MSI package, per machine or per user.

This file holds the decisions: what the task asks for, whether the host already has it, and what
the result says. Where the package comes from and how it reaches the host is _package_source; one
msiexec run and what its exit code means is _msiexec; the per-user plan and its scheduled tasks are
_per_user; the options arrive checked, as one _msi_options.MsiOptions.
"""

from __future__ import annotations

import contextlib
import time
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import (
    _machine_install,
    _msi,
    _msi_options,
    _msiexec,
    _package_source,
    _per_user,
)
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Delivered, Package
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

# Here, at the import, which the linear strategy does in the main process before it forks the workers: a host's task
# that parses the package finds pymsi loaded (_msi.load_parser). Without pymsi, the read that needs it says so.
with contextlib.suppress(ValueError):
    _msi.load_parser()

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    "users": {"type": "list", "elements": "str", "default": []},
    # No static default: it is true exactly when users is empty.
    "logged_on_users": {"type": "bool"},
    "active_setup": {"type": "bool", "default": False},
    "user_timeout": {"type": "int", "default": 1800},
    "src": {"type": "path"},
    "path": {"type": "str"},
    "url": {"type": "str"},
    "proxy": {"type": "str"},
    "proxy_use_default_credentials": {"type": "bool", "default": False},
    "checksum": {"type": "str"},
    "product_code": {"type": "str"},
    "upgrade_code": {"type": "str"},
    "version": {"type": "str"},
    "properties": {"type": "dict", "default": {}},
    # Passed to msiexec like properties, hidden from its log (MsiHiddenProperties) and masked in every result.
    "secret_properties": {"type": "dict", "default": {}, "no_log": True},
    "transforms": {"type": "list", "elements": "str", "default": []},
    "allow_downgrade": {"type": "bool", "default": False},
    "busy_timeout": {"type": "int", "default": 600},
    # How long one msiexec may run before the task stops waiting for it (it is never killed).
    "msiexec_timeout": {"type": "int", "default": 3600},
    "cache_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\cache"},
    "log_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\logs"},
    # Whether a silent msiexec may shut down applications holding the package's files (_msi.RESTART_MANAGER).
    "restart_manager": {"type": "str", "choices": list(_msi.RESTART_MANAGER), "default": "disable"},
    # Per machine, in the same task: the Office gate before msiexec, the restart and the check after it.
    **_machine_install.ARGUMENT_SPEC,
    # Replaced by the options in the variable it names before the others are checked (_action.options_from).
    "options_from": {"type": "str"},
}
MUTUALLY_EXCLUSIVE = [["src", "path", "url"]]
REQUIRED_IF = [["state", "present", ["src", "path", "url"], True]]
# A download is only as trustworthy as its checksum, and a checksum checks nothing else.
REQUIRED_BY = {"url": ["checksum"], "checksum": ["url"], "proxy": ["url"]}


class ActionModule(WinHostAction):
    _supports_diff = True
    OPTIONS_FROM = True
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = {
        "mutually_exclusive": MUTUALLY_EXCLUSIVE,
        "required_if": REQUIRED_IF,
        "required_by": REQUIRED_BY,
    }

    def _secrets(self, args: dict[str, t.Any]) -> list[str]:
        return _msi_options.secrets(args)

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        # What the host fixed on the way (a cache or log folder whose ACL let users write) reaches the admin.
        self._host_notes: list[str] = []
        result = super().run(tmp, task_vars)
        if self._host_notes:
            result["warnings"] = [*result.get("warnings", []), *self._host_notes]
        return result

    def _run(
        self,
        host: WinHost,
        args: dict[str, t.Any],
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
        reset: t.Callable[[], None] | None = None,
    ) -> dict[str, t.Any]:
        # The Office gate and the restart wait: tests pass the lab's virtual clock.
        self._waits = _machine_install.Waits(clock, sleep, reset or self._reset_connection)
        options = MsiOptions.from_args(args)
        steps = _machine_install.Steps.from_args(args)
        # Kept on the instance so that run() reports them even when a later step fails.
        notes: list[str] = []
        self._host_notes = notes
        check_mode = bool(self._task.check_mode)
        package = _package_source.locate(host, options, lambda src: self._find_needle("files", src), check_mode)
        download = package.download
        unread = package.product_code is None or _package_source.needs_context(options, package)
        if download is not None and package.host_path is None and unread:
            return self._undecided(options, package, download)
        if package.product_code is None:
            raise ValueError("product_code is needed: give src, path, url, or product_code")
        if options.per_user:
            result, delivered = _per_user.run(
                host,
                options,
                package,
                check_mode=check_mode,
                diff=bool(self._task.diff),
                notes=notes,
                upload=self._upload,
            )
        else:
            result, delivered = self._run_machine(host, options, steps, package, notes)
        if download is not None:
            # Whether locate() or deliver() brought it, a download in this run is reported here, once.
            result["downloaded"] = delivered.downloaded if delivered else package.downloaded
        return result

    def _reset_connection(self) -> None:
        # Looked up when the restart needs it: the connection is the task's, set after the action is built.
        self._connection.reset()

    def _upload(self, local: str, remote: str) -> None:
        self._connection.put_file(local, remote)

    def _run_machine(
        self, host: WinHost, options: MsiOptions, steps: _machine_install.Steps, package: Package, notes: list[str]
    ) -> tuple[dict[str, t.Any], Delivered | None]:
        # The one read of the installed products in this task, unless verify asks again after msiexec.
        installed = host.run("Get-InstalledProduct", _msiexec.installed_query(package))["products"]
        current = _msiexec.replaced([p for p in installed if p.get("scope") == "machine"], package)
        action = _msiexec.decide(options, package, current)
        result: dict[str, t.Any] = {
            "action": action,
            "changed": action != "none",
            "product_code": package.product_code,
            "upgrade_code": package.upgrade_code,
            "version": package.version,
            "previous_version": current["version"] if current else None,
            "reboot_required": False,
        }
        if self._task.diff:
            after = current
            if action == "remove":
                after = None
            elif action != "none":
                after = {"product_code": package.product_code, "version": package.version}
            result["diff"] = {
                "before": _msiexec.diff_state(current, options.scope),
                "after": _msiexec.diff_state(after, options.scope),
            }
        if action == "none":
            # Nothing to do means the first read found what the task accepts (the version, or a newer one
            # without allow_downgrade, or nothing for state=absent): that read is the check, no second one.
            if steps.verify:
                found = [] if current is None else [current["version"]]
                code = current["product_code"] if current else package.product_code
                result["verified"] = {"product_code": code, "expected": found, "found": found}
            return result, None
        if self._task.check_mode:
            gate = _machine_install.gate(host, steps, self._waits, check_mode=True)
            return (result if gate is None else {**result, "office_gate": gate}), None
        delivered = None
        if action != "remove":
            # Delivered first: a download or copy that fails must not leave the host without the newer version.
            # An inline package's command also takes the Office gate's first poll, right after writing it.
            poll = list(steps.processes) if steps.gate is not None else None
            delivered = _package_source.deliver(host, options, package, notes=notes, upload=self._upload, poll=poll)
            if delivered.transferred is not None:
                result["transferred"] = delivered.transferred
        # Right before msiexec, after the copy: users are not kept out of Office while files travel.
        polled = delivered.polled if delivered is not None else None
        gate = _machine_install.gate(host, steps, self._waits, check_mode=False, polled=polled)
        if gate is not None:
            result["office_gate"] = gate
            if gate.get("warnings"):
                # Said where the admin reads them: a closed application lost its user's unsaved work.
                result["warnings"] = [*result.get("warnings", []), *gate["warnings"]]
            if gate.get("failed"):
                return {
                    **result,
                    "changed": bool(gate.get("changed")),
                    "failed": True,
                    "msg": f"{action} not started: {gate['msg']}",
                }, delivered
        # With verify, msiexec's own command reads what it left registered (no read of its own afterwards).
        report = _msiexec.installed_query(package) if steps.verify else None
        done = self._msiexec(
            host, options, action=action, current=current, delivered=delivered, notes=notes, report=report
        )
        result.update(done)
        if done.get("failed"):
            return result, delivered
        return self._finish(host, options, steps, package, result), delivered

    @staticmethod
    def _msiexec(
        host: WinHost,
        options: MsiOptions,
        *,
        action: str,
        current: dict[str, t.Any] | None,
        delivered: Delivered | None,
        notes: list[str],
        report: dict[str, str | None] | None,
    ) -> dict[str, t.Any]:
        if action == "remove":
            target = current["product_code"] if current else ""
            return _msiexec.run_machine(host, options, "uninstall", target, notes, report=report)
        if delivered is None:
            raise ValueError("the package was not delivered")
        if action == "downgrade" and current:
            removal = _msiexec.run_machine(host, options, "uninstall", current["product_code"], notes)
            if removal.get("failed"):
                return removal
        return _msiexec.run_machine(host, options, "install", delivered.target, notes, report=report)

    def _finish(
        self,
        host: WinHost,
        options: MsiOptions,
        steps: _machine_install.Steps,
        package: Package,
        result: dict[str, t.Any],
    ) -> dict[str, t.Any]:
        """After a good msiexec run: the restart it asked for (when allowed), then the check of what is registered."""
        registered = result.pop("registered", None)
        if result.get("reboot_required"):
            if not steps.reboot:
                warning = _machine_install.restart_warning(package, result.get("exit_code"))
                return {**result, "warnings": [*result.get("warnings", []), warning]}
            restarted = _machine_install.restart(host, steps, self._waits)
            result["reboot"] = {k: restarted[k] for k in ("rebooted", "elapsed", "previous_boot", "last_boot")}
            if restarted.get("failed"):
                return {**result, "failed": True, "msg": f"installed, but restarting failed: {restarted['msg']}"}
            result["reboot_required"] = False
            # What msiexec reported before the restart may not be what the host has after it.
            registered = None
        if steps.verify:
            result.update(_machine_install.verify(host, package, options.state, registered))
        return result

    def _undecided(self, options: MsiOptions, package: Package, download: _msi.PackageUrl) -> dict[str, t.Any]:
        """Check mode with a url package the host does not have yet and facts not given.

        What it installs is in the package, and getting it would change the host: so the
        answer is "a change", with a warning saying why it cannot be more precise.
        """
        result: dict[str, t.Any] = {
            "action": "install" if options.present else "remove",
            "changed": True,
            "product_code": package.product_code,
            "upgrade_code": package.upgrade_code,
            "version": package.version,
            "previous_version": None,
            "reboot_required": False,
            "downloaded": False,
            "warnings": [
                f"check mode: {download.url} is not in the host's package cache yet, so what it installs "
                "is unknown without downloading it; reported as a change. Give product_code and version "
                "(and scope=machine) for an exact answer."
            ],
        }
        if options.per_user:
            result.update(users=[], pending=[], active_setup={"component": None, "action": "none"})
        if self._task.diff:
            result["diff"] = {
                "before": f"{options.scope}: unknown (package not downloaded yet)\n",
                "after": f"{options.scope}: {download.url}\n" if options.present else f"{options.scope}: removed\n",
            }
        return result
