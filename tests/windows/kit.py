"""What the acceptance kit needs besides pytest: its settings and a lab-free ansible-playbook runner.

The runner is the one tests/integration/conftest.py uses, without the lab: real
``ansible-playbook`` runs with the admin's inventory and the repository's collection on the
path, every task result captured by tests/integration/callback_plugins/capture_results.py
(test-only, and free of any lab dependency).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CALLBACKS = ROOT / "tests" / "integration" / "callback_plugins"
# A real msiexec or a per-user install through a scheduled task may take minutes.
PLAYBOOK_TIMEOUT = 1800

ENV_INVENTORY = "ROLLOUT_WINDOWS_INVENTORY"
ENV_HOST = "ROLLOUT_WINDOWS_HOST"
ENV_USER = "ROLLOUT_WINDOWS_TEST_USER"
ENV_REBOOT = "ROLLOUT_WINDOWS_TEST_REBOOT"
ENV_PACKAGES = "ROLLOUT_WINDOWS_PACKAGES"
# Host variables an admin may set in the inventory instead of the environment.
VAR_USER = "rollout_windows_test_user"
VAR_REBOOT = "rollout_windows_test_reboot"
DEFAULT_PATTERN = "rollout_windows_test"
TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    results: dict[str, dict[str, dict[str, t.Any]]]

    def result(self, host: str, task: str) -> dict[str, t.Any]:
        try:
            return self.results[host][task]
        except KeyError:
            raise AssertionError(
                f"no result for task {task!r} on {host}; ansible-playbook said:\n{self.stdout}"
            ) from None


class Ansible:
    """Runs ansible-playbook the way an admin does, with their inventory and this repository's collection."""

    def __init__(self, inventory: Path, workdir: Path) -> None:
        self.inventory = inventory
        self.workdir = workdir
        self.runs = 0

    def playbook(self, tasks: str, *, hosts: str, extra_vars: dict[str, t.Any] | None = None) -> PlaybookRun:
        self.runs += 1
        play = self.workdir / f"play-{self.runs}.yml"
        body = textwrap.indent(textwrap.dedent(tasks).strip(), "    ")
        # hosts comes from the admin's settings: quoted, so a pattern such as "win:&test" stays one string.
        play.write_text(
            f"- hosts: {json.dumps(hosts)}\n  gather_facts: false\n  tasks:\n{body}\n",
            encoding="utf-8",
        )
        capture = self.workdir / f"results-{self.runs}.json"
        command = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(play)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".tmp" / "collections"),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "capture_results",
            "CAPTURE_RESULTS_FILE": str(capture),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
        results = json.loads(capture.read_text()) if capture.exists() else {}
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)


@dataclass(frozen=True)
class Settings:
    """What the admin told the kit through the environment (the inventory may add host variables)."""

    inventory: Path | None
    pattern: str
    test_user: str
    reboot: bool | None  # None: not said in the environment, the inventory may say it
    packages: Path | None

    @classmethod
    def from_env(cls, env: t.Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        inventory = env.get(ENV_INVENTORY, "").strip()
        reboot = env.get(ENV_REBOOT, "").strip().lower()
        packages = env.get(ENV_PACKAGES, "").strip()
        return cls(
            inventory=Path(inventory).expanduser() if inventory else None,
            pattern=env.get(ENV_HOST, "").strip() or DEFAULT_PATTERN,
            test_user=env.get(ENV_USER, "").strip(),
            reboot=(reboot in TRUE_WORDS) if reboot else None,
            packages=Path(packages).expanduser() if packages else None,
        )

    def skip_reason(self) -> str | None:
        """Why the whole kit cannot run, or None."""
        if self.inventory is None:
            return (
                f"no Windows host: set {ENV_INVENTORY}=<inventory file> (or make test-windows INVENTORY=<file>) "
                "to run the acceptance kit against a real Windows host"
            )
        return None


@dataclass(frozen=True)
class Target:
    """The one Windows host the kit runs against, as the admin's inventory describes it."""

    host: str
    connection: str
    scheme: str
    port: str
    test_user: str
    reboot: bool

    @property
    def https(self) -> bool:
        # ansible-core's winrm plugin: https unless ansible_winrm_scheme says otherwise or the port is 5985.
        return self.scheme == "https" or (not self.scheme and self.port != "5985")


PROBE = f"""
- name: probe
  ansible.builtin.debug:
    msg:
      connection: "{{{{ ansible_connection | default('') }}}}"
      scheme: "{{{{ ansible_winrm_scheme | default('') }}}}"
      port: "{{{{ ansible_port | default('') }}}}"
      test_user: "{{{{ {VAR_USER} | default('') }}}}"
      reboot: "{{{{ {VAR_REBOOT} | default(false) | bool }}}}"
"""


def probe(ansible: Ansible, settings: Settings) -> Target:
    """Resolve the host pattern and read the host's connection settings, as Ansible templates them (vault included).

    Raises ValueError with an admin-readable message when the inventory does not name exactly one host.
    """
    run = ansible.playbook(PROBE, hosts=settings.pattern)
    hosts = sorted(run.results)
    if run.rc != 0 or len(hosts) != 1:
        found = ", ".join(hosts) if hosts else "no host"
        raise ValueError(
            f"{ENV_HOST}={settings.pattern!r} must name exactly one host of {settings.inventory}, "
            f"found {found} (set {ENV_HOST} to a host or a group of one). ansible-playbook said:\n{run.stdout}"
        )
    host = hosts[0]
    facts = run.result(host, "probe")["msg"]
    reboot = settings.reboot if settings.reboot is not None else str(facts["reboot"]).lower() in TRUE_WORDS
    return Target(
        host=host,
        connection=str(facts["connection"]),
        scheme=str(facts["scheme"]).lower(),
        port=str(facts["port"]),
        test_user=settings.test_user or str(facts["test_user"]).strip(),
        reboot=reboot,
    )


def same_account(reported: str | None, wanted: str) -> bool:
    """``COMPUTER\\anna`` (as Windows reports it) is ``anna``; ``CORP\\anna`` only matches ``CORP\\anna``."""
    if not reported:
        return False
    if "\\" in wanted:
        return reported.lower() == wanted.lower()
    return reported.rsplit("\\", 1)[-1].lower() == wanted.lower()
