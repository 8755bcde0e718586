# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of the modules that talk to the product backend; private to the collection."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend_url:
    description:
      - Base URL of the backend's client management API, for example C(https://backend.example.com:8443).
        The API lives under C(/api/v1) below it.
      - When not given, the variable C(rollout_backend_url) is used (the lab inventory sets it).
      - One of the two is required.
      - Must be C(https://) unless O(allow_insecure_http) is set. A user name or password in the URL
        (C(user:password@)), a query string or a fragment is refused, and never repeated in a message.
    type: str
  allow_insecure_http:
    description:
      - Accept a plain C(http://) O(backend_url). The admin token and every answer then travel unencrypted,
        so anyone on the network path can read the token and change the answers. Only for a test backend;
        the result then carries a warning.
      - When not given, the variable C(rollout_backend_allow_insecure_http) is used; unset means false.
    type: bool
  backend_token:
    description:
      - Admin token of the client management API, sent only in the C(Authorization) header (C(Bearer) scheme).
      - When not given, the variable C(rollout_backend_token) is used.
      - Reads work without a token; a token that is given must be valid.
    type: str
  validate_certs:
    description:
      - Whether the backend's TLS certificate must be valid and issued by a trusted CA.
      - Turn off only for a test backend; without the check the token goes to whoever answers.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that issued the backend's certificate, when it is not one the controller trusts
        already (an internal PKI).
      - When not given, the variable C(rollout_backend_ca_path) is used, else the system's trusted CAs.
    type: path
attributes:
  platform:
    support: full
    platforms: all
    description: Runs on the controller against the backend's API; the target host is not contacted.
  connection:
    support: none
    description:
      - Runs on the controller and talks to the backend over HTTPS. It never connects to the target host,
        so C(delegate_to) is not needed; use C(run_once) to call the backend once for a play.
notes:
  - The backend's API is described in C(docs/backend-api.yaml) of the collection's source.
  - HTTP proxies from the controller's environment (C(https_proxy), C(no_proxy)) apply.
  - Credentials in C(~/.netrc) (or C($NETRC)) are never used. The token goes only in the C(Authorization)
    header, and a netrc entry for the backend's host cannot replace it.
"""

    # The modules that write to the backend (BackendAction with argument_spec(..., writes=True)).
    WRITES = r"""
options:
  allow_during_cluster_update:
    description:
      - Write even while the backend's HA cluster is being updated.
      - Before writing, the module reads C(GET /api/v1/info); while its C(cluster.update_in_progress) is true it
        refuses and nothing is written, also in check mode. A server in update mode works on a local copy of the
        database, and what is written there is lost when it reconnects to production.
      - With this set, the module writes anyway and warns.
    type: bool
    default: false
"""
