from __future__ import annotations

import html.parser
import json
import re
import stat
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible.errors import AnsibleError

from ansible_collections.rollout.windows.plugins.callback import rollout_progress as rp
from ansible_collections.rollout.windows.plugins.plugin_utils._progress import RolloutProgress, format_duration


@dataclass
class FakeGroup:
    name: str


@dataclass
class FakeHost:
    name: str
    groups: list[FakeGroup] = field(default_factory=list)

    def get_name(self) -> str:
        return self.name

    def get_groups(self) -> list[FakeGroup]:
        return self.groups


class FakeInventory:
    """Like Ansible's: get_hosts honours the batch restriction unless told to ignore it."""

    def __init__(self, hosts: list[FakeHost]) -> None:
        self.hosts = hosts
        self.batch: list[str] | None = None

    def get_hosts(self, pattern: t.Any, order: t.Any = None, ignore_restrictions: bool = False) -> list[FakeHost]:
        if ignore_restrictions or self.batch is None:
            return list(self.hosts)
        return [h for h in self.hosts if h.name in self.batch]


class FakePlay:
    def __init__(
        self, name: str, uuid: str, inventory: FakeInventory, play_vars: dict[str, t.Any] | None = None
    ) -> None:
        self.name, self._uuid, self.hosts, self.order = name, uuid, ["all"], "inventory"
        self._inventory = inventory
        self.play_vars = play_vars or {}

    def get_name(self) -> str:
        return self.name

    def get_variable_manager(self) -> t.Any:
        return self

    def get_vars(self, **kwargs: t.Any) -> dict[str, t.Any]:
        # Called as the play (its own vars) and as the variable manager (a host's vars).
        if "host" not in kwargs:
            return self.play_vars
        return {"my_wave": "ring-" + kwargs["host"].name[-1]}


@dataclass
class FakeTask:
    name: str
    run_once: bool = False
    action: str = "ansible.builtin.debug"

    def get_name(self) -> str:
        return self.name


@dataclass
class FakeResult:
    host: FakeHost
    task: FakeTask
    result: dict[str, t.Any]


class FakeDisplay:
    verbosity = 0

    def __init__(self) -> None:
        self.lines: list[str] = []

    def display(self, msg: str, **kwargs: t.Any) -> None:
        self.lines.append(msg)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _callback(tmp_path: Path, **options: t.Any) -> tuple[rp.CallbackModule, FakeDisplay, Clock]:
    display = FakeDisplay()
    callback = rp.CallbackModule(display=display)
    callback._plugin_options = {
        "report_dir": str(tmp_path),
        "report_name": "report",
        "formats": ["json", "markdown", "html"],
        "interval": 30.0,
        "wave_groups": r"pilot|wave_\d+",
        "wave_var": None,
        **options,
    }
    clock = Clock()
    callback.progress = RolloutProgress(clock=clock, wall=lambda: 0.0)
    return callback, display, clock


def _fleet() -> list[FakeHost]:
    waves = {"pilot": ["p1"], "wave_1": ["a1", "a2", "a3", "a4"], "wave_2": ["b1", "b2", "b3"]}
    hosts = [
        FakeHost(h, [FakeGroup("all"), FakeGroup("rollout_clients"), FakeGroup(w)])
        for w, hs in waves.items()
        for h in hs
    ]
    hosts.append(FakeHost("odd", [FakeGroup("rollout_clients")]))
    return hosts


def _run_batch(
    callback: rp.CallbackModule,
    play: FakePlay,
    inventory: FakeInventory,
    batch: list[str],
    *,
    outcome: dict[str, tuple[str, str]],
    clock: Clock,
    seconds: float = 60.0,
) -> None:
    by_name = {h.name: h for h in inventory.hosts}
    inventory.batch = batch
    callback.v2_playbook_on_play_start(play)
    clock.now += seconds
    for name in batch:
        status, msg = outcome.get(name, ("ok", ""))
        result = FakeResult(by_name[name], FakeTask("Install the suite"), {"msg": msg, "changed": True})
        if status == "ok":
            callback.v2_runner_on_ok(result)
        elif status == "failed":
            callback.v2_runner_on_failed(result)
        elif status == "ignored":
            callback.v2_runner_on_failed(result, ignore_errors=True)
        else:
            callback.v2_runner_on_unreachable(result)


