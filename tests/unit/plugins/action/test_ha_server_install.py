"""ha_server_install against lab servers of one cluster: the update, its idempotency, check mode and failures."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.rollout.windows.plugins.action import ha_server_install
from lab.host import BlobStore, make_host
from lab.host.serverproduct import stage_server_installer
from tests.unit.plugins.action.fakehost import FakeHost, action_for


def server(name: str = "srv1", joins: FakeHost | None = None, seed: int = 1) -> FakeHost:
    """A lab server; with ``joins``, a member of that server's cluster on the same clock."""
    host = FakeHost(name, kind="server", seed=seed)
    if joins is not None:
        lab = joins.lab
        host.lab = make_host(name, "server", seed=seed, clock=lab.clock, blobs=BlobStore(), cluster=lab.cluster)
    return host


def staged(host: FakeHost, version: str = "9.3.0") -> dict[str, t.Any]:
    found = stage_server_installer(host.lab, version)
    return {"installer": found["path"], "checksum": f"sha256:{found['sha256']}", "version": version}


def install(host: FakeHost, check_mode: bool = False, **options: t.Any) -> dict[str, t.Any]:
    action = action_for(ha_server_install, host, options, check_mode=check_mode)
    original = action._run
    # Waits run on the lab host's virtual clock: seconds of simulated time, at once.
    action._run = lambda h, a: original(h, a, clock=host.clock, sleep=host.sleep)
    result: dict[str, t.Any] = action.run(task_vars={})
    return result


def test_a_server_that_is_not_the_last_goes_to_update_mode_then_the_last_finishes() -> None:
    first = server("srv1")
    second = server("srv2", joins=first, seed=2)
    result = install(first, **staged(first))
    assert result.get("failed") is not True, result
    assert (result["changed"], result["rc"], result["exit_code_meaning"]) == (True, 0, "the installation is done")
    assert (result["version"], result["mode"], result["database"]) == ("9.3.0", "update", "local-copy")
    assert (result["progress"], result["progress_text"]) == ({"updated": 1, "total": 2}, "1 of 2 servers updated")
    assert result["finished"] is False
    assert result["server"]["admin_console"] is False
    # One state read, the installer, one poll that finds the server in update mode.
    assert result["winrm"]["commands"] == 3
    assert first.names() == ["Get-ServerState", "Invoke-ServerInstaller", "Get-ServerState"]
    args = first.calls[1][1]
    assert args["command_line"].startswith(
        '/quiet /norestart /log "C:\\ProgramData\\Example Backend\\Logs\\setup-9.3.0-'
    )

    last = install(second, **staged(second))
    assert last.get("failed") is not True, last
    assert (last["mode"], last["database"], last["finished"]) == ("production", "production", True)
    assert last["progress_text"] == "2 of 2 servers updated"
    assert last["server"]["schema_version"] == "9.3.0"


def test_a_server_on_the_version_is_never_installed_again() -> None:
    host = server()
    options = staged(host)
    assert install(host, **options)["changed"] is True
    again = install(host, **options)
    assert (again["changed"], again["rc"], again["finished"]) == (False, None, True)
    assert again["winrm"]["commands"] == 1
    assert "already runs 9.3.0 (production mode)" in again["msg"]


def test_check_mode_reports_and_runs_nothing() -> None:
    host = server()
    result = install(host, check_mode=True, **staged(host))
    assert (result["changed"], result["rc"], result["version"]) == (True, None, "9.2.0")
    assert result["msg"].startswith("SRV1 would be updated from 9.2.0 to 9.3.0 with C:\\Install")
    assert host.names() == ["Get-ServerState"]
    assert host.lab.cluster.servers["srv1"].version == "9.2.0"


def test_a_wrong_checksum_runs_nothing() -> None:
    host = server()
    result = install(host, **{**staged(host), "checksum": "sha256:" + "ab" * 32})
    assert result["failed"] is True
    assert result["changed"] is False
    assert f"not {'AB' * 32} as checksum says; nothing was run" in result["msg"]
    assert result["winrm"]["commands"] == 2
    assert host.lab.cluster.servers["srv1"].version == "9.2.0"


def test_a_missing_installer_fails_naming_it() -> None:
    host = server()
    result = install(host, **{**staged(host), "installer": "C:\\Install\\none.exe"})
    assert result["failed"] is True
    assert result["msg"] == "SRV1: the installer C:\\Install\\none.exe is not there; stage it first. Nothing was run"


