"""``python -m lab serve`` as a process, inventory layout, and determinism under a seed."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import winrm
import yaml

from lab.control import ControlClient
from lab.fleet import Fleet, FleetConfig, assign_waves, host_addresses

REPO = Path(__file__).resolve().parents[2]


def _groups(inventory: dict) -> tuple[dict, dict]:
    children = inventory["all"]["children"]
    clients = children["rollout_clients"]["children"]["lab_clients"]
    servers = children["rollout_servers"]["children"]["lab_servers"]
    return clients, servers


def test_serve_process_end_to_end(tmp_path: Path) -> None:
    inventory = tmp_path / "inv" / "hosts.yml"
    state = tmp_path / "state"
    base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.1"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "lab", "serve", "--clients", "21", "--servers", "2", "--seed", "3"),
            *("--inventory", str(inventory), "--state-dir", str(state), "--base-address", base, "--https"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("lab ready: 21 clients, 2 servers, control http://127.0.0.1:"), (
            line + proc.stderr.read() if proc.poll() is not None and proc.stderr else line
        )
        info = json.loads((state / "lab.json").read_text())
        assert info["pid"] == proc.pid
        assert info["control_url"] in line
        assert (state / "ca.pem").is_file()

        data = yaml.safe_load(inventory.read_text())
        assert data["all"]["vars"]["lab_control_url"] == info["control_url"]
        clients, servers = _groups(data)
        assert sorted(clients["hosts"]) == [f"client-{i:04d}" for i in range(1, 22)]
        assert sorted(servers["hosts"]) == ["server-01", "server-02"]
        waves = {name: set(group["hosts"]) for name, group in clients["children"].items()}
        assert len(waves["pilot"]) == 1
        assert sorted(len(waves[f"wave_{i}"]) for i in (1, 2, 3)) == [6, 7, 7]
        assert set().union(*waves.values()) == set(clients["hosts"])
        first = clients["hosts"]["client-0001"]
        assert first["ansible_host"] == base
        assert first["ansible_port"] == 5986
        assert first["ansible_winrm_scheme"] == "https"
        assert first["ansible_winrm_server_cert_validation"] == "validate"
        assert first["ansible_winrm_ca_trust_path"] == str(state / "ca.pem")
        assert first["ansible_password"] != clients["hosts"]["client-0002"]["ansible_password"]

        # The inventory is usable as written: pywinrm with exactly its settings.
        session = winrm.Session(
            f"https://{first['ansible_host']}:{first['ansible_port']}/wsman",
            auth=(first["ansible_user"], first["ansible_password"]),
            transport=first["ansible_winrm_transport"],
            server_cert_validation="validate",
            ca_trust_path=first["ansible_winrm_ca_trust_path"],
        )
        assert session.run_cmd("ver").std_err.startswith(b"lab: not implemented: ver")

        control = ControlClient(info["control_url"])
        assert len(control.hosts()) == 23
        assert control.fleet_counters()["commands"] >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    assert rc == 0
    assert not (state / "lab.json").exists()


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lab", "serve", "--clients", "0", "--inventory", str(tmp_path / "i.yml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=dict(os.environ),
    )
    assert result.returncode == 2
    assert "at least one client or server" in result.stderr


def test_waves_are_deterministic_by_seed() -> None:
    names = [f"client-{i:04d}" for i in range(1, 101)]
    assert assign_waves(names, 1) == assign_waves(list(reversed(names)), 1)
    assert assign_waves(names, 1) != assign_waves(names, 2)
    waves = assign_waves(names, 1)
    assert len(waves["pilot"]) == 5
    assert [len(waves[f"wave_{i}"]) for i in (1, 2, 3)] == [32, 32, 31]
    assert assign_waves(["client-0001"], 9)["pilot"] == ["client-0001"]


def test_addresses_skip_network_and_broadcast_octets() -> None:
    addrs = host_addresses("127.0.1.253", 4)
    assert addrs == ["127.0.1.253", "127.0.1.254", "127.0.2.1", "127.0.2.2"]
    assert len(set(host_addresses("127.0.1.1", 1000))) == 1000


def _inventory_and_state(tmp_path: Path, seed: int) -> tuple[dict, dict]:
    async def build() -> tuple[dict, dict]:
        base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.1"
        cfg = FleetConfig(clients=12, servers=2, seed=seed, state_dir=tmp_path / "state", base_address=base)
        async with Fleet(cfg) as fleet:
            inv = fleet.inventory()
            inv["all"]["vars"].pop("lab_control_url")
            for group in _groups(inv):
                for hv in group["hosts"].values():
                    hv.pop("ansible_host")
            fh = fleet.hosts["client-0003"].host
            snap = {k: fh.snapshot()[k] for k in ("users", "behaviour", "os_version")}
            # Start times follow the wall clock; everything else about the processes must repeat.
            snap["processes"] = [(p["pid"], p["name"], p["user"]) for p in fh.snapshot()["processes"]]
            return inv, snap

    return asyncio.run(build())


def test_same_seed_same_inventory_and_behaviour(tmp_path: Path) -> None:
    a = _inventory_and_state(tmp_path, 11)
    b = _inventory_and_state(tmp_path, 11)
    c = _inventory_and_state(tmp_path, 12)
    assert a == b
    assert a[0] != c[0]
