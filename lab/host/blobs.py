"""Fleet-wide content-addressed storage for file contents.

A thousand hosts holding the same 50 MB MSI must cost one copy of memory, so a
host's file system stores only the SHA-256 of each file and the bytes live here,
reference-counted so that deleting the last copy frees them.
"""

from __future__ import annotations

import hashlib


class BlobStore:
    """``sha256 hex -> bytes`` with reference counts, shared by every host of a fleet."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._refs: dict[str, int] = {}
        self._sha1: dict[str, str] = {}

    def put(self, data: bytes) -> str:
        """Store ``data`` (or take another reference to an identical blob); return its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._data:
            self._refs[digest] += 1
        else:
            self._data[digest] = bytes(data)
            self._refs[digest] = 1
        return digest

    def acquire(self, digest: str) -> None:
        """Take one more reference to an existing blob (copying a file costs no bytes)."""
        if digest not in self._data:
            raise KeyError(digest)
        self._refs[digest] += 1

    def release(self, digest: str) -> None:
        """Drop one reference; the bytes go when nobody holds them."""
        count = self._refs.get(digest, 0) - 1
        if count > 0:
            self._refs[digest] = count
        else:
            self._refs.pop(digest, None)
            self._data.pop(digest, None)
            self._sha1.pop(digest, None)

    def get(self, digest: str) -> bytes:
        return self._data[digest]

    def __getitem__(self, digest: str) -> bytes:
        return self._data[digest]

    def __contains__(self, digest: object) -> bool:
        return digest in self._data

    def __len__(self) -> int:
        return len(self._data)

    def sha1(self, digest: str) -> str:
        """SHA-1 of a blob (ansible's put_file reply), computed once per blob, not once per host."""
        cached = self._sha1.get(digest)
        if cached is None:
            cached = self._sha1[digest] = hashlib.sha1(self._data[digest]).hexdigest()
        return cached

    def total_bytes(self) -> int:
        return sum(len(b) for b in self._data.values())

    def stats(self) -> dict[str, int]:
        return {"blobs": len(self._data), "bytes": self.total_bytes(), "references": sum(self._refs.values())}
