# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one ``run()`` every host module of this collection shares.

Each module validates its options, talks to the host only through primitives, turns a
primitive's failure or a bad value into ``failed`` with a message, and reports what it
cost in WinRM commands. Writing that once keeps the modules' own files about their
decisions, and gives every module the same answer when a host drops mid-command:
UNREACHABLE, as for any other lost connection, rather than a module failure with a
transport traceback in ``msg``.
"""

from __future__ import annotations

import contextlib
import typing as t
from collections.abc import Iterator, Mapping

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.template import is_trusted_as_template

from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost


def is_connection_error(exc: BaseException) -> bool:
    """ansible-core's, requests' (an OSError) and pywinrm's transport errors.

    pywinrm, urllib3 and requests are matched by module so that none of them need be
    importable where this runs (unit tests, sanity).
    """
    if isinstance(exc, AnsibleConnectionFailure | OSError):
        return True
    return (type(exc).__module__ or "").startswith(("winrm", "urllib3", "requests"))


MASK = "********"


def mask_secrets(value: t.Any, secrets: t.Iterable[str]) -> t.Any:
    """``value`` with every secret replaced by :data:`MASK`, in every string of it, keys included.

    An action plugin's result does not go through the module no_log filter ansible-core applies to
    modules, so the modules that take secrets mask their own results, whatever echoed them: a
    warning, a failure message, a diff, or msiexec's log tail.
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return value

    def mask(item: t.Any) -> t.Any:
        if isinstance(item, str):
            for secret in ordered:
                item = item.replace(secret, MASK)
            return item
        if isinstance(item, dict):
            return {mask(k): mask(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [mask(v) for v in item]
        return item

    return mask(value)


OPTIONS_FROM = "options_from"


def options_from(args: Mapping[str, t.Any], task_vars: Mapping[str, t.Any], templar: t.Any) -> dict[str, t.Any]:
    """The task's options: ``args`` itself, or the mapping in the variable that ``options_from`` names.

    Why a name and not ``args: "{{ var }}"``: ansible-core compiles a task's templates in every host's
    freshly forked worker, and the first compile there costs about 4 ms of controller CPU, on every
    host; it also warns on every host that templated task args are unsafe. A variable built once (a
    fact from a ``run_once`` task) is data already and is taken as it is; what is still a template (a value
    from group_vars, say) or a vault value the templar renders, as a template in the task would have.
    """
    name = args.get(OPTIONS_FROM)
    if name is None:
        return dict(args)
    others = sorted(str(key) for key in args if key != OPTIONS_FROM)
    if others:
        raise ValueError(
            f"{OPTIONS_FROM}: give the options either in the variable it names or in the task, not both; "
            f"the task also gives {', '.join(others)}"
        )
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{OPTIONS_FROM}: expected the name of a variable, got {name!r}")
    if name not in task_vars:
        raise ValueError(f"{OPTIONS_FROM}: no variable named {name!r} is defined for this host")
    raw = task_vars[name]
    # The templar's walk of even plain data costs about 2 ms in a freshly forked worker; a check of it, a tenth.
    value = raw if _plain_data(raw) else templar.template(raw)
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{OPTIONS_FROM}: the variable {name!r} holds a {type(value).__name__}, not a mapping of options"
        )
    if OPTIONS_FROM in value:
        raise ValueError(f"{OPTIONS_FROM}: the options in {name!r} name a variable again; give the options themselves")
    return dict(value)


def _plain_data(value: t.Any) -> bool:
    """Whether nothing in ``value`` is left for the templar: no template, no vault value, nothing undefined."""
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return not is_trusted_as_template(value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _plain_data(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_plain_data(item) for item in value)
    return False


@contextlib.contextmanager
def unreachable_on_connection_loss() -> Iterator[None]:
    """Re-raise a lost connection as AnsibleConnectionFailure, so Ansible reports the host UNREACHABLE.

    pywinrm raises requests' errors for a connection reset mid-command, which Ansible does not map.
    """
    try:
        yield
    except AnsibleConnectionFailure:
        raise
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        raise AnsibleConnectionFailure(f"lost the connection to the host: {exc}") from exc


class WinHostAction(ActionBase):
    """Base of the action plugins that run primitives over the task's own connection.

    Subclasses set :attr:`ARGUMENT_SPEC` (and :attr:`ARGUMENT_RULES` for
    ``mutually_exclusive``, ``required_if`` and friends) and implement :meth:`_run`.
    """

    # Primitives only: a remote temp folder would cost WinRM commands for nothing.
    TRANSFERS_FILES = False
    _supports_check_mode = True
    ARGUMENT_SPEC: t.ClassVar[dict[str, dict[str, t.Any]]] = {}
    ARGUMENT_RULES: t.ClassVar[dict[str, t.Any]] = {}
    # Whether the module takes its options from a variable it is given the name of (:func:`options_from`).
    OPTIONS_FROM: t.ClassVar[bool] = False

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        refusal = self._refuse_connection()
        if refusal is None and self.OPTIONS_FROM:
            try:
                self._task.args = options_from(self._task.args, task_vars or {}, self._templar)
            except ValueError as exc:
                refusal = f"{exc}. Nothing was sent to the host."
        if refusal:
            result.update(failed=True, msg=refusal, winrm={"commands": 0, "bytes_sent": 0})
            return result
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, **self.ARGUMENT_RULES)[1]
        host = WinHost(self)
        try:
            with unreachable_on_connection_loss():
                result.update(self._run(host, args))
        except (PrimitiveError, ValueError) as exc:
            result.update(failed=True, msg=str(exc))
        result["winrm"] = {"commands": host.stats.commands, "bytes_sent": host.stats.bytes_sent}
        masked: dict[str, t.Any] = mask_secrets(result, self._secrets(args))
        return masked

    def _secrets(self, args: dict[str, t.Any]) -> list[str]:
        """Values no result, diff, warning, error or log tail may show (a module's no_log data)."""
        return []

    def _refuse_connection(self) -> str | None:
        """Why this task cannot run its primitives, before any of them is sent; None when it can.

        psrp returns a script's pipeline output, not its console output, which is where the
        primitives write their one JSON line, and it carries stdin as pipeline input with other
        framing. ansible-core applies ``become`` only inside its own module wrapper, so a
        primitive would silently run as the connection user instead of the become user.
        """
        transport = str(getattr(self._connection, "transport", "") or "")
        name = transport.rsplit(".", 1)[-1]
        if name != "winrm":
            return (
                f"rollout.windows modules need ansible_connection=winrm; this host uses {transport!r}. "
                "Nothing was sent to the host."
            )
        if self._play_context.become:
            return (
                "become is not supported by rollout.windows modules: they run as the WinRM account, "
                "which must be a local administrator; per-user work goes through the user's own scheduled "
                "task. Remove become from this task. Nothing was sent to the host."
            )
        return None

    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        """Decide and act; return the module's result. Raise ValueError for bad input."""
        raise NotImplementedError
