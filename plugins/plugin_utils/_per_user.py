# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""msi_package with scope=user: a per-user package for each user, in that user's own context.

The WinRM account cannot install into somebody else's profile: msiexec must run as the user. Each
logged-on user gets a one-shot scheduled task running msiexec as them (Register-UserInstallTask),
polled until it ends (Wait-UserInstallTask); a user who is not logged on is ``pending``, and with
``active_setup`` Windows runs the same command line at their next logon.
"""

from __future__ import annotations

import math
import ntpath
import re
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi, _msiexec, _package_source, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Package
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

# Per-user installs run as one-shot scheduled tasks in this folder, one per user SID.
TASK_PATH = "\\rollout.windows\\"
# Longest wait one Wait-UserInstallTask command may spend on the host: below the WinRM operation
# timeout, so a long install costs one command per this many seconds instead of a tight poll.
WAIT_SECONDS = 15
# Active Setup expands environment variables in StubPath and cuts it at a line break: such
# characters in a value cannot be passed through it literally.
_STUB_UNSAFE = re.compile(r"[%\r\n\x00]")


@dataclass(frozen=True)
class ActiveSetup:
    """The product's Active Setup component: as wanted, as found, and what to do about it."""

    component: str
    wanted: dict[str, t.Any] | None
    before: dict[str, t.Any] | None
    action: str


class UserPlan(t.NamedTuple):
    """One user: as the host resolved them, their result entry, and the product they have now."""

    who: dict[str, t.Any]
    entry: dict[str, t.Any]
    current: dict[str, t.Any] | None


def run(
    host: WinHost,
    options: MsiOptions,
    package: Package,
    *,
    check_mode: bool,
    diff: bool,
    notes: list[str],
    upload: _package_source.Upload,
) -> tuple[dict[str, t.Any], _package_source.Delivered | None]:
    """Plan for every user and the Active Setup entry, then (outside check mode) act on that plan.

    Returns the result and, when acting needed the package on the host, how it got there.
    """
    if options.present:
        _require_per_user(options, package)
    # Keyed by the product family, not the ProductCode: every version has its own ProductCode, and
    # one component whose Version stamp changes is what makes Active Setup run a new version again.
    component = str(package.upgrade_code or package.product_code)
    wanted = _active_setup_wanted(options, package) if options.present and options.active_setup else None

    installed = host.run("Get-InstalledProduct", _msiexec.installed_query(package))["products"]
    found = host.run(
        "Get-InstallUser",
        {"users": list(options.users), "logged_on": options.logged_on_users, "active_setup": component},
    )
    by_sid: dict[str, list[dict[str, t.Any]]] = {}
    for product in installed:
        if product.get("scope") == "user" and product.get("sid"):
            by_sid.setdefault(str(product["sid"]).upper(), []).append(product)
    plans = [_plan(options, package, who, by_sid) for who in found["users"]]
    before = found.get("active_setup")
    setup = ActiveSetup(component, wanted, before, _active_setup_action(options.present, wanted, before))

    entries = [plan.entry for plan in plans]
    result: dict[str, t.Any] = {
        "product_code": package.product_code,
        "upgrade_code": package.upgrade_code,
        "version": package.version,
        "previous_version": None,
        "users": entries,
        "active_setup": {"component": component, "action": setup.action, **(wanted or before or {})},
    }
    if diff:
        result["diff"] = _diff(plans, package, setup)
    delivered = None if check_mode else _act(host, options, package, plans, setup, notes=notes, upload=upload)
    acted = {e["action"] for e in entries if e["status"] in ("changed", "failed")}
    result.update(
        action="none" if not acted else acted.pop() if len(acted) == 1 else "mixed",
        changed=setup.action != "none" or any(e["status"] == "changed" for e in entries),
        reboot_required=any(e["reboot_required"] for e in entries),
        pending=[e["user"] for e in entries if e["status"] == "pending"],
    )
    if options.restart_manager == "enable" and result["action"] != "none" and not check_mode:
        result["warnings"] = [_msiexec.RM_ENABLED_WARNING.format(action=result["action"])]
    failed = [e for e in entries if e["status"] == "failed"]
    if failed:
        result.update(failed=True, msg="per-user install failed: " + "; ".join(str(e["msg"]) for e in failed))
    return result, delivered


