"""The HA cluster in a running fleet: control routes, the backend's /info cluster object against the contract."""

from __future__ import annotations

import json
import ssl
import typing as t
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from lab.control import ControlClient, ControlError
from lab.fleet import FleetThread
from lab.host.serverproduct import LOG_DIR, run_server_installer
from lab.testing import start_test_fleet

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "backend-api.yaml"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    running = start_test_fleet(tmp_path_factory.mktemp("ha"), clients=1, servers=2, backend=True, time_scale=1000.0)
    yield running
    running.stop()


def _info(fleet: FleetThread) -> dict[str, t.Any]:
    backend = fleet.fleet.backend
    assert backend is not None
    context = ssl.create_default_context(cafile=str(backend.ca_path))
    with urllib.request.urlopen(backend.api_url + "/info", context=context, timeout=20) as response:
        info: dict[str, t.Any] = json.load(response)
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    schema = {**contract["components"]["schemas"]["Info"], "components": contract["components"]}
    jsonschema.validate(info, schema)
    return info


def test_stage_install_and_cluster_routes(fleet: FleetThread) -> None:
    api = ControlClient(fleet.control_url)
    names = sorted(h["name"] for h in api.hosts() if h["kind"] == "server")
    assert _info(fleet)["cluster"]["members"] == [
        {"name": n.upper(), "version": "9.2.0", "mode": "production"} for n in names
    ]
    with pytest.raises(ControlError, match="is not a server"):
        api.request(
            "POST",
            "/hosts/" + next(h["name"] for h in api.hosts() if h["kind"] == "client") + "/stage-server-installer",
            {"version": "9.3.0"},
        )
    staged = api.request("POST", f"/hosts/{names[0]}/stage-server-installer", {"version": "9.3.0"})
    assert api.file(names[0], staged["path"])["sha256"] == staged["sha256"]
    api.control(names[0], {"behaviour": {"msiexec_duration": [1, 1]}})
    host = fleet.fleet.hosts[names[0]].host
    log = LOG_DIR + "\\setup-9.3.0.log"
    code, _log = fleet.call(run_server_installer(host, staged["path"], ["/quiet", "/log", log], host.username))
    assert code == 0
    info = _info(fleet)["cluster"]
    assert (info["update_in_progress"], info["updated"], info["total"]) == (True, 1, 2)
    cluster = api.request("GET", "/cluster")
    assert [e["event"] for e in cluster["history"]] == ["install_started", "update_mode"]
    assert cluster["servers"][names[0]]["mode"] == "update"
    assert api.control(names[1], {"faults": {"server_no_reconnect": True}})["faults"]["server_no_reconnect"] is True
