from __future__ import annotations

import json
import math
import os
import string
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rollout.windows.plugins.inventory import waves

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent


def _groups(names: list[str], salt: str, pilot: float, spec: object) -> dict[str, int]:
    bounds = waves.thresholds(pilot, waves.wave_shares(spec))
    return {name: waves.assign(waves.hash_point(salt, name), bounds) for name in names}


host_names = st.text(string.ascii_lowercase + string.digits + "-.", min_size=1, max_size=20)
configs = st.tuples(
    st.text(max_size=10),
    st.floats(min_value=0, max_value=100),
    st.one_of(st.integers(min_value=1, max_value=12), st.sampled_from([[20, 30, 50], [50, 50], [10, 10, 80], [100]])),
)


@settings(max_examples=300, deadline=None)
@given(old=st.lists(host_names, unique=True, max_size=50), new=st.lists(host_names, max_size=50), config=configs)
def test_adding_hosts_never_moves_existing_ones(old: list[str], new: list[str], config: tuple) -> None:
    salt, pilot, spec = config
    before = _groups(old, salt, pilot, spec)
    after = _groups(old + [h for h in new if h not in before], salt, pilot, spec)
    assert {name: after[name] for name in old} == before


@pytest.mark.parametrize(("pilot", "spec"), [(5, [20, 30, 50]), (10, 4), (0, [50, 50]), (2.5, 3)])
def test_shares_match_the_percentages_within_sampling_error(pilot: float, spec: object) -> None:
    n = 20_000
    names = [f"pc-{i:05d}.corp.example.com" for i in range(n)]
    counts = [0] * (len(waves.wave_shares(spec)) + 1)
    for group in _groups(names, "test", pilot, spec).values():
        counts[group] += 1
    wanted = [pilot / 100] + [(1 - pilot / 100) * share for share in waves.wave_shares(spec)]
    for count, share in zip(counts, wanted, strict=True):
        # a hash is not a counter: the share is binomial; 5 sigma keeps the test honest and stable
        assert abs(count / n - share) <= 5 * math.sqrt(share * (1 - share) / n) + 1e-9, (counts, wanted)


def test_hash_is_stable_across_runs() -> None:
    # A changed hash function would silently reshuffle every fleet: pin one value.
    assert waves.hash_point("salt", "pc-1") == pytest.approx(
        int.from_bytes(__import__("hashlib").sha256(b"salt\0pc-1").digest()[:8], "big") / 2**64
    )
    assert waves.assign(0.0, [0.05, 0.5, 1.0]) == 0
    assert waves.assign(0.05, [0.05, 0.5, 1.0]) == 1
    assert waves.assign(0.999999, [0.05, 0.5, 1.0]) == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([20, 30], "add up to 100, they add up to 50"),
        ([0, 100], "above 0 percent"),
        (["a"], "list of percentages"),
        (0, "between 1 and 1000"),
        (True, "number of waves or a list"),
        ({}, "number of waves or a list"),
    ],
)
def test_bad_wave_specs_are_refused(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        waves.wave_shares(spec)


def test_bad_pilot_is_refused() -> None:
    with pytest.raises(ValueError, match="pilot must be a percentage from 0 to 100"):
        waves.thresholds(120, [1.0])


def _inventory(tmp_path: Path, config: str) -> tuple[dict[str, t.Any], str]:
    """ansible-inventory itself on a directory: the hosts file, then the plugin config (name order)."""
    hosts = "\n".join(f"        pc-{i:03d}:" for i in range(200))
    (tmp_path / "10-hosts.yml").write_text(
        "all:\n  children:\n    rollout_clients:\n      hosts:\n"
        + hosts
        + "\n      children:\n        pilot:\n          hosts:\n            pc-007:\n"
        + "    rollout_servers:\n      hosts:\n        srv-1:\n",
        encoding="utf-8",
    )
    (tmp_path / "20-waves.yml").write_text(textwrap.dedent(config), encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".tmp" / "collections"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(tmp_path), "--list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout), proc.stderr


def _members(listing: dict[str, t.Any], group: str) -> list[str]:
    return listing.get(group, {}).get("hosts", [])


def test_plugin_composes_with_an_earlier_source(tmp_path: Path) -> None:
    listing, _stderr = _inventory(tmp_path, "plugin: rollout.windows.waves\npilot: 5\nwaves: [20, 30, 50]\nsalt: s1\n")
    members = [_members(listing, name) for name in ("pilot", "wave_1", "wave_2", "wave_3")]
    flat = [h for hosts in members for h in hosts]
    assert sorted(flat) == [f"pc-{i:03d}" for i in range(200)]  # every client in exactly one wave
    assert "pc-007" in members[0]  # pinned by hand, kept (keep_existing)
    assert set(listing["rollout_clients"]["children"]) == {"pilot", "wave_1", "wave_2", "wave_3"}
    expected = _groups([f"pc-{i:03d}" for i in range(200) if i != 7], "s1", 5, [20, 30, 50])
    assert all(h in members[expected[h]] for h in expected)


def test_plugin_refuses_a_missing_source_group(tmp_path: Path) -> None:
    listing, stderr = _inventory(tmp_path, "plugin: rollout.windows.waves\nsource_group: desktops\n")
    # Ansible turns a failing source into a warning and leaves the groups out.
    assert "wave_1" not in listing
    assert "source_group 'desktops' does not exist yet" in " ".join(stderr.split())
