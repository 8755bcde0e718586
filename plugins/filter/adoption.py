# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate of a wave rolled out through the auto-updater, from the backend's view of its ring.

With the auto-updater the controller does not install anything: a wave is done when its clients'
updaters report the version. The role polls the backend and asks this filter after each poll
whether the wave's gate passes, must stop the rollout, or cannot be decided yet, and for the line
that says so. Waiting and stopping differ by whether a client may still report, which is more than
a comparison, so it lives here, tested. The documentation of each filter is the sidecar ``<filter>.yml``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

# The ring's client lists in the backend's progress answer (GET /rollout/progress).
KINDS = ("adopted", "pending", "failed", "not_reporting")
# Clients named in a message before "and N more": a ring can hold thousands.
NAMED = 5


def _moment(value: t.Any) -> datetime:
    """A time as the backend writes it (ISO 8601, ``Z`` for UTC), an epoch number or a datetime, in UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise TypeError(f"expected a time (ISO 8601 text, epoch seconds or a datetime), got {value!r}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """A span as a person reads it in a status line: ``45 s``, ``12 min``, ``3 h``, ``2 d 4 h``."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    days, hours = divmod(seconds // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _names(clients: list[str]) -> str:
    more = len(clients) - NAMED
    return ", ".join(clients[:NAMED]) + (f" and {more} more" if more > 0 else "")


def adoption_verdict(
    progress: Mapping[str, t.Any],
    criterion: float,
    min_age: float = 0,
    now: t.Any = None,
    version: str | None = None,
) -> dict[str, t.Any]:
    """The gate's verdict on one ring's progress: ``pass``, ``stop``, ``wait`` or ``early``, and its message.

    ``pass`` when the adopted share reaches ``criterion`` (percent; 0 passes at once) and the ring was
    published at least ``min_age`` seconds before ``now``. ``stop`` when it does not and no client can
    still change that (none pending, none not reporting): failed clients count as not done. ``wait``
    while a client may still report. ``early`` when the share is reached but the ring is too young;
    ``retry_at`` then says from when it can pass. A ring not published yet waits.
    """
    lists = {kind: list(progress.get(kind) or []) for kind in KINDS}
    total = sum(len(clients) for clients in lists.values())
    adopted = len(lists["adopted"])
    open_clients = lists["pending"] + lists["not_reporting"]
    percent = round(100.0 * adopted / total, 1) if total else 100.0
    met = 100 * adopted >= float(criterion) * total
    name = str(progress.get("name", "the ring"))
    what = f" {version}" if version else ""
    share = f"{percent:g} % adopted{what} ({adopted} of {total})"
    gate = f"gate at {float(criterion):g} %"
    published = progress.get("published_at")
    result: dict[str, t.Any] = {
        "ring": name,
        "total": total,
        "adopted": adopted,
        "percent": percent,
        "open": open_clients,
        "failed": lists["failed"],
        "age": None,
        "retry_at": None,
    }
    if not published:
        return {**result, "verdict": "wait", "message": f"{name} is not published yet, {share}, {gate}"}
    moment = _moment(now) if now is not None else datetime.now(UTC)
    age = (moment - _moment(published)).total_seconds()
    result["age"] = age
    head = f"{name} published {duration(age)} ago, {share}, {gate}"
    if met and age >= float(min_age):
        return {**result, "verdict": "pass", "message": f"{name} passed its gate: {share}, {gate}"}
    if met:
        ready = _moment(published) + timedelta(seconds=float(min_age))
        result["retry_at"] = _iso(ready)
        message = (
            f"{head}; its gate passes no earlier than {duration(float(min_age))} after the publish "
            f"(rollout_wave_min_age): run again from {_iso(ready)}"
        )
        return {**result, "verdict": "early", "message": message}
    if not open_clients:
        failed = f"; failed: {_names(lists['failed'])}" if lists["failed"] else ""
        message = f"{name}: every client reported and {share}, below the {gate}{failed}"
        return {**result, "verdict": "stop", "message": message}
    waiting = f"{len(open_clients)} client(s) not done yet ({_names(open_clients)})"
    return {**result, "verdict": "wait", "message": f"{head}; {waiting}; run again to continue"}


def seconds_since(moment: t.Any, now: t.Any = None) -> float:
    """Seconds from ``moment`` (a time as the backend writes it) to ``now`` (default the controller's clock).

    The soak before a wave counts from when the earlier wave passed, maybe in an earlier run, so the
    role needs the span between a backend time and now whatever the controller's time zone.
    """
    later = _moment(now) if now is not None else datetime.now(UTC)
    return (later - _moment(moment)).total_seconds()


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"adoption_verdict": adoption_verdict, "seconds_since": seconds_since}
