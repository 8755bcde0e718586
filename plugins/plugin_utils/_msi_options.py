# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""msi_package's options as one typed value, checked once before anything touches a host.

ansible-core's argument spec checks types, choices and which options go together; what it cannot
say (a timeout's range, a proxy URL's shape, where secrets may go) is checked here, so every later
step works with values that are already known to be sound.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi

# A secret shorter than this would mask unrelated text in every result ("abc" inside "fabric").
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class MsiOptions:
    """The validated options of one msi_package task (see plugins/modules/msi_package.py)."""

    state: str
    scope: str
    users: tuple[str, ...]
    # Resolved: true exactly when users is empty and the task did not say otherwise.
    logged_on_users: bool
    active_setup: bool
    user_timeout: int
    src: str | None
    path: str | None
    url: str | None
    proxy: str | None
    proxy_use_default_credentials: bool
    checksum: str | None
    product_code: str | None  # upper case in braces, the form Windows registers
    upgrade_code: str | None
    version: str | None
    properties: t.Mapping[str, t.Any]
    secret_properties: t.Mapping[str, t.Any]
    transforms: tuple[str, ...]
    allow_downgrade: bool
    busy_timeout: int
    msiexec_timeout: int
    cache_dir: str
    log_dir: str
    restart_manager: str

    @property
    def present(self) -> bool:
        return self.state == "present"

    @property
    def per_user(self) -> bool:
        return self.scope == "user"

    @classmethod
    def from_args(cls, args: t.Mapping[str, t.Any]) -> MsiOptions:
        """The options of ``args`` (as the argument spec validated them), or ValueError naming the bad one."""
        if args["busy_timeout"] < 0:
            raise ValueError(f"busy_timeout must be 0 or more seconds, got {args['busy_timeout']}")
        _check_secret_properties(args)
        if args["msiexec_timeout"] <= 0:
            raise ValueError(f"msiexec_timeout must be 1 or more seconds, got {args['msiexec_timeout']}")
        if args["proxy"] is not None:
            _check_proxy(args["proxy"])
        per_user = args["scope"] == "user"
        if not per_user and (args["users"] or args["logged_on_users"] or args["active_setup"]):
            raise ValueError("users, logged_on_users and active_setup apply only with scope=user")
        logged_on = args["logged_on_users"] if args["logged_on_users"] is not None else not args["users"]
        if per_user:
            if args["user_timeout"] < 0:
                raise ValueError(f"user_timeout must be 0 or more seconds, got {args['user_timeout']}")
            if not args["users"] and not logged_on:
                raise ValueError("scope=user needs users, or logged_on_users=true (the default when users is empty)")
        if args["version"] is not None:
            _msi.version_key(args["version"])
        return cls(
            state=args["state"],
            scope=args["scope"],
            users=tuple(args["users"]),
            logged_on_users=bool(logged_on),
            active_setup=bool(args["active_setup"]),
            user_timeout=args["user_timeout"],
            src=args["src"],
            path=args["path"],
            url=args["url"],
            proxy=args["proxy"],
            proxy_use_default_credentials=bool(args["proxy_use_default_credentials"]),
            checksum=args["checksum"],
            product_code=_guid(args["product_code"], "product_code"),
            upgrade_code=_guid(args["upgrade_code"], "upgrade_code"),
            version=args["version"],
            properties=dict(args["properties"]),
            secret_properties=dict(args["secret_properties"]),
            transforms=tuple(args["transforms"]),
            allow_downgrade=bool(args["allow_downgrade"]),
            busy_timeout=args["busy_timeout"],
            msiexec_timeout=args["msiexec_timeout"],
            cache_dir=args["cache_dir"],
            log_dir=args["log_dir"],
            restart_manager=args["restart_manager"],
        )


def _guid(value: str | None, option: str) -> str | None:
    return _msi.normalize_guid(value, option) if value else None


def secrets(args: t.Mapping[str, t.Any]) -> list[str]:
    """What no result may show: the secret properties' values, and a signed download URL's token."""
    values = [_msi.property_text(v) for v in (args.get("secret_properties") or {}).values()]
    if args.get("url"):
        # A signed download URL carries its token in the query string (or, rarely, as userinfo).
        parts = urlsplit(args["url"])
        values += [parts.query, parts.password or ""]
    return values


def _check_proxy(proxy: str) -> None:
    """A proxy is ``http(s)://host[:port]``: no path, and no credentials (the URL is logged and returned)."""
    parts = urlsplit(proxy)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("proxy has an invalid port") from exc
    # The value is not echoed: it may hold a password.
    if "@" in parts.netloc:
        raise ValueError("proxy must not hold credentials: use proxy_use_default_credentials")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("proxy must be an http:// or https:// URL with a host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
        raise ValueError("proxy must be http(s)://host[:port] alone, without a path")


def _check_secret_properties(args: t.Mapping[str, t.Any]) -> None:
    """Secrets go only where no ordinary user can read them back; say so rather than leak them."""
    given = args["secret_properties"]
    if not given:
        return
    if args["scope"] == "user":
        raise ValueError(
            "secret_properties cannot be used with scope=user: a per-user install runs msiexec as that user, "
            "whose scheduled task command line, msiexec log and Active Setup entry (readable by every user) "
            "would hold the values; install per machine, or give the value another way"
        )
    short = sorted(name for name, value in given.items() if len(_msi.property_text(value)) < MIN_SECRET_LENGTH)
    if short:
        raise ValueError(
            f"secret_properties: {', '.join(short)} has a value under {MIN_SECRET_LENGTH} characters, which "
            "cannot be masked in output without hiding unrelated text; pass it in properties"
        )
    overlap = sorted({k.upper() for k in given} & {k.upper() for k in args["properties"]})
    if overlap:
        raise ValueError(f"properties and secret_properties both set {', '.join(overlap)}: give each once")
    if "MSIHIDDENPROPERTIES" in {k.upper() for k in given}:
        raise ValueError("secret_properties: MsiHiddenProperties is set by the module from the secret names")
