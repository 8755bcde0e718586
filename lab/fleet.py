"""A fleet of simulated Windows hosts served over WinRM on loopback, plus its inventory and control API.

One process, one event loop: every host gets its own loopback address
(127.0.1.1, 127.0.1.2, ... skipping .0 and .255) with WinRM on 5985 (http) and
5986 (https). Where distinct loopback addresses cannot be bound (not Linux), all
hosts share 127.0.0.1 and get a pair of ports each.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import threading
import typing as t
from collections.abc import Callable, Coroutine
from pathlib import Path

import yaml

from lab.control import ControlServer
from lab.fleetconfig import (
    FleetConfig,
    assign_waves,
    client_name,
    host_addresses,
    host_password,
    host_seed,
    server_name,
)
from lab.fleethost import FleetHost
from lab.tls import LabCA
from lab.winrm.auth import NtlmUserFiles
from lab.winrm.server import HostServer

if t.TYPE_CHECKING:
    from lab.backend import BackendServer
    from lab.clock import Clock
    from lab.downloads import DownloadServer
    from lab.host import BlobStore, Cluster, Host
    from lab.host.autoupdater import UpdaterHub
    from lab.host.updater_client import HttpClients

# Tests and scripts take the config, its helpers and the served host from here along with the fleet.
__all__ = [
    "Fleet",
    "FleetConfig",
    "FleetHost",
    "FleetThread",
    "assign_waves",
    "host_addresses",
    "start_fleet_in_thread",
]
log = logging.getLogger(__name__)
# How often (real seconds) the fleet looks for hosts that went off the network to reset their connections.
NETWORK_WATCH_INTERVAL = 0.2

T = t.TypeVar("T")


class Fleet:
    """Starts and stops the hosts, their WinRM listeners and the control API on the running event loop.

    ``async with Fleet(config) as fleet:`` or ``await fleet.start()`` / ``await fleet.stop()``.
    """

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.hosts: dict[str, FleetHost] = {}
        self.clock: Clock | None = None
        self.blobs: BlobStore | None = None
        self.cluster: Cluster | None = None  # what every server shares (service state, production database)
        self.ca: LabCA | None = None
        self.control_url = ""
        self.address_mode = ""
        self._control: ControlServer | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.backend: BackendServer | None = None  # when config.backend
        # The hosts' simulated auto-updaters reach the backend through these (lab/host/autoupdater.py).
        self.updaters: UpdaterHub | None = None
        self._updater_clients: HttpClients | None = None
        self.downloads: DownloadServer | None = None  # when config.downloads_dir
        self.download_url = ""

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- start-up -------------------------------------------------------------------------------

    def _make_hosts(self) -> list[Host]:
        from lab.clock import Clock
        from lab.host import BlobStore, Cluster

        cfg = self.config
        factory = cfg.host_factory or self._lab_host
        self.clock = Clock(cfg.time_scale)
        self.blobs = BlobStore()
        self.cluster = Cluster() if cfg.servers else None
        hosts: list[Host] = []
        for i in range(1, cfg.clients + 1):
            name = client_name(i)
            hosts.append(
                factory(
                    name,
                    "client",
                    seed=host_seed(cfg.seed, name),
                    clock=self.clock,
                    blobs=self.blobs,
                    password=host_password(cfg.seed, name),
                )
            )
        for i in range(1, cfg.servers + 1):
            name = server_name(i)
            hosts.append(
                factory(
                    name,
                    "server",
                    seed=host_seed(cfg.seed, name),
                    clock=self.clock,
                    blobs=self.blobs,
                    cluster=self.cluster,
                    password=host_password(cfg.seed, name),
                )
            )
        return hosts

    def _lab_host(self, name: str, kind: str, **options: t.Any) -> Host:
        """The lab's host model, trusting the lab CA like a managed PC trusts its domain PKI root."""
        import lab.primitives  # noqa: F401  (importing it gives the host model its primitives)
        from lab.host import make_host
        from lab.host.certstore import trust_root

        assert self.ca is not None
        host = make_host(name, kind, **options)
        trust_root(host, self.ca.ca_path.read_bytes())
        return host

    def _transport_for(self, index: int) -> str:
        if self.config.transport == "mixed":
            return "ntlm" if index % 2 == 0 else "basic"
        return self.config.transport

    async def start(self) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self.ca = LabCA(cfg.state_dir)
        hosts = self._make_hosts()
        ntlm_files = NtlmUserFiles(cfg.state_dir)
        ntlm_files.write([(h.name, h.username, h.password) for h in hosts])
        # pyspnego's acceptor refuses to start unless the variable names an existing file; each step repoints it.
        os.environ.setdefault("NTLM_USER_FILE", str(ntlm_files.all_path))

        mode = cfg.address_mode
        if mode in ("auto", "ip"):
            try:
                await self._bind(hosts, ntlm_files, "ip")
            except OSError as exc:
                await self._close_servers()
                if mode == "ip" or exc.errno not in (errno.EADDRNOTAVAIL, errno.EINVAL):
                    raise
                log.warning("cannot bind per-host loopback addresses (%s); falling back to ports on 127.0.0.1", exc)
                mode = "port"
        if mode == "port":
            await self._bind(hosts, ntlm_files, "port")
        self.address_mode = mode

        self._control = ControlServer(self, cfg.control_host, cfg.control_port)
        await self._control.start()
        self.control_url = self._control.url
        self._watch_task = asyncio.create_task(self._watch_network())
        if cfg.backend:
            await self._start_backend()
        if cfg.downloads_dir is not None:
            from lab.downloads import DownloadServer, server_context

            self.downloads = DownloadServer(cfg.downloads_dir, server_context(self.ca))
            await self.downloads.start()
            self.download_url = self.downloads.url
        if cfg.inventory is not None:
            self.write_inventory(cfg.inventory)
        self._write_lab_json()

    async def _bind(self, hosts: list[Host], ntlm_files: NtlmUserFiles, mode: str) -> None:
        cfg = self.config
        assert self.ca is not None
        if mode == "ip":
            addresses = host_addresses(cfg.base_address, len(hosts))
            ports = [(cfg.http_port, cfg.https_port)] * len(hosts)
        else:
            addresses = ["127.0.0.1"] * len(hosts)
            ports = [(cfg.http_port + 2 * i, cfg.http_port + 2 * i + 1) for i in range(len(hosts))]
        self.hosts = {}
        for i, (host, address, (http_port, https_port)) in enumerate(zip(hosts, addresses, ports, strict=True)):
            ctx = self.ca.server_context(host.name, address)
            server = HostServer(
                host,
                address=address,
                http_port=http_port,
                https_port=https_port,
                ssl_context=ctx,
                ntlm_user_file=str(ntlm_files.path(host.name)),
                limits=cfg.winrm_limits,
                clock=self.clock,
            )
            self.hosts[host.name] = FleetHost(host, i, address, http_port, https_port, self._transport_for(i), server)
            await server.start()
            if i % 50 == 49:
                await asyncio.sleep(0)  # let the control API and early clients breathe while 1,000 hosts bind

    async def _close_servers(self) -> None:
        for fh in self.hosts.values():
            await fh.server.close()

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self.updaters is not None:
            self.updaters.stop()
            self.updaters = None
        if self._updater_clients is not None:
            await self._updater_clients.close()
            self._updater_clients = None
        if self.backend is not None:
            await self.backend.close()
            self.backend = None
        if self.downloads is not None:
            await self.downloads.close()
            self.downloads = None
        await self._close_servers()

    async def _start_backend(self) -> None:
        from lab.backend import BackendConfig, BackendServer

        cfg = self.config
        self.backend = BackendServer(
            BackendConfig(
                version=cfg.backend_version,
                port=cfg.backend_port,
                seed=cfg.seed,
                packages_dir=cfg.backend_packages,
                download_url=cfg.backend_download_url,
                channels=cfg.backend_channels,
            ),
            ca=self.ca,
            cluster=self.cluster,  # the servers' HA cluster: GET /info reports it, updates drop local writes
        )
        await self.backend.start()
        self._start_updaters()

    def _start_updaters(self) -> None:
        """Attach every host to the simulated auto-updaters, which use the client token and trust the lab CA."""
        import ssl

        from lab.host.autoupdater import UpdaterHub
        from lab.host.updater_client import HttpClients

        assert self.backend is not None
        assert self.ca is not None
        context = ssl.create_default_context(cafile=str(self.ca.ca_path))
        self._updater_clients = HttpClients(self.backend.config.client_token, context)
        self.updaters = UpdaterHub(self._updater_clients)
        for fh in self.hosts.values():
            self.updaters.attach(fh.host)

    @property
    def suite_packages(self) -> Path | None:
        """The built packages the suite installer route installs from (the backend's releases)."""
        return self.config.backend_packages

    def backend_vars(self) -> dict[str, t.Any]:
        """Inventory variables the backend modules read when their options are not given."""
        if self.backend is None:
            return {}
        return {
            "rollout_backend_url": self.backend.url,
            "rollout_backend_token": self.backend.config.admin_token,
            "rollout_backend_ca_path": str(self.backend.ca_path),
            # What the product's clients hold (sync slots, sessions); the modules never need it.
            "lab_backend_client_token": self.backend.config.client_token,
        }

    async def _watch_network(self) -> None:
        """Reset the connections of hosts that went off the network so clients fail fast instead of hanging."""
        boots = {name: fh.host.boot_id for name, fh in self.hosts.items()}
        while True:
            await asyncio.sleep(NETWORK_WATCH_INTERVAL)
            for name, fh in self.hosts.items():
                server = fh.server
                if server.connection_count and not fh.host.network_up():
                    server.drop_connections()
                boot = fh.host.boot_id
                if boots[name] != boot:
                    boots[name] = boot
                    server.drop_connections()

    # ---- outputs --------------------------------------------------------------------------------

    def host_vars(self, fh: FleetHost) -> dict[str, t.Any]:
        cfg = self.config
        https = cfg.https
        out: dict[str, t.Any] = {
            "ansible_host": fh.address,
            "ansible_port": fh.https_port if https else fh.http_port,
            "ansible_user": fh.host.username,
            "ansible_password": fh.host.password,
            "ansible_connection": "winrm",
            "ansible_winrm_transport": fh.transport,
            "ansible_winrm_scheme": "https" if https else "http",
            "ansible_winrm_server_cert_validation": "validate" if https else "ignore",
            # NTLM over http encrypts the messages; Basic cannot, so it must not be asked to.
            "ansible_winrm_message_encryption": "auto" if fh.transport == "ntlm" or https else "never",
        }
        if https:
            assert self.ca is not None
            out["ansible_winrm_ca_trust_path"] = str(self.ca.ca_path)
        return out

    def inventory(self) -> dict[str, t.Any]:
        clients = {name: fh for name, fh in self.hosts.items() if fh.host.kind == "client"}
        servers = {name: fh for name, fh in self.hosts.items() if fh.host.kind != "client"}
        waves = assign_waves(list(clients), self.config.seed)
        lab_clients: dict[str, t.Any] = {
            "hosts": {name: self.host_vars(fh) for name, fh in clients.items()},
            "children": {group: {"hosts": dict.fromkeys(members)} for group, members in waves.items()},
        }
        lab_servers: dict[str, t.Any] = {"hosts": {name: self.host_vars(fh) for name, fh in servers.items()}}
        return {
            "all": {
                "vars": {
                    "lab_control_url": self.control_url,
                    **self.backend_vars(),
                    **({"lab_download_url": self.download_url} if self.download_url else {}),
                },
                "children": {
                    "rollout_clients": {"children": {"lab_clients": lab_clients}},
                    "rollout_servers": {"children": {"lab_servers": lab_servers}},
                },
            }
        }

    def write_inventory(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "# Written by `python -m lab serve`; regenerated on every start.\n" + yaml.safe_dump(
            self.inventory(), sort_keys=False, default_flow_style=False
        )
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o600)  # it holds every host's password
        tmp.replace(path)

    def _write_lab_json(self) -> None:
        cfg = self.config
        info = {
            "pid": os.getpid(),
            "control_url": self.control_url,
            "inventory": str(cfg.inventory) if cfg.inventory else None,
            "ca": str(self.ca.ca_path) if self.ca else None,
            "clients": cfg.clients,
            "servers": cfg.servers,
            "seed": cfg.seed,
            "address_mode": self.address_mode,
            "backend_url": self.backend.url if self.backend is not None else None,
            "download_url": self.download_url or None,
        }
        (cfg.state_dir / "lab.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def remove_lab_json(self) -> None:
        path = self.config.state_dir / "lab.json"
        with contextlib.suppress(OSError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()

    def describe(self) -> dict[str, t.Any]:
        """What ``GET /fleet`` of the control API answers."""
        cfg = self.config
        return {
            "clients": cfg.clients,
            "servers": cfg.servers,
            "seed": cfg.seed,
            "time_scale": cfg.time_scale,
            "address_mode": self.address_mode,
            "now": self.clock.now().isoformat() if self.clock is not None else None,
            "blobs": self.blobs.stats() if self.blobs is not None else {},
        }


class FleetThread:
    """A fleet running on its own event loop in a daemon thread (pytest fixtures, interactive use)."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.fleet = Fleet(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="lab-fleet", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.fleet.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.fleet.stop())
        self.loop.close()

    def start(self, timeout: float = 120.0) -> FleetThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the lab fleet did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the lab fleet failed to start: {self._error}") from self._error
        return self

    def call(self, coro: Coroutine[t.Any, t.Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the fleet's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run_sync(self, func: Callable[[], T], timeout: float = 60.0) -> T:
        """Run a plain function on the fleet's loop thread (host state must only be touched there)."""

        async def wrapper() -> T:
            return func()

        return self.call(wrapper(), timeout)

    @property
    def control_url(self) -> str:
        return self.fleet.control_url

    def stop(self, timeout: float = 30.0) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


def start_fleet_in_thread(config: FleetConfig | None = None, **kwargs: t.Any) -> FleetThread:
    """Start a fleet in a background thread; ``.stop()`` it when done."""
    return FleetThread(config or FleetConfig(**kwargs)).start()
