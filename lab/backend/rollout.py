"""The rollout through the auto-updater, as the backend keeps it: rings offered one after the other.

The state lives at the backend so that a later run (a cron job, a scheduled template) continues
where the last one stopped. A ring sees the rollout's version only while the rollout runs and
the ring is published; everybody else keeps what the channel offered before. The channel itself
moves to the new version only when every ring passed its gate. HTTP-free, like ``state``: the
routes in ``rollout_routes`` and the unit tests' fake backend drive the same code.
"""

from __future__ import annotations

import re
import secrets
import time
import typing as t
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from lab.backend.state import CLIENT_ID, ApiError, ClientReport, Clients, iso, parse_version

ROLLOUT_STATES = ("none", "running", "paused", "finished", "stopped")
RING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_CHANNEL = "stable"
DEFAULT_CRITERION = 95
MAX_RINGS = 20
MAX_RING_CLIENTS = 10_000
MAX_REASON = 1000
# Seed 003's restriction, in the refusal, so whoever defined the rollout learns why at once.
NOT_AN_UPDATE = (
    "a customizing change without a version change is not an update: the auto-updater installs only a newer version"
)
# The outcomes that mean a client tried the offered version and did not get it installed.
FAILED_OUTCOMES = ("error", "unrecoverable")


def computer_of(client: str) -> str:
    """The computer part of a client id ``COMPUTER\\user``, case-folded."""
    return client.split("\\", 1)[0].casefold()


def _invalid(message: str, name: str) -> ApiError:
    return ApiError(422, "invalid", message, field=name)


@dataclass
class Gate:
    passed_at: float | None = None
    stopped_at: float | None = None
    reason: str | None = None

    def public(self) -> dict[str, t.Any]:
        return {"passed_at": iso(self.passed_at), "stopped_at": iso(self.stopped_at), "reason": self.reason}


@dataclass
class Ring:
    name: str
    clients: list[str]
    published_at: float | None = None
    gate: Gate = field(default_factory=Gate)

    def has(self, client: str) -> bool:
        # Client ids are computer and user names: Windows compares them case-insensitively. An entry
        # without a backslash is a computer and holds each of its users (the controller knows hosts).
        entries = {c.casefold() for c in self.clients}
        return client.casefold() in entries or computer_of(client) in entries

    def public(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "clients": list(self.clients),
            "published_at": iso(self.published_at),
            "gate": self.gate.public(),
        }


@dataclass
class Rollout:
    rollout_id: str
    version: str
    channel: str
    rings: list[Ring]
    criterion_percent: float
    created_at: float
    updated_at: float
    state: str = "running"
    note: str | None = None

    def ring(self, name: str) -> Ring:
        for ring in self.rings:
            if ring.name == name:
                return ring
        raise ApiError(404, "not_found", f"the rollout of {self.version} has no ring {name!r}")

    def public(self) -> dict[str, t.Any]:
        return {
            "id": self.rollout_id,
            "version": self.version,
            "channel": self.channel,
            "state": self.state,
            "rings": [r.public() for r in self.rings],
            "criterion_percent": self.criterion_percent,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "note": self.note,
        }


NO_ROLLOUT: dict[str, t.Any] = {
    "id": None,
    "version": None,
    "channel": None,
    "state": "none",
    "rings": [],
    "criterion_percent": None,
    "created_at": None,
    "updated_at": None,
    "note": None,
}


