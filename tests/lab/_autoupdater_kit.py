"""A host with the per-user product installed by the suite, a lab backend on loopback, and a virtual clock.

What the collection's autoupdater module would write to enable the updater is written here
directly (policy values, the startup task), so the simulation is tested on its own.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime
from pathlib import Path

from lab.backend import BackendConfig, BackendServer
from lab.clock import Clock
from lab.host import BlobStore, make_host
from lab.host.autoupdater import TASK_PATH, UPDATER_EXE, UpdaterHub
from lab.host.suite import package_folder, suite_install
from lab.host.updater_client import HttpClients
from lab.host.updater_state import POLICY_KEY, STATE_KEY, VENDOR_KEY

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Berlin


class UpdaterKit:
    """Everything for one scenario; use ``async with UpdaterKit(...) as kit``."""

    def __init__(
        self,
        packages_dir: Path,
        *,
        stable: str = "9.3.1",
        installed: str | None = "9.3.0",
        users: tuple[str, ...] = ("alice",),
        start: datetime = START,
        backend_version: str = "9.3.2",
    ) -> None:
        self.packages_dir = packages_dir
        self.clock = Clock(start=start, virtual=True)
        self.host = make_host("pc001", "client", seed=3, clock=self.clock, blobs=BlobStore(), users=list(users))
        for user in users:
            self.host.logoff(user)  # the seeded desktop may have logged users on: each test decides
        self.user = users[0]
        self.sid = self.host.sid_of(self.user)
        self.stable = stable
        self.installed = installed
        self.backend = BackendServer(
            BackendConfig(version=backend_version, packages_dir=packages_dir, channels={"stable": stable})
        )
        self.clients = HttpClients(self.backend.config.client_token)
        self.hub = UpdaterHub(self.clients)

    async def __aenter__(self) -> UpdaterKit:
        await self.backend.start()
        self.hub.attach(self.host)
        if self.installed is not None:
            result = await suite_install(self.host, self.user, package_folder(self.packages_dir, self.installed))
            assert result.rc == 0, result.log_lines[-5:]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.hub.stop()
        await self.clients.close()
        await self.backend.close()

    # -- what the module would do ---------------------------------------------------------------------------
    def enable(self, user: str | None = None, url: str | None = None) -> None:
        user = user or self.user
        sid = self.host.sid_of(user)
        key = f"HKU\\{sid}\\{POLICY_KEY}"
        self.host.registry.set_value(key, "Enabled", 1, "REG_DWORD")
        self.host.registry.set_value(key, "BackendUrl", url or self.backend.url)
        with self.host.registry.loaded(sid):
            install_dir = self.host.registry.get(f"HKU\\{sid}\\{VENDOR_KEY}", "InstallDir")
        self.host.register_task(
            sid,
            user=user,
            trigger={"type": "startup"},
            exe=f"{str(install_dir).rstrip(chr(92))}\\{UPDATER_EXE}",
            arguments=["/background"],
            path=TASK_PATH,
        )

    def release(self, version: str) -> None:
        self.backend.backend.channels["stable"] = version

    def settings(self, **values: int) -> None:
        self.backend.backend.settings.update(values)

    # -- looking -------------------------------------------------------------------------------------------
    def state(self, user: str | None = None) -> dict[str, t.Any]:
        sid = self.host.sid_of(user or self.user)
        with self.host.registry.loaded(sid):
            values = self.host.registry.values(f"HKU\\{sid}\\{STATE_KEY}")
        return {name: value.data for name, value in values.items()}

    def types(self) -> dict[str, str]:
        with self.host.registry.loaded(self.sid):
            values = self.host.registry.values(f"HKU\\{self.sid}\\{STATE_KEY}")
        return {name: value.type for name, value in values.items()}

    def version(self, user: str | None = None) -> str | None:
        sid = self.host.sid_of(user or self.user)
        return next((p["version"] for p in self.host.products.values() if p["sid"] == sid), None)

    def product(self) -> dict[str, t.Any]:
        return next(p for p in self.host.products.values() if p["sid"] == self.sid)

    def updater(self, user: str | None = None) -> t.Any:
        return self.hub.updater(self.host, user or self.user)

    def now(self) -> datetime:
        return self.clock.now()

    async def run(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, with everything due on the way, then let ready work finish."""
        await self.clock.sleep(seconds)
        await self.clock.settle()  # work that needs no simulated time (msiexec's last steps) ends at this instant

    async def run_until(self, when: datetime) -> None:
        await self.run((when - self.clock.now()).total_seconds())
