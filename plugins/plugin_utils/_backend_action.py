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


# A module that writes to the backend takes this too (documented in rollout.windows._backend.writes).
WRITE_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {"allow_during_cluster_update": {"type": "bool", "default": False}}
CLUSTER_UPDATE_REFUSAL = (
    "the backend cluster {name} is being updated ({updated} of {total} servers updated); a change now would be "
    "written to a server's local database copy and lost when it reconnects to production. Run it after the "
    "update, or set allow_during_cluster_update=true."
)
CLUSTER_UPDATE_WARNING = (
    "the backend cluster {name} is being updated ({updated} of {total} servers updated) and "
    "allow_during_cluster_update is set: a change written now may be lost when the server reconnects to production"
)


def argument_spec(own: dict[str, dict[str, t.Any]], *, writes: bool = False) -> dict[str, dict[str, t.Any]]:
    """A backend module's whole argument spec: its own options, the connection options and, for a module
    that writes, allow_during_cluster_update (which makes :meth:`BackendAction.run` check the cluster first)."""
    return {**own, **CONNECTION_ARGUMENT_SPEC, **(WRITE_ARGUMENT_SPEC if writes else {})}


def cluster_update(info: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """The ``cluster`` of ``GET /info`` while an update runs (name, updated, total), else None.

    A backend without a cluster answers none. An answer that cannot be read is refused: a write must not go
    ahead on a guess.
    """
    cluster = info.get("cluster")
    if cluster is None:
        return None
    running = cluster.get("update_in_progress") if isinstance(cluster, dict) else None
    if not isinstance(running, bool):
        raise _backend.BackendError(
            "the backend answered GET /api/v1/info with a cluster whose update_in_progress is not true or false; "
            "nothing was written"
        )
    if not running:
        return None

    def count(key: str) -> t.Any:
        value = cluster.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000 else "?"

    name = cluster.get("name")
    return {
        "name": name if isinstance(name, str) and 0 < len(name) <= 256 else "(unnamed)",
        "updated": count("updated"),
        "total": count("total"),
    }


class BackendAction(ActionBase):
    """Base of the action plugins that talk to the backend.

    Subclasses set :attr:`ARGUMENT_SPEC` (from :func:`argument_spec`), may refuse options in
    :meth:`_check` and implement :meth:`_run`.
    """

    _supports_check_mode = True
    ARGUMENT_SPEC: t.ClassVar[dict[str, dict[str, t.Any]]] = argument_spec({})
    # GET /info as the cluster check read it (a module that writes); None for a module that only reads.
    backend_info: dict[str, t.Any] | None = None

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        try:
            self._check(args)
            client = self._client(args, task_vars)
            result.setdefault("warnings", []).extend(_backend.warnings_for(client))
            if "allow_during_cluster_update" in args:
                result["warnings"].extend(self._check_cluster(client, args["allow_during_cluster_update"]))
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

    def _check_cluster(self, client: _backend.BackendClient, allowed: bool) -> list[str]:
        """Refuse a write while the backend cluster is being updated (also in check mode: the run would fail).

        A server in update mode works on a local copy of the database, and the copy is dropped when it
        reconnects to production: what is written meanwhile is lost without a word.
        """
        self.backend_info = client.info()
        updating = cluster_update(self.backend_info)
        if updating is None:
            return []
        if not allowed:
            raise _backend.BackendError(CLUSTER_UPDATE_REFUSAL.format(**updating))
        return [CLUSTER_UPDATE_WARNING.format(**updating)]

    def _check(self, args: dict[str, t.Any]) -> None:
        """Refuse a bad option with ValueError before the backend is even looked up: a typo never half-applies."""

    def _run(self, client: _backend.BackendClient, args: dict[str, t.Any]) -> dict[str, t.Any]:
        """Decide and act through ``client``; return the module's result. Raise ValueError for bad input."""
        raise NotImplementedError
