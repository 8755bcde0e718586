"""How msiexec.exe (and any other program) reads the one command line it is given.

A Windows program gets a single string; its C runtime splits it by the CommandLineToArgvW rules
(:func:`split_argv`). msiexec reads its own line with one addition, ``NAME="value"`` properties
(:func:`split_command_line`), then parses the argument array (:func:`parse_arguments`). The verbose
log shows the command line with hidden properties masked (:func:`loggable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PROPERTY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$", re.DOTALL)
_PROPERTY_START = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)="')
# "MsiHiddenProperties property" (learn.microsoft.com): the installer does not write the values of the
# properties it names into the log; verbose logs show them as ten asterisks. Names are case-sensitive,
# as property names are. (Where the Debug policy is 7 Windows logs command-line properties anyway; the
# lab models the default policy.)
HIDDEN = "**********"


class InvalidCommandLine(ValueError):
    pass


@dataclass
class Invocation:
    action: str  # 'install' | 'uninstall'
    target: str  # package path or product code
    properties: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None
    log_mode: str = ""
    ui: str = "full"
    restart: str = "default"  # 'default' | 'norestart' | 'forcerestart' | 'promptrestart'


def _argv_token(line: str, i: int) -> tuple[str, int]:
    """One CommandLineToArgvW argument starting at ``line[i]`` (not a blank): the argument and where it ends.

    Backslashes are literal except before a quote: 2n of them then stand for n and the quote opens or
    closes a quoted part, 2n+1 for n and a literal quote.
    """
    n = len(line)
    token: list[str] = []
    quoted = False
    while i < n and (quoted or line[i] not in " \t"):
        if line[i] == "\\":
            k = i
            while k < n and line[k] == "\\":
                k += 1
            count = k - i
            if k < n and line[k] == '"':
                token.append("\\" * (count // 2) + ('"' if count % 2 else ""))
                # An odd count escaped the quote; after an even one it opens or closes a quoted part.
                i = k + 1 if count % 2 else k
                continue
            token.append(line[i:k])
            i = k
        elif line[i] == '"':
            quoted = not quoted
            i += 1
        else:
            token.append(line[i])
            i += 1
    return "".join(token), i


def split_argv(line: str) -> list[str]:
    """The arguments a program's C runtime (CommandLineToArgvW rules) reads from its command line."""
    args: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        token, i = _argv_token(line, i)
        args.append(token)
    return args


def split_command_line(line: str) -> list[str]:
    """msiexec's reading of its command line, which is all a real msiexec ever gets.

    ``NAME="value"`` takes everything up to the closing quote, a doubled ``""`` standing
    for one ``"`` (msiexec's own property syntax, so a value may hold spaces, ``;``,
    newlines or quotes); every other token follows the CommandLineToArgvW rules.
    """
    args: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        prop = _PROPERTY_START.match(line, i)
        if not prop:
            token, i = _argv_token(line, i)
            args.append(token)
            continue
        value: list[str] = []
        j = prop.end()
        while j < n:
            if line[j] == '"':
                if j + 1 < n and line[j + 1] == '"':
                    value.append('"')
                    j += 2
                    continue
                j += 1
                break
            value.append(line[j])
            j += 1
        args.append(f"{prop.group(1)}={''.join(value)}")
        i = j
    return args


def parse_arguments(argv: list[str]) -> Invocation:
    """Parse msiexec's argument array; options are case-insensitive and may start with '/' or '-'."""
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise InvalidCommandLine("arguments must be a list of strings")
    action: str | None = None
    target = ""
    props: dict[str, str] = {}
    inv = Invocation("install", "")
    i = 0
    while i < len(argv):
        arg = argv[i]
        low = arg.lower()
        prop = _PROPERTY.match(arg)
        if prop and not arg.startswith(("/", "-")):
            props[prop.group(1)] = prop.group(2)  # literally: quotes, spaces, ;, $(), backticks, newlines
        elif low[:1] in ("/", "-") and len(low) > 1:
            opt = low[1:]
            if opt in ("i", "package", "x", "uninstall"):
                if action is not None or i + 1 >= len(argv):
                    raise InvalidCommandLine(f"option {arg} needs exactly one package or product code")
                action = "install" if opt in ("i", "package") else "uninstall"
                target = argv[i + 1]
                i += 1
            elif opt in ("q", "qn", "quiet", "qb", "qr", "qf", "passive", "qn+", "qb-", "qb+", "qb!", "qb!-"):
                inv.ui = "quiet" if opt in ("q", "qn", "quiet") else opt
            elif opt in ("norestart", "forcerestart", "promptrestart"):
                inv.restart = opt
            elif opt.startswith("l") and (opt == "log" or re.fullmatch(r"l[iwearucmopvx+!*]*", opt)):
                if i + 1 >= len(argv):
                    raise InvalidCommandLine(f"option {arg} needs a log file path")
                inv.log_mode = opt[1:] if opt != "log" else "*v"
                inv.log_path = argv[i + 1]
                i += 1
            else:
                raise InvalidCommandLine(f"unsupported option {arg}")
        else:
            raise InvalidCommandLine(f"unexpected argument {arg!r}")
        i += 1
    if action is None or not target:
        raise InvalidCommandLine("one of /i <package> or /x <package|ProductCode> is required")
    inv.action, inv.target, inv.properties = action, target, props
    return inv


def hidden_properties(argv: list[str]) -> set[str]:
    names: set[str] = set()
    for arg in argv:
        match = _PROPERTY.match(arg)
        if match and match.group(1).lower() == "msihiddenproperties":
            names |= {n for n in match.group(2).split(";") if n}
    return names


def loggable(argv: list[str]) -> list[str]:
    """The command line as the verbose log shows it: values of hidden properties masked."""
    hidden = hidden_properties(argv)
    out = []
    for arg in argv:
        match = _PROPERTY.match(arg)
        out.append(f"{match.group(1)}={HIDDEN}" if match and match.group(1) in hidden else arg)
    return out
