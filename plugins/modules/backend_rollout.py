# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: backend_rollout
short_description: Roll a version out through the auto-updater, ring by ring, at the product backend
version_added: 0.1.0
description:
  - Defines the rollout of a version in rings, pauses or resumes it, records a ring's gate verdict
    and publishes a ring, at the backend, so that a later run (a schedule) continues where this one stopped.
  - A client of a published ring of a running rollout is offered the version when its auto-updater
    checks; every other client keeps what the channel offered before. When every ring passed its gate,
    the channel offers the version to everybody and the rollout is C(finished).
  - The steps of one task run in this order. O(version) and O(rings) define the rollout (the same version
    and channel keep the backend's rollout, what its rings went through included); O(state); O(gate);
    O(publish). A step that is done already sends nothing.
  - A version that is not newer than what the channel offers is refused, as a customizing change without a
    version change is not an update (the auto-updater installs only a newer version).
options:
  version:
    description:
      - The version to roll out, like C(9.3.1); the backend must hold its packages. Goes with O(rings).
    type: str
  channel:
    description:
      - The release channel the auto-updaters follow.
    type: str
    default: stable
  rings:
    description:
      - The rings, in the order they are meant to be published. A client may be in one ring only.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The ring's name, 1 to 64 letters, digits, C(.), C(_) or C(-).
        type: str
        required: true
      clients:
        description:
          - Client ids as the auto-updaters report them, C(COMPUTER\user) (or C(COMPUTER)).
        type: list
        elements: str
        default: []
  criterion_percent:
    description:
      - Share of a ring's clients that must run the version for the ring's gate to pass
        (RV(progress[].criterion_met)). Above 0, at most 100.
    type: float
    default: 95.0
  publish:
    description:
      - The ring to offer the version to now. Refused while the rollout is paused or stopped.
    type: str
  gate:
    description:
      - A published ring's gate verdict. Not passed stops the rollout.
    type: dict
    suboptions:
      ring:
        description:
          - The ring.
        type: str
        required: true
      passed:
        description:
          - Whether the ring passed.
        type: bool
        required: true
      reason:
        description:
          - Why, at most 1000 characters; kept with the verdict.
        type: str
  state:
    description:
      - C(paused) offers the version to nobody until C(running) again.
    type: str
    choices: [running, paused]
attributes:
  check_mode:
    details: Reads the rollout and reports the steps it would take and their refusals, without sending any.
  diff_mode:
    details: Shows the rollout's version, channel, state, criterion and rings before and after.
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_full
  - rollout.windows._backend
  - rollout.windows._backend.writes
notes:
  - Needs the admin token (O(backend_token)), also in check mode.
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.backend_rollout_info
  - module: rollout.windows.backend_settings
"""

EXAMPLES = r"""
- name: Define the rollout of 9.3.1 and offer it to the pilot ring
  rollout.windows.backend_rollout:
    version: 9.3.1
    rings:
      - name: pilot
        clients: ['PC0001\ann', 'PC0002\ben']
      - name: everyone
        clients: "{{ groups['clients'] | map('upper') | list }}"
    publish: pilot
  run_once: true

- name: The pilot passed; offer it to everyone
  rollout.windows.backend_rollout:
    gate: {ring: pilot, passed: true, reason: "100% adopted, no errors"}
    publish: everyone
  run_once: true

- name: Hold it
  rollout.windows.backend_rollout:
    state: paused
  run_once: true
"""

RETURN = r"""
steps:
  description:
    - The steps taken (in check mode, that would be taken), like C(define), C(gate pilot passed), C(publish everyone).
  returned: success
  type: list
  elements: str
  sample: [define, publish pilot]
state:
  description: The rollout's state after the task, C(none), C(running), C(paused), C(finished) or C(stopped).
  returned: success
  type: str
  sample: running
rollout:
  description:
    - The rollout as the backend answered the last step (in check mode, the predicted version, channel, state,
      criterion and rings, each ring with C(published) and C(gate)).
  returned: success
  type: dict
  contains:
    id:
      description: The backend's id of the rollout.
      type: str
    version:
      description: The version rolled out.
      type: str
    channel:
      description: The channel.
      type: str
    state:
      description: The state.
      type: str
    rings:
      description: Each ring with its clients, C(published_at) and C(gate) (C(passed_at), C(stopped_at), C(reason)).
      type: list
      elements: dict
    note:
      description: Why the rollout is where it is (a failed gate, the finish), or null.
      type: str
progress:
  description: Per ring, where its clients stand, from their auto-updaters' last reports (before check-mode steps).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The ring.
      type: str
    clients:
      description: Its clients.
      type: list
      elements: str
    published_at:
      description: When it was published, UTC, or null.
      type: str
    adopted:
      description: Clients that run the version (or a newer one).
      type: list
      elements: str
    pending:
      description: Clients that reported since the publish and have not installed it yet.
      type: list
      elements: str
    failed:
      description: Clients whose last check since the publish ended with an error or an unrecoverable error.
      type: list
      elements: str
    not_reporting:
      description: Clients that did not report since the publish.
      type: list
      elements: str
    percent_adopted:
      description: Share of the ring's clients in RV(progress[].adopted), 0 to 100.
      type: float
    criterion_met:
      description: RV(progress[].percent_adopted) reaches O(criterion_percent).
      type: bool
"""
