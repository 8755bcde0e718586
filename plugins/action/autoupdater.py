# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.autoupdater: turn the per-user auto-updater on or off for each user of a host.

One Get-AutoUpdater reads every user's install, hive and startup task; every decision is made here, for
all users before anything is written, so a host where one user lacks a requirement is left exactly as it
was. Then one Set-AutoUpdater applies what differs, for every user that needs it.
"""

from __future__ import annotations

import re
import typing as t
import urllib.parse

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _autoupdater, _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._autoupdater import Install
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    **_autoupdater.COMMON_SPEC,
    "state": {"type": "str", "choices": ["enabled", "disabled"], "default": "enabled"},
    "backend_url": {"type": "str"},
    "backend_certificate_thumbprint": {"type": "str"},
}
# Characters a thumbprint copied from the certificate dialog carries besides its hex digits
# (spaces between bytes, and an invisible left-to-right mark in front).
_THUMBPRINT_NOISE = re.compile(r"[\s:\u200e\u200f\ufeff]")


def backend_url(value: str) -> str:
    """The base URL the updater loads settings and packages from: https, the backend modules' URL rules."""
    url = value.strip().rstrip("/")
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise ValueError(
            f"backend_url must be an https URL like https://backend.example:8443, got {_backend.redact_url(url)!r}: "
            "the auto-updater loads its settings and packages from it, and over http anyone on the path could "
            "change them"
        )
    return _backend.connection_from({"backend_url": url}, {}).url


def thumbprint(value: str) -> str:
    """40 hexadecimal digits (the SHA-1 Windows names certificates by), upper case."""
    digits = _THUMBPRINT_NOISE.sub("", value)
    if not re.fullmatch(r"[0-9A-Fa-f]{40}", digits):
        raise ValueError(f"backend_certificate_thumbprint must be 40 hexadecimal digits, got {value!r}")
    return digits.upper()


def _wanted_task(install: Install, opts: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The startup task as a result shows it once registered (what Set-AutoUpdater registers)."""
    return {
        "execute": _autoupdater.updater_path(install, opts),
        "arguments": _autoupdater.UPDATER_ARGUMENT,
        "user_id": install.sid,
        "logon_type": "S4U",
        "run_level": "Limited",
        "triggers": [_autoupdater.BOOT_TRIGGER],
    }


def plan(install: Install, opts: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, t.Any] | None]:
    """What to write for one user: (policy values that differ, None to remove; the task or None, as after)."""
    policy = install.policy
    values: dict[str, t.Any] = {}
    if opts["state"] == "enabled":
        wanted = {"Enabled": 1, "BackendUrl": opts["backend_url"], "CertificateThumbprint": opts["thumbprint"]}
        for name, data in wanted.items():
            if policy.get(name) != data:
                values[name] = (
                    None if data is None else {"type": "DWord" if name == "Enabled" else "String", "data": data}
                )
        task = install.task if _autoupdater.task_in_place(install, opts) else _wanted_task(install, opts)
        return values, task
    # Disabled: Enabled=0 keeps the key, so an admin sees it was turned off; nothing set means never enabled.
    if policy.get("Enabled") != 0 and (any(v is not None for v in policy.values()) or install.task is not None):
        values["Enabled"] = {"type": "DWord", "data": 0}
    return values, None


def compare(install: Install, opts: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any] | None, dict[str, t.Any]]:
    """One user's Set-AutoUpdater entry (None when nothing differs) and result entry (before and after)."""
    values, task = plan(install, opts)
    policy = {**install.policy, **{k: None if v is None else v["data"] for k, v in values.items()}}
    change: dict[str, t.Any] = {"sid": install.sid, "profile": install.profile}
    if values:
        change["values"] = values
    if task is not None and task is not install.task:
        change.update(task="register", execute=task["execute"], argument=task["arguments"])
    elif task is None and install.task is not None:
        change["task"] = "unregister"
    changed = "values" in change or "task" in change
    entry = {
        "user": install.user,
        "sid": install.sid,
        "changed": changed,
        "before": _autoupdater.view(install.policy, install.task),
        "after": _autoupdater.view(policy, task),
    }
    return (change if changed else None), entry


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES: t.ClassVar[dict[str, t.Any]] = {"required_if": [("state", "enabled", ("backend_url",))]}
    _supports_diff = True

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        opts = _autoupdater.options(args)
        opts["state"] = args["state"]
        opts["backend_url"] = backend_url(args["backend_url"]) if args["state"] == "enabled" else None
        given = args.get("backend_certificate_thumbprint")
        opts["thumbprint"] = thumbprint(given) if given and args["state"] == "enabled" else None
        report = _autoupdater.read(host.run("Get-AutoUpdater", _autoupdater.query(opts)))
        installs, refused = self._checked(report, opts)
        if refused:
            verb = "enabled" if opts["state"] == "enabled" else "disabled"
            lines = " | ".join(f"{r['user'] or r['sid']}: {'; '.join(r['reasons'])}" for r in refused)
            msg = f"the auto-updater cannot be {verb} and nothing was changed: {lines}"
            return {"failed": True, "changed": False, "msg": msg, "refusals": refused, "users": []}
        results, changes = [], []
        for install in installs:
            change, entry = compare(install, opts)
            if change is not None:
                changes.append(change)
            results.append(entry)
        if changes and not self._task.check_mode:
            answer = host.run(
                "Set-AutoUpdater", {"policy_key": opts["policy_key"], "task_path": opts["task_path"], "users": changes}
            )
            applied = _answers.listed(answer, "users", "Set-AutoUpdater")
            sids = [a.get("sid") if isinstance(a, dict) else a for a in applied]
            _answers.only_sent(sids, [str(c["sid"]) for c in changes], "Set-AutoUpdater", "user")
        result: dict[str, t.Any] = {"changed": bool(changes), "users": results}
        warnings = [f"{i.label}: {p}" for i in installs for p in i.problems if p not in i.blocking]
        if report.machine:
            warnings.append(f"{opts['name']!r} is also installed per machine; {_autoupdater.PER_USER_ONLY}")
        if warnings:
            result["warnings"] = warnings
        if self._task.diff:
            result["diff"] = [
                {
                    "before_header": r["user"] or r["sid"],
                    "after_header": r["user"] or r["sid"],
                    "before": r["before"],
                    "after": r["after"],
                }
                for r in results
                if r["changed"]
            ]
        return result

    @staticmethod
    def _checked(
        report: _autoupdater.Report, opts: t.Mapping[str, t.Any]
    ) -> tuple[list[Install], list[dict[str, t.Any]]]:
        """The installs to act on, and every one's unmet requirements (all users are checked before any write).

        An answer that names no usable install raises ValueError.
        """
        if report.problems:
            raise ValueError(f"refused the host's answer: {'; '.join(report.problems)}; nothing was changed")
        refusal = _autoupdater.scope_refusal(report, opts["name"])
        if refusal:
            raise ValueError(f"{refusal}; nothing was changed")
        missing = _autoupdater.without_install(report, opts["users"])
        if missing:
            raise ValueError(
                f"no per-user install of {opts['name']!r} for: {', '.join(missing)}; {_autoupdater.PER_USER_ONLY}. "
                "Nothing was changed"
            )
        installs = _autoupdater.only_asked(report, opts["users"])
        refused = []
        for install in installs:
            if opts["state"] == "enabled":
                reasons = _autoupdater.unmet(install, report, opts)
            else:
                reasons = [f"its registry hive could not be read: {install.hive_error}"] if install.hive_error else []
            if reasons:
                refused.append({"user": install.user, "sid": install.sid, "reasons": reasons})
        return installs, refused
