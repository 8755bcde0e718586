"""Benchmark of a waves rollout through the auto-updater: 1,000 lab clients, the backend's throttle, Office open.

Mode A (the default): one process, the virtual clock (simulated time passes as fast as the work allows).
1,000 lab hosts get the per-user 9.3.0 the suite way and the auto-updater turned on; they restart in the
first hour (each updater checks: nothing new) and their users log on. Then the bench steers the rollout of
9.3.1 through the backend's admin API: it defines the rollout with the lab's waves as rings (pilot ~5 %,
wave_1..wave_3), sets ``max_parallel_syncs``, and per ring publishes it, opens Office for a share of its
users, nudges every updater of the ring the way ``autoupdater_nudge`` does (the lab's twin of
Start-AutoUpdaterNow: a one-shot task that starts the updater with ``/checknow``), waits on the virtual
clock until the ring's progress meets the criterion, records the gate and goes on with the next ring.

Office: at the nudge ``--office-open`` of a ring's users have Office open; most close it after a random
while (exponential, mean ``--office-close-minutes``), ``--office-never`` of all users never close it during
the run. An updater polls Office every 2 minutes up to 4 hours, then tries again after midnight.

Downloads take no simulated time in the lab (an updater's step holds the virtual clock while its requests
run), so a slot is held only as long as the real requests take; the throttle shapes simulated time through
its queue and Retry-After (1 s when slots are held for no simulated time).

    .venv/bin/python bench/autoupdate_rollout.py [--clients 1000] [--max-parallel-syncs 200] [--max-sim-days 3]

Exits 1 when the backend ever held more sync slots than its max parallel syncs.

Mode B (``--ansible``, 100 clients unless ``--clients``): the real ``ansible-playbook playbooks/rollout.yml``
against an in-process WinRM lab fleet (in-process so that its backend's channel can be set back to 9.3.0;
``--time-scale`` 120 as in the integration tests). Fleet A gets the per-user 9.3.0 through the control API's
suite install and the updater enabled (rollout.windows.autoupdater) and checked once, none of which is
counted; then ``-e rollout_method=autoupdater`` rolls out 9.3.1 over the lab's waves, run again while it
ends with "not done" (at most ``--max-runs``, each waiting ``--adoption-timeout`` for a wave). Fleet B, fresh,
gets the machine-scope 9.3.1 by ``rollout_method=push``. Per method: controller CPU (user + sys of the
ansible-playbook process tree, children's rusage), WinRM commands per host (the lab's counters over the
counted runs), task results per host (the lines the default callback prints per host). Bounded by
``--max-seconds``; exits 1 unless every host of both fleets ends on 9.3.1.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import resource
import ssl
import statistics
import sys
import tempfile
import time
import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from _rollout_ansible import FROM, TO, ansible_rollouts  # noqa: E402  (bench/, the script's own folder)

from lab.backend import BackendConfig, BackendServer  # noqa: E402
from lab.clock import Clock  # noqa: E402
from lab.fleetconfig import assign_waves  # noqa: E402
from lab.host import BlobStore, Host, make_host  # noqa: E402
from lab.host.autoupdater import CHECKNOW, TASK_PATH, UPDATER_EXE, UpdaterHub  # noqa: E402
from lab.host.suite import package_folder, suite_install  # noqa: E402
from lab.host.updater_client import BackendClient, HttpClients  # noqa: E402
from lab.host.updater_state import POLICY_KEY, VENDOR_KEY  # noqa: E402
from lab.msi import build_packages  # noqa: E402
from lab.primitives.autoupdater import start_auto_updater_now  # noqa: E402
from lab.primitives.core import PrimitiveContext  # noqa: E402
from lab.tls import LabCA  # noqa: E402

START = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
MAX_CLIENTS = 5000
USER = "user"
NOW_FOLDER = "CheckNow\\"  # autoupdater_nudge's one-shot task folder below the updater's task path


def usage() -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in MiB of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss // 1024


class SlotCounter:
    """The updaters' side of the throttle: slots in hand at once and 429 answers, counted apart from the backend."""

    def __init__(self, inner: HttpClients) -> None:
        self.inner = inner
        self.held = 0
        self.peak = 0
        self.throttled = 0

    def __call__(self, base_url: str, thumbprint: str | None = None) -> BackendClient:
        return CountingClient(self, self.inner(base_url, thumbprint))


