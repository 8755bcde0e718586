"""_msi_options: msi_package's options, checked once and frozen."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from ansible_collections.rollout.windows.plugins.action import msi_package
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions, secrets


def args(**overrides: t.Any) -> dict[str, t.Any]:
    base = {name: spec.get("default") for name, spec in msi_package.ARGUMENT_SPEC.items()}
    base.update(path="C:\\pkg\\suite.msi")
    base.update(overrides)
    return base


def test_values_are_normalised_and_frozen() -> None:
    options = MsiOptions.from_args(args(product_code="10010f76-051b-5bdc-831e-4348d9b33a7f", transforms=["a.mst"]))
    assert options.product_code == "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    assert options.upgrade_code is None
    assert options.transforms == ("a.mst",)
    assert options.present
    assert not options.per_user
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.state = "absent"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("users", "given", "resolved"), [([], None, True), (["anna"], None, False), (["anna"], True, True)]
)
def test_logged_on_users_defaults_to_true_exactly_without_users(
    users: list[str], given: bool | None, resolved: bool
) -> None:
    options = MsiOptions.from_args(args(scope="user", users=users, logged_on_users=given))
    assert options.logged_on_users is resolved
    assert options.users == tuple(users)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"busy_timeout": -1}, "busy_timeout must be 0 or more"),
        ({"msiexec_timeout": 0}, "msiexec_timeout must be 1 or more"),
        ({"user_timeout": -1, "scope": "user"}, "user_timeout must be 0 or more"),
        ({"scope": "user", "logged_on_users": False}, "scope=user needs users"),
        ({"users": ["anna"]}, "apply only with scope=user"),
        ({"proxy": "http://user:pw@proxy:8080"}, "must not hold credentials"),
        ({"proxy": "http://proxy:8080/path"}, "without a path"),
        ({"proxy": "ftp://proxy"}, "http:// or https://"),
        ({"secret_properties": {"KEY": "abc"}}, "under 4 characters"),
        ({"secret_properties": {"KEY": "abcd"}, "properties": {"key": "x"}}, "both set KEY"),
        ({"secret_properties": {"MsiHiddenProperties": "abcd"}}, "set by the module"),
        ({"secret_properties": {"KEY": "abcd"}, "scope": "user"}, "cannot be used with scope=user"),
        ({"version": "latest"}, "not an MSI version"),
        ({"upgrade_code": "nope"}, "upgrade_code must be a GUID"),
    ],
)
def test_bad_options_are_refused_naming_the_option(overrides: dict[str, t.Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MsiOptions.from_args(args(**overrides))


def test_secrets_are_the_secret_values_and_the_url_token() -> None:
    found = secrets(args(secret_properties={"KEY": "S3cret", "ON": True}, url="https://h/p.msi?sig=T0ken"))
    assert found == ["S3cret", "1", "sig=T0ken", ""]
    assert secrets(args()) == []
