# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.product_info: one primitive, filtered on the host, sorted on the controller."""

from __future__ import annotations

import typing as t

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str"},
    "product_code": {"type": "str"},
    "upgrade_code": {"type": "str"},
}


class ActionModule(WinHostAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        query = {
            "name": args["name"],
            "product_code": _msi.normalize_guid(args["product_code"], "product_code") if args["product_code"] else None,
            "upgrade_code": _msi.normalize_guid(args["upgrade_code"], "upgrade_code") if args["upgrade_code"] else None,
        }
        products = host.run("Get-InstalledProduct", query)["products"]
        products.sort(key=lambda p: (p.get("scope") != "machine", p.get("user") or "", p.get("name") or ""))
        return {"changed": False, "products": products}
