# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_rollout_info
short_description: Read the rollout through the auto-updater and how far each ring is, at the product backend
version_added: 0.1.0
description:
  - Reads the backend's rollout (see M(rollout.windows.backend_rollout)) and, per ring, which clients
    run the version, wait for it, failed or did not report, from their auto-updaters' last reports.
  - Runs on the controller only; no command reaches a host.
options: {}
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.read_only
  - rollout.windows._backend
notes:
  - Needs the admin token (O(backend_token)).
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.backend_rollout
  - module: rollout.windows.backend_info
"""

EXAMPLES = r"""
- name: Wait until the pilot ring adopted the version
  rollout.windows.backend_rollout_info:
  register: rollout
  until: rollout.progress[0].criterion_met
  retries: 48
  delay: 300
  run_once: true
"""

RETURN = r"""
state:
  description: C(none) (no rollout defined), C(running), C(paused), C(finished) or C(stopped).
  returned: success
  type: str
  sample: running
version:
  description: The version rolled out; null when no rollout is defined.
  returned: success
  type: str
  sample: 9.3.1
next_ring:
  description: The first ring not published yet; null when every ring is published or no rollout is defined.
  returned: success
  type: str
  sample: everyone
rollout:
  description:
    - The rollout as the backend keeps it, C(id), C(version), C(channel), C(state), C(criterion_percent),
      C(created_at), C(updated_at), C(note) and C(rings), each ring with C(name), C(clients), C(published_at)
      and C(gate) (C(passed_at), C(stopped_at), C(reason)).
  returned: success
  type: dict
progress:
  description:
    - Per ring, C(name), C(clients), C(published_at), the client lists C(adopted), C(pending), C(failed)
      and C(not_reporting), C(percent_adopted) and C(criterion_met), as in M(rollout.windows.backend_rollout).
  returned: success
  type: list
  elements: dict
"""
