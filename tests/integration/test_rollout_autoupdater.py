"""playbooks/rollout.yml with rollout_method=autoupdater: real ansible-playbook against a lab fleet whose users
run the simulated auto-updater, the release offered ring by ring at the lab backend.

The updaters check, download and install in the lab's simulated time (TIME_SCALE), nudged by the rollout;
the rollout's times at the backend are real ones.
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
import time
import typing as t
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.host.updater_state import INSTALL_CHECK_DELAY, HiveState
from lab.testing import start_test_fleet

from .conftest import TIME_SCALE, Ansible
from .test_autoupdater import backend, hive, suite_install, user_of
from .test_rollout import rollout

# lab.fleetconfig.assign_waves: 6 clients make a pilot of 1, waves of 2, 2 and 1.
UPDATER_CLIENTS = 6
TWO_WAVES = ["wave_1", "wave_2"]


@pytest.fixture
def updater_fleet(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Iterator[FleetThread]:
    """A few clients, the lab backend with the built packages (9.3.0 and 9.3.1), simulated minutes in seconds.

    The updater verifies an install five simulated minutes after starting it: in real time a wave
    would take that long. Its daily check interval still spans minutes of real time, longer than the test.
    """
    running = start_test_fleet(
        tmp_path_factory.mktemp("rollout-autoupdater"),
        clients=UPDATER_CLIENTS,
        servers=0,
        backend=True,
        backend_packages=packages,
        time_scale=TIME_SCALE,
    )
    yield running
    running.stop()


def admin_get(fleet: FleetThread, path: str) -> dict[str, t.Any]:
    """A GET of the lab backend's admin API over HTTPS, as an operator's script would send it."""
    server = fleet.fleet.backend
    assert server is not None
    context = ssl.create_default_context(cafile=str(server.ca_path))
    request = urllib.request.Request(
        server.url.rstrip("/") + "/api/v1" + path, headers={"Authorization": f"Bearer {server.config.admin_token}"}
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return t.cast(dict[str, t.Any], json.loads(answer.read()))


def record_offers(fleet: FleetThread) -> list[tuple[str, str, float]]:
    """Every release the backend offers a client from now on: (client id, version, wall time)."""
    offers: list[tuple[str, str, float]] = []

    def spy() -> None:
        server = fleet.fleet.backend
        assert server is not None
        state = server.backend
        release = state.release

        def recorded(channel: str, client: str | None = None) -> dict[str, t.Any]:
            answer = release(channel, client)
            if client is not None:
                offers.append((client, answer["version"], time.time()))
            return answer

        state.release = recorded  # type: ignore[method-assign]

    fleet.run_sync(spy)
    return offers


def updater_ready(ansible: Ansible, control: ControlClient, fleet: FleetThread, hosts: list[str]) -> dict[str, str]:
    """Each host's user with a per-user 9.3.0 and an enabled updater that checked once (no update): host -> user."""
    backend(fleet, stable="9.3.0")
    users = {}
    for host in hosts:
        for session in control.host(host)["sessions"]:
            control.logoff(host, session["user"])
        control.control(host, {"behaviour": {"msiexec_duration": [1, 1]}})
        users[host] = user_of(control, host)
        suite_install(control, host, users[host])
    enable = ansible.playbook(
        "- name: enable\n  rollout.windows.autoupdater:\n    name: Example Office Suite\n    state: enabled\n"
        '    backend_url: "{{ rollout_backend_url }}"\n',
        hosts=":".join(hosts),
    )
    assert enable.rc == 0, enable.stdout
    for host in hosts:
        control.reboot(host, 0)  # the startup task starts the updater, which checks once
    for host in hosts:
        assert until(functools.partial(checked, fleet, host, users[host], "no_update")), hive(fleet, host, users[host])
    return users


def checked(fleet: FleetThread, host: str, user: str, outcome: str) -> bool:
    """Whether the user's updater ended its last check with ``outcome``."""
    return bool(hive(fleet, host, user)["LastOutcome"] == outcome)