def test_progress_and_report_of_a_stopped_rollout(tmp_path: Path) -> None:
    callback, display, clock = _callback(tmp_path)
    inventory = FakeInventory(_fleet())
    play = FakePlay("Roll out | 9.3.1", "uuid-1", inventory)
    _run_batch(callback, play, inventory, ["p1"], outcome={}, clock=clock)
    _run_batch(callback, play, inventory, ["a1", "a2"], outcome={"a2": ("ignored", "not important")}, clock=clock)
    _run_batch(
        callback,
        play,
        inventory,
        ["a3", "a4"],
        outcome={"a3": ("failed", "msiexec failed with 1603 | <fatal>"), "a4": ("unreachable", "connection refused")},
        clock=clock,
    )
    callback.v2_playbook_on_no_hosts_remaining()  # Ansible ends the play: the whole batch failed
    callback.v2_playbook_on_stats(None)

    assert "rollout pilot: done 1/1, failed 0, remaining 0, elapsed 1m00s, rate 1.0 hosts/min" in display.lines
    assert "rollout wave_1: done 2/4, failed 0, remaining 2, elapsed 1m00s, rate 2.0 hosts/min" in display.lines
    assert "rollout wave_1: done 2/4, failed 2, remaining 0, elapsed 2m00s, rate 2.0 hosts/min" in display.lines

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] is False
    (play_report,) = report["plays"]
    assert [b["hosts"] for b in play_report["batches"]] == [["p1"], ["a1", "a2"], ["a3", "a4"]]
    assert [b["halted"] for b in play_report["batches"]] == [False, False, True]
    waves = {w["wave"]: w for w in play_report["waves"]}
    assert list(waves) == ["pilot", "wave_1", "wave_2", "unassigned"]
    assert waves["wave_1"] | {"elapsed": 0} == {
        "wave": "wave_1",
        "total": 4,
        "done": 2,
        "failed": 2,
        "unreachable": 1,
        "stopped": 0,
        "remaining": 0,
        "elapsed": 0,
        "rate_per_min": 2.0,
    }
    assert waves["wave_2"]["remaining"] == 3
    assert waves["wave_2"]["done"] == 0
    assert play_report["hosts"]["b1"] == "pending"
    assert report["failed_hosts"] == [
        {
            "host": "a3",
            "play": "Roll out | 9.3.1",
            "wave": "wave_1",
            "status": "failed",
            "task": "Install the suite",
            "msg": "msiexec failed with 1603 | <fatal>",
        },
        {
            "host": "a4",
            "play": "Roll out | 9.3.1",
            "wave": "wave_1",
            "status": "unreachable",
            "task": "Install the suite",
            "msg": "connection refused",
        },
    ]

    markdown = (tmp_path / "report.md").read_text()
    assert "| wave_1 | 4 | 2 | 2 | 1 | 0 | 0 | 2m00s | 2.0/min |" in markdown
    assert "| a3 | wave_1 | failed | Install the suite | msiexec failed with 1603 \\| &lt;fatal&gt; |" in markdown
    assert "| a4 | wave_1 | unreachable | Install the suite | connection refused |" in markdown

    page = (tmp_path / "report.html").read_text()
    assert "msiexec failed with 1603 | &lt;fatal&gt;" in page
    assert "<fatal>" not in page
    assert not re.search(r"(src|href)=|https?://(?!www\.w3\.org/2000/svg)", page)  # self-contained
    svg = re.search(r"<svg .*?</svg>", page, re.S)
    assert svg is not None
    assert svg.group(0).count('class="done"') == 2  # pilot and wave_1 have done hosts
    assert 'class="failed"' in svg.group(0)
    assert "<title>remaining: 3</title>" in svg.group(0)
    parser = html.parser.HTMLParser()
    parser.feed(page)  # well-formed enough for the stdlib parser
    assert any("report.json" in line and "2 failed or unreachable" in line for line in display.lines)


def test_a_halted_batch_leaves_its_healthy_hosts_stopped(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path, formats=["json"])
    inventory = FakeInventory(_fleet())
    play = FakePlay("p", "u", inventory)
    _run_batch(callback, play, inventory, ["a1", "a2", "a3"], outcome={"a1": ("failed", "boom")}, clock=clock)
    callback.v2_playbook_on_no_hosts_remaining()  # max_fail_percentage exceeded
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["plays"][0]["hosts"]["a2"] == "stopped"
    assert {w["wave"]: w["stopped"] for w in report["plays"][0]["waves"]}["wave_1"] == 2
    assert not (tmp_path / "report.md").exists()


