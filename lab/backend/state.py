"""What the reference backend knows, apart from HTTP: settings, sync slots, releases, lock, sessions.

Everything here runs on the backend's event loop thread, so no locks are needed: a
state change never yields in the middle. The throttle keeps its invariant (never more
than ``max_parallel_syncs`` slots held) by construction: a slot is only ever created by
:meth:`Throttle._grant`, which checks it, and the peak is recorded there.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import math
import re
import secrets
import time
import typing as t
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FEATURES_9_2 = ("settings", "releases", "update_lock", "sessions")
THROTTLE_FEATURE = "sync_throttle"
LOCK_STATES = ("released", "announced", "locked")
# A queued client that stops asking loses its place (and a slot granted to it) this long after its
# Retry-After ran out: long enough for a slow client, short enough that a crashed one blocks nobody long.
QUEUE_GRACE_SECONDS = 5.0
MAX_RETRY_AFTER = 60
CLOSED_SESSIONS_KEPT = 1000
WAITS_KEPT = 100_000  # the latest grants' waits kept for statistics: bounded, so a long-running lab stays small
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class ApiError(Exception):
    """An answer other than success: HTTP status, stable code, message for a person, and the field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, t.Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out


def parse_version(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"backend version must look like 9.3.2, got {version!r}")
    major, minor, patch = (int(x) for x in match.groups())
    return major, minor, patch


def has_throttle(version: str) -> bool:
    """The sync throttle exists from backend 9.3 on."""
    return parse_version(version)[:2] >= (9, 3)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


# ---- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    minimum: int
    maximum: int
    default: int | None


# Mirrors docs/backend-api.yaml (a lab test compares them). Intervals are seconds.
SETTINGS: dict[str, Limit] = {
    "update_check_interval": Limit(300, 2_592_000, 86_400),
    "error_interval": Limit(60, 604_800, 3_600),
    "download_attempts": Limit(1, 100, 5),
    "process_check_interval": Limit(10, 3_600, 120),
    "process_check_attempts": Limit(1, 10_000, 120),
    "install_attempts": Limit(1, 100, 5),
    "max_parallel_syncs": Limit(1, 100_000, None),
}
NULLABLE = frozenset({"max_parallel_syncs"})
THROTTLE_SETTINGS = frozenset({"max_parallel_syncs"})


def default_settings(version: str) -> dict[str, int | None]:
    names = [n for n in SETTINGS if has_throttle(version) or n not in THROTTLE_SETTINGS]
    return {name: SETTINGS[name].default for name in names}


def validate_settings_update(update: dict[str, t.Any], version: str) -> dict[str, int | None]:
    """The update as clean values, or ApiError 422 for the first bad field (nothing is applied then)."""
    clean: dict[str, int | None] = {}
    for name, value in update.items():
        limit = SETTINGS.get(name)
        if limit is None:
            raise ApiError(422, "invalid", f"unknown setting {name!r}; known: {', '.join(SETTINGS)}", field=name)
        if name in THROTTLE_SETTINGS and not has_throttle(version):
            raise ApiError(
                422,
                "feature_unavailable",
                f"{name} needs backend 9.3 or later (the sync throttle); this backend is {version}",
                field=name,
            )
        if value is None and name in NULLABLE:
            clean[name] = None
            continue
        # JSON has one number type: 5.0 is the integer 5 (JSON Schema agrees), 5.5 is not.
        number = int(value) if isinstance(value, float) and value.is_integer() else value
        if isinstance(number, bool) or not isinstance(number, int):
            kind = "an integer or null" if name in NULLABLE else "an integer"
            raise ApiError(422, "invalid", f"{name} must be {kind}, got {value!r}", field=name)
        if not limit.minimum <= number <= limit.maximum:
            raise ApiError(
                422, "invalid", f"{name} must be between {limit.minimum} and {limit.maximum}, got {value}", field=name
            )
        clean[name] = number
    return clean