class CountingClient:
    """A :class:`BackendClient` that tells :class:`SlotCounter` about its slots."""

    def __init__(self, counter: SlotCounter, inner: BackendClient) -> None:
        self.counter = counter
        self.inner = inner

    async def settings(self) -> dict[str, t.Any]:
        return await self.inner.settings()

    async def release(self, channel: str, client: str) -> dict[str, t.Any]:
        return await self.inner.release(channel, client)

    async def acquire_slot(self, client: str) -> tuple[str | None, float]:
        slot, retry_after = await self.inner.acquire_slot(client)
        if slot is None:
            self.counter.throttled += 1
        else:
            self.counter.held += 1
            self.counter.peak = max(self.counter.peak, self.counter.held)
        return slot, retry_after

    async def release_slot(self, slot_id: str) -> None:
        self.counter.held -= 1
        await self.inner.release_slot(slot_id)

    async def download(self, url: str) -> bytes:
        return await self.inner.download(url)

    async def report(self, client: str, report: dict[str, t.Any]) -> None:
        await self.inner.report(client, report)


class Admin:
    """The bench's side of the backend: the admin API over HTTP(S), as the collection's modules use it."""

    def __init__(self, url: str, token: str, context: ssl.SSLContext | None) -> None:
        self.api = url + "/api/v1"
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        self.ssl: ssl.SSLContext | bool = context if context is not None else True

    async def call(self, method: str, path: str, body: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        async with self.session.request(method, self.api + path, json=body, ssl=self.ssl) as response:
            data = await response.json()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data}")
            return t.cast(dict[str, t.Any], data)


async def make_fleet(clients: int, clock: Clock, packages: Path, backend_url: str, hub: UpdaterHub) -> list[Host]:
    """``clients`` hosts with the per-user 9.3.0 installed the suite way and the updater's startup task."""
    blobs = BlobStore()
    hosts = []
    for i in range(clients):
        host = make_host(f"pc{i:04d}", "client", seed=i, clock=clock, blobs=blobs, users=[USER])
        host.logoff(USER)
        hub.attach(host)
        assert (await suite_install(host, USER, package_folder(packages, FROM))).rc == 0
        sid = host.sid_of(USER)
        host.registry.set_value(f"HKU\\{sid}\\{POLICY_KEY}", "Enabled", 1, "REG_DWORD")
        host.registry.set_value(f"HKU\\{sid}\\{POLICY_KEY}", "BackendUrl", backend_url)
        with host.registry.loaded(sid):
            install_dir = str(host.registry.get(f"HKU\\{sid}\\{VENDOR_KEY}", "InstallDir")).rstrip("\\")
        exe = f"{install_dir}\\{UPDATER_EXE}"
        host.register_task(sid, user=USER, trigger={"type": "startup"}, exe=exe, path=TASK_PATH)
        hosts.append(host)
    return hosts


def open_office(host: Host, clock: Clock, rng: random.Random, args: argparse.Namespace) -> bool:
    """Office as the user finds it at the nudge; True when it stays open for the whole run."""
    if rng.random() >= args.office_open:
        return False
    pid = host.start_process(USER, "WINWORD.EXE")["pid"]
    if rng.random() < args.office_never / args.office_open:
        return True

    def close() -> None:
        if pid in host.processes:
            host.stop_process(pid)

    clock.call_later(rng.expovariate(1.0 / (60 * args.office_close_minutes)), close)
    return False