def test_interval_lines_while_a_batch_runs(tmp_path: Path) -> None:
    callback, display, clock = _callback(tmp_path, interval=10.0, formats=[])
    inventory = FakeInventory(_fleet())
    play = FakePlay("p", "u", inventory)
    inventory.batch = ["b1", "b2", "b3"]
    callback.v2_playbook_on_play_start(play)
    hosts = {h.name: h for h in inventory.hosts}
    callback.v2_runner_on_ok(FakeResult(hosts["b1"], FakeTask("t"), {}))
    assert display.lines == []
    clock.now += 11
    callback.v2_runner_on_ok(FakeResult(hosts["b2"], FakeTask("t"), {}))
    assert display.lines == ["rollout wave_2: done 0/3, failed 0, remaining 3, elapsed 11s, rate 0.0 hosts/min"]
    callback.v2_playbook_on_stats(None)
    assert display.lines[-1] == "rollout wave_2: done 3/3, failed 0, remaining 0, elapsed 11s, rate 16.4 hosts/min"
    assert list(tmp_path.iterdir()) == []


def test_wave_from_a_variable_and_a_second_play(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path, wave_var="my_wave", formats=["json"])
    inventory = FakeInventory(_fleet())
    _run_batch(callback, FakePlay("first", "u1", inventory), inventory, ["a1", "b1"], outcome={}, clock=clock)
    _run_batch(
        callback, FakePlay("second", "u2", inventory), inventory, ["a2"], outcome={"a2": ("failed", "x")}, clock=clock
    )
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["plays"]] == ["first", "second"]
    assert report["plays"][0]["hosts"]["a1"] == "done"  # the first play's batch ended when the second began
    assert {w["wave"] for w in report["plays"][0]["waves"]} == {"ring-1", "ring-2", "ring-3", "ring-4", "ring-d"}
    assert report["failed_hosts"][0]["wave"] == "ring-2"


# The callback's cost per result is a figure, not an assertion: bench/controller_cpu.py prints it.


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59.6, "1m00s"), (61, "1m01s"), (3725, "1h02m05s")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_failed_gate_stops_the_rollout_without_blaming_its_host(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path, formats=["json", "markdown"])
    inventory = FakeInventory(_fleet())
    play = FakePlay("p", "u", inventory)
    _run_batch(callback, play, inventory, ["a1", "a2", "a3"], outcome={}, clock=clock)
    gate = FakeTask("Gate the batch", run_once=True)
    host = {h.name: h for h in inventory.hosts}["a1"]
    callback.v2_runner_on_failed(FakeResult(host, gate, {"msg": "2 of 3 host(s) (66.7 %) have 9.3.1"}))
    callback.v2_playbook_on_no_hosts_remaining()
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["failed_hosts"] == []
    assert report["plays"][0]["hosts"]["a1"] == "done"
    assert report["stopped_by_gate"] == [
        {"play": "p", "batch": 1, "waves": ["wave_1"], "reason": "Gate the batch: 2 of 3 host(s) (66.7 %) have 9.3.1"}
    ]
    assert report["ok"] is False
    assert "Stopped after batch 1" in (tmp_path / "report.md").read_text()


def test_a_play_that_asks_to_be_left_out_is_not_reported(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path, formats=["json"])
    inventory = FakeInventory(_fleet())
    plan = FakePlay("plan", "u1", inventory, {"rollout_progress_ignore": True})
    _run_batch(callback, plan, inventory, ["a1"], outcome={"a1": ("failed", "bad variable")}, clock=clock)
    rollout = FakePlay("rollout", "u2", inventory)
    _run_batch(callback, rollout, inventory, ["a1", "a2", "a3"], outcome={}, clock=clock)
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [p["name"] for p in report["plays"]] == ["rollout"]
    assert report["failed_hosts"] == []


# ---- issue 17: report files and untrusted host text ------------------------------------------------------

HOSTILE = '<img src=x onerror="alert(1)">'


def _hostile_run(folder: Path, **options: t.Any) -> tuple[rp.CallbackModule, FakeDisplay]:
    callback, display, clock = _callback(folder, **options)
    inventory = FakeInventory([FakeHost(HOSTILE, [FakeGroup("pilot")]), FakeHost("p2", [FakeGroup("pilot")])])
    play = FakePlay("Roll out", "uuid-h", inventory)
    outcome = {HOSTILE: ("failed", f"version {HOSTILE} [click](javascript:alert(1)) ![i](http://x/i.png)")}
    _run_batch(callback, play, inventory, [HOSTILE, "p2"], outcome=outcome, clock=clock)
    callback.v2_playbook_on_stats(None)
    return callback, display


