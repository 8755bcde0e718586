"""The lab's msiexec: real MSI files installed, upgraded, refused and removed as Windows Installer does."""

from __future__ import annotations

import asyncio
import string
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.clock import Clock
from lab.host.msiargs import parse_arguments
from lab.host.msiregister import USERDATA
from lab.host.registry import pack_guid

UNINSTALL = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def run(host: Any, argv: list[str], user: str | None = None) -> Any:
    return asyncio.run(host.msiexec(argv, user or host.username))


def install(host: Any, msi: str, *extra: str, log: str = "C:\\Windows\\Temp\\i.log") -> Any:
    return run(host, ["/i", msi, "/qn", "/norestart", "/L*V", log, *extra])


def log_text(host: Any, path: str) -> str:
    raw = host.files.read_bytes(path)
    assert raw.startswith(b"\xff\xfe")
    return raw[2:].decode("utf-16-le")


def test_per_machine_install_registers_like_windows(kit: Any) -> None:
    host = kit.host()
    info = kit.packages["machine-9.3.0"]
    msi = kit.stage(host, "machine-9.3.0")
    result = install(host, msi)
    assert result.rc == 0
    pc = info["product_code"]
    arp = host.registry.values(f"{UNINSTALL}\\{pc}")
    assert arp["DisplayName"].data == "Example Office Suite"
    assert arp["DisplayVersion"].data == "9.3.0"
    assert arp["Publisher"].data == "Example Corp"
    assert arp["WindowsInstaller"].data == 1
    assert arp["UninstallString"].data == f"MsiExec.exe /X{pc}"
    assert arp["InstallDate"].data == host.clock.now().strftime("%Y%m%d")
    props = host.registry.values(f"HKLM\\{USERDATA}\\S-1-5-18\\Products\\{pack_guid(pc)}\\InstallProperties")
    assert props["DisplayVersion"].data == "9.3.0"
    assert host.files.is_file(props["LocalPackage"].data)
    assert host.files.is_file(r"C:\Program Files\Example Office Suite\ExampleSuite.AddIn.dll")
    assert host.registry.get(r"HKLM\Software\Example Corp\Example Office Suite", "Version") == "9.3.0"
    text = log_text(host, "C:\\Windows\\Temp\\i.log")
    assert "Product: Example Office Suite -- Installation completed successfully." in text
    assert "MainEngineThread is returning 0" in text


def test_major_upgrade_removes_the_older_version(kit: Any) -> None:
    host = kit.host()
    assert install(host, kit.stage(host, "machine-9.2.0")).rc == 0
    assert install(host, kit.stage(host, "machine-9.3.1")).rc == 0
    versions = sorted(p["version"] for p in host.products.values())
    assert versions == ["9.3.1"]
    assert not host.registry.key_exists(f"{UNINSTALL}\\{kit.packages['machine-9.2.0']['product_code']}")
    assert host.registry.key_exists(f"{UNINSTALL}\\{kit.packages['machine-9.3.1']['product_code']}")


def test_downgrade_is_blocked_by_the_launch_condition(kit: Any) -> None:
    host = kit.host()
    assert install(host, kit.stage(host, "machine-9.3.1")).rc == 0
    result = install(host, kit.stage(host, "machine-9.2.0"), log="C:\\Windows\\Temp\\d.log")
    assert result.rc == 1603
    assert "A newer version of Example Office Suite is already installed." in log_text(host, "C:\\Windows\\Temp\\d.log")
    assert [p["version"] for p in host.products.values()] == ["9.3.1"]


