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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

FAILED_STATES = ("failed", "unreachable")
UNASSIGNED = "unassigned"
_REASON_LIMIT = 2000
_NUMBER_RE = re.compile(r"(\d+)")


def natural_key(name: str) -> list[t.Any]:
    """Sort key that puts the pilot first, wave_10 after wave_9 and hosts in no wave last."""
    rank = 0 if name == "pilot" else 2 if name == UNASSIGNED else 1
    return [rank, *[int(part) if part.isdigit() else part for part in _NUMBER_RE.split(name)]]


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
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started_wall)),
            "elapsed": round(end - self.started, 3),
            "ok": not failed and not stops and all(s.status != "stopped" for p in self.plays for s in p.hosts.values()),
            "plays": plays,
            "failed_hosts": failed,
            "stopped_by_gate": stops,
        }