def test_host_text_in_the_reports_is_inert(tmp_path: Path) -> None:
    _hostile_run(tmp_path)
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text()
        assert "<img" not in text, name
        assert "&lt;img src=x onerror=" in text, name
    markdown = (tmp_path / "report.md").read_text()
    assert not re.search(r"(?<!\\)\]\(", markdown)  # no link or image survives
    assert "\\[click\\](javascript:alert(1))" in markdown
    assert "!\\[i\\](http://x/i.png)" in markdown


def test_reports_are_private_new_files_in_a_private_folder(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    callback, _written = _hostile_run(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in callback.written) == ["report.html", "report.json", "report.md"]
    for path in callback.written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_planted_link_is_neither_followed_nor_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (folder / "report.md").symlink_to(victim)
    (folder / "report.json").write_text("an older report\n")
    callback, _written = _hostile_run(folder)
    assert victim.read_text() == "keep me\n"
    assert (folder / "report.json").read_text() == "an older report\n"
    assert {p.name for p in callback.written} == {"report-1.md", "report-1.json", "report.html"}
    assert "Rollout report" in (folder / "report-1.md").read_text()


def test_a_report_dir_that_is_a_link_or_writable_by_others_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(AnsibleError, match=f"{link} is a symlink"):
        _hostile_run(link)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(AnsibleError, match=r"writable by other users \(mode 0777\).*chmod 700"):
        _hostile_run(shared)
    assert list(real.iterdir()) == []
    assert list(shared.iterdir()) == []


# ---- what was rolled out, adoption per wave, timeline ------------------------------------------------------


def _describe(callback: rp.CallbackModule, host: FakeHost, **fact: t.Any) -> None:
    """The role's run_once set_fact task, as the callback sees its result."""
    task = FakeTask("Describe the batch for the rollout report", run_once=True)
    callback.v2_runner_on_ok(FakeResult(host, task, {"ansible_facts": {"rollout_progress_run": fact}}))


def test_the_report_says_what_was_rolled_out_and_when(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path)
    inventory = FakeInventory(_fleet())
    hosts = {h.name: h for h in inventory.hosts}
    play = FakePlay("Roll out", "uuid-r", inventory)
    gates = {"success_percentage": 95, "soak_seconds": 600, "approval": True, "max_fail_percentage": 20}
    inventory.batch = ["p1"]
    callback.v2_playbook_on_play_start(play)
    run = {"product": "suite", "version": "9.3.1", "method": "push", "strategy": "waves"}
    _describe(callback, hosts["p1"], **run, previous={"p1": "9.2.0"}, **gates)
    clock.now += 60
    inventory.batch = ["a1", "a2", "a3", "a4"]
    callback.v2_playbook_on_play_start(play)
    _describe(callback, hosts["a1"], version="9.3.1", previous={"a1": "9.2.0", "a2": None, "a3": "9.2.0", "a4": None})
    clock.now += 120
    callback.v2_runner_on_failed(FakeResult(hosts["a3"], FakeTask("Install"), {"msg": "1603"}))
    callback.v2_runner_on_unreachable(FakeResult(hosts["a4"], FakeTask("Install"), {"msg": "refused"}))
    callback.v2_runner_on_failed(FakeResult(hosts["a1"], FakeTask("Gate", run_once=True), {"msg": "2 of 4 (50.0 %)"}))
    callback.v2_playbook_on_no_hosts_remaining()
    callback.v2_playbook_on_stats(None)

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rollout"] == {
        "described": True,
        "product": "suite",
        "version_before": [{"version": "9.2.0", "hosts": 3}, {"version": None, "hosts": 2}],
        "version_after": "9.3.1",
        "method": "push",
        "strategy": "waves",
        "gates": gates,
    }
    (play_report,) = report["plays"]
    adoption = {a["wave"]: a for a in play_report["adoption"]}
    assert adoption["pilot"] == {"wave": "pilot", "published": 1, "adopted": 1, "pending": 0, "failed": 0}
    # a4 was unreachable: pending (it may still get the release), not failed.
    assert adoption["wave_1"] == {"wave": "wave_1", "published": 4, "adopted": 2, "pending": 1, "failed": 1}
    assert adoption["wave_2"] == {"wave": "wave_2", "published": 0, "adopted": 0, "pending": 0, "failed": 0}
    assert [(e["offset"], e["wave"], e["event"], e["batch"]) for e in play_report["timeline"]] == [
        (0.0, "pilot", "started", 1),
        (60.0, "pilot", "passed", 1),
        (60.0, "wave_1", "started", 2),
        (180.0, "wave_1", "stopped", 2),
    ]
    assert play_report["timeline"][-1]["detail"] == "Gate: 2 of 4 (50.0 %)"
    assert play_report["timeline"][1]["at"] == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(60))

    markdown = (tmp_path / "report.md").read_text()
    for row in (
        "| product | suite |",
        "| version before | 9.2.0 (3 host(s)), not installed (2 host(s)) |",
        "| version after | 9.3.1 |",
        "| method | push |",
        "| strategy | waves |",
        "| success criterion | 95 % |",
        "| soak | 10m00s |",
        "| approval | yes |",
        "| max fail percentage | 20 % |",
        "| wave | published | adopted | pending | failed |",
        "| wave_1 | 4 | 2 | 1 | 1 |",
        f"| {play_report['timeline'][1]['at']} | 1m00s | pilot | passed | 1 |  |",
        "| wave_1 | stopped | 2 | Gate: 2 of 4 (50.0 %) |",
    ):
        assert row in markdown, row
    page = (tmp_path / "report.html").read_text()
    assert "<tr><td>version after</td><td>9.3.1</td></tr>" in page
    assert "<tr><td>wave_1</td><td>4</td><td>2</td><td>1</td><td>1</td></tr>" in page
    assert '<table class="timeline">' in page
    assert "<td>wave_1</td><td>stopped</td><td>2</td><td>Gate: 2 of 4 (50.0 %)</td></tr>" in page


