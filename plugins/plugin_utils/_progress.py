# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollout did to which host, per play, wave and batch: the model behind its progress lines and report.

It holds no Ansible objects (the callback feeds it names and statuses), so tests can drive it with a
fake clock; the report it builds is plain JSON-ready data that ``_progress_report`` renders.
"""

from __future__ import annotations

import re
import time
import typing as t
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

FAILED_STATES = ("failed", "unreachable")
UNASSIGNED = "unassigned"
# The fact a rollout play sets (roles/rollout) to say what it rolls out and how; the callback reads it
# from the task's result, so no play or host variable has to be looked up.
RUN_FACT = "rollout_progress_run"
# What it may say about the run, each kept as given (the latest value wins): see the callback's documentation.
RUN_KEYS = ("product", "version", "method", "strategy")
GATE_KEYS = ("success_percentage", "soak_seconds", "approval", "max_fail_percentage")
ADOPTION_KEYS = ("published", "adopted", "pending", "failed")
_TEXT_LIMIT = 200
_REASON_LIMIT = 2000
_NUMBER_RE = re.compile(r"(\d+)")


def natural_key(name: str) -> list[t.Any]:
    """Sort key that puts the pilot first, wave_10 after wave_9 and hosts in no wave last."""
    rank = 0 if name == "pilot" else 2 if name == UNASSIGNED else 1
    return [rank, *[int(part) if part.isdigit() else part for part in _NUMBER_RE.split(name)]]


def _count(value: t.Any) -> int:
    """A count from a published fact; anything that is not a whole non-negative number counts as 0."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _scalar(value: t.Any) -> t.Any:
    """A published value as the report keeps it: numbers and booleans as they are, anything else as bounded text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:_TEXT_LIMIT]


def _stamp(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class HostState:
    wave: str
    status: str = "pending"
    task: str | None = None
    msg: str | None = None


@dataclass
class BatchRecord:
    number: int
    hosts: list[str]
    waves: list[str]
    started: float
    ended: float | None = None
    halted: bool = False
    # Why the rollout stopped after this batch, when a gate (a run_once task) said so.
    stop_reason: str | None = None


@dataclass
class PlayRecord:
    name: str
    uuid: str
    hosts: dict[str, HostState]
    waves: dict[str, list[str]]
    batches: list[BatchRecord] = field(default_factory=list)
    wave_started: dict[str, float] = field(default_factory=dict)
    wave_ended: dict[str, float] = field(default_factory=dict)
    # Per wave, what the rollout method itself counted (the auto-updater's backend); push counts from hosts.
    adoption: dict[str, dict[str, int]] = field(default_factory=dict)


class RolloutProgress:
    """What happened to which host, per play and wave; no Ansible objects, so tests can drive it.

    ``clock`` measures elapsed times (monotonic), ``wall`` stamps the report.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.wall = wall
        self.started_wall = wall()
        self.started = clock()
        self.ended: float | None = None
        self.plays: list[PlayRecord] = []
        # What the rollout play published about itself (RUN_FACT), and each host's version before it.
        self.run: dict[str, t.Any] = {}
        self.previous: dict[str, str | None] = {}

    @property
    def play(self) -> PlayRecord | None:
        return self.plays[-1] if self.plays else None

    def start_play(self, name: str, uuid: str, wave_of: dict[str, str]) -> bool:
        """Start a play, or return False when it is the next batch of the current one."""
        if self.play is not None and self.play.uuid == uuid:
            return False
        waves: dict[str, list[str]] = {}
        for host, wave in wave_of.items():
            waves.setdefault(wave, []).append(host)
        ordered = {wave: waves[wave] for wave in sorted(waves, key=natural_key)}
        self.plays.append(PlayRecord(name, uuid, {h: HostState(w) for h, w in wave_of.items()}, ordered))
        return True

    def start_batch(self, hosts: Iterable[str]) -> list[str]:
        """A new batch of the current play; ends the previous one. Returns the waves whose lines to print."""
        play = self.play
        if play is None:
            return []
        finished = self.end_batch()
        now = self.clock()
        names = [host for host in hosts if host in play.hosts]
        waves = sorted({play.hosts[host].wave for host in names}, key=natural_key)
        play.batches.append(BatchRecord(len(play.batches) + 1, names, waves, now))
        for host in names:
            if play.hosts[host].status == "pending":
                play.hosts[host].status = "running"
        for wave in waves:
            play.wave_started.setdefault(wave, now)
        return finished

    def end_batch(self) -> list[str]:
        """Close the running batch: its hosts that did not fail are done (or stopped if the batch was halted)."""
        play = self.play
        if play is None or not play.batches or play.batches[-1].ended is not None:
            return []
        batch = play.batches[-1]
        batch.ended = self.clock()
        for host in batch.hosts:
            state = play.hosts[host]
            if state.status == "running":
                # A gate that stops the rollout ran after the batch's hosts had finished their work.
                state.status = "stopped" if batch.halted and not batch.stop_reason else "done"
        for wave in batch.waves:
            play.wave_ended[wave] = batch.ended
        return batch.waves

    def halt(self) -> None:
        """Ansible gave up on the running batch (max_fail_percentage exceeded, or every host failed)."""
        play = self.play
        if play is not None and play.batches and play.batches[-1].ended is None:
            play.batches[-1].halted = True

    def stop_after_batch(self, task: str, msg: str | None) -> None:
        """A gate of the running batch failed: the rollout stops after it, though its hosts are done."""
        play = self.play
        if play is not None and play.batches and play.batches[-1].ended is None:
            play.batches[-1].stop_reason = f"{task}: {msg or ''}"[:_REASON_LIMIT]

    def describe(self, fact: t.Any) -> None:
        """What a rollout play published (RUN_FACT); each batch adds its hosts' versions before the rollout."""
        if not isinstance(fact, Mapping):
            return
        for key in (*RUN_KEYS, *GATE_KEYS):
            if fact.get(key) not in (None, ""):
                self.run[key] = _scalar(fact[key])
        previous = fact.get("previous")
        if isinstance(previous, Mapping):
            self.previous.update(
                {str(h): None if v in (None, "") else str(v)[:_TEXT_LIMIT] for h, v in previous.items()}
            )
        waves = fact.get("waves")
        play = self.play
        if isinstance(waves, Mapping) and play is not None:
            for wave, counts in waves.items():
                if isinstance(counts, Mapping):
                    play.adoption[str(wave)] = {key: _count(counts.get(key)) for key in ADOPTION_KEYS}

    def record(self, host: str, status: str, task: str, msg: str | None = None) -> None:
        """A task result; the first failure of a host is the reason the report gives."""
        play = self.play
        if play is None:
            return
        state = play.hosts.get(host)
        if state is None:
            # A host the play did not list at its start (add_host, delegate_to): not part of any wave.
            state = play.hosts[host] = HostState(UNASSIGNED, "running")
            play.waves.setdefault(UNASSIGNED, []).append(host)
        if status in FAILED_STATES:
            if state.status not in FAILED_STATES:
                state.status, state.task, state.msg = status, task, (msg or "")[:_REASON_LIMIT]
        elif state.status == "pending":
            state.status = "running"

    def wave_summary(self, play: PlayRecord, wave: str) -> dict[str, t.Any]:
        hosts = play.waves.get(wave, [])
        counts = dict.fromkeys(("pending", "running", "done", "failed", "unreachable", "stopped"), 0)
        for host in hosts:
            counts[play.hosts[host].status] += 1
        started = play.wave_started.get(wave)
        running = any(play.hosts[h].status == "running" for h in hosts)
        end = self.clock() if running or wave not in play.wave_ended else play.wave_ended[wave]
        elapsed = (end - started) if started is not None else 0.0
        finished = counts["done"] + counts["failed"] + counts["unreachable"]
        return {
            "wave": wave,
            "total": len(hosts),
            "done": counts["done"],
            "failed": counts["failed"] + counts["unreachable"],
            "unreachable": counts["unreachable"],
            "stopped": counts["stopped"],
            "remaining": counts["pending"] + counts["running"] + counts["stopped"],
            "elapsed": round(elapsed, 3),
            "rate_per_min": round(finished / elapsed * 60, 2) if elapsed > 0 else None,
        }

    def adoption_of(self, play: PlayRecord, wave: str) -> dict[str, t.Any]:
        """Published, adopted, pending, failed: as the method counted them, else from the hosts (push).

        With push a host is published when its batch started, adopted when its batch ended without a
        failure of it (the version check of the install included), pending while it runs, when it was
        unreachable or its batch was stopped.
        """
        counted = play.adoption.get(wave)
        if counted is not None:
            return {"wave": wave, **counted}
        states = [play.hosts[h].status for h in play.waves.get(wave, [])]
        published = sum(status != "pending" for status in states)
        adopted, failed = states.count("done"), states.count("failed")
        return {
            "wave": wave,
            "published": published,
            "adopted": adopted,
            "pending": published - adopted - failed,
            "failed": failed,
        }

    def _event(self, moment: float, wave: str, event: str, batch: int, detail: str | None = None) -> dict[str, t.Any]:
        offset = moment - self.started
        return {
            "at": _stamp(self.started_wall + offset),
            "offset": round(offset, 3),
            "wave": wave,
            "event": event,
            "batch": batch,
            "detail": detail,
        }

    def timeline(self, play: PlayRecord) -> list[dict[str, t.Any]]:
        """When each wave started, passed its gate (its last batch ended and the rollout went on) or stopped.

        Times are the callback's own, taken when Ansible started and ended each batch: a gate's verdict,
        soak and approval all happen at the end of the batch they judge.
        """
        events: list[dict[str, t.Any]] = []
        last_batch = {wave: b.number for b in play.batches for wave in b.waves}
        seen: set[str] = set()
        for batch in play.batches:
            events += [self._event(batch.started, w, "started", batch.number) for w in batch.waves if w not in seen]
            seen.update(batch.waves)
            if batch.ended is None:
                continue
            for wave in batch.waves:
                if batch.halted or batch.stop_reason:
                    why = (
                        batch.stop_reason
                        or "Ansible ended the batch (max_fail_percentage exceeded or every host failed)"
                    )
                    events.append(self._event(batch.ended, wave, "stopped", batch.number, why))
                elif last_batch[wave] == batch.number and all(
                    play.hosts[h].status != "pending" for h in play.waves.get(wave, [])
                ):
                    events.append(self._event(batch.ended, wave, "passed", batch.number))
        return events

    def line(self, wave: str) -> str:
        play = self.play
        if play is None:
            return f"rollout {wave}: no play has started"
        s = self.wave_summary(play, wave)
        rate = f"{s['rate_per_min']:.1f} hosts/min" if s["rate_per_min"] is not None else "-"
        return (
            f"rollout {wave}: done {s['done']}/{s['total']}, failed {s['failed']}, remaining {s['remaining']}, "
            f"elapsed {format_duration(s['elapsed'])}, rate {rate}"
        )

    def running_waves(self) -> list[str]:
        play = self.play
        if play is None or not play.batches or play.batches[-1].ended is not None:
            return []
        return play.batches[-1].waves

    def finish(self) -> None:
        self.end_batch()
        self.ended = self.clock()

    def report(self) -> dict[str, t.Any]:
        plays = []
        failed = []
        for play in self.plays:
            plays.append(
                {
                    "name": play.name,
                    "waves": [self.wave_summary(play, wave) for wave in play.waves],
                    "batches": [
                        {
                            "batch": b.number,
                            "waves": b.waves,
                            "size": len(b.hosts),
                            "hosts": b.hosts,
                            "halted": b.halted,
                            "stop_reason": b.stop_reason,
                            "elapsed": round((b.ended if b.ended is not None else self.clock()) - b.started, 3),
                        }
                        for b in play.batches
                    ],
                    "hosts": {name: state.status for name, state in play.hosts.items()},
                    "adoption": [self.adoption_of(play, wave) for wave in play.waves],
                    "timeline": self.timeline(play),
                }
            )
            failed += [
                {"host": name, "play": play.name, "wave": s.wave, "status": s.status, "task": s.task, "msg": s.msg}
                for name, s in play.hosts.items()
                if s.status in FAILED_STATES
            ]
        stops = [
            {"play": p.name, "batch": b.number, "waves": b.waves, "reason": b.stop_reason}
            for p in self.plays
            for b in p.batches
            if b.stop_reason
        ]
        end = self.ended if self.ended is not None else self.clock()
        return {
            "started": _stamp(self.started_wall),
            "elapsed": round(end - self.started, 3),
            "ok": not failed and not stops and all(s.status != "stopped" for p in self.plays for s in p.hosts.values()),
            "plays": plays,
            "failed_hosts": failed,
            "stopped_by_gate": stops,
            "rollout": self.run_summary(),
        }

    def run_summary(self) -> dict[str, t.Any]:
        """What was rolled out and how; None where the rollout play said nothing (a play without the role)."""
        before: dict[str | None, int] = {}
        for version in self.previous.values():
            before[version] = before.get(version, 0) + 1
        return {
            "described": bool(self.run),
            "product": self.run.get("product"),
            "version_before": [
                {"version": v, "hosts": n} for v, n in sorted(before.items(), key=lambda item: (-item[1], str(item[0])))
            ],
            "version_after": self.run.get("version"),
            "method": self.run.get("method"),
            "strategy": self.run.get("strategy"),
            "gates": {key: self.run.get(key) for key in GATE_KEYS},
        }
