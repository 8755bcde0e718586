"""Real ansible-playbook runs against a lab fleet on loopback."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab.control import ControlClient
from lab.fleet import FleetThread
from lab.msi import build_packages
from lab.testing import start_test_fleet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Simulated minutes pass in seconds: an msiexec of 20-60 simulated seconds takes under a second.
TIME_SCALE = 120.0


def playbook_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test's ansible-playbook run: this checkout's collection and configuration, and the
    controller's record of what each host keeps (_primitive_cache) and of what it read from packages (_msi_cache)
    in ``workdir``, so that it belongs to this test alone; ``extra`` adds the run's own variables (its callbacks)."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".tmp" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ROLLOUT_WINDOWS_PRIMITIVE_RECORD_DIR": str(workdir / "primitive-records"),
        # What the controller read from packages (_msi_cache), this test's own.
        "ROLLOUT_WINDOWS_MSI_FACTS_DIR": str(workdir / "msi-facts"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        **extra,
    }


def report_env(workdir: Path, reports: Path) -> dict[str, str]:
    """:func:`playbook_env` with the rollout_progress callback writing its report as ``reports/report.*``."""
    return playbook_env(
        workdir,
        ANSIBLE_CALLBACKS_ENABLED="rollout.windows.rollout_progress",
        ROLLOUT_PROGRESS_REPORT_DIR=str(reports),
        ROLLOUT_PROGRESS_REPORT_NAME="report",
    )


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    results: dict[str, dict[str, dict[str, t.Any]]]

    def result(self, host: str, task: str) -> dict[str, t.Any]:
        return self.results[host][task]


class Ansible:
    """Runs ansible-playbook the way a user does, with the lab inventory and the collection on its path."""

    def __init__(self, inventory: Path, workdir: Path) -> None:
        self.inventory = inventory
        self.workdir = workdir
        self.runs = 0

    def playbook(
        self,
        tasks: str,
        *,
        hosts: str = "all",
        check: bool = False,
        diff: bool = False,
        extra_vars: dict[str, t.Any] | None = None,
        play_options: str = "",
    ) -> PlaybookRun:
        self.runs += 1
        play = self.workdir / f"play-{self.runs}.yml"
        body = textwrap.indent(textwrap.dedent(tasks).strip(), "    ")
        options = textwrap.indent(textwrap.dedent(play_options).strip(), "  ")
        play.write_text(f"- hosts: {hosts}\n  gather_facts: false\n{options}\n  tasks:\n{body}\n", encoding="utf-8")
        return self.run_file(play, check=check, diff=diff, extra_vars=extra_vars)

    def run_file(
        self, playbook: Path, *, check: bool = False, diff: bool = False, extra_vars: dict[str, t.Any] | None = None
    ) -> PlaybookRun:
        capture = self.workdir / f"results-{self.runs}.json"
        command = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        env = playbook_env(
            self.workdir,
            ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).parent / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="capture_results",
            CAPTURE_RESULTS_FILE=str(capture),
        )
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
        results = json.loads(capture.read_text()) if capture.exists() else {}
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout.windows integration")
    group.addoption(
        "--reverse-order", action="store_true", help="run the collected tests last to first (proves independence)"
    )
    group.addoption(
        "--shuffle-order",
        type=int,
        default=None,
        metavar="SEED",
        help="run the collected tests in an order shuffled with SEED (proves independence)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test arranges its own lab state; running them in another order is how that is checked."""
    if config.getoption("--reverse-order"):
        items.reverse()
    seed = config.getoption("--shuffle-order")
    if seed is not None:
        random.Random(seed).shuffle(items)


# Every fleet fixture is per test: a fleet starts in well under a second, and a test that gets its
# hosts fresh cannot depend on what an earlier test installed, logged on or broke.
@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetThread]:
    """A fresh fleet for each test, so no test sees another's installs, sessions or faults."""
    (tmp_path / "fleet").mkdir()
    running = start_test_fleet(tmp_path / "fleet", time_scale=TIME_SCALE)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def control(fleet: FleetThread) -> ControlClient:
    return ControlClient(fleet.control_url)


@pytest.fixture
def ansible(fleet: FleetThread, tmp_path: Path) -> Ansible:
    assert fleet.config.inventory is not None
    (tmp_path / "plays").mkdir()
    return Ansible(fleet.config.inventory, tmp_path / "plays")


@pytest.fixture
def clients(fleet: FleetThread) -> list[str]:
    assert fleet.config.inventory is not None
    inventory = yaml.safe_load(fleet.config.inventory.read_text())
    hosts = inventory["all"]["children"]["rollout_clients"]["children"]["lab_clients"]["hosts"]
    return sorted(hosts)


@pytest.fixture(scope="session")
def packages() -> Path:
    """The wixl-built test packages: <variant>-<version>/{ExampleOfficeSuite.msi,payload/}."""
    out = ROOT / ".tmp" / "lab-msi"
    build_packages(out)
    return out
