"""playbooks/rollout.yml under job slicing: N ansible-playbook runs at the same time, each over the inventory a
sliced job template gives its slice, against one lab fleet and its backend.

How the job template splits the hosts (AWX, commit e21dd0a0933fd544d1fe2513c54fe41203775eb5):
awx/main/models/inventory.py, Inventory.get_script_data (line 308) takes the inventory's enabled hosts
ordered by name and get_sliced_hosts (lines 296-298) keeps ``hosts[slice_number - 1::slice_count]``, round
robin; the groups keep only the slice's hosts (line 331, "host might not be in current shard") and every
group stays, empty ones too (line 366). awx/main/tasks/jobs.py, build_inventory (lines 328-330) passes the
job's slice to it. No slice number or count reaches the playbook: build_extra_vars_file (line 1033) adds
awx_meta_vars (awx/main/models/unified_jobs.py line 1554, jobs.py line 813), which have none.

What the batch cap protects here: the push path installs over WinRM, and the lab's clients take no sync
slot while msiexec runs (only the simulated auto-updaters ask the backend's throttle for one): the
backend's Throttle.statistics() show no slot granted after a push rollout, sliced or not, so they cannot
tell. The cap keeps the clients that are being updated at the same time, fleet-wide, within the number
the backend lets sync at once (a client beyond it waits for a slot), and that is what is measured: the
most msiexec runs in flight at once over all slices, from the lab's msiexec history, against max
parallel syncs.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ansible_collections.rollout.windows.plugins.plugin_utils import _plan
from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

from .conftest import BIN, ROOT, TIME_SCALE, report_env

PLAYBOOK = ROOT / "playbooks" / "rollout.yml"
# lab.fleetconfig.assign_waves: 24 clients make a pilot of 1 and waves of 8, 8 and 7; sliced round robin in 3,
# a slice holds up to 4 hosts of one wave, so 3 slices each capped at the whole throttle could run up to 11
# hosts at once against 6 parallel syncs.
CLIENTS = 24
SLICES = 3
MAX_PARALLEL_SYNCS = 6
SHARE = MAX_PARALLEL_SYNCS // SLICES
FAST_GATE = {
    "office_gate_interval": 1,
    "office_gate_attempts": 30,
    "office_gate_force": True,
    "office_gate_deadline": 5,
}


@dataclass
class SliceRun:
    hosts: list[str]
    rc: int
    output: str
    report: dict[str, t.Any]

    @property
    def batches(self) -> list[list[str]]:
        """The hosts of every batch the rollout report shows (of every play that ran a batch)."""
        plays = self.report.get("plays", [])
        return [batch["hosts"] for play in plays for batch in play["batches"] if batch["hosts"]]


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory, packages: Path) -> Iterator[FleetThread]:
    """Overrides conftest's fleet: more clients, and the lab backend whose URL and token go into the inventory."""
    running = start_test_fleet(
        tmp_path_factory.mktemp("slices"),
        clients=CLIENTS,
        servers=0,
        time_scale=TIME_SCALE,
        backend=True,
        backend_packages=packages,
    )
    yield running
    running.stop()


def _hosts_of(group: dict[str, t.Any]) -> list[str]:
    """Every host of the group and its children, each once."""
    found = list((group.get("hosts") or {}).keys())
    for child in (group.get("children") or {}).values():
        found += _hosts_of(child or {})
    return list(dict.fromkeys(found))


def _keep(group: dict[str, t.Any], keep: set[str]) -> dict[str, t.Any]:
    """The group with only the slice's hosts; the group itself stays, empty or not, with its variables."""
    out = {key: value for key, value in group.items() if key not in ("hosts", "children")}
    hosts = {name: value for name, value in (group.get("hosts") or {}).items() if name in keep}
    if hosts:
        out["hosts"] = hosts
    if group.get("children"):
        out["children"] = {name: _keep(child or {}, keep) for name, child in group["children"].items()}
    return out


