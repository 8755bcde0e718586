# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: autoupdater_nudge
short_description: Make the enabled per-user auto-updaters of a Windows host check for a release now
version_added: 0.2.0
description:
  - Runs the auto-updater once now, as the user, for each user whose auto-updater is enabled (see
    M(rollout.windows.autoupdater)), so a release the backend has just offered is found without waiting for
    the update check interval.
  - "Starting the updater's startup task would not do that: the updater reads the interval in force when it
    starts and sleeps until it has elapsed. The collection assumes the updater accepts C(/checknow): check at
    once, whatever the interval (see C(docs/autoupdater.md))."
  - "Enabled means the policy value C(Enabled) is 1 in the user's hive under O(policy_key) and the startup task
    C(<task_path><SID>) (trigger at startup, not disabled) starts O(updater_executable). The hives of users who
    are not logged on are loaded with C(reg.exe load) for the moment and unloaded again."
  - "Each run is a one-shot scheduled task in C(<task_path>CheckNow\\) named by the user's SID: no trigger, the
    user as principal with logon type S4U (no stored password) and a limited token, the startup task's program
    with C(/checknow). It is started and removed again as soon as Task Scheduler has started it (the updater
    keeps running). The task file is administrators-only and the updater runs as the user: nothing a user can
    write runs elevated."
  - One WinRM command per host does all of it, for every user.
  - Fails, after starting every other user's updater, when one could not be started (the task could not be
    registered or did not start within 30 seconds).
options:
  users:
    description:
      - The users to nudge, as C(user), C(COMPUTER\\user) or SID.
      - Default, every user whose auto-updater is enabled.
      - A user named here without an enabled auto-updater is not started and is listed under RV(not_started).
    type: list
    elements: str
extends_documentation_fragment:
  - rollout.windows._autoupdater
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
attributes:
  check_mode:
    details: Reads which users are enabled in the same one command and reports them as started; starts nothing.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.autoupdater
  - module: rollout.windows.autoupdater_info
"""

EXAMPLES = r"""
- name: Let every enabled auto-updater look for a release now
  rollout.windows.autoupdater_nudge:

- name: Nudge one user's updater
  rollout.windows.autoupdater_nudge:
    users: [anna]
"""

RETURN = r"""
users:
  description: One entry per user whose auto-updater is enabled (in check mode, would be started).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: C(COMPUTER\\user) or C(DOMAIN\\user); null when the SID does not resolve.
      type: str
    sid:
      description: The user's SID.
      type: str
    started:
      description: Whether the updater was (in check mode, would be) started with C(/checknow).
      type: bool
    error:
      description: Why it could not be started; null when it was.
      type: str
not_started:
  description:
    - Users not started, each with C(user), C(sid) and C(reason) (a sentence). Reasons are a startup task
      without C(Enabled=1), a disabled startup task, an unreadable hive, or a user named in O(users) without
      a startup task (C(sid) null).
  returned: always
  type: list
  elements: dict
changed:
  description: Whether an updater was (in check mode, would be) started.
  returned: always
  type: bool
"""
