"""The HA backend update's pre-check: when it starts, resumes or refuses, and the gap warning between servers."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollout.windows.plugins.filter import ha

HOSTS = ["server-01", "server-02", "server-03"]
MEMBERS = ["SERVER-01", "SERVER-02", "SERVER-03"]
TARGET = "9.4.0"
OLD = "9.3.0"


def server(name: str, version: str = OLD, mode: str = "production", **changes: t.Any) -> dict[str, t.Any]:
    state = {
        "name": name,
        "version": version,
        "mode": mode,
        "database": "production" if mode == "production" else "local-copy",
        "schema_version": OLD,
        "cluster_name": "HA-PROD",
        "members": list(MEMBERS),
        "progress": None,
        "progress_text": None,
        "service": "Running",
        "admin_console": mode == "production",
        "last_install_log": None,
    }
    state.update(changes)
    return state


def cluster(*states: tuple[str, str]) -> dict[str, dict[str, t.Any]]:
    """The play's hosts, in order, with (version, mode) each."""
    return {h: server(h.upper(), v, m) for h, (v, m) in zip(HOSTS, states, strict=True)}


def precheck(servers: dict[str, t.Any], **options: t.Any) -> dict[str, t.Any]:
    options.setdefault("play_hosts", list(servers) if set(servers) >= set(HOSTS) else HOSTS)
    options.setdefault("tested_version", TARGET)
    options.setdefault("inventory", HOSTS)
    return ha.ha_precheck(servers, options.pop("play_hosts"), options.pop("version", TARGET), **options)


FRESH = ((OLD, "production"),) * 3


def test_filters_are_registered() -> None:
    assert set(ha.FilterModule().filters()) == {"ha_precheck", "ha_server_answers", "ha_install_gaps", "ha_verify"}


# --- accepted: a fresh start, a resume, nothing left -------------------------------------------------


def test_every_member_on_one_version_in_production_updates_all_in_inventory_order() -> None:
    servers = cluster(*FRESH)
    result = precheck(dict(reversed(servers.items())), play_hosts=HOSTS)
    assert result == {
        "ok": True,
        "refusals": [],
        "plan": {"to_update": HOSTS, "done": [], "resume": False},
        "version_before": OLD,
        "cluster": "HA-PROD",
        "notes": [],
    }


def test_a_stopped_update_resumes_with_the_servers_still_in_production() -> None:
    result = precheck(cluster((TARGET, "update"), (OLD, "production"), (OLD, "production")))
    assert result["ok"] is True
    assert result["plan"] == {"to_update": ["server-02", "server-03"], "done": ["server-01"], "resume": True}
    assert result["version_before"] == OLD
    assert "resuming a stopped update: server-01 already run 9.4.0 in update mode" in result["notes"][0]


def test_a_stopped_update_resumes_whichever_servers_it_reached() -> None:
    result = precheck(cluster((OLD, "production"), (TARGET, "update"), (TARGET, "update")))
    assert result["ok"] is True
    assert result["plan"] == {"to_update": ["server-01"], "done": ["server-02", "server-03"], "resume": True}


def test_every_member_in_update_mode_on_the_target_leaves_nothing_to_install() -> None:
    # The last installer ran; the others have not reconnected yet. The verify play waits for them.
    result = precheck(cluster(*((TARGET, "update"),) * 3), tested_version="")
    assert result["ok"] is True
    assert result["plan"] == {"to_update": [], "done": HOSTS, "resume": True}
    assert "no server left to install" in result["notes"][0]


def test_a_cluster_already_on_the_target_has_nothing_to_do_and_needs_no_test() -> None:
    result = precheck(cluster(*((TARGET, "production"),) * 3), tested_version="")
    assert result["ok"] is True
    assert result["plan"] == {"to_update": [], "done": HOSTS, "resume": False}
    assert result["version_before"] == TARGET


def test_members_match_case_insensitively_and_by_the_reported_name() -> None:
    # Inventory names need not be the NetBIOS names: the host's own answer says which member it is.
    servers = {
        "app-a.corp.example": server("server-01", members=["server-01", "SERVER-02"]),
        "10.0.0.2": server("SERVER-02", members=["SERVER-01", "server-02"]),
    }
    result = precheck(servers, play_hosts=list(servers), inventory=list(servers))
    assert result["ok"] is True, result["refusals"]
    assert result["plan"]["to_update"] == ["app-a.corp.example", "10.0.0.2"]


