"""The shared run() of the host modules: validation, refusals, failures, masking, figures, lost connections."""

from __future__ import annotations

import types
import typing as t

import pytest
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.plugin_utils._action import (
    MASK,
    WinHostAction,
    is_connection_error,
    unreachable_on_connection_loss,
)
from tests.unit.plugins.action.fakehost import FakeHost, action_for


def winrm_error() -> Exception:
    class WinRMTransportError(Exception):
        pass

    WinRMTransportError.__module__ = "winrm.exceptions"
    return WinRMTransportError("transport")


@pytest.mark.parametrize(
    "exc",
    [winrm_error(), AnsibleConnectionFailure("x"), ConnectionResetError(104, "reset"), TimeoutError("slow")],
)
def test_transport_errors_are_connection_errors(exc: Exception) -> None:
    assert is_connection_error(exc)


@pytest.mark.parametrize("exc", [KeyError("x"), ValueError("bad"), RuntimeError("bug")])
def test_other_errors_are_not(exc: Exception) -> None:
    assert not is_connection_error(exc)


def test_a_reset_mid_command_becomes_unreachable() -> None:
    with (
        pytest.raises(AnsibleConnectionFailure, match=r"lost the connection to the host: .*reset"),
        unreachable_on_connection_loss(),
    ):
        raise ConnectionResetError(104, "Connection reset by peer")


def test_a_bug_stays_a_bug() -> None:
    with pytest.raises(KeyError), unreachable_on_connection_loss():
        raise KeyError("products")


def test_secrets_are_masked_everywhere_in_a_result() -> None:
    from ansible_collections.rollout.windows.plugins.plugin_utils._action import MASK, mask_secrets

    result = {
        "msg": "msiexec failed: LICENSE=abc123 rejected",
        "diff": {"after": "key abc123\n"},
        "log_tail": ["Property(S): LICENSE = abc123", "ok"],
        "abc123": 1,
        "rc": 1603,
    }
    masked = mask_secrets(result, ["abc123", ""])
    assert "abc123" not in repr(masked)
    assert masked["log_tail"][0] == f"Property(S): LICENSE = {MASK}"
    assert masked["rc"] == 1603
    # Nothing to mask: the same result.
    assert mask_secrets(result, []) is result


def test_a_longer_secret_is_masked_before_a_shorter_one_it_contains() -> None:
    from ansible_collections.rollout.windows.plugins.plugin_utils._action import MASK, mask_secrets

    assert mask_secrets("sig=abc&x=abcdef", ["abc", "abcdef"]) == f"sig={MASK}&x={MASK}"


def test_msi_package_masks_a_signed_url_token_and_secret_values() -> None:
    from ansible_collections.rollout.windows.plugins.action.msi_package import ActionModule

    args = {"secret_properties": {"KEY": "s3cr3t"}, "url": "https://u:pw@h.example/p.zip?sig=TOKEN"}
    secrets = ActionModule._secrets(None, args)  # type: ignore[arg-type]
    assert {"s3cr3t", "sig=TOKEN", "pw"} <= set(secrets)


# -- WinHostAction.run itself, over the real WinHost and the lab's primitives (tests/unit/plugins/action/fakehost.py)
class Echo(WinHostAction):
    """A module whose host work the test decides: it reads the products, then does what ``then`` says."""

    ARGUMENT_SPEC: t.ClassVar[dict[str, dict[str, t.Any]]] = {
        "then": {"type": "str", "choices": ["return", "fail", "refuse", "bug"], "default": "return"},
        "licence": {"type": "str", "no_log": True},
    }

    def _run(self, host: t.Any, args: dict[str, t.Any]) -> dict[str, t.Any]:
        products = host.run("Get-InstalledProduct", {"name": "Example*"})["products"]
        if args["then"] == "fail":
            host.run("Get-MsiProperty", {"path": f"C:\\licence-{args['licence']}.msi"})
        if args["then"] == "refuse":
            raise ValueError(f"licence {args['licence']} is not one this module takes")
        if args["then"] == "bug":
            raise KeyError("products")
        return {"changed": False, "products": products, "warnings": [f"used licence {args['licence']}"]}

    def _secrets(self, args: dict[str, t.Any]) -> list[str]:
        return [args["licence"] or ""]


