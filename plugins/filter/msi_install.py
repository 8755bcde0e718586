# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The msi_install role's variables as rollout.windows.msi_package's arguments.

The role reads its ``msi_install_*`` and the Office gate's ``office_gate_*`` variables by name
(``ansible.builtin.vars``) and this filter maps them, in Python rather than in one long Jinja expression:
the refusals name the variable, the mapping has unit tests, and Ansible compiles no large template anew
in every forked worker. Per host that is 17 ms of controller CPU instead of 20 (bench/rollout.py --phases,
200 clients); most of what is left is resolving the 28 variables, which only building the arguments once
avoids (the role's ``arguments`` entry point). The documentation is the sidecar ``msi_install_args.yml``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

INSTALL = "msi_install_"
GATE = "office_gate_"
# Empty means not given, so that msi_package's own default (or its refusal) applies.
GIVEN_WHEN_SET = ("src", "path", "url", "checksum", "proxy", "product_code", "version", "upgrade_code")
PASSED = (
    "proxy_use_default_credentials",
    "state",
    "properties",
    "transforms",
    "allow_downgrade",
    "busy_timeout",
    "restart_manager",
    "reboot",
    "reboot_timeout",
    "reboot_msg",
)
GATE_OPTIONS = (
    "processes",
    "notify",
    "message",
    "title",
    "interval",
    "attempts",
    "remind_interval",
    "force",
    "deadline",
)
# Every variable the filter reads, in the order the role's defaults list them.
SETTINGS = (
    *(INSTALL + option for option in (*GIVEN_WHEN_SET, *PASSED, "office_gate")),
    *(GATE + option for option in GATE_OPTIONS),
)
RESTART_MANAGER_REFUSED = (
    "msi_install_restart_manager=enable lets msiexec shut down the applications holding the package files"
    " without asking, and unsaved work in them is lost; set office_gate_force to true to confirm that, or use"
    " disable (files in use are replaced at the next restart)."
)


def _flag(settings: Mapping[str, t.Any], name: str) -> bool:
    """A yes/no variable as Ansible's ``bool`` reads it; anything else is refused by name, not guessed."""
    value = settings[name]
    checked = value.lower() if isinstance(value, str) else value
    if checked in BOOLEANS_TRUE:
        return True
    if checked in BOOLEANS_FALSE:
        return False
    raise AnsibleFilterError(f"{name}: {value!r} is not a boolean; accepted: true, false (yes, no, on, off, 1, 0)")


def msi_install_args(settings: Mapping[str, t.Any], host: str = "") -> dict[str, t.Any]:
    """msi_package's arguments from the role's variables (``settings``: name to value), for host ``host``.

    An empty location, product code, version or upgrade code is left out. ``restart_manager=enable`` is refused
    unless ``office_gate_force`` confirms it: msiexec would close users' applications without asking. With the
    gate on, the reminder interval counts only when users are notified and the deadline only when forcing.
    """
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("msi_install_args takes a mapping of the role's variable names to their values")
    missing = [name for name in SETTINGS if name not in settings]
    if missing:
        raise AnsibleFilterError(
            f"msi_install_args: {', '.join(missing)} not set; import the msi_install role, whose defaults (and the"
            " office_gate role's) set every one"
        )
    args = {option: settings[INSTALL + option] for option in GIVEN_WHEN_SET if settings[INSTALL + option]}
    args.update({option: settings[INSTALL + option] for option in PASSED})
    force = _flag(settings, GATE + "force")
    if args["restart_manager"] == "enable" and not force:
        raise AnsibleFilterError(f"{host}: {RESTART_MANAGER_REFUSED}" if host else RESTART_MANAGER_REFUSED)
    if _flag(settings, INSTALL + "office_gate"):
        gate = {option: settings[GATE + option] for option in GATE_OPTIONS}
        if not _flag(settings, GATE + "notify"):
            gate["remind_interval"] = 0
        if not force:
            gate["deadline"] = None
        args["office_gate"] = gate
    args["verify"] = True
    return args


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"msi_install_args": msi_install_args}
