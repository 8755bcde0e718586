"""playbooks/ha_server_update.yml end to end: real ansible-playbook over real WinRM against a 3-server lab cluster.

Each test gets a fresh cluster (and the lab backend running on it), stages the installer through the control
API, injects its faults there, and reads what happened, and in which order, from the cluster's history
(``GET /cluster``): the servers' modes over time are the proof of the documented procedure.
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from .conftest import ROOT, TIME_SCALE, Ansible, PlaybookRun

PLAYBOOK = ROOT / "playbooks" / "ha_server_update.yml"
SERVERS = ["server-01", "server-02", "server-03"]
OLD, NEW = "9.2.0", "9.3.0"
# Real seconds between the verify play's queries: the members restart in seconds of simulated time.
INSTALL_TASK = "rollout.windows.ha_server_update : Install the new version"
FAST_VERIFY = {"ha_server_update_verify_delay": 1, "ha_server_update_verify_timeout": 30}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetThread]:
    """Overrides conftest's fleet: no clients, three servers of one HA cluster, the backend running on it."""
    (tmp_path / "fleet").mkdir()
    running = start_test_fleet(tmp_path / "fleet", clients=0, servers=3, backend=True, time_scale=TIME_SCALE)
    try:
        yield running
    finally:
        running.stop()


def stage(control: ControlClient, version: str = NEW) -> dict[str, t.Any]:
    """The admin's step before the run: the installer on every server; the variables the playbook then needs."""
    staged = [
        control.request("POST", f"/hosts/{name}/stage-server-installer", {"version": version}) for name in SERVERS
    ]
    assert len({s["path"] for s in staged}) == 1
    assert len({s["sha256"] for s in staged}) == 1
    return {
        "ha_server_update_version": version,
        "ha_server_update_installer": staged[0]["path"],
        "ha_server_update_checksum": f"sha256:{staged[0]['sha256']}",
        **FAST_VERIFY,
    }


def history(control: ControlClient) -> list[dict[str, t.Any]]:
    events: list[dict[str, t.Any]] = control.request("GET", "/cluster")["history"]
    return events


def events(control: ControlClient) -> list[tuple[str, str]]:
    return [(e["server"], e["event"]) for e in history(control)]


def commands(control: ControlClient) -> dict[str, int]:
    """WinRM commands per server, from the lab's per-host counters in the control API's host state."""
    return {name: int(control.host(name)["counters"].get("commands", 0)) for name in SERVERS}


def installer_runs(control: ControlClient, name: str) -> int:
    return int(control.counters(name).get("primitive:Invoke-ServerInstaller", 0))


def update(ansible: Ansible, extra_vars: dict[str, t.Any], inventory: Path | None = None) -> PlaybookRun:
    if inventory is None:
        return ansible.run_file(PLAYBOOK, extra_vars=extra_vars)
    return Ansible(inventory, ansible.workdir).run_file(PLAYBOOK, extra_vars=extra_vars)


def assert_all_updated(control: ControlClient, version: str = NEW) -> None:
    cluster = control.request("GET", "/cluster")
    assert cluster["schema_version"] == version
    for name in SERVERS:
        server = cluster["servers"][name]
        assert (server["version"], server["mode"], server["database"], server["schema_version"]) == (
            version,
            "production",
            "production",
            version,
        ), server
        assert server["service_status"] == "Running"


def test_three_servers_one_after_another_the_last_migrates_and_all_reconnect(
    ansible: Ansible, control: ControlClient
) -> None:
    extra = {**stage(control), "ha_server_update_tested_version": NEW}
    before = commands(control)
    started = time.monotonic()
    run = update(ansible, extra)
    wall = time.monotonic() - started
    assert run.rc == 0, run.stdout
    used = {name: commands(control)[name] - before[name] for name in SERVERS}
    print(f"\nha_server_update: 3 servers updated in {wall:.1f} s wall time (lab time scale {TIME_SCALE:g})")
    print(f"ha_server_update: WinRM commands per server, install run: {used}")

    # Server 1, then 2 into update mode; server 3 renews the schema; 1 and 2 restart and reconnect.
    seen = events(control)
    assert seen[:6] == [
        ("server-01", "install_started"),
        ("server-01", "update_mode"),
        ("server-02", "install_started"),
        ("server-02", "update_mode"),
        ("server-03", "install_started"),
        ("server-03", "schema_renewed"),
    ]
    rest = seen[6:]
    for name in ("server-01", "server-02"):
        assert [e for s, e in rest if s == name] == ["restarting", "production"]
    assert len(rest) == 4, rest
    # While 1 and 2 waited in update mode they ran the new version on a local copy of the database.
    for entry in history(control):
        if entry["event"] == "update_mode":
            assert (entry["version"], entry["mode"], entry["database"]) == (NEW, "update", "local-copy")
    assert_all_updated(control)

    for n, name in enumerate(SERVERS, start=1):
        assert f"{name}: {n} of 3 servers updated" in run.stdout
    assert "every server (3) runs 9.3.0 in production mode" in run.stdout


