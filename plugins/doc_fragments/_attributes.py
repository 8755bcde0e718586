# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attributes every rollout.windows module shares; private to the collection."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: windows
    description: Runs against Windows hosts over WinRM; every decision runs on the controller.
  action_group:
    support: full
    membership:
      - rollout.windows.all
    description: Use C(group/rollout.windows.all) in C(module_defaults) to set defaults for this module.
"""