def parse_rings(value: t.Any) -> list[Ring]:
    """``[{name, clients}]`` as rings; 422 naming the first problem (a client in two rings is one)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RINGS:
        raise _invalid(f"rings must be a list of 1 to {MAX_RINGS} rings", "rings")
    rings: list[Ring] = []
    seen: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "clients"}:
            raise _invalid("each ring must be an object with name and clients (nothing else)", "rings")
        name = item["name"]
        if not isinstance(name, str) or not RING_NAME.match(name):
            raise _invalid(
                "a ring name is 1 to 64 letters, digits, '.', '_' or '-', starting with one of the first two", "rings"
            )
        if any(r.name == name for r in rings):
            raise _invalid(f"ring {name!r} is listed twice", "rings")
        clients = item["clients"]
        if not isinstance(clients, list) or len(clients) > MAX_RING_CLIENTS:
            raise _invalid(f"ring {name!r}: clients must be a list of at most {MAX_RING_CLIENTS} client ids", "rings")
        for client in clients:
            if not isinstance(client, str) or not CLIENT_ID.match(client):
                raise _invalid(f"ring {name!r}: {client!r} is not a client id (COMPUTER or COMPUTER\\user)", "rings")
            other = seen.setdefault(client.casefold(), name)
            if other != name or clients.count(client) > 1:
                raise _invalid(f"client {client!r} is in ring {other!r} and again in ring {name!r}", "rings")
        rings.append(Ring(name, list(clients)))
    # A computer entry holds its users: one of them listed in another ring would be in two rings.
    computers = {c.casefold(): r.name for r in rings for c in r.clients if "\\" not in c}
    for ring in rings:
        for client in ring.clients:
            other = computers.get(computer_of(client), ring.name) if "\\" in client else ring.name
            if other != ring.name:
                raise _invalid(
                    f"client {client!r} is in ring {ring.name!r} and its computer in ring {other!r}", "rings"
                )
    return rings


def parse_criterion(value: t.Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise _invalid(
            f"criterion_percent must be a number above 0 and at most 100, got {value!r}", "criterion_percent"
        )
    return value


class Rollouts:
    """The backend's one rollout (or none). ``channels`` is the backend's own dict: finishing moves it."""

    def __init__(
        self, channels: dict[str, str], versions: Collection[str], wall: Callable[[], float] = time.time
    ) -> None:
        self.channels = channels
        self.versions = versions
        self.wall = wall
        self.current: Rollout | None = None

    def public(self) -> dict[str, t.Any]:
        return self.current.public() if self.current is not None else dict(NO_ROLLOUT)

    def _get(self) -> Rollout:
        if self.current is None:
            raise ApiError(404, "not_found", "no rollout is defined (PUT /rollout defines one)")
        return self.current

    # -- what a client sees
    def visible_version(self, channel: str, client: str | None) -> str | None:
        """The rollout's version for a client of a published ring while the rollout runs; else None."""
        rollout = self.current
        if rollout is None or rollout.state != "running" or rollout.channel != channel or not client:
            return None
        if any(r.published_at is not None and r.has(client) for r in rollout.rings):
            return rollout.version
        return None

    # -- changes
    def define(self, data: dict[str, t.Any]) -> bool:
        """Define the rollout, or keep the one of the same version and channel; True when a new one began."""
        version = data.get("version")
        if not isinstance(version, str):
            raise _invalid("version must look like 9.3.2", "version")
        try:
            wanted = parse_version(version)
        except ValueError as exc:
            raise _invalid(f"version must look like 9.3.2, got {version!r}", "version") from exc
        channel = data.get("channel", DEFAULT_CHANNEL)
        if not isinstance(channel, str) or channel not in self.channels:
            raise ApiError(404, "not_found", f"no channel {channel!r}; channels: {', '.join(sorted(self.channels))}")
        rings = parse_rings(data.get("rings"))
        criterion = parse_criterion(data["criterion_percent"]) if "criterion_percent" in data else DEFAULT_CRITERION
        now = self.wall()
        current = self.current
        if current is not None and (current.version, current.channel) == (version, channel):
            self._keep(current, rings, criterion, now)
            return False
        offered = self.channels[channel]
        if wanted <= parse_version(offered):
            raise ApiError(
                422,
                "not_an_update",
                f"channel {channel!r} offers {offered} today and {version} is not newer; {NOT_AN_UPDATE}",
                field="version",
            )
        if version not in self.versions:
            raise ApiError(404, "not_found", f"the backend has no package of version {version}")
        note = f"replaces the rollout of {current.version} ({current.state})" if current is not None else None
        self.current = Rollout(secrets.token_hex(8), version, channel, rings, criterion, now, now, note=note)
        return True

    def _keep(self, rollout: Rollout, rings: list[Ring], criterion: float, now: float) -> None:
        """Same version: the rings may change; what a ring of the same name went through stays."""
        before = {r.name: r for r in rollout.rings}
        if [(r.name, r.clients) for r in rings] == [(r.name, r.clients) for r in rollout.rings] and (
            criterion == rollout.criterion_percent
        ):
            return
        if rollout.state in ("finished", "stopped"):
            raise ApiError(409, "conflict", f"the rollout of {rollout.version} is {rollout.state}; its rings stay")
        for ring in rings:
            old = before.get(ring.name)
            if old is not None:
                ring.published_at, ring.gate = old.published_at, old.gate
        rollout.rings, rollout.criterion_percent, rollout.updated_at = rings, criterion, now

    def publish(self, name: str) -> None:
        rollout = self._get()
        ring = rollout.ring(name)
        if rollout.state in ("paused", "stopped"):
            raise ApiError(
                409, "conflict", f"the rollout of {rollout.version} is {rollout.state}; nothing is published"
            )
        if ring.published_at is None:
            ring.published_at = rollout.updated_at = self.wall()

    def gate(self, name: str, data: dict[str, t.Any]) -> None:
        rollout = self._get()
        ring = rollout.ring(name)
        passed = data.get("passed")
        if not isinstance(passed, bool):
            raise _invalid("passed must be true or false", "passed")
        reason = data.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            raise _invalid(f"reason must be null or a string of at most {MAX_REASON} characters", "reason")
        if ring.published_at is None:
            raise ApiError(409, "conflict", f"ring {name!r} is not published yet; its gate has nothing to judge")
        if (ring.gate.passed_at if passed else ring.gate.stopped_at) is not None:
            return  # the same verdict again keeps its time
        if rollout.state in ("finished", "stopped"):
            raise ApiError(409, "conflict", f"the rollout of {rollout.version} is {rollout.state}")
        now = self.wall()
        rollout.updated_at = now
        ring.gate.reason = reason
        if passed:
            ring.gate.passed_at = now
            self._finish_if_done(rollout)
        else:
            ring.gate.stopped_at = now
            rollout.state = "stopped"
            rollout.note = f"ring {name} did not pass its gate" + (f": {reason}" if reason else "")

    def set_state(self, data: dict[str, t.Any]) -> None:
        rollout = self._get()
        state = data.get("state")
        if state not in ("paused", "running"):
            raise _invalid(f"state must be paused or running, got {state!r}", "state")
        if state == rollout.state:
            return
        if rollout.state not in ("paused", "running"):
            raise ApiError(
                409, "conflict", f"the rollout of {rollout.version} is {rollout.state}; it cannot be {state}"
            )
        rollout.state, rollout.updated_at = state, self.wall()
        self._finish_if_done(rollout)

    def _finish_if_done(self, rollout: Rollout) -> None:
        if rollout.state == "running" and all(r.gate.passed_at is not None for r in rollout.rings):
            self.channels[rollout.channel] = rollout.version
            rollout.state = "finished"
            rollout.note = f"every ring passed; channel {rollout.channel} offers {rollout.version} to every client"

    # -- progress
    def progress(self, clients: Clients) -> dict[str, t.Any]:
        rollout = self.current
        if rollout is None:
            keys = ("id", "version", "channel", "state", "criterion_percent")
            return {**{k: NO_ROLLOUT[k] for k in keys}, "rings": []}
        return {
            "id": rollout.rollout_id,
            "version": rollout.version,
            "channel": rollout.channel,
            "state": rollout.state,
            "criterion_percent": rollout.criterion_percent,
            "rings": [ring_progress(r, rollout, clients.reports) for r in rollout.rings],
        }