# ---- sync throttle -----------------------------------------------------------------------------------


@dataclass
class Slot:
    slot_id: str
    client: str
    granted_at: float
    expires_at: float
    # A slot granted to a polling client while it was away waits for it to come back and pick it up.
    picked_up: bool
    picked_up_at: float
    queued_at: float | None = None  # statistics: when its client entered the queue (None: granted at once)

    def public(self, lease: float, offset: float) -> dict[str, t.Any]:
        """As the API shows it; ``offset`` turns the throttle's monotonic times into wall-clock times."""
        return {
            "slot_id": self.slot_id,
            "client": self.client,
            "granted_at": iso(self.granted_at + offset),
            "expires_at": iso(self.expires_at + offset),
            "lease_seconds": lease,
        }


@dataclass
class Waiter:
    client: str
    expires_at: float
    future: asyncio.Future[Slot] | None = None
    queued_at: float = 0.0


@dataclass
class Wait:
    """Answer to a client that must wait: its place in the queue and when to ask again."""

    queue_position: int
    retry_after: int
    in_use: int
    limit: int


class Throttle:
    """Sync slots with leases and a first-come queue; ``limit`` None means no limit."""

    def __init__(
        self,
        lease_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError("lease_seconds must be > 0")
        self.lease = float(lease_seconds)
        self.clock = clock
        self.wall = wall
        self.limit: int | None = None
        self.slots: dict[str, Slot] = {}
        self.by_client: dict[str, str] = {}
        self.queue: OrderedDict[str, Waiter] = OrderedDict()
        self.peak = 0
        self.granted_total = 0
        self.released_total = 0
        self.expired_total = 0
        # Seconds a slot is typically held (None until a sync finished): Retry-After grows with it so polling
        # clients neither hammer the backend nor come back long after their slot was set aside for them.
        self.mean_hold: float | None = None
        # Statistics only (benchmarks read them in-process; the API's usage() stays as the contract says).
        self.throttled_total = 0  # answers "wait" (the API's 429)
        self.queue_peak = 0  # most clients waiting at once (see _waiting)
        self.waits: deque[float] = deque(maxlen=WAITS_KEPT)  # seconds from queueing to the slot in hand
        self.queue_seconds = 0.0  # integral of the clients waiting over time
        self.queue_busy_seconds = 0.0  # time during which somebody waited
        self._queue_at = clock()

    # -- queries
    def public(self, slot: Slot) -> dict[str, t.Any]:
        return slot.public(self.lease, self.wall() - self.clock())

    def free(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - len(self.slots))

    def usage(self) -> dict[str, t.Any]:
        self.sweep()
        return {
            "max_parallel_syncs": self.limit,
            "in_use": len(self.slots),
            "waiting": len(self.queue),
            "peak_in_use": self.peak,
            "granted_total": self.granted_total,
            "released_total": self.released_total,
            "expired_total": self.expired_total,
            "lease_seconds": self.lease,
        }

    def statistics(self) -> dict[str, t.Any]:
        """What the throttle did so far: peak slots, waits answered, queue lengths and waits for a slot."""
        self._account_queue(self.clock())
        return {
            **self.usage(),
            "throttled_total": self.throttled_total,
            "queue_peak": self.queue_peak,
            "queue_seconds": self.queue_seconds,
            "queue_busy_seconds": self.queue_busy_seconds,
            "waits": list(self.waits),
        }

    # -- changes
    def set_limit(self, limit: int | None) -> None:
        self.limit = limit
        self._promote(self.clock())

    def acquire(self, client: str) -> Slot | Wait:
        """A slot for ``client`` now (a held one is renewed), or its place in the queue."""
        now = self.clock()
        self.sweep(now)
        held = self.by_client.get(client)
        if held is not None:
            slot = self.slots[held]
            if not slot.picked_up:
                self._pick_up(slot, now)
            slot.expires_at = now + self.lease
            return slot
        free = self.free()
        # _promote keeps "queue non-empty implies no free slot", so a free slot here is nobody's turn but ours.
        if free is None or (free > 0 and not self.queue):
            self.waits.append(0.0)
            return self._grant(client, now, picked_up=True)
        waiter = self.queue.get(client)
        if waiter is None:
            waiter = self.queue[client] = Waiter(client, now, queued_at=now)
            self.queue_peak = max(self.queue_peak, self._waiting())
        self.throttled_total += 1
        wait = self._wait_for(client)
        if waiter.future is None:
            waiter.expires_at = now + wait.retry_after + QUEUE_GRACE_SECONDS
        return wait

    async def acquire_waiting(self, client: str, wait_seconds: float) -> Slot | Wait:
        """Like :meth:`acquire`, but a queued client waits here up to ``wait_seconds`` for its turn."""
        result = self.acquire(client)
        if isinstance(result, Slot) or wait_seconds <= 0:
            return result
        waiter = self.queue[client]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Slot] = loop.create_future()
        waiter.future = future
        waiter.expires_at = self.clock() + wait_seconds + QUEUE_GRACE_SECONDS
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_seconds)
        except TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()
            if self.queue.get(client) is waiter and waiter.future is future:
                waiter.future = None
            return self.acquire(client)
        finally:
            if not future.done():
                future.cancel()

    def release(self, slot_id: str) -> bool:
        now = self.clock()
        slot = self.slots.pop(slot_id, None)
        if slot is None:
            self.sweep(now)
            return False
        self.by_client.pop(slot.client, None)
        self.released_total += 1
        if slot.picked_up:
            held = max(0.0, now - slot.picked_up_at)
            self.mean_hold = held if self.mean_hold is None else 0.8 * self.mean_hold + 0.2 * held
        self.sweep(now)
        return True

    def renew(self, slot_id: str) -> Slot | None:
        now = self.clock()
        self.sweep(now)
        slot = self.slots.get(slot_id)
        if slot is None:
            return None
        if not slot.picked_up:
            self._pick_up(slot, now)
        slot.expires_at = now + self.lease
        return slot

    def sweep(self, now: float | None = None) -> None:
        """Expire leases and forgotten places in the queue, then hand free slots to the queue."""
        now = self.clock() if now is None else now
        self._account_queue(now)
        for slot_id in [s.slot_id for s in self.slots.values() if s.expires_at <= now]:
            slot = self.slots.pop(slot_id)
            self.by_client.pop(slot.client, None)
            self.expired_total += 1
        for client in [
            w.client for w in self.queue.values() if (w.future is None or w.future.done()) and w.expires_at <= now
        ]:
            del self.queue[client]
        self._promote(now)

    # -- internals
    def _grant(self, client: str, now: float, picked_up: bool, expires_at: float | None = None) -> Slot:
        if self.limit is not None and len(self.slots) >= self.limit:
            raise AssertionError("throttle invariant: no free slot to grant")
        slot = Slot(secrets.token_hex(12), client, now, expires_at or now + self.lease, picked_up, now)
        self.slots[slot.slot_id] = slot
        self.by_client[client] = slot.slot_id
        self.granted_total += 1
        self.peak = max(self.peak, len(self.slots))
        return slot

    def _pick_up(self, slot: Slot, now: float) -> None:
        """The client came back for the slot set aside for it: its wait ends now."""
        slot.picked_up, slot.picked_up_at = True, now
        if slot.queued_at is not None:
            self.waits.append(max(0.0, now - slot.queued_at))

    def _waiting(self) -> int:
        """Clients told to wait that have no slot in hand yet: the queue and the slots set aside for the absent."""
        return len(self.queue) + sum(1 for s in self.slots.values() if not s.picked_up)

    def _account_queue(self, now: float) -> None:
        """Add the time since the last change to the queue's statistics; called before the queue changes."""
        span = max(0.0, now - self._queue_at)
        if span > 0:
            waiting = self._waiting()
            self.queue_seconds += span * waiting
            self.queue_busy_seconds += span if waiting else 0.0
        self._queue_at = now

    def _promote(self, now: float) -> None:
        self._account_queue(now)
        while self.queue:
            free = self.free()
            if free is not None and free <= 0:
                return
            client, waiter = self.queue.popitem(last=False)
            if waiter.future is not None and not waiter.future.done():
                self.waits.append(max(0.0, now - waiter.queued_at))
                waiter.future.set_result(self._grant(client, now, picked_up=True))
            else:
                # Held for the client until its place would have expired; then the lease sweep frees it.
                expires_at = max(waiter.expires_at, now + QUEUE_GRACE_SECONDS)
                self._grant(client, now, picked_up=False, expires_at=expires_at).queued_at = waiter.queued_at

    def _wait_for(self, client: str) -> Wait:
        position = list(self.queue).index(client) + 1
        limit = self.limit or 1
        rounds = math.ceil(position / limit)
        estimate = 0.0 if self.mean_hold is None else rounds * self.mean_hold
        retry_after = int(min(MAX_RETRY_AFTER, max(1, math.ceil(estimate))))
        return Wait(position, retry_after, len(self.slots), limit)


