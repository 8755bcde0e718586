# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: product_info
short_description: List installed Windows Installer products, per machine and per user
version_added: 0.1.0
description:
  - Reads the products Windows has registered, for the whole machine (Uninstall keys,
    both registry views) and for every user profile (per-user Uninstall keys and
    Windows Installer UserData), in one WinRM command.
  - Filters combine with AND; without filters every Windows Installer product is listed.
options:
  name:
    description:
      - Product name pattern with C(*) and C(?) wildcards, case-insensitive.
    type: str
  product_code:
    description:
      - ProductCode GUID.
    type: str
  upgrade_code:
    description:
      - UpgradeCode GUID (the product family across versions).
    type: str
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.read_only
  - rollout.windows._attributes.windows
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.msi_package
"""

EXAMPLES = r"""
- name: Which version of the suite does each scope have?
  rollout.windows.product_info:
    upgrade_code: "{D5B73D5D-E084-5005-B246-8861ADA21E95}"
  register: suite

- name: Show it
  ansible.builtin.debug:
    msg: "{{ suite.products | map(attribute='version') | list }}"
"""

RETURN = r"""
products:
  description: Installed products that match, machine scope first.
  returned: always
  type: list
  elements: dict
  contains:
    product_code:
      description: ProductCode GUID.
      type: str
    upgrade_code:
      description: UpgradeCode GUID (empty when Windows did not record one).
      type: str
    name:
      description: Display name.
      type: str
    version:
      description: Display version.
      type: str
    scope:
      description: C(machine) or C(user).
      type: str
    user:
      description: Account name for per-user products, null per machine.
      type: str
    sid:
      description: Security identifier of that user, null per machine.
      type: str
    install_date:
      description: Install date as Windows recorded it (C(YYYYMMDD)).
      type: str
"""