# --- refused: members not in the run ------------------------------------------------------------------


def test_a_member_left_out_by_limit_is_named_with_the_slicing_warning() -> None:
    servers = cluster(*FRESH)
    del servers["server-03"]
    result = precheck(servers, play_hosts=["server-01", "server-02"])
    assert result["ok"] is False
    (refusal,) = result["refusals"]
    assert "SERVER-03 is in the inventory as server-03 but not in this run" in refusal
    assert "AWX/AAP sliced job" in refusal
    assert "do not --limit" in refusal
    assert "leaves the updated servers in update mode" in refusal


def test_a_member_missing_from_the_inventory_is_named() -> None:
    # An AWX sliced job: the slice's inventory holds only some of the servers.
    servers = cluster(*FRESH)
    del servers["server-02"]
    result = precheck(servers, play_hosts=["server-01", "server-03"], inventory=["server-01", "server-03"])
    assert result["ok"] is False
    assert "SERVER-02 is not in the inventory" in result["refusals"][0]
    assert "AWX/AAP sliced job" in result["refusals"][0]


def test_a_member_only_one_server_knows_is_still_required() -> None:
    servers = cluster(*FRESH)
    servers["server-01"]["members"] = [*MEMBERS, "SERVER-04"]
    result = precheck(servers)
    assert result["ok"] is False
    assert any("SERVER-04 is not in the inventory" in r for r in result["refusals"])
    assert any("disagree about the cluster" in r for r in result["refusals"])


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"unreachable": ["server-02"]}, "server-02 did not answer (unreachable)"),
        ({"failed": ["server-02"]}, "server-02 did not answer (ha_server_info failed)"),
        ({"failed": {"server-02": "access denied"}}, "server-02 did not answer (ha_server_info failed: access denied)"),
    ],
)
def test_an_unreachable_or_failed_member_refuses(options: dict[str, t.Any], said: str) -> None:
    result = precheck(cluster(*FRESH), **options)
    assert result["ok"] is False
    assert result["refusals"] == [f"{said}; every member must take part"]


def test_a_play_host_without_an_answer_refuses() -> None:
    servers = cluster(*FRESH)
    del servers["server-02"]
    result = precheck(servers, play_hosts=HOSTS)
    assert result["refusals"] == ["server-02 did not answer (no answer); every member must take part"]


def test_a_play_host_that_is_no_member_refuses() -> None:
    servers = {**cluster(*FRESH), "server-09": server("SERVER-09")}
    result = precheck(servers, play_hosts=[*HOSTS, "server-09"], inventory=[*HOSTS, "server-09"])
    assert result["ok"] is False
    assert result["refusals"] == ["server-09 is in the play but no server counts it as a member of the cluster"]


# --- refused: membership and state ------------------------------------------------------------------


def test_servers_that_disagree_about_the_members_refuse() -> None:
    servers = cluster(*FRESH)
    servers["server-03"]["members"] = ["SERVER-03"]
    result = precheck(servers)
    assert result["ok"] is False
    (refusal,) = result["refusals"]
    assert refusal.startswith("the servers disagree about the cluster and its members")
    assert "; server-03: cluster HA-PROD with SERVER-03)" in refusal


def test_servers_of_two_clusters_refuse() -> None:
    servers = cluster(*FRESH)
    servers["server-02"]["cluster_name"] = "HA-TEST"
    result = precheck(servers)
    assert "disagree about the cluster" in result["refusals"][0]
    assert result["cluster"] is None


def test_untrusted_values_refuse() -> None:
    servers = cluster(*FRESH)
    servers["server-02"]["problems"] = ["Mode 'maintenance' is neither production nor update"]
    result = precheck(servers)
    assert result["ok"] is False
    assert "server-02 reported values that cannot be used: Mode 'maintenance'" in result["refusals"][0]


