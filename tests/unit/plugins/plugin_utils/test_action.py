"""The shared run() of the host modules: what counts as a lost connection, and how it surfaces."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.plugin_utils._action import (
    is_connection_error,
    unreachable_on_connection_loss,
)


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
