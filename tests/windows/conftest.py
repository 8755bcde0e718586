"""Fixtures of the real-Windows acceptance kit (``make test-windows``; README "Test on a real Windows host").

Without ROLLOUT_WINDOWS_INVENTORY every case is collected and skipped with the reason, so
pytest exits 0 and says why. Nothing here imports or starts the lab.
"""

from __future__ import annotations

import subprocess
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from .kit import ENV_INVENTORY, ENV_PACKAGES, ENV_USER, ROOT, VAR_USER, Ansible, Settings, Target, probe, same_account
from .packages import build_packages, describe

SETTINGS = Settings.from_env()


def pytest_report_header(config: pytest.Config) -> list[str]:
    reason = SETTINGS.skip_reason()
    if reason:
        return [f"rollout.windows acceptance kit: SKIPPED, {reason}"]
    return [
        f"rollout.windows acceptance kit: inventory {SETTINGS.inventory}, hosts {SETTINGS.pattern!r}",
        f"  test user {SETTINGS.test_user or '(from the inventory, if set)'}; "
        f"reboot {'on' if SETTINGS.reboot else 'off' if SETTINGS.reboot is False else '(from the inventory)'}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = SETTINGS.skip_reason()
    if reason:
        here = Path(__file__).parent
        for item in items:
            if here in Path(item.path).parents:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def ansible(tmp_path_factory: pytest.TempPathFactory) -> Ansible:
    assert SETTINGS.inventory is not None
    if not SETTINGS.inventory.exists():
        # A mistyped path is not "no host": skipping would look like a pass.
        missing = f"{ENV_INVENTORY}={SETTINGS.inventory} does not exist"
        pytest.exit(f"rollout.windows acceptance kit: {missing}", returncode=2)
    return Ansible(SETTINGS.inventory.resolve(), tmp_path_factory.mktemp("windows-plays"))


@pytest.fixture(scope="session")
def target(ansible: Ansible) -> Target:
    """The Windows host; a wrong inventory ends the run at once with the reason (not one error per case)."""
    try:
        found = probe(ansible, SETTINGS)
    except ValueError as exc:
        pytest.exit(f"rollout.windows acceptance kit: {exc}", returncode=2)
    if found.connection != "winrm" or not found.https:
        pytest.exit(
            f"rollout.windows acceptance kit: {found.host} must be reached over WinRM with HTTPS "
            f"(ansible_connection=winrm, ansible_winrm_scheme=https or port 5986); it has "
            f"connection={found.connection or '(unset)'} scheme={found.scheme or '(unset)'} "
            f"port={found.port or '(unset)'}",
            returncode=2,
        )
    return found


@pytest.fixture(scope="session")
def host(target: Target) -> str:
    return target.host


@pytest.fixture(scope="session")
def logged_on_user(ansible: Ansible, target: Target) -> str:
    """The admin's test user, who must be logged on now: a case that finds nobody would prove nothing."""
    user = target.test_user
    if not user:
        pytest.skip(
            f"no test user: set {ENV_USER}=<account> or the host variable {VAR_USER} to a user who is logged on "
            "to the host (console or Remote Desktop)"
        )
    run = ansible.playbook("- name: sessions\n  rollout.windows.office_processes:\n", hosts=target.host)
    sessions = run.result(target.host, "sessions").get("sessions") or []
    if not any(same_account(session.get("user"), user) for session in sessions):
        found = ", ".join(str(session.get("user")) for session in sessions) or "nobody"
        pytest.fail(
            f"test user {user} is not logged on to {target.host} (logged on: {found}); log on as {user} "
            "(console or Remote Desktop, and leave the session open) and run the kit again"
        )
    return user


@pytest.fixture(scope="session")
def packages() -> dict[str, dict[str, str]]:
    """The kit's own test packages: the admin's folder when given, else built here with wixl."""
    if SETTINGS.packages is not None:
        try:
            return describe(SETTINGS.packages)
        except FileNotFoundError as exc:
            pytest.exit(f"rollout.windows acceptance kit: {ENV_PACKAGES}: {exc}", returncode=2)
    try:
        return build_packages(ROOT / ".tmp" / "windows-kit" / "packages")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.exit(
            f"rollout.windows acceptance kit: cannot build the test packages ({exc}); install wixl and msibuild "
            f"(msitools, tools/setup.sh does) or give {ENV_PACKAGES}=<a folder that "
            "python -m tests.windows.packages build made>",
            returncode=2,
        )


REMOVE_MACHINE = """
- name: remove machine-1.1.0
  rollout.windows.msi_package: {src: "{{ packages['machine-1.1.0'].dir }}", state: absent}
- name: remove machine-1.0.0
  rollout.windows.msi_package: {src: "{{ packages['machine-1.0.0'].dir }}", state: absent}
- name: remove fail-1.0.0
  rollout.windows.msi_package: {src: "{{ packages['fail-1.0.0'].dir }}", state: absent}
"""


@pytest.fixture
def clean_machine(ansible: Ansible, host: str, packages: dict[str, dict[str, str]]) -> Iterator[None]:
    """No per-machine kit product before or after the test, whatever the test did."""

    def remove() -> None:
        run = ansible.playbook(REMOVE_MACHINE, hosts=host, extra_vars={"packages": packages})
        assert run.rc == 0, f"could not remove the kit's per-machine products:\n{run.stdout}"

    remove()
    yield
    remove()


def installed(ansible: Ansible, host: str, upgrade_code: str) -> list[dict[str, t.Any]]:
    """What product_info reports for one of the kit's product families."""
    run = ansible.playbook(
        "- name: facts\n  rollout.windows.product_info: {upgrade_code: '{{ code }}'}\n",
        hosts=host,
        extra_vars={"code": upgrade_code},
    )
    result = run.result(host, "facts")
    assert result["_status"] == "ok", run.stdout
    return list(result["products"])


@pytest.fixture
def products(ansible: Ansible, host: str) -> t.Callable[[str], list[dict[str, t.Any]]]:
    return lambda upgrade_code: installed(ansible, host, upgrade_code)
