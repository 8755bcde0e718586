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
from ansible_collections.rollout.windows.plugins.plugin_utils import _msi
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError
from tests.unit.plugins.action.fakehost import START_O as START
from tests.unit.plugins.action.fakehost import FakeConnection, FakeHost

CACHE = "C:\\ProgramData\\rollout.windows\\cache"


def cache_host(answer: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]) -> FakeHost:
    """A lab host with nothing installed whose Initialize-PackageCache answer the test chooses."""
    host = FakeHost()
    host.answer("Initialize-PackageCache", answer)
    return host


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
    host = cache_host(answer)
    with pytest.raises(PrimitiveError) as caught:
        action._run(host, src_args(msi_folder))
    assert repr(entry) in str(caught.value)
    assert "not one the controller sent" in str(caught.value)
    assert connection.uploads == []
    assert "Invoke-Msiexec" not in host.names()


@pytest.mark.parametrize("stale", ["suite.msi", {"path": "x"}, [["a"]], [None], [42]])
def test_stale_that_is_not_a_list_of_sent_paths_is_refused(msi_folder: Path, stale: t.Any) -> None:
    action, connection = src_action()
    host = cache_host(lambda args: {"directory": args["directory"], "stale": stale})
    with pytest.raises(PrimitiveError, match="refused the host's answer"):
        action._run(host, src_args(msi_folder))
    assert connection.uploads == []


def test_an_honest_answer_uploads_exactly_the_stale_files_once(msi_folder: Path) -> None:
    def answer(args: dict[str, t.Any]) -> dict[str, t.Any]:
        files = [f["path"] for f in args["files"]]
        # Resolve-Path may give the folder in another case; a repeated entry is copied once.
        return {"directory": args["directory"].upper(), "stale": [files[1], files[1], files[0]]}

    action, connection = src_action()
    host = cache_host(answer)
    # The uploads are only recorded, not made on the lab host: msiexec's answer is the test's too.
    host.answer("Invoke-Msiexec", {"rc": 0, "log_tail": []})
    result = action._run(host, src_args(msi_folder))
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
    host = cache_host(lambda args: {"directory": directory, "stale": [args["files"][0]["path"]]})
    with pytest.raises(PrimitiveError, match="directory"):
        action._run(host, src_args(msi_folder))
    assert connection.uploads == []


# -- scope=user: the host names the users, and each becomes a scheduled task run as them ---------------------
def user_host(built_packages: Path, user: dict[str, t.Any]) -> tuple[FakeHost, dict[str, t.Any]]:
    """A lab host with the per-user package at C:\\pkg\\suite.msi whose Get-InstallUser answer is ``user``."""
    host = FakeHost()
    package = (built_packages / "user-9.3.1" / "ExampleOfficeSuite.msi").read_bytes()
    host.lab.files.mkdir("C:\\pkg")
    host.lab.files.write_bytes("C:\\pkg\\suite.msi", package)
    host.answer("Get-InstallUser", {"users": [user], "active_setup": None})
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(
        scope="user", path="C:\\pkg\\suite.msi", product_code=_msi.read_msi(package).product_code, version="9.3.1"
    )
    return host, base


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
def test_hostile_user_answer_registers_no_task(built_packages: Path, sid: str, account: str, bad: str) -> None:
    action = msi_package.ActionModule.__new__(msi_package.ActionModule)
    action._task = types.SimpleNamespace(check_mode=False, diff=False)
    host, base = user_host(
        built_packages, {"name": account, "account": account, "sid": sid, "session_id": 1, "error": None}
    )
    with pytest.raises(PrimitiveError, match=f"refused the host's answer: {bad}"):
        action._run(host, base)
    assert "Register-UserInstallTask" not in host.names()
    assert host.lab.tasks == {}


# -- office_processes: the PIDs answered go back to the host as what to stop ---------------------------------
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
    host = FakeHost()
    host.answer("Get-SessionProcess", {"sessions": [{"id": 1, "user": "PC\\anna"}], "processes": [proc]})
    with pytest.raises(PrimitiveError, match="refused the host's answer: process"):
        action._run(host, base, clock=host.clock, sleep=host.sleep)
    assert "Stop-SessionProcess" not in host.names()


# -- url: the host names the folder and the files of its download; msiexec runs what they point at ----------
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
    host = FakeHost()
    host.answer(
        "Save-PackageUrl",
        lambda args: {"present": True, "downloaded": True, "folder": folder(args["directory"]), "files": files},
    )
    with pytest.raises(PrimitiveError, match="refused the host's answer"):
        action._run(host, url_args())
    assert host.names() == ["Save-PackageUrl"]
