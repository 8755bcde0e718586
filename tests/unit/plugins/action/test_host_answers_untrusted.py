"""A host's answer is untrusted: a compromised PC must not pick controller files, tasks or processes.

Each test plays a hostile host against the real action plugin and checks what a user would notice:
the task fails naming the bad entry, and nothing was uploaded, registered or stopped.
"""

from __future__ import annotations

import types
import typing as t
from pathlib import Path

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package, office_processes
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import CallStats, PrimitiveError

CODE = "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
CACHE = "C:\\ProgramData\\rollout.windows\\cache"


class FakeConnection:
    def __init__(self) -> None:
        self.uploads: list[tuple[str, str]] = []

    def put_file(self, local: str, remote: str) -> None:
        self.uploads.append((local, remote))


class CacheHost:
    """A host with nothing installed whose Initialize-PackageCache answer the test chooses."""

    def __init__(self, answer: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]) -> None:
        self.answer = answer
        self.calls: list[str] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append(name)
        if name == "Get-InstalledProduct":
            return {"products": []}
        if name == "Initialize-PackageCache":
            return self.answer(args)
        if name == "Invoke-Msiexec":
            return {"rc": 0, "log_tail": []}
        raise AssertionError(name)


def src_action() -> tuple[msi_package.ActionModule, FakeConnection]:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    action._find_needle = lambda _kind, path: path  # type: ignore[method-assign]
    connection = FakeConnection()
    action._connection = connection
    return action, connection


def src_args(folder: Path) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(src=str(folder))
    return base


@pytest.fixture
def secrets(msi_folder: Path) -> Path:
    """Files an attacker wants, where the traversals below would reach them from the package folder."""
    home = msi_folder.parent / "home" / "ops"
    home.mkdir(parents=True)
    (home / ".vault_pass").write_text("hunter2")
    return home / ".vault_pass"


HOSTILE_STALE = [
    "../home/ops/.vault_pass",
    "..\\home\\ops\\.vault_pass",
    "payload\\..\\..\\home\\ops\\.vault_pass",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "C:/Users/ops/.ssh/id_rsa",
    "\\\\server\\share\\loot",
    "not-sent.dll",
    "payload\\not-sent.dll",
    "SUITE.MSI",  # a case variant is not what was sent, and Linux would resolve another file
    "payload\\\x00",
]


@pytest.mark.parametrize("entry", HOSTILE_STALE)
def test_stale_entry_not_sent_fails_naming_it_and_uploads_nothing(msi_folder: Path, secrets: Path, entry: str) -> None:
    def answer(args: dict[str, t.Any]) -> dict[str, t.Any]:
        # A valid entry first: the check must refuse the answer before the first upload, not midway.
        return {"directory": args["directory"], "stale": [args["files"][0]["path"], entry]}

    action, connection = src_action()
    host = CacheHost(answer)
    with pytest.raises(PrimitiveError) as caught:
        action._run(host, src_args(msi_folder))
    assert repr(entry) in str(caught.value)
    assert "not one the controller sent" in str(caught.value)
    assert connection.uploads == []
    assert "Invoke-Msiexec" not in host.calls


@pytest.mark.parametrize("stale", ["suite.msi", {"path": "x"}, [["a"]], [None], [42]])
def test_stale_that_is_not_a_list_of_sent_paths_is_refused(msi_folder: Path, stale: t.Any) -> None:
    action, connection = src_action()
    host = CacheHost(lambda args: {"directory": args["directory"], "stale": stale})
    with pytest.raises(PrimitiveError, match="refused the host's answer"):
        action._run(host, src_args(msi_folder))
    assert connection.uploads == []


def test_an_honest_answer_uploads_exactly_the_stale_files_once(msi_folder: Path) -> None:
    def answer(args: dict[str, t.Any]) -> dict[str, t.Any]:
        files = [f["path"] for f in args["files"]]
        # Resolve-Path may give the folder in another case; a repeated entry is copied once.
        return {"directory": args["directory"].upper(), "stale": [files[1], files[1], files[0]]}

    action, connection = src_action()
    result = action._run(CacheHost(answer), src_args(msi_folder))
    sent = sorted(p.relative_to(msi_folder) for p in msi_folder.rglob("*") if p.is_file())
    uploaded = [Path(local).relative_to(msi_folder) for local, _remote in connection.uploads]
    assert len(uploaded) == 2
    assert set(uploaded) <= set(sent)
    assert all(remote.startswith(CACHE.upper()) for _local, remote in connection.uploads)
    assert result["exit_code"] == 0


@pytest.mark.parametrize(
    "directory", ["C:\\Users\\Public", "C:\\ProgramData\\rollout.windows\\cache\\..\\..", "", None]
)
def test_cache_folder_the_controller_did_not_ask_for_is_refused(msi_folder: Path, directory: t.Any) -> None:
    action, connection = src_action()
    host = CacheHost(lambda args: {"directory": directory, "stale": [args["files"][0]["path"]]})
    with pytest.raises(PrimitiveError, match="directory"):
        action._run(host, src_args(msi_folder))
    assert connection.uploads == []


