"""msi_package scope=user for the logged-on test user: msiexec runs in that user's own context."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

from .kit import Ansible, same_account

USER_TASK = """
- name: per user
  rollout.windows.msi_package:
    src: "{{ src }}"
    scope: user
    users: ["{{ user }}"]
    state: "{{ state }}"
    user_timeout: 900
"""

Packages = dict[str, dict[str, str]]


def run_for_user(ansible: Ansible, host: str, src: str, user: str, state: str) -> dict[str, t.Any]:
    run = ansible.playbook(USER_TASK, hosts=host, extra_vars={"src": src, "user": user, "state": state})
    return run.result(host, "per user")


def user_products(ansible: Ansible, host: str, upgrade_code: str, user: str) -> list[dict[str, t.Any]]:
    run = ansible.playbook(
        "- name: facts\n  rollout.windows.product_info: {upgrade_code: '{{ code }}'}\n",
        hosts=host,
        extra_vars={"code": upgrade_code},
    )
    result = run.result(host, "facts")
    assert result["_status"] == "ok", run.stdout
    return [p for p in result["products"] if p["scope"] == "user" and same_account(p["user"], user)]


@pytest.fixture
def package(ansible: Ansible, host: str, logged_on_user: str, packages: Packages) -> Iterator[dict[str, str]]:
    chosen = packages["user-1.0.0"]
    run_for_user(ansible, host, chosen["dir"], logged_on_user, "absent")
    yield chosen
    result = run_for_user(ansible, host, chosen["dir"], logged_on_user, "absent")
    assert result["_status"] in {"ok", "changed"}, f"could not remove the kit's per-user product: {result}"


def test_per_user_install_runs_for_the_logged_on_user_then_rerun_is_ok(
    ansible: Ansible, host: str, logged_on_user: str, package: dict[str, str]
) -> None:
    result = run_for_user(ansible, host, package["dir"], logged_on_user, "present")
    assert result["pending"] == [], f"{logged_on_user} is not logged on: {result}"
    assert result["_status"] == "changed", result
    (entry,) = result["users"]
    assert same_account(entry["user"], logged_on_user), entry
    assert entry["status"] == "changed", entry
    assert entry["action"] == "install"
    assert entry["exit_code"] == 0, entry
    (product,) = user_products(ansible, host, package["upgrade_code"], logged_on_user)
    assert (product["product_code"], product["version"]) == (package["product_code"], "1.0.0")
    assert product["sid"], product

    again = run_for_user(ansible, host, package["dir"], logged_on_user, "present")
    assert again["_status"] == "ok", again
    assert [u["status"] for u in again["users"]] == ["ok"]

    removed = run_for_user(ansible, host, package["dir"], logged_on_user, "absent")
    assert removed["_status"] == "changed", removed
    assert [(u["action"], u["status"]) for u in removed["users"]] == [("remove", "changed")], removed["users"]
    assert user_products(ansible, host, package["upgrade_code"], logged_on_user) == []
