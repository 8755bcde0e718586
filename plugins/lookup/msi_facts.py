# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.msi_facts: what a Windows Installer package on the controller installs, read once."""

from __future__ import annotations

# ansible-test (validate-modules) wants the documentation above every import.
# ruff: noqa: E402

DOCUMENTATION = r"""
name: msi_facts
short_description: Read a Windows Installer package's product facts on the controller
version_added: 1.0.0
description:
  - Reads the C(.msi) of each term on the controller, as M(rollout.windows.msi_package) reads its
    O(rollout.windows.msi_package#module:src), and returns its ProductCode, ProductVersion, UpgradeCode and ProductName.
  - Given to M(rollout.windows.msi_package) as O(rollout.windows.msi_package#module:product_code),
    O(rollout.windows.msi_package#module:version) and O(rollout.windows.msi_package#module:upgrade_code) beside
    O(rollout.windows.msi_package#module:src), a host that already has the version costs no read of the package;
    for a host that is to get it, the package is read when it is delivered, and that read refuses a package
    whose facts are not the given ones.
options:
  _terms:
    description:
      - Package folders (holding exactly one C(.msi) with its payload) or C(.msi) files; relative paths are
        looked for as a task's C(files) are.
    required: true
    type: list
    elements: path
"""

EXAMPLES = r"""
- name: Install the suite, reading the package once for all hosts
  rollout.windows.msi_package:
    src: /srv/packages/suite-9.3.1
    product_code: "{{ __suite.product_code }}"
    version: "{{ __suite.version }}"
    upgrade_code: "{{ __suite.upgrade_code }}"
  vars:
    __suite: "{{ lookup('rollout.windows.msi_facts', '/srv/packages/suite-9.3.1') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per term.
  type: list
  elements: dict
  contains:
    product_code:
      description: ProductCode, upper case in braces.
      type: str
      sample: "{5B1F6A36-0C52-4C3E-9E9E-2F6C1D9A7B10}"
    version:
      description: ProductVersion.
      type: str
      sample: 9.3.1
    upgrade_code:
      description: UpgradeCode, upper case in braces; empty when the package has none.
      type: str
    product_name:
      description: ProductName.
      type: str
"""


import typing as t
from pathlib import Path

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi, _msi_cache, _package_source


class LookupModule(LookupBase):
    def run(
        self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any
    ) -> list[dict[str, str]]:
        self.set_options(var_options=variables, direct=kwargs)
        facts = []
        for term in terms:
            found = self.find_file_in_search_path(variables or {}, "files", str(term), ignore_missing=True)
            if not found:
                raise AnsibleLookupError(f"msi_facts: {term} was not found on the controller")
            try:
                _folder, msi_path = _package_source.msi_in(Path(found))
                # Kept by its hash: each host's install task then reads the record, not the package.
                info = _msi_cache.read_msi(msi_path, _msi.sha256_file(msi_path))
            except ValueError as exc:
                raise AnsibleLookupError(f"msi_facts: {exc}") from None
            facts.append(info.facts())
        return facts