def _require_per_user(options: MsiOptions, package: Package) -> None:
    """scope=user with a per-machine package would install for the whole computer: refuse it up front."""
    if package.properties is None:
        raise ValueError("scope=user needs the package's properties: give src or path")
    effective = {**package.properties, **{k.upper(): str(v) for k, v in options.properties.items()}}
    if _msi.install_context(effective) != "user":
        raise ValueError(
            f"scope=user needs a per-user package (ALLUSERS empty, or ALLUSERS=2 with MSIINSTALLPERUSER=1); "
            f"{package.msi_name or options.path} has ALLUSERS={effective.get('ALLUSERS', '')!r} and "
            f"MSIINSTALLPERUSER={effective.get('MSIINSTALLPERUSER', '')!r}: install it with scope=machine"
        )


def _plan(
    options: MsiOptions, package: Package, who: dict[str, t.Any], by_sid: dict[str, list[dict[str, t.Any]]]
) -> UserPlan:
    entry: dict[str, t.Any] = {
        "user": who.get("account") or who.get("name"),
        "action": "none",
        "previous_version": None,
        "exit_code": None,
        "exit_code_meaning": None,
        "reboot_required": False,
        "status": "ok",
    }
    if who.get("error") or not who.get("sid"):
        entry.update(status="failed", msg=f"{who.get('name')}: {who.get('error') or 'no such account'}")
        return UserPlan(who, entry, None)
    # The SID names the scheduled task and the account is who it runs as: both must look like Windows'.
    _answers.sid(who["sid"], "Get-InstallUser")
    _answers.account(entry["user"], "Get-InstallUser")
    current = _msiexec.replaced(by_sid.get(str(who["sid"]).upper(), []), package)
    entry["previous_version"] = current["version"] if current else None
    entry["action"] = _msiexec.decide(options, package, current)
    if entry["action"] != "none":
        # Only a logged-on user can run the install now; Active Setup (if enabled) does it at logon.
        entry["status"] = "changed" if who.get("session_id") is not None else "pending"
    return UserPlan(who, entry, current)


def _active_setup_wanted(options: MsiOptions, package: Package) -> dict[str, t.Any]:
    if package.version is None:
        raise ValueError("active_setup needs the package version: give src, path or version")
    arguments = _msi.msiexec_arguments(
        "install",
        _package_source.target_path(options, package),
        None,
        options.properties,
        options.transforms,
        restart_manager=options.restart_manager,
    )
    unsafe = [a for a in arguments if _STUB_UNSAFE.search(a)]
    if unsafe:
        raise ValueError(
            "active_setup: Active Setup expands %VARIABLES% and stops at line breaks in its command line, "
            f"so this cannot be passed literally: {unsafe[0]!r}"
        )
    properties = package.properties or {}
    return {
        "name": properties.get("ProductName") or package.product_code,
        # Active Setup compares comma-separated versions; the MSI's fourth field means nothing to it.
        "version": ",".join(str(n) for n in _msi.version_key(package.version)),
        "stub_path": _msi.command_line(["msiexec.exe", *arguments]),
        "is_installed": 1,
    }


def _active_setup_action(present: bool, wanted: dict[str, t.Any] | None, before: dict[str, t.Any] | None) -> str:
    if not present:
        # Left in place it would install the product again at the next logon.
        return "remove" if before else "none"
    if wanted is None:
        return "none"
    if before is None:
        return "register"
    same = all(str(before.get(key)) == str(value) for key, value in wanted.items())
    return "none" if same else "update"


def _diff(plans: list[UserPlan], package: Package, setup: ActiveSetup) -> dict[str, str]:
    before, after = [], []
    new = {"product_code": package.product_code, "version": package.version}
    for plan in plans:
        user, current = plan.entry["user"], plan.current
        before.append(_msiexec.diff_state(current, user))
        if plan.entry["status"] == "changed":
            after.append(_msiexec.diff_state(None if plan.entry["action"] == "remove" else new, user))
        elif plan.entry["status"] == "pending":
            later = "at next logon (Active Setup)" if setup.wanted else "not logged on"
            after.append(_msiexec.diff_state(current, user).rstrip("\n") + f" (pending: {later})\n")
        else:
            after.append(_msiexec.diff_state(current, user))

    def setup_line(state: dict[str, t.Any] | None) -> str:
        return f"active setup: {state['version']} {state['stub_path']}\n" if state else "active setup: none\n"

    before.append(setup_line(setup.before))
    after.append(setup_line(None if setup.action == "remove" else setup.wanted or setup.before))
    return {"before": "".join(before), "after": "".join(after)}


