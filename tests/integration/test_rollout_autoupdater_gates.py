"""The rollout through the auto-updater at its edges: what the backend refuses, a wave that stops the rollout,
the nudge on and off, and a run that ends on time and is continued by the next.

Each test gets its own fleet (one simulated second per real second) with the lab backend and its packages.
The updaters' own waits (the install check five minutes after an install, the daily check) are lab time,
moved with the control API's clock, so no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lab.backend.rollout import NOT_AN_UPDATE
from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.host.updater_state import DEFAULT_CONFIG
from lab.testing import start_test_fleet

from .conftest import Ansible
from .test_autoupdater import _utc, advance_to, backend, hive
from .test_rollout import Rollout, rollout
from .test_rollout_autoupdater import (
    TWO_WAVES,
    UPDATER_CLIENTS,
    admin_get,
    install_checks,
    record_offers,
    until,
    updater_ready,
    waves_of,
)

VERSION = "9.3.1"
BASE = {
    "rollout_method": "autoupdater",
    "rollout_version": VERSION,
    "rollout_unassigned": "ignore",
    "rollout_adoption_poll": 1,
}
# Long enough for a wave's updaters to check, download and install in real time; the runs end far earlier.
PATIENT = 180
BUSY = ("installing", "checking_install")


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Iterator[FleetThread]:
    """Overrides conftest's fleet: a few clients and the lab backend with the built packages, real time."""
    running = start_test_fleet(
        tmp_path_factory.mktemp("rollout-gates"),
        clients=UPDATER_CLIENTS,
        servers=0,
        backend=True,
        backend_packages=packages,
        time_scale=1.0,
    )
    try:
        yield running
    finally:
        running.stop()


def arrange(fleet: FleetThread, tmp_path: Path) -> tuple[Ansible, ControlClient]:
    assert fleet.config.inventory is not None
    (tmp_path / "arrange").mkdir(exist_ok=True)
    return Ansible(fleet.config.inventory, tmp_path / "arrange"), ControlClient(fleet.control_url)


def client_ids(users: dict[str, str]) -> dict[str, str]:
    return {host: f"{host}\\{user}".casefold() for host, user in users.items()}


def scheduled(fleet: FleetThread, host: str, user: str) -> datetime:
    """When the user's updater looks next on its own: the regular interval after its last check (lab time)."""
    return _utc(hive(fleet, host, user)["LastCheck"]) + timedelta(seconds=DEFAULT_CONFIG["update_check_interval"])


def rings(fleet: FleetThread) -> dict[str, dict[str, t.Any]]:
    return {r["name"]: r for r in admin_get(fleet, "/rollout")["rings"]}


def progress(fleet: FleetThread) -> tuple[str, dict[str, dict[str, t.Any]]]:
    answer = admin_get(fleet, "/rollout/progress")
    return answer["state"], {r["name"]: r for r in answer["rings"]}


def assert_adopted(fleet: FleetThread, control: ControlClient, users: dict[str, str], run: Rollout) -> None:
    state, by_ring = progress(fleet)
    assert state == "finished", (by_ring, run.output)
    adopted = {c.casefold() for ring in by_ring.values() for c in ring["adopted"]}
    assert adopted == set(client_ids(users).values()), by_ring
    for host, user in users.items():
        assert hive(fleet, host, user)["LastOutcome"] == "installed", hive(fleet, host, user)
        assert [p["version"] for p in control.host(host)["products"] if p["scope"] == "user"] == [VERSION]


# ---- refusals at the backend ------------------------------------------------------------------------------


