# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: msi_package
short_description: Install, upgrade or remove an MSI package with its payload folder on Windows
version_added: 0.1.0
description:
  - Installs, upgrades or removes a Windows Installer package per machine over WinRM.
  - All decisions run on the controller. The host runs small PowerShell primitives, one
    WinRM command each; a host that already has the wanted version costs one command and
    reports C(ok) without transferring anything.
  - Idempotency is by ProductCode B(and) version. An installed equal version is left alone,
    an older one is upgraded, a newer one is left alone unless O(allow_downgrade=true).
  - The package folder (the C(.msi) and the payload folder beside it) is copied into a
    content-addressed cache on the host, skipping files whose hash already matches.
    Payload files the package needs but the folder lacks are an error before msiexec runs.
  - msiexec gets an argument array; property values are passed literally.
    Exit code 1618 (another installation in progress) is retried with backoff until
    O(busy_timeout); 3010 and 1641 succeed with RV(reboot_required=true); every other
    non-zero exit code fails with its meaning and the tail of the verbose MSI log.
options:
  state:
    description:
      - V(present) installs or upgrades, V(absent) removes the product.
    type: str
    choices: [present, absent]
    default: present
  scope:
    description:
      - V(machine) installs for the whole computer (C(ALLUSERS=1)).
    type: str
    choices: [machine]
    default: machine
  src:
    description:
      - Package on the controller, either the C(.msi) file or the folder holding exactly one
        C(.msi) and its payload folder. Product facts are read from it on the controller.
      - Mutually exclusive with O(path).
    type: path
  path:
    description:
      - Path of the C(.msi) on the host (local or UNC). Product facts are read on the host
        unless O(product_code) and O(version) are given.
      - Mutually exclusive with O(src).
    type: str
  product_code:
    description:
      - ProductCode GUID. Required with O(state=absent) when neither O(src) nor O(path) is given.
      - Overrides what the package says.
    type: str
  upgrade_code:
    description:
      - UpgradeCode GUID of the product family; finds an older or newer installed version
        under another ProductCode. Overrides what the package says.
    type: str
  version:
    description:
      - ProductVersion the package installs (C(major.minor.build)); overrides what the package says.
    type: str
  properties:
    description:
      - Windows Installer properties, passed literally as C(NAME=value).
      - Booleans become C(1)/C(0). Give transforms in O(transforms), not as C(TRANSFORMS).
    type: dict
    default: {}
  transforms:
    description:
      - Transform (C(.mst)) paths on the host, applied in order.
    type: list
    elements: str
    default: []
  allow_downgrade:
    description:
      - Replace a newer installed version with the package's older one (removes the newer
        product first).
    type: bool
    default: false
  busy_timeout:
    description:
      - Seconds to keep retrying while another installation runs (exit code 1618), with
        exponential backoff and jitter between attempts.
    type: int
    default: 600
  cache_dir:
    description:
      - Folder on the host for the content-addressed package cache.
    type: str
    default: C:\ProgramData\rollout.windows\cache
  log_dir:
    description:
      - Folder on the host for verbose msiexec logs (one file per run).
    type: str
    default: C:\ProgramData\rollout.windows\logs
attributes:
  check_mode:
    support: full
    description: Reports what would be installed, upgraded or removed; nothing is copied or run.
  diff_mode:
    support: full
    description: Shows the product and version before and after, per scope.
  platform:
    platforms: windows
author:
  - rollout.windows contributors
seealso:
  - module: rollout.windows.product_info
"""

EXAMPLES = r"""
- name: Install or upgrade the suite from a package folder on the controller
  rollout.windows.msi_package:
    src: packages/suite-9.3.1
    properties:
      BACKENDURL: https://backend.example.com

- name: Install from a share the hosts can read, facts given up front
  rollout.windows.msi_package:
    path: \\fileserver\packages\suite-9.3.1\Suite.msi
    product_code: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    version: 9.3.1

- name: Remove the product
  rollout.windows.msi_package:
    product_code: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    state: absent
"""

RETURN = r"""
action:
  description: What was done (or, in check mode, would be done).
  returned: always
  type: str
  sample: upgrade
  choices: [install, upgrade, downgrade, remove, none]
product_code:
  description: ProductCode of the package.
  returned: always
  type: str
  sample: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
upgrade_code:
  description: UpgradeCode of the package (the product family), when known.
  returned: always
  type: str
  sample: "{D5B73D5D-E084-5005-B246-8861ADA21E95}"
version:
  description: Version of the package.
  returned: when known
  type: str
  sample: 9.3.1
previous_version:
  description: Version installed before the task (null when none was).
  returned: always
  type: str
  sample: 9.3.0
exit_code:
  description:
    - msiexec exit code of the last attempt. Not named C(rc) because Ansible treats any
      non-zero C(rc) as failure, and 3010 is a success.
  returned: when msiexec ran
  type: int
  sample: 3010
exit_code_meaning:
  description: What the exit code means.
  returned: when msiexec ran
  type: str
reboot_required:
  description: The host must restart to finish (exit code 3010 or 1641).
  returned: always
  type: bool
log_path:
  description: Verbose MSI log on the host.
  returned: when msiexec ran
  type: str
log_tail:
  description: Last lines of the MSI log.
  returned: when msiexec failed
  type: list
  elements: str
busy_retries:
  description: How often msiexec answered 1618 and was tried again.
  returned: when msiexec ran
  type: int
transferred:
  description: Files copied into the host cache (relative paths); empty when all matched.
  returned: when the package came from O(src)
  type: list
  elements: str
winrm:
  description: What the task cost on the wire.
  returned: always
  type: dict
  contains:
    commands:
      description: WinRM commands run (primitives and file transfers).
      type: int
    bytes_sent:
      description: Bytes of commands and stdin sent, file contents included.
      type: int
"""
