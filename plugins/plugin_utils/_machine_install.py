# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What surrounds a per-machine msiexec run in the same msi_package task: the Office gate before it,
the restart and the check of what the host registered after it.

A rollout pays Ansible's fixed cost per task and host (a fork, a connection, a result) for every
step. Done in one task, an install costs one task per host instead of six (plan, gate, install,
restart, read, assert), and a host that already has the release costs one task and one command.
The steps are the very code of office_processes (:mod:`_office_gate`) and reboot (:mod:`_reboot`),
so a play composed of the separate modules behaves the same.
"""

from __future__ import annotations

import random
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.rollout.windows.plugins.plugin_utils import _msiexec, _office, _office_gate, _reboot
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Package
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "office_gate": {"type": "dict", "options": _office_gate.WAIT_SPEC},
    "reboot": {"type": "bool", "default": False},
    "reboot_timeout": {"type": "int", "default": 600},
    "reboot_msg": {"type": "str", "default": "Reboot initiated by Ansible"},
    "verify": {"type": "bool", "default": False},
}
# Seconds between Restart-Host and the restart, as the reboot module's default: the reply gets through.
REBOOT_DELAY = 2


@dataclass(frozen=True)
class Waits:
    """How the task waits: the clock and sleep of the Office gate and the restart, and the connection reset
    a restart needs; the lab's virtual clock in tests."""

    clock: t.Callable[[], float] = time.monotonic
    sleep: t.Callable[[float], None] = time.sleep
    reset: t.Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Steps:
    """The gate, restart and verification an msi_package task asked for, checked before any host is contacted."""

    gate: _office.Settings | None
    processes: tuple[str, ...]
    message: str
    title: str
    reboot: bool
    reboot_timeout: int
    reboot_msg: str
    verify: bool

    @classmethod
    def from_args(cls, args: t.Mapping[str, t.Any]) -> Steps:
        gate_args = args["office_gate"]
        if args["scope"] == "user" and (gate_args is not None or args["reboot"] or args["verify"]):
            raise ValueError(
                "office_gate, reboot and verify apply only with scope=machine; for per-user installs run "
                "rollout.windows.office_processes and rollout.windows.reboot as tasks of their own"
            )
        gate: _office.Settings | None = None
        names: list[str] = []
        if gate_args is not None:
            try:
                gate, names = _office_gate.configured(gate_args)
            except ValueError as exc:
                raise ValueError(f"office_gate: {exc}") from exc
            if args["restart_manager"] == "enable" and not gate.force:
                raise ValueError(
                    "restart_manager=enable lets msiexec shut down the applications holding the package's files "
                    "without asking, and unsaved work in them is lost: set office_gate.force=true (with a "
                    "deadline) to confirm that, or use restart_manager=disable (files in use are replaced at the "
                    "next restart)"
                )
        if args["reboot"]:
            _reboot.check(args["reboot_timeout"], REBOOT_DELAY, args["reboot_msg"] or "", msg_option="reboot_msg")
        return cls(
            gate=gate,
            processes=tuple(names),
            message=gate_args["message"] if gate_args else "",
            title=gate_args["title"] if gate_args else "",
            reboot=bool(args["reboot"]),
            reboot_timeout=args["reboot_timeout"],
            reboot_msg=args["reboot_msg"] or "",
            verify=bool(args["verify"]),
        )


def gate(
    host: WinHost, steps: Steps, waits: Waits, *, check_mode: bool, polled: t.Any = None
) -> dict[str, t.Any] | None:
    """The Office gate's result (None without one); in check mode one query and what the wait would do.

    ``polled`` is the host's listing of sessions and processes from the command that brought the package
    (:attr:`Delivered.polled`): the gate's first poll, one command fewer."""
    if steps.gate is None:
        return None
    names = list(steps.processes)
    if check_mode:
        return _office_gate.report(_office_gate.query(host, names), steps.gate, True)
    first = None if polled is None else _office_gate.snapshot(polled, names, "Initialize-PackageCache")
    return _office_gate.wait(
        host,
        steps.gate,
        names,
        message=steps.message,
        title=steps.title,
        clock=waits.clock,
        sleep=waits.sleep,
        first=first,
    )


def restart(host: WinHost, steps: Steps, waits: Waits, rng: random.Random | None = None) -> dict[str, t.Any]:
    """The host restarted to finish the install, as the reboot module restarts it."""
    return _reboot.restart(
        host,
        timeout=steps.reboot_timeout,
        delay=REBOOT_DELAY,
        msg=steps.reboot_msg,
        check_mode=False,
        reset=waits.reset,
        clock=waits.clock,
        sleep=waits.sleep,
        rng=rng,
    )


def verify(
    host: WinHost, package: Package, state: str, registered: list[dict[str, t.Any]] | None = None
) -> dict[str, t.Any]:
    """Compare what Windows Installer registered per machine with what the task asked for.

    ``registered`` is what msiexec's own command read afterwards (Invoke-Msiexec's report); without it
    (after a restart, say) the host is read again. ``{"verified": ...}`` when it matches, else also
    ``failed`` with a message naming both.
    """
    found = registered
    if found is None:
        found = host.run("Get-InstalledProduct", _msiexec.installed_query(package))["products"]
    versions = sorted(
        str(p.get("version"))
        for p in found
        if p.get("scope") == "machine" and str(p.get("product_code") or "").upper() == package.product_code
    )
    expected = [] if state == "absent" else [str(package.version)]
    verified = {"product_code": package.product_code, "expected": expected, "found": versions}
    if versions == expected:
        return {"verified": verified}
    wanted = f"no {package.product_code}" if state == "absent" else f"{package.product_code} {package.version}"
    return {
        "verified": verified,
        "failed": True,
        "msg": f"verify: expected {wanted} registered per machine, found {versions or 'none'}",
    }


def restart_warning(package: Package, exit_code: t.Any) -> str:
    """What an install that needs a restart says when the task was not allowed to restart."""
    return (
        f"a restart is needed to finish installing {package.product_code} {package.version} (msiexec exit code "
        f"{exit_code}); reboot is false, so restart the host in a maintenance window, or set reboot=true"
    )
