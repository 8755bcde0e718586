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
  - The report says what was rolled out and how (product, version before and after, method, strategy and
    gates) from the fact C(rollout_progress_run), which the C(rollout.windows.rollout) role sets once per
    batch with C(ansible.builtin.set_fact) and C(run_once). The callback reads it from that task's result,
    not from variables, so any play can describe itself the same way. Its keys are C(product), C(version)
    (after the rollout), C(previous) (a mapping of host to its version before the batch, null when not
    installed; a host's C(previous_version) in a result of M(rollout.windows.msi_package) counts the same),
    C(method) (C(push) or C(autoupdater)), C(strategy), C(success_percentage),
    C(soak_seconds), C(approval) and C(max_fail_percentage); every key is optional and a later batch's
    value wins. Without the fact, these show as C(unknown).
  - Per wave the report counts hosts C(published), C(adopted), C(pending) and C(failed). With C(push)
    (counted from the hosts) a host is published when its batch started, adopted when its batch ended
    without a failure of it (the install verifies the version), failed when a task failed it, and pending
    otherwise (running, unreachable, or its batch stopped). A method that counts adoption itself (the
    auto-updater's backend) adds C(waves) to the fact, a mapping of wave name to those four counts, which
    then replace the counts from the hosts.
  - A timeline in every report gives when each wave started (its first batch began), passed its gate (its
    last batch ended without a stop, after the gate's soak and approval) or stopped (its batch was ended by
    Ansible or by a failed gate, with the reason), as local times and seconds since the playbook started.
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

import re
import time
import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback import CallbackBase

from ansible_collections.rollout.windows.plugins.plugin_utils._progress import (
    RUN_FACT,
    UNASSIGNED,
    RolloutProgress,
    natural_key,
)
from ansible_collections.rollout.windows.plugins.plugin_utils._progress_report import (
    RENDERERS,
    report_folder,
    write_report,
)

# The install whose results say each host's version before it (previous_version); resolved_action is the full
# name however the task spelled it, action the spelling itself.
INSTALL_ACTIONS = ("rollout.windows.msi_package", "msi_package")


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
            if not everyone:
                # The play of the method not chosen (playbooks/rollout.yml has one per method) has no hosts.
                self._watching = False
                return
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
            facts = result.result.get("ansible_facts")
            if isinstance(facts, Mapping) and RUN_FACT in facts:
                self.progress.describe(facts[RUN_FACT])
            action = getattr(result.task, "resolved_action", None) or result.task.action
            if action in INSTALL_ACTIONS and "previous_version" in result.result:
                # Read here, as each host's result arrives: collecting them from hostvars after the batch
                # would cost a variable computation per host.
                self.progress.describe({"previous": {result.host.get_name(): result.result["previous_version"]}})
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
        for name in formats:
            suffix, render = RENDERERS[name]
            self.written.append(write_report(folder, stem, suffix, render(report)))
        failed = len(report["failed_hosts"])
        self._display.display(
            f"rollout report: {', '.join(str(p) for p in self.written)} ({failed} failed or unreachable host(s))"
        )
