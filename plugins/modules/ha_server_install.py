# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: ha_server_install
short_description: Update one server of the HA backend cluster with the product's installer
version_added: 0.3.0
description:
  - Reads the server's state first. A server that already runs O(version), in update or production mode, is never
    installed again (C(changed=false)); a server that runs a newer version, or has no server product, is refused.
  - Otherwise runs the installer staged on the server (O(installer)) once, with the arguments C(/quiet /norestart
    /log <log_dir>\setup-<version>-<UTC time>.log) and O(arguments), after checking on the server that the file has
    the SHA-256 O(checksum) (held open meanwhile, so the file that runs is the file that was checked) and that the
    WinRM account is an administrator. A mismatch or a standard user fails the task and nothing is run.
  - "The installer's exit code, as the collection assumes it: 0 done, 3010 done (a restart of the server is needed,
    a warning says so), 1602 cancelled, 1603 fatal error, 1618 another installation in progress; anything else
    failed with that code. A failure names the server, the meaning and the last lines of the installer's log."
  - Then waits (O(wait_timeout)) until the server reports O(version) in update mode on a local copy of the database,
    or, when it was the last server of the cluster, production mode on O(version) (C(finished=true)).
  - The WinRM commands are one state read, one installer run and one state read per poll (every 5 seconds).
  - Update the servers one after another (C(serial=1)); the role C(rollout.windows.ha_server_update) does.
options:
  installer:
    description:
      - Path of the installer on the server (C(ExampleBackendSetup.exe)), staged there beforehand.
    type: str
    required: true
  checksum:
    description:
      - The installer's SHA-256 as C(sha256:<64 hexadecimal digits>); checked on the server before it runs.
    type: str
    required: true
  version:
    description:
      - The server version the installer brings, for example C(9.3.0).
    type: str
    required: true
  arguments:
    description:
      - More arguments for the installer, after C(/quiet /norestart /log <path>); each is quoted as one argument.
    type: list
    elements: str
    default: []
  log_dir:
    description:
      - The folder on the server for the installer's log; created when missing.
    type: str
    default: C:\ProgramData\Example Backend\Logs
  timeout:
    description:
      - Seconds the installer may run. One still running then is left to finish (stopping it halfway would leave
        the server broken) and the task fails saying so.
    type: int
    default: 3600
  wait_timeout:
    description:
      - Seconds to wait, after the installer ended, for the server to report update mode on O(version), or
        production on O(version) when it was the last server.
    type: int
    default: 900
extends_documentation_fragment:
  - rollout.windows._server
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
attributes:
  check_mode:
    details: Reads the server's state and reports what would be done; runs nothing.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.ha_server_info
"""

EXAMPLES = r"""
- name: Update the servers one after another
  hosts: rollout_servers
  serial: 1
  max_fail_percentage: 0
  tasks:
    - name: Install 9.3.0
      rollout.windows.ha_server_install:
        installer: C:\Install\Example Backend\9.3.0\ExampleBackendSetup.exe
        checksum: sha256:{{ backend_setup_sha256 }}
        version: 9.3.0
      register: installed

    - name: Report the progress
      ansible.builtin.debug:
        msg: "{{ installed.progress_text }}"
"""

RETURN = r"""
version:
  description: The version the server reports now.
  returned: always
  type: str
mode:
  description: C(update) or C(production), as the server reports it now.
  returned: always
  type: str
database:
  description: C(local-copy) or C(production), as the server reports it now.
  returned: always
  type: str
progress:
  description: C(updated) and C(total) servers, as the server reports it; null when it reports none.
  returned: always
  type: dict
progress_text:
  description: The same as the server writes it, C(n of m servers updated).
  returned: always
  type: str
finished:
  description: The server runs in production mode on the production database; after an install, it was the last.
  returned: always
  type: bool
rc:
  description: The installer's exit code; null when it did not run (or has not ended).
  returned: always
  type: int
exit_code_meaning:
  description: What RV(rc) means.
  returned: when the installer ended
  type: str
log_path:
  description: The installer's log on the server.
  returned: when the installer ended
  type: str
log_tail:
  description: The last lines of the installer's log.
  returned: when the installer failed
  type: list
  elements: str
server:
  description: Everything the server reports, as M(rollout.windows.ha_server_info) returns it in C(server).
  returned: always
  type: dict
problems:
  description: Values the server reported that are of the wrong type or form, each named; they were left out.
  returned: always
  type: list
  elements: str
"""
