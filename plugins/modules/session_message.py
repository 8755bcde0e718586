# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: session_message
short_description: Show a message box to logged-on Windows users
version_added: 0.1.0
description:
  - Shows a message box (C(WTSSendMessage), as C(msg.exe) does) in every logged-on session, or
    only in the sessions of the named users, without waiting for anybody to answer.
  - The text travels as data and reaches Windows unchanged - quotes, line breaks and any Unicode
    arrive literally; nothing is parsed by a shell.
  - Reports which sessions got the message and which named users have no session. Costs two WinRM
    commands (list sessions, send), one when nobody matching is logged on.
options:
  message:
    description:
      - Text of the message box, at most 255 characters counted as UTF-16 code units (a character
        outside the Basic Multilingual Plane, such as an emoji, counts as 2) - the limit of
        C(msg.exe). No NUL characters. A longer text is refused before the host is touched.
    type: str
    required: true
  title:
    description:
      - Title of the message box, at most 64 characters (UTF-16 code units), no NUL characters.
    type: str
    default: Message from your IT department
  users:
    description:
      - Only these users' sessions. V(anna) matches C(ANY-DOMAIN\\anna); V(CORP\\anna) matches only
        that account. Case-insensitive.
      - Empty (the default) means every logged-on session.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: Lists the sessions that would get the message, each with C(sent=false); sends nothing.
  diff_mode:
    details: A message is not configuration.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
notes:
  - A message is never idempotent - every run that reaches a session reports a change.
  - A session is a logged-on user running C(explorer.exe).
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.office_processes
"""

EXAMPLES = r"""
- name: Tell everybody logged on
  rollout.windows.session_message:
    message: "The PC restarts at 18:00 for an update. Please save your work."

- name: Tell two users
  rollout.windows.session_message:
    users: [anna, CORP\ben]
    title: Office add-in update
    message: "Please close Word and Excel.\nThe update takes five minutes."
  register: told

- name: Show who was not logged on
  ansible.builtin.debug:
    var: told.users_without_session
"""

RETURN = r"""
sessions:
  description: The sessions the message was for.
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
    sent:
      description: Whether Windows showed the message (false in check mode).
      type: bool
    error:
      description: Why it was not shown, when Windows refused.
      type: str
  sample:
    - {session_id: 2, user: "PC042\\anna", sent: true, error: null}
users_without_session:
  description: Named users with no logged-on session; they got nothing.
  returned: always
  type: list
  elements: str
  sample: [ben]
winrm:
  description: WinRM commands and bytes this task sent.
  returned: always
  type: dict
  sample: {commands: 2, bytes_sent: 6240}
"""