def test_a_customizing_only_release_is_refused_and_nothing_is_defined(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, _control = arrange(fleet, tmp_path)
    wave_1 = waves_of(fleet)["wave_1"]
    backend(fleet, stable=VERSION)  # the channel offers 9.3.1 already: a new customizing, the same version
    run = ansible.playbook(
        """
        - name: define
          rollout.windows.backend_rollout:
            version: "{{ version }}"
            rings: [{name: wave_1, clients: "{{ clients }}"}]
            publish: wave_1
          run_once: true
          ignore_errors: true
        """,
        hosts=wave_1[0],
        extra_vars={"version": VERSION, "clients": [h.upper() for h in wave_1]},
    )
    result = run.result(wave_1[0], "define")
    assert result["_status"] == "failed", result
    assert NOT_AN_UPDATE in result["msg"], result["msg"]
    assert f"offers {VERSION} today" in result["msg"], result["msg"]
    assert admin_get(fleet, "/rollout")["state"] == "none"

    # The role says the same and stops before it publishes anything.
    refused = rollout(fleet, tmp_path, packages, "same-version", {**BASE, "rollout_waves": ["wave_1"]})
    assert refused.rc != 0, refused.output
    assert NOT_AN_UPDATE in refused.output
    assert admin_get(fleet, "/rollout")["state"] == "none"


def test_a_client_token_cannot_publish_and_the_rollout_stays(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, _control = arrange(fleet, tmp_path)
    groups = waves_of(fleet)
    host = groups["wave_1"][0]
    backend(fleet, stable="9.3.0")
    rings_arg = [{"name": w, "clients": [h.upper() for h in groups[w]]} for w in TWO_WAVES]
    define = ansible.playbook(
        """
        - name: define
          rollout.windows.backend_rollout:
            version: "{{ version }}"
            rings: "{{ rings }}"
          run_once: true
        """,
        hosts=host,
        extra_vars={"version": VERSION, "rings": rings_arg},
    )
    assert define.result(host, "define")["_status"] == "changed", define.stdout
    before = admin_get(fleet, "/rollout")

    run = ansible.playbook(
        """
        - name: publish
          rollout.windows.backend_rollout:
            backend_token: "{{ lab_backend_client_token }}"
            publish: wave_1
          run_once: true
          ignore_errors: true
        - name: pause
          rollout.windows.backend_rollout:
            backend_token: "{{ lab_backend_client_token }}"
            state: paused
          run_once: true
          ignore_errors: true
        """,
        hosts=host,
    )
    for task in ("publish", "pause"):
        result = run.result(host, task)
        assert result["_status"] == "failed", result
        assert "403 Forbidden" in result["msg"], result["msg"]
        assert "admin token" in result["msg"], result["msg"]
    assert admin_get(fleet, "/rollout") == before
    assert before["state"] == "running"
    assert all(r["published_at"] is None for r in before["rings"])


# ---- the gate ------------------------------------------------------------------------------------------------


def test_a_wave_below_the_criterion_stops_the_rollout_and_the_next_wave_is_never_published(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    groups = waves_of(fleet)
    wave_1, wave_2 = groups["wave_1"], groups["wave_2"]
    users = updater_ready(ansible, control, fleet, wave_1 + wave_2)
    broken = wave_1[0]
    control.control(broken, {"behaviour": {"msiexec_results": [1603]}})  # its install fails: outcome error
    ids = client_ids(users)
    offers = record_offers(fleet)

    with install_checks(fleet, {h: users[h] for h in wave_1}):
        run = rollout(
            fleet,
            tmp_path,
            Path(),
            "stopped",
            {**BASE, "rollout_waves": TWO_WAVES, "rollout_adoption_timeout": PATIENT},
        )
    assert run.rc != 0, run.output
    message = f"wave_1: every client reported and 50 % adopted {VERSION} (1 of 2), below the gate at 95 %; failed: "
    assert f"rollout stopped after {message}" in run.output, {h: hive(fleet, h, users[h]) for h in wave_1}
    assert "later waves were not offered" in run.output

    state, by_ring = progress(fleet)
    assert state == "stopped"
    assert [c.casefold() for c in by_ring["wave_1"]["failed"]] == [ids[broken]], by_ring
    after = rings(fleet)
    assert after["wave_1"]["gate"]["stopped_at"] is not None, after
    assert after["wave_1"]["gate"]["passed_at"] is None
    assert message in after["wave_1"]["gate"]["reason"]
    assert after["wave_2"]["published_at"] is None, after
    assert admin_get(fleet, "/rollout")["note"].startswith("ring wave_1 did not pass its gate")
    assert all(v != VERSION for c, v, _w in offers if c.casefold() in {ids[h] for h in wave_2}), offers
    assert hive(fleet, broken, users[broken])["LastOutcome"] == "error"

    # A rerun does not go on with a stopped rollout.
    again = rollout(
        fleet, tmp_path, packages, "rerun", {**BASE, "rollout_waves": TWO_WAVES, "rollout_adoption_timeout": 0}
    )
    assert again.rc != 0, again.output
    assert f"the rollout of {VERSION} was stopped at the backend" in again.output
    assert rings(fleet)["wave_2"]["published_at"] is None


# ---- the nudge -------------------------------------------------------------------------------------------------


def test_with_the_nudge_the_wave_checks_at_once(fleet: FleetThread, tmp_path: Path, packages: Path) -> None:
    ansible, control = arrange(fleet, tmp_path)
    wave_1 = waves_of(fleet)["wave_1"]
    users = updater_ready(ansible, control, fleet, wave_1)
    due = {h: scheduled(fleet, h, users[h]) for h in wave_1}
    extra = {**BASE, "rollout_waves": ["wave_1"], "rollout_autoupdater_nudge": True}

    with install_checks(fleet, users):
        run = rollout(fleet, tmp_path, packages, "nudged", {**extra, "rollout_adoption_timeout": PATIENT})
    assert run.rc == 0, run.output
    assert f"wave_1 passed its gate: 100 % adopted {VERSION} (2 of 2)" in run.output
    for host in wave_1:
        # The check that installed it came long before the one the updater had scheduled.
        assert _utc(hive(fleet, host, users[host])["LastCheck"]) < due[host], (hive(fleet, host, users[host]), due)
    assert_adopted(fleet, control, users, run)


def test_without_the_nudge_nothing_reports_until_the_updaters_own_check(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    wave_1 = waves_of(fleet)["wave_1"]
    users = updater_ready(ansible, control, fleet, wave_1)
    ids = client_ids(users)
    due = {h: scheduled(fleet, h, users[h]) for h in wave_1}
    before = {h: hive(fleet, h, users[h])["LastCheck"] for h in wave_1}
    offers = record_offers(fleet)
    extra = {**BASE, "rollout_waves": ["wave_1"], "rollout_autoupdater_nudge": False}

    first = rollout(fleet, tmp_path, packages, "quiet", {**extra, "rollout_adoption_timeout": 0})
    assert first.rc == 0, first.output
    assert "not done: wave_1 published " in first.output, first.output
    assert f"0 % adopted {VERSION} (0 of 2)" in first.output, first.output
    assert rings(fleet)["wave_1"]["published_at"] is not None

    # Up to just before their scheduled check, the updaters neither ask nor report.
    advance_to(control, min(due.values()) - timedelta(seconds=60))
    assert {h: hive(fleet, h, users[h])["LastCheck"] for h in wave_1} == before
    assert [o for o in offers if o[0].casefold() in ids.values()] == []
    _state, by_ring = progress(fleet)
    assert {c.casefold() for c in by_ring["wave_1"]["not_reporting"]} == set(ids.values()), by_ring

    # Past it, they look on their own, are offered the release and install it.
    advance_to(control, max(due.values()) + timedelta(seconds=60))
    assert until(lambda: {c.casefold() for c, v, _w in offers if v == VERSION} >= set(ids.values())), offers
    with install_checks(fleet, users):
        second = rollout(fleet, tmp_path, packages, "scheduled", {**extra, "rollout_adoption_timeout": PATIENT})
    assert second.rc == 0, second.output
    assert f"wave_1 passed its gate: 100 % adopted {VERSION} (2 of 2)" in second.output
    for host in wave_1:
        assert _utc(hive(fleet, host, users[host])["LastCheck"]) >= due[host], (hive(fleet, host, users[host]), due)
    assert_adopted(fleet, control, users, second)


# ---- a run that ends on time, continued by the next ----------------------------------------------------------


def test_a_run_ends_on_time_with_exit_0_and_the_next_run_continues(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    groups = waves_of(fleet)
    wave_1, wave_2 = groups["wave_1"], groups["wave_2"]
    users = updater_ready(ansible, control, fleet, wave_1 + wave_2)
    extra = {**BASE, "rollout_waves": TWO_WAVES}

    # The lab clock stands still: no install is confirmed before the run stops waiting.
    first = rollout(fleet, tmp_path, packages, "on-time", {**extra, "rollout_adoption_timeout": 2})
    assert first.rc == 0, first.output
    status = f"rollout of {VERSION} not done: wave_1 published "
    assert status in first.output, first.output
    line = first.output[first.output.index(status) :].splitlines()[0]
    assert f"% adopted {VERSION} (0 of 2), gate at 95 %" in line, line
    assert line.rstrip(' "').endswith("run again to continue"), line
    published = rings(fleet)["wave_1"]["published_at"]
    assert published is not None
    assert admin_get(fleet, "/rollout")["state"] == "running"
    assert rings(fleet)["wave_2"]["published_at"] is None

    def at_install(host: str) -> bool:
        return hive(fleet, host, users[host])["Phase"] in BUSY

    for host in wave_1:  # the nudged updaters are at their install, waiting for its check
        assert until(functools.partial(at_install, host)), hive(fleet, host, users[host])
    with install_checks(fleet, users):
        second = rollout(fleet, tmp_path, packages, "continued", {**extra, "rollout_adoption_timeout": PATIENT})
    assert second.rc == 0, second.output
    assert f"wave_1 passed its gate: 100 % adopted {VERSION} (2 of 2)" in second.output
    assert f"wave_2 passed its gate: 100 % adopted {VERSION} (2 of 2)" in second.output
    assert rings(fleet)["wave_1"]["published_at"] == published  # continued, not published again
    assert_adopted(fleet, control, users, second)


# ---- the other strategies ------------------------------------------------------------------------------------


def test_a_big_bang_offers_the_release_to_one_ring_of_every_client(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    everyone = sorted(host for hosts in waves_of(fleet).values() for host in hosts)
    users = updater_ready(ansible, control, fleet, everyone)
    # Below 1,000 clients a big bang needs no rollout_big_bang_confirm.
    extra = {**BASE, "rollout_strategy": "big_bang", "rollout_adoption_timeout": PATIENT}

    with install_checks(fleet, users):
        run = rollout(fleet, tmp_path, packages, "big-bang", extra)
    assert run.rc == 0, run.output
    n = len(everyone)
    assert f"all passed its gate: 100 % adopted {VERSION} ({n} of {n})" in run.output, run.output
    assert list(rings(fleet)) == ["all"]
    assert len(rings(fleet)["all"]["clients"]) == n
    assert_adopted(fleet, control, users, run)


def test_the_pilot_strategy_offers_the_release_to_the_pilot_then_step_by_step(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    groups = waves_of(fleet)
    everyone = sorted(host for hosts in groups.values() for host in hosts)
    users = updater_ready(ansible, control, fleet, everyone)
    # 5 clients after the pilot: 50 % of them (2), then the other 3.
    extra = {**BASE, "rollout_strategy": "pilot", "rollout_pilot_steps": [50], "rollout_adoption_timeout": PATIENT}

    with install_checks(fleet, users):
        run = rollout(fleet, tmp_path, packages, "pilot", extra)
    assert run.rc == 0, run.output
    by_name = rings(fleet)
    assert list(by_name) == ["pilot", "step_1", "step_2"], by_name
    assert {c.casefold() for c in by_name["pilot"]["clients"]} == {h.casefold() for h in groups["pilot"]}
    passed = [
        f"{ring} passed its gate: 100 % adopted {VERSION} ({k} of {k})"
        for ring, k in [("pilot", 1), ("step_1", 2), ("step_2", 3)]
    ]
    positions = [run.output.find(line) for line in passed]
    assert all(p >= 0 for p in positions), run.output
    assert positions == sorted(positions), positions
    published = [by_name[r]["published_at"] for r in ("pilot", "step_1", "step_2")]
    assert published == sorted(published), by_name
    assert_adopted(fleet, control, users, run)


# ---- the hosts' own word -------------------------------------------------------------------------------------


def test_with_confirm_the_run_lists_each_host_of_the_wave_on_the_version(
    fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    ansible, control = arrange(fleet, tmp_path)
    wave_1 = waves_of(fleet)["wave_1"]
    extra = {**BASE, "rollout_waves": ["wave_1"], "rollout_autoupdater_confirm": True}

    # Without the product's name the plan refuses, before the backend is changed.
    refused = rollout(fleet, tmp_path, packages, "no-name", {**extra, "rollout_adoption_timeout": 0})
    assert refused.rc != 0, refused.output
    assert "set rollout_product_name" in refused.output, refused.output
    assert "rollout_autoupdater_confirm" in refused.output

    users = updater_ready(ansible, control, fleet, wave_1)
    named = {**extra, "rollout_product_name": "Example Office*", "rollout_adoption_timeout": PATIENT}
    with install_checks(fleet, users):
        run = rollout(fleet, tmp_path, packages, "confirmed", named)
    assert run.rc == 0, run.output
    line = f"wave_1: 2 of 2 host(s) have a per-user {VERSION} ("
    assert line in run.output, run.output
    listed = run.output[run.output.index(line) :].splitlines()[0]
    assert all(host in listed for host in wave_1), listed
    assert "without it" not in listed, listed
    # Read after the verdict passed, before the pass is recorded.
    assert run.output.index(line) < run.output.index("Record at the backend that the wave passed")
    assert_adopted(fleet, control, users, run)
