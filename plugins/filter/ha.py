# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the high-availability backend update: whether it may start, where it resumes, and gap warnings.

The ha_server_update role asks every server of its first play what it reports (``ha_server_info``)
and hands the answers to :func:`ha_precheck`, which decides on the controller, before any installer
runs, whether the whole cluster is in this run, in a state the update can start or resume from, and
whether the version was tried on a test system. A cluster updated only in part stays in update mode:
its updated servers work on a local copy of the database and nobody can log in to their admin console
until the last member is updated. So every refusal is decided here, in tested Python, and not in
templates. The documentation of each filter is the sidecar ``<filter>.yml`` beside this file.
"""

from __future__ import annotations

import itertools
import typing as t
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError

PRODUCTION = "production"
UPDATE = "update"
# NetBIOS names, as the servers report their members, are at most 15 characters, upper case.
NETBIOS_MAX = 15

SLICING = (
    "Every member of the HA network must be in this run: updating part of a cluster leaves the updated servers in "
    "update mode (on a local copy of the database, admin console closed) until the last member is updated. Do not "
    "run this playbook as an AWX/AAP sliced job (each slice sees only some of the servers) and do not --limit it."
)
UNTESTED = (
    "Try every new version on a test system first, hotfixes and patches too: let the hosts of {group} run it, "
    "or set ha_server_update_tested_version={version} once it was tried there."
)


def _netbios(host: str) -> str:
    """The NetBIOS name an inventory host name stands for: its first label, upper case, cut at 15 characters."""
    return host.split(".", 1)[0].upper()[:NETBIOS_MAX]


def _text(value: t.Any) -> str:
    return value if isinstance(value, str) else ""


def _members(server: Mapping[str, t.Any]) -> tuple[str, ...]:
    members = server.get("members")
    if not isinstance(members, list):
        return ()
    return tuple(sorted({m.upper() for m in members if isinstance(m, str) and m}))


def _state(server: Mapping[str, t.Any]) -> str:
    return f"{_text(server.get('version')) or '(no version)'} in {_text(server.get('mode')) or '(no)'} mode"


def _hosts(value: t.Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise AnsibleFilterError(f"ha_precheck: {what} must be a list of host names")
    return [str(h) for h in value]


class _Check:
    """One pre-check: the answers, indexed by the member names the servers use, and the refusals so far."""

    def __init__(
        self,
        servers: Mapping[str, Mapping[str, t.Any]],
        play_hosts: list[str],
        silent: Mapping[str, str],
        inventory: list[str],
    ) -> None:
        self.servers = servers
        self.play_hosts = play_hosts
        self.silent = silent  # play hosts without an answer: why
        self.inventory = inventory
        self.refusals: list[str] = []
        # A member name is matched to the host that reports it as its own name, else by the host name.
        self.by_name: dict[str, str] = {_netbios(h): h for h in play_hosts}
        self.by_name.update({_text(s.get("name")).upper(): h for h, s in servers.items() if _text(s.get("name"))})

    def label(self, host: str) -> str:
        name = _text(self.servers.get(host, {}).get("name")).upper()
        return f"{host} ({name})" if name and name != host.upper() else host

    def answers(self) -> None:
        for host in self.play_hosts:
            if host in self.silent:
                self.refusals.append(f"{host} did not answer ({self.silent[host]}); every member must take part")
        for host, server in self.servers.items():
            problems = server.get("problems")
            if isinstance(problems, list) and problems:
                self.refusals.append(
                    f"{self.label(host)} reported values that cannot be used: {'; '.join(map(str, problems))}"
                )

    def membership(self) -> dict[str, str]:
        """Every member any server reports, with the play host it is; refusals for the rest."""
        views = {h: (_text(s.get("cluster_name")), _members(s)) for h, s in self.servers.items()}
        if len(set(views.values())) > 1:
            described = "; ".join(
                f"{self.label(h)}: cluster {name or '(none)'} with {', '.join(members) or 'no members'}"
                for h, (name, members) in views.items()
            )
            self.refusals.append(
                f"the servers disagree about the cluster and its members ({described}); repair the HA network first"
            )
        reported = sorted({m for _name, members in views.values() for m in members})
        members: dict[str, str] = {}
        outside: list[str] = []
        short = {_netbios(h): h for h in self.inventory}
        for member in reported:
            host = self.by_name.get(member)
            if host is not None:
                members[member] = host
            elif member in short:
                outside.append(
                    f"{member} is in the inventory as {short[member]} but not in this run "
                    "(--limit, or not in the play's group)"
                )
            else:
                outside.append(f"{member} is not in the inventory")
        if outside:
            self.refusals.append(f"cluster members missing from the play: {'; '.join(outside)}. {SLICING}")
        for host in self.servers:
            if host not in members.values():
                self.refusals.append(
                    f"{self.label(host)} is in the play but no server counts it as a member of the cluster"
                )
        return members


def _plan(check: _Check, members: Mapping[str, str], version: str) -> tuple[list[str], list[str], bool, str | None]:
    """(to_update, done, resume, version_before) from the members' states; a refusal for a state not to go on from."""
    cluster = set(members.values())
    states = {h: (_text(s.get("version")), _text(s.get("mode"))) for h, s in check.servers.items() if h in cluster}
    order = {h: i for i, h in enumerate(check.play_hosts)}
    hosts = sorted(states, key=lambda h: order.get(h, len(order)))
    updated = [h for h in hosts if states[h] == (version, UPDATE)]
    waiting = [h for h in hosts if states[h][1] == PRODUCTION and states[h][0] != version]
    finished = [h for h in hosts if states[h] == (version, PRODUCTION)]
    before = sorted({states[h][0] for h in waiting})
    for host in hosts:
        found, mode = states[host]
        if mode == UPDATE and found != version:
            check.refusals.append(
                f"{check.label(host)} is in update mode on {found or '(no version)'}: an update to that version was "
                f"started and not finished; finish it first (ha_server_update_version={found})"
            )
    if not hosts:
        return [], [], False, None
    if len(finished) == len(hosts):
        return [], hosts, False, version
    if len(before) == 1 and len(updated) + len(waiting) == len(hosts):
        return waiting, updated, bool(updated), before[0]
    if len(updated) == len(hosts):
        return [], hosts, True, None
    if not any(mode == UPDATE and found != version for found, mode in states.values()):
        described = ", ".join(f"{check.label(h)} {_state(check.servers[h])}" for h in hosts)
        check.refusals.append(
            f"the servers are in a state this update does not start or resume from ({described}); expected every "
            f"server in production mode on one version, or, after a stopped update, some in update mode on {version} "
            "and the rest in production mode on one older version"
        )
    return [], [], False, None


