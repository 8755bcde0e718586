# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: autoupdater_info
short_description: Report what each user's auto-updater did last and when it checks next
version_added: 0.2.0
description:
  - For every user with a per-user install whose DisplayName matches O(name) (or the users named), reports
    whether the auto-updater is enabled, what it recorded about its last update check, the interval row in
    force now and why, when the next check is due (UTC and host local time), the attempts used of the
    allowed ones, and the release it would install. One WinRM command; the hives of users who are not
    logged on are loaded with C(reg.exe load) for the moment.
  - The schedule is the collection's model of the product's intervals (C(docs/autoupdater.md)), computed
    in the host's time zone. The Windows zone Id is mapped to an IANA zone with a table taken from the
    Unicode CLDR (windowsZones.xml); for an Id not in the table the host's current UTC offset stands in,
    without daylight-saving changes, and a warning says so.
  - Limits come from the settings the updater stored at its last check (C(Config)), else from the product's
    defaults (C(settings_source) says which).
  - "Restriction: a customizing change without a version change is not an update. The auto-updater installs
    only a newer version, so publish a changed customizing together with a new version. Where a user would
    meet it (the pending release has the installed version), C(restriction) says so."
  - What the updater left in the user's hive is written by that user and so untrusted; a value of the wrong
    type, size or range is named in C(problems) and left out, never used.
options:
  users:
    description:
      - The users to report on, as C(user), C(COMPUTER\\user) or SID; default every user with a per-user install.
    type: list
    elements: str
extends_documentation_fragment:
  - rollout.windows._autoupdater
  - rollout.windows._autoupdater.product
  - rollout.windows._attributes
  - rollout.windows._attributes.read_only
  - rollout.windows._attributes.windows
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.autoupdater
"""

EXAMPLES = r"""
- name: Why has this PC not updated yet?
  rollout.windows.autoupdater_info:
    name: Example Office Suite
  register: updater

- name: Show each user's next check
  ansible.builtin.debug:
    msg: "{{ item.user }}: {{ item.why }}"
  loop: "{{ updater.users }}"
"""

RETURN = r"""
users:
  description: One entry per user with a per-user install, by user name.
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: C(COMPUTER\\user); null when the SID does not resolve.
      type: str
    sid:
      description: The user's SID.
      type: str
    version:
      description: The installed product version (Windows Installer's DisplayVersion).
      type: str
    enabled:
      description: The policy says C(Enabled=1) and the startup task exists.
      type: bool
    task_in_place:
      description: The startup task is exactly as M(rollout.windows.autoupdater) registers it.
      type: bool
    policy:
      description: C(Enabled), C(BackendUrl), C(CertificateThumbprint) as found (null when absent or invalid).
      type: dict
    task:
      description:
        - The startup task (C(execute), C(arguments), C(user_id), C(logon_type), C(run_level), C(triggers)), or null.
      type: dict
    requirements_unmet:
      description: Each requirement of the auto-updater this install does not meet, as a sentence (empty when all are).
      type: list
      elements: str
    updater_version:
      description: The updater's own version (C(UpdaterVersion)), null when absent or invalid.
      type: str
    last_check:
      description: When the updater last recorded an outcome or state change (ISO 8601 UTC), null before the first.
      type: str
    last_outcome:
      description: C(none), C(no_update), C(installed), C(error), C(apps_running) or C(unrecoverable).
      type: str
    last_error:
      description: The text of the last error (empty if none).
      type: str
    phase:
      description: C(idle), C(downloading), C(waiting_for_apps), C(installing) or C(checking_install).
      type: str
    pending_version:
      description: The release the updater found and would install, null when none.
      type: str
    pending_update:
      description: Whether that release is an update for the installed version (C(update), C(reason), C(restriction)).
      type: dict
    restriction:
      description:
        - The customizing restriction (C(name), C(message)) when the pending release has the installed version, else
          null.
      type: dict
    download_attempts:
      description: Failed download attempts for the pending release.
      type: int
    install_attempts:
      description: Failed install attempts for the pending release.
      type: int
    process_polls:
      description: Polls for open Office applications in the current wait.
      type: int
    settings:
      description: The limits in use (the backend settings names, seconds and counts).
      type: dict
    settings_source:
      description: C(updater) (the C(Config) it stored at its last check) or C(defaults) (the product's).
      type: str
    attempts:
      description: C(download), C(install) and C(polls), each C(used) of C(limit).
      type: dict
    row:
      description:
        - The interval row in force, C(after_install), C(error), C(apps_running), C(unrecoverable) or C(default); null
          before the first check.
      type: str
    why:
      description: A sentence that starts with the row's title and says what happened last and when the next check is.
      type: str
    next_check:
      description:
        - C(utc) and C(local) (ISO 8601), C(due) (the interval has elapsed; the updater checks at its next start) and
          C(seconds_left); null before the first check.
      type: dict
    schedule:
      description:
        - The model's whole answer (row, row_title, why, phase, due_at, due_at_local, attempts, next_poll_at ...),
          null before the first check.
      type: dict
    problems:
      description: Values the host answered that are of the wrong type, size or range, each named; they were left out.
      type: list
      elements: str
users_without_install:
  description: Users named in O(users) who have no per-user install of O(name).
  returned: always
  type: list
  elements: str
machine_installs:
  description:
    - Per-machine installs of O(name) (C(name), C(version)); the auto-updater exists only in the per-user variant.
  returned: always
  type: list
  elements: dict
host:
  description:
    - C(timezone_id) (Windows), C(zone) (the IANA name or fixed offset used), C(zone_source) (C(windows_id), C(offset)
      or C(unknown)), C(utc_offset_minutes) (when the offset stands in) and C(now) (the host's UTC time).
  returned: always
  type: dict
restrictions:
  description: The auto-updater's documented restrictions, each C(name) and C(message).
  returned: always
  type: list
  elements: dict
problems:
  description:
    - Host answers outside the users' entries that were wrong (an entry without a valid SID, the host's clock or
      zone).
  returned: always
  type: list
  elements: str
"""