def test_a_failed_server_stops_the_update_and_a_rerun_goes_on_without_reinstalling(
    ansible: Ansible, control: ControlClient
) -> None:
    extra = {**stage(control), "ha_server_update_tested_version": NEW}
    control.control("server-02", {"faults": {"server_installer_exit": 1603}})
    before = commands(control)
    run = update(ansible, extra)
    assert run.rc != 0
    used = {name: commands(control)[name] - before[name] for name in SERVERS}
    print(f"\nha_server_update: WinRM commands per server, run failing on server-02: {used}")
    # The stop is immediate: server-03 was only asked what it reports (the pre-check), never installed.
    assert used["server-03"] == 1
    assert installer_runs(control, "server-03") == 0
    failed = run.result("server-02", INSTALL_TASK)
    assert failed["_status"] == "failed"
    assert failed["msg"].startswith("SERVER-02: the installer of 9.3.0 failed with exit code 1603")
    # The installer's log tail is in the message, up to its last line.
    assert "rolling back to 9.2.0" in failed["msg"]
    assert failed["msg"].endswith("exits with code 1603: a fatal error occurred during the installation")
    assert failed["msg"] in run.stdout
    assert events(control) == [
        ("server-01", "install_started"),
        ("server-01", "update_mode"),
        ("server-02", "install_started"),
        ("server-02", "install_failed"),
    ]
    assert "server-03" not in {s for s, _e in events(control)}

    control.control("server-02", {"faults": {"server_installer_exit": None}})
    before = commands(control)
    rerun = update(ansible, extra)
    assert rerun.rc == 0, rerun.stdout
    used = {name: commands(control)[name] - before[name] for name in SERVERS}
    print(f"ha_server_update: WinRM commands per server, rerun: {used}")
    assert installer_runs(control, "server-01") == 1
    seen = events(control)
    assert seen.count(("server-01", "install_started")) == 1
    assert seen[4:8] == [
        ("server-02", "install_started"),
        ("server-02", "update_mode"),
        ("server-03", "install_started"),
        ("server-03", "schema_renewed"),
    ]
    assert_all_updated(control)
    assert "3 of 3 servers updated" in rerun.stdout


def _without(inventory: Path, tmp_path: Path, name: str) -> Path:
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    del data["all"]["children"]["rollout_servers"]["children"]["lab_servers"]["hosts"][name]
    out = tmp_path / "inventory-without.yml"
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


def test_a_member_missing_from_the_inventory_is_refused_before_any_install(
    ansible: Ansible, control: ControlClient, tmp_path: Path
) -> None:
    extra = {**stage(control), "ha_server_update_tested_version": NEW}
    run = update(ansible, extra, inventory=_without(ansible.inventory, tmp_path, "server-02"))
    assert run.rc != 0
    assert (
        "no server was changed: cluster members missing from the play: SERVER-02 is not in the inventory" in run.stdout
    )
    assert "AWX/AAP sliced job" in run.stdout
    assert history(control) == []


def test_no_tested_version_is_refused_saying_why(ansible: Ansible, control: ControlClient) -> None:
    run = update(ansible, stage(control))
    assert run.rc != 0
    assert "no server was changed: 9.3.0 has not been tried on a test system" in run.stdout
    assert "Try every new version on a test system first" in run.stdout
    assert "ha_server_update_tested_version=9.3.0" in run.stdout
    assert history(control) == []


def backend_settings(fleet: FleetThread) -> dict[str, t.Any]:
    """What the lab backend holds now (read on its loop, without a request that would observe the cluster)."""
    server = fleet.fleet.backend
    assert server is not None
    return dict(fleet.run_sync(lambda: dict(server.backend.settings)))


def settings_play(allow: bool) -> str:
    return f"""
- name: settings
  rollout.windows.backend_settings:
    install_attempts: 9
    allow_during_cluster_update: {str(allow).lower()}
  ignore_errors: true
"""


def test_backend_writes_are_refused_during_update_mode_and_an_allowed_one_is_lost(
    ansible: Ansible, control: ControlClient, fleet: FleetThread
) -> None:
    extra = {**stage(control), "ha_server_update_tested_version": NEW}
    control.control("server-02", {"faults": {"server_installer_exit": 1603}})
    assert update(ansible, extra).rc != 0
    assert control.request("GET", "/cluster")["servers"]["server-01"]["mode"] == "update"

    refused = ansible.playbook(settings_play(False), hosts="server-01")
    result = refused.result("server-01", "settings")
    assert result["_status"] == "failed", result
    assert "the backend cluster backend is being updated (1 of 3 servers updated)" in result["msg"]
    assert "allow_during_cluster_update=true" in result["msg"]
    settings = backend_settings(fleet)
    assert settings["install_attempts"] != 9

    allowed = ansible.playbook(settings_play(True), hosts="server-01")
    result = allowed.result("server-01", "settings")
    assert result["_status"] == "changed", result
    assert any("may be lost" in w for w in result.get("warnings", []))
    assert backend_settings(fleet)["install_attempts"] == 9

    control.control("server-02", {"faults": {"server_installer_exit": None}})
    assert update(ansible, extra).rc == 0
    assert_all_updated(control)
    # The write went to a server's local copy: after the migration production holds what it held before.
    after = ansible.playbook("- name: info\n  rollout.windows.backend_info:\n", hosts="server-01")
    assert after.result("server-01", "info")["settings"]["install_attempts"] == settings["install_attempts"]
    assert backend_settings(fleet) == settings


def test_a_server_that_does_not_reconnect_is_reported_with_what_it_last_said(
    ansible: Ansible, control: ControlClient
) -> None:
    extra = {
        **stage(control),
        "ha_server_update_tested_version": NEW,
        "ha_server_update_verify_timeout": 3,
    }
    control.control("server-01", {"faults": {"server_no_reconnect": True}})
    run = update(ansible, extra)
    assert run.rc != 0
    assert ("server-01", "not_reconnected") in events(control)
    assert ("server-02", "production") in events(control)
    assert "Not every server of the cluster is back in production mode on 9.3.0" in run.stdout
    report = run.stdout[run.stdout.index("Not every server of the cluster") :].split("\n", 1)[0]
    # What server-01 said last: still in update mode on its local copy, its service stopped.
    assert "server-01: 9.3.0 in update mode, database local-copy, schema 9.2.0, service Stopped" in report
    assert "server-02" not in report
    assert "server-03" not in report
