# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: ha_server_info
short_description: Report what one server of the HA backend cluster says about itself
version_added: 0.3.0
description:
  - Reads, in one WinRM command, what the server product records in the registry (version, production or update
    mode, production database or local copy, the schema version it last connected to, the cluster's name and
    members as this server knows them, the update progress and the installer's last log) and the status of its
    service.
  - Every value is untrusted input. One of the wrong registry type or form is named in C(problems) and reported as
    null, never used.
  - The admin console takes logins only from a running server in production mode (C(server.admin_console)); in
    update mode the server serves its clients from a local copy of the database.
extends_documentation_fragment:
  - rollout.windows._server
  - rollout.windows._attributes
  - rollout.windows._attributes.read_only
  - rollout.windows._attributes.windows
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.ha_server_install
"""

EXAMPLES = r"""
- name: What does each server report?
  rollout.windows.ha_server_info:
  register: ha

- name: Show the update progress
  ansible.builtin.debug:
    msg: "{{ ha.server.name }}: {{ ha.server.mode }} on {{ ha.server.version }} ({{ ha.server.progress_text }})"
"""

RETURN = r"""
installed:
  description: Whether the key O(settings_key) exists, that is the server product is installed.
  returned: always
  type: bool
server:
  description: What the server reports; each value is null when absent or invalid.
  returned: always
  type: dict
  contains:
    name:
      description: The computer name (NetBIOS, upper case).
      type: str
    version:
      description: The installed server version.
      type: str
    mode:
      description: C(production) or C(update).
      type: str
    database:
      description: C(production) or C(local-copy).
      type: str
    schema_version:
      description: The production schema version this server last connected to.
      type: str
    cluster_name:
      description: The HA network's name.
      type: str
    members:
      description: Every member's computer name as this server knows them (upper case).
      type: list
      elements: str
    progress:
      description: C(updated) and C(total) servers while an update runs (and at its end), else null.
      type: dict
    progress_text:
      description: The same as the server writes it, C(n of m servers updated), else null.
      type: str
    service:
      description:
        - The service's status (C(Running), C(Stopped), C(StartPending) ...), null when there is no such service.
      type: str
    admin_console:
      description: Whether the admin console takes logins (production mode and the service running).
      type: bool
    last_install_log:
      description: The path of the installer's last log on the server.
      type: str
problems:
  description: Values the server reported that are of the wrong type or form, each named; they were left out.
  returned: always
  type: list
  elements: str
"""
