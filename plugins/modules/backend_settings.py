# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_settings
short_description: Set the auto-updater settings and the sync throttle of the product backend
version_added: 0.1.0
description:
  - Sets, through the backend's client management API, the settings every auto-updater loads at each
    update check, and the most clients that may sync at once (the sync throttle).
  - Only the options given are changed; the others keep their value. Only settings that differ are sent,
    so a second run reports no change.
  - Every value is checked (type, unit, range) before the backend is contacted; one bad value fails the
    task and changes nothing.
  - "Intervals take whole seconds (C(3600)) or a whole number with a unit: C(s) seconds, C(m) minutes,
    C(h) hours, C(d) days (C(90s), C(60m), C(2h), C(1d)). Fractions, negative numbers and other units are refused."
options:
  update_check_interval:
    description:
      - Time between two regular update checks of an auto-updater.
      - From C(5m) to C(30d). The product's default is C(1d).
    type: raw
  error_interval:
    description:
      - Time until the next check after an error; also the time between two download attempts.
      - From C(1m) to C(7d). The product's default is C(60m).
    type: raw
  download_attempts:
    description:
      - Download attempts before an update is given up. From 1 to 100; the product's default is 5.
    type: int
  process_check_interval:
    description:
      - Time between two checks that every Office application is closed, before the install.
      - From C(10s) to C(1h). The product's default is C(2m).
    type: raw
  process_check_attempts:
    description:
      - Such checks before the install is put off. From 1 to 10000; the product's default is 120.
    type: int
  install_attempts:
    description:
      - Install attempts before an update is given up. From 1 to 100; the product's default is 5.
    type: int
  max_parallel_syncs:
    description:
      - Most clients that may sync at once; a client that starts a sync when all slots are taken waits
        until one is free.
      - From 1 to 100000; C(0) removes the limit.
      - Needs backend 9.3 or later. Against an older backend the task fails with a message saying so,
        before anything is changed.
    type: int
attributes:
  check_mode:
    details: Reads the settings and reports what would change, without changing anything.
  diff_mode:
    details: Shows the settings before and after (intervals in seconds, as the backend stores them).
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_full
  - rollout.windows._backend
  - rollout.windows._backend.writes
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.backend_info
  - module: rollout.windows.update_lock
"""

EXAMPLES = r"""
- name: Check daily, retry after errors every 30 minutes, at most 200 clients syncing at once
  rollout.windows.backend_settings:
    backend_url: https://backend.example.com:8443
    backend_token: "{{ vault_backend_token }}"
    update_check_interval: 1d
    error_interval: 30m
    max_parallel_syncs: 200
  run_once: true

- name: Give users up to 4 hours to close Office (every 2 minutes, 120 times)
  rollout.windows.backend_settings:
    process_check_interval: 2m
    process_check_attempts: 120
  run_once: true
"""

RETURN = r"""
settings:
  description: All settings after the task (in check mode, as they would be). Intervals in seconds.
  returned: success
  type: dict
  sample:
    update_check_interval: 86400
    error_interval: 3600
    download_attempts: 5
    process_check_interval: 120
    process_check_attempts: 120
    install_attempts: 5
    max_parallel_syncs: 200
changes:
  description: Names of the settings that changed (or would change in check mode).
  returned: success
  type: list
  elements: str
  sample: [max_parallel_syncs]
backend_version:
  description: Version the backend reports.
  returned: success
  type: str
  sample: 9.3.2
"""