def test_each_hosts_version_before_comes_from_its_install_result(tmp_path: Path) -> None:
    # The rollout role's install task: the callback takes previous_version as each result arrives.
    callback, _display, _clock = _callback(tmp_path)
    inventory = FakeInventory(_fleet())
    hosts = {h.name: h for h in inventory.hosts}
    inventory.batch = ["a1", "a2", "a3"]
    callback.v2_playbook_on_play_start(FakePlay("Roll out", "uuid-i", inventory))
    install = FakeTask("Close Office, install or upgrade, verify", action="rollout.windows.msi_package")
    for name, before in (("a1", "9.2.0"), ("a2", None), ("a3", "9.2.0")):
        callback.v2_runner_on_ok(FakeResult(hosts[name], install, {"previous_version": before, "changed": True}))
    # Another task's result with the same key says nothing about versions.
    callback.v2_runner_on_ok(FakeResult(hosts["a2"], FakeTask("Other"), {"previous_version": "1.0"}))
    _describe(callback, hosts["a1"], version="9.3.1", method="push")
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rollout"]["version_before"] == [{"version": "9.2.0", "hosts": 2}, {"version": None, "hosts": 1}]
    assert report["rollout"]["version_after"] == "9.3.1"


def test_a_play_that_publishes_nothing_reports_unknown(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path, formats=["json", "markdown"])
    inventory = FakeInventory(_fleet())
    _run_batch(callback, FakePlay("p", "u", inventory), inventory, ["b1", "b2", "b3"], outcome={}, clock=clock)
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rollout"]["described"] is False
    assert report["rollout"]["method"] is None
    markdown = (tmp_path / "report.md").read_text()
    for row in ("| method | unknown |", "| success criterion | unknown |", "| soak | unknown |"):
        assert row in markdown, row
    assert [e["event"] for e in report["plays"][0]["timeline"]] == ["started", "passed"]


def test_published_values_are_escaped_in_every_rendering(tmp_path: Path) -> None:
    callback, _display, clock = _callback(tmp_path)
    inventory = FakeInventory([FakeHost(HOSTILE, [FakeGroup("pilot")])])
    play = FakePlay("Roll out", "uuid-h", inventory)
    inventory.batch = [HOSTILE]
    callback.v2_playbook_on_play_start(play)
    link = "[x](javascript:alert(1))"
    counts = {"pilot": {"published": "<b>", "adopted": 1}, HOSTILE: {}}
    fact = {"product": HOSTILE, "version": link, "previous": {HOSTILE: HOSTILE}, "method": HOSTILE, "strategy": link}
    _describe(callback, inventory.hosts[0], **fact, waves=counts)
    clock.now += 5
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rollout"]["product"] == HOSTILE
    # A method's own counts (the auto-updater's backend) replace the hosts'; what is no count counts 0.
    assert report["plays"][0]["adoption"] == [
        {"wave": "pilot", "published": 0, "adopted": 1, "pending": 0, "failed": 0}
    ]
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text()
        assert "<img" not in text, name
        assert "<b>" not in text, name
        assert "&lt;img src=x onerror=" in text, name
    markdown = (tmp_path / "report.md").read_text()
    assert not re.search(r"(?<!\\)\]\(", markdown)
    html.parser.HTMLParser().feed((tmp_path / "report.html").read_text())
