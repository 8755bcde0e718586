"""``python -m lab serve``: start a fleet, write its inventory, print one ready line, run until signalled."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from lab.fleet import Fleet
from lab.fleetconfig import ADDRESS_MODES, TRANSPORTS, FleetConfig
from lab.winrm.limits import WinRMLimits

# Each WinRM quota as a flag; defaults are Windows' own (lab/winrm/limits.py names the sources).
_LIMIT_FLAGS = {
    "max_envelope_size_kb": ("--winrm-max-envelope-kb", "MaxEnvelopeSizekb: largest request envelope (KB)"),
    "max_shells_per_user": ("--winrm-max-shells-per-user", "MaxShellsPerUser"),
    "max_concurrent_operations_per_user": ("--winrm-max-operations-per-user", "MaxConcurrentOperationsPerUser"),
    "idle_timeout_ms": ("--winrm-idle-timeout-ms", "winrs IdleTimeout (simulated milliseconds)"),
    "max_timeout_ms": ("--winrm-max-timeout-ms", "MaxTimeoutms: longest Receive wait (real milliseconds)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Windows fleet simulator serving real WinRM.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start a fleet and serve WinRM until SIGINT/SIGTERM")
    serve.add_argument("--clients", type=int, default=10, help="number of client hosts (client-0001 ...)")
    serve.add_argument("--servers", type=int, default=0, help="number of server hosts (server-01 ...)")
    serve.add_argument("--inventory", type=Path, required=True, help="where to write the Ansible YAML inventory")
    serve.add_argument("--seed", type=int, default=0, help="seed for waves, credentials and behaviours")
    serve.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    serve.add_argument("--state-dir", type=Path, default=Path(".tmp/lab"), help="CA, keys, NTLM users, lab.json")
    serve.add_argument("--transport", choices=TRANSPORTS, default="ntlm", help="WinRM auth written to the inventory")
    serve.add_argument("--https", action="store_true", help="inventory uses https (5986) with CA validation")
    serve.add_argument("--base-address", default="127.0.1.1", help="first host address (127.x.y.z)")
    serve.add_argument("--http-port", type=int, default=5985)
    serve.add_argument("--https-port", type=int, default=5986)
    serve.add_argument(
        "--address-mode",
        choices=ADDRESS_MODES,
        default="auto",
        help="ip: one loopback address per host; port: ports on 127.0.0.1; auto: ip, falling back to port",
    )
    serve.add_argument("--control-port", type=int, default=0, help="control API port on 127.0.0.1 (0: any free)")
    serve.add_argument(
        "--downloads", type=Path, metavar="DIR", help="serve DIR read-only over HTTPS; its URL is lab_download_url"
    )
    serve.add_argument(
        "--backend",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the reference backend (lab/backend) over HTTPS; its URL and token go into the inventory",
    )
    serve.add_argument("--backend-version", default="9.3.2", help="version it reports; 9.2.x has no sync throttle")
    serve.add_argument("--backend-port", type=int, default=0, help="backend port on 127.0.0.1 (0: any free)")
    serve.add_argument(
        "--backend-packages", type=Path, default=Path(".tmp/lab-msi"), help="built test packages it lists as releases"
    )
    serve.add_argument("--backend-download-url", help="base URL of release files (default: the backend serves them)")
    serve.add_argument(
        "--backend-channel",
        action="append",
        default=[],
        metavar="NAME=VERSION",
        help="a channel the backend offers, e.g. stable=9.3.0 (default: stable is the newest built version)",
    )
    defaults = WinRMLimits()
    for key, (flag, text) in _LIMIT_FLAGS.items():
        default = getattr(defaults, key)
        serve.add_argument(flag, dest=key, type=int, default=default, help=f"{text}; Windows default {default}")
    serve.add_argument("-v", "--verbose", action="store_true")
    return parser


async def serve(config: FleetConfig) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fleet = Fleet(config)
    await fleet.start()
    try:
        print(
            f"lab ready: {config.clients} clients, {config.servers} servers, control {fleet.control_url}, "
            f"inventory {config.inventory}" + (f", backend {fleet.backend.url}" if fleet.backend else ""),
            flush=True,
        )
        await stop.wait()
    finally:
        await fleet.stop()
        fleet.remove_lab_json()
    return 0


def _channels(values: list[str]) -> dict[str, str] | None:
    """``NAME=VERSION`` flags as the backend's channel table; ValueError names a malformed one."""
    if not values:
        return None
    channels: dict[str, str] = {}
    for value in values:
        name, sep, version = value.partition("=")
        if not sep or not name or not version:
            raise ValueError(f"--backend-channel must be NAME=VERSION, e.g. stable=9.3.0, got {value!r}")
        channels[name] = version
    return channels


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = FleetConfig(
            clients=args.clients,
            servers=args.servers,
            seed=args.seed,
            time_scale=args.time_scale,
            state_dir=args.state_dir,
            inventory=args.inventory,
            transport=args.transport,
            https=args.https,
            base_address=args.base_address,
            http_port=args.http_port,
            https_port=args.https_port,
            address_mode=args.address_mode,
            control_port=args.control_port,
            downloads_dir=args.downloads,
            backend=args.backend,
            backend_version=args.backend_version,
            backend_port=args.backend_port,
            backend_packages=args.backend_packages,
            backend_download_url=args.backend_download_url,
            backend_channels=_channels(args.backend_channel),
            winrm_limits=WinRMLimits(**{key: getattr(args, key) for key in _LIMIT_FLAGS}),
        )
    except ValueError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(config))
    except OSError as exc:
        print(f"lab: cannot start the fleet: {exc}", file=sys.stderr)
        return 1