# ---- releases ----------------------------------------------------------------------------------------


@dataclass
class ReleaseFile:
    path: str
    sha256: str
    size: int


@dataclass
class Package:
    variant: str
    version: str
    msi: ReleaseFile
    payload: list[ReleaseFile]


def _file(root: Path, path: Path) -> ReleaseFile:
    data = path.read_bytes()
    return ReleaseFile(path.relative_to(root).as_posix(), hashlib.sha256(data).hexdigest(), len(data))


def scan_packages(root: Path | None) -> list[Package]:
    """Packages as ``python -m lab.msi build`` lays them out: ``<variant>-<version>/<name>.msi`` and ``payload/``."""
    if root is None or not root.is_dir():
        return []
    packages: list[Package] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        variant, _sep, version = folder.name.partition("-")
        msis = sorted(folder.glob("*.msi"))
        if variant not in ("machine", "user") or not _VERSION.match(version) or len(msis) != 1:
            continue
        payload_dir = folder / "payload"
        payload = sorted(p for p in payload_dir.rglob("*") if p.is_file()) if payload_dir.is_dir() else []
        packages.append(Package(variant, version, _file(root, msis[0]), [_file(root, p) for p in payload]))
    return packages


def default_channels(packages: list[Package]) -> dict[str, str]:
    versions = sorted({p.version for p in packages}, key=parse_version)
    return {"stable": versions[-1]} if versions else {}


