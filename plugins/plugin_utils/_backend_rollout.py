# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout through the auto-updater as the backend keeps it: its compact view and the step rules.

backend_rollout compares what a task asks for with this view, decides each step on it (so check mode
predicts what the backend would answer, refusals included) and shows it as the diff; backend_rollout_info
reports the same view. The backend stays the judge: a real run sends each step and takes its answer.
"""

from __future__ import annotations

import re
import typing as t

# Seed 003's restriction, said where the collection refuses: the backend refuses it the same way.
NOT_AN_UPDATE = (
    "a customizing change without a version change is not an update: the auto-updater installs only a newer version"
)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
RING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_version(name: str, value: str) -> tuple[int, int, int]:
    match = _VERSION.match(value)
    if not match:
        raise ValueError(f"{name} must look like 9.3.2, got {value!r}")
    major, minor, patch = (int(x) for x in match.groups())
    return major, minor, patch


def view(rollout: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What a task can ask for or change, without the backend's timestamps and ids."""
    rings = []
    for ring in rollout.get("rings") or []:
        gate = ring.get("gate") or {}
        verdict = "stopped" if gate.get("stopped_at") else "passed" if gate.get("passed_at") else None
        rings.append(
            {
                "name": ring["name"],
                "clients": list(ring["clients"]),
                "published": ring.get("published_at") is not None,
                "gate": verdict,
            }
        )
    return {
        "version": rollout.get("version"),
        "channel": rollout.get("channel"),
        "state": rollout.get("state", "none"),
        "criterion_percent": rollout.get("criterion_percent"),
        "rings": rings,
    }


def definition(args: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The PUT /rollout body a task asks for."""
    rings = [{"name": r["name"], "clients": list(r["clients"] or [])} for r in args["rings"]]
    return {
        "version": args["version"],
        "channel": args["channel"],
        "rings": rings,
        "criterion_percent": args["criterion_percent"],
    }


def check_rings(rings: list[dict[str, t.Any]]) -> None:
    """What the backend would refuse in the rings, before the first request."""
    seen: dict[str, str] = {}
    names: set[str] = set()
    for ring in rings:
        name = ring["name"]
        if not RING_NAME.match(name):
            raise ValueError(f"rings: {name!r} is not a ring name (1 to 64 letters, digits, '.', '_' or '-')")
        if name in names:
            raise ValueError(f"rings: ring {name!r} is listed twice")
        names.add(name)
        for client in ring["clients"] or []:
            other = seen.setdefault(client.casefold(), name)
            if other != name or (ring["clients"] or []).count(client) > 1:
                raise ValueError(f"rings: client {client!r} is in ring {other!r} and again in ring {name!r}")


def same_definition(current: dict[str, t.Any], wanted: dict[str, t.Any]) -> bool:
    if (current["version"], current["channel"]) != (wanted["version"], wanted["channel"]):
        return False
    rings = [(r["name"], r["clients"]) for r in current["rings"]]
    return rings == [(r["name"], r["clients"]) for r in wanted["rings"]] and (
        current["criterion_percent"] == wanted["criterion_percent"]
    )


def defined(current: dict[str, t.Any], wanted: dict[str, t.Any], offered: str | None) -> dict[str, t.Any]:
    """The view after PUT /rollout with ``wanted``; ValueError where the backend would refuse it."""
    if (current["version"], current["channel"]) == (wanted["version"], wanted["channel"]):
        if current["state"] in ("finished", "stopped"):
            raise ValueError(f"the rollout of {current['version']} is {current['state']}; its rings stay as they are")
        before = {r["name"]: r for r in current["rings"]}
        rings = [
            {
                **r,
                "published": before.get(r["name"], {}).get("published", False),
                "gate": before.get(r["name"], {}).get("gate"),
            }
            for r in wanted["rings"]
        ]
        return {**current, "rings": rings, "criterion_percent": wanted["criterion_percent"]}
    if offered is None:
        raise ValueError(f"the backend has no channel {wanted['channel']!r}")
    if parse_version("version", wanted["version"]) <= parse_version("the channel's version", offered):
        channel, version = wanted["channel"], wanted["version"]
        raise ValueError(f"channel {channel!r} offers {offered} today and {version} is not newer; {NOT_AN_UPDATE}")
    rings = [{**r, "published": False, "gate": None} for r in wanted["rings"]]
    return {**wanted, "state": "running", "rings": rings}


def ring(current: dict[str, t.Any], name: str) -> dict[str, t.Any]:
    if current["state"] == "none":
        raise ValueError("no rollout is defined at the backend; give version and rings first")
    for item in current["rings"]:
        if item["name"] == name:
            return t.cast("dict[str, t.Any]", item)
    raise ValueError(f"the rollout of {current['version']} has no ring {name!r}")


def gated(current: dict[str, t.Any], name: str, passed: bool) -> dict[str, t.Any] | None:
    """The view after the gate's verdict on ring ``name``; None when the ring has that verdict already."""
    target = ring(current, name)
    verdict = "passed" if passed else "stopped"
    if target["gate"] == verdict:
        return None
    if not target["published"]:
        raise ValueError(f"ring {name!r} is not published yet; its gate has nothing to judge")
    if current["state"] in ("finished", "stopped"):
        raise ValueError(f"the rollout of {current['version']} is {current['state']}; no gate changes it")
    rings = [{**r, "gate": verdict} if r["name"] == name else r for r in current["rings"]]
    state = current["state"]
    if not passed:
        state = "stopped"
    elif state == "running" and all(r["gate"] == "passed" for r in rings):
        state = "finished"
    return {**current, "rings": rings, "state": state}


def published(current: dict[str, t.Any], name: str) -> dict[str, t.Any] | None:
    """The view after publishing ring ``name``; None when it is published already."""
    if ring(current, name)["published"]:
        return None
    if current["state"] in ("paused", "stopped"):
        raise ValueError(f"the rollout of {current['version']} is {current['state']}; ring {name!r} is not published")
    rings = [{**r, "published": True} if r["name"] == name else r for r in current["rings"]]
    return {**current, "rings": rings}


def with_state(current: dict[str, t.Any], state: str) -> dict[str, t.Any] | None:
    """The view after pausing or resuming; None when it is so already."""
    if current["state"] == state:
        return None
    if current["state"] not in ("paused", "running"):
        if current["state"] == "none":
            raise ValueError("no rollout is defined at the backend; give version and rings first")
        raise ValueError(f"the rollout of {current['version']} is {current['state']}; it cannot be {state}")
    done = state == "running" and all(r["gate"] == "passed" for r in current["rings"])
    return {**current, "state": "finished" if done else state}
