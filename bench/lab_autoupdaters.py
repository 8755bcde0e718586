"""Benchmark of the simulated auto-updater: 1,000 hosts' updaters in one process, through a day and an update.

Every host gets the per-user 9.3.0 package the suite way and the updater turned on; the hosts
restart at random times in the first hour (the startup task starts each updater), so day one
is a check with nothing new. At noon 9.3.1 is released; each updater finds it at its next
daily check, downloads it from the lab backend over HTTPS, installs it and checks the install.
The clock is virtual: simulated time passes as fast as the work allows.

    .venv/bin/python bench/lab_autoupdaters.py [--hosts 1000] [--http]

Prints CPU seconds and peak RSS (resource.getrusage) for the set-up and for the simulated two days,
and how many callbacks and asyncio tasks a quiet moment has (a sleeping updater is one callback).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import resource
import ssl
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from lab.backend import BackendConfig, BackendServer  # noqa: E402
from lab.clock import Clock  # noqa: E402
from lab.host import BlobStore, make_host  # noqa: E402
from lab.host.autoupdater import TASK_PATH, UPDATER_EXE, UpdaterHub  # noqa: E402
from lab.host.suite import package_folder, suite_install  # noqa: E402
from lab.host.updater_client import HttpClients  # noqa: E402
from lab.host.updater_state import POLICY_KEY, STATE_KEY, VENDOR_KEY  # noqa: E402
from lab.msi import build_packages  # noqa: E402
from lab.tls import LabCA  # noqa: E402

START = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
MAX_HOSTS = 5000


def usage() -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in MiB of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss // 1024


async def main(hosts: int, use_tls: bool) -> None:
    packages = REPO / ".tmp" / "lab-msi"
    build_packages(packages)
    clock = Clock(start=START, virtual=True)
    blobs = BlobStore()
    with tempfile.TemporaryDirectory() as tmp:
        ca = LabCA(Path(tmp)) if use_tls else None
        backend = BackendServer(BackendConfig(packages_dir=packages, channels={"stable": "9.3.0"}), ca=ca)
        await backend.start()
        context = ssl.create_default_context(cafile=str(ca.ca_path)) if ca is not None else None
        clients = HttpClients(backend.config.client_token, context)
        hub = UpdaterHub(clients)
        cpu0, _rss0 = usage()
        wall0 = time.monotonic()
        machines = []
        for i in range(hosts):
            host = make_host(f"pc{i:04d}", "client", seed=i, clock=clock, blobs=blobs, users=["user"])
            host.logoff("user")
            hub.attach(host)
            result = await suite_install(host, "user", package_folder(packages, "9.3.0"))
            assert result.rc == 0
            sid = host.sid_of("user")
            host.registry.set_value(f"HKU\\{sid}\\{POLICY_KEY}", "Enabled", 1, "REG_DWORD")
            host.registry.set_value(f"HKU\\{sid}\\{POLICY_KEY}", "BackendUrl", backend.url)
            with host.registry.loaded(sid):
                install_dir = str(host.registry.get(f"HKU\\{sid}\\{VENDOR_KEY}", "InstallDir")).rstrip("\\")
            host.register_task(
                sid, user="user", trigger={"type": "startup"}, exe=f"{install_dir}\\{UPDATER_EXE}", path=TASK_PATH
            )
            machines.append(host)
        cpu1, rss1 = usage()
        checks_before = sum(u.checks for u in hub.updaters.values())
        print(f"set-up: {hosts} hosts with 9.3.0 installed the suite way: {cpu1 - cpu0:.1f} s CPU, peak RSS {rss1} MiB")

        # Day one (the day after the set-up, which took simulated hours): the hosts restart at random moments of
        # its first hour at 05:00 UTC; at noon 9.3.1 comes out.
        day = (clock.now() + timedelta(days=1)).replace(hour=5, minute=0, second=0, microsecond=0)
        await clock.sleep((day - clock.now()).total_seconds())
        rng = random.Random(3)
        base = clock.monotonic()
        for host in machines:
            clock.call_at(base + rng.uniform(0, 3600), functools.partial(host.reboot, 60))
        clock.call_at(base + 7 * 3600, lambda: backend.backend.channels.update(stable="9.3.1"))
        await clock.sleep(6 * 3600)
        quiet = (clock.pending(), len(asyncio.all_tasks()))
        end = day + timedelta(days=1, hours=3)
        await clock.sleep((end - clock.now()).total_seconds())
        await clock.settle()
        cpu2, rss2 = usage()

        outcomes: Counter[str] = Counter()
        versions: Counter[str] = Counter()
        for host in machines:
            sid = host.sid_of("user")
            with host.registry.loaded(sid):
                outcomes[str(host.registry.get(f"HKU\\{sid}\\{STATE_KEY}", "LastOutcome"))] += 1
            versions[next(p["version"] for p in host.products.values() if p["sid"] == sid)] += 1
        checks = sum(u.checks for u in hub.updaters.values()) - checks_before
        reports = Counter(r["version"] for r in backend.backend.clients.listing())
        print(
            f"simulated {day:%Y-%m-%d %H:%M} to {clock.now():%Y-%m-%d %H:%M} UTC: {checks} checks, "
            f"{cpu2 - cpu1:.1f} s CPU, peak RSS {rss2} MiB, {time.monotonic() - wall0:.1f} s wall in all"
        )
        print(f"at 11:00 on day one: {quiet[0]} clock callbacks pending, {quiet[1]} asyncio tasks")
        print(f"installed versions: {dict(versions)}; last outcomes: {dict(outcomes)}; reports: {dict(reports)}")
        hub.stop()
        await clients.close()
        await backend.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--http", action="store_true", help="plain HTTP to the backend instead of HTTPS")
    args = parser.parse_args()
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be 1 to {MAX_HOSTS}")
    asyncio.run(main(args.hosts, not args.http))