def until(ready: t.Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def waves_of(fleet: FleetThread) -> dict[str, list[str]]:
    """The lab inventory's wave groups and their hosts."""
    assert fleet.config.inventory is not None
    inventory = yaml.safe_load(fleet.config.inventory.read_text())
    groups = inventory["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["children"]
    return {name: sorted(group["hosts"]) for name, group in groups.items()}


def _wall(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@contextmanager
def install_checks(fleet: FleetThread, users: dict[str, str]) -> Iterator[None]:
    """While the block runs, move the lab clock past each install's five-minute check once msiexec ended.

    The updater confirms an install only in that check; moving the clock once per install (keyed by the
    check that started it) keeps the updaters' retry intervals out of reach. Never while an msiexec of
    these users runs: a running msiexec notices the move only later, its check would come first and the
    install would count as failed. Looking and moving happen in one step on the fleet's loop, so no
    install can start in between.
    """
    stop = threading.Event()
    handled: set[tuple[str, str]] = set()
    clock = fleet.fleet.clock
    assert clock is not None

    def step() -> None:
        states = {h: HiveState(fleet.fleet.hosts[h].host, u).read() for h, u in users.items()}
        if any(state.Phase == "installing" for state in states.values()):
            return
        due = {(h, state.LastCheck) for h, state in states.items() if state.Phase == "checking_install"} - handled
        if due:
            handled.update(due)
            clock.advance(INSTALL_CHECK_DELAY + 1)

    def watch() -> None:
        while not stop.wait(0.2):
            fleet.run_sync(step)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def test_two_waves_by_autoupdater_wave_2_sees_nothing_until_wave_1_passes(
    updater_fleet: FleetThread, tmp_path: Path, packages: Path
) -> None:
    fleet = updater_fleet
    assert fleet.config.inventory is not None
    control = ControlClient(fleet.control_url)
    (tmp_path / "arrange").mkdir()
    ansible = Ansible(fleet.config.inventory, tmp_path / "arrange")
    groups = waves_of(fleet)
    wave_1, wave_2 = groups["wave_1"], groups["wave_2"]
    users = updater_ready(ansible, control, fleet, wave_1 + wave_2)
    offers = record_offers(fleet)
    extra = {
        "rollout_method": "autoupdater",
        "rollout_version": "9.3.1",
        "rollout_waves": TWO_WAVES,
        "rollout_unassigned": "ignore",
        "rollout_adoption_poll": 1,
    }

    # A first run that cannot pass wave_1's gate (it must have been published an hour): it publishes
    # wave_1, nudges its hosts and ends with exit 0, saying where it stands.
    first = rollout(
        fleet, tmp_path, packages, "first", {**extra, "rollout_adoption_timeout": 0, "rollout_wave_min_age": 3600}
    )
    assert first.rc == 0, first.output
    assert "rollout of 9.3.1 not done: wave_1 published " in first.output
    rings = {r["name"]: r for r in admin_get(fleet, "/rollout")["rings"]}
    assert [(n, r["published_at"] is not None, r["gate"]["passed_at"]) for n, r in rings.items()] == [
        ("wave_1", True, None),
        ("wave_2", False, None),
    ]
    assert rings["wave_2"]["clients"] == [host.upper() for host in wave_2]

    # wave_2's updaters look now, while wave_1 is published: they are offered what the channel offers.
    nudge = ansible.playbook("- name: nudge\n  rollout.windows.autoupdater_nudge:\n", hosts=":".join(wave_2))
    assert nudge.rc == 0, nudge.stdout
    ids = {host: f"{host}\\{users[host]}".casefold() for host in wave_1 + wave_2}
    assert until(lambda: {c.casefold() for c, _v, _w in offers} >= {ids[h] for h in wave_2}), offers
    for host in wave_2:
        assert until(functools.partial(checked, fleet, host, users[host], "no_update")), hive(fleet, host, users[host])

    # The rerun: wave_1 passes once its clients report 9.3.1, only then is wave_2 published and nudged.
    with install_checks(fleet, {h: users[h] for h in wave_1 + wave_2}):
        second = rollout(fleet, tmp_path, packages, "second", {**extra, "rollout_adoption_timeout": 120})
    assert second.rc == 0, second.output
    assert "wave_1 passed its gate: 100 % adopted 9.3.1 (2 of 2)" in second.output
    assert "wave_2 passed its gate: 100 % adopted 9.3.1 (2 of 2)" in second.output

    progress = admin_get(fleet, "/rollout/progress")
    assert progress["state"] == "finished", progress
    by_ring = {r["name"]: r for r in progress["rings"]}
    for name, hosts in (("wave_1", wave_1), ("wave_2", wave_2)):
        ring = by_ring[name]
        assert {c.casefold() for c in ring["adopted"]} == {ids[h] for h in hosts}, ring
        assert (ring["pending"], ring["failed"], ring["not_reporting"], ring["percent_adopted"]) == ([], [], [], 100.0)
    rings = {r["name"]: r for r in admin_get(fleet, "/rollout")["rings"]}
    passed_1 = _wall(rings["wave_1"]["gate"]["passed_at"])
    assert _wall(rings["wave_2"]["published_at"]) >= passed_1
    # What the lab's backend offered wave_2's clients: 9.3.0 until wave_1 passed, 9.3.1 only after.
    seen = [(v, w) for c, v, w in offers if c.casefold() in {ids[h] for h in wave_2}]
    assert any(v == "9.3.0" and w < passed_1 for v, w in seen), seen
    assert all(w >= passed_1 for v, w in seen if v == "9.3.1"), seen
    assert {v for v, w in seen if w >= passed_1} >= {"9.3.1"}
    for host in wave_1 + wave_2:
        state = hive(fleet, host, users[host])
        assert state["LastOutcome"] == "installed", state
        user_versions = [p["version"] for p in control.host(host)["products"] if p["scope"] == "user"]
        assert user_versions == ["9.3.1"], (host, control.host(host)["products"])
