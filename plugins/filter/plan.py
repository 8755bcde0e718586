# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout planning filters: wave groups, the play's host pattern, its batches, ``serial`` list and batch cap, the
gate after a push batch, and the settings that are not the same for every client.

Thin wrappers: the planning itself is ``plugin_utils/_plan.py``; here a ``PlanError``
becomes an ``AnsibleFilterError`` so the play stops with the plan's message. The
documentation of each filter is the sidecar ``<filter>.yml`` beside this file.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.rollout.windows.plugins.plugin_utils import _plan


def _plan_batches(hosts: t.Any, groups: t.Any, **options: t.Any) -> list[_plan.Batch]:
    try:
        return _plan.plan(hosts, groups, **options)
    except _plan.PlanError as exc:
        raise AnsibleFilterError(f"rollout plan: {exc}") from None


def wave_serial(hosts: Sequence[str], groups: Mapping[str, Sequence[str]], **options: t.Any) -> list[int]:
    """The play's ``serial`` list: one batch per wave (or piece of a wave)."""
    return _plan.serial(_plan_batches(hosts, groups, **options))


def wave_batches(hosts: Sequence[str], groups: Mapping[str, Sequence[str]], **options: t.Any) -> list[dict[str, t.Any]]:
    """The batches ``wave_serial`` makes, with their hosts: for a preview, a check or a gate."""
    return [batch.as_dict(number) for number, batch in enumerate(_plan_batches(hosts, groups, **options), start=1)]


def wave_groups(groups: Mapping[str, Sequence[str]], pilot: str = "pilot") -> list[str]:
    """The inventory's wave groups in rollout order: the pilot, then wave_1, wave_2, ... by number."""
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("rollout plan: wave_groups takes the inventory's groups mapping (groups)")
    return _plan.discover_waves(groups, pilot)


def wave_pattern(
    groups: Mapping[str, Sequence[str]],
    waves: Sequence[str] | None = None,
    tail: str | None = None,
    pilot: str = "pilot",
) -> str:
    """The host pattern for a play that enumerates hosts wave by wave: ``pilot:wave_1:...``."""
    chosen = wave_groups(groups, pilot) if waves is None else list(waves)
    try:
        return _plan.wave_pattern(chosen, tail)
    except _plan.PlanError as exc:
        raise AnsibleFilterError(f"rollout plan: {exc}") from None


def batch_cap(throttle: t.Any, max_batch: t.Any = 0, slices: t.Any = 1) -> int:
    """The batch cap of one job: its share of the backend's parallel syncs, and rollout_max_batch."""
    try:
        return _plan.batch_cap(throttle, max_batch, slices)
    except _plan.PlanError as exc:
        raise AnsibleFilterError(f"rollout plan: {exc}") from None


def wave_batch(batches: Sequence[Mapping[str, t.Any]], play_batch: Sequence[str]) -> Mapping[str, t.Any]:
    """The planned batch Ansible runs now (``ansible_play_batch``), refused unless it has exactly that batch's hosts.

    Ansible cuts the play's hosts into batches by the serial sizes alone; should its host order ever differ
    from the plan's, a batch would mix waves and its gate would judge the wrong hosts. Cheap to check, costly
    to miss, and checked here so that it costs no task of its own.
    """
    if not play_batch:
        raise AnsibleFilterError("rollout plan: wave_batch got an empty ansible_play_batch")
    first = play_batch[0]
    found = [b for b in batches if first in b.get("hosts", ())]
    if not found:
        raise AnsibleFilterError(f"rollout plan: {first} is in no planned batch")
    batch = found[0]
    if set(batch["hosts"]) != set(play_batch):
        raise AnsibleFilterError(
            f"rollout plan: batch {batch['batch']} should be {batch['wave']} ({len(batch['hosts'])} hosts) but Ansible "
            f"runs {len(play_batch)} other hosts; keep order: inventory and the play's hosts pattern as "
            "playbooks/rollout.yml has them"
        )
    return batch


def batch_gate(
    batches: Sequence[Mapping[str, t.Any]],
    batch: Mapping[str, t.Any],
    play_hosts: Sequence[str],
    success_percentage: t.Any,
) -> dict[str, t.Any]:
    """The gate's verdict after a push batch: how many hosts of its wave so far have the release, and whether to stop.

    A host of the wave's batches so far that is still in the play (``ansible_play_hosts``) passed its install task,
    the version check included; a failed or unreachable host has left the play. A wave cut into several batches is
    judged on all of its hosts so far, so the last piece decides for the whole wave and one failure in a small
    piece weighs no more than in the wave. One filter, not a Jinja mapping of several expressions: each expression
    read the batches through ``hostvars['localhost']`` again, a full variable computation each time.
    """
    try:
        percentage = int(success_percentage)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            f"rollout plan: rollout_success_percentage must be a whole number from 0 to 100, got {success_percentage!r}"
        ) from None
    number = int(batch["batch"])
    wave_hosts = [h for b in batches if b["wave"] == batch["wave"] and int(b["batch"]) <= number for h in b["hosts"]]
    still = set(play_hosts)
    missing = sorted(h for h in wave_hosts if h not in still)
    total = len(wave_hosts)
    done = total - len(missing)
    following = batches[number] if len(batches) > number else None
    label = str(batch["wave"])
    if int(batch["parts"]) > 1:
        label += f" (batches so far: {batch['part']} of {batch['parts']})"
    return {
        "label": label,
        "total": total,
        "done": done,
        "percent": round(100 * done / total, 1) if total else 100.0,
        "missing": missing,
        "stop": 100 * done < percentage * total,
        "next": following,
        "boundary": following is not None and following["wave"] != batch["wave"],
    }


def _comparable(value: t.Any) -> str:
    """One text per value, equal exactly when the values are: mappings by key, whatever their insertion order."""

    def plain(item: t.Any) -> t.Any:
        if isinstance(item, Mapping):
            return {str(key): plain(inner) for key, inner in item.items()}
        if isinstance(item, (list, tuple)):
            return [plain(inner) for inner in item]
        return item

    return json.dumps(plain(value), sort_keys=True, default=str)


def differing_settings(hosts: Sequence[str], hostvars: Mapping[str, t.Any], names: Sequence[str]) -> list[str]:
    """Each of ``names`` whose value is not the same for every one of ``hosts``, with one host per value.

    The rollout decides once with one client's values what a per-host value would change for some clients
    only (the plan, the gates, the install's arguments). Here, and not in a Jinja loop, because a value read
    through ``hostvars`` costs a quarter of a millisecond per host and name in Jinja: the rollout's check of 53
    names over 1,000 clients would cost 13 CPU-seconds there.
    """
    values: dict[str, dict[str, str]] = {name: {} for name in names}
    for host in hosts:
        found = hostvars[host]
        for name in names:
            if name not in found:
                value = "(role default)"
            else:
                try:
                    value = _comparable(found[name])
                except AnsibleUndefinedVariable:
                    value = "(undefined)"
            values[name].setdefault(value, host)
    return [
        f"{name} differs between clients ({', '.join(by_value.values())} have different values)"
        for name, by_value in values.items()
        if len(by_value) > 1
    ]


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "wave_serial": wave_serial,
            "wave_batches": wave_batches,
            "wave_groups": wave_groups,
            "wave_pattern": wave_pattern,
            "batch_cap": batch_cap,
            "wave_batch": wave_batch,
            "batch_gate": batch_gate,
            "differing_settings": differing_settings,
        }