# -- scope=user: the host names the users, and each becomes a scheduled task run as them ---------------------
class UserHost:
    def __init__(self, user: dict[str, t.Any]) -> None:
        self.user = user
        self.calls: list[str] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append(name)
        if name == "Get-MsiProperty":
            return {"ProductCode": CODE, "ProductVersion": "9.3.1", "ALLUSERS": "2", "MSIINSTALLPERUSER": "1"}
        if name == "Get-InstalledProduct":
            return {"products": []}
        if name == "Get-InstallUser":
            return {"users": [self.user], "active_setup": None}
        raise AssertionError(f"{name} must not run after a hostile Get-InstallUser answer")


@pytest.mark.parametrize(
    ("sid", "account", "bad"),
    [
        ("..\\..\\Microsoft\\Windows\\Defender", "PC\\anna", "SID"),
        ("S-1-5-21-1-2-3-1001\\..\\x", "PC\\anna", "SID"),
        ("S-1-5-21-1-2-3-1001", 'PC\\anna" /RU SYSTEM', "account"),
        ("S-1-5-21-1-2-3-1001", "PC\\anna\r\nPC\\admin", "account"),
        ("S-1-5-21-1-2-3-1001", "PC\\a\\b", "account"),
    ],
)
def test_hostile_user_answer_registers_no_task(sid: str, account: str, bad: str) -> None:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(scope="user", path="C:\\pkg\\suite.msi", product_code=CODE, version="9.3.1")
    host = UserHost({"name": account, "account": account, "sid": sid, "session_id": 1, "error": None})
    with pytest.raises(PrimitiveError, match=f"refused the host's answer: {bad}"):
        action._run(host, base)
    assert "Register-UserInstallTask" not in host.calls


# -- office_processes: the PIDs answered go back to the host as what to stop ---------------------------------
class ProcessHost:
    def __init__(self, procs: list[dict[str, t.Any]]) -> None:
        self.procs = procs
        self.calls: list[str] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        self.calls.append(name)
        if name == "Get-SessionProcess":
            return {"sessions": [{"id": 1, "user": "PC\\anna"}], "processes": self.procs}
        raise AssertionError(f"{name} must not run after a hostile Get-SessionProcess answer")


START = "2025-03-04T07:00:00.0000000Z"


@pytest.mark.parametrize(
    "proc",
    [
        {"pid": 4, "name": "System", "session_id": 0, "user": None, "start_time": START},
        {"pid": 612, "name": "lsass.exe", "session_id": 0, "user": "NT AUTHORITY\\SYSTEM", "start_time": START},
        {"pid": "400; 612", "name": "WINWORD.EXE", "session_id": 1, "user": "PC\\anna", "start_time": START},
        {"pid": 400, "name": "WINWORD.EXE", "session_id": "1", "user": "PC\\anna", "start_time": START},
        "WINWORD.EXE",
    ],
)
def test_process_not_asked_about_is_never_stopped(proc: t.Any) -> None:
    action = office_processes.ActionModule.__new__(office_processes.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    base = {name: spec.get("default") for name, spec in office_processes.ARGUMENT_SPEC.items()}
    base.update(state="absent", force=True, deadline=0, notify=False, attempts=3, interval=1)
    host = ProcessHost([proc])
    with pytest.raises(PrimitiveError, match="refused the host's answer: process"):
        action._run(host, base, clock=lambda: 0.0, sleep=lambda _s: None)
    assert "Stop-SessionProcess" not in host.calls


# -- url: the host names the folder and the files of its download; msiexec runs what they point at ----------
class DownloadHost:
    def __init__(self, folder: t.Callable[[str], t.Any], files: list[t.Any]) -> None:
        self.folder, self.files = folder, files
        self.calls: list[str] = []
        self.stats = CallStats()

    def run(self, name: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
        self.calls.append(name)
        if name == "Save-PackageUrl":
            return {"present": True, "downloaded": True, "folder": self.folder(args["directory"]), "files": self.files}
        raise AssertionError(f"{name} must not run after a hostile Save-PackageUrl answer")


def url_args() -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(url="https://packages.example.com/suite/suite-9.3.1.zip", checksum="5e" * 32)
    return base


@pytest.mark.parametrize(
    ("folder", "files"),
    [
        (lambda d: "\\\\attacker\\share", ["Suite.msi"]),
        (lambda d: d + "\\package\\..\\..\\..", ["Suite.msi"]),
        (lambda d: d + "\\package", ["..\\..\\..\\Temp\\evil.msi"]),
        (lambda d: d + "\\package", ["C:\\Temp\\evil.msi"]),
        (lambda d: d + "\\package", ["\\\\attacker\\share\\evil.msi"]),
        (lambda d: d + "\\package", ["Suite.msi:evil"]),
        (lambda d: d + "\\package", "Suite.msi"),
    ],
)
def test_download_answer_outside_the_cache_folder_runs_nothing(folder: t.Callable[[str], t.Any], files: t.Any) -> None:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    host = DownloadHost(folder, files)
    with pytest.raises(PrimitiveError, match="refused the host's answer"):
        action._run(host, url_args())
    assert host.calls == ["Save-PackageUrl"]
