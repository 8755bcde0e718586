# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.rollout_progress: live progress per wave and a rollout report at the end."""

from __future__ import annotations

# ansible-test (validate-modules) wants the documentation above every import.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: rollout_progress
type: aggregate
short_description: Live progress per rollout wave, and a JSON, Markdown and HTML report at the end
version_added: 0.1.0
author: rollout.windows maintainers (@rollout-windows)
description:
  - Adds to the normal output (it is an C(aggregate) callback, the stdout callback stays as it is).
  - Whenever a batch of a play ends (with C(serial), a wave or a piece of one), prints one line per
    wave of that batch - hosts done, failed, remaining, the elapsed time and the rate - and, while a
    batch runs, the same lines every O(interval) seconds (at the first task event after the interval;
    a callback has no clock of its own).
  - The wave of a host is its wave group (a group whose name matches O(wave_groups), such as C(pilot)
    or C(wave_3)) or, with O(wave_var), the value of that host variable. Hosts in no wave count under
    C(unassigned).
  - At the end of the playbook it writes a report to O(report_dir) - JSON, a Markdown page and a
    self-contained HTML page with a bar chart per wave (inline SVG, no external assets) - naming every
    failed and unreachable host with the task and message that failed it. Text from host answers is
    escaped in both pages, so HTML or Markdown links in it come out as plain text.
  - A host is C(done) when its batch ended without a failure, C(failed) or C(unreachable) from its first
    failing task on, C(stopped) when its batch was ended early (C(max_fail_percentage) exceeded or every
    host failed), and C(pending) when its batch never started, which is where a stopped rollout leaves
    the later waves.
  - A failed C(run_once) task (a gate between waves) stops the rollout after its batch; the report
    names the batch and the gate's message under C(stopped_by_gate), not the host the task ran on.
  - A play with the play variable C(rollout_progress_ignore=true) (a preparation play) is left out.
  - Off unless enabled, with C(callbacks_enabled = rollout.windows.rollout_progress) in the
    C([defaults]) section of C(ansible.cfg) or E(ANSIBLE_CALLBACKS_ENABLED=rollout.windows.rollout_progress).
requirements:
  - enable it in C(callbacks_enabled)
options:
  report_dir:
    description:
      - Folder for the report files; created when missing, readable only by the user running
        C(ansible-playbook) (mode C(0700)). Relative paths are relative to the working directory of
        C(ansible-playbook).
      - Refused when it is a symbolic link, belongs to another user or others may write to it.
      - Reports are new files of mode C(0600); an existing file (or a link) of the same name is left
        alone and the report gets a numbered name beside it (C(report-1.md)).
    type: path
    default: rollout-reports
    env:
      - name: ROLLOUT_PROGRESS_REPORT_DIR
    ini:
      - section: callback_rollout_progress
        key: report_dir
  report_name:
    description:
      - File name of the report without extension, passed through C(strftime) with the start time of the
        playbook, so the default writes one set of files per run.
    type: str
    default: rollout-%Y%m%dT%H%M%S
    env:
      - name: ROLLOUT_PROGRESS_REPORT_NAME
    ini:
      - section: callback_rollout_progress
        key: report_name
  formats:
    description: Which report files to write; an empty list writes none (the live lines stay).
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
    env:
      - name: ROLLOUT_PROGRESS_FORMATS
    ini:
      - section: callback_rollout_progress
        key: formats
  interval:
    description:
      - Seconds between progress lines while a batch runs; C(0) prints only when a batch ends.
    type: float
    default: 30
    env:
      - name: ROLLOUT_PROGRESS_INTERVAL
    ini:
      - section: callback_rollout_progress
        key: interval
  wave_groups:
    description: A regular expression; a group whose whole name matches it is a wave.
    type: str
    default: pilot|wave_\d+
    env:
      - name: ROLLOUT_PROGRESS_WAVE_GROUPS
    ini:
      - section: callback_rollout_progress
        key: wave_groups
  wave_var:
    description:
      - A host variable that names the wave of a host, for fleets whose waves are not groups. It is read
        once per host at the start of each play, with every inventory source and group_vars applied.
    type: str
    env:
      - name: ROLLOUT_PROGRESS_WAVE_VAR
    ini:
      - section: callback_rollout_progress
        key: wave_var