def _act(
    host: WinHost,
    options: MsiOptions,
    package: Package,
    plans: list[UserPlan],
    setup: ActiveSetup,
    *,
    notes: list[str],
    upload: _package_source.Upload,
) -> _package_source.Delivered | None:
    """Carry out the plan; the package is delivered only when an install or Active Setup needs it there."""
    installs = any(p.entry["status"] == "changed" and p.entry["action"] != "remove" for p in plans)
    delivered = None
    if installs or setup.action in ("register", "update"):
        delivered = _package_source.deliver(host, options, package, notes=notes, upload=upload)
    if setup.action == "remove":
        host.run("Set-ActiveSetup", {"component": setup.component, "state": "absent"})
    elif setup.action != "none" and setup.wanted is not None:
        host.run("Set-ActiveSetup", {"component": setup.component, "state": "present", **setup.wanted})
    # One user after another: Windows Installer runs one installation per computer at a time.
    for who, entry, current in plans:
        if entry["status"] != "changed":
            continue
        if entry["action"] in ("remove", "downgrade") and current:
            outcome = _msiexec_as(host, options, who, "uninstall", current["product_code"], notes=notes)
            if outcome.get("failed") or entry["action"] == "remove":
                _record(entry, outcome)
                continue
        target = delivered.target if delivered else ""
        _record(entry, _msiexec_as(host, options, who, "install", target, notes=notes))
    return delivered


def _record(entry: dict[str, t.Any], outcome: dict[str, t.Any]) -> None:
    failed = bool(outcome.pop("failed", False))
    pending = bool(outcome.pop("pending", False))
    entry.update(outcome, status="failed" if failed else "pending" if pending else "changed")


def _msiexec_as(
    host: WinHost, options: MsiOptions, who: dict[str, t.Any], action: str, target: str, *, notes: list[str]
) -> dict[str, t.Any]:
    """msiexec in the user's own context: a one-shot task as that user, polled until it ends."""
    account = str(who.get("account") or who.get("name"))
    sid = str(who["sid"])
    run = _msiexec.prepare(options, action, target, account, sid)
    task = {"task_name": f"msi_package-{sid}", "task_path": TASK_PATH}

    def attempt() -> dict[str, t.Any]:
        start = {**task, "user": account, "command_line": run.command_line, "log_path": run.log_path}
        start["user_sid"] = sid
        registered = host.run("Register-UserInstallTask", start)
        if registered.get("log_acl") == "reset":
            folder = ntpath.dirname(run.log_path)
            notes.append(
                _package_source.folder_reset_note(f"{account}'s log folder", folder, registered.get("removed"))
            )
        deadline = time.monotonic() + options.user_timeout
        while True:
            remaining = deadline - time.monotonic()
            wait = max(1, math.ceil(min(WAIT_SECONDS, remaining)))
            query = {**task, "log_path": run.log_path, "wait_seconds": wait, "user_sid": who["sid"]}
            state = host.run("Wait-UserInstallTask", query)
            if state.get("state") == "UserLoggedOff":
                return {"rc": None, "logged_off": True, "log_tail": []}
            if state.get("finished"):
                # LastTaskResult is unsigned; from 0x80000000 on it is the task's launch HRESULT.
                launch_error = _msi.task_launch_error(int(state["rc"]))
                if launch_error is not None:
                    return {"rc": None, "launch_error": launch_error, "log_tail": []}
                return {"rc": int(state["rc"]), "log_tail": list(state.get("log_tail") or [])}
            if deadline - time.monotonic() <= 0:
                return {"rc": None, "log_tail": []}

    outcome, retries = _retry.retry_while(attempt, lambda r: _msiexec.busy(r["rc"]), float(options.busy_timeout))
    if outcome["rc"] is not None:
        return _msiexec.concluded(
            options, action, outcome["rc"], run, log_tail=outcome["log_tail"], retries=retries, who=account
        )
    result: dict[str, t.Any] = {
        "log_path": run.log_path,
        "busy_retries": retries,
        "restart_manager": options.restart_manager,
    }
    if outcome.get("logged_off"):
        # Nothing ran: like a user who was never logged on, the install waits for the next logon.
        return {
            **result,
            "pending": True,
            "msg": f"{account}: logged off before msiexec {action} could start in their session; "
            "task removed, nothing was changed for this user",
        }
    if outcome.get("launch_error"):
        return {
            **result,
            "failed": True,
            "msg": f"{account}: the scheduled task could not start msiexec {action}: {outcome['launch_error']}",
        }
    return {
        **result,
        "failed": True,
        "msg": f"{account}: msiexec {action} did not end within user_timeout={options.user_timeout}s; "
        f"task {TASK_PATH}{task['task_name']} is left in place, log {run.log_path}",
    }