# ---- update lock and sessions ------------------------------------------------------------------------


@dataclass
class Lock:
    state: str = "released"
    message: str | None = None
    override_users: list[str] = field(default_factory=list)
    changed_at: float | None = None
    window_started_at: float | None = None

    def public(self) -> dict[str, t.Any]:
        return {
            "state": self.state,
            "message": self.message,
            "override_users": list(self.override_users),
            "changed_at": iso(self.changed_at),
            "window_started_at": iso(self.window_started_at),
        }

    def may_override(self, user: str) -> bool:
        # Windows account names compare case-insensitively.
        return user.casefold() in {u.casefold() for u in self.override_users}


@dataclass
class Session:
    session_id: str
    host: str
    user: str
    started_at: float
    override: bool
    notice: str | None
    restart_after_update: bool = False
    closed_at: float | None = None

    def public(self) -> dict[str, t.Any]:
        return {
            "session_id": self.session_id,
            "host": self.host,
            "user": self.user,
            "state": "open" if self.closed_at is None else "closed",
            "started_at": iso(self.started_at),
            "closed_at": iso(self.closed_at),
            "restart_after_update": self.restart_after_update,
            "override": self.override,
            "notice": self.notice,
        }


class Sessions:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self.open: dict[str, Session] = {}
        self.closed: deque[Session] = deque(maxlen=CLOSED_SESSIONS_KEPT)

    def start(self, host: str, user: str, override: bool, lock: Lock) -> Session:
        if override and not lock.may_override(user):
            raise ApiError(403, "forbidden", f"user {user!r} may not override the update lock (not in override_users)")
        if lock.state == "locked" and not override:
            message = lock.message or "An update is running; the application cannot start now."
            raise ApiError(423, "update_locked", message)
        notice = lock.message if lock.state == "announced" else None
        session = Session(secrets.token_hex(8), host, user, self.wall(), override, notice)
        self.open[session.session_id] = session
        return session

    def get_open(self, session_id: str) -> Session:
        session = self.open.get(session_id)
        if session is None:
            raise ApiError(404, "not_found", f"no open session {session_id!r}")
        return session

    def close(self, session_id: str) -> None:
        session = self.get_open(session_id)
        del self.open[session_id]
        session.closed_at = self.wall()
        self.closed.append(session)

    def listing(self, state: str) -> list[dict[str, t.Any]]:
        chosen: list[Session] = []
        if state in ("open", "all"):
            chosen += self.open.values()
        if state in ("closed", "all"):
            chosen += self.closed
        return [s.public() for s in sorted(chosen, key=lambda s: s.started_at)]


