"""Hosts keep the collection's primitives: after a host's first command only a hash and a short loader travel.

Each test gets fresh hosts and its own controller record folder (conftest: ROLLOUT_WINDOWS_PRIMITIVE_RECORD_DIR).
"""

from __future__ import annotations

import pytest

from lab.control import ControlClient, ControlError
from lab.primitives import cache
from lab.winrm.commands import winhost

ADMIN = "labadmin"
ROOT = "C:\\ProgramData\\rollout.windows"
FOLDER = f"{ROOT}\\primitives"
NAME = "Get-InstalledProduct"
INFO = """
- name: info
  rollout.windows.product_info:
    name: nothing*
- name: again
  rollout.windows.product_info:
    name: nothing*
"""
SYSTEM, ADMINISTRATORS = "S-1-5-18", "S-1-5-32-544"


def kept(name: str = NAME) -> str:
    return f"{FOLDER}\\{winhost.cached_file_name(name, winhost.script_sha256(name))}"


def counters(control: ControlClient, host: str) -> dict[str, int]:
    return {k: int(v) for k, v in control.counters(host).items()}


def test_the_second_command_to_a_host_carries_at_most_2_kb_of_script(ansible, control, clients) -> None:
    host = clients[0]
    control.reset_counters([host])
    first = ansible.playbook(INFO, hosts=host)
    assert first.result(host, "info")["_status"] == "ok", first.stdout
    after_first = counters(control, host)
    assert after_first["commands"] == 2
    assert after_first["cache:stored"] == 1
    assert after_first["cache:hit"] == 1
    # A new ansible-playbook run (new workers) finds the record and sends only the hash.
    again = ansible.playbook(INFO, hosts=host)
    after = counters(control, host)
    assert after["commands"] - after_first["commands"] == 2
    assert after["cache:hit"] - after_first["cache:hit"] == 2
    assert (after["script_chars"] - after_first["script_chars"]) / 2 <= 2048
    assert again.result(host, "again")["winrm"]["commands"] == 1
    assert again.result(host, "again")["winrm"]["bytes_sent"] < 2048 + 200  # the JSON arguments on top
    assert first.result(host, "info")["winrm"]["bytes_sent"] > 3 * again.result(host, "again")["winrm"]["bytes_sent"]


def test_a_tampered_copy_is_refused_and_the_script_sent_again(ansible, control, clients) -> None:
    host = clients[1]
    assert ansible.playbook(INFO, hosts=host).result(host, "info")["_status"] == "ok"
    control.logon(host, "mallory")
    evil = winhost.build_script("Get-HostInfo")  # would answer the wrong shape, and be counted, if it ran
    with pytest.raises(ControlError, match=r"Access to the path '.*' is denied\.") as denied:
        control.as_user(host, "mallory", "write", kept(), text=evil)
    assert denied.value.status == 403
    control.as_user(host, ADMIN, "write", kept(), text=evil)  # an administrator can
    before = counters(control, host)
    run = ansible.playbook(INFO, hosts=host)
    result = run.result(host, "info")
    assert result["_status"] == "ok", run.stdout
    assert result["products"] == []
    assert result["winrm"]["commands"] == 2  # the refused hash, then the whole script
    assert any("was not the collection's" in w for w in result.get("warnings", [])), result
    after = counters(control, host)
    assert after.get("primitive:Get-HostInfo", 0) == before.get("primitive:Get-HostInfo", 0) == 0
    assert after["cache:miss"] - before.get("cache:miss", 0) == 1
    assert control.file(host, kept())["sha256"] == winhost.script_sha256(NAME)
    assert run.result(host, "again")["winrm"]["commands"] == 1


def test_a_primitive_folder_others_may_write_to_is_made_anew_and_reported(ansible, control, clients) -> None:
    host = clients[2]
    control.logon(host, "mallory")
    control.as_user(host, ADMIN, "mkdir", ROOT)
    control.as_user(host, ADMIN, "mkdir", FOLDER)  # inherits ProgramData's "Users may create files"
    control.as_user(host, "mallory", "write", f"{FOLDER}\\planted.ps1", text="# planted")
    run = ansible.playbook(INFO, hosts=host)
    result = run.result(host, "info")
    assert result["_status"] == "ok", run.stdout
    assert any("was made anew" in w and "planted.ps1" in w for w in result.get("warnings", [])), result
    security = control.security(host, FOLDER)
    assert (security["owner"], security["protected"]) == (ADMINISTRATORS, True)
    assert {ace["sid"] for ace in security["aces"]} == {SYSTEM, ADMINISTRATORS}
    with pytest.raises(ControlError, match="no such file"):
        control.file(host, f"{FOLDER}\\planted.ps1")
    assert not run.result(host, "again").get("warnings")


def test_a_winrm_account_without_admin_rights_still_works(ansible, control, fleet, clients) -> None:
    host = clients[3]
    model = fleet.fleet.hosts[host].host
    fleet.run_sync(lambda: cache.set_winrm_admin(model, False))
    run = ansible.playbook(INFO, hosts=host)
    first, again = run.result(host, "info"), run.result(host, "again")
    assert (first["_status"], again["_status"]) == ("ok", "ok"), run.stdout
    assert any("cannot keep the collection's primitives" in w for w in first.get("warnings", [])), first
    assert (first["winrm"]["commands"], again["winrm"]["commands"]) == (1, 1)
    assert not again.get("warnings")  # the controller stopped trying for this host in this run
    assert counters(control, host).get("cache:stored", 0) == 0
    with pytest.raises(ControlError, match="no such file"):
        control.file(host, ROOT)


def test_a_fresh_host_costs_no_more_commands_than_without_the_cache(ansible, control, clients, packages) -> None:
    install = """
- name: install
  rollout.windows.msi_package:
    src: "{{ src }}"
"""
    src = {"src": str(packages / "machine-9.3.0")}
    cached, plain = clients[0], clients[1]
    with_cache = ansible.playbook(install, hosts=cached, extra_vars=src).result(cached, "install")
    without = ansible.playbook(
        install, hosts=plain, extra_vars={**src, "rollout_windows_primitive_cache": False}
    ).result(plain, "install")
    assert (with_cache["_status"], without["_status"]) == ("changed", "changed")
    assert with_cache["winrm"]["commands"] == without["winrm"]["commands"]
    assert counters(control, plain).get("cache:stored", 0) == 0
    assert counters(control, cached)["cache:stored"] >= 1
