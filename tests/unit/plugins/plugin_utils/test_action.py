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
