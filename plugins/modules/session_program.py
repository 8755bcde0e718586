# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: session_program
short_description: Start a program in named users' own Windows sessions
version_added: 0.1.0
description:
  - Starts O(path) with O(arguments) once in the logged-on session of each user in O(users), as
    that user, on their desktop - for example the application again after an update, for the
    users who asked for it.
  - Each start is a one-shot scheduled task with the user as Interactive principal (no password
    needed); it starts at once and Task Scheduler deletes it a minute later, while the program
    keeps running without a time limit.
  - Users who already run a program with the image name of O(path) in their session are left alone
    (RV(already_running)), so a second run changes nothing. Users without a session get nothing
    and are listed in RV(users_without_session); that is not an error.
  - Costs one WinRM command to look, plus one to start for everybody who needs it.
options:
  path:
    description:
      - Absolute Windows path of the executable on the host, a local (C(C:\\...\\app.exe)) or UNC
        path, ending in C(.exe).
    type: str
    required: true
  arguments:
    description:
      - Arguments for the program, one list element each, passed literally - quotes, spaces and
        backslashes arrive unchanged (the controller quotes them by the Windows command-line rules).
      - Path and arguments together must fit the Windows command-line limit of 32,767 characters.
    type: list
    elements: str
    default: []
  users:
    description:
      - The users to start it for. V(anna) matches C(ANY-DOMAIN\\anna); V(CORP\\anna) matches only
        that account. Case-insensitive. An empty list does nothing.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    details: Looks at the sessions and reports in RV(started) whom the program would be started for; starts nothing.
  diff_mode:
    details: Starting a program is not configuration.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
notes:
  - A session is a logged-on user running C(explorer.exe). The program runs with the user's
    limited token, never elevated.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.session_message
  - module: rollout.windows.office_processes
"""

EXAMPLES = r"""
- name: Start the application again for two users
  rollout.windows.session_program:
    path: C:\Program Files\Suite\suite.exe
    arguments: [--profile, "Sales Team", --restored]
    users: [anna, CORP\ben]
  register: restarted

- name: Who was not logged on any more?
  ansible.builtin.debug:
    var: restarted.users_without_session
"""

RETURN = r"""
started:
  description:
    - The sessions the program was started in (in check mode, would be started in).
  returned: always
  type: list
  elements: dict
  contains:
    session_id:
      description: Windows session id.
      type: int
    user:
      description: The session's user as C(DOMAIN\\user).
      type: str
    started:
      description: Whether Task Scheduler started the program (false in check mode).
      type: bool
    error:
      description: Why it did not start.
      type: str
  sample:
    - {session_id: 2, user: "PC042\\anna", started: true, error: null}
already_running:
  description: Sessions (C(session_id), C(user)) that already run a program with this image name; left alone.
  returned: always
  type: list
  elements: dict
users_without_session:
  description: Named users with no logged-on session; nothing was started for them.
  returned: always
  type: list
  elements: str
  sample: [ben]
command_line:
  description: The argument string the program receives, quoted from O(arguments).
  returned: when O(users) is not empty
  type: str
  sample: --profile "Sales Team" --restored
winrm:
  description: WinRM commands and bytes this task sent.
  returned: always
  type: dict
  sample: {commands: 2, bytes_sent: 7010}
"""
