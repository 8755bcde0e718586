# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout.windows.msi_package: decide on the controller, act on the host with primitives."""

from __future__ import annotations

import ntpath
import typing as t
from datetime import UTC, datetime
from pathlib import Path

from ansible.plugins.action import ActionBase

from ansible_collections.rollout.windows.plugins.plugin_utils import _msi, _retry
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "scope": {"type": "str", "choices": ["machine"], "default": "machine"},
    "src": {"type": "path"},
    "path": {"type": "str"},
    "product_code": {"type": "str"},
    "upgrade_code": {"type": "str"},
    "version": {"type": "str"},
    "properties": {"type": "dict", "default": {}},
    "transforms": {"type": "list", "elements": "str", "default": []},
    "allow_downgrade": {"type": "bool", "default": False},
    "busy_timeout": {"type": "int", "default": 600},
    "cache_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\cache"},
    "log_dir": {"type": "str", "default": "C:\\ProgramData\\rollout.windows\\logs"},
}
MUTUALLY_EXCLUSIVE = [["src", "path"]]
REQUIRED_IF = [["state", "present", ["src", "path"], True]]

# Windows Installer codes that are not failures for the task's goal.
_NOT_INSTALLED = 1605


class Package(t.NamedTuple):
    """The package as far as the controller knows it before touching the host."""

    product_code: str | None
    version: str | None
    upgrade_code: str | None
    msi_name: str | None
    files: list[_msi.PackageFile]
    folder: Path | None


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_diff = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, required_if=REQUIRED_IF
        )
        host = WinHost(self)
        try:
            result.update(self._run(host, args))
        except (PrimitiveError, ValueError) as exc:
            result.update(failed=True, msg=str(exc))
        result["winrm"] = {"commands": host.stats.commands, "bytes_sent": host.stats.bytes_sent}
        return result

    # -- deciding ------------------------------------------------------------------------------------------
    def _run(self, host: WinHost, args: dict[str, t.Any]) -> dict[str, t.Any]:
        if args["busy_timeout"] < 0:
            raise ValueError(f"busy_timeout must be 0 or more seconds, got {args['busy_timeout']}")
        package = self._package(args)
        if args["path"] and (package.product_code is None or package.version is None):
            package = self._package_from_host(host, args["path"], package)
        if package.product_code is None:
            raise ValueError("product_code is needed: give src, path, or product_code")
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
        if action == "downgrade" and current:
            removal = self._msiexec(host, args, "uninstall", current["product_code"])
            if removal.get("failed"):
                return {**result, **removal}
        target, transferred = self._stage(host, args, package)
        result.update(self._msiexec(host, args, "install", target))
        if transferred is not None:
            result["transferred"] = transferred
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
            return Package(product_code, version, upgrade_code, None, [], None)
        source = Path(self._find_needle("files", args["src"]))
        folder, msi_path = self._locate_msi(source)
        info = _msi.read_msi(msi_path.read_bytes())
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

    @staticmethod
    def _package_from_host(host: WinHost, path: str, known: Package) -> Package:
        facts = host.run("Get-MsiProperty", {"path": path})
        return known._replace(
            product_code=known.product_code or _msi.normalize_guid(facts["ProductCode"], "ProductCode of path"),
            version=known.version or facts.get("ProductVersion"),
            upgrade_code=known.upgrade_code or (facts.get("UpgradeCode") or "").upper() or None,
        )

    # -- acting ----------------------------------------------------------------------------------------------
    def _stage(self, host: WinHost, args: dict[str, t.Any], package: Package) -> tuple[str, list[str] | None]:
        """Host path of the .msi to run, copying the package into the host cache when it came from src."""
        if package.folder is None:
            return args["path"], None
        directory = ntpath.join(args["cache_dir"], _msi.cache_key(package.files))
        cache = host.run(
            "Initialize-PackageCache",
            {"directory": directory, "files": [{"path": f.relpath, "sha256": f.sha256} for f in package.files]},
        )
        for relpath in cache["stale"]:
            local = package.folder.joinpath(*relpath.split("\\"))
            self._connection.put_file(str(local), ntpath.join(cache["directory"], relpath))
            host.stats.commands += 1
            host.stats.bytes_sent += local.stat().st_size
        return ntpath.join(cache["directory"], package.msi_name or ""), list(cache["stale"])

    def _msiexec(self, host: WinHost, args: dict[str, t.Any], action: str, target: str) -> dict[str, t.Any]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        log_path = ntpath.join(args["log_dir"], f"msiexec-{action}-{stamp}.log")
        arguments = _msi.msiexec_arguments(
            action,
            target,
            log_path,
            args["properties"] if action == "install" else {},
            args["transforms"] if action == "install" else (),
        )

        def attempt() -> dict[str, t.Any]:
            return host.run("Invoke-Msiexec", {"arguments": arguments, "log_path": log_path})

        outcome, retries = _retry.retry_while(
            attempt, lambda r: _msi.exit_code(int(r["rc"])).retry_when_busy, float(args["busy_timeout"])
        )
        code = _msi.exit_code(int(outcome["rc"]))
        ok = code.ok or (action == "uninstall" and code.code == _NOT_INSTALLED)
        result: dict[str, t.Any] = {
            "exit_code": code.code,
            "exit_code_meaning": code.meaning,
            "reboot_required": code.reboot_required,
            "log_path": log_path,
            "busy_retries": retries,
        }
        if not ok:
            tail = list(outcome.get("log_tail") or [])
            result.update(
                failed=True,
                log_tail=tail,
                msg=f"msiexec {action} failed with exit code {code.code}: {code.meaning}"
                + (f" Log {log_path}, last line: {tail[-1]}" if tail else ""),
            )
        return result
