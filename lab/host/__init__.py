"""The simulated Windows host model the WinRM server runs primitives against."""

from __future__ import annotations

from lab.host.blobs import BlobStore
from lab.host.cluster import Cluster, ServerState
from lab.host.filesystem import FileSystem
from lab.host.host import Host, make_host
from lab.host.registry import Registry
from lab.host.sessions import OFFICE_PROCESSES
from lab.host.state import DEFAULT_PASSWORD, DEFAULT_USERNAME, HostDropped

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "OFFICE_PROCESSES",
    "BlobStore",
    "Cluster",
    "FileSystem",
    "Host",
    "HostDropped",
    "Registry",
    "ServerState",
    "make_host",
]