def test_same_product_code_other_version_is_1638_and_same_version_is_maintenance(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    assert install(host, msi).rc == 0
    assert install(host, msi).rc == 0  # maintenance mode: nothing to do
    product = next(iter(host.products.values()))
    product["version"] = "9.3.7"  # as if a rebuilt package kept the ProductCode
    assert install(host, msi).rc == 1638


def test_missing_package_log_folder_transform_and_bad_command_line(kit: Any) -> None:
    host = kit.host()
    assert install(host, "C:\\nowhere\\x.msi").rc == 1619
    msi = kit.stage(host, "machine-9.3.0")
    assert install(host, msi, log="C:\\no\\such\\dir\\x.log").rc == 1622
    assert install(host, msi, "TRANSFORMS=custom.mst").rc == 1624
    assert run(host, ["/i", msi, "/bogus"]).rc == 1639
    assert run(host, ["/qn"]).rc == 1639
    host.files.write_bytes("C:\\Cache\\not.msi", b"hello")
    assert install(host, "C:\\Cache\\not.msi").rc == 1620
    assert host.products == {}


def test_missing_payload_file_fails_naming_it(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0", skip=("ExampleSuite.Core.dll",))
    result = install(host, msi)
    assert result.rc == 1603
    text = log_text(host, "C:\\Windows\\Temp\\i.log")
    assert "Error 1308. Source file not found: C:\\Cache\\machine-9.3.0\\payload\\ExampleSuite.Core.dll" in text
    assert "MainEngineThread is returning 1603" in text
    assert host.products == {}


def test_second_msiexec_while_one_runs_gets_1618(kit: Any) -> None:
    kit.clock = Clock(virtual=True)  # the first install cannot finish in real time before the second starts
    host = kit.host()
    host.apply_control({"behaviour": {"msiexec_duration": [30, 30]}})
    msi = kit.stage(host, "machine-9.3.0")

    async def both() -> list[Any]:
        first = asyncio.ensure_future(host.msiexec(["/i", msi, "/qn"], host.username))
        await kit.clock.sleep(5)  # 5 simulated seconds into the first one's 30
        second = await host.msiexec(["/i", msi, "/qn"], host.username)
        return [await first, second]

    first, second = asyncio.run(both())
    assert (first.rc, second.rc) == (0, 1618)
    assert first.duration >= 30  # simulated seconds


def test_busy_window_and_queued_results(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    host.apply_control({"behaviour": {"msiexec_busy_seconds": 3600}})
    assert install(host, msi).rc == 1618
    host.apply_control({"behaviour": {"msiexec_busy_seconds": 0, "msiexec_results": [1618, 1603, 3010]}})
    assert install(host, msi).rc == 1618
    assert install(host, msi).rc == 1603
    assert host.products == {}
    assert install(host, msi).rc == 3010
    assert host.pending_reboot
    assert len(host.products) == 1


def test_3010_without_norestart_reboots_the_host(kit: Any) -> None:
    kit.clock = Clock(virtual=True)  # the downtime passes on the lab's clock only, never while the machine is busy
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    host.apply_control({"behaviour": {"msiexec_results": [3010], "reboot_downtime": 120}})
    boot = host.boot_id
    started = kit.clock.now()
    result = run(host, ["/i", msi, "/qn"])
    assert result.rc == 1641
    assert host.boot_id == boot + 1
    assert [(r["boot_id"], r["downtime"]) for r in host.reboots] == [(boot + 1, 120)]
    # The new boot begins after the downtime, counted from the end of the install.
    ended = started + timedelta(seconds=result.duration)
    assert host.boot_time == ended + timedelta(seconds=120)
    assert not host.pending_reboot
    assert [p["version"] for p in host.products.values()] == ["9.3.0"]
    assert not host.network_up()
    kit.clock.advance(119)
    assert not host.network_up()
    kit.clock.advance(1)
    assert host.network_up()


def test_uninstall_by_product_code(kit: Any) -> None:
    host = kit.host()
    info = kit.packages["machine-9.3.0"]
    assert install(host, kit.stage(host, "machine-9.3.0")).rc == 0
    assert run(host, ["/x", info["product_code"], "/qn", "/norestart"]).rc == 0
    assert host.products == {}
    assert not host.registry.key_exists(f"{UNINSTALL}\\{info['product_code']}")
    assert not host.files.exists(r"C:\Program Files\Example Office Suite\ExampleSuite.AddIn.dll")
    assert host.registry.get(r"HKLM\Software\Example Corp\Example Office Suite", "Version") is None
    assert run(host, ["/x", info["product_code"], "/qn"]).rc == 1605


def test_per_user_install_for_two_users(kit: Any) -> None:
    host = kit.host(users=["alice", "bob"])
    info = kit.packages["user-9.3.0"]
    msi = kit.stage(host, "user-9.3.0")
    for user in ("alice", "bob"):
        host.register_task(
            "install", user=user, trigger={"type": "once"}, exe="msiexec.exe", arguments=["/i", msi, "/qn"]
        )
        task = asyncio.run(host.run_task("install"))
        assert task["last_result"] == 0
    packed = pack_guid(info["product_code"])
    for user in ("alice", "bob"):
        sid = host.sid_of(user)
        with host.registry.loaded(sid):  # the user's hive, whether or not the user is still logged on
            arp = host.registry.values(
                f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{info['product_code']}"
            )
            assert host.registry.get(rf"HKU\{sid}\Software\Example Corp\Example Office Suite", "AutoUpdate") == "0"
        assert arp["DisplayVersion"].data == "9.3.0"
        assert host.registry.key_exists(f"HKLM\\{USERDATA}\\{sid}\\Products\\{packed}\\InstallProperties")
        assert host.files.is_file(f"C:\\Users\\{user}\\AppData\\Local\\Programs\\Example Office Suite\\manifest.xml")
    assert not host.registry.key_exists(f"{UNINSTALL}\\{info['product_code']}")
    # Uninstalling as alice removes only alice's copy.
    host.register_task(
        "remove",
        user="alice",
        trigger={"type": "once"},
        exe="msiexec.exe",
        arguments=["/x", info["product_code"], "/qn"],
    )
    assert asyncio.run(host.run_task("remove"))["last_result"] == 0
    assert [p["user"] for p in host.products.values()] == ["bob"]


def test_allusers_on_the_command_line_overrides_the_package(kit: Any) -> None:
    host = kit.host()
    msi = kit.stage(host, "user-9.3.0")
    assert install(host, msi, "ALLUSERS=1").rc == 0
    assert [p["scope"] for p in host.products.values()] == ["machine"]


def test_parse_arguments_is_case_insensitive_and_literal() -> None:
    inv = parse_arguments(["-I", "C:\\a b\\x.msi", "/QN", "/L*v", "C:\\l.txt", 'P="q"', "E=", "/NoRestart"])
    assert (inv.action, inv.target, inv.ui, inv.restart, inv.log_path) == (
        "install",
        "C:\\a b\\x.msi",
        "quiet",
        "norestart",
        "C:\\l.txt",
    )
    assert inv.properties == {"P": '"q"', "E": ""}


HOSTILE = st.lists(
    st.sampled_from([*string.printable, "ä", "€", "`", "$(whoami)", "\r\n", '""', "'", ";", "%TEMP%", "[ProductName]"]),
    max_size=30,
).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_property_values_arrive_literally(kit: Any, value: str) -> None:
    host = kit.host()
    msi = kit.stage(host, "machine-9.3.0")
    result = install(host, msi, f"BACKENDURL={value}", "EXTRA_PROP=" + value)
    assert result.rc == 0
    product = next(iter(host.products.values()))
    assert product["properties"] == {"BACKENDURL": value, "EXTRA_PROP": value}
    # The package writes [BACKENDURL] to the registry: single-pass formatting, no expansion of the value.
    # (A formatted value starting with '#' is a typed value for Windows Installer, e.g. '#0' a DWORD.)
    if not value.startswith("#"):
        assert host.registry.get(r"HKLM\Software\Example Corp\Example Office Suite", "BackendUrl") == value


# msiexec reads one command line; the controller's quoting must survive it unchanged.
_HOSTILE = st.sampled_from([*list("ab \"\\';$()`\n\t&|<>%^!{}[]="), "ä", "€"])


@given(st.lists(st.text(_HOSTILE, min_size=1, max_size=12), max_size=4), st.text(_HOSTILE, max_size=30))
def test_controller_quoting_round_trips_through_msiexec_parsing(paths: list[str], value: str) -> None:
    from ansible_collections.rollout.windows.plugins.plugin_utils._msi import command_line
    from lab.host.msiargs import split_command_line

    arguments = ["/i", *paths, "/qn", "/L*V", "C:\\log dir\\x.log", f"PROP={value}"]
    assert split_command_line(command_line(arguments)) == arguments
