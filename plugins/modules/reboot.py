# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: reboot
short_description: Restart a Windows host and wait until it is back
version_added: 0.1.0
description:
  - Reads the host's last boot time, starts a restart with C(shutdown.exe /r), then polls over
    a fresh connection until the host answers with a new boot time.
  - The message is passed to C(shutdown.exe) as data (an argument array quoted into its command
    line on the controller), never as part of a command line a shell parses.
  - A restart that another tool or an earlier run already scheduled is cancelled and replaced
    by this one, with a warning.
  - A restart ends every user's session and closes their programs without asking.
    C(shutdown.exe) always gets C(/f) (force), explicitly; Windows implies it for any
    O(pre_reboot_delay) above 0 anyway, and without it a program could hold up a restart with a
    delay of 0. Forced means that open applications are closed without the chance to save, and
    unsaved work in them (an open Word document, an Outlook draft) is lost. The only warning
    users get is O(msg) and the O(pre_reboot_delay) before the restart; give them a delay long
    enough to save.
  - The module restarts whenever it runs (outside check mode); it does not ask whether the host
    may restart now. That decision belongs to the play; the C(rollout.windows.msi_install) role
    runs it only with C(msi_install_reboot=true) and only when the install reported
    RV(rollout.windows.msi_package#module:reboot_required=true), after its Office gate has made
    sure no Office application was running for the install. Guard other uses with C(when).
options:
  reboot_timeout:
    description:
      - Seconds from starting the restart until the host must answer with a new boot time.
    type: int
    default: 600
  pre_reboot_delay:
    description:
      - Seconds C(shutdown.exe) waits before it restarts the host (its C(/t) option).
      - The restart is forced (C(/f)) whatever the delay; Windows implies C(/f) for any delay
        above 0, and the module passes it explicitly for 0 as well. Users' open applications are
        closed without saving when the delay is over.
    type: int
    default: 2
  msg:
    description:
      - Message shown to logged-on users before the restart (at most 512 characters).
      - An empty string shows none.
    type: str
    default: Reboot initiated by Ansible
attributes:
  check_mode:
    details: Reads the boot time and reports a change, but does not restart.
  diff_mode:
    details: A restart has no before and after to show.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_none
  - rollout.windows._attributes.windows
notes:
  - Progress while polling is shown with C(-vvv).
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.msi_package
  - module: ansible.windows.win_reboot
"""

EXAMPLES = r"""
- name: Restart and wait up to 15 minutes
  rollout.windows.reboot:
    reboot_timeout: 900
    msg: The add-in update needs a restart; the PC restarts in one minute.
    pre_reboot_delay: 60

- name: Restart only when the install asked for it
  rollout.windows.reboot:
  when: install.reboot_required
"""

RETURN = r"""
rebooted:
  description:
    - Whether the restart was started. When the task failed after that, the host did not come
      back within O(reboot_timeout).
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from starting the restart until the host answered with a new boot time.
  returned: always
  type: float
  sample: 74.3
previous_boot:
  description: Boot time before the restart (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2025-03-02T07:41:12.5000000Z"
last_boot:
  description: Boot time after the restart (UTC, ISO 8601); the previous one in check mode.
  returned: success
  type: str
  sample: "2025-03-04T18:02:55.1000000Z"
"""