def _tested(
    version: str,
    tested_version: t.Any,
    test_servers: Mapping[str, t.Any],
    test_group: str,
    cluster_hosts: Iterable[str],
) -> str | None:
    """Why ``version`` counts as not tried on a test system, or None when it was."""
    if _text(tested_version) and _text(tested_version) == version:
        return None
    group = test_group or "the test group"
    reasons: list[str] = []
    inside = sorted(set(test_servers) & set(cluster_hosts))
    if inside:
        reasons.append(f"{', '.join(inside)} of {group} belong to the cluster being updated, not to a test system")
    for host, server in test_servers.items():
        if host in inside:
            continue
        if not isinstance(server, Mapping):
            reasons.append(f"{host} of {group} did not answer")
        elif (_text(server.get("version")), _text(server.get("mode"))) != (version, PRODUCTION):
            reasons.append(f"{host} of {group} runs {_state(server)}")
    if not test_servers:
        reasons.append(f"{group} has no hosts")
    if not reasons:
        return None
    if _text(tested_version):
        reasons.append(f"ha_server_update_tested_version is {tested_version}")
    return f"{version} has not been tried on a test system: {'; '.join(reasons)}. " + UNTESTED.format(
        group=group, version=version
    )


def ha_precheck(
    servers: Mapping[str, t.Any],
    play_hosts: t.Any,
    version: str,
    *,
    unreachable: t.Any = None,
    failed: t.Any = None,
    inventory: t.Any = None,
    test_servers: Mapping[str, t.Any] | None = None,
    tested_version: t.Any = "",
    test_group: str = "",
) -> dict[str, t.Any]:
    """Whether the HA cluster update may start (or resume), and with which servers.

    ``servers`` maps each play host that answered to its ``ha_server_info`` ``server``; ``unreachable``
    lists play hosts that did not answer and ``failed`` those whose query failed (a list, or host to
    message). ``inventory`` (``groups['all']``) tells a member left out of the run from one missing
    from the inventory. ``test_servers`` maps each host of ``test_group`` to its ``server`` (or None
    when it did not answer). The plan lists hosts in the order of ``play_hosts``.
    """
    if not isinstance(servers, Mapping) or not all(isinstance(s, Mapping) for s in servers.values()):
        raise AnsibleFilterError("ha_precheck: the input must map each host to its ha_server_info server")
    if not isinstance(version, str) or not version:
        raise AnsibleFilterError("ha_precheck: the target version must be a non-empty string")
    hosts = _hosts(play_hosts, "play_hosts")
    silent = {h: "unreachable" for h in _hosts(unreachable, "unreachable")}
    if isinstance(failed, Mapping):
        silent.update({str(h): f"ha_server_info failed: {msg}" for h, msg in failed.items()})
    else:
        silent.update({h: "ha_server_info failed" for h in _hosts(failed, "failed")})
    silent.update({h: "no answer" for h in hosts if h not in servers and h not in silent})
    answered = {h: servers[h] for h in hosts if h not in silent}
    check = _Check(answered, hosts, silent, _hosts(inventory, "inventory"))
    check.answers()
    members = check.membership()
    to_update, done, resume, before = _plan(check, members, version)
    notes: list[str] = []
    if resume:
        notes.append(
            f"resuming a stopped update: {', '.join(done)} already run {version} in update mode, on a local copy of "
            "the database; " + (f"{len(to_update)} server(s) left" if to_update else "no server left to install")
        )
    if to_update:
        why = _tested(version, tested_version, test_servers or {}, test_group, members.values())
        if why:
            check.refusals.append(why)
    clusters = sorted({_text(s.get("cluster_name")) for s in answered.values()} - {""})
    return {
        "ok": not check.refusals,
        "refusals": check.refusals,
        "plan": {"to_update": to_update, "done": done, "resume": resume},
        "version_before": before,
        "cluster": clusters[0] if len(clusters) == 1 else None,
        "notes": notes,
    }


