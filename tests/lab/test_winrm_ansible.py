"""Real ansible-playbook (ansible-core's winrm connection plugin) against the lab fleet."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from lab.control import ControlClient
from lab.fleet import FleetThread

HERE = Path(__file__).resolve().parent
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def _playbook(fleet: FleetThread, tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(text, encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_ACTION_PLUGINS=str(HERE / "action_plugins"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    assert fleet.config.inventory is not None
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(fleet.config.inventory), str(play), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_playbook_primitives_transfers_and_not_implemented(lab_fleet: FleetThread, tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(5 * 1024 * 1024 + 17))  # 5 MB: many 250,000-byte put_file chunks
    small = tmp_path / "small.txt"
    small.write_text("hello from the controller\n", encoding="utf-8")
    assert lab_fleet.fleet.ca is not None
    ca = lab_fleet.fleet.ca.ca_path
    result = _playbook(
        lab_fleet,
        tmp_path,
        f"""
- name: http, ntlm with message encryption (client-0001) and basic (client-0002)
  hosts: client-0001:client-0002
  gather_facts: false
  tasks:
    - name: A collection primitive runs end to end
      lab_primitive: {{name: Get-HostInfo}}
      register: info
    - ansible.builtin.assert:
        that: info.result is mapping
    - name: 5 MB put_file, sha1 checked by the connection plugin, kept for inspection
      lab_transfer: {{src: {payload}, keep: true, name: payload.bin}}
      register: put
    - name: mkdtemp, put_file, fetch_file, remove
      lab_transfer: {{src: {small}, fetch_to: "{tmp_path}/fetched-{{{{ inventory_hostname }}}}.txt"}}
    - name: Raw commands are not modelled
      ansible.builtin.raw: Get-Process
      register: raw
      ignore_errors: true
    - ansible.builtin.assert:
        that:
          - raw.rc == 1
          - "'lab: not implemented: Get-Process' in raw.stderr"
    - ansible.builtin.debug:
        msg: "REMOTE {{{{ inventory_hostname }}}} {{{{ put.remote_path }}}}"

- name: https with certificate validation against the lab CA
  hosts: client-0003
  gather_facts: false
  vars:
    ansible_port: 5986
    ansible_winrm_scheme: https
    ansible_winrm_server_cert_validation: validate
    ansible_winrm_ca_trust_path: {ca}
  tasks:
    - lab_primitive: {{name: Get-HostInfo}}
""",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("client-0001", "client-0002"):
        assert (tmp_path / f"fetched-{name}.txt").read_bytes() == small.read_bytes()
    control = ControlClient(lab_fleet.control_url)
    expected_sha1 = hashlib.sha1(payload.read_bytes()).hexdigest()
    for line in result.stdout.splitlines():
        if '"msg": "REMOTE ' in line:
            _, name, path = line.split('"msg": "', 1)[1].rstrip('"').split(" ", 2)
            info = control.file(name, path.replace("\\\\", "\\"))
            assert info["sha1"] == expected_sha1
            assert info["size"] == payload.stat().st_size
    counters = control.counters("client-0001")
    assert counters["builtin:winrm_put_file.ps1"] >= 2
    assert counters["builtin:winrm_fetch_file.ps1"] >= 1
    assert counters["builtin:powershell_mkdtemp.ps1"] >= 2
    assert counters["builtin:remove"] >= 1


def test_playbook_python_module_is_not_implemented(lab_fleet: FleetThread, tmp_path: Path) -> None:
    result = _playbook(
        lab_fleet,
        tmp_path,
        """
- hosts: client-0001
  gather_facts: false
  tasks:
    - ansible.builtin.ping:
""",
    )
    assert result.returncode == 2
    assert "lab: not implemented" in result.stdout


def test_wrong_credentials_and_down_host_are_unreachable(lab_fleet: FleetThread, tmp_path: Path) -> None:
    control = ControlClient(lab_fleet.control_url)
    control.control("client-0004", {"faults": {"unreachable": True}})
    try:
        result = _playbook(
            lab_fleet,
            tmp_path,
            """
- hosts: client-0001:client-0002:client-0004
  gather_facts: false
  vars:
    # client-0004 is off the network: it resets the connection before any credentials matter.
    ansible_password: definitely-wrong
  tasks:
    - lab_primitive: {name: Get-HostInfo}
""",
        )
    finally:
        control.control("client-0004", {"faults": {"unreachable": False}})
    out = result.stdout
    assert result.returncode == 4, out + result.stderr
    assert out.count("the specified credentials were rejected by the server") >= 2
    assert "fatal: [client-0004]: UNREACHABLE!" in out
    assert "Connection reset by peer" in out
    assert out.count("unreachable=1") == 3
    # A reset, not a timeout: the down host fails at once (how fast is the machine's business).
    assert "timed out" not in out.lower()
