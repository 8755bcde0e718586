# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.msi_package: decide on the controller, act on the host with primitives."""

from __future__ import annotations

import math
import ntpath
import re
import time
import typing as t
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._action import WinHostAction
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    "users": {"type": "list", "elements": "str", "default": []},
    # No static default: it is true exactly when users is empty.
    "logged_on_users": {"type": "bool"},
    "active_setup": {"type": "bool", "default": False},
    "user_timeout": {"type": "int", "default": 1800},
    "src": {"type": "path"},
    "path": {"type": "str"},
    "url": {"type": "str"},
    "proxy": {"type": "str"},
    "proxy_use_default_credentials": {"type": "bool", "default": False},
    "checksum": {"type": "str"},
    "product_code": {"type": "str"},
    "upgrade_code": {"type": "str"},
    "version": {"type": "str"},
    "properties": {"type": "dict", "default": {}},
    # Passed to msiexec like properties, hidden from its log (MsiHiddenProperties) and masked in every result.
    "secret_properties": {"type": "dict", "default": {}, "no_log": True},
    "transforms": {"type": "list", "elements": "str", "default": []},
    "allow_downgrade": {"type": "bool", "default": False},
    "busy_timeout": {"type": "int", "default": 600},
    # How long one msiexec may run before the task stops waiting for it (it is never killed).
    "msiexec_timeout": {"type": "int", "default": 3600},
    "cache_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\cache"},
    "log_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\logs"},
    # Whether a silent msiexec may shut down applications holding the package's files (_msi.RESTART_MANAGER).
    "restart_manager": {"type": "str", "choices": list(_msi.RESTART_MANAGER), "default": "disable"},
}
MUTUALLY_EXCLUSIVE = [["src", "path", "url"]]
REQUIRED_IF = [["state", "present", ["src", "path", "url"], True]]
# A download is only as trustworthy as its checksum, and a checksum checks nothing else.
REQUIRED_BY = {"url": ["checksum"], "checksum": ["url"], "proxy": ["url"]}

# Windows Installer codes that are not failures for the task's goal.
_NOT_INSTALLED = 1605
# Per-user installs run as one-shot scheduled tasks in this folder, one per user SID.
TASK_PATH = "\\rollout.windows\\"
# Longest wait one Wait-UserInstallTask command may spend on the host: below the WinRM operation
# timeout, so a long install costs one command per this many seconds instead of a tight poll.
WAIT_SECONDS = 15
# Active Setup expands environment variables in StubPath and cuts it at a line break: such
# characters in a value cannot be passed through it literally.
_STUB_UNSAFE = re.compile(r"[%\r\n\x00]")
# Bounds of one download on the host (Save-PackageUrl): a slow branch-office link gets an hour, and a
# server that never stops sending cannot fill the disk.
DOWNLOAD_TIMEOUT = 3600
DOWNLOAD_MAX_BYTES = 8 * 1024**3
# Said with every run that let Restart Manager close applications: the user whose work was lost asks.
_RM_ENABLED_WARNING = (
    "restart_manager=enable: msiexec {action} was allowed to shut down the applications holding the package's "
    "files, in every user's session and without asking; unsaved work in them is lost"
)


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


MIN_SECRET_LENGTH = 4


def _check_secret_properties(args: dict[str, t.Any]) -> None:
    """Secrets go only where no ordinary user can read them back; say so rather than leak them."""
    secrets = args["secret_properties"]
    if not secrets:
        return
    if args["scope"] == "user":
        raise ValueError(
            "secret_properties cannot be used with scope=user: a per-user install runs msiexec as that user, "
            "whose scheduled task command line, msiexec log and Active Setup entry (readable by every user) "
            "would hold the values; install per machine, or give the value another way"
        )
    short = sorted(name for name, value in secrets.items() if len(_msi.property_text(value)) < MIN_SECRET_LENGTH)
    if short:
        raise ValueError(
            f"secret_properties: {', '.join(short)} has a value under {MIN_SECRET_LENGTH} characters, which "
            "cannot be masked in output without hiding unrelated text; pass it in properties"
        )
    overlap = sorted({k.upper() for k in secrets} & {k.upper() for k in args["properties"]})
    if overlap:
        raise ValueError(f"properties and secret_properties both set {', '.join(overlap)}: give each once")
    if "MSIHIDDENPROPERTIES" in {k.upper() for k in secrets}:
        raise ValueError("secret_properties: MsiHiddenProperties is set by the module from the secret names")


