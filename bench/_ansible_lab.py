"""What the Ansible benches share: one measured ansible-playbook run, a lab fleet in a subprocess, the floor playbooks.

- :func:`run_playbook`: one ``ansible-playbook`` run, its controller CPU from the children's rusage (the whole
  process tree, reaped), and its task results per host from ``bench/callback_plugins/task_counts.py``.
- :class:`Lab`: ``python -m lab serve --clients N`` in a subprocess (loopback only, a random free 127.x.y.1 range).
- :func:`write_floor_playbooks`: Ansible's own floor against the same hosts: one ``debug`` task per host (no
  connection) and one one-command WinRM task per host (``rollout.windows.product_info``).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory: the lab lives at the repo root

from lab.controlclient import ControlClient  # noqa: E402

BIN = Path(sys.executable).parent
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
READY_SECONDS = 180


class PlaybookRun(t.NamedTuple):
    rc: int
    output: str
    wall: float
    cpu: float
    # task_counts' JSON: per_host {host: {status: n}}, run_once {status: n}, tasks {name: n}
    counts: dict[str, t.Any]

    def results_per_host(self, hosts: int) -> float:
        """Task results per host (skipped included), run_once results left out."""
        return sum(sum(c.values()) for c in self.counts.get("per_host", {}).values()) / max(hosts, 1)

    def run_once_results(self) -> int:
        return sum(self.counts.get("run_once", {}).values())


def run_playbook(
    inventory: Path,
    playbook: Path,
    extra: dict[str, t.Any],
    *,
    forks: int,
    timeout: float,
    log: Path,
    extra_args: t.Sequence[str] = (),
    phases: Path | None = None,
) -> PlaybookRun:
    """One ansible-playbook run; only this process's children are reaped meanwhile, so the rusage delta is its own."""
    counts_file = log.with_suffix(".counts.json")
    counts_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".tmp" / "collections"),
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "task_counts",
        "TASK_COUNTS_FILE": str(counts_file),
        # What the controller knows the lab's hosts keep (kept primitives), for this lab alone: a record left by
        # an earlier lab on the same addresses would cost a refused command per primitive.
        "ROLLOUT_WINDOWS_PRIMITIVE_RECORD_DIR": str(inventory.parent / "primitive-records"),
        # What the controller read from packages, for this bench alone (the plan's lookup fills it).
        "ROLLOUT_WINDOWS_MSI_FACTS_DIR": str(inventory.parent / "msi-facts"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    if phases is not None:
        # Where each worker's CPU goes (bench/callback_plugins/worker_phases.py): a few percent more CPU.
        phases.mkdir(parents=True, exist_ok=True)
        env |= {"ANSIBLE_CALLBACKS_ENABLED": "task_counts,worker_phases", "WORKER_PHASES_DIR": str(phases)}
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra_args]
    if extra:
        command += ["-e", json.dumps(extra)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with log.open("w") as handle:
        proc = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = json.loads(counts_file.read_text()) if counts_file.is_file() else {}
    return PlaybookRun(proc.returncode, log.read_text(), wall, cpu, counts)


def _proc_cpu(pid: int) -> float:
    """User + sys seconds of a running process (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Lab:
    """``python -m lab serve`` in a subprocess, stopped on exit whatever happens."""

    def __init__(self, clients: int, workdir: Path, time_scale: float, packages: Path) -> None:
        self.inventory = workdir / "hosts.yml"
        self.state_dir = workdir / "state"
        out = workdir / "serve.out"
        for _ in range(8):
            base = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}.1"
            command = [str(BIN / "python"), "-m", "lab", "serve", "--clients", str(clients)]
            command += ["--time-scale", str(time_scale), "--base-address", base, "--address-mode", "ip"]
            command += ["--state-dir", str(self.state_dir), "--inventory", str(self.inventory)]
            command += ["--backend-packages", str(packages)]
            with out.open("w") as handle:
                self.proc = subprocess.Popen(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + READY_SECONDS
            while time.monotonic() < deadline and self.proc.poll() is None:
                if "lab ready" in out.read_text():
                    lab_json = json.loads((self.state_dir / "lab.json").read_text())
                    self.control = ControlClient(lab_json["control_url"])
                    self.hosts = sorted(h["name"] for h in self.control.hosts() if h["kind"] == "client")
                    return
                time.sleep(0.2)
            text = out.read_text()
            self.stop()
            if "address already in use" not in text.lower():
                raise RuntimeError(f"the lab did not start:\n{text[-2000:]}")
        raise RuntimeError("no free loopback range for the lab after 8 attempts")

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    def cpu(self) -> float:
        return _proc_cpu(self.proc.pid)

    def wire(self) -> dict[str, float]:
        """Means per client host of the lab's counters since the last reset, and the commands by kind."""
        counters = [self.control.counters(h) for h in self.hosts]
        out = {key: statistics.fmean(c.get(key, 0) for c in counters) for key in ("commands", "requests")}
        out |= {key: statistics.fmean(c.get(key, 0) for c in counters) for key in ("bytes_in", "bytes_out")}
        out["commands_max"] = max(c.get("commands", 0) for c in counters)
        kinds = sorted({k for c in counters for k in c if k.startswith(("primitive:", "builtin:", "not_implemented"))})
        out["kinds"] = {k: round(sum(c.get(k, 0) for c in counters) / len(counters), 2) for k in kinds}  # type: ignore[assignment]
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# The floor plays target what playbooks/rollout.yml rolls out to; no facts, as the rollout gathers none.
_FLOORS = {
    "debug": "ansible.builtin.debug:\n        msg: floor",
    # One WinRM command per host (its module documentation: "in one WinRM command"); the filter keeps its answer
    # to the rollout's product, as the rollout's own check reads it.
    "product_info": "rollout.windows.product_info:\n        name: Example Office Suite*",
}


def write_floor_playbooks(workdir: Path) -> dict[str, Path]:
    paths = {}
    for name, task in _FLOORS.items():
        path = workdir / f"floor-{name}.yml"
        path.write_text(
            f"- name: Floor, {name}\n  hosts: rollout_clients\n  gather_facts: false\n  tasks:\n"
            f"    - name: One {name} task per host\n      {task}\n",
            encoding="utf-8",
        )
        paths[name] = path
    return paths
