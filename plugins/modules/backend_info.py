# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_info
short_description: Read the product backend's version, features, settings, sync throttle usage and releases
version_added: 0.1.0
description:
  - Reads, through the backend's client management API, what the backend is (version, features) and
    how it is set up (auto-updater settings), how busy its sync throttle is (slots in use, clients
    waiting), the latest release of each channel and the update lock.
  - Needs no token; a token that is given must be valid.
options: {}
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.read_only
  - rollout.windows._backend
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.backend_settings
  - module: rollout.windows.update_lock
"""

EXAMPLES = r"""
- name: How busy is the backend?
  rollout.windows.backend_info:
  register: backend
  run_once: true

- name: Wait until fewer than 10 clients queue for a sync slot
  rollout.windows.backend_info:
  register: backend
  until: backend.throttle is none or backend.throttle.waiting < 10
  retries: 30
  delay: 20
  run_once: true
"""

RETURN = r"""
version:
  description: Backend version.
  returned: success
  type: str
  sample: 9.3.2
api_version:
  description: Version of the client management API.
  returned: success
  type: str
  sample: "1"
features:
  description: What this backend version offers; C(sync_throttle) from 9.3 on.
  returned: success
  type: list
  elements: str
  sample: [settings, releases, update_lock, sessions, sync_throttle]
settings:
  description: The auto-updater settings, intervals in seconds (see M(rollout.windows.backend_settings)).
  returned: success
  type: dict
throttle:
  description: Usage of the sync throttle; null on a backend older than 9.3.
  returned: success
  type: dict
  contains:
    max_parallel_syncs:
      description: The limit; null means none.
      type: int
    in_use:
      description: Slots held right now.
      type: int
    waiting:
      description: Clients queued for a slot.
      type: int
    peak_in_use:
      description: Most slots ever held at once since the backend started.
      type: int
    granted_total:
      description: Slots granted since the backend started.
      type: int
    released_total:
      description: Slots given back.
      type: int
    expired_total:
      description: Slots whose lease ran out (a client that crashed or hung).
      type: int
    lease_seconds:
      description: How long a slot is held without being renewed.
      type: float
releases:
  description: The latest release of each channel, with the download URL and SHA-256 of every file.
  returned: success
  type: list
  elements: dict
update_lock:
  description: The update lock (see M(rollout.windows.update_lock)).
  returned: success
  type: dict
"""
