# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout planning: which hosts go together in which batch, as Ansible's ``serial`` will run them.

Admins keep waves as inventory groups (``pilot``, ``wave_1`` .. ``wave_N``). A play over
the host pattern ``pilot:wave_1:...:wave_N`` enumerates hosts wave by wave, each wave in
its group's order (the order ``groups[wave]`` shows), and Ansible cuts that list into
consecutive batches of the sizes in ``serial``. So a ``serial`` list whose sizes are the
wave sizes, with large waves split into pieces, makes every batch lie inside one wave;
that is all this module computes. It is pure Python so it can be tested without Ansible
and planned for 10,000 hosts in milliseconds.

Only counts reach Ansible: the batch host lists here are for display, checks and tests.
They equal Ansible's batches as long as the play's pattern names the same waves in the
same order (``wave_pattern`` builds it) and no host sits in two waves (refused here,
because Ansible would silently keep the host in the first wave only).
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

STRATEGIES = ("waves", "pilot", "big_bang")
UNASSIGNED_MODES = ("error", "last", "ignore")
# The product's manual recommends a big bang only up to this many users.
BIG_BANG_LIMIT = 1000
BIG_BANG_CONFIRM_VAR = "rollout_big_bang_confirm"
DEFAULT_PILOT_STEPS = (10, 25, 50)
UNASSIGNED = "unassigned"
_WAVE_RE = re.compile(r"^wave_(\d+)$")


