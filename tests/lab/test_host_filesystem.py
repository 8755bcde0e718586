"""Windows file-system semantics of the host model, and the shared blob store behind it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lab.host import BlobStore, FileSystem
from lab.host.filesystem import canonical


def _fs(blobs: BlobStore | None = None) -> FileSystem:
    return FileSystem(BlobStore() if blobs is None else blobs, lambda: datetime(2026, 1, 1, tzinfo=UTC))


def test_canonical_paths() -> None:
    assert canonical("c:/Users//Bob/./x/../y") == "C:\\Users\\Bob\\y"
    assert canonical("C:\\") == "C:\\"
    assert canonical("\\\\?\\C:\\Temp\\a.txt") == "C:\\Temp\\a.txt"
    assert canonical("C:\\dir.\\file ") == "C:\\dir\\file"
    for bad in ("relative\\x", "", "C:\\a|b", "\\\\server\\share"):
        with pytest.raises(ValueError, match="path"):
            canonical(bad)


def test_case_insensitive_and_case_preserving() -> None:
    fs = _fs()
    fs.mkdir("C:\\Program Files\\Example")
    fs.write_bytes("c:/program files/EXAMPLE/App.DLL", b"abc")
    assert fs.read_bytes("C:\\PROGRAM FILES\\example\\app.dll") == b"abc"
    assert fs.listdir("c:\\program files\\example") == ["App.DLL"]
    assert fs.canonical("c:\\program files\\example\\app.dll") == "C:\\Program Files\\Example\\App.DLL"


def test_write_needs_parent_and_errors_are_windows_like() -> None:
    fs = _fs()
    with pytest.raises(FileNotFoundError):
        fs.write_bytes("C:\\missing\\x.txt", b"")
    fs.mkdir("C:\\d")
    with pytest.raises(FileExistsError):
        fs.mkdir("C:\\d", parents=False)
    assert fs.mkdir("c:\\D", parents=True) == "C:\\d"
    with pytest.raises(IsADirectoryError):
        fs.read_bytes("C:\\d")
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("C:\\d\\nope")
    with pytest.raises(FileNotFoundError):
        fs.mkdir("D:\\x")  # no such drive
    fs.write_bytes("C:\\d\\f", b"1")
    with pytest.raises(OSError, match="not empty"):
        fs.remove("C:\\d")
    fs.remove("C:\\d", recurse=True)
    assert not fs.exists("C:\\d\\f")
    assert not fs.exists("C:\\d")


def test_hashes_sizes_and_chunked_append() -> None:
    fs = _fs()
    fs.mkdir("C:\\t")
    for chunk in (b"a" * 10, b"b" * 5, b""):
        fs.append_bytes("C:\\t\\big.bin", chunk)
    assert fs.size("C:\\t\\big.bin") == 15
    assert fs.sha256("C:\\t\\big.bin") == __import__("hashlib").sha256(b"a" * 10 + b"b" * 5).hexdigest()
    assert fs.sha1("C:\\t\\big.bin") == __import__("hashlib").sha1(b"a" * 10 + b"b" * 5).hexdigest()
    snap = fs.snapshot()
    assert snap["C:\\t\\big.bin"]["size"] == 15
    assert snap["C:\\t"] == {"dir": True}


def test_blobs_are_shared_and_released() -> None:
    blobs = BlobStore()
    hosts = [_fs(blobs) for _ in range(50)]
    payload = b"x" * 100_000
    for fs in hosts:
        fs.mkdir("C:\\Cache")
        fs.write_bytes("C:\\Cache\\suite.msi", payload)
        fs.copy("C:\\Cache\\suite.msi", "C:\\Cache\\copy.msi")
    assert blobs.stats()["blobs"] == 1
    assert blobs.total_bytes() == len(payload)
    for fs in hosts:
        fs.remove("C:\\Cache", recurse=True)
    assert len(blobs) == 0
