# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one ``run()`` the backend modules share: options, connection, warnings and errors.

A backend module talks to the product backend from the controller (``_backend.BackendClient``),
never over the host's connection. Each takes the same connection options, falls back to the same
``rollout_backend_*`` variables, warns the same way about plain http and reports a refused value or
an unreachable backend as ``failed`` with the message; written once here, a module's own file is
only about its decisions.
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.rollout.windows.plugins.plugin_utils import _backend

# Every backend module takes these besides its own; plugins/doc_fragments/_backend.py documents them.
CONNECTION_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "backend_url": {"type": "str"},
    "backend_token": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    # No default here, so the variable rollout_backend_allow_insecure_http can fill it in; unset means false.
    "allow_insecure_http": {"type": "bool"},
}


def argument_spec(own: dict[str, dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """A backend module's whole argument spec: its own options and the connection options."""
    return {**own, **CONNECTION_ARGUMENT_SPEC}


class BackendAction(ActionBase):
    """Base of the action plugins that talk to the backend.

    Subclasses set :attr:`ARGUMENT_SPEC` (from :func:`argument_spec`), may refuse options in
    :meth:`_check` and implement :meth:`_run`.
    """

    _supports_check_mode = True
    ARGUMENT_SPEC: t.ClassVar[dict[str, dict[str, t.Any]]] = argument_spec({})

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        try:
            self._check(args)
            client = self._client(args, task_vars)
            result.setdefault("warnings", []).extend(_backend.warnings_for(client))
            result.update(self._run(client, args))
        except (_backend.BackendError, ValueError) as exc:
            result.update(failed=True, msg=str(exc))
        return result

    def _client(self, args: dict[str, t.Any], task_vars: dict[str, t.Any] | None) -> _backend.BackendClient:
        """Options first, then the ``rollout_backend_*`` variables, templated as a module option would be."""
        variables: dict[str, t.Any] = {}
        for var in _backend.FALLBACK_VARIABLES.values():
            if task_vars and task_vars.get(var) is not None:
                variables[var] = self._templar.template(task_vars[var])
        return _backend.BackendClient(_backend.connection_from(args, variables))

    def _check(self, args: dict[str, t.Any]) -> None:
        """Refuse a bad option with ValueError before the backend is even looked up: a typo never half-applies."""

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        """Decide and act through ``client``; return the module's result. Raise ValueError for bad input."""
        raise NotImplementedError