async def nudge(host: Host) -> None:
    """What autoupdater_nudge runs on a host: Start-AutoUpdaterNow's lab twin, starting each enabled updater."""
    arguments = {
        "policy_key": POLICY_KEY,
        "task_path": TASK_PATH,
        "now_path": TASK_PATH + NOW_FOLDER,
        "updater_executable": UPDATER_EXE,
        "argument": CHECKNOW,
        "users": [],
        "start": True,
    }
    answer = await start_auto_updater_now(host, arguments, PrimitiveContext(user="Administrator"))
    assert answer["users"], answer
    assert all(u["started"] for u in answer["users"]), answer


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def rollout(args: argparse.Namespace) -> int:
    packages = REPO / ".tmp" / "lab-msi"
    build_packages(packages)
    clock = Clock(start=START, virtual=True)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ca = None if args.http else LabCA(Path(tmp))
        server = BackendServer(BackendConfig(packages_dir=packages, channels={"stable": FROM}), ca=ca)
        await server.start()
        backend = server.backend

        def wall() -> float:
            return clock.now().timestamp()

        # The backend's own times on the simulated clock, so that leases, queue places, reports and publishing
        # are all in simulated seconds, like the updaters' sleeps.
        backend.throttle.clock, backend.throttle.wall = clock.monotonic, wall
        backend.clients.wall = backend.rollouts.wall = backend.sessions.wall = wall
        context = ssl.create_default_context(cafile=str(ca.ca_path)) if ca is not None else None
        clients = HttpClients(backend.config.client_token, context)
        counter = SlotCounter(clients)
        hub = UpdaterHub(counter)
        admin = Admin(server.url, backend.config.admin_token, context)
        cpu0, _rss = usage()
        wall0 = time.monotonic()
        hosts = await make_fleet(args.clients, clock, packages, server.url, hub)
        by_id = {f"{h.name}\\{USER}": h for h in hosts}
        cpu1, rss1 = usage()
        print(f"set-up: {args.clients} hosts with {FROM}: {cpu1 - cpu0:.1f} s CPU, peak RSS {rss1} MiB", flush=True)

        # The fleet restarts in the first hour of the next day (every updater checks: nothing new); users log on.
        day = (clock.now() + timedelta(days=1)).replace(hour=5, minute=0, second=0, microsecond=0)
        await clock.sleep((day - clock.now()).total_seconds())
        base = clock.monotonic()
        for host in hosts:
            clock.call_at(base + rng.uniform(0, 3600), functools.partial(host.reboot, 60))
        await clock.sleep(2 * 3600)
        for host in hosts:
            host.logon(USER)
        await admin.call("PATCH", "/settings", {"max_parallel_syncs": args.max_parallel_syncs})
        waves = assign_waves(list(by_id), args.seed)
        rings: list[dict[str, t.Any]] = [{"name": n, "clients": members} for n, members in waves.items() if members]
        await admin.call("PUT", "/rollout", {"version": TO, "rings": rings, "criterion_percent": args.criterion})
        t0 = clock.monotonic()
        deadline = t0 + args.max_sim_days * 86400
        never: dict[str, int] = {}  # ring -> users who never close Office
        published: dict[str, float] = {}
        criterion_at: dict[str, float] = {}
        all_at: dict[str, float] = {}
        adopted: dict[str, int] = {}
        last_adoption: dict[str, float] = {}

        async def observe() -> dict[str, t.Any]:
            progress = await admin.call("GET", "/rollout/progress")
            now = clock.monotonic()
            for ring in progress["rings"]:
                name, count = ring["name"], len(ring["adopted"])
                if name not in published:
                    continue
                if count > adopted.get(name, 0):
                    adopted[name], last_adoption[name] = count, now
                if ring["criterion_met"]:
                    criterion_at.setdefault(name, now)
                if count + never[name] >= len(ring["clients"]):
                    all_at.setdefault(name, now)
            return progress

        def over() -> bool:
            return clock.monotonic() >= deadline or time.monotonic() - wall0 > float(args.max_seconds)

        for ring in rings:
            name = ring["name"]
            await admin.call("POST", f"/rollout/rings/{name}/publish")
            published[name] = clock.monotonic()
            ring_hosts = [by_id[c] for c in ring["clients"]]
            never[name] = sum(open_office(h, clock, rng, args) for h in ring_hosts)
            await asyncio.gather(*(nudge(h) for h in ring_hosts))
            while name not in criterion_at and not over():
                await clock.sleep(args.poll_seconds)
                await observe()
            if name not in criterion_at:
                print(f"ring {name} did not meet the criterion within the limits: stopped")
                break
            share = 100.0 * adopted[name] / len(ring["clients"])
            await admin.call("POST", f"/rollout/rings/{name}/gate", {"passed": True, "reason": f"{share:.1f} %"})
            minutes = (criterion_at[name] - published[name]) / 60
            print(f"ring {name}: {share:.1f} % adopted {minutes:.0f} min after publishing, gate passed", flush=True)
        while len(all_at) < len(published) and not over():
            await clock.sleep(args.poll_seconds)
            await observe()
        await clock.settle()
        cpu2, rss2 = usage()
        state = (await admin.call("GET", "/rollout"))["state"]
        stats = backend.throttle.statistics()
        hub.stop()
        await admin.session.close()
        await clients.close()
        await server.close()

    span = clock.monotonic() - t0
    print(
        f"rollout of {TO} over {len(rings)} rings, {args.clients} clients, criterion {args.criterion} %, "
        f"Office open {args.office_open:.0%} (never closed {args.office_never:.0%}): state {state}; "
        f"{span / 3600:.2f} simulated hours, {cpu2 - cpu1:.1f} s CPU, peak RSS {rss2} MiB, "
        f"{time.monotonic() - wall0:.1f} s wall in all"
    )
    print("| ring | clients | Office never closed | to criterion | to all who could | last adoption | adopted |")
    print("|---|---|---|---|---|---|---|")
    for ring in rings:
        name = ring["name"]
        if name not in published:
            continue

        def since(when: float | None, at: float = published[name]) -> str:
            return "not reached" if when is None else f"{(when - at) / 60:.0f} min"

        print(
            f"| {name} | {len(ring['clients'])} | {never[name]} | {since(criterion_at.get(name))} | "
            f"{since(all_at.get(name))} | {since(last_adoption.get(name))} | {adopted.get(name, 0)} |"
        )
    limit = args.max_parallel_syncs
    waits = [float(w) for w in stats["waits"]]
    queued = [w for w in waits if w > 0]
    mean_wait = statistics.fmean(waits) if waits else 0.0
    busy = stats["queue_busy_seconds"]
    print(
        f"sync slots: peak held {stats['peak_in_use']} of max parallel syncs {limit} (updaters' own count: "
        f"{counter.peak} in hand at once); {stats['granted_total']} granted, {stats['expired_total']} expired"
    )
    print(
        f"429 answers: {stats['throttled_total']} (updaters saw {counter.throttled}); queue peak "
        f"{stats['queue_peak']}, mean {stats['queue_seconds'] / span:.2f} over the rollout and "
        f"{stats['queue_seconds'] / busy if busy else 0.0:.1f} while anyone waited ({busy / 60:.1f} min)"
    )
    print(
        f"waits for a slot: {len(queued)} of {len(waits)} grants waited; mean {mean_wait:.1f} s, "
        f"p95 {percentile(waits, 0.95):.1f} s, max {max(waits or [0.0]):.1f} s (simulated)"
    )
    if stats["peak_in_use"] > limit or counter.peak > limit:
        print(f"FAIL: more sync slots held than max parallel syncs ({limit})")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, help="default 1,000; 100 with --ansible")
    parser.add_argument("--max-parallel-syncs", type=int, default=200)
    parser.add_argument("--criterion", type=float, default=95.0, help="percent of a ring adopted before the next")
    parser.add_argument("--office-open", type=float, default=0.30, help="share of users with Office open")
    parser.add_argument("--office-never", type=float, default=0.03, help="share of all users never closing it")
    parser.add_argument("--office-close-minutes", type=float, default=30.0, help="mean time until Office closes")
    parser.add_argument("--poll-seconds", type=float, default=60.0, help="simulated seconds between progress reads")
    parser.add_argument("--max-sim-days", type=float, default=3.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="wall-clock bound")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--http", action="store_true", help="plain HTTP to the backend instead of HTTPS")
    parser.add_argument("--ansible", action="store_true", help="Mode B: the role against a real lab fleet")
    parser.add_argument("--time-scale", type=float, default=120.0, help="Mode B: the fleet's simulated s per s")
    parser.add_argument("--adoption-timeout", type=int, default=600, help="Mode B: rollout_adoption_timeout")
    parser.add_argument("--max-runs", type=int, default=10, help="Mode B: most runs of the autoupdater rollout")
    args = parser.parse_args()
    if args.clients is None:
        args.clients = 100 if args.ansible else 1000
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    if not 0 <= args.office_never <= args.office_open <= 1 or args.office_open == 0 < args.office_never:
        parser.error("need 0 <= --office-never <= --office-open <= 1")
    if not 0 < args.max_sim_days <= 30 or args.poll_seconds < 1 or args.max_parallel_syncs < 1:
        parser.error("--max-sim-days 0 to 30, --poll-seconds at least 1, --max-parallel-syncs at least 1")
    if args.ansible:
        return ansible_rollouts(args)
    return asyncio.run(rollout(args))


if __name__ == "__main__":
    sys.exit(main())