def ring_progress(ring: Ring, rollout: Rollout, reports: dict[str, ClientReport]) -> dict[str, t.Any]:
    """Where each client of ``ring`` stands, from its last report (client ids as the ring lists them).

    A computer entry counts each of its users that reported, by the id its updater reports; a computer
    none of whose users reported yet counts once, as not reporting, so a host that is off does not pass.
    """
    wanted = parse_version(rollout.version)
    kinds: dict[str, list[str]] = {"adopted": [], "pending": [], "failed": [], "not_reporting": []}
    listed = {c.casefold() for c in ring.clients}
    members: list[str] = []
    for entry in ring.clients:
        if "\\" in entry:
            members.append(entry)
            continue
        users = sorted(
            (r.client for r in reports.values() if computer_of(r.client) == entry.casefold()), key=str.casefold
        )
        members.extend([u for u in users if u.casefold() not in listed] or [entry])
    for client in members:
        report = reports.get(client.casefold())
        if report is not None and parse_version(report.version) >= wanted:
            kinds["adopted"].append(client)
        elif report is None or (ring.published_at is not None and report.reported_at < ring.published_at):
            kinds["not_reporting"].append(client)
        elif report.outcome in FAILED_OUTCOMES and ring.published_at is not None:
            kinds["failed"].append(client)
        else:
            kinds["pending"].append(client)
    percent = round(100.0 * len(kinds["adopted"]) / len(members), 1) if members else 100.0
    return {
        "name": ring.name,
        "clients": list(ring.clients),
        "published_at": iso(ring.published_at),
        **kinds,
        "percent_adopted": percent,
        "criterion_met": percent >= rollout.criterion_percent,
    }
