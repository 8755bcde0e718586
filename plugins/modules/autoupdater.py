# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: autoupdater
short_description: Turn the product's per-user auto-updater on or off for the users of a Windows host
version_added: 0.2.0
description:
  - Enables or disables the auto-updater that the per-user variant of the product installs with the client.
    Enabled, it starts at every system restart as the user, loads its settings from the backend and installs
    new versions by itself (see C(docs/autoupdater.md) for its schedule).
  - "How it is turned on is the collection's documented assumption (the product's manual says what the updater
    does, not how it is configured): the policy values C(Enabled) (REG_DWORD 1), C(BackendUrl) and
    C(CertificateThumbprint) in the user's hive under O(policy_key), and a scheduled task
    C(<task_path><SID>) that starts C(<InstallDir>\\<updater_executable> /background) at system startup as the
    user (logon type S4U, no stored password; limited token). C(InstallDir) is the value the product writes
    under O(settings_key) in the user's hive."
  - Disabling sets C(Enabled) to 0 (the key stays, so the state is visible) and removes the task.
  - "Every requirement is checked for every user before anything is written; if one user misses one, the task
    fails naming each user and what is missing, and nothing changes on the host. Requirements: a per-user
    install whose DisplayName matches O(name) (a per-machine install has no auto-updater), version 8.4 or
    later with the updater executable present, installed by the suite installer, and the WebView2 Runtime."
  - "Suite installer: it runs the package from the user's package cache, so Windows Installer records that
    folder as the product's C(InstallSource) (InstallProperties under Installer\\UserData\\<SID>). An install
    whose source is not below C(<profile>\\<suite_installer_cache>) was made another way (for example by
    M(rollout.windows.msi_package) with C(scope=user)) and is refused."
  - "WebView2 Runtime: the value C(pv) under
    C(HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\EdgeUpdate\\Clients\\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5})
    (per machine) or the same client key under C(HKU\\<SID>\\Software) (per user), neither empty nor C(0.0.0.0),
    as Microsoft documents the detection."
  - The hives of users who are not logged on are loaded with C(reg.exe load) for the moment and unloaded again.
  - One WinRM command reads everything; a second one applies the changes, for all users at once. A run with
    nothing to change, a refusal and check mode cost one command.
options:
  users:
    description:
      - The users to act on, as C(user), C(COMPUTER\\user) or SID.
      - Default, every user with a per-user install of O(name), logged on or not.
      - A user named here without a per-user install is refused.
    type: list
    elements: str
  state:
    description:
      - C(enabled) writes the policy values and registers the startup task; C(disabled) sets C(Enabled=0) and
        removes the task.
      - With C(disabled) only the users' hives must be readable; the other requirements are not checked.
    type: str
    choices: [enabled, disabled]
    default: enabled
  backend_url:
    description:
      - Base URL of the product backend the updater loads its settings and packages from, C(https) only,
        without user name, password, query or fragment (the backend modules' URL rules); a trailing C(/api/v1)
        is removed.
      - Required with O(state=enabled).
    type: str
  backend_certificate_thumbprint:
    description:
      - SHA-1 thumbprint (40 hexadecimal digits; spaces and colons are ignored) of the certificate the updater
        accepts from the backend, written as C(CertificateThumbprint).
      - Without it the value is removed and the Windows trust store decides.
    type: str
extends_documentation_fragment:
  - rollout.windows._autoupdater
  - rollout.windows._autoupdater.product
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_full
  - rollout.windows._attributes.windows
attributes:
  check_mode:
    details: Reads everything and reports what would change; sends no change to the host.
  diff_mode:
    details: One before/after per user that changes.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.autoupdater_info
  - module: rollout.windows.backend_settings
"""

EXAMPLES = r"""
- name: Turn the auto-updater on for every user of the suite
  rollout.windows.autoupdater:
    name: Example Office Suite
    backend_url: https://backend.example:8443
    backend_certificate_thumbprint: "{{ backend_thumbprint }}"

- name: Turn it off for one user
  rollout.windows.autoupdater:
    name: Example Office Suite
    users: [anna]
    state: disabled
"""

RETURN = r"""
users:
  description: One entry per user acted on, by user name; empty when the task is refused.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: C(COMPUTER\\user) or C(DOMAIN\\user); null when the SID does not resolve.
      type: str
    sid:
      description: The user's SID (the startup task's name).
      type: str
    changed:
      description: Whether anything was (in check mode, would be) written for this user.
      type: bool
    before:
      description:
        - C(enabled) (C(Enabled=1) and a startup task), C(policy) (C(Enabled), C(BackendUrl),
          C(CertificateThumbprint) as found, null when absent or of the wrong type) and C(task) (null, or
          C(execute), C(arguments), C(user_id), C(logon_type), C(run_level), C(triggers)).
      type: dict
    after:
      description: The same after the change (in check mode, as it would be).
      type: dict
refusals:
  description: When a requirement is not met, one entry per user with C(user), C(sid) and C(reasons) (sentences).
  returned: failed because of unmet requirements
  type: list
  elements: dict
"""
