"""The shared run() of the backend modules: options, fallback variables, warnings and errors."""

from __future__ import annotations

import types
import typing as t

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.rollout.windows.plugins.action import backend_info, backend_settings, update_lock
from ansible_collections.rollout.windows.plugins.plugin_utils import _backend
from ansible_collections.rollout.windows.plugins.plugin_utils._backend_action import CONNECTION_ARGUMENT_SPEC

# Nothing listens on port 1: a request fails at once with "connection refused".
CLOSED = "127.0.0.1:1"


def run(module: types.ModuleType, task_vars: dict[str, t.Any] | None = None, **args: t.Any) -> dict[str, t.Any]:
    plugin = module.ActionModule.__new__(module.ActionModule)
    plugin._task = types.SimpleNamespace(args=args, async_val=0, check_mode=False, diff=False, action=module.__name__)
    plugin._connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/nowhere"))
    plugin._templar = types.SimpleNamespace(template=lambda value: str(value).replace("{{ port }}", "1"))
    result: dict[str, t.Any] = plugin.run(task_vars=task_vars or {})
    return result


@pytest.mark.parametrize("module", [backend_info, backend_settings, update_lock])
def test_every_backend_module_takes_the_connection_options(module: types.ModuleType) -> None:
    assert CONNECTION_ARGUMENT_SPEC.items() <= module.ARGUMENT_SPEC.items()
    assert module.ActionModule.ARGUMENT_SPEC is module.ARGUMENT_SPEC


def test_a_bad_option_is_refused_before_the_backend_is_looked_up() -> None:
    # No backend_url either: the option the task got wrong is named, not the missing URL.
    result = run(update_lock, state="locked", message="x" * 1001)
    assert result["failed"] is True
    assert "message has 1001 characters" in result["msg"]
    result = run(backend_settings, error_interval="5 minutes")
    assert result["failed"] is True
    assert result["msg"].startswith("error_interval: '5 minutes' is not an interval")


def test_a_missing_url_fails_with_what_to_set() -> None:
    result = run(backend_info)
    assert result["failed"] is True
    assert result["msg"] == "backend_url is required (or set the variable rollout_backend_url)"


def test_an_unknown_option_fails_the_task() -> None:
    with pytest.raises(AnsibleActionFail, match="backend_ulr"):
        run(backend_info, backend_ulr="https://backend.example")


def test_variables_are_templated_and_plain_http_warns_also_when_the_backend_is_down() -> None:
    task_vars = {
        "rollout_backend_url": "http://127.0.0.1:{{ port }}",
        "rollout_backend_allow_insecure_http": "true",
    }
    result = run(backend_info, task_vars)
    assert result["warnings"] == [_backend.INSECURE_HTTP_WARNING]
    assert result["failed"] is True
    assert result["msg"].startswith(f"cannot connect to backend http://{CLOSED}: connection refused")


def test_an_option_wins_over_its_variable() -> None:
    result = run(
        backend_info,
        {"rollout_backend_url": "https://other.example"},
        backend_url=f"https://{CLOSED}",
    )
    assert result["warnings"] == []
    assert f"backend https://{CLOSED}" in result["msg"]
