"""reboot with a fake host and a fake clock: what runs, when it polls, what it reports."""

from __future__ import annotations

import random
import types
import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.action import reboot
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from lab.primitives.restart import split_argv

OLD = "2025-03-01T08:00:00.0000000Z"
NEW = "2025-03-04T18:02:55.1000000Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeHost:
    """Boots again ``downtime`` fake seconds after Restart-Host; unreachable while down."""

    def __init__(self, clock: FakeClock, downtime: float = 30.0, restart: t.Any = None) -> None:
        self.clock = clock
        self.downtime = downtime
        self.restart = restart if restart is not None else {"rc": 0, "output": "", "aborted_pending": False}
        self.calls: list[tuple[str, dict[str, t.Any]]] = []
        self.restarted_at: float | None = None
        self.resets = 0

    def run(self, name: str, args: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        self.calls.append((name, dict(args or {})))
        if name == "Restart-Host":
            self.restarted_at = self.clock.now
            if isinstance(self.restart, Exception):
                raise self.restart
            return self.restart
        if name == "Get-HostInfo":
            if self.restarted_at is None:
                return {"last_boot": OLD}
            if self.clock.now < self.restarted_at + self.downtime:
                raise AnsibleConnectionFailure("winrm connection error: connection refused")
            return {"last_boot": NEW}
        raise AssertionError(name)

    def reset(self) -> None:
        self.resets += 1

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


def make_action(check_mode: bool = False) -> reboot.ActionModule:
    action = reboot.ActionModule.__new__(reboot.ActionModule)
    action._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    return action


def args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in reboot.ARGUMENT_SPEC.items()}
    base.update(overrides)
    return base


def run(host: FakeHost, clock: FakeClock, check_mode: bool = False, **overrides: t.Any) -> dict[str, t.Any]:
    return make_action(check_mode)._run(
        host, args(**overrides), reset=host.reset, clock=clock, sleep=clock.sleep, rng=random.Random(7)
    )


def test_restarts_then_waits_for_a_new_boot_time() -> None:
    clock = FakeClock()
    host = FakeHost(clock, downtime=30)
    result = run(host, clock)
    assert result["changed"] is True
    assert result["rebooted"] is True
    assert result["previous_boot"] == OLD
    assert result["last_boot"] == NEW
    assert 30 <= result["elapsed"] <= 30 + reboot.POLL_MAXIMUM
    assert host.names()[:2] == ["Get-HostInfo", "Restart-Host"]
    assert split_argv(host.calls[1][1]["command_line"]) == ["/r", "/f", "/t", "2", "/c", "Reboot initiated by Ansible"]
    # Every failed poll asks for a fresh connection before the next one.
    failed_polls = host.names().count("Get-HostInfo") - 2
    assert host.resets == failed_polls + 1
    assert "failed" not in result


def test_message_goes_to_the_primitive_as_data() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    hostile = 'bye" & shutdown /a & echo "$(whoami)'
    run(host, clock, msg=hostile, pre_reboot_delay=60)
    assert list(host.calls[1][1]) == ["command_line"]
    assert split_argv(host.calls[1][1]["command_line"]) == ["/r", "/f", "/t", "60", "/c", hostile]


def test_check_mode_reports_and_does_not_restart() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    result = run(host, clock, check_mode=True)
    assert result["changed"] is True
    assert result["rebooted"] is False
    assert result["last_boot"] == OLD
    assert host.names() == ["Get-HostInfo"]
    assert host.resets == 0
    assert clock.slept == []


def test_host_that_never_comes_back_fails_within_the_timeout() -> None:
    clock = FakeClock()
    host = FakeHost(clock, downtime=10_000)
    result = run(host, clock, reboot_timeout=120)
    assert result["failed"] is True
    assert result["rebooted"] is True
    assert "reboot_timeout=120" in result["msg"]
    assert "AnsibleConnectionFailure" in result["msg"]
    assert sum(clock.slept) <= 120
    assert result["elapsed"] <= 120


def test_same_boot_time_is_not_success() -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    host.restarted_at = None  # Restart-Host is run, but the fake never goes down: boot time stays
    original = host.run

    def never_down(name: str, a: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        out = original(name, a)
        host.restarted_at = None
        return out

    host.run = never_down  # type: ignore[method-assign]
    result = run(host, clock, reboot_timeout=60)
    assert result["failed"] is True
    assert "boot time has not changed" in result["msg"]


def test_connection_lost_while_starting_counts_as_started() -> None:
    clock = FakeClock()
    host = FakeHost(clock, restart=ConnectionResetError(104, "Connection reset by peer"))
    result = run(host, clock)
    assert result["rebooted"] is True
    assert result["last_boot"] == NEW


def test_shutdown_exe_failure_fails_without_waiting() -> None:
    clock = FakeClock()
    host = FakeHost(clock, restart={"rc": 5, "output": "Access is denied.(5)", "aborted_pending": False})
    with pytest.raises(ValueError, match=r"exit code 5: Access is denied"):
        run(host, clock)
    assert clock.slept == []


def test_primitive_failure_is_not_mistaken_for_a_restart() -> None:
    clock = FakeClock()
    host = FakeHost(clock, restart=PrimitiveError("Restart-Host", "boom", 1))
    with pytest.raises(PrimitiveError):
        run(host, clock)


def test_failing_primitive_after_boot_retries_without_reset() -> None:
    """WMI may not answer yet right after a boot: the primitive fails, but the connection is fine."""
    clock = FakeClock()
    host = FakeHost(clock, downtime=0)
    answers: list[t.Any] = [PrimitiveError("Get-HostInfo", "Invalid class", 1), {"last_boot": NEW}]
    original = host.run

    def flaky(name: str, a: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        if name == "Get-HostInfo" and host.restarted_at is not None:
            host.calls.append((name, {}))
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return original(name, a)

    host.run = flaky  # type: ignore[method-assign]
    result = run(host, clock)
    assert result["last_boot"] == NEW
    assert host.resets == 1


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"reboot_timeout": 0}, "reboot_timeout"),
        ({"pre_reboot_delay": -1}, "pre_reboot_delay"),
        ({"msg": "x" * 513}, "at most 512"),
    ],
)
def test_bad_arguments_are_refused_before_touching_the_host(overrides: dict[str, t.Any], match: str) -> None:
    clock = FakeClock()
    host = FakeHost(clock)
    with pytest.raises(ValueError, match=match):
        run(host, clock, **overrides)
    assert host.calls == []
