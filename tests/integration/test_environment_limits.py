"""Limits of the Windows environment end in a clear error before anything runs, never in a hang.

Constrained Language Mode (AppLocker/WDAC clients), the psrp connection and ``become`` are
each refused with a message that names them, and the host sees no primitive run.
"""

from __future__ import annotations

from lab.control import ControlClient

PRODUCT_INFO = """
- name: info
  rollout.windows.product_info:
    name: nothing*
"""


def _primitives_run(control: ControlClient, host: str) -> int:
    return sum(n for key, n in control.counters(host).items() if key.startswith("primitive:"))


def test_constrained_language_mode_is_named(ansible, control: ControlClient, clients) -> None:
    host = clients[0]
    control.control(host, {"behaviour": {"language_mode": "ConstrainedLanguage"}})
    try:
        before = _primitives_run(control, host)
        run = ansible.playbook(PRODUCT_INFO, hosts=host)
        result = run.result(host, "info")
        assert result["_status"] == "failed"
        assert "ConstrainedLanguage mode on this host" in result["msg"]
        assert "AppLocker or WDAC" in result["msg"]
        assert _primitives_run(control, host) == before
    finally:
        control.control(host, {"behaviour": {"language_mode": "FullLanguage"}})
    assert ansible.playbook(PRODUCT_INFO, hosts=host).result(host, "info")["_status"] == "ok"


def test_psrp_is_refused_before_anything_runs(ansible, control: ControlClient, clients) -> None:
    host = clients[1]
    control.reset_counters([host])
    run = ansible.playbook(
        PRODUCT_INFO, hosts=host, play_options="vars:\n  ansible_connection: psrp\n  ansible_psrp_protocol: http"
    )
    result = run.result(host, "info")
    assert result["_status"] == "failed"
    assert "need ansible_connection=winrm" in result["msg"]
    assert "'psrp'" in result["msg"]
    assert result["winrm"]["commands"] == 0
    assert control.counters(host).get("requests", 0) == 0


def test_become_is_refused_before_anything_runs(ansible, control: ControlClient, clients) -> None:
    host = clients[2]
    control.reset_counters([host])
    run = ansible.playbook(
        PRODUCT_INFO, hosts=host, play_options="become: true\nbecome_method: runas\nbecome_user: SYSTEM"
    )
    result = run.result(host, "info")
    assert result["_status"] == "failed"
    assert "become is not supported" in result["msg"]
    assert _primitives_run(control, host) == 0