def ha_server_answers(results: t.Any) -> dict[str, t.Any]:
    """Sort registered ``ha_server_info`` results (host to result) into answers, unreachable and failed hosts.

    The role registers the query with ``ignore_unreachable`` and ``failed_when: false`` so that every
    host reaches the pre-check; this says which answered. ``problems`` of the result join the server's.
    """
    if not isinstance(results, Mapping):
        raise AnsibleFilterError(
            "ha_server_answers: the input must map each host to its registered ha_server_info result"
        )
    servers: dict[str, dict[str, t.Any]] = {}
    reports: dict[str, dict[str, t.Any] | None] = {}
    unreachable: list[str] = []
    failed: dict[str, str] = {}
    for host, registered in results.items():
        result = registered if isinstance(registered, Mapping) else {}
        server = result.get("server")
        reports[host] = None
        if result.get("unreachable"):
            unreachable.append(host)
        elif result.get("skipped"):
            failed[host] = "skipped"
        elif not isinstance(server, Mapping):
            failed[host] = _text(result.get("msg")) or "no server state in the answer"
        else:
            problems = [*(server.get("problems") or []), *(result.get("problems") or [])]
            servers[host] = reports[host] = {**server, "problems": problems}
    return {"servers": servers, "reports": reports, "unreachable": unreachable, "failed": failed}


def _said(server: Mapping[str, t.Any]) -> str:
    progress = _text(server.get("progress_text"))
    return (
        f"{_state(server)}, database {_text(server.get('database')) or '(none)'}, schema "
        f"{_text(server.get('schema_version')) or '(none)'}, service {_text(server.get('service')) or '(unknown)'}"
        + (f", {progress!r}" if progress else "")
    )


def ha_verify(reports: t.Any, version: str, last: t.Any = None) -> list[str]:
    """One line per server that does not run ``version`` in production mode, on the production database and schema.

    ``reports`` maps each host to its ``server`` (None: no answer); ``last`` maps hosts to what they said before,
    for those that did not answer now. No line: the whole cluster is updated.
    """
    if not isinstance(reports, Mapping) or not isinstance(version, str) or not version:
        raise AnsibleFilterError("ha_verify: the input must map each host to its server, and the version be given")
    earlier = last if isinstance(last, Mapping) else {}
    lines = []
    for host, server in reports.items():
        if not isinstance(server, Mapping):
            before = earlier.get(host)
            lines.append(
                f"{host} did not answer; it last said: {_said(before)}"
                if isinstance(before, Mapping)
                else f"{host} did not answer"
            )
            continue
        want = (version, PRODUCTION, PRODUCTION, version)
        found = tuple(_text(server.get(k)) for k in ("version", "mode", "database", "schema_version"))
        if found != want:
            lines.append(f"{host}: {_said(server)}")
    return lines


def ha_install_gaps(installs: t.Any, limit: t.Any) -> list[str]:
    """A warning for each two servers in a row that finished their installs more than ``limit`` seconds apart.

    ``installs`` lists ``{host, finished}`` (seconds since the epoch) in the order the servers were updated.
    ``limit`` 0 or less warns about nothing.
    """
    try:
        seconds = float(limit)
    except (TypeError, ValueError):
        raise AnsibleFilterError("ha_install_gaps: the limit must be a number of seconds") from None
    if not isinstance(installs, list) or not all(isinstance(i, Mapping) for i in installs):
        raise AnsibleFilterError("ha_install_gaps: the input must be a list of {host, finished}")
    if seconds <= 0:
        return []
    warnings = []
    for before, after in itertools.pairwise(installs):
        gap = float(after["finished"]) - float(before["finished"])
        if gap > seconds:
            warnings.append(
                f"{after['host']} finished its update {gap:.0f} s after {before['host']} (more than {seconds:.0f} s, "
                "ha_server_update_gap_warning): while the update runs the updated servers work on a local copy of "
                "the database; update the servers one after another without a pause"
            )
    return warnings


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "ha_precheck": ha_precheck,
            "ha_server_answers": ha_server_answers,
            "ha_install_gaps": ha_install_gaps,
            "ha_verify": ha_verify,
        }
