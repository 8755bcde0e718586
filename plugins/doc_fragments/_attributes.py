# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attributes the rollout.windows modules share; private to the collection.

``DOCUMENTATION`` says what each attribute means and goes to every module; every module runs in check
mode. The named fragments (``rollout.windows._attributes.<name>``) hold the other support levels and
the texts that several modules share; a module adds what is its own as ``details``. ansible-doc
merges them key by key, and a key the module sets itself wins over the fragment's.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Can run in check mode and report what would change, without changing anything.
  diff_mode:
    description: Reports what changed (in check mode, what would change) as before and after, in diff mode.
  action_group:
    support: full
    membership:
      - rollout.windows.all
    description: Use C(group/rollout.windows.all) in C(module_defaults) to set defaults for this module.
"""

    # The modules that act on a Windows host over WinRM (the backend modules take _backend instead).
    WINDOWS = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: windows
    description: Runs against Windows hosts over WinRM; every decision runs on the controller.
"""

    DIFF_MODE_FULL = r"""
options: {}
attributes:
  diff_mode:
    support: full
"""

    DIFF_MODE_NONE = r"""
options: {}
attributes:
  diff_mode:
    support: none
"""

    # A module that only reads: check mode changes nothing about it, and there is no before and after.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    details: Reads only; there is nothing to diff.
"""