notes:
  - The report names hosts and task messages, not variables; task results with C(no_log) show
    ansible's censored message only.
"""

import html
import json
import os
import re
import stat
import time
import typing as t
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback import CallbackBase

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


# Markdown punctuation that would turn a host's text into a link, an image, code or a new cell. The
# underscore stays: inside a word (wave_1) it never emphasises, and emphasis carries nothing active.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def _md_cell(value: t.Any) -> str:
    """Host answers are untrusted: HTML is escaped and Markdown punctuation made literal, so nothing renders."""
    text = "" if value is None else str(value)
    text = html.escape(text, quote=False).replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", "<br>")


def render_markdown(report: dict[str, t.Any]) -> str:
    out = ["# Rollout report", "", f"Started {report['started']}, took {format_duration(report['elapsed'])}."]
    out.append("Result: **" + ("every host done" if report["ok"] else "not every host done") + "**.")
    for play in report["plays"]:
        out += ["", f"## Play: {_md_cell(play['name'])}", ""]
        out += ["| wave | hosts | done | failed | unreachable | stopped | remaining | elapsed | rate |"]
        out += ["|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for w in play["waves"]:
            rate = f"{w['rate_per_min']:.1f}/min" if w["rate_per_min"] is not None else "-"
            out.append(
                f"| {_md_cell(w['wave'])} | {w['total']} | {w['done']} | {w['failed']} | {w['unreachable']} "
                f"| {w['stopped']} | {w['remaining']} | {format_duration(w['elapsed'])} | {rate} |"
            )
        out += ["", f"{len(play['batches'])} batch(es): " + ", ".join(f"{b['size']}" for b in play["batches"])]
    for stop in report["stopped_by_gate"]:
        waves = _md_cell(", ".join(stop["waves"]))
        out += ["", f"**Stopped after batch {stop['batch']}** ({waves}): {_md_cell(stop['reason'])}"]
    out += ["", "## Failed and unreachable hosts", ""]
    if report["failed_hosts"]:
        out += ["| host | wave | status | task | message |", "|---|---|---|---|---|"]
        for f in report["failed_hosts"]:
            out.append(
                f"| {_md_cell(f['host'])} | {_md_cell(f['wave'])} | {_md_cell(f['status'])} | {_md_cell(f['task'])} "
                f"| {_md_cell(f['msg'])} |"
            )
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


_COLOURS = {"done": "#2e7d32", "failed": "#c62828", "stopped": "#ef6c00", "remaining": "#9e9e9e"}


def render_svg(waves: list[dict[str, t.Any]]) -> str:
    """A horizontal stacked bar per wave: done, failed (with unreachable), stopped, not yet run."""
    bar_width, label_width, row = 480, 110, 26
    height = row * len(waves) + 30
    width = label_width + bar_width + 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="hosts per wave">'
    ]
    for index, w in enumerate(waves):
        y = index * row + 4
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(str(w["wave"]))}</text>')
        total = max(w["total"], 1)
        x = float(label_width)
        segments = (
            ("done", w["done"]),
            ("failed", w["failed"]),
            ("stopped", w["stopped"]),
            ("remaining", w["remaining"] - w["stopped"]),
        )
        for kind, count in segments:
            if count <= 0:
                continue
            span = bar_width * count / total
            parts.append(
                f'<rect class="{kind}" x="{x:.1f}" y="{y}" width="{span:.1f}" height="18" fill="{_COLOURS[kind]}">'
                f"<title>{kind}: {count}</title></rect>"
            )
            x += span
        parts.append(
            f'<text x="{label_width + bar_width + 6}" y="{y + 15}" font-size="12">{w["done"]}/{w["total"]}</text>'
        )
    legend_y = row * len(waves) + 22
    x = label_width
    for kind, colour in _COLOURS.items():
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y}" font-size="12">{kind}</text>')
        x += 90
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, t.Any]) -> str:
    e = html.escape
    body = [
        "<h1>Rollout report</h1>",
        f"<p>Started {e(report['started'])}, took {e(format_duration(report['elapsed']))}. Result: "
        f"<strong>{'every host done' if report['ok'] else 'not every host done'}</strong>.</p>",
    ]
    for play in report["plays"]:
        body.append(f"<h2>Play: {e(str(play['name']))}</h2>")
        body.append(render_svg(play["waves"]))
        body.append(
            "<table><tr><th>wave</th><th>hosts</th><th>done</th><th>failed</th><th>unreachable</th>"
            "<th>stopped</th><th>remaining</th><th>elapsed</th><th>rate</th></tr>"
        )
        for w in play["waves"]:
            rate = f"{w['rate_per_min']:.1f}/min" if w["rate_per_min"] is not None else "-"
            body.append(
                f"<tr><td>{e(str(w['wave']))}</td><td>{w['total']}</td><td>{w['done']}</td><td>{w['failed']}</td>"
                f"<td>{w['unreachable']}</td><td>{w['stopped']}</td><td>{w['remaining']}</td>"
                f"<td>{e(format_duration(w['elapsed']))}</td><td>{e(rate)}</td></tr>"
            )
        body.append("</table>")
    for stop in report["stopped_by_gate"]:
        body.append(
            f"<p><strong>Stopped after batch {stop['batch']}</strong> ({e(', '.join(stop['waves']))}): "
            f"{e(str(stop['reason']))}</p>"
        )
    body.append("<h2>Failed and unreachable hosts</h2>")
    if report["failed_hosts"]:
        body.append("<table><tr><th>host</th><th>wave</th><th>status</th><th>task</th><th>message</th></tr>")
        for f in report["failed_hosts"]:
            body.append(
                f"<tr><td>{e(str(f['host']))}</td><td>{e(str(f['wave']))}</td><td>{e(f['status'])}</td>"
                f"<td>{e(str(f['task'] or ''))}</td><td><pre>{e(str(f['msg'] or ''))}</pre></td></tr>"
            )
        body.append("</table>")
    else:
        body.append("<p>None.</p>")
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "pre{margin:0;white-space:pre-wrap;max-width:60em}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Rollout report</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def report_folder(folder: Path) -> Path:
    """The report folder, created 0700; refused when it is a symlink or others may write to it.

    Reports hold host names, failures and messages; a folder another user controls would let them
    read the reports or plant a link that makes the controller write elsewhere.
    """
    if folder.is_symlink():
        raise AnsibleError(f"rollout report folder {folder} is a symlink; give a real folder in report_dir")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise AnsibleError(f"rollout report folder {folder} is not a folder")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AnsibleError(
            f"rollout report folder {folder} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            "use a folder only you can write to (chmod 700)"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise AnsibleError(f"rollout report folder {folder} belongs to another user; use a folder of your own")
    return folder


def write_report(folder: Path, stem: str, suffix: str, text: str) -> Path:
    """Create a new 0600 file; never follow a link or reuse a file that exists (a counter makes the name unique)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(1000):
        path = folder / (f"{stem}{suffix}" if attempt == 0 else f"{stem}-{attempt}{suffix}")
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    raise AnsibleError(f"rollout report: no free name for {stem}{suffix} in {folder}")


