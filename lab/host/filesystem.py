"""A Windows file system in a dictionary: case-insensitive, drive letters, both slash styles.

Contents live in the fleet's :class:`BlobStore`; a node keeps only a hash. A file
being written in chunks (ansible's put_file sends 250 KB at a time) is kept in a
private buffer and committed to the blob store on the first read, hash or size
query, so an upload costs linear, not quadratic, copying.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lab.host.blobs import BlobStore

_DRIVE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")


@dataclass
class _Node:
    path: str  # canonical display path, original case
    is_dir: bool
    mtime: datetime
    sha256: str | None = None  # committed content (files)
    size: int = 0
    buffer: bytearray | None = None  # uncommitted content being appended to
    children: dict[str, str] = field(default_factory=dict)  # lower name -> display name (dirs)


def canonical(path: str) -> str:
    """``'c:/users//Bob/./x'`` -> ``'c:\\users\\Bob\\x'`` with an upper-case drive; ValueError if not absolute."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"not a path: {path!r}")
    raw = path
    for prefix in ("\\\\?\\", "//?/"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    match = _DRIVE.match(raw)
    if not match:
        raise ValueError(f"not an absolute Windows path (drive letter required): {path!r}")
    parts: list[str] = []
    for piece in re.split(r"[\\/]+", raw[2:]):
        # Windows strips trailing dots and spaces from path components.
        part = piece.rstrip(" .") if piece not in (".", "..") else piece
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        if any(c in part for c in '<>:"|?*') or any(ord(c) < 32 for c in part):
            raise ValueError(f"invalid character in path: {path!r}")
        parts.append(part)
    return match.group(1).upper() + ":\\" + "\\".join(parts)


def _split(canon: str) -> tuple[str, str]:
    """Parent and leaf of a canonical path; the root's parent is itself."""
    if len(canon) == 3:
        return canon, ""
    head, _, leaf = canon.rpartition("\\")
    return (head + "\\" if len(head) == 2 else head), leaf


class FileSystem:
    """One host's files. Only drive ``C:`` exists unless :meth:`add_drive` says otherwise."""

    def __init__(self, blobs: BlobStore, clock_now: Callable[[], datetime]) -> None:
        self._blobs = blobs
        self._now = clock_now
        self._nodes: dict[str, _Node] = {}
        self.add_drive("C")

    # -- helpers -------------------------------------------------------------------------------------------
    def add_drive(self, letter: str) -> None:
        root = letter.upper() + ":\\"
        self._nodes.setdefault(root.lower(), _Node(root, True, self._now()))

    def canonical(self, path: str) -> str:
        """The canonical form of ``path`` using the case already on disk for existing components."""
        canon = canonical(path)
        node = self._nodes.get(canon.lower())
        if node is not None:
            return node.path
        parent, leaf = _split(canon)
        if not leaf:
            return canon
        parent_canon = self.canonical(parent)
        return (parent_canon if parent_canon.endswith("\\") else parent_canon + "\\") + leaf

    def _get(self, path: str) -> _Node | None:
        return self._nodes.get(canonical(path).lower())

    def _file(self, path: str) -> _Node:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        if node.is_dir:
            raise IsADirectoryError(21, "Is a directory", path)
        return node

    def _commit(self, node: _Node) -> None:
        if node.buffer is not None:
            old = node.sha256
            node.sha256 = self._blobs.put(bytes(node.buffer))
            node.size = len(node.buffer)
            node.buffer = None
            if old is not None:
                self._blobs.release(old)

    def _parent_dir(self, canon: str, original: str) -> _Node:
        parent, _ = _split(canon)
        node = self._nodes.get(parent.lower())
        if node is None or not node.is_dir:
            # Windows: ERROR_PATH_NOT_FOUND, the parent is not created for you.
            raise FileNotFoundError(3, "The system cannot find the path specified", original)
        return node

    def _new_file(self, path: str) -> _Node:
        canon = self.canonical(path)
        key = canon.lower()
        existing = self._nodes.get(key)
        if existing is not None:
            if existing.is_dir:
                raise IsADirectoryError(21, "Is a directory", path)
            return existing
        parent = self._parent_dir(canon, path)
        node = _Node(canon, False, self._now())
        self._nodes[key] = node
        leaf = _split(canon)[1]
        parent.children[leaf.lower()] = leaf
        return node

    # -- public API ----------------------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes:
        node = self._file(path)
        self._commit(node)
        return self._blobs.get(node.sha256) if node.sha256 else b""

    def write_bytes(self, path: str, data: bytes) -> None:
        node = self._new_file(path)
        old = node.sha256
        node.buffer = None
        node.sha256 = self._blobs.put(bytes(data))
        node.size = len(data)
        node.mtime = self._now()
        if old is not None:
            self._blobs.release(old)

    def write_text(self, path: str, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(path, text.encode(encoding))

    def append_bytes(self, path: str, data: bytes) -> None:
        node = self._new_file(path)
        if node.buffer is None:
            node.buffer = bytearray(self._blobs.get(node.sha256) if node.sha256 else b"")
        node.buffer.extend(data)
        node.size = len(node.buffer)
        node.mtime = self._now()

    def copy(self, src: str, dst: str) -> str:
        """Copy a file without copying bytes (another reference to the same blob); returns the canonical dst."""
        source = self._file(src)
        self._commit(source)
        target = self._new_file(dst)
        old = target.sha256
        target.buffer = None
        if source.sha256:
            self._blobs.acquire(source.sha256)
        target.sha256, target.size, target.mtime = source.sha256, source.size, self._now()
        if old is not None:
            self._blobs.release(old)
        return target.path

    def exists(self, path: str) -> bool:
        try:
            return self._get(path) is not None
        except ValueError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            node = self._get(path)
        except ValueError:
            return False
        return node is not None and node.is_dir

    def is_file(self, path: str) -> bool:
        try:
            node = self._get(path)
        except ValueError:
            return False
        return node is not None and not node.is_dir

    def mkdir(self, path: str, parents: bool = True) -> str:
        canon = self.canonical(path)
        node = self._nodes.get(canon.lower())
        if node is not None:
            if not node.is_dir:
                raise FileExistsError(183, "Cannot create a file when that file already exists", path)
            if not parents:
                raise FileExistsError(183, "Cannot create a file when that file already exists", path)
            return node.path
        parent_path, leaf = _split(canon)
        if parents and parent_path.lower() not in self._nodes:
            if len(parent_path) == 3:
                raise FileNotFoundError(3, "The system cannot find the path specified", path)
            self.mkdir(parent_path, parents=True)
        parent = self._parent_dir(canon, path)
        canon = self.canonical(canon)  # parent case may have been created just now
        self._nodes[canon.lower()] = _Node(canon, True, self._now())
        parent.children[leaf.lower()] = leaf
        return canon

    def remove(self, path: str, recurse: bool = False) -> None:
        canon = canonical(path)
        node = self._nodes.get(canon.lower())
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        if len(canon) == 3:
            raise PermissionError(5, "Access is denied", path)
        if node.is_dir and node.children:
            if not recurse:
                raise OSError(145, "The directory is not empty", path)
            for child in list(node.children.values()):
                self.remove(node.path + "\\" + child, recurse=True)
        if not node.is_dir and node.sha256:
            self._blobs.release(node.sha256)
        del self._nodes[canon.lower()]
        parent_path, leaf = _split(canon)
        parent = self._nodes.get(parent_path.lower())
        if parent is not None:
            parent.children.pop(leaf.lower(), None)

    def listdir(self, path: str) -> list[str]:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(3, "The system cannot find the path specified", path)
        if not node.is_dir:
            raise NotADirectoryError(267, "The directory name is invalid", path)
        return sorted(node.children.values(), key=str.lower)

    def size(self, path: str) -> int:
        node = self._file(path)
        return len(node.buffer) if node.buffer is not None else node.size

    def sha256(self, path: str) -> str:
        node = self._file(path)
        self._commit(node)
        return node.sha256 or hashlib.sha256(b"").hexdigest()

    def sha1(self, path: str) -> str:
        node = self._file(path)
        self._commit(node)
        return self._blobs.sha1(node.sha256) if node.sha256 else hashlib.sha1(b"").hexdigest()

    def mtime(self, path: str) -> datetime:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        return node.mtime

    def walk_files(self) -> list[str]:
        return sorted((n.path for n in self._nodes.values() if not n.is_dir), key=str.lower)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """``{path: {size, sha256}}`` for files and ``{path: {dir: True}}`` for directories."""
        out: dict[str, dict[str, object]] = {}
        for node in sorted(self._nodes.values(), key=lambda n: n.path.lower()):
            if node.is_dir:
                out[node.path] = {"dir": True}
            else:
                self._commit(node)
                out[node.path] = {"size": node.size, "sha256": node.sha256 or hashlib.sha256(b"").hexdigest()}
        return out