class Package(t.NamedTuple):
    """The package as far as the controller knows it before touching the host."""

    product_code: str | None
    version: str | None
    upgrade_code: str | None
    msi_name: str | None
    files: list[_msi.PackageFile]
    folder: Path | None
    # The package's own Property table (ALLUSERS, MSIINSTALLPERUSER, ProductName), when read.
    properties: dict[str, str] | None = None
    # With url: what the host downloads, where the .msi is in its cache once there, and whether this run downloaded.
    download: _msi.PackageUrl | None = None
    host_path: str | None = None
    downloaded: bool = False


class Staged(t.NamedTuple):
    """The .msi on the host, ready for msiexec, and what getting it there cost."""

    target: str
    transferred: list[str] | None  # files copied from src into the cache
    downloaded: bool  # the host downloaded the url package in this run


class ActiveSetup(t.NamedTuple):
    """The product's Active Setup component: as wanted, as found, and what to do about it."""

    component: str
    wanted: dict[str, t.Any] | None
    before: dict[str, t.Any] | None
    action: str


# Per user: (the user as the host resolved them, their result entry, the product they have now).
UserPlan = tuple[dict[str, t.Any], dict[str, t.Any], dict[str, t.Any] | None]


class ActionModule(WinHostAction):
    # Files go straight into the host cache (WinHostAction has no remote temp folder).
    _supports_diff = True
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = {
        "mutually_exclusive": MUTUALLY_EXCLUSIVE,
        "required_if": REQUIRED_IF,
        "required_by": REQUIRED_BY,
    }

    def _secrets(self, args: dict[str, t.Any]) -> list[str]:
        values = [_msi.property_text(v) for v in args["secret_properties"].values()]
        if args["url"]:
            # A signed download URL carries its token in the query string (or, rarely, as userinfo).
            parts = urlsplit(args["url"])
            values += [parts.query, parts.password or ""]
        return values

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        # What the host fixed on the way (a cache or log folder whose ACL let users write) reaches the admin.
        self._host_notes: list[str] = []
        result = super().run(tmp, task_vars)
        if self._host_notes:
            result["warnings"] = [*result.get("warnings", []), *self._host_notes]
        return result

    def _note_reset(self, what: str, folder: str, removed: list[str] | None) -> None:
        gone = f"; removed what a user may have planted: {', '.join(removed)}" if removed else ""
        self._host_notes.append(
            f"{what} {folder} had an owner or ACL that let others than administrators write to it; "
            f"its ACL was reset to SYSTEM and Administrators (users read only where needed){gone}"
        )

    # -- deciding ------------------------------------------------------------------------------------------
    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
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
        package = self._package(args)
        # scope=user must know the package is a per-user one before anything runs.
        needs_context = per_user and args["state"] == "present" and package.properties is None
        facts_missing = package.product_code is None or package.version is None or needs_context
        if args["path"] and facts_missing:
            package = self._package_from_host(host, args["path"], package)
        elif package.download is not None and facts_missing:
            download = package.download
            package = self._fetch(host, args, package, download)
            if package.host_path is None and (package.product_code is None or needs_context):
                return self._undecided(args, package, download)
        if package.product_code is None:
            raise ValueError("product_code is needed: give src, path, url, or product_code")
        if per_user:
            return self._run_user(host, args, package)
        # The product family (UpgradeCode) finds older and newer versions under other ProductCodes.
        query = (
            {"upgrade_code": package.upgrade_code} if package.upgrade_code else {"product_code": package.product_code}
        )
        installed = host.run("Get-InstalledProduct", query)["products"]
        machine = [p for p in installed if p.get("scope") == "machine"]
        current = self._current(machine, package)
        previous_version = current["version"] if current else None
        action = self._decide(args, package, current)
        result: dict[str, t.Any] = {
            "action": action,
            "changed": action != "none",
            "product_code": package.product_code,
            "upgrade_code": package.upgrade_code,
            "version": package.version,
            "previous_version": previous_version,
            "reboot_required": False,
        }
        if package.download:
            result["downloaded"] = package.downloaded
        if self._task.diff:
            after = current
            if action == "remove":
                after = None
            elif action != "none":
                after = {"product_code": package.product_code, "version": package.version}
            result["diff"] = {
                "before": self._diff_state(current, args["scope"]),
                "after": self._diff_state(after, args["scope"]),
            }
        if action == "none" or self._task.check_mode:
            return result
        if action == "remove":
            result.update(self._msiexec(host, args, "uninstall", current["product_code"] if current else ""))
            return result
        # Staged first: a download or copy that fails must not leave the host without the newer version.
        staged = self._stage(host, args, package)
        if staged.transferred is not None:
            result["transferred"] = staged.transferred
        if package.download:
            result["downloaded"] = staged.downloaded
        if action == "downgrade" and current:
            removal = self._msiexec(host, args, "uninstall", current["product_code"])
            if removal.get("failed"):
                return {**result, **removal}
        result.update(self._msiexec(host, args, "install", staged.target))
        return result

    def _undecided(self, args: dict[str, t.Any], package: Package, download: _msi.PackageUrl) -> dict[str, t.Any]:
        """Check mode with a url package the host does not have yet and facts not given.

        What it installs is in the package, and getting it would change the host: so the
        answer is "a change", with a warning saying why it cannot be more precise.
        """
        present = args["state"] == "present"
        result: dict[str, t.Any] = {
            "action": "install" if present else "remove",
            "changed": True,
            "product_code": package.product_code,
            "upgrade_code": package.upgrade_code,
            "version": package.version,
            "previous_version": None,
            "reboot_required": False,
            "downloaded": False,
            "warnings": [
                f"check mode: {download.url} is not in the host's package cache yet, so what it installs "
                "is unknown without downloading it; reported as a change. Give product_code and version "
                "(and scope=machine) for an exact answer."
            ],
        }
        if args["scope"] == "user":
            result.update(users=[], pending=[], active_setup={"component": None, "action": "none"})
        if self._task.diff:
            result["diff"] = {
                "before": f"{args['scope']}: unknown (package not downloaded yet)\n",
                "after": f"{args['scope']}: {download.url}\n" if present else f"{args['scope']}: removed\n",
            }
        return result

    @staticmethod
    def _current(products: list[dict[str, t.Any]], package: Package) -> dict[str, t.Any] | None:
        """The installed machine product this package replaces: same ProductCode first, else same UpgradeCode."""
        same_code = [p for p in products if p.get("product_code", "").upper() == package.product_code]
        if same_code:
            return same_code[0]
        family = [
            p for p in products if package.upgrade_code and p.get("upgrade_code", "").upper() == package.upgrade_code
        ]
        return max(family, key=lambda p: _msi.version_key(p["version"]), default=None)

    @staticmethod
    def _decide(args: dict[str, t.Any], package: Package, current: dict[str, t.Any] | None) -> str:
        if args["state"] == "absent":
            return "remove" if current else "none"
        if current is None:
            return "install"
        if package.version is None:
            # Without a version, the same ProductCode installed is all we can check.
            return "none" if current["product_code"].upper() == package.product_code else "upgrade"
        order = _msi.compare_versions(current["version"], package.version)
        if order < 0:
            return "upgrade"
        if order > 0:
            return "downgrade" if args["allow_downgrade"] else "none"
        return "none"

    @staticmethod
    def _diff_state(product: dict[str, t.Any] | None, scope: str) -> str:
        if not product:
            return f"{scope}: not installed\n"
        return f"{scope}: {product['product_code']} {product.get('version') or '(version unknown)'}\n"

    # -- reading the package ---------------------------------------------------------------------------------
    def _package(self, args: dict[str, t.Any]) -> Package:
        product_code = _msi.normalize_guid(args["product_code"], "product_code") if args["product_code"] else None
        upgrade_code = _msi.normalize_guid(args["upgrade_code"], "upgrade_code") if args["upgrade_code"] else None
        version = args["version"]
        if version is not None:
            _msi.version_key(version)
        if not args["src"]:
            download = _msi.package_url(args["url"], args["checksum"] or "") if args.get("url") else None
            return Package(product_code, version, upgrade_code, None, [], None, download=download)
        source = Path(self._find_needle("files", args["src"]))
        folder, msi_path = self._locate_msi(source)
        info = _msi.read_msi(msi_path)
        files = _msi.scan_package_folder(folder, msi_path.name)
        missing = _msi.missing_payload(info.payload, [f.relpath for f in files])
        if missing:
            raise ValueError(
                f"src: the payload folder beside {msi_path.name} is incomplete; missing: {', '.join(missing)}"
            )
        return Package(
            product_code or info.product_code,
            version or info.product_version,
            upgrade_code or info.upgrade_code or None,
            msi_path.name,
            files,
            folder,
            dict(info.properties),
        )

    @staticmethod
    def _locate_msi(source: Path) -> tuple[Path, Path]:
        if source.is_file():
            if source.suffix.lower() != ".msi":
                raise ValueError(f"src: {source} is not an .msi file")
            return source.parent, source
        candidates = sorted(source.glob("*.msi")) + sorted(source.glob("*.MSI"))
        if len(set(candidates)) != 1:
            raise ValueError(f"src: {source} must hold exactly one .msi, found {len(set(candidates))}")
        return source, candidates[0]

    @classmethod
    def _package_from_host(cls, host: WinHost, path: str, known: Package) -> Package:
        """Facts not given by the user, read from the .msi on the host."""
        return cls._merged(known, cls._read_on_host(host, path, "path")[0])

    @staticmethod
    def _read_on_host(host: WinHost, path: str, option: str, payload: bool = False) -> tuple[Package, list[str]]:
        """What the .msi at ``path`` on the host says, and with ``payload`` the files it needs beside it."""
        facts = host.run("Get-MsiProperty", {"path": path, "payload": True} if payload else {"path": path})
        code = str(facts.get("ProductCode") or "")
        read = Package(
            _msi.normalize_guid(code, f"ProductCode of {option}") if code else None,
            facts.get("ProductVersion") or None,
            (facts.get("UpgradeCode") or "").upper() or None,
            ntpath.basename(str(facts.get("path") or path)),
            [],
            None,
            {k: str(facts.get(k) or "") for k in ("ALLUSERS", "MSIINSTALLPERUSER", "ProductName")},
        )
        if not payload:
            return read, []
        return read, _msi.payload_from_tables(int(facts.get("word_count") or 0), facts.get("tables") or {})

    @staticmethod
    def _merged(known: Package, read: Package) -> Package:
        """What the user gave wins over what the package says (documented as overriding it)."""
        return known._replace(
            product_code=known.product_code or read.product_code,
            version=known.version or read.version,
            upgrade_code=known.upgrade_code or read.upgrade_code,
            properties=read.properties,
        )

    def _fetch(self, host: WinHost, args: dict[str, t.Any], package: Package, download: _msi.PackageUrl) -> Package:
        """Bring a url package into the host's cache and read it there, as for path.

        In check mode the host only looks whether the package is already in its cache:
        downloading would change it. Without the package, ``host_path`` stays None.
        """
        request = {
            "url": download.url,
            "sha256": download.sha256,
            "directory": ntpath.join(args["cache_dir"], download.cache_key),
            "cache_dir": args["cache_dir"],
            "file_name": download.file_name,
            "expand": download.kind == ".zip",
            "check_only": bool(self._task.check_mode),
            "timeout_seconds": DOWNLOAD_TIMEOUT,
            "max_bytes": DOWNLOAD_MAX_BYTES,
            "proxy": args["proxy"],
            "proxy_use_default_credentials": args["proxy_use_default_credentials"],
        }
        try:
            saved = host.run("Save-PackageUrl", request)
        except PrimitiveError as exc:
            if "(407)" in exc.msg:
                hint = (
                    " (the proxy wants credentials the host cannot give: over WinRM with NTLM or Kerberos the "
                    "session cannot pass yours on (the double hop), so the host meets the proxy anonymously; "
                    "let the host's computer account or anonymous requests through for this URL)"
                )
                raise PrimitiveError(exc.name, exc.msg + hint, exc.rc, exc.stderr) from exc
            if "certificate" not in exc.msg.lower():
                raise
            # .NET's message names the certificate but not the usual cause, which is on the host.
            hint = (
                " (the host does not trust the server's certificate: the CA that issued it must be in the "
                "host's Trusted Root Certification Authorities store, and the certificate must name the URL's host)"
            )
            raise PrimitiveError(exc.name, exc.msg + hint, exc.rc, exc.stderr) from exc
        if not saved.get("present"):
            return package
        # The host picks the .msi msiexec runs from these: the folder must be the one asked for, the files in it.
        expected = ntpath.join(request["directory"], "package") if request["expand"] else request["directory"]
        folder = _answers.same_directory(saved.get("folder"), expected, "Save-PackageUrl")
        files = _answers.relative_paths(_answers.listed(saved, "files", "Save-PackageUrl"), "Save-PackageUrl")
        msi, beside = _msi.locate_msi(download, files)
        msi_path = ntpath.join(folder, msi)
        read, required = self._read_on_host(host, msi_path, "url", payload=True)
        self._check_given(package, read, download.url)
        missing = _msi.missing_payload(required, beside)
        if missing:
            what = "the .msi alone" if download.kind == ".msi" else "the zip"
            raise ValueError(
                f"url: {read.msi_name} needs payload files beside it that {what} does not hold "
                f"(publish the package folder as a .zip); missing: {', '.join(missing)}"
            )
        merged = self._merged(package, read)
        return merged._replace(msi_name=read.msi_name, host_path=msi_path, downloaded=bool(saved.get("downloaded")))

    @staticmethod
    def _check_given(given: Package, read: Package, url: str) -> None:
        """Facts given for a url must be the package's: wrong ones would reinstall it on every run."""
        if given.product_code and given.product_code != read.product_code:
            raise ValueError(
                f"product_code {given.product_code} does not match the package at {url}, "
                f"whose ProductCode is {read.product_code}"
            )
        if given.version and read.version and _msi.compare_versions(given.version, read.version) != 0:
            raise ValueError(
                f"version {given.version} does not match the package at {url}, whose ProductVersion is {read.version}"
            )

    # -- acting ----------------------------------------------------------------------------------------------
    def _stage(self, host: WinHost, args: dict[str, t.Any], package: Package) -> Staged:
        """Host path of the .msi to run, copying the package into the host cache when it came from src
        and having the host download it when it came from url (unless that already happened)."""
        if package.download is not None:
            fetched = package if package.host_path else self._fetch(host, args, package, package.download)
            if fetched.host_path is None:  # only a look in check mode finds nothing, and check mode never stages
                raise ValueError(f"url: {package.download.url} is not on the host")
            return Staged(fetched.host_path, None, fetched.downloaded)
        if package.folder is None:
            return Staged(args["path"], None, False)
        directory = ntpath.join(args["cache_dir"], _msi.cache_key(package.files))
        cache = host.run(
            "Initialize-PackageCache",
            {
                "directory": directory,
                "cache_dir": args["cache_dir"],
                "files": [{"path": f.relpath, "sha256": f.sha256} for f in package.files],
            },
        )
        if cache.get("acl") == "reset":
            self._note_reset(
                "the package cache", str(cache.get("cache_dir") or args["cache_dir"]), cache.get("removed")
            )
        # The host's answer picks which controller files are uploaded: only a relative path sent, exactly
        # as sent, maps to a file of the package folder ("../../.vault_pass" or "C:\\x" must never get that far).
        # Every entry is checked before the first upload, so a refused answer uploads nothing.
        sent = {f.relpath: f for f in package.files}
        stale = _answers.only_sent(
            _answers.listed(cache, "stale", "Initialize-PackageCache"), sent, "Initialize-PackageCache", "stale entry"
        )
        folder = _answers.same_directory(cache.get("directory"), directory, "Initialize-PackageCache")
        for relpath in stale:
            local = package.folder.joinpath(*relpath.split("\\"))
            self._connection.put_file(str(local), ntpath.join(folder, relpath))
            host.stats.commands += 1
            host.stats.bytes_sent += sent[relpath].size
        return Staged(ntpath.join(folder, package.msi_name or ""), stale, False)

    @staticmethod
    def _msiexec_run(args: dict[str, t.Any], action: str, target: str, who: str = "", sid: str = "") -> tuple[str, str]:
        """Log path and quoted command line of one msiexec run (properties and transforms only install).

        A per-user run logs into ``log_dir\\<SID>``, a folder only that user, SYSTEM and Administrators may
        write (Register-UserInstallTask sets its ACL): the log folder itself is administrators-only, since
        elevated msiexec writes there."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        label = f"{action}-{re.sub(r'[^A-Za-z0-9._-]+', '_', who)}" if who else action
        # The SID names a folder: the same rule as for every SID a host answers with.
        folder = ntpath.join(args["log_dir"], _answers.sid(sid, "Get-InstallUser")) if sid else args["log_dir"]
        log_path = ntpath.join(folder, f"msiexec-{label}-{stamp}.log")
        installing = action == "install"
        arguments = _msi.msiexec_arguments(
            action,
            target,
            log_path,
            _msi.with_secrets(args["properties"], args["secret_properties"]) if installing else {},
            args["transforms"] if installing else (),
            restart_manager=args["restart_manager"],
        )
        return log_path, _msi.command_line(arguments)

    def _msiexec(self, host: WinHost, args: dict[str, t.Any], action: str, target: str) -> dict[str, t.Any]:
        log_path, command_line = self._msiexec_run(args, action, target)
        request = {"command_line": command_line, "log_path": log_path, "timeout_seconds": args["msiexec_timeout"]}
        cache = ntpath.normpath(args["cache_dir"]).rstrip("\\")
        if ntpath.normpath(target).lower().startswith(cache.lower() + "\\"):
            # Run from the cache only while it still has the ACL Initialize-PackageCache gave it.
            request["package_dir"] = cache

        def attempt() -> dict[str, t.Any]:
            outcome = host.run("Invoke-Msiexec", request)
            if outcome.get("log_acl") == "reset":
                self._note_reset("the log folder", ntpath.dirname(log_path), outcome.get("removed"))
            return outcome

        outcome, retries = _retry.retry_while(
            attempt,
            lambda r: not r.get("running") and _msi.exit_code(int(r["rc"])).retry_when_busy,
            float(args["busy_timeout"]),
        )
        if outcome.get("running"):
            pid = outcome.get("pid")
            return {
                "failed": True,
                "still_running": True,
                "log_path": log_path,
                "busy_retries": retries,
                "msg": (
                    f"msiexec {action} is still running after msiexec_timeout={args['msiexec_timeout']} s "
                    f"(process {pid if isinstance(pid, int) else 'unknown'}); it was left to "
                    "finish, since stopping it mid-transaction can leave the product half installed. "
                    f"Its log is {log_path}; run again later (a rerun waits for it, as for 1618)."
                ),
            }
        code = _msi.exit_code(int(outcome["rc"]))
        ok = code.ok or (action == "uninstall" and code.code == _NOT_INSTALLED)
        result: dict[str, t.Any] = {
            "exit_code": code.code,
            "exit_code_meaning": code.meaning,
            "reboot_required": code.reboot_required,
            "log_path": log_path,
            "busy_retries": retries,
            "restart_manager": args["restart_manager"],
        }
        if args["restart_manager"] == "enable":
            result["warnings"] = [_RM_ENABLED_WARNING.format(action=action)]
        if not ok:
            tail = list(outcome.get("log_tail") or [])
            result.update(
                failed=True,
                log_tail=tail,
                msg=f"msiexec {action} failed with exit code {code.code}: {code.meaning}"
                + (f" Log {log_path}, last line: {tail[-1]}" if tail else ""),
            )
        return result

    # -- per user (scope=user) -------------------------------------------------------------------------------
    def _run_user(self, host: WinHost, args: dict[str, t.Any], package: Package) -> dict[str, t.Any]:
        present = args["state"] == "present"
        if args["user_timeout"] < 0:
            raise ValueError(f"user_timeout must be 0 or more seconds, got {args['user_timeout']}")
        logged_on = args["logged_on_users"] if args["logged_on_users"] is not None else not args["users"]
        if not args["users"] and not logged_on:
            raise ValueError("scope=user needs users, or logged_on_users=true (the default when users is empty)")
        if present:
            self._require_per_user(args, package)
        # Keyed by the product family, not the ProductCode: every version has its own ProductCode, and
        # one component whose Version stamp changes is what makes Active Setup run a new version again.
        component = package.upgrade_code or package.product_code
        wanted = self._active_setup_wanted(args, package) if present and args["active_setup"] else None

        query = (
            {"upgrade_code": package.upgrade_code} if package.upgrade_code else {"product_code": package.product_code}
        )
        installed = host.run("Get-InstalledProduct", query)["products"]
        found = host.run(
            "Get-InstallUser", {"users": list(args["users"]), "logged_on": logged_on, "active_setup": component}
        )
        by_sid: dict[str, list[dict[str, t.Any]]] = {}
        for product in installed:
            if product.get("scope") == "user" and product.get("sid"):
                by_sid.setdefault(str(product["sid"]).upper(), []).append(product)
        plans = [self._plan_user(args, package, who, by_sid) for who in found["users"]]
        before = found.get("active_setup")
        setup = ActiveSetup(component, wanted, before, self._active_setup_action(present, wanted, before))

        entries = [plan[1] for plan in plans]
        result: dict[str, t.Any] = {
            "product_code": package.product_code,
            "upgrade_code": package.upgrade_code,
            "version": package.version,
            "previous_version": None,
            "users": entries,
            "active_setup": {"component": component, "action": setup.action, **(wanted or before or {})},
        }
        if package.download:
            result["downloaded"] = package.downloaded
        if self._task.diff:
            result["diff"] = self._user_diff(plans, package, setup)
        if not self._task.check_mode:
            self._act_for_users(host, args, package, plans, setup)
        acted = {e["action"] for e in entries if e["status"] in ("changed", "failed")}
        result.update(
            action="none" if not acted else acted.pop() if len(acted) == 1 else "mixed",
            changed=setup.action != "none" or any(e["status"] == "changed" for e in entries),
            reboot_required=any(e["reboot_required"] for e in entries),
            pending=[e["user"] for e in entries if e["status"] == "pending"],
        )
        if args["restart_manager"] == "enable" and result["action"] != "none" and not self._task.check_mode:
            result["warnings"] = [_RM_ENABLED_WARNING.format(action=result["action"])]
        failed = [e for e in entries if e["status"] == "failed"]
        if failed:
            result.update(failed=True, msg="per-user install failed: " + "; ".join(str(e["msg"]) for e in failed))
        return result

    @staticmethod
    def _require_per_user(args: dict[str, t.Any], package: Package) -> None:
        """scope=user with a per-machine package would install for the whole computer: refuse it up front."""
        if package.properties is None:
            raise ValueError("scope=user needs the package's properties: give src or path")
        effective = {**package.properties, **{k.upper(): str(v) for k, v in args["properties"].items()}}
        if _msi.install_context(effective) != "user":
            raise ValueError(
                f"scope=user needs a per-user package (ALLUSERS empty, or ALLUSERS=2 with MSIINSTALLPERUSER=1); "
                f"{package.msi_name or args['path']} has ALLUSERS={effective.get('ALLUSERS', '')!r} and "
                f"MSIINSTALLPERUSER={effective.get('MSIINSTALLPERUSER', '')!r}: install it with scope=machine"
            )

    def _plan_user(
        self,
        args: dict[str, t.Any],
        package: Package,
        who: dict[str, t.Any],
        by_sid: dict[str, list[dict[str, t.Any]]],
    ) -> UserPlan:
        entry: dict[str, t.Any] = {
            "user": who.get("account") or who.get("name"),
            "action": "none",
            "previous_version": None,
            "exit_code": None,
            "exit_code_meaning": None,
            "reboot_required": False,
            "status": "ok",
        }
        if who.get("error") or not who.get("sid"):
            entry.update(status="failed", msg=f"{who.get('name')}: {who.get('error') or 'no such account'}")
            return who, entry, None
        # The SID names the scheduled task and the account is who it runs as: both must look like Windows'.
        _answers.sid(who["sid"], "Get-InstallUser")
        _answers.account(entry["user"], "Get-InstallUser")
        current = self._current(by_sid.get(str(who["sid"]).upper(), []), package)
        entry["previous_version"] = current["version"] if current else None
        entry["action"] = self._decide(args, package, current)
        if entry["action"] != "none":
            # Only a logged-on user can run the install now; Active Setup (if enabled) does it at logon.
            entry["status"] = "changed" if who.get("session_id") is not None else "pending"
        return who, entry, current

    def _active_setup_wanted(self, args: dict[str, t.Any], package: Package) -> dict[str, t.Any]:
        if package.version is None:
            raise ValueError("active_setup needs the package version: give src, path or version")
        arguments = _msi.msiexec_arguments(
            "install",
            self._target_path(args, package),
            None,
            args["properties"],
            args["transforms"],
            restart_manager=args["restart_manager"],
        )
        unsafe = [a for a in arguments if _STUB_UNSAFE.search(a)]
        if unsafe:
            raise ValueError(
                "active_setup: Active Setup expands %VARIABLES% and stops at line breaks in its command line, "
                f"so this cannot be passed literally: {unsafe[0]!r}"
            )
        properties = package.properties or {}
        return {
            "name": properties.get("ProductName") or package.product_code,
            # Active Setup compares comma-separated versions; the MSI's fourth field means nothing to it.
            "version": ",".join(str(n) for n in _msi.version_key(package.version)),
            "stub_path": _msi.command_line(["msiexec.exe", *arguments]),
            "is_installed": 1,
        }

    @staticmethod
    def _active_setup_action(present: bool, wanted: dict[str, t.Any] | None, before: dict[str, t.Any] | None) -> str:
        if not present:
            # Left in place it would install the product again at the next logon.
            return "remove" if before else "none"
        if wanted is None:
            return "none"
        if before is None:
            return "register"
        same = all(str(before.get(key)) == str(value) for key, value in wanted.items())
        return "none" if same else "update"

    def _target_path(self, args: dict[str, t.Any], package: Package) -> str:
        """Where the .msi is on the host: the content-addressed cache path _stage fills, or ``path``."""
        if package.download is not None:
            # scope=user always reads a url package on the host first (it must be a per-user one).
            if package.host_path is None:
                raise ValueError("url: the package is not on the host yet")
            return package.host_path
        if package.folder is None:
            return str(args["path"])
        return ntpath.join(args["cache_dir"], _msi.cache_key(package.files), package.msi_name or "")

    def _user_diff(self, plans: list[UserPlan], package: Package, setup: ActiveSetup) -> dict[str, str]:
        before, after = [], []
        new = {"product_code": package.product_code, "version": package.version}
        for _who, entry, current in plans:
            before.append(self._diff_state(current, entry["user"]))
            if entry["status"] == "changed":
                after.append(self._diff_state(None if entry["action"] == "remove" else new, entry["user"]))
            elif entry["status"] == "pending":
                later = "at next logon (Active Setup)" if setup.wanted else "not logged on"
                after.append(self._diff_state(current, entry["user"]).rstrip("\n") + f" (pending: {later})\n")
            else:
                after.append(self._diff_state(current, entry["user"]))

        def setup_line(state: dict[str, t.Any] | None) -> str:
            return f"active setup: {state['version']} {state['stub_path']}\n" if state else "active setup: none\n"

        before.append(setup_line(setup.before))
        after.append(setup_line(None if setup.action == "remove" else setup.wanted or setup.before))
        return {"before": "".join(before), "after": "".join(after)}

    def _act_for_users(
        self, host: WinHost, args: dict[str, t.Any], package: Package, plans: list[UserPlan], setup: ActiveSetup
    ) -> None:
        installs = any(e["status"] == "changed" and e["action"] != "remove" for e in (plan[1] for plan in plans))
        target = ""
        if installs or setup.action in ("register", "update"):
            target = self._stage(host, args, package).target
        if setup.action == "remove":
            host.run("Set-ActiveSetup", {"component": setup.component, "state": "absent"})
        elif setup.action != "none" and setup.wanted is not None:
            host.run("Set-ActiveSetup", {"component": setup.component, "state": "present", **setup.wanted})
        # One user after another: Windows Installer runs one installation per computer at a time.
        for who, entry, current in plans:
            if entry["status"] != "changed":
                continue
            if entry["action"] in ("remove", "downgrade") and current:
                outcome = self._user_msiexec(host, args, who, "uninstall", current["product_code"])
                if outcome.get("failed") or entry["action"] == "remove":
                    self._record(entry, outcome)
                    continue
            self._record(entry, self._user_msiexec(host, args, who, "install", target))

    @staticmethod
    def _record(entry: dict[str, t.Any], outcome: dict[str, t.Any]) -> None:
        failed = bool(outcome.pop("failed", False))
        pending = bool(outcome.pop("pending", False))
        entry.update(outcome, status="failed" if failed else "pending" if pending else "changed")

    def _user_msiexec(
        self, host: WinHost, args: dict[str, t.Any], who: dict[str, t.Any], action: str, target: str
    ) -> dict[str, t.Any]:
        """msiexec in the user's own context: a one-shot task as that user, polled until it ends."""
        account = str(who.get("account") or who.get("name"))
        log_path, command_line = self._msiexec_run(args, action, target, account, str(who["sid"]))
        task = {"task_name": f"msi_package-{who['sid']}", "task_path": TASK_PATH}

        def attempt() -> dict[str, t.Any]:
            start = {**task, "user": account, "command_line": command_line, "log_path": log_path}
            start["user_sid"] = str(who["sid"])
            registered = host.run("Register-UserInstallTask", start)
            if registered.get("log_acl") == "reset":
                self._note_reset(f"{account}'s log folder", ntpath.dirname(log_path), registered.get("removed"))
            deadline = time.monotonic() + args["user_timeout"]
            while True:
                remaining = deadline - time.monotonic()
                wait = max(1, math.ceil(min(WAIT_SECONDS, remaining)))
                query = {**task, "log_path": log_path, "wait_seconds": wait, "user_sid": who["sid"]}
                state = host.run("Wait-UserInstallTask", query)
                if state.get("state") == "UserLoggedOff":
                    return {"rc": None, "logged_off": True, "log_tail": []}
                if state.get("finished"):
                    # LastTaskResult is unsigned; from 0x80000000 on it is the task's launch HRESULT.
                    launch_error = _msi.task_launch_error(int(state["rc"]))
                    if launch_error is not None:
                        return {"rc": None, "launch_error": launch_error, "log_tail": []}
                    return {"rc": int(state["rc"]), "log_tail": list(state.get("log_tail") or [])}
                if deadline - time.monotonic() <= 0:
                    return {"rc": None, "log_tail": []}

        outcome, retries = _retry.retry_while(
            attempt,
            lambda r: r["rc"] is not None and _msi.exit_code(r["rc"]).retry_when_busy,
            float(args["busy_timeout"]),
        )
        result: dict[str, t.Any] = {
            "log_path": log_path,
            "busy_retries": retries,
            "restart_manager": args["restart_manager"],
        }
        if outcome.get("logged_off"):
            # Nothing ran: like a user who was never logged on, the install waits for the next logon.
            return {
                **result,
                "pending": True,
                "msg": f"{account}: logged off before msiexec {action} could start in their session; "
                "task removed, nothing was changed for this user",
            }
        if outcome.get("launch_error"):
            return {
                **result,
                "failed": True,
                "msg": f"{account}: the scheduled task could not start msiexec {action}: {outcome['launch_error']}",
            }
        if outcome["rc"] is None:
            return {
                **result,
                "failed": True,
                "msg": f"{account}: msiexec {action} did not end within user_timeout={args['user_timeout']}s; "
                f"task {TASK_PATH}{task['task_name']} is left in place, log {log_path}",
            }
        code = _msi.exit_code(outcome["rc"])
        result.update(exit_code=code.code, exit_code_meaning=code.meaning, reboot_required=code.reboot_required)
        if not (code.ok or (action == "uninstall" and code.code == _NOT_INSTALLED)):
            tail = outcome["log_tail"]
            result.update(
                failed=True,
                log_tail=tail,
                msg=f"{account}: msiexec {action} failed with exit code {code.code}: {code.meaning}"
                + (f" Log {log_path}, last line: {tail[-1]}" if tail else ""),
            )
        return result