ECHO = types.ModuleType("ansible_collections.rollout.windows.plugins.action.echo")
ECHO.ActionModule = Echo  # type: ignore[attr-defined]


TASK_KEYWORDS = ("check_mode", "diff", "transport", "become")


def run_echo(host: FakeHost, **kwargs: t.Any) -> dict[str, t.Any]:
    """Echo's run() for a task with these options (and task keywords), as ansible-core calls it."""
    options = {k: v for k, v in kwargs.items() if k not in TASK_KEYWORDS}
    task = {k: v for k, v in kwargs.items() if k in TASK_KEYWORDS}
    return action_for(ECHO, host, options, **task).run(task_vars={})


def test_a_bad_choice_names_the_option_and_what_it_accepts_and_sends_nothing() -> None:
    host = FakeHost()
    with pytest.raises(AnsibleActionFail, match=r"value of then must be one of: return, fail, refuse, bug, got: maybe"):
        run_echo(host, then="maybe")
    assert host.calls == []


def test_an_unknown_option_is_refused_before_the_host() -> None:
    host = FakeHost()
    with pytest.raises(AnsibleActionFail, match=r"Unsupported parameters .*: colour"):
        run_echo(host, colour="blue")
    assert host.calls == []


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ({"transport": "psrp"}, "need ansible_connection=winrm; this host uses 'psrp'"),
        ({"transport": "ansible.builtin.ssh"}, "this host uses 'ansible.builtin.ssh'"),
        ({"become": True}, "become is not supported by rollout.windows modules"),
    ],
)
def test_a_connection_the_primitives_cannot_use_is_refused_at_no_cost(task: dict[str, t.Any], named: str) -> None:
    host = FakeHost()
    result = run_echo(host, **task)
    assert result["failed"] is True
    assert named in result["msg"]
    assert "Nothing was sent to the host." in result["msg"]
    assert result["winrm"] == {"commands": 0, "bytes_sent": 0}
    assert host.calls == []


def test_a_winrm_transport_given_by_its_full_name_is_accepted() -> None:
    result = run_echo(FakeHost(), transport="ansible.builtin.winrm")
    assert "failed" not in result
    assert result["winrm"]["commands"] == 1


def test_the_figures_are_what_went_over_the_wire() -> None:
    host = FakeHost()
    sent: list[int] = []
    execute = host.execute

    def measured(command: str, in_data: bytes | None = None, **kw: t.Any) -> dict[str, t.Any]:
        sent.append(len(command) + len(in_data or b""))
        return execute(command, in_data, **kw)

    action = action_for(ECHO, host, {"licence": "K-1234-5678"})
    action._low_level_execute_command = measured
    result = action.run(task_vars={})
    assert result["products"] == []
    assert host.names() == ["Get-InstalledProduct"]
    assert result["winrm"] == {"commands": 1, "bytes_sent": sum(sent)}
    assert result["winrm"]["bytes_sent"] > 1000  # the primitive's script travels with every command


def test_a_failing_primitive_is_failed_with_its_message_and_still_counted() -> None:
    host = FakeHost()
    result = run_echo(host, then="fail", licence="K-1234-5678")
    assert result["failed"] is True
    # The lab's Get-MsiProperty names the missing file; the licence in its path is masked.
    assert result["msg"].startswith("Get-MsiProperty: ")
    assert f"licence-{MASK}.msi" in result["msg"]
    assert "K-1234-5678" not in repr(result)
    assert result["winrm"]["commands"] == 2


def test_a_bad_value_found_while_deciding_is_failed_with_the_secret_masked() -> None:
    result = run_echo(FakeHost(), then="refuse", licence="K-1234-5678")
    assert result["failed"] is True
    assert result["msg"] == f"licence {MASK} is not one this module takes"
    assert result["winrm"]["commands"] == 1


def test_secrets_are_masked_in_a_successful_result_too() -> None:
    result = run_echo(FakeHost(), licence="K-1234-5678")
    assert result["warnings"] == [f"used licence {MASK}"]


def test_an_answer_saying_failed_is_a_failure_not_a_result() -> None:
    host = FakeHost()
    host.answer("Get-InstalledProduct", {"failed": True, "msg": "Access is denied"})
    result = run_echo(host)
    assert (result["failed"], result["msg"]) == (True, "Get-InstalledProduct: Access is denied")