# ---- the server cluster -------------------------------------------------------------------------------


class ClusterView(t.Protocol):
    """The high-availability cluster the backend runs on, as the fleet hands it over (lab.host.cluster)."""

    @property
    def finished_updates(self) -> int:
        """How many updates the last server finished (renewed the schema of the production database)."""
        ...

    def info(self) -> dict[str, t.Any]:
        """``{name, members: [{name, version, mode}], update_in_progress, updated, total}``."""
        ...


@dataclass
class Production:
    """What the production database held when the first server went into update mode."""

    finished_updates: int
    settings: dict[str, int | None]
    lock: Lock


# ---- client reports ----------------------------------------------------------------------------------

# What an auto-updater says its last check ended with (the LastOutcome values it leaves on the host).
OUTCOMES = ("none", "no_update", "installed", "error", "apps_running", "unrecoverable")
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\\-]{0,255}$")
# RFC 3339 date-time, as the contract's format says; kept as sent (the client's clock, not the backend's).
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass
class ClientReport:
    client: str
    version: str
    last_check: str
    outcome: str
    reported_at: float

    def public(self) -> dict[str, t.Any]:
        return {
            "client": self.client,
            "version": self.version,
            "last_check": self.last_check,
            "outcome": self.outcome,
            "reported_at": iso(self.reported_at),
        }


class Clients:
    """The latest report of every auto-updater: which version each client runs and how its last check went."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self.reports: dict[str, ClientReport] = {}

    def report(self, client: str, data: dict[str, t.Any]) -> ClientReport:
        """Validate and keep one report; ApiError 422 naming the first bad field."""
        if not CLIENT_ID.match(client):
            raise ApiError(422, "invalid", "client must be a computer name, optionally with \\user", field="client")
        version = data.get("version")
        if not isinstance(version, str) or not _VERSION.match(version):
            raise ApiError(422, "invalid", f"version must look like 9.3.2, got {version!r}", field="version")
        last_check = data.get("last_check")
        if not isinstance(last_check, str) or not DATE_TIME.match(last_check):
            raise ApiError(422, "invalid", "last_check must be an RFC 3339 date-time", field="last_check")
        outcome = data.get("outcome")
        if outcome not in OUTCOMES:
            raise ApiError(422, "invalid", f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        record = ClientReport(client, version, last_check, str(outcome), self.wall())
        self.reports[client.casefold()] = record
        return record

    def listing(self) -> list[dict[str, t.Any]]:
        return [r.public() for r in sorted(self.reports.values(), key=lambda r: r.client.casefold())]