@pytest.mark.parametrize(
    "states",
    [
        ((OLD, "production"), ("9.2.0", "production"), (OLD, "production")),  # two old versions
        ((TARGET, "production"), (OLD, "production"), (OLD, "production")),  # one done, the rest not
        ((TARGET, "update"), (OLD, "production"), ("9.2.0", "production")),
        ((OLD, "production"), (OLD, ""), (OLD, "production")),  # no mode
    ],
)
def test_a_state_no_update_leaves_refuses(states: tuple[tuple[str, str], ...]) -> None:
    result = precheck(cluster(*states))
    assert result["ok"] is False
    (refusal,) = result["refusals"]
    assert refusal.startswith("the servers are in a state this update does not start or resume from")
    assert "some in update mode on 9.4.0 and the rest in production mode on one older version" in refusal
    assert result["plan"] == {"to_update": [], "done": [], "resume": False}


def test_update_mode_on_another_version_says_to_finish_that_update() -> None:
    result = precheck(cluster(("9.3.5", "update"), (OLD, "production"), (OLD, "production")))
    assert result["refusals"] == [
        "server-01 is in update mode on 9.3.5: an update to that version was started and not finished; "
        "finish it first (ha_server_update_version=9.3.5)"
    ]


# --- the tested version -------------------------------------------------------------------------------


def test_a_version_tested_on_the_test_group_is_accepted() -> None:
    tests = {"test-01": server("TEST-01", TARGET, cluster_name="HA-TEST", members=["TEST-01"])}
    result = precheck(cluster(*FRESH), tested_version="", test_servers=tests, test_group="rollout_test_servers")
    assert result["ok"] is True


def test_a_confirmed_tested_version_is_accepted_without_test_servers() -> None:
    assert precheck(cluster(*FRESH), tested_version=TARGET, test_servers={})["ok"] is True


def test_an_untested_version_is_refused_saying_why() -> None:
    result = precheck(cluster(*FRESH), tested_version="9.3.9", test_servers={}, test_group="rollout_test_servers")
    assert result["ok"] is False
    (refusal,) = result["refusals"]
    assert refusal.startswith("9.4.0 has not been tried on a test system: rollout_test_servers has no hosts;")
    assert "ha_server_update_tested_version is 9.3.9" in refusal
    assert "Try every new version on a test system first, hotfixes and patches too" in refusal
    assert "ha_server_update_tested_version=9.4.0" in refusal


@pytest.mark.parametrize(
    ("test_servers", "said"),
    [
        ({"test-01": server("TEST-01", OLD)}, "test-01 of tests runs 9.3.0 in production mode"),
        ({"test-01": server("TEST-01", TARGET, "update")}, "test-01 of tests runs 9.4.0 in update mode"),
        ({"test-01": None}, "test-01 of tests did not answer"),
        (
            {"test-01": server("TEST-01", TARGET), "test-02": server("TEST-02", OLD)},
            "test-02 of tests runs 9.3.0 in production mode",
        ),
        ({"server-01": server("SERVER-01", TARGET)}, "server-01 of tests belong to the cluster being updated"),
    ],
)
def test_a_test_group_that_does_not_run_the_target_refuses(test_servers: dict[str, t.Any], said: str) -> None:
    result = precheck(cluster(*FRESH), tested_version="", test_servers=test_servers, test_group="tests")
    assert result["ok"] is False
    assert said in result["refusals"][0]


def test_a_resume_needs_the_tested_version_too() -> None:
    result = precheck(cluster((TARGET, "update"), (OLD, "production"), (OLD, "production")), tested_version="")
    assert "has not been tried on a test system" in result["refusals"][0]


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "hosts", "version"),
    [([], HOSTS, TARGET), ({"server-01": "x"}, HOSTS, TARGET), ({}, HOSTS, ""), ({}, "server-01", TARGET)],
)
def test_bad_input_is_an_error(servers: t.Any, hosts: t.Any, version: t.Any) -> None:
    with pytest.raises(AnsibleFilterError):
        ha.ha_precheck(servers, hosts, version)


# --- the registered answers ---------------------------------------------------------------------------


