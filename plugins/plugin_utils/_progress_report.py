# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout report as files: JSON, Markdown and HTML renderings, written only where the user alone can write.

Every text in a report (host names, task names, failure messages) comes from hosts and is untrusted:
each rendering escapes it so that nothing in it becomes markup.
"""

from __future__ import annotations

import html
import json
import os
import re
import stat
import typing as t
from collections.abc import Callable
from pathlib import Path

from ansible.errors import AnsibleError

from ansible_collections.rollout.windows.plugins.plugin_utils._progress import format_duration

# Markdown punctuation that would turn a host's text into a link, an image, code or a new cell. The
# underscore stays: inside a word (wave_1) it never emphasises, and emphasis carries nothing active.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def _md_cell(value: t.Any) -> str:
    """Host answers are untrusted: HTML is escaped and Markdown punctuation made literal, so nothing renders."""
    text = "" if value is None else str(value)
    text = html.escape(text, quote=False).replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", "<br>")


def _text(value: t.Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _duration(value: t.Any) -> str:
    """Seconds as the role gave them: a number, or text when they came from -e key=value."""
    try:
        return format_duration(float(value))
    except (TypeError, ValueError, OverflowError):
        return _text(value)


def _percent(value: t.Any) -> str:
    return "unknown" if value is None else f"{value} %"


def _rollout_rows(rollout: dict[str, t.Any]) -> list[list[str]]:
    """What was rolled out and how, as (label, value) rows that both pages render."""
    gates = rollout["gates"]
    before = ", ".join(
        f"{_text(v['version']) if v['version'] is not None else 'not installed'} ({v['hosts']} host(s))"
        for v in rollout["version_before"]
    )
    return [
        ["product", _text(rollout["product"])],
        ["version before", before or "unknown"],
        ["version after", _text(rollout["version_after"])],
        ["method", _text(rollout["method"])],
        ["strategy", _text(rollout["strategy"])],
        ["success criterion", _percent(gates["success_percentage"])],
        ["soak", _duration(gates["soak_seconds"])],
        ["approval", _text(gates["approval"])],
        ["max fail percentage", _percent(gates["max_fail_percentage"])],
    ]


_ROLLOUT_HEADERS = ["", "value"]
_ADOPTION_HEADERS = ["wave", "published", "adopted", "pending", "failed"]
_TIMELINE_HEADERS = ["time", "after", "wave", "event", "batch", "detail"]


def _adoption_rows(play: dict[str, t.Any]) -> list[list[str]]:
    return [[str(a[key]) for key in _ADOPTION_HEADERS] for a in play["adoption"]]


def _timeline_rows(play: dict[str, t.Any]) -> list[list[str]]:
    return [
        [ev["at"], format_duration(ev["offset"]), ev["wave"], ev["event"], str(ev["batch"]), _text(ev["detail"] or "")]
        for ev in play["timeline"]
    ]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return out + ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]


def _html_table(headers: list[str], rows: list[list[str]], css: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{head}</tr>{body}</table>'


def render_markdown(report: dict[str, t.Any]) -> str:
    out = ["# Rollout report", "", f"Started {report['started']}, took {format_duration(report['elapsed'])}."]
    out.append("Result: **" + ("every host done" if report["ok"] else "not every host done") + "**.")
    out += ["", "## What was rolled out", "", *_md_table(_ROLLOUT_HEADERS, _rollout_rows(report["rollout"]))]
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
        out += ["", "### Adoption per wave", "", *_md_table(_ADOPTION_HEADERS, _adoption_rows(play))]
        out += ["", "### Timeline", "", *_md_table(_TIMELINE_HEADERS, _timeline_rows(play))]
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
        "<h2>What was rolled out</h2>",
        _html_table(_ROLLOUT_HEADERS, _rollout_rows(report["rollout"]), "rollout"),
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
        body.append("<h3>Adoption per wave</h3>")
        body.append(_html_table(_ADOPTION_HEADERS, _adoption_rows(play), "adoption"))
        body.append("<h3>Timeline</h3>")
        body.append(_html_table(_TIMELINE_HEADERS, _timeline_rows(play), "timeline"))
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


def render_json(report: dict[str, t.Any]) -> str:
    return json.dumps(report, indent=2, default=str) + "\n"


# Each report format the callback's ``formats`` option names: the file suffix and its renderer.
RENDERERS: dict[str, tuple[str, Callable[[dict[str, t.Any]], str]]] = {
    "json": (".json", render_json),
    "markdown": (".md", render_markdown),
    "html": (".html", render_html),
}


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
