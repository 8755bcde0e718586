"""The Office gate's decisions with a fake clock: when it polls, messages, reminds, closes and gives up."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.plugin_utils import _office


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class FakeDesktop:
    """Users with Office open. A user who closes does so ``delay`` fake seconds after their first message;
    ``delay=None`` never closes. ``opens`` starts a process later on: (time, proc)."""

    def __init__(self, clock: FakeClock, users: dict[str, float | None], query_cost: float = 0.0) -> None:
        self.clock = clock
        self.start = clock.now
        self.delays = users
        self.query_cost = query_cost
        self.procs: list[dict[str, t.Any]] = []
        self.close_at: dict[str, float] = {}
        self.calls: list[tuple[float, str, t.Any]] = []
        self.opens: list[tuple[float, dict[str, t.Any]]] = []
        for number, user in enumerate(users, start=1):
            self.open(user, number, "WINWORD.EXE")

    def open(self, user: str, session_id: int, name: str) -> dict[str, t.Any]:
        proc = {
            "pid": 1000 + 4 * len(self.procs),
            "name": name,
            "session_id": session_id,
            "user": f"PC\\{user}",
            "start_time": "2025-03-04T07:00:00.0000000Z",
        }
        self.procs.append(proc)
        return proc

    def _settle(self) -> None:
        for at, proc in list(self.opens):
            if self.clock.now - self.start >= at:
                self.opens.remove((at, proc))
                self.procs.append(proc)
        self.procs = [
            p for p in self.procs if self.close_at.get(p["user"].split("\\")[1], float("inf")) > self.clock.now
        ]

    def query(self) -> dict[str, t.Any]:
        self.clock.now += self.query_cost
        self._settle()
        self.calls.append((self.clock.now - self.start, "query", None))
        sessions = sorted({p["session_id"]: p["user"] for p in self.procs}.items())
        return {"sessions": [{"id": i, "user": u} for i, u in sessions], "processes": [dict(p) for p in self.procs]}

    def notify(self, session_ids: list[int]) -> list[dict[str, t.Any]]:
        self.calls.append((self.clock.now - self.start, "notify", list(session_ids)))
        for proc in self.procs:
            user = proc["user"].split("\\")[1]
            delay = self.delays.get(user)
            if proc["session_id"] in session_ids and delay is not None and user not in self.close_at:
                self.close_at[user] = self.clock.now + delay
        return [{"session_id": i, "sent": True, "error": None} for i in session_ids]

    def stop(self, procs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        self.calls.append((self.clock.now - self.start, "stop", [p["pid"] for p in procs]))
        pids = {p["pid"] for p in procs}
        stopped = [p for p in self.procs if p["pid"] in pids]
        self.procs = [p for p in self.procs if p["pid"] not in pids]
        return [{"pid": p["pid"], "name": p["name"], "status": "stopped", "error": None} for p in stopped]

    def kinds(self) -> list[str]:
        return [kind for _at, kind, _arg in self.calls]

    def at(self, kind: str) -> list[float]:
        return [at for at, k, _arg in self.calls if k == kind]


# The product's defaults, as the module has them.
DEFAULTS: dict[str, t.Any] = {
    "interval": 120,
    "attempts": 120,
    "notify": False,
    "remind_interval": 0,
    "force": False,
    "deadline": None,
}


def gate(desktop: FakeDesktop, clock: FakeClock, **options: t.Any) -> _office.Outcome:
    config = _office.settings(**{**DEFAULTS, **options})
    return _office.Gate(config, desktop.query, desktop.notify, desktop.stop, clock=clock, sleep=clock.sleep).run()


def test_nothing_open_passes_with_one_query_and_no_sleep() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {})
    outcome = gate(desktop, clock, notify=True, force=True, deadline=600)
    assert outcome.ok
    assert outcome.polls == 1
    assert desktop.kinds() == ["query"]
    assert clock.slept == []


def test_users_who_close_after_the_message_pass_at_the_next_poll() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": 100, "ben": 250})
    outcome = gate(desktop, clock, notify=True)
    assert outcome.ok
    # Messages both sessions once, at once; ben has closed by t=250, seen at the poll at t=360.
    assert desktop.calls[:2] == [(0, "query", None), (0, "notify", [1, 2])]
    assert desktop.at("query") == [0, 120, 240, 360]
    assert outcome.polls == 4
    assert outcome.elapsed == 360
    assert [n["user"] for n in outcome.notified] == ["PC\\anna", "PC\\ben"]
    assert not any(n["reminder"] for n in outcome.notified)
    assert outcome.closed == []
    assert [p["user"] for p in outcome.initial] == ["PC\\anna", "PC\\ben"]
    assert outcome.remaining == []


def test_without_notify_nobody_is_messaged_and_the_wait_runs_out_after_attempts() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": 10})
    outcome = gate(desktop, clock, interval=120, attempts=120)
    assert not outcome.ok
    assert outcome.polls == 120
    assert "notify" not in desktop.kinds()
    assert "stop" not in desktop.kinds()
    assert outcome.elapsed == 119 * 120  # the product's defaults: 120 polls two minutes apart
    assert sum(clock.slept) == 119 * 120
    assert [p["user"] for p in outcome.remaining] == ["PC\\anna"]


def test_a_user_who_ignores_it_keeps_the_wait_going_and_nothing_is_closed_without_force() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": 30, "ben": None})
    outcome = gate(desktop, clock, interval=60, attempts=5, notify=True)
    assert not outcome.ok
    assert outcome.polls == 5
    assert desktop.at("query") == [0, 60, 120, 180, 240]
    assert desktop.kinds().count("notify") == 1
    assert "stop" not in desktop.kinds()
    assert _office.describe_users(outcome.remaining) == "PC\\ben (WINWORD.EXE)"


def test_reminders_go_out_with_the_first_poll_after_remind_interval_to_who_is_left() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": 200, "ben": None})
    outcome = gate(desktop, clock, interval=120, attempts=8, notify=True, remind_interval=300)
    notes = [(at, arg) for at, kind, arg in desktop.calls if kind == "notify"]
    # First message at 0 to both; reminders at 360 (first poll >= 300) and 720, only to ben (session 2).
    assert notes == [(0, [1, 2]), (360, [2]), (720, [2])]
    assert [n["reminder"] for n in outcome.notified] == [False, False, True, True]
    assert not outcome.ok


def test_a_session_that_opens_office_later_is_told_at_the_next_poll_without_postponing_reminders() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": None, "carl": None})
    carl = desktop.procs.pop()  # carl opens Word only at t=100
    desktop.opens.append((100, carl))
    gate(desktop, clock, interval=120, attempts=6, notify=True, remind_interval=480)
    notes = [(at, arg) for at, kind, arg in desktop.calls if kind == "notify"]
    assert notes == [(0, [1]), (120, [2]), (480, [1, 2])]


def test_force_closes_at_the_deadline_between_polls_and_confirms() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"anna": 30, "ben": None})
    outcome = gate(desktop, clock, interval=120, attempts=10, notify=True, force=True, deadline=300)
    assert outcome.ok
    # Polls at 0, 120, 240, a wake-up at the deadline (300): close ben's Word, confirm at once.
    assert desktop.calls == [
        (0, "query", None),
        (0, "notify", [1, 2]),
        (120, "query", None),
        (240, "query", None),
        (300, "query", None),
        (300, "stop", [1004]),
        (300, "query", None),
    ]
    assert [(p["user"], p["name"], p["pid"]) for p in outcome.closed] == [("PC\\ben", "WINWORD.EXE", 1004)]
    assert outcome.closed[0]["elapsed"] == 300
    assert outcome.elapsed == 300


def test_force_on_the_poll_grid_costs_no_extra_query() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None})
    outcome = gate(desktop, clock, interval=120, attempts=10, force=True, deadline=240)
    assert outcome.ok
    assert desktop.kinds() == ["query", "query", "query", "stop", "query"]
    assert desktop.at("stop") == [240]


def test_force_at_deadline_zero_closes_at_once() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None})
    outcome = gate(desktop, clock, interval=60, attempts=1, force=True, deadline=0)
    assert outcome.ok
    assert desktop.kinds() == ["query", "stop", "query"]
    assert clock.slept == []


def test_nobody_is_closed_before_the_deadline_even_if_the_wait_ends_there() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None})
    outcome = gate(desktop, clock, interval=100, attempts=4, force=True, deadline=300)
    assert outcome.ok
    assert desktop.at("stop") == [300]
    assert desktop.at("query") == [0, 100, 200, 300, 300]


def test_a_process_that_survives_the_close_fails_the_wait_at_the_end() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None})
    desktop.stop = lambda procs: [  # type: ignore[method-assign]
        {"pid": p["pid"], "name": p["name"], "status": "failed", "error": "Access is denied"} for p in procs
    ]
    outcome = gate(desktop, clock, interval=100, attempts=4, force=True, deadline=100)
    assert not outcome.ok
    assert outcome.closed == []
    assert outcome.not_closed[0]["error"] == "Access is denied"
    # From the deadline on every poll tries again, each followed by one confirming query.
    assert desktop.kinds() == ["query", "query", "query", "query", "query", "query", "query"]


def test_slow_queries_do_not_stretch_the_schedule() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None}, query_cost=15)
    outcome = gate(desktop, clock, interval=60, attempts=3)
    assert not outcome.ok
    assert desktop.at("query") == [15, 75, 135]
    assert clock.slept == [45, 45]


def test_connection_errors_propagate_out_of_the_wait() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None})
    calls = iter([desktop.query, desktop.query])

    def query() -> dict[str, t.Any]:
        step = next(calls, None)
        if step is None:
            raise AnsibleConnectionFailure("winrm connection error: connection reset")
        return step()

    config = _office.settings(interval=60, attempts=10, notify=False, remind_interval=0, force=False, deadline=None)
    with pytest.raises(AnsibleConnectionFailure):
        _office.Gate(config, query, desktop.notify, desktop.stop, clock=clock, sleep=clock.sleep).run()
    assert sum(clock.slept) == 120


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"interval": 0}, "interval must be more than 0"),
        ({"attempts": 0}, "attempts must be 1 or more"),
        ({"remind_interval": -1}, "remind_interval must be 0"),
        ({"remind_interval": 60}, "remind_interval needs notify=true"),
        ({"deadline": 60}, "deadline applies only with force=true"),
        ({"force": True}, "force=true needs deadline"),
        ({"force": True, "deadline": -1}, "deadline must be from 0 to 14280"),
        ({"force": True, "deadline": 14281}, "deadline must be from 0 to 14280"),
    ],
)
def test_settings_are_refused_with_the_option_named(options: dict[str, t.Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _office.settings(**{**DEFAULTS, **options})


def test_process_names_drop_exe_and_duplicates_and_refuse_paths() -> None:
    assert _office.process_names(["WINWORD.EXE", "winword", "excel.exe", "ms-teams"]) == [
        "WINWORD",
        "excel",
        "ms-teams",
    ]
    for bad in (["C:\\x\\WINWORD.EXE"], ["WIN*"], [""], []):
        with pytest.raises(ValueError, match="process"):
            _office.process_names(bad)


def test_reminders_do_not_slip_by_the_time_a_query_takes() -> None:
    clock = FakeClock()
    desktop = FakeDesktop(clock, {"ben": None}, query_cost=5)
    gate(desktop, clock, interval=60, attempts=6, notify=True, remind_interval=120)
    # Polls return at 5, 65, 125, ...: the reminder belongs to the polls scheduled 120 and 240 s in.
    assert desktop.at("notify") == [5, 125, 245]
