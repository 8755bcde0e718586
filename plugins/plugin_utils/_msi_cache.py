# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller read from an .msi, kept by the package's SHA-256 so that it is parsed once per content.

Why: every installing host's task runs in a freshly forked worker, and parsing the package's tables there costs
about 9 ms of controller CPU (4 ms when warm), for the same bytes on every host. The rollout's plan reads the
package once (the ``msi_facts`` lookup); each host's task then reads a small JSON file instead. The key is the
hash the package folder's scan computes anyway, so a changed package is a new key, never a stale answer.

The folder is the controller user's own (``~/.ansible/rollout.windows/msi-facts``, or
``ROLLOUT_WINDOWS_MSI_FACTS_DIR``), made 0700. A record that cannot be read, or does not have the shape this
module writes, is read from the package again; a folder that cannot be written only costs the speed-up.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import typing as t
from pathlib import Path

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi

ENV_DIR = "ROLLOUT_WINDOWS_MSI_FACTS_DIR"
DEFAULT_DIR = "~/.ansible/rollout.windows/msi-facts"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEXT_FIELDS = ("product_code", "product_version", "upgrade_code", "product_name", "all_users")


def folder() -> Path:
    return Path(os.path.expanduser(os.environ.get(ENV_DIR) or DEFAULT_DIR))


def read_msi(path: Path, sha256: str) -> _msi.MsiInfo:
    """``_msi.read_msi(path)``, from the record for ``sha256`` (the .msi's hash) when there is a good one."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
    record = folder() / f"{sha256}.json"
    found = _load(record)
    if found is not None:
        return found
    info = _msi.read_msi(path)
    _store(record, info)
    return info


def _load(record: Path) -> _msi.MsiInfo | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    texts = {name: data.get(name) for name in _TEXT_FIELDS}
    properties, payload = data.get("properties"), data.get("payload")
    if not all(isinstance(value, str) for value in texts.values()):
        return None
    if not isinstance(properties, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in properties.items()
    ):
        return None
    if not isinstance(payload, list) or not all(isinstance(name, str) for name in payload):
        return None
    return _msi.MsiInfo(**t.cast(dict[str, str], texts), properties=properties, payload=payload)


def _store(record: Path, info: _msi.MsiInfo) -> None:
    data = {name: getattr(info, name) for name in _TEXT_FIELDS}
    data |= {"properties": info.properties, "payload": info.payload}
    try:
        record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole or not at all: many workers may store the same record at once.
        handle, partial = tempfile.mkstemp(dir=record.parent, prefix=".partial-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(partial, record)
        except BaseException:
            os.unlink(partial)
            raise
    except OSError:
        return
