# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows command lines, quoted on the controller from an argument array.

A Windows program receives one string, not an array: CreateProcess, a scheduled task's action and
Active Setup's StubPath each take a single command line that the program's C runtime splits again
by the CommandLineToArgvW rules. Every primitive that starts a program (Invoke-Msiexec,
Register-UserInstallTask, Start-SessionProgram, Restart-Host) therefore gets a finished line from
here and passes it on as data, so the quoting exists once, in Python, where it is unit-tested,
and never in PowerShell.
"""

from __future__ import annotations

import re
import typing as t

# CreateProcess takes a command line of at most 32,767 characters, executable path included.
MAX_COMMAND_LINE = 32_767


def quote(value: str) -> str:
    """``value`` as one argument that CommandLineToArgvW reads back unchanged.

    Backslashes are literal except before a quote: those are doubled, and so are the ones before the
    closing quote. An empty value must be quoted, or it would vanish.
    """
    if value and not re.search(r'[\s"]', value):
        return value
    escaped = re.sub(r'(\\*)"', r'\1\1\\"', value)
    escaped = re.sub(r"(\\+)\Z", r"\1\1", escaped)  # \Z: "$" would also match before a final newline
    return '"' + escaped + '"'


def command_line(arguments: t.Sequence[str]) -> str:
    """The command line a program's C runtime splits back into ``arguments``."""
    return " ".join(quote(a) for a in arguments)
