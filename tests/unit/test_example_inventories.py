"""The production-shaped example inventories: what an admin copies must load and plan as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAVES = ["pilot", "wave_1", "wave_2", "wave_3"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".tmp" / "collections"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("inventory", ["inventories/example", "inventories/example-waves"])
def test_every_client_is_in_exactly_one_wave(inventory: str) -> None:
    listed = run(str(BIN / "ansible-inventory"), "-i", inventory, "--list")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    members = {wave: set(data.get(wave, {}).get("hosts", [])) for wave in WAVES}
    clients = {h for wave in members.values() for h in wave}
    assert all(members[wave] for wave in WAVES), members
    assert sum(len(m) for m in members.values()) == len(clients), "a host is in two waves"
    assert data["rollout_servers"]["hosts"] or data["rollout_servers"].get("children")


def test_the_rollout_playbook_accepts_the_example_inventory_in_check_mode() -> None:
    listed = run(
        str(BIN / "ansible-playbook"), "-i", "inventories/example", "playbooks/rollout.yml", "--check", "--list-hosts"
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "pc-fin-0101.corp.example.com" in listed.stdout
