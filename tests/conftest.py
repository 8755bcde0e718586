"""Import paths shared by every test layer.

The repository root is the collection itself. Tests import the lab and tools from
the root, and the collection as ``ansible_collections.rollout.windows`` through a
symlink under ``.tmp/collections`` (the same path ``ansible.cfg`` gives ansible).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".tmp" / "collections"


def _link_collection() -> None:
    link = COLLECTIONS / "ansible_collections" / "rollout" / "windows"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../../../.."), target_is_directory=True)


_link_collection()
for entry in (str(ROOT), str(COLLECTIONS)):
    if entry not in sys.path:
        sys.path.insert(0, entry)