def test_a_connection_lost_mid_command_is_unreachable() -> None:
    host = FakeHost()
    host.lab.apply_control({"faults": {"drop_next": 1}})  # the lab's own fault: the host drops the connection
    with pytest.raises(AnsibleConnectionFailure, match="lost the connection to the host"):
        run_echo(host)


def test_a_bug_in_a_module_is_not_reported_as_a_failed_host() -> None:
    with pytest.raises(KeyError):
        run_echo(FakeHost(), then="bug")


# -- options_from: the options in a variable the task names (built once, not templated on every host)
class EchoFrom(Echo):
    OPTIONS_FROM = True
    ARGUMENT_SPEC: t.ClassVar[dict[str, dict[str, t.Any]]] = {**Echo.ARGUMENT_SPEC, "options_from": {"type": "str"}}


ECHO_FROM = types.ModuleType("ansible_collections.rollout.windows.plugins.action.echo_from")
ECHO_FROM.ActionModule = EchoFrom  # type: ignore[attr-defined]


def run_from(host: FakeHost, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    from ansible.template import Templar

    action = action_for(ECHO_FROM, host, args)
    action._templar = Templar(loader=None, variables=task_vars)
    result: dict[str, t.Any] = action.run(task_vars=task_vars)
    return result


def test_options_from_a_fact_are_used_and_masked_like_options_in_the_task() -> None:
    host = FakeHost()
    result = run_from(host, {"options_from": "install"}, {"install": {"then": "return", "licence": "K-1234-5678"}})
    assert "failed" not in result
    assert result["warnings"] == [f"used licence {MASK}"]
    assert host.names() == ["Get-InstalledProduct"]


def test_options_from_plain_data_are_not_templated_again() -> None:
    # A fact's strings are data: one that looks like a template stays as it is, as it would in a set_fact result.
    class NoTemplar:
        def template(self, value: t.Any) -> t.Any:
            raise AssertionError(f"templated {value!r}")

    action = action_for(ECHO_FROM, FakeHost(), {"options_from": "install"})
    action._templar = NoTemplar()
    result = action.run(task_vars={"install": {"then": "refuse", "licence": "{{ not_a_template }}"}})
    assert result["msg"] == f"licence {MASK} is not one this module takes"


def test_options_from_are_checked_like_options_in_the_task() -> None:
    host = FakeHost()
    with pytest.raises(AnsibleActionFail, match=r"value of then must be one of: return, fail, refuse, bug, got: maybe"):
        run_from(host, {"options_from": "install"}, {"install": {"then": "maybe"}})
    assert host.calls == []


def test_options_from_a_variable_that_is_still_a_template_are_rendered() -> None:
    from ansible.template import trust_as_template

    task_vars = {"install": trust_as_template("{{ base | combine({'then': 'refuse'}) }}"), "base": {"licence": "L-1"}}
    result = run_from(FakeHost(), {"options_from": "install"}, task_vars)
    assert result["msg"] == f"licence {MASK} is not one this module takes"


@pytest.mark.parametrize(
    ("args", "task_vars", "named"),
    [
        ({"options_from": "install", "then": "fail"}, {"install": {}}, "not both; the task also gives then"),
        ({"options_from": "missing"}, {}, "no variable named 'missing' is defined for this host"),
        ({"options_from": "install"}, {"install": ["then"]}, "the variable 'install' holds a list, not a mapping"),
        ({"options_from": "a b"}, {}, "expected the name of a variable, got 'a b'"),
        ({"options_from": "install"}, {"install": {"options_from": "other"}}, "name a variable again"),
    ],
)
def test_options_from_that_cannot_be_used_are_refused_before_the_host(
    args: dict[str, t.Any], task_vars: dict[str, t.Any], named: str
) -> None:
    host = FakeHost()
    result = run_from(host, args, task_vars)
    assert result["failed"] is True
    assert result["msg"].startswith("options_from: ")
    assert named in result["msg"]
    assert result["msg"].endswith("Nothing was sent to the host.")
    assert result["winrm"] == {"commands": 0, "bytes_sent": 0}
    assert host.calls == []


def test_a_module_that_does_not_take_options_from_refuses_it_as_unknown() -> None:
    with pytest.raises(AnsibleActionFail, match=r"Unsupported parameters .*: options_from"):
        run_echo(FakeHost(), options_from="install")
