"""The controller side of the host cache: which stdin form goes when, the record, the counting, the fallbacks."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from ansible.plugins.loader import shell_loader

from ansible_collections.rollout.windows.plugins.plugin_utils import _primitive_cache, _winhost
from tools.ps_parse import check_source

NAME = "Get-HostInfo"
RESULT = {"computer_name": "PC1"}


class Connection:
    _shell = shell_loader.get("powershell")

    def __init__(self, address: str = "127.0.0.9") -> None:
        self.options = {"remote_addr": address, "port": 5985, "remote_user": "admin"}

    def get_option(self, name: str) -> t.Any:
        return self.options[name]


class Templar:
    def __init__(self, variables: dict[str, t.Any]) -> None:
        self.available_variables = variables

    def template(self, value: t.Any) -> t.Any:
        return value


class Host:
    """What a Windows host answers to each stdin form, scripted: ``kept`` is its primitive folder."""

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}
        self.sent: list[tuple[str, bytes]] = []
        self.admin = True
        self.miss: dict[str, t.Any] | None = None  # a scripted (hostile) cache-miss answer
        self.acl = "ok"

    def execute(self, cmd: str, in_data: bytes) -> dict[str, t.Any]:
        self.sent.append((cmd, in_data))
        parsed = _winhost.parse_stdin(in_data)
        assert parsed is not None
        if parsed.form == "cached":
            if self.miss is not None:
                return {"rc": 1, "stdout": json.dumps(self.miss), "stderr": ""}
            if parsed.sha256 not in self.kept:
                miss = {"failed": True, "cache_miss": parsed.name, "sha256": parsed.sha256, "reason": "absent"}
                return {"rc": 1, "stdout": json.dumps(miss), "stderr": ""}
            return {"rc": 0, "stdout": json.dumps(RESULT), "stderr": ""}
        if parsed.form == "store":
            if self.admin:
                assert parsed.sha256 is not None
                assert parsed.script is not None
                self.kept[parsed.sha256] = parsed.script
                report = {"stored": True, "dir": "C:\\ProgramData\\rollout.windows\\primitives", "acl": self.acl}
                report["removed"] = ["planted.ps1"] if self.acl == "reset" else []
            else:
                report = {"stored": False, "dir": "C:\\x", "msg": "PC1\\winrm is not an administrator of this host"}
            line = json.dumps({"rw_cache": report})
            return {"rc": 0, "stdout": line + "\r\n" + json.dumps(RESULT) + "\r\n", "stderr": ""}
        return {"rc": 0, "stdout": json.dumps(RESULT), "stderr": ""}

    def forms(self) -> list[str]:
        forms = []
        for _cmd, stdin in self.sent:
            parsed = _winhost.parse_stdin(stdin)
            assert parsed is not None
            forms.append(parsed.form)
        return forms


class Action:
    def __init__(self, host: Host, variables: dict[str, t.Any], address: str = "127.0.0.9") -> None:
        self._connection = Connection(address)
        self._templar = Templar({"inventory_hostname": "pc1", **variables})
        self._host = host

    def _low_level_execute_command(self, cmd: str, in_data: bytes) -> dict[str, t.Any]:
        return self._host.execute(cmd, in_data)


@pytest.fixture
def records(tmp_path: Path) -> dict[str, t.Any]:
    return {_primitive_cache.VAR_RECORD_DIR: str(tmp_path / "records")}


def worker(host: Host, variables: dict[str, t.Any]) -> _winhost.WinHost:
    """A WinHost as a freshly forked worker has it: nothing in memory, only the record on disk."""
    return _winhost.WinHost(Action(host, variables))


def test_a_fresh_host_gets_the_full_script_to_keep_and_then_only_the_hash(records: dict[str, t.Any]) -> None:
    host = Host()
    first = worker(host, records)
    assert first.run(NAME) == RESULT
    assert host.forms() == ["store"]
    assert first.stats.commands == 1
    second = worker(host, records)
    assert second.run(NAME, {"x": 1}) == RESULT
    assert host.forms() == ["store", "cached"]
    assert (second.stats.commands, second.stats.cached, second.stats.misses) == (1, 1, 0)
    cmd, stdin = host.sent[-1]
    assert len(cmd) + _winhost.script_chars(stdin) <= 2048
    assert b"Win32_OperatingSystem" not in stdin  # no primitive text at all, only its name and hash
    assert _winhost.script_sha256(NAME).encode() in stdin


def test_what_is_counted_is_what_was_sent(records: dict[str, t.Any]) -> None:
    host = Host()
    winhost = worker(host, records)
    winhost.run(NAME, {"a": "b"})
    winhost.run(NAME, {"a": "b"})
    assert host.forms() == ["store", "cached"]
    assert winhost.stats.bytes_sent == sum(len(cmd) + len(stdin) for cmd, stdin in host.sent)
    assert winhost.stats.by_primitive == {NAME: 2}


def test_a_stale_record_costs_one_command_and_sends_the_script_again(records: dict[str, t.Any]) -> None:
    host = Host()
    worker(host, records).run(NAME)
    host.kept.clear()  # the host was reinstalled, or someone emptied the folder
    winhost = worker(host, records)
    assert winhost.run(NAME) == RESULT
    assert host.forms() == ["store", "cached", "store"]
    assert (winhost.stats.commands, winhost.stats.misses) == (2, 1)
    assert winhost.warnings == []  # absent is ordinary: only a changed file is worth a warning
    worker(host, records).run(NAME)
    assert host.forms()[-1] == "cached"


def test_a_changed_kept_file_is_warned_about(records: dict[str, t.Any]) -> None:
    host = Host()
    worker(host, records).run(NAME)
    digest = _winhost.script_sha256(NAME)
    host.miss = {"failed": True, "cache_miss": NAME, "sha256": digest, "reason": "mismatch"}
    winhost = worker(host, records)
    host_answers = host.execute

    def once(cmd: str, in_data: bytes) -> dict[str, t.Any]:
        answer = host_answers(cmd, in_data)
        host.miss = None
        return answer

    winhost._action._host.execute = once  # type: ignore[attr-defined]
    assert winhost.run(NAME) == RESULT
    assert host.forms()[-2:] == ["cached", "store"]
    assert any("was not the collection's" in w for w in winhost.warnings)


@pytest.mark.parametrize(
    "miss",
    [
        {"failed": True, "cache_miss": "Restart-Host", "sha256": "0" * 64, "reason": "absent"},
        {"failed": True, "cache_miss": NAME, "sha256": "f" * 64, "reason": "absent"},
    ],
    ids=["another primitive", "another hash"],
)
def test_a_cache_miss_for_something_not_sent_is_refused(records: dict[str, t.Any], miss: dict[str, t.Any]) -> None:
    host = Host()
    worker(host, records).run(NAME)
    host.miss = miss
    winhost = worker(host, records)
    with pytest.raises(_winhost.PrimitiveError, match="which was not sent; nothing was sent again"):
        winhost.run(NAME)
    assert host.forms() == ["store", "cached"]  # nothing follows a hostile miss, least of all what it names


def test_a_cache_miss_to_the_full_script_is_refused(records: dict[str, t.Any]) -> None:
    host = Host()
    digest = _winhost.script_sha256(NAME)

    def miss(cmd: str, in_data: bytes) -> dict[str, t.Any]:
        host.sent.append((cmd, in_data))
        return {"rc": 1, "stdout": json.dumps({"failed": True, "cache_miss": NAME, "sha256": digest}), "stderr": ""}

    action = Action(host, records)
    action._low_level_execute_command = miss  # type: ignore[method-assign]
    with pytest.raises(_winhost.PrimitiveError, match="cache miss to a command that carried the whole script"):
        _winhost.WinHost(action).run(NAME)
    assert host.forms() == ["store"]


def test_a_host_that_cannot_keep_primitives_is_left_alone_for_the_run(records: dict[str, t.Any]) -> None:
    host = Host()
    host.admin = False
    first = worker(host, records)
    assert first.run(NAME) == RESULT
    assert any("cannot keep the collection's primitives" in w and "not an administrator" in w for w in first.warnings)
    later = worker(host, records)
    later.run(NAME)
    later.run("Get-FileState", {"paths": []})
    assert host.forms() == ["store", "full", "full"]
    assert later.warnings == []
    # The next run tries again (the account may have been made an administrator meanwhile).
    path = _primitive_cache.record_for(later._action)
    assert path is not False
    assert path.path is not None
    next_run = _primitive_cache.HostRecord(path.path, run_id=path.run_id + 1)
    assert next_run.usable()


def test_the_host_cache_can_be_switched_off(records: dict[str, t.Any], tmp_path: Path) -> None:
    host = Host()
    for value in (False, "false", "no"):
        winhost = worker(host, {**records, _primitive_cache.VAR_ENABLED: value})
        winhost.run(NAME)
        winhost.run(NAME)
    assert set(host.forms()) == {"full"}
    assert not (tmp_path / "records").exists()


def test_the_record_folder_comes_from_the_environment_without_a_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_primitive_cache.ENV_RECORD_DIR, str(tmp_path / "from-env"))
    host = Host()
    worker(host, {}).run(NAME)
    [record] = list((tmp_path / "from-env").iterdir())
    assert json.loads(record.read_text())["hashes"] == [_winhost.script_sha256(NAME)]


def test_another_host_or_account_has_its_own_record(records: dict[str, t.Any]) -> None:
    host = Host()
    worker(host, records).run(NAME)
    other = _winhost.WinHost(Action(host, records, address="127.0.0.10"))
    other.run(NAME)
    assert host.forms() == ["store", "store"]


def test_a_broken_record_is_no_record(records: dict[str, t.Any], tmp_path: Path) -> None:
    host = Host()
    worker(host, records).run(NAME)
    [record] = list((tmp_path / "records").iterdir())
    record.write_text('{"hashes": [1, "x"')
    worker(host, records).run(NAME)
    assert host.forms() == ["store", "store"]
    assert not [p for p in (tmp_path / "records").iterdir() if p.suffix == ".tmp"]


def test_a_reset_folder_is_reported(records: dict[str, t.Any]) -> None:
    host = Host()
    host.acl = "reset"
    winhost = worker(host, records)
    winhost.run(NAME)
    assert any("was made anew for administrators and SYSTEM only (removed: planted.ps1)" in w for w in winhost.warnings)


def test_without_a_host_address_the_record_stays_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_primitive_cache.ENV_RECORD_DIR, str(tmp_path / "records"))
    host = Host()
    action = Action(host, {})
    action._connection.options["remote_addr"] = None
    winhost = _winhost.WinHost(action)
    winhost.run(NAME)
    winhost.run(NAME)
    assert host.forms() == ["store", "cached"]
    assert not (tmp_path / "records").exists()


def test_the_store_report_is_never_the_result_line() -> None:
    result_only = json.dumps({"rw_cache": {"stored": True}})
    assert _primitive_cache.store_report(result_only + "\n") is None
    hostile = json.dumps({"rw_cache": {"stored": "yes", "acl": "wide open", "removed": "x", "msg": 5}})
    report = _primitive_cache.store_report(hostile + "\n" + json.dumps(RESULT))
    assert report == {"stored": False, "acl": None, "removed": [], "msg": "5", "dir": _primitive_cache.CACHE_FOLDER}


# -- the stdin forms --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _winhost.primitive_names())
def test_every_form_round_trips_and_the_cached_one_stays_under_2_kb(name: str) -> None:
    command = Connection._shell._encode_script(_winhost.bootstrap_script(), strict_mode=True, preserve_rc=False)
    args = {"k": "v\u00fc"}
    full = _winhost.parse_stdin(_winhost.build_stdin(name, args))
    cached = _winhost.parse_stdin(_winhost.build_cached_stdin(name, args))
    store = _winhost.parse_stdin(_winhost.build_store_stdin(name, args))
    assert full is not None
    assert cached is not None
    assert store is not None
    assert (full.form, full.name, full.script) == ("full", name, _winhost.build_script(name))
    assert (cached.form, cached.name, cached.sha256, cached.script) == (
        "cached",
        name,
        _winhost.script_sha256(name),
        None,
    )
    assert (store.form, store.name, store.script) == ("store", name, _winhost.build_script(name))
    assert json.loads(full.args) == json.loads(cached.args) == json.loads(store.args) == args
    assert _winhost.split_stdin(_winhost.build_store_stdin(name, args)) == (_winhost.build_script(name), store.args)
    assert len(command) + _winhost.script_chars(_winhost.build_cached_stdin(name, args)) <= 2048
    # What the host hashes is the script's lines joined again: exactly the bytes the controller hashed.
    assert "\n".join(_winhost.build_script(name).split("\n")).encode("ascii") == _winhost.build_script(name).encode()


def test_the_bootstrap_and_loaders_parse_as_powershell_5_1() -> None:
    for text in (_winhost.bootstrap_script(), _winhost.cached_loader(NAME), _winhost.store_loader(NAME)):
        assert text.isascii()
        assert check_source(text) == []
    assert "LanguageMode" in _winhost.bootstrap_script().splitlines()[1]  # the mode check comes first


def test_a_loader_takes_only_a_name_and_a_hash() -> None:
    with pytest.raises(ValueError, match="not a primitive name and hash"):
        _winhost.cached_loader(NAME, "'; Remove-Item C:\\ -Recurse; '" + "0" * 30)
    with pytest.raises(ValueError, match="not a primitive name and hash"):
        _winhost.store_loader("Get-HostInfo'; x", "0" * 64)


def test_the_constrained_language_answer_is_worded_by_the_controller() -> None:
    with pytest.raises(_winhost.PrimitiveError) as info:
        _winhost.parse_output(NAME, 1, '{"failed":true,"clm":"ConstrainedLanguage"}', "")
    assert "ConstrainedLanguage mode on this host (an AppLocker or WDAC policy)" in info.value.msg
    with pytest.raises(_winhost.PrimitiveError) as hostile:
        _winhost.parse_output(NAME, 1, '{"failed":true,"clm":"<b>x</b> and more"}', "")
    assert "bxb" in hostile.value.msg
    assert "<" not in hostile.value.msg
