"""ha_server_info against a lab server: one command, every value checked, wrong ones named."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import ha_server_info
from lab.host.serverproduct import SETTINGS_KEY
from tests.unit.plugins.action.fakehost import FakeHost, action_for


@pytest.fixture
def server() -> FakeHost:
    return FakeHost("srv1", kind="server")


def info(host: FakeHost, **options: t.Any) -> dict[str, t.Any]:
    result: dict[str, t.Any] = action_for(ha_server_info, host, options).run(task_vars={})
    assert result.get("failed") is not True, result
    assert result["winrm"]["commands"] == 1
    return result


def test_a_server_in_production(server: FakeHost) -> None:
    result = info(server)
    assert result["changed"] is False
    assert result["installed"] is True
    assert result["problems"] == []
    assert result["server"] == {
        "name": "SRV1",
        "version": "9.2.0",
        "mode": "production",
        "database": "production",
        "schema_version": "9.2.0",
        "cluster_name": server.lab.cluster.name,
        "members": ["SRV1"],
        "progress": None,
        "progress_text": None,
        "service": "Running",
        "admin_console": True,
        "last_install_log": None,
    }


def test_a_server_in_update_mode_has_no_admin_console(server: FakeHost) -> None:
    reg = server.lab.registry
    reg.set_value(SETTINGS_KEY, "Mode", "update")
    reg.set_value(SETTINGS_KEY, "Database", "local-copy")
    reg.set_value(SETTINGS_KEY, "UpdateProgress", "2 of 3 servers updated")
    got = info(server)["server"]
    assert (got["mode"], got["database"], got["admin_console"]) == ("update", "local-copy", False)
    assert (got["progress"], got["progress_text"]) == ({"updated": 2, "total": 3}, "2 of 3 servers updated")


@pytest.mark.parametrize(
    ("name", "value", "kind", "problem"),
    [
        ("Mode", "maintenance", "REG_SZ", "Mode 'maintenance' is not one of production, update"),
        ("Mode", 1, "REG_DWORD", "Mode is DWord registry value 1, not a REG_SZ"),
        ("Version", "9.3; rm", "REG_SZ", "Version '9.3; rm' is not a version like 9.2.0"),
        ("UpdateProgress", "4 of 3 servers updated", "REG_SZ", "counts 4 of 3 servers, which cannot be"),
        ("UpdateProgress", "half done", "REG_SZ", "UpdateProgress 'half done' is not like '2 of 3 servers updated'"),
        ("ClusterMembers", "SRV1", "REG_SZ", "ClusterMembers is String registry value 'SRV1', not a REG_MULTI_SZ"),
        ("LastInstallLog", "\\\\evil\\share\\x.log", "REG_SZ", "is not a local path"),
    ],
)
def test_a_wrong_value_is_named_and_left_out(
    server: FakeHost, name: str, value: t.Any, kind: str, problem: str
) -> None:
    server.lab.registry.set_value(SETTINGS_KEY, name, value, kind)
    result = info(server)
    assert any(problem in p for p in result["problems"]), result["problems"]
    key = {"Mode": "mode", "Version": "version", "UpdateProgress": "progress", "ClusterMembers": "members"}
    field = key.get(name, "last_install_log")
    assert result["server"][field] in (None, [])


def test_a_member_that_is_no_computer_name_is_left_out(server: FakeHost) -> None:
    server.lab.registry.set_value(SETTINGS_KEY, "ClusterMembers", ["srv1", "bad name!", "SRV2"], "REG_MULTI_SZ")
    result = info(server)
    assert result["server"]["members"] == ["SRV1", "SRV2"]
    assert result["problems"] == ["ClusterMembers entry 'bad name!' is not a computer name; left out"]


def test_a_host_without_the_product(server: FakeHost) -> None:
    result = info(server, settings_key=r"SOFTWARE\Nobody", service="Nothing")
    assert result["installed"] is False
    assert result["server"]["version"] is None
    assert result["server"]["service"] is None
    assert result["problems"] == []


def test_a_hostile_answer_shape_fails(server: FakeHost) -> None:
    server.answer("Get-ServerState", {"name": "SRV1", "values": [], "kinds": {}})
    result = action_for(ha_server_info, server, {}).run(task_vars={})
    assert result["failed"] is True
    assert "values and kinds must be objects" in result["msg"]
