# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: office_processes
short_description: Report running Office applications, or wait until users have closed them
version_added: 0.1.0
description:
  - Lists the running Office applications of every session with PID, session id, user name and
    start time, in one WinRM command.
  - With O(state=absent) waits until none of them runs, polling every O(interval) seconds up to
    O(attempts) times (the product's own auto-updater defaults, 2 minutes and 120 polls). With
    O(notify=true) it first shows a message box in each session that has one of them open, and
    with O(remind_interval) repeats it; a session where an application opens later gets the
    message at the next poll.
  - It never closes anything unless O(force=true). Then whatever still runs O(deadline) seconds
    after the start of the wait is closed, each closed process is reported with its user, and the
    task warns that unsaved data in those applications is lost. A process is only closed while
    its PID still has the name and start time seen by the poll, so a PID Windows has meanwhile
    given to another program is never touched.
  - Without O(force), a wait that runs out fails and names the users still working; nothing is
    closed.
  - A host that drops during the wait is reported unreachable.
options:
  state:
    description:
      - V(query) only reports (the default). There is no V(present) - this module never starts
        applications.
      - V(absent) waits until none of O(processes) runs, as described above.
    type: str
    choices: [query, absent]
    default: query
  processes:
    description:
      - Process names to look for, with or without C(.exe), case-insensitive, no path.
      - The default is Word, Excel, PowerPoint, Outlook, OneNote, Access, Publisher, Visio and Project.
    type: list
    elements: str
    default: [WINWORD, EXCEL, POWERPNT, OUTLOOK, ONENOTE, MSACCESS, MSPUB, VISIO, WINPROJ]
  interval:
    description:
      - Seconds between polls with O(state=absent). More than 0.
    type: int
    default: 120
  attempts:
    description:
      - Number of polls with O(state=absent), the first at once; at least 1. The wait gives up after
        (O(attempts) - 1) x O(interval) seconds.
    type: int
    default: 120
  notify:
    description:
      - Show O(message) in every session that has one of O(processes) open, when the wait starts.
    type: bool
    default: false
  message:
    description:
      - Text of the message box, passed literally (quotes, line breaks, any Unicode).
      - At most 255 characters, counted as UTF-16 code units (a character outside the Basic
        Multilingual Plane, such as an emoji, counts as 2) - the limit of C(msg.exe), so the same
        text also works there. No NUL characters. Checked before the host is touched.
    type: str
    default: >-
      An update for your Office add-ins is ready to install. Please save your work and close Word,
      Excel, PowerPoint, Outlook and the other Office applications. Thank you!
  title:
    description:
      - Title of the message box; at most 64 characters (UTF-16 code units), no NUL characters.
    type: str
    default: Software update
  remind_interval:
    description:
      - Seconds after which the message is shown again to the sessions that still have an
        application open; V(0) shows it once. Reminders go out with the first poll at least this
        long after the previous message. Needs O(notify=true).
    type: int
    default: 0
  force:
    description:
      - Close the applications that still run at O(deadline). Unsaved data in them is lost.
      - Needs O(deadline).
    type: bool
    default: false
  deadline:
    description:
      - Seconds after the start of the wait when still open applications are closed; from 0 to
        (O(attempts) - 1) x O(interval). Only with O(force=true), and required by it.
    type: int
attributes:
  check_mode:
    details:
      - Polls once and reports which sessions would get the message (RV(would_notify)) and, with
        O(force=true), which processes would be closed if still open at the deadline
        (RV(would_close)). Sends nothing, closes nothing, does not wait.
  diff_mode:
    details: Nothing on the host is configured.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
notes:
  - Cost in WinRM commands of a wait of K polls - K queries, plus one per round of messages (the
    first message, each reminder, and a first message to a session that opened an application
    later), plus with O(force) one to close and one to confirm at the deadline (and one more query
    when the deadline falls between two polls). Nobody with an application open costs one command.
  - A session is a logged-on user running C(explorer.exe); applications of other sessions (services,
    session 0) are reported but cannot be messaged.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.session_message
"""

EXAMPLES = r"""
- name: Who has Office open?
  rollout.windows.office_processes:
  register: office

- name: Ask users to close Office, remind every 30 minutes, give up after 4 hours
  rollout.windows.office_processes:
    state: absent
    notify: true
    remind_interval: 1800

- name: Ask, then close what is still open after one hour (unsaved data is lost)
  rollout.windows.office_processes:
    state: absent
    notify: true
    message: "Office closes at 18:00 for an update. Please save your work now."
    force: true
    deadline: 3600

- name: Wait only for Outlook and Teams, polling every 30 seconds for 10 minutes
  rollout.windows.office_processes:
    state: absent
    processes: [OUTLOOK, ms-teams]
    interval: 30
    attempts: 21
"""

RETURN = r"""
processes:
  description:
    - The matching processes found by the first poll (with O(state=query), the only poll).
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: Process id.
      type: int
    name:
      description: Image name, like C(WINWORD.EXE).
      type: str
    session_id:
      description: Windows session id.
      type: int
    user:
      description: Owner as C(DOMAIN\\user); null when Windows does not tell.
      type: str
    start_time:
      description: Start time (UTC, ISO 8601).
      type: str
  sample:
    - {pid: 4312, name: WINWORD.EXE, session_id: 2, user: "PC042\\anna", start_time: "2025-03-04T07:12:40.1234560Z"}
users:
  description: Users who had a matching process open at the first poll.
  returned: always
  type: list
  elements: str
  sample: ["PC042\\anna"]
sessions:
  description: Logged-on sessions at the first poll (C(id), C(user), C(state)).
  returned: always
  type: list
  elements: dict
polls:
  description: Queries made (WinRM commands spent on polling).
  returned: always
  type: int
  sample: 4
remaining:
  description: Matching processes still running at the last poll; empty when the wait succeeded.
  returned: when O(state=absent)
  type: list
  elements: dict
users_still_working:
  description: Users of RV(remaining).
  returned: when O(state=absent), not in check mode
  type: list
  elements: str
notified:
  description:
    - One entry per message box shown (or tried), with C(session_id), C(user), C(sent), C(error),
      C(elapsed) (seconds into the wait) and C(reminder).
  returned: when O(state=absent), not in check mode
  type: list
  elements: dict
closed:
  description:
    - Processes closed after the deadline, with the fields of RV(processes) plus C(elapsed).
      Unsaved data in them is lost.
  returned: when O(state=absent), not in check mode
  type: list
  elements: dict
unsaved_data_lost:
  description: Present and true when RV(closed) is not empty.
  returned: when something was closed
  type: bool
  sample: true
elapsed:
  description: Seconds from the first to the last poll.
  returned: when O(state=absent), not in check mode
  type: float
  sample: 360.2
would_notify:
  description: Check mode - sessions (C(session_id), C(user)) that would get the message.
  returned: when O(state=absent) in check mode
  type: list
  elements: dict
would_close:
  description: Check mode with O(force=true) - processes that would be closed if still open at the deadline.
  returned: when O(state=absent) in check mode
  type: list
  elements: dict
winrm:
  description: WinRM commands and bytes this task sent.
  returned: always
  type: dict
  sample: {commands: 3, bytes_sent: 9120}
"""
