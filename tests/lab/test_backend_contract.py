"""The reference backend against its contract, docs/backend-api.yaml, with schemathesis.

Schemathesis generates valid and invalid requests for every operation from the
contract and checks each answer: status code documented, body matching its schema,
no server error, invalid input refused, valid input accepted, auth enforced. It runs
against a 9.3 backend (with the sync throttle) and a 9.2 one (without).
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from lab.backend import BackendServer
from lab.backend.state import SETTINGS
from lab.fleet import FleetThread
from lab.testing import start_test_fleet

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "backend-api.yaml"
# Enough to cover every operation with valid and invalid input in about half a minute on 2 cores.
EXAMPLES = 25
# The same examples on every run and machine: no example database, no random seed. A failure is then a
# change in the backend or its contract, never the luck of one run.
FIXED: dict[str, t.Any] = {"derandomize": True, "database": None}


def _start(tmp: Path, version: str, packages: Path) -> FleetThread:
    return start_test_fleet(tmp, clients=1, servers=0, backend=True, backend_version=version, backend_packages=packages)


def _schema(accepted: list[t.Any]) -> t.Any:
    config = SchemathesisConfig.from_dict(
        {
            "request-timeout": 20,
            "generation": {"deterministic": True},
            "checks": {"positive_data_acceptance": {"expected-statuses": accepted}},
            # A valid rollout of a version the channel already offers is refused by design: 422 not_an_update;
            # a ring with too many client ids is refused as a body over the size limit (413) before it is parsed.
            "operations": [
                {
                    "include-operation-id": "defineRollout",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": [*accepted, 413, 422]},
                        "negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 409, 413, 422]},
                    },
                }
            ],
        }
    )
    return schemathesis.openapi.from_path(CONTRACT, config=config)


# Schemathesis may ask for the token while it collects examples, before a fixture started the backend:
# it gets this stand-in, and _call swaps in the running backend's admin token just before the request.
PENDING = "admin-token-of-the-running-backend"


class AdminToken:
    """Schemathesis sends it where the contract asks for auth, and leaves it out to test that auth is enforced."""

    def get(self, case: t.Any, context: t.Any) -> str:
        return PENDING

    def set(self, case: t.Any, data: str, context: t.Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Valid input may still be refused by design: a start while the update lock is on (423), a full throttle (429).
ACCEPTED = ["2xx", 401, 403, 404, 409, 423, 429]
schema_93 = _schema(ACCEPTED)
# 9.2 refuses the throttle setting, valid as it is by the schema, with 422 feature_unavailable.
schema_92 = _schema([*ACCEPTED, 422])
schema_93.auth()(AdminToken)
schema_92.auth()(AdminToken)


@pytest.fixture(scope="module")
def backend_93(tmp_path_factory: pytest.TempPathFactory, msi_packages: dict[str, t.Any]) -> Iterator[BackendServer]:
    packages = Path(next(iter(msi_packages.values()))["dir"]).parent
    fleet = _start(tmp_path_factory.mktemp("backend93"), "9.3.2", packages)
    server = fleet.fleet.backend
    # A low limit, so that generated acquires also meet a full throttle (429 with Retry-After).
    fleet.run_sync(lambda: server.backend.settings.update(max_parallel_syncs=2))
    fleet.run_sync(lambda: server.backend.throttle.set_limit(2))
    # The channel one version behind the newest package, so that the contract's rollout example is an update.
    fleet.run_sync(lambda: server.backend.channels.update(stable="9.3.0"))
    try:
        yield server
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def backend_92(tmp_path_factory: pytest.TempPathFactory, msi_packages: dict[str, t.Any]) -> Iterator[BackendServer]:
    packages = Path(next(iter(msi_packages.values()))["dir"]).parent
    fleet = _start(tmp_path_factory.mktemp("backend92"), "9.2.4", packages)
    try:
        yield fleet.fleet.backend
    finally:
        fleet.stop()


def _call(case: t.Any, server: BackendServer) -> None:
    # A long poll may hold the request up to 60 s; one second shows the same behaviour.
    if isinstance(case.query, dict) and isinstance(case.query.get("wait"), int) and case.query["wait"] > 1:
        case.query["wait"] = 1
    # A generated empty Transfer-Encoding makes the HTTP library send a chunk terminator that the server reads
    # as the start of the next request on the kept-alive connection ("Invalid method encountered: b'0'"):
    # that tests the client library's framing, not the contract, and fails whichever operation comes next.
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "transfer-encoding"}
    if case.headers and case.headers.get("Authorization") == f"Bearer {PENDING}":
        case.headers["Authorization"] = f"Bearer {server.config.admin_token}"
    case.call_and_validate(base_url=server.api_url, verify=str(server.ca_path))


@schema_93.parametrize()
@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), **FIXED)
def test_backend_93_follows_the_contract(case: t.Any, backend_93: BackendServer) -> None:
    _call(case, backend_93)


@schema_92.parametrize()
@settings(deadline=None, max_examples=10, suppress_health_check=list(HealthCheck), **FIXED)
def test_backend_92_follows_the_contract(case: t.Any, backend_92: BackendServer) -> None:
    _call(case, backend_92)


def test_server_limits_match_the_contract() -> None:
    """The server's setting limits and defaults are the contract's (the module's own copy has its unit test)."""
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    documented = contract["components"]["schemas"]["Settings"]["properties"]
    assert set(documented) == set(SETTINGS)
    for name, limit in SETTINGS.items():
        assert (documented[name]["minimum"], documented[name]["maximum"]) == (limit.minimum, limit.maximum), name
        assert documented[name]["default"] == limit.default, name
