"""Reference client management API of the product's backend (``docs/backend-api.yaml``), for the lab.

``BackendServer(BackendConfig(...), ca=LabCA(...))`` serves it over HTTPS on loopback;
``FleetConfig(backend=True)`` starts one with the fleet and writes its URL, admin token
and CA path into the inventory. See lab/README.md.
"""

from __future__ import annotations

from lab.backend.server import API, Backend, BackendConfig, BackendServer, lab_token

__all__ = ["API", "Backend", "BackendConfig", "BackendServer", "lab_token"]
