# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Office gate over a host: one query, the wait, and what each reports.

Shared by ``office_processes`` and by ``msi_package``, which runs the gate right before msiexec in
the same task; both give the same answers and results because both go through here. The decisions
of the wait are :class:`_office.Gate`'s; this module binds its three callables to the primitives.
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _office, _sessions
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

# The wait's options, the same in office_processes and in msi_package's office_gate.
WAIT_SPEC: dict[str, dict[str, t.Any]] = {
    "processes": {"type": "list", "elements": "str", "default": list(_office.DEFAULT_PROCESSES)},
    "interval": {"type": "int", "default": 120},
    "attempts": {"type": "int", "default": 120},
    "notify": {"type": "bool", "default": False},
    "message": {"type": "str", "default": _office.DEFAULT_MESSAGE},
    "title": {"type": "str", "default": _office.DEFAULT_TITLE},
    "remind_interval": {"type": "int", "default": 0},
    "force": {"type": "bool", "default": False},
    "deadline": {"type": "int"},
}
_PROCESS_KEYS = ("pid", "name", "session_id", "user", "start_time")


def configured(args: t.Mapping[str, t.Any]) -> tuple[_office.Settings, list[str]]:
    """The wait's settings and process names from options shaped like :data:`WAIT_SPEC`, checked together."""
    names = _office.process_names(args["processes"])
    config = _office.settings(
        interval=args["interval"],
        attempts=args["attempts"],
        notify=args["notify"],
        remind_interval=args["remind_interval"],
        force=args["force"],
        deadline=args["deadline"],
    )
    if config.notify:
        _sessions.check_message(args["message"], args["title"])
    return config, names


def query(host: WinHost, names: list[str]) -> dict[str, t.Any]:
    """The sessions and the named processes running now (one Get-SessionProcess)."""
    return snapshot(host.run("Get-SessionProcess", {"names": names}), names, "Get-SessionProcess")


def snapshot(found: t.Any, names: list[str], primitive: str) -> dict[str, t.Any]:
    """A host's listing of its sessions and the named processes (Get-RwSessionProcess's answer), checked."""
    if not isinstance(found, dict):
        raise _answers.HostAnswerError(primitive, f"the session listing must be an object, got {type(found).__name__}")
    return {
        "sessions": list(found.get("sessions") or []),
        # The PIDs go back to the host as what to stop: only processes asked about by name are taken.
        "processes": [
            {k: p.get(k) for k in _PROCESS_KEYS}
            for p in (
                _answers.process_of(proc, names, primitive) for proc in _answers.listed(found, "processes", primitive)
            )
        ],
    }


def wait(
    host: WinHost,
    config: _office.Settings,
    names: list[str],
    *,
    message: str,
    title: str,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
    first: dict[str, t.Any] | None = None,
) -> dict[str, t.Any]:
    """Wait until none of ``names`` runs, messaging and closing as ``config`` allows; the result of :func:`waited`.

    ``first`` is a :func:`snapshot` the host has just taken in another command: the first poll, without one
    of its own."""

    def notify(session_ids: list[int]) -> list[dict[str, t.Any]]:
        sent = host.run("Send-SessionMessage", {"session_ids": session_ids, "title": title, "text": message})
        return list(sent.get("sessions") or [])

    def stop(processes: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        targets = [{k: p[k] for k in ("pid", "name", "start_time")} for p in processes]
        return list(host.run("Stop-SessionProcess", {"processes": targets}).get("processes") or [])

    gate = _office.Gate(config, lambda: query(host, names), notify, stop, clock=clock, sleep=sleep, first=first)
    outcome = gate.run()
    return waited(outcome, config)


def report(snapshot: dict[str, t.Any], config: _office.Settings, waiting: bool) -> dict[str, t.Any]:
    """state=query, or state=absent in check mode: one query, and what the wait would do about it."""
    running = snapshot["processes"]
    result: dict[str, t.Any] = {
        "changed": False,
        "processes": running,
        "users": sorted(_office.users_summary(running)),
        "sessions": snapshot["sessions"],
        "polls": 1,
    }
    if not waiting:
        return result
    would_notify = _office.sessions_of(running) if config.notify else []
    # With force, these are the ones closed if still open at the deadline.
    would_close = running if config.force else []
    result.update(
        changed=bool(would_notify or would_close),
        would_notify=would_notify,
        would_close=would_close,
        remaining=running,
    )
    if running:
        steps = ["message " + ", ".join(str(s["user"]) for s in would_notify)] if would_notify else []
        steps.append(f"wait up to {config.window:g}s for {_office.describe_users(running)}")
        if would_close:
            steps.append(f"close what is still open after {config.deadline}s (unsaved data would be lost)")
        result["msg"] = "check mode: would " + ", then ".join(steps)
    return result


def waited(outcome: _office.Outcome, config: _office.Settings) -> dict[str, t.Any]:
    sent = [n for n in outcome.notified if n["sent"]]
    result: dict[str, t.Any] = {
        "changed": bool(sent or outcome.closed),
        "processes": outcome.initial,
        "users": sorted(_office.users_summary(outcome.initial)),
        "sessions": outcome.sessions,
        "remaining": outcome.remaining,
        "users_still_working": sorted(_office.users_summary(outcome.remaining)),
        "notified": outcome.notified,
        "closed": outcome.closed,
        "polls": outcome.polls,
        "elapsed": outcome.elapsed,
    }
    warnings = [
        f"could not message session {n['session_id']} ({n['user']}): {n['error']}"
        for n in outcome.notified
        if not n["sent"]
    ]
    if outcome.closed:
        result["unsaved_data_lost"] = True
        warnings.append(
            f"closed {len(outcome.closed)} Office application(s) after the deadline of {config.deadline}s: "
            f"{_office.describe_users(outcome.closed)}; unsaved data in them is lost"
        )
    if warnings:
        result["warnings"] = warnings
    if outcome.ok:
        result["msg"] = f"no Office application runs (after {outcome.polls} poll(s), {outcome.elapsed:g}s)" + (
            f"; force-closed: {_office.describe_users(outcome.closed)}, unsaved data lost" if outcome.closed else ""
        )
        return result
    not_closed = "".join(
        f"; could not close {p['name']} (PID {p['pid']}) of {p['user']}: {p.get('error') or p['status']}"
        for p in outcome.not_closed
    )
    result.update(
        failed=True,
        msg=(
            f"Office applications still run after {outcome.polls} poll(s) over {outcome.elapsed:g}s; "
            f"users still working: {_office.describe_users(outcome.remaining)}{not_closed}"
            + (
                ""
                if config.force
                else ". Nothing was closed; force=true with a deadline would close them (unsaved data is lost)"
            )
        ),
    )
    return result
