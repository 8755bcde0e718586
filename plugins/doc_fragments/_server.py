# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules for the servers of the HA backend cluster; private to the collection."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  settings_key:
    description:
      - The registry key below C(HKLM) where the server product records its version, mode, database, schema
        version, cluster name and members, update progress and last installer log.
    type: str
    default: SOFTWARE\Example Corp\Example Backend
  service:
    description:
      - The Windows service that is the server process.
    type: str
    default: ExampleBackend
notes:
  - What the server records (the values under O(settings_key), their types and meanings) and how its installer
    behaves is the collection's assumption of the product, described in C(docs/ha-server-update.md) of the
    collection's source when present; every value is checked as untrusted input.
"""