class PlanError(ValueError):
    """A rollout plan that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class Batch:
    """One Ansible batch: ``part`` of ``parts`` pieces of ``wave`` (a group name, a pilot step, or all)."""

    wave: str
    part: int
    parts: int
    hosts: tuple[str, ...]

    def as_dict(self, number: int) -> dict[str, t.Any]:
        return {
            "batch": number,
            "wave": self.wave,
            "part": self.part,
            "parts": self.parts,
            "size": len(self.hosts),
            "hosts": list(self.hosts),
        }


def discover_waves(groups: Mapping[str, Sequence[str]], pilot: str = "pilot") -> list[str]:
    """The wave groups present in ``groups``: the pilot first, then ``wave_N`` by number.

    Sorting by number, not by name, keeps ``wave_10`` after ``wave_9``.
    """
    numbered = sorted(
        (int(match.group(1)), name) for name in groups if (match := _WAVE_RE.match(name)) and name != pilot
    )
    waves = [name for _number, name in numbered]
    return [pilot, *waves] if pilot in groups else waves


def wave_pattern(waves: Sequence[str], tail: str | None = None) -> str:
    """The play host pattern that enumerates hosts wave by wave, in the plan's order.

    ``tail`` (a group such as ``rollout_clients``) comes last so that hosts in no wave
    form the final batch (``unassigned='last'``); Ansible drops the repeats.
    """
    parts = [*waves, tail] if tail else list(waves)
    if not parts:
        raise PlanError("no wave groups: define pilot and wave_1..wave_N groups, or pass waves=[...]")
    return ":".join(parts)


def _check_cap(max_batch: t.Any) -> int:
    # Ansible passes Jinja results through as int, str or None; 0 and None mean "no cap".
    if max_batch in (None, "", False):
        return 0
    try:
        cap = int(max_batch)
    except (TypeError, ValueError):
        raise PlanError(f"max_batch must be a whole number of hosts (0 = no cap), got {max_batch!r}") from None
    if cap < 0 or str(cap) != str(max_batch).strip():
        raise PlanError(f"max_batch must be a whole number of hosts (0 = no cap), got {max_batch!r}")
    return cap


def _split(wave: str, hosts: Sequence[str], cap: int) -> list[Batch]:
    """Cut one wave into pieces no larger than ``cap``, as even as possible.

    Even pieces (e.g. 34+33+33 rather than 50+50) keep the backend load level from batch
    to batch; the first pieces are the larger ones, which is what Ansible's consecutive
    slicing of the ``serial`` sizes reproduces.
    """
    if not hosts:
        return []
    if cap <= 0 or len(hosts) <= cap:
        return [Batch(wave, 1, 1, tuple(hosts))]
    parts = -(-len(hosts) // cap)
    base, extra = divmod(len(hosts), parts)
    out: list[Batch] = []
    start = 0
    for index in range(parts):
        size = base + (1 if index < extra else 0)
        out.append(Batch(wave, index + 1, parts, tuple(hosts[start : start + size])))
        start += size
    return out


def _membership(groups: Mapping[str, Sequence[str]], waves: Sequence[str]) -> dict[str, str]:
    """Host -> its wave; a host in two waves is an error naming it and both groups."""
    seen: dict[str, str] = {}
    for wave in waves:
        for host in groups.get(wave) or ():
            other = seen.get(host)
            if other is not None and other != wave:
                raise PlanError(
                    f"host {host} is in two waves, {other} and {wave}: a host must be in exactly one wave "
                    f"(Ansible would run it only with {other})"
                )
            seen[host] = wave
    return seen


def _unique(hosts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(hosts))


def _check_waves(groups: Mapping[str, Sequence[str]], waves: Sequence[str] | None, pilot: str) -> list[str]:
    if isinstance(waves, (str, bytes)) or not (waves is None or isinstance(waves, Sequence)):
        raise PlanError(f"waves must be a list of group names such as ['pilot', 'wave_1'], got {waves!r}")
    chosen = discover_waves(groups, pilot) if waves is None else [str(wave) for wave in waves]
    if len(set(chosen)) != len(chosen):
        raise PlanError(f"waves names a group twice: {chosen}")
    missing = [wave for wave in chosen if wave not in groups]
    if missing:
        raise PlanError(f"waves names groups the inventory does not have: {', '.join(missing)}")
    return chosen


def _preview(hosts: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(hosts[:limit])
    return shown + (f" and {len(hosts) - limit} more" if len(hosts) > limit else "")


def plan_waves(
    hosts: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    waves: Sequence[str] | None = None,
    *,
    max_batch: t.Any = 0,
    unassigned: str = "error",
    pilot: str = "pilot",
) -> list[Batch]:
    """Batches for the waves strategy: each wave one batch, big waves cut at ``max_batch``.

    ``hosts`` are the play's hosts (``ansible_play_hosts_all``, which already honours
    ``--limit``); only their membership counts, the order within a wave is the group's,
    because that is the order in which Ansible enumerates a group pattern. Hosts of the
    play in no wave are an error by default (a rollout that silently skips machines is
    worse than one that refuses to start), a last batch with ``unassigned='last'`` (the
    play pattern then ends with their group), or left out with ``unassigned='ignore'``
    (right when ``hosts`` is broader than the play, e.g. every host of the inventory).
    """
    if unassigned not in UNASSIGNED_MODES:
        raise PlanError(f"unassigned must be one of {', '.join(UNASSIGNED_MODES)}, got {unassigned!r}")
    cap = _check_cap(max_batch)
    chosen = _check_waves(groups, waves, pilot)
    member = _membership(groups, chosen)
    wanted = _unique(hosts)
    in_play = set(wanted)
    batches: list[Batch] = []
    for wave in chosen:
        # Empty waves (or waves outside --limit) add no batch: serial must not hold a 0.
        batches += _split(wave, [host for host in _unique(groups.get(wave) or ()) if host in in_play], cap)
    stray = [host for host in wanted if host not in member]
    if stray and unassigned == "error":
        raise PlanError(
            f"{len(stray)} host(s) of the play are in no wave ({', '.join(chosen)}): {_preview(stray)}; "
            "add them to a wave, or pass unassigned='last' (a final batch) or unassigned='ignore'"
        )
    if stray and unassigned == "last":
        batches += _split(UNASSIGNED, stray, cap)
    return batches


def _step_sizes(total: int, steps: Sequence[t.Any]) -> list[int]:
    """Batch sizes for ``total`` hosts: each step a share of ``total`` (like Ansible's serial
    percentages, rounded down, at least 1), then everything left as one last batch."""
    sizes: list[int] = []
    left = total
    for step in steps:
        if left <= 0:
            break
        size = min(left, max(1, total * step // 100))
        sizes.append(size)
        left -= size
    if left > 0:
        sizes.append(left)
    return sizes


def _check_steps(steps: t.Any) -> list[int]:
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise PlanError(f"steps must be a list of percentages such as [10, 25, 50], got {steps!r}")
    out: list[int] = []
    for step in steps:
        text = str(step).strip().rstrip("%")
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise PlanError(f"steps must be percentages from 1 to 100 such as [10, 25, 50], got {step!r}")
        out.append(int(text))
    return out


def plan_pilot(
    hosts: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    *,
    pilot: str = "pilot",
    steps: t.Any = DEFAULT_PILOT_STEPS,
    max_batch: t.Any = 0,
) -> list[Batch]:
    """Batches for the pilot strategy: the pilot group, then the rest in growing steps.

    Steps are shares of the hosts after the pilot (``[10, 25, 50]``: 10 %, then 25 %, then
    50 %, then whatever is left), each capped at ``max_batch`` like a wave. The rest keeps
    the play's order, so the play pattern must put the pilot first (``pilot:rollout_clients``).
    """
    cap = _check_cap(max_batch)
    sizes_of = _check_steps(steps)
    if pilot not in groups:
        raise PlanError(f"the pilot strategy needs a group named {pilot!r} in the inventory")
    wanted = _unique(hosts)
    in_play = set(wanted)
    pilot_hosts = [host for host in _unique(groups.get(pilot) or ()) if host in in_play]
    if not pilot_hosts:
        raise PlanError(f"the pilot group {pilot!r} has no host in this play: nothing to test the release on first")
    in_pilot = set(pilot_hosts)
    rest = [host for host in wanted if host not in in_pilot]
    batches = _split(pilot, pilot_hosts, cap)
    start = 0
    for number, size in enumerate(_step_sizes(len(rest), sizes_of), start=1):
        batches += _split(f"step_{number}", rest[start : start + size], cap)
        start += size
    return batches


def plan_big_bang(hosts: Sequence[str], *, confirm: t.Any = False, limit: int = BIG_BANG_LIMIT) -> list[Batch]:
    """One batch with every host; refused above ``limit`` unless the admin confirmed.

    No cap applies: all at once is the point of a big bang, and the backend's own
    sync throttle makes the clients queue rather than fail.
    """
    wanted = _unique(hosts)
    if len(wanted) > limit and confirm is not True and str(confirm).lower() not in ("true", "yes", "1"):
        raise PlanError(
            f"a big bang to {len(wanted)} hosts is above the recommended maximum of {limit}: "
            f"use the waves or pilot strategy, or set {BIG_BANG_CONFIRM_VAR}=true to confirm"
        )
    return [Batch("all", 1, 1, tuple(wanted))] if wanted else []


def plan(
    hosts: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    *,
    strategy: str = "waves",
    waves: Sequence[str] | None = None,
    max_batch: t.Any = 0,
    unassigned: str = "error",
    pilot: str = "pilot",
    steps: t.Any = DEFAULT_PILOT_STEPS,
    confirm: t.Any = False,
) -> list[Batch]:
    """Dispatch on the rollout strategy; every argument is checked before any plan is made."""
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, Iterable):
        raise PlanError(f"the hosts to plan must be a list of host names (ansible_play_hosts_all), got {hosts!r}")
    if not isinstance(groups, Mapping):
        raise PlanError("groups must be the inventory's groups mapping (the magic variable groups)")
    hosts = list(hosts)
    if strategy == "waves":
        return plan_waves(hosts, groups, waves, max_batch=max_batch, unassigned=unassigned, pilot=pilot)
    if strategy == "pilot":
        return plan_pilot(hosts, groups, pilot=pilot, steps=steps, max_batch=max_batch)
    if strategy == "big_bang":
        return plan_big_bang(hosts, confirm=confirm)
    raise PlanError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")


def serial(batches: Sequence[Batch]) -> list[int]:
    """The ``serial`` list for these batches.

    Ansible repeats the last size for hosts left over; the sizes sum to the play's host
    count, so nothing is left over and the repetition never happens.
    """
    return [len(batch.hosts) for batch in batches]


def _whole(value: t.Any, name: str, minimum: int) -> int:
    # Jinja hands over ints, strings (-e key=value) or None (unset); "2.5", "two" or true are refused, not rounded.
    # Only None and blank mean unset, not every falsy value: 0 == False, and 0 slices must be refused.
    text = str(minimum) if value is None or (isinstance(value, str) and not value.strip()) else str(value).strip()
    if not text.isdigit() or int(text) < minimum:
        raise PlanError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return int(text)


def batch_cap(throttle: t.Any, max_batch: t.Any = 0, slices: t.Any = 1) -> int:
    """The most hosts in one batch of one job (0: no cap).

    ``throttle`` is the backend's maximum number of parallel synchronisations (0 or None: the backend
    reports none). Job slicing runs ``slices`` copies of the rollout at the same time, each with its own
    batches, so each gets an equal share of the throttle, rounded down: the slices' batches together
    never exceed it. ``max_batch`` (``rollout_max_batch``) caps each slice's batches further. A slice
    whose share would be 0 cannot start a host without making another slice's clients wait, so more
    slices than the throttle are refused.
    """
    parts = _whole(slices, "rollout_slices", 1)
    limit = _whole(throttle, "max_parallel_syncs", 0)
    cap = _check_cap(max_batch)
    if limit and parts > limit:
        raise PlanError(
            f"rollout_slices={parts} job slices cannot share the backend's max_parallel_syncs={limit}: each slice "
            "needs at least one sync slot for its batches. Lower rollout_slices (the job slice count) or raise "
            "max_parallel_syncs (rollout_backend_settings)"
        )
    share = limit // parts if limit else 0
    return min((c for c in (share, cap) if c > 0), default=0)