def test_a_failing_installer_names_the_server_the_meaning_and_the_log() -> None:
    host = server()
    host.lab.apply_control({"faults": {"server_installer_exit": 1603}})
    result = install(host, **staged(host))
    assert result["failed"] is True
    assert (result["rc"], result["exit_code_meaning"]) == (1603, "a fatal error during the installation")
    assert result["msg"].startswith("SRV1: the installer of 9.3.0 failed with exit code 1603: a fatal error")
    assert "Example Backend Setup exits with code 1603" in result["msg"]
    assert result["log_tail"]
    assert result["winrm"]["commands"] == 2
    # Rolled back to production on the old version: the cluster's update is not finished.
    assert (result["version"], result["mode"], result["finished"]) == ("9.2.0", "production", False)


def test_a_standard_user_is_refused_before_anything_runs() -> None:
    host = server()
    # What the primitive answers for a token without the Administrators group (the lab's WinRM account has it).
    host.answer(
        "Invoke-ServerInstaller",
        lambda args: {"exists": True, "sha256": args["sha256"], "elevated": False, "ran": False, "rc": None},
    )
    result = install(host, **staged(host))
    assert result["failed"] is True
    assert "the WinRM account is not an administrator" in result["msg"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("checksum", "md5:abc", "is not sha256: followed by 64 hexadecimal digits"),
        ("version", "9.3", "version '9.3' is not a version like 9.3.0"),
        ("installer", "\\\\share\\setup.exe", "is not a path on the server"),
        ("timeout", 0, "timeout must be at least 1 seconds"),
        ("arguments", ["ok", ""], "arguments: '' is not an argument"),
    ],
)
def test_a_bad_option_is_refused_before_any_command(option: str, value: t.Any, message: str) -> None:
    host = server()
    result = install(host, **{**staged(host), option: value})
    assert result["failed"] is True
    assert message in result["msg"]
    assert result["winrm"]["commands"] == 0


def test_a_newer_server_is_not_downgraded() -> None:
    host = server()
    result = install(host, **staged(host, "9.1.0"))
    assert result["failed"] is True
    assert result["msg"] == "SRV1 runs 9.2.0, newer than 9.1.0; the installer would downgrade it"
    assert result["winrm"]["commands"] == 1


def test_an_installer_past_its_timeout_is_left_running() -> None:
    host = server()
    host.lab.apply_control({"behaviour": {"msiexec_duration": [900, 900]}})
    result = install(host, **staged(host), timeout=60)
    assert result["failed"] is True
    assert "still running after timeout=60 s" in result["msg"]
    assert result["rc"] is None
    host.sleep(900)  # it was left running, and finishes
    assert host.lab.cluster.servers["srv1"].version == "9.3.0"


def test_a_server_that_does_not_report_update_mode_in_time() -> None:
    host = server()
    first = server("srv0", joins=host, seed=3)
    del first  # a second member keeps srv1 from being the last

    def stopped(args: dict[str, t.Any]) -> dict[str, t.Any]:
        answer = host.twin("Get-ServerState", args)
        if host.names().count("Get-ServerState") > 1:
            answer["service"] = "Stopped"
        return answer

    host.answer("Get-ServerState", stopped)
    result = install(host, **staged(host), wait_timeout=30)
    assert result["failed"] is True
    assert "did not report update mode on a local copy or production on 9.3.0 within wait_timeout=30 s" in result["msg"]
    assert "it last reported version 9.3.0, mode update, database local-copy, service Stopped" in result["msg"]
    # The state read, the installer, and a poll every 5 s for 30 s.
    assert result["winrm"]["commands"] == 2 + 7


def test_a_server_unreachable_during_the_install_is_not_installed_again() -> None:
    host = server()
    other = server("srv2", joins=host, seed=2)
    assert other.lab.cluster is host.lab.cluster
    host.lab.apply_control({"faults": {"server_unreachable_during_install": 120}})
    options = staged(host)
    with pytest.raises(AnsibleConnectionFailure):
        install(host, **options)
    host.sleep(300)
    again = install(host, **options)
    assert again.get("failed") is not True, again
    assert (again["changed"], again["mode"], again["winrm"]["commands"]) == (False, "update", 1)
