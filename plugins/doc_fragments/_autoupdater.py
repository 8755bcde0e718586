# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options the auto-updater modules share: where the collection assumes the updater is switched on, and the product."""

from __future__ import annotations


class ModuleDocFragment:
    # Where the updater is switched on: every module that acts on an enabled updater.
    DOCUMENTATION = r"""
options:
  updater_executable:
    description:
      - File name of the updater in the product's C(InstallDir) (the collection's assumption).
    type: str
    default: ExampleSuite.Updater.exe
  policy_key:
    description:
      - Key of the policy values, relative to the user's hive (the collection's assumption). Software\\Policies
        is what users can only read under Windows' default ACL.
    type: str
    default: Software\Policies\Example Corp\Example Office Suite\AutoUpdater
  task_path:
    description:
      - Task Scheduler folder of the startup tasks; each task is named by the user's SID.
    type: str
    default: \rollout.windows\AutoUpdater\
"""

    # The product and its per-user install: the modules that find it by name and check how it was installed.
    PRODUCT = r"""
options:
  name:
    description:
      - DisplayName pattern of the product, with C(*) and C(?) wildcards, case-insensitive.
    type: str
    required: true
  settings_key:
    description:
      - The product's key relative to the user's hive, with C(InstallDir); the updater keeps its state in its
        C(AutoUpdater) subkey (the collection's assumption).
    type: str
    default: Software\Example Corp\Example Office Suite
  suite_installer_cache:
    description:
      - The suite installer's package cache, relative to the user's profile folder (the collection's assumption).
    type: str
    default: AppData\Local\Package Cache
"""