def test_answers_are_sorted_into_servers_unreachable_and_failed() -> None:
    results = {
        "server-01": {"changed": False, "server": server("SERVER-01"), "problems": ["SchemaVersion is not a version"]},
        "server-02": {"unreachable": True, "msg": "timed out"},
        "server-03": {"failed": False, "failed_when_result": False, "msg": "access denied"},
        "test-01": {"skipped": True},
    }
    answers = ha.ha_server_answers(results)
    assert answers["servers"] == {"server-01": {**server("SERVER-01"), "problems": ["SchemaVersion is not a version"]}}
    assert answers["reports"] == {
        "server-01": answers["servers"]["server-01"],
        "server-02": None,
        "server-03": None,
        "test-01": None,
    }
    assert answers["unreachable"] == ["server-02"]
    assert answers["failed"] == {"server-03": "access denied", "test-01": "skipped"}
    with pytest.raises(AnsibleFilterError):
        ha.ha_server_answers([])


def test_answers_feed_the_precheck() -> None:
    results = {h: {"server": s} for h, s in cluster(*FRESH).items()}
    results["server-03"] = {"unreachable": True}
    answers = ha.ha_server_answers(results)
    result = precheck(answers["servers"], unreachable=answers["unreachable"], failed=answers["failed"])
    assert result["refusals"] == ["server-03 did not answer (unreachable); every member must take part"]


# --- the gap between two servers ----------------------------------------------------------------------


def test_a_gap_above_the_limit_warns_naming_both_servers() -> None:
    installs = [
        {"host": "server-01", "finished": 1000.0},
        {"host": "server-02", "finished": 1600.0},
        {"host": "server-03", "finished": 3500.0},
    ]
    (warning,) = ha.ha_install_gaps(installs, 1800)
    assert warning.startswith("server-03 finished its update 1900 s after server-02 (more than 1800 s")
    assert "local copy of the database" in warning


@pytest.mark.parametrize(
    ("installs", "limit"),
    [
        ([{"host": "a", "finished": 0}, {"host": "b", "finished": 1800}], 1800),  # exactly the limit
        ([{"host": "a", "finished": 0}, {"host": "b", "finished": 9999}], 0),  # switched off
        ([{"host": "a", "finished": 0}], "1800"),
        ([], 1800),
    ],
)
def test_no_warning_within_the_limit(installs: list[dict[str, t.Any]], limit: t.Any) -> None:
    assert ha.ha_install_gaps(installs, limit) == []


@pytest.mark.parametrize(("installs", "limit"), [([], "soon"), ({}, 1800), (["server-01"], 1800)])
def test_bad_gap_input_is_an_error(installs: t.Any, limit: t.Any) -> None:
    with pytest.raises(AnsibleFilterError):
        ha.ha_install_gaps(installs, limit)


# --- the check after the update -----------------------------------------------------------------------


def test_a_cluster_back_in_production_on_the_new_version_and_schema_verifies() -> None:
    reports = {h: server(h.upper(), TARGET, schema_version=TARGET) for h in HOSTS}
    assert ha.ha_verify(reports, TARGET) == []


def test_a_member_that_did_not_come_back_is_reported_with_what_it_last_said() -> None:
    reports: dict[str, t.Any] = {h: server(h.upper(), TARGET, schema_version=TARGET) for h in HOSTS}
    reports["server-02"] = server(
        "SERVER-02", TARGET, "update", service="Stopped", progress_text="2 of 3 servers updated"
    )
    reports["server-03"] = None
    last = {"server-03": server("SERVER-03", TARGET, "update")}
    assert ha.ha_verify(reports, TARGET, last) == [
        "server-02: 9.4.0 in update mode, database local-copy, schema 9.3.0, service Stopped, '2 of 3 servers updated'",
        "server-03 did not answer; it last said: "
        "9.4.0 in update mode, database local-copy, schema 9.3.0, service Running",
    ]
    assert ha.ha_verify({"server-03": None}, TARGET) == ["server-03 did not answer"]


@pytest.mark.parametrize(
    "changes",
    [{"schema_version": OLD}, {"database": "local-copy"}, {"version": OLD}, {"mode": "update"}],
)
def test_any_part_not_updated_is_reported(changes: dict[str, t.Any]) -> None:
    state = {**server("SERVER-01", TARGET, schema_version=TARGET), **changes}
    (line,) = ha.ha_verify({"server-01": state}, TARGET)
    assert line.startswith("server-01: ")
    with pytest.raises(AnsibleFilterError):
        ha.ha_verify([], TARGET)
