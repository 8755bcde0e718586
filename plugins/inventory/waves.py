# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.waves: pilot and wave groups from percentages, with a hash that never reshuffles."""

from __future__ import annotations

# ansible-test (validate-modules) wants the documentation above every import.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: waves
version_added: 0.1.0
author: rollout.windows maintainers (@rollout-windows)
short_description: Puts the hosts of a group into a pilot and rollout waves by percentages
description:
  - Reads a YAML configuration file (C(plugin) set to C(rollout.windows.waves)) and assigns every host of
    O(source_group), which an earlier inventory source defined, to the O(pilot_group) group or to one of
    the groups C(wave_1) .. C(wave_N) (prefix O(wave_prefix)).
  - Each host gets a point in [0, 1) from a SHA-256 hash of O(salt) and its name; fixed thresholds derived
    from the percentages decide its group. A host's group depends only on its name and this
    configuration, so adding or removing other hosts never moves a host to another wave. The price is
    that shares are statistical (a pilot of 5 percent of 40 hosts may have 0 to 5 hosts), not counted.
  - Changing O(salt), O(pilot) or O(waves) moves hosts; settle them before the first wave runs.
  - Like C(ansible.builtin.constructed), it only works on hosts that exist already, so list it after the
    sources that define the hosts. In an inventory directory, sources load in file-name order, so
    name the files for example C(10-hosts.yml) and C(20-waves.yml).
  - With O(keep_existing), hosts that an earlier source already put in the pilot or a wave group keep that
    group, so admins can pin machines (their own desk PCs into the pilot) and let the hash place the rest.
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [rollout.windows.waves]
  source_group:
    description: The group whose hosts are assigned; an earlier inventory source must define it.
    type: str
    default: rollout_clients
  pilot:
    description: Share of the hosts that go to the pilot, in percent (0 to 100; 0 means no pilot).
    type: float
    default: 5
  waves:
    description:
      - Either the number of equally large waves, or a list of percentages of the hosts that are not in
        the pilot, one per wave, that add up to 100 (for example C([20, 30, 50])).
    type: raw
    default: 3
  salt:
    description:
      - Mixed into the hash, so two fleets (or two rollouts that should be ordered differently) get different
        assignments. Changing it reassigns every host.
    type: str
    default: rollout.windows
  pilot_group:
    description: Name of the pilot group.
    type: str
    default: pilot
  wave_prefix:
    description: Wave groups are named this prefix followed by the wave number, from 1.
    type: str
    default: wave_
  parent_group:
    description:
      - Group that the pilot and wave groups become children of; defaults to O(source_group). An empty
        string makes them top-level groups.
    type: str
  keep_existing:
    description: Leave hosts that are already in the pilot or a wave group where they are.
    type: bool
    default: true
"""

EXAMPLES = r"""
# inventory/20-waves.yml, beside inventory/10-hosts.yml that defines rollout_clients:
plugin: rollout.windows.waves
source_group: rollout_clients
pilot: 5
waves: [20, 30, 50]
salt: suite-2026

# Four equal waves after a 2 % pilot:
# plugin: rollout.windows.waves
# pilot: 2
# waves: 4
"""

import hashlib
import re
import typing as t
from collections.abc import Sequence

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

_MAX_HASH = float(1 << 64)


def hash_point(salt: str, host: str) -> float:
    """A host's place in [0, 1): the same for the same salt and name, on every controller and Python.

    Python's own hash() is randomised per process, so it cannot be used.
    """
    digest = hashlib.sha256(f"{salt}\0{host}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _MAX_HASH


def wave_shares(waves: t.Any) -> list[float]:
    """The wave weights as fractions of the non-pilot hosts that add up to 1; errors name the option."""
    if isinstance(waves, bool):
        raise ValueError(f"waves must be a number of waves or a list of percentages, got {waves!r}")
    if isinstance(waves, (int, str)) and str(waves).strip().isdigit():
        count = int(str(waves).strip())
        if not 1 <= count <= 1000:
            raise ValueError(f"waves must be between 1 and 1000 equal waves, got {count}")
        return [1 / count] * count
    if isinstance(waves, Sequence) and not isinstance(waves, str) and waves:
        try:
            shares = [float(str(value).strip().rstrip("%")) for value in waves]
        except ValueError:
            raise ValueError(f"waves must be a list of percentages such as [20, 30, 50], got {waves!r}") from None
        if any(share <= 0 for share in shares):
            raise ValueError(f"every wave in waves needs a share above 0 percent, got {waves!r}")
        if abs(sum(shares) - 100) > 0.01:
            raise ValueError(f"the percentages in waves must add up to 100, they add up to {sum(shares):g}")
        return [share / 100 for share in shares]
    raise ValueError(f"waves must be a number of waves or a list of percentages such as [20, 30, 50], got {waves!r}")


def thresholds(pilot_percent: float, shares: Sequence[float]) -> list[float]:
    """Upper bounds in [0, 1] of the pilot and each wave; fixed by the configuration alone."""
    if not 0 <= pilot_percent <= 100:
        raise ValueError(f"pilot must be a percentage from 0 to 100, got {pilot_percent:g}")
    pilot = pilot_percent / 100
    bounds = [pilot]
    running = 0.0
    for share in shares:
        running += share
        bounds.append(pilot + (1 - pilot) * running)
    bounds[-1] = 1.0  # float sums must not leave a sliver above the last wave
    return bounds


def assign(point: float, bounds: Sequence[float]) -> int:
    """0 for the pilot, n for wave_n."""
    for index, bound in enumerate(bounds):
        if point < bound:
            return index
    return len(bounds) - 1


class InventoryModule(BaseInventoryPlugin):
    NAME = "rollout.windows.waves"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith((".yml", ".yaml", ".config"))

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = False) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        source = self.get_option("source_group")
        if source not in inventory.groups:
            raise AnsibleParserError(
                f"{path}: source_group {source!r} does not exist yet; the sources that define its hosts must "
                "load before this one (in a directory, by file name order)"
            )
        try:
            bounds = thresholds(float(self.get_option("pilot")), wave_shares(self.get_option("waves")))
        except (TypeError, ValueError) as exc:
            raise AnsibleParserError(f"{path}: {exc}") from None
        pilot_group = self.get_option("pilot_group")
        prefix = self.get_option("wave_prefix")
        names = [pilot_group] + [f"{prefix}{number}" for number in range(1, len(bounds))]
        wave_re = re.compile(rf"^(?:{re.escape(pilot_group)}|{re.escape(prefix)}\d+)$")
        parent = self.get_option("parent_group")
        parent = source if parent is None else parent
        for name in names:
            inventory.add_group(name)
            if parent and parent != name:
                inventory.add_group(parent)
                inventory.add_child(parent, name)
        salt = self.get_option("salt")
        keep = self.get_option("keep_existing")
        for host in inventory.groups[source].get_hosts():
            if keep and any(wave_re.match(group.name) for group in host.get_groups()):
                continue
            inventory.add_child(names[assign(hash_point(salt, host.name), bounds)], host.name)
