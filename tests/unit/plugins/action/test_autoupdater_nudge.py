"""autoupdater_nudge against a lab host: who is started, the one-shot task, check mode, a hostile answer, cost."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import autoupdater_nudge
from tests.unit.plugins.action.fakehost import FakeHost, action_for

POLICY = r"Software\Policies\Example Corp\Example Office Suite\AutoUpdater"
TASK_PATH = "\\rollout.windows\\AutoUpdater\\"
EXE = "C:\\Users\\{user}\\AppData\\Local\\Programs\\Example Office Suite\\ExampleSuite.Updater.exe"


def enable(host: FakeHost, user: str, enabled: int = 1) -> None:
    """What rollout.windows.autoupdater leaves: the policy value and the startup task."""
    sid = host.lab.sid_of(user)
    host.lab.registry.set_value(f"HKU\\{sid}\\{POLICY}", "Enabled", enabled, "REG_DWORD")
    task = host.lab.register_task(
        sid,
        user=user,
        trigger={"type": "startup"},
        exe=EXE.format(user=user),
        arguments=["/background"],
        path=TASK_PATH,
    )
    task.update(user_id=sid, logon_type="S4U", run_level="Limited")


@pytest.fixture
def host() -> FakeHost:
    """anna and ben have the updater enabled, carl has a startup task with Enabled=0, dora nothing."""
    lab_host = FakeHost("pc", users=["anna", "ben", "carl", "dora"])
    for user in ("anna", "ben", "carl"):
        lab_host.lab.logon(user)  # their hives are loaded (the lab's users have no profile to load one from)
    enable(lab_host, "anna")
    enable(lab_host, "ben")
    enable(lab_host, "carl", enabled=0)
    return lab_host


def run(host: FakeHost, check_mode: bool = False, **options: t.Any) -> dict[str, t.Any]:
    return action_for(autoupdater_nudge, host, options, check_mode=check_mode).run(task_vars={})


def test_every_enabled_updater_is_started_in_one_command(host: FakeHost) -> None:
    before = dict(host.lab.tasks)
    result = run(host)
    assert result["changed"] is True, result
    assert result["winrm"]["commands"] == 1
    assert host.names() == ["Start-AutoUpdaterNow"]
    assert sorted((u["user"], u["started"], u["error"]) for u in result["users"]) == [
        ("PC\\anna", True, None),
        ("PC\\ben", True, None),
    ]
    assert result["not_started"] == [
        {"user": "PC\\carl", "sid": host.lab.sid_of("carl"), "reason": autoupdater_nudge.NOT_ENABLED}
    ]
    args = host.calls[0][1]
    assert (args["argument"], args["now_path"], args["start"]) == ("/checknow", TASK_PATH + "CheckNow\\", True)
    assert host.lab.tasks == before  # the one-shot tasks are removed, the startup tasks untouched


def test_users_limits_and_a_user_without_a_startup_task_is_skipped(host: FakeHost) -> None:
    result = run(host, users=["ben", "dora"])
    assert [(u["user"], u["started"]) for u in result["users"]] == [("PC\\ben", True)]
    assert result["not_started"] == [{"user": "dora", "sid": None, "reason": autoupdater_nudge.NO_TASK}]


def test_check_mode_starts_nothing(host: FakeHost) -> None:
    started: list[str] = []
    original = host.lab.start_task

    def spy(name: str, path: str = "\\") -> dict[str, t.Any]:
        started.append(name)
        return original(name, path)

    host.lab.start_task = spy  # type: ignore[method-assign]
    result = run(host, check_mode=True)
    assert result["changed"] is True
    assert sorted(u["user"] for u in result["users"] if u["started"]) == ["PC\\anna", "PC\\ben"]
    assert started == []
    assert host.calls[0][1]["start"] is False
    assert result["winrm"]["commands"] == 1


def test_nothing_enabled_is_no_change(host: FakeHost) -> None:
    result = run(host, users=["carl"])
    assert (result["changed"], result["users"]) == (False, [])


def test_a_start_that_failed_fails_the_task_naming_the_user(host: FakeHost) -> None:
    host.lab.task_launch_failures["ben"] = 0x8007052E  # ERROR_LOGON_FAILURE as an HRESULT
    result = run(host)
    assert result["failed"] is True
    assert "PC\\ben: Task Scheduler could not start the task (0x8007052E)" in result["msg"]
    assert [u["user"] for u in result["users"] if u["started"]] == ["PC\\anna"]


def test_a_host_that_names_a_user_not_asked_about_is_refused(host: FakeHost) -> None:
    def hostile(args: dict[str, t.Any]) -> dict[str, t.Any]:
        answer = host.twin("Start-AutoUpdaterNow", {**args, "users": []})
        return answer

    host.answer("Start-AutoUpdaterNow", hostile)
    result = run(host, users=["anna"])
    assert result["failed"] is True
    assert "was not asked about" in result["msg"]


def test_a_host_that_says_it_started_in_check_mode_is_refused(host: FakeHost) -> None:
    host.answer("Start-AutoUpdaterNow", lambda args: host.twin("Start-AutoUpdaterNow", {**args, "start": True}))
    result = run(host, check_mode=True)
    assert result["failed"] is True
    assert "started in check mode" in result["msg"]
