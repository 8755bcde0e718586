# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: update_lock
short_description: Announce, lock and release an update of the application at the product backend
version_added: 0.1.0
description:
  - Sets the backend's update lock and reports who still has the application open.
  - C(announced) tells users an update is coming (a start still works and shows the message);
    C(locked) refuses new starts, except for the users in O(override_users) who start with the
    override parameter; C(released) makes the application usable again.
  - Going from C(released) to C(announced) or C(locked) opens an update window. Users may ask to have
    the application restarted once the update is released; the module reports them for the window in
    RV(restart_requested), also after the release.
  - The module only sets the lock. Messages to users and closing the application on the hosts are
    other modules' work (the update_window role puts it all together).
options:
  state:
    description:
      - C(released), C(announced) or C(locked).
    type: str
    choices: [released, announced, locked]
    required: true
  message:
    description:
      - Text users see while the update is announced or locked, at most 1000 characters.
      - When not given, the backend's current message is kept.
    type: str
  override_users:
    description:
      - Users (administrators) who may still start the application while it is locked.
      - When not given, the backend's current list is kept; C([]) empties it.
    type: list
    elements: str
attributes:
  check_mode:
    details: Reads the lock and the sessions and reports what would change, without changing the lock.
  diff_mode:
    details: Shows state, message and override users before and after.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_full
  - rollout.windows._backend
  - rollout.windows._backend.writes
notes:
  - Needs the admin token (O(backend_token)) also in check mode, for the list of sessions.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.backend_info
  - module: rollout.windows.backend_settings
"""

EXAMPLES = r"""
- name: Announce the update
  rollout.windows.update_lock:
    state: announced
    message: The suite is updated at 18:00. Please save your work and close Office.
    override_users: [CORP\\admin-jane]
  register: lock
  run_once: true

- name: Who is still working?
  ansible.builtin.debug:
    msg: "{{ lock.sessions | map(attribute='user') | list }}"
  run_once: true

- name: Lock while the update runs
  rollout.windows.update_lock:
    state: locked
  run_once: true

- name: Release; these users asked for a restart
  rollout.windows.update_lock:
    state: released
  register: released
  run_once: true
"""

RETURN = r"""
state:
  description: The lock's state after the task (in check mode, as it would be).
  returned: success
  type: str
  sample: announced
previous_state:
  description: The state before the task.
  returned: success
  type: str
  sample: released
message:
  description: The message after the task.
  returned: success
  type: str
override_users:
  description: Users who may start the application while it is locked.
  returned: success
  type: list
  elements: str
window_started_at:
  description: When the current (or last) update window began, UTC, ISO 8601; null before the first one.
  returned: success
  type: str
sessions:
  description: Sessions of users who have the application open right now.
  returned: success
  type: list
  elements: dict
  contains:
    session_id:
      description: The backend's id of the session.
      type: str
    host:
      description: The client computer.
      type: str
    user:
      description: The user.
      type: str
    started_at:
      description: When the application started, UTC.
      type: str
    restart_after_update:
      description: The user wants the application started again after the update.
      type: bool
    override:
      description: Started with the override parameter while locked.
      type: bool
open_sessions:
  description: Number of entries in RV(sessions).
  returned: success
  type: int
restart_requested:
  description:
    - Users who asked for a restart after the update, in the current (or last) update window; that is
      sessions still open, and sessions closed since the window began.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: The client computer.
      type: str
    user:
      description: The user.
      type: str
    session_id:
      description: The backend's id of the session.
      type: str
    state:
      description: C(open) or C(closed).
      type: str
"""