def slice_inventories(source: Path, count: int, workdir: Path) -> list[Path]:
    """The inventories a job template sliced in ``count`` gives its jobs: every host of the inventory, ordered by
    name, dealt out round robin (slice k of N gets hosts k, k + N, k + 2N, ...)."""
    inventory = yaml.safe_load(source.read_text(encoding="utf-8"))
    everyone = sorted(set(_hosts_of(inventory["all"])))
    paths = []
    for number in range(1, count + 1):
        path = workdir / f"slice{number}of{count}.yml"
        kept = {"all": _keep(inventory["all"], set(everyone[number - 1 :: count]))}
        path.write_text(yaml.safe_dump(kept, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def wave_groups(inventory: Path) -> dict[str, list[str]]:
    """The slice's wave groups in the order Ansible enumerates them (the file's)."""
    lab = yaml.safe_load(inventory.read_text(encoding="utf-8"))["all"]["children"]["rollout_clients"]
    waves = lab["children"]["lab_clients"]["children"]
    return {name: list((group or {}).get("hosts") or {}) for name, group in waves.items()}


def run_slices(inventories: list[Path], packages: Path, workdir: Path, extra: dict[str, t.Any]) -> list[SliceRun]:
    """One ansible-playbook per slice, all started before any is waited for, as the sliced jobs run."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = []
    for number, inventory in enumerate(inventories, start=1):
        reports = workdir / f"reports-{number}"
        env = report_env(workdir, reports)
        extra_vars = {"rollout_package_src": str(packages / "machine-9.3.1"), **FAST_GATE, **extra}
        command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-e", json.dumps(extra_vars)]
        out = (workdir / f"slice-{number}.out").open("w+", encoding="utf-8")
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        started.append((inventory, reports, out, proc))
    runs = []
    try:
        for inventory, reports, out, proc in started:
            rc = proc.wait(timeout=600)
            out.seek(0)
            report_file = reports / "report.json"
            report = json.loads(report_file.read_text()) if report_file.exists() else {}
            runs.append(SliceRun(_hosts_of(yaml.safe_load(inventory.read_text())["all"]), rc, out.read(), report))
    finally:
        for _inventory, _reports, out, proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
    return runs


def throttle_limit(fleet: FleetThread) -> int | None:
    assert fleet.fleet.backend is not None
    return fleet.fleet.backend.backend.throttle.limit


def machine_versions(control: ControlClient, hosts: list[str]) -> dict[str, list[str]]:
    return {host: [p["version"] for p in control.host(host)["products"] if p["scope"] == "machine"] for host in hosts}


def peak_installs(control: ControlClient, hosts: list[str]) -> int:
    """The most msiexec runs in flight at once over ``hosts`` (the lab's one simulated clock, ends before starts)."""
    events: list[tuple[datetime, int]] = []
    for host in hosts:
        for run in control.host(host)["msiexec_history"]:
            end = datetime.fromisoformat(run["time"])
            events += [(end - timedelta(seconds=run["duration"]), 1), (end, -1)]
    peak = current = 0
    for _when, step in sorted(events):
        current += step
        peak = max(peak, current)
    return peak


def test_slices_share_the_backend_throttle_and_together_roll_out_every_host(
    fleet: FleetThread, control: ControlClient, tmp_path: Path, packages: Path
) -> None:
    assert fleet.config.inventory is not None
    inventories = slice_inventories(fleet.config.inventory, SLICES, tmp_path)
    everyone = sorted(
        host for inventory in inventories for host in _hosts_of(yaml.safe_load(inventory.read_text())["all"])
    )
    assert len(everyone) == len(set(everyone)) == CLIENTS
    # Installs of 15 simulated minutes (7.5 s here) keep each batch's msiexec runs in flight long enough for the
    # slices' batches to overlap: with every slice capped at the whole throttle (rollout_slices 1) this fleet
    # measured 9 at once against 6; with the share, 5.
    for host in everyone:
        control.control(host, {"behaviour": {"msiexec_duration": [900, 900]}})
    settings = {"rollout_backend_settings": {"max_parallel_syncs": MAX_PARALLEL_SYNCS}, "rollout_slices": SLICES}
    runs = run_slices(inventories, packages, tmp_path, settings)
    for run in runs:
        assert run.rc == 0, run.output
        # Each slice's batches hold at most its share of the throttle, and cover exactly the slice's hosts.
        assert run.batches, run.output
        assert max(len(batch) for batch in run.batches) <= SHARE, run.batches
        assert sorted(host for batch in run.batches for host in batch) == sorted(run.hosts)
    assert machine_versions(control, everyone) == {host: ["9.3.1"] for host in everyone}
    assert 0 < peak_installs(control, everyone) <= MAX_PARALLEL_SYNCS


def test_a_slice_with_a_failing_wave_stops_at_its_gate_while_the_others_finish(
    fleet: FleetThread, control: ControlClient, tmp_path: Path, packages: Path
) -> None:
    assert fleet.config.inventory is not None
    inventories = slice_inventories(fleet.config.inventory, SLICES, tmp_path)
    groups = wave_groups(inventories[0])
    hosts = [host for hosts in groups.values() for host in hosts]
    batches = _plan.plan(hosts, groups, max_batch=SHARE)
    # One failure in a wave_1 batch of 2: Ansible's own rule (every host of a batch failed) does not trip, the gate
    # (50 % of the wave so far, below 95 %) does.
    first = next(batch for batch in batches if batch.wave == "wave_1" and len(batch.hosts) == 2)
    bad = first.hosts[0]
    control.control(bad, {"behaviour": {"msiexec_results": [1603] * 5}})
    later = [host for batch in batches[batches.index(first) + 1 :] for host in batch.hosts]
    assert later, batches
    control.reset_counters()
    settings = {"rollout_backend_settings": {"max_parallel_syncs": MAX_PARALLEL_SYNCS}, "rollout_slices": SLICES}
    stopped, *others = run_slices(inventories, packages, tmp_path, settings)
    assert stopped.rc == 2, stopped.output
    assert "rollout stopped after wave_1" in stopped.output
    assert f"Failed or unreachable: {bad}." in stopped.output
    assert {host: control.counters(host).get("commands", 0) for host in later} == dict.fromkeys(later, 0)
    assert machine_versions(control, [bad]) == {bad: []}
    for run in others:
        assert run.rc == 0, run.output
        assert machine_versions(control, run.hosts) == {host: ["9.3.1"] for host in run.hosts}


def test_more_slices_than_the_throttle_are_refused_before_the_backend_is_changed(
    fleet: FleetThread, control: ControlClient, tmp_path: Path, packages: Path
) -> None:
    assert fleet.config.inventory is not None
    before = fleet.run_sync(lambda: throttle_limit(fleet))
    control.reset_counters()
    settings = {"rollout_backend_settings": {"max_parallel_syncs": 2}, "rollout_slices": 3}
    (run,) = run_slices([fleet.config.inventory], packages, tmp_path, settings)
    assert run.rc != 0, run.output
    assert "rollout_slices=3 job slices cannot share the backend's max_parallel_syncs=2" in run.output
    assert "Lower rollout_slices" in run.output
    assert before != 2
    assert fleet.run_sync(lambda: throttle_limit(fleet)) == before
    # The auto-updater's rollout is one at the backend for the whole fleet: not to be defined again per slice.
    settings = {"rollout_method": "autoupdater", "rollout_version": "9.3.1", "rollout_slices": 2}
    (run,) = run_slices([fleet.config.inventory], packages, tmp_path / "autoupdater", settings)
    assert run.rc != 0, run.output
    assert "rollout_method=autoupdater keeps one rollout at the backend" in run.output
    assert "(rollout_slices 1, now 2)" in run.output
    assert fleet.run_sync(lambda: fleet.fleet.backend.backend.rollouts.current if fleet.fleet.backend else 0) is None
    assert control.fleet_counters().get("requests", 0) == 0, "a host was contacted"
