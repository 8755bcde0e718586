"""reboot against the lab's primitives on its virtual clock: what runs, when it polls, what it reports."""

from __future__ import annotations

import random
import types
import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import reboot
from ansible_collections.rollout.windows.plugins.plugin_utils import _reboot
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from lab.host.msiargs import split_argv
from lab.primitives.hostinfo import dotnet_o
from tests.unit.plugins.action.fakehost import FakeHost

DOWNTIME = 30


def lab_host(downtime: float = DOWNTIME) -> FakeHost:
    """A fresh lab host that stays off the network ``downtime`` simulated seconds when it restarts."""
    host = FakeHost()
    host.lab.apply_control({"behaviour": {"reboot_downtime": downtime}})
    return host


def boot(host: FakeHost) -> str:
    """The lab host's boot time as Get-HostInfo prints it."""
    return dotnet_o(host.lab.boot_time)


def make_action(check_mode: bool = False) -> reboot.ActionModule:
    action = reboot.ActionModule.__new__(reboot.ActionModule)
    action._task = types.SimpleNamespace(check_mode=check_mode, diff=False)
    return action


def args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in reboot.ARGUMENT_SPEC.items()}
    base.update(overrides)
    return base


def run(
    host: FakeHost, check_mode: bool = False, resets: list[int] | None = None, **overrides: t.Any
) -> dict[str, t.Any]:
    """The action's ``_run`` on the lab's clock; each reset of the connection is appended to ``resets``."""
    seen = resets if resets is not None else []
    return make_action(check_mode)._run(
        host,
        args(**overrides),
        reset=lambda: seen.append(len(host.calls)),
        clock=host.clock,
        sleep=host.sleep,
        rng=random.Random(7),
    )


def outcomes(host: FakeHost) -> list[bool]:
    """From now on, whether each primitive run on ``host`` answered (True) or raised (False)."""
    seen: list[bool] = []
    answer = host.run

    def recording(name: str, args: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        try:
            result = answer(name, args)
        except Exception:
            seen.append(False)
            raise
        seen.append(True)
        return result

    host.run = recording  # type: ignore[method-assign]
    return seen


def test_restarts_then_waits_for_a_new_boot_time() -> None:
    host = lab_host()
    old = boot(host)
    answered = outcomes(host)
    resets: list[int] = []
    result = run(host, resets=resets)
    assert result["changed"] is True
    assert result["rebooted"] is True
    assert result["previous_boot"] == old
    assert result["last_boot"] == boot(host) != old
    # shutdown.exe waits its /t 2 seconds, then the host is away for its downtime.
    away = reboot.ARGUMENT_SPEC["pre_reboot_delay"]["default"] + DOWNTIME
    assert away <= result["elapsed"] <= away + _reboot.POLL_MAXIMUM
    assert host.names()[:2] == ["Get-HostInfo", "Restart-Host"]
    assert split_argv(host.calls[1][1]["command_line"]) == ["/r", "/f", "/t", "2", "/c", "Reboot initiated by Ansible"]
    assert [r["comment"] for r in host.lab.reboots] == ["Reboot initiated by Ansible"]
    # Every failed poll asks for a fresh connection before the next one.
    failed_polls = answered.count(False)
    assert failed_polls > 0
    assert len(resets) == failed_polls + 1
    assert "failed" not in result


def test_message_goes_to_the_primitive_as_data() -> None:
    host = lab_host()
    hostile = 'bye" & shutdown /a & echo "$(whoami)'
    run(host, msg=hostile, pre_reboot_delay=60)
    assert list(host.calls[1][1]) == ["command_line"]
    assert split_argv(host.calls[1][1]["command_line"]) == ["/r", "/f", "/t", "60", "/c", hostile]
    assert [r["comment"] for r in host.lab.reboots] == [hostile]


def test_check_mode_reports_and_does_not_restart() -> None:
    host = lab_host()
    old, started = boot(host), host.clock()
    resets: list[int] = []
    result = run(host, check_mode=True, resets=resets)
    assert result["changed"] is True
    assert result["rebooted"] is False
    assert result["last_boot"] == old
    assert host.names() == ["Get-HostInfo"]
    assert resets == []
    assert host.clock() == started  # never slept
    assert host.lab.scheduled_restart is None
    assert host.lab.reboots == []


def test_host_that_never_comes_back_fails_within_the_timeout() -> None:
    host = lab_host(downtime=10_000)
    started = host.clock()
    result = run(host, reboot_timeout=120)
    assert result["failed"] is True
    assert result["rebooted"] is True
    assert "reboot_timeout=120" in result["msg"]
    # The last poll's connection failure, as the fake host raises it, is named.
    assert "ConnectionResetError" in result["msg"]
    assert host.clock() - started <= 120
    assert result["elapsed"] <= 120


def test_same_boot_time_is_not_success() -> None:
    # Restart-Host answers as if shutdown.exe took the restart, but the host never goes down.
    host = lab_host()
    host.answer("Restart-Host", {"rc": 0, "output": "", "aborted_pending": False})
    result = run(host, reboot_timeout=60)
    assert result["failed"] is True
    assert "boot time has not changed" in result["msg"]


def test_connection_lost_while_starting_counts_as_started() -> None:
    host = lab_host()
    old = boot(host)

    def lost_reply(primitive_args: dict[str, t.Any]) -> t.Mapping[str, t.Any]:
        host.twin("Restart-Host", primitive_args)  # shutdown.exe took the restart; its reply never arrives
        raise ConnectionResetError(104, "Connection reset by peer")

    host.answer("Restart-Host", lost_reply)
    result = run(host)
    assert result["rebooted"] is True
    assert result["last_boot"] == boot(host) != old


def test_shutdown_exe_failure_fails_without_waiting() -> None:
    host = lab_host()
    host.answer("Restart-Host", {"rc": 5, "output": "Access is denied.(5)", "aborted_pending": False})
    started = host.clock()
    with pytest.raises(ValueError, match=r"exit code 5: Access is denied"):
        run(host)
    assert host.clock() == started


def test_primitive_failure_is_not_mistaken_for_a_restart() -> None:
    host = lab_host()
    host.answer("Restart-Host", {"failed": True, "msg": "boom"})
    with pytest.raises(PrimitiveError):
        run(host)


def test_failing_primitive_after_boot_retries_without_reset() -> None:
    """WMI may not answer yet right after a boot: the primitive fails, but the connection is fine."""
    host = lab_host(downtime=0)
    old = boot(host)
    flaked: list[bool] = []

    def not_ready_once(primitive_args: dict[str, t.Any]) -> t.Mapping[str, t.Any]:
        honest = host.twin("Get-HostInfo", primitive_args)
        if honest["last_boot"] != old and not flaked:
            flaked.append(True)
            return {"failed": True, "msg": "Invalid class"}
        return honest

    host.answer("Get-HostInfo", not_ready_once)
    resets: list[int] = []
    result = run(host, resets=resets)
    assert flaked == [True]
    assert result["last_boot"] == boot(host) != old
    assert len(resets) == 1


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"reboot_timeout": 0}, "reboot_timeout"),
        ({"pre_reboot_delay": -1}, "pre_reboot_delay"),
        ({"msg": "x" * 513}, "at most 512"),
    ],
)
def test_bad_arguments_are_refused_before_touching_the_host(overrides: dict[str, t.Any], match: str) -> None:
    host = lab_host()
    with pytest.raises(ValueError, match=match):
        run(host, **overrides)
    assert host.calls == []
