# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What msi_package decides the same way for a machine and for each user: which installed product a
package replaces, what to do about it, one msiexec run's command line and log, and what its exit
code means. The per-machine run (Invoke-Msiexec) is here too; the per-user one, through a scheduled
task, is in _per_user.
"""

from __future__ import annotations

import ntpath
import re
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._package_source import Package, folder_reset_note
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

# An uninstall of a product that is not there has reached the task's goal.
NOT_INSTALLED = 1605
# Said with every run that let Restart Manager close applications: the user whose work was lost asks.
RM_ENABLED_WARNING = (
    "restart_manager=enable: msiexec {action} was allowed to shut down the applications holding the package's "
    "files, in every user's session and without asking; unsaved work in them is lost"
)


def installed_query(package: Package) -> dict[str, str | None]:
    """Get-InstalledProduct's question: the product family (UpgradeCode) finds older and newer versions
    under other ProductCodes, so it is asked for whenever it is known."""
    if package.upgrade_code:
        return {"upgrade_code": package.upgrade_code}
    return {"product_code": package.product_code}


def replaced(products: list[dict[str, t.Any]], package: Package) -> dict[str, t.Any] | None:
    """The installed product this package replaces: same ProductCode first, else the newest of its family."""
    same_code = [p for p in products if p.get("product_code", "").upper() == package.product_code]
    if same_code:
        return same_code[0]
    family = [p for p in products if package.upgrade_code and p.get("upgrade_code", "").upper() == package.upgrade_code]
    return max(family, key=lambda p: _msi.version_key(p["version"]), default=None)


def decide(options: MsiOptions, package: Package, current: dict[str, t.Any] | None) -> str:
    """install, upgrade, downgrade, remove or none: what brings ``current`` to the task's state."""
    if not options.present:
        return "remove" if current else "none"
    if current is None:
        return "install"
    if package.version is None:
        # Without a version, the same ProductCode installed is all we can check.
        return "none" if current["product_code"].upper() == package.product_code else "upgrade"
    order = _msi.compare_versions(current["version"], package.version)
    if order < 0:
        return "upgrade"
    if order > 0:
        return "downgrade" if options.allow_downgrade else "none"
    return "none"


def diff_state(product: dict[str, t.Any] | None, label: str) -> str:
    """One line of the diff: what ``label`` (the scope, or a user) has installed."""
    if not product:
        return f"{label}: not installed\n"
    return f"{label}: {product['product_code']} {product.get('version') or '(version unknown)'}\n"


@dataclass(frozen=True)
class MsiexecRun:
    """One msiexec run as the host gets it: its log file and its quoted command line."""

    log_path: str
    command_line: str


def prepare(options: MsiOptions, action: str, target: str, who: str = "", sid: str = "") -> MsiexecRun:
    """Log path and command line of one msiexec run (properties and transforms only install).

    A per-user run logs into ``log_dir\\<SID>``, a folder only that user, SYSTEM and Administrators may
    write (Register-UserInstallTask sets its ACL): the log folder itself is administrators-only, since
    elevated msiexec writes there.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = f"{action}-{re.sub(r'[^A-Za-z0-9._-]+', '_', who)}" if who else action
    # The SID names a folder: the same rule as for every SID a host answers with.
    folder = ntpath.join(options.log_dir, _answers.sid(sid, "Get-InstallUser")) if sid else options.log_dir
    log_path = ntpath.join(folder, f"msiexec-{label}-{stamp}.log")
    installing = action == "install"
    arguments = _msi.msiexec_arguments(
        action,
        target,
        log_path,
        _msi.with_secrets(options.properties, options.secret_properties) if installing else {},
        options.transforms if installing else (),
        restart_manager=options.restart_manager,
    )
    return MsiexecRun(log_path, _msi.command_line(arguments))


def busy(rc: int | None) -> bool:
    """Whether an exit code means another installation holds Windows Installer (worth waiting for)."""
    return rc is not None and _msi.exit_code(int(rc)).retry_when_busy


def concluded(
    options: MsiOptions, action: str, rc: int, run: MsiexecRun, *, log_tail: list[str], retries: int, who: str = ""
) -> dict[str, t.Any]:
    """The result of an msiexec run that ended with ``rc``, for a machine or for user ``who``."""
    code = _msi.exit_code(int(rc))
    result: dict[str, t.Any] = {
        "exit_code": code.code,
        "exit_code_meaning": code.meaning,
        "reboot_required": code.reboot_required,
        "log_path": run.log_path,
        "busy_retries": retries,
        "restart_manager": options.restart_manager,
    }
    if not (code.ok or (action == "uninstall" and code.code == NOT_INSTALLED)):
        result.update(
            failed=True,
            log_tail=log_tail,
            msg=(f"{who}: " if who else "")
            + f"msiexec {action} failed with exit code {code.code}: {code.meaning}"
            + (f" Log {run.log_path}, last line: {log_tail[-1]}" if log_tail else ""),
        )
    return result


def run_machine(
    host: WinHost,
    options: MsiOptions,
    action: str,
    target: str,
    notes: list[str],
    *,
    report: dict[str, str | None] | None = None,
) -> dict[str, t.Any]:
    """msiexec as the WinRM account (Invoke-Msiexec), retried while another installation runs.

    With ``report`` (an :func:`installed_query`), the same command reads what msiexec left registered; the
    result's ``registered`` has those products, for the task's version check without a command of its own.
    """
    run = prepare(options, action, target)
    request: dict[str, t.Any] = {
        "command_line": run.command_line,
        "log_path": run.log_path,
        "timeout_seconds": options.msiexec_timeout,
    }
    if report is not None:
        request["report"] = report
    cache = ntpath.normpath(options.cache_dir).rstrip("\\")
    if ntpath.normpath(target).lower().startswith(cache.lower() + "\\"):
        # Run from the cache only while it still has the ACL Initialize-PackageCache gave it.
        request["package_dir"] = cache

    def attempt() -> dict[str, t.Any]:
        outcome = host.run("Invoke-Msiexec", request)
        if outcome.get("log_acl") == "reset":
            notes.append(folder_reset_note("the log folder", ntpath.dirname(run.log_path), outcome.get("removed")))
        return outcome

    outcome, retries = _retry.retry_while(
        attempt, lambda r: not r.get("running") and busy(r["rc"]), float(options.busy_timeout)
    )
    if outcome.get("running"):
        pid = outcome.get("pid")
        return {
            "failed": True,
            "still_running": True,
            "log_path": run.log_path,
            "busy_retries": retries,
            "msg": (
                f"msiexec {action} is still running after msiexec_timeout={options.msiexec_timeout} s "
                f"(process {pid if isinstance(pid, int) else 'unknown'}); it was left to "
                "finish, since stopping it mid-transaction can leave the product half installed. "
                f"Its log is {run.log_path}; run again later (a rerun waits for it, as for 1618)."
            ),
        }
    result = concluded(
        options, action, outcome["rc"], run, log_tail=list(outcome.get("log_tail") or []), retries=retries
    )
    if options.restart_manager == "enable":
        result["warnings"] = [RM_ENABLED_WARNING.format(action=action)]
    if report is not None:
        result["registered"] = [dict(p) for p in _answers.listed(outcome, "products", "Invoke-Msiexec")]
    return result