def failure_reason(result: t.Mapping[str, t.Any]) -> str:
    """The message that explains a failure: msg first, then what a command printed."""
    for key in ("msg", "stderr", "stdout", "exception"):
        value = result.get(key)
        if value:
            return str(value).strip()
    return "failed without a message"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "rollout.windows.rollout_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: t.Any = None) -> None:
        super().__init__(display)
        self.progress = RolloutProgress()
        self._last_line = 0.0
        self._wave_re: re.Pattern[str] | None = None
        self.written: list[Path] = []
        # False while a play that asked to be left out runs (vars: rollout_progress_ignore: true).
        self._watching = True

    # ---- wiring -----------------------------------------------------------------------------

    def _wave_pattern(self) -> re.Pattern[str]:
        if self._wave_re is None:
            self._wave_re = re.compile(self.get_option("wave_groups"))
        return self._wave_re

    def _wave_of(self, host: t.Any, play: t.Any) -> str:
        wave_var = self.get_option("wave_var")
        if wave_var:
            # Without the play: its magic variables would list every play host for every host (n squared);
            # inventory variables and group_vars are all a wave can come from.
            manager = play.get_variable_manager()
            value = manager.get_vars(host=host, include_hostvars=False).get(wave_var)
            return str(value) if value not in (None, "") else UNASSIGNED
        pattern = self._wave_pattern()
        waves = sorted((g.name for g in host.get_groups() if pattern.fullmatch(g.name)), key=natural_key)
        # A host in two waves is refused by the planning filter; here the first wave wins.
        return waves[0] if waves else UNASSIGNED

    def _print(self, waves: Iterable[str]) -> None:
        for wave in waves:
            self._display.display(self.progress.line(wave))
        self._last_line = self.progress.clock()

    def _maybe_print(self) -> None:
        interval = float(self.get_option("interval") or 0)
        if interval > 0 and self.progress.clock() - self._last_line >= interval:
            waves = self.progress.running_waves()
            if waves:
                self._print(waves)

    # ---- events ------------------------------------------------------------------------------

    def v2_playbook_on_play_start(self, play: t.Any) -> None:
        # A preparation play (the rollout's plan) runs on one host and is no wave: no line, no report entry.
        self._watching = not boolean(play.get_vars().get("rollout_progress_ignore", False), strict=False)
        if not self._watching:
            self._print(self.progress.end_batch())
            return
        inventory = play.get_variable_manager()._inventory
        uuid = str(play._uuid)
        current = self.progress.play
        if current is None or current.uuid != uuid:
            self._print(self.progress.end_batch())
            everyone = inventory.get_hosts(play.hosts, order=play.order, ignore_restrictions=True)
            self.progress.start_play(play.get_name(), uuid, {host.name: self._wave_of(host, play) for host in everyone})
        # Within a batch, Ansible restricts the inventory to the batch's hosts.
        batch = [host.name for host in inventory.get_hosts(play.hosts, order=play.order)]
        self._print(self.progress.start_batch(batch))

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        if self._watching:
            self._maybe_print()

    def v2_playbook_on_no_hosts_remaining(self) -> None:
        if self._watching:
            self.progress.halt()

    def v2_runner_on_ok(self, result: t.Any) -> None:
        if self._watching:
            self.progress.record(result.host.get_name(), "ok", result.task.get_name())
            self._maybe_print()

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        if self._watching:
            self.progress.record(result.host.get_name(), "skipped", result.task.get_name())
            self._maybe_print()

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        if not self._watching:
            return
        reason = failure_reason(result.result)
        if not ignore_errors and getattr(result.task, "run_once", False):
            # A run_once task is about the batch (a gate), not about the host it happened to run on.
            self.progress.stop_after_batch(result.task.get_name(), reason)
        else:
            self.progress.record(
                result.host.get_name(), "ok" if ignore_errors else "failed", result.task.get_name(), reason
            )
        self._maybe_print()

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        if not self._watching:
            return
        reason = failure_reason(result.result)
        self.progress.record(result.host.get_name(), "unreachable", result.task.get_name(), reason)
        self._maybe_print()

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        self._print(self.progress.end_batch())
        self.progress.finish()
        report = self.progress.report()
        formats = [f.lower() for f in self.get_option("formats") or []]
        if not formats:
            return
        folder = report_folder(Path(self.get_option("report_dir")).expanduser())
        stem = time.strftime(self.get_option("report_name"), time.localtime(self.progress.started_wall))
        renderers: dict[str, tuple[str, Callable[[dict[str, t.Any]], str]]] = {
            "json": (".json", lambda r: json.dumps(r, indent=2, default=str) + "\n"),
            "markdown": (".md", render_markdown),
            "html": (".html", render_html),
        }
        for name in formats:
            suffix, render = renderers[name]
            self.written.append(write_report(folder, stem, suffix, render(report)))
        failed = len(report["failed_hosts"])
        self._display.display(
            f"rollout report: {', '.join(str(p) for p in self.written)} ({failed} failed or unreachable host(s))"
        )
