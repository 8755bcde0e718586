# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an MSI package is and how it reaches the host, for msi_package.

A package comes one of three ways: ``src``, a folder (or .msi) on the controller that is copied
into the host's content-addressed cache; ``path``, an .msi the host can already read; ``url``, a
.msi or .zip the host downloads into its cache, checked against ``checksum``. :func:`locate` says
what the package is (reading the .msi on the controller, or on the host when facts are missing);
:func:`deliver` puts it where msiexec runs it from. A download happens only in :func:`_fetch`.
"""

from __future__ import annotations

import base64
import hashlib
import ntpath
import os
import typing as t
from dataclasses import dataclass, replace
from pathlib import Path

from ansible_collections.rollout.windows.plugins.plugin_utils import _answers, _msi, _msi_cache
from ansible_collections.rollout.windows.plugins.plugin_utils._msi_options import MsiOptions
from ansible_collections.rollout.windows.plugins.plugin_utils._winhost import PrimitiveError, WinHost

# Bounds of one download on the host (Save-PackageUrl): a slow branch-office link gets an hour, and a
# server that never stops sending cannot fill the disk.
DOWNLOAD_TIMEOUT = 3600
DOWNLOAD_MAX_BYTES = 8 * 1024**3
# The properties that say where Windows Installer puts a package, and what Active Setup calls it.
CONTEXT_PROPERTIES = ("ALLUSERS", "MSIINSTALLPERUSER", "ProductName")


# What delivering needs of the task's connection: its own file transfer, put_file(local, remote).
Upload = t.Callable[[str, str], None]


# A package up to this size travels inline in Initialize-PackageCache's arguments. Base64 makes it 4/3 larger,
# and the arguments must stay under Windows PowerShell 5.1's ConvertFrom-Json limit of 2,097,152 characters
# (JavaScriptSerializer.MaxJsonLength: "The length of the string exceeds the value set on the maxJsonLength
# property."), with room for the paths and hashes.
INLINE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Package:
    """The package as far as the controller knows it; facts the task gave win over the package's own."""

    product_code: str | None
    version: str | None
    upgrade_code: str | None
    msi_name: str | None
    files: tuple[_msi.PackageFile, ...] = ()  # with src: the controller folder's files, the .msi first
    folder: Path | None = None  # with src: the controller folder
    # The package's own Property table (ALLUSERS, MSIINSTALLPERUSER, ProductName), when read.
    properties: t.Mapping[str, str] | None = None
    # With url: what the host downloads, where the .msi is in its cache once there, and whether this run downloaded.
    download: _msi.PackageUrl | None = None
    # With src and every fact given: the package found on the controller, read only when it is delivered.
    unread: Path | None = None
    host_path: str | None = None
    downloaded: bool = False


@dataclass(frozen=True)
class Delivered:
    """The .msi on the host, ready for msiexec, and what getting it there took."""

    target: str
    transferred: list[str] | None  # with src: the files copied into the cache (None for path and url)
    downloaded: bool  # with url: the host downloaded the package in this run
    # With poll: the host's answer listing the sessions and those processes, taken by the command that brought
    # the package inline, after writing it (unchecked: the Office gate reads it); None when it took more commands.
    polled: t.Any = None


def folder_reset_note(what: str, folder: str, removed: list[str] | None) -> str:
    """The warning for a folder the host found writable by others and gave back to administrators."""
    gone = f"; removed what a user may have planted: {', '.join(removed)}" if removed else ""
    return (
        f"{what} {folder} had an owner or ACL that let others than administrators write to it; "
        f"its ACL was reset to SYSTEM and Administrators (users read only where needed){gone}"
    )


def needs_context(options: MsiOptions, package: Package) -> bool:
    """scope=user must know the package is a per-user one before anything runs."""
    return options.per_user and options.present and package.properties is None


def locate(host: WinHost, options: MsiOptions, find: t.Callable[[str], str], check_mode: bool) -> Package:
    """What the package is: read on the controller (src), else on the host for facts the task did not give.

    ``find`` resolves ``src`` as Ansible finds a task's files. In check mode a url package is only
    looked for in the host's cache, since downloading it would change the host.
    """
    if options.src and _facts_given(options):
        # Deciding needs only the facts: a host that already has the version costs the controller no read.
        return Package(
            options.product_code, options.version, options.upgrade_code, None, unread=Path(find(options.src))
        )
    package = _on_controller(options, find)
    if package.product_code is not None and package.version is not None and not needs_context(options, package):
        return package
    if options.path:
        return _merged(package, _read_on_host(host, options.path, "path")[0])
    if package.download is not None:
        return _fetch(host, options, package, check_only=check_mode)
    return package


def target_path(options: MsiOptions, package: Package) -> str:
    """Where the .msi is on the host once delivered: the content-addressed cache path, or ``path``."""
    if package.download is not None:
        # scope=user always reads a url package on the host first (it must be a per-user one).
        if package.host_path is None:
            raise ValueError("url: the package is not on the host yet")
        return package.host_path
    if package.folder is None:
        return str(options.path)
    return ntpath.join(_cache_folder(options, package), package.msi_name or "")


def deliver(
    host: WinHost,
    options: MsiOptions,
    package: Package,
    *,
    notes: list[str],
    upload: Upload,
    poll: list[str] | None = None,
) -> Delivered:
    """Put the package where msiexec runs it from: copy src into the cache with ``upload``, have the
    host download url (unless :func:`locate` already did), or take ``path`` as it is. ``notes`` gets the
    host's repairs. With ``poll`` (process names) a package that travels inline also lists the sessions and
    those processes in the same command, after it is written (:attr:`Delivered.polled`)."""
    if package.download is not None:
        fetched = package if package.host_path else _fetch(host, options, package, check_only=False)
        if fetched.host_path is None:  # only a look in check mode finds nothing, and check mode never delivers
            raise ValueError(f"url: {package.download.url} is not on the host")
        return Delivered(fetched.host_path, None, fetched.downloaded)
    if package.unread is not None:
        package = _read_src(options, package.unread)
    if package.folder is None:
        return Delivered(str(options.path), None, False)
    return _fill_cache(host, options, package, notes=notes, upload=upload, poll=poll)


# -- on the controller ------------------------------------------------------------------------------------
def _facts_given(options: MsiOptions) -> bool:
    """product_code, version and upgrade_code (the family finds the version a major upgrade replaces), per machine."""
    return bool(options.product_code and options.version and options.upgrade_code) and not options.per_user


def _on_controller(options: MsiOptions, find: t.Callable[[str], str]) -> Package:
    if not options.src:
        download = _msi.package_url(options.url, options.checksum or "") if options.url else None
        return Package(options.product_code, options.version, options.upgrade_code, None, download=download)
    return _read_src(options, Path(find(options.src)))


def _read_src(options: MsiOptions, source: Path) -> Package:
    folder, msi_path = msi_in(source)
    files = _msi.scan_package_folder(folder, msi_path.name)
    # The .msi comes first, with the hash of its bytes: parsed once per content on this controller, not per host.
    info = _msi_cache.read_msi(msi_path, files[0].sha256)
    if _facts_given(options):
        # What was decided from the given facts must be what is installed.
        read = info.facts()
        for option in ("product_code", "version", "upgrade_code"):
            given, found = str(getattr(options, option)), read[option]
            same = _msi.version_key(given) == _msi.version_key(found) if option == "version" else given.upper() == found
            if not same:
                raise ValueError(f"{option}: {given} was given, but {msi_path.name} has {found or 'none'}")
    missing = _msi.missing_payload(info.payload, [f.relpath for f in files])
    if missing:
        raise ValueError(f"src: the payload folder beside {msi_path.name} is incomplete; missing: {', '.join(missing)}")
    return Package(
        options.product_code or info.product_code,
        options.version or info.product_version,
        options.upgrade_code or info.upgrade_code or None,
        msi_path.name,
        tuple(files),
        folder,
        dict(info.properties),
    )


def msi_in(source: Path) -> tuple[Path, Path]:
    """(package folder, .msi) of ``src``: an .msi file, or a folder that holds exactly one."""
    if source.is_file():
        if source.suffix.lower() != ".msi":
            raise ValueError(f"src: {source} is not an .msi file")
        return source.parent, source
    candidates = sorted(source.glob("*.msi")) + sorted(source.glob("*.MSI"))
    if len(set(candidates)) != 1:
        raise ValueError(f"src: {source} must hold exactly one .msi, found {len(set(candidates))}")
    return source, candidates[0]


def _cache_folder(options: MsiOptions, package: Package) -> str:
    return ntpath.join(options.cache_dir, _msi.cache_key(package.files))


def _fill_cache(
    host: WinHost, options: MsiOptions, package: Package, *, notes: list[str], upload: Upload, poll: list[str] | None
) -> Delivered:
    """Copy what the host's cache folder for this content lacks; the host checks what it already has.

    A package of at most :data:`INLINE_BYTES` travels inside the same command, base64 in the arguments, and
    the host writes only the files it lacks: one command instead of one more per file. A larger one is
    asked about first, then its missing files are copied one by one with the connection's own transfer.
    """
    if package.folder is None:
        raise ValueError("the package has no controller folder to copy from")
    directory = _cache_folder(options, package)
    inline = sum(f.size for f in package.files) <= INLINE_BYTES
    entries: list[dict[str, str]] = []
    for f in package.files:
        entry = {"path": f.relpath, "sha256": f.sha256}
        if inline:
            data = package.folder.joinpath(*f.relpath.split("\\")).read_bytes()
            # The bytes sent are the ones hashed when the package was read: a file changed since is refused here.
            if hashlib.sha256(data).hexdigest() != f.sha256:
                raise ValueError(f"src: {f.relpath} changed while the task ran; run it again")
            entry["content"] = base64.b64encode(data).decode("ascii")
        entries.append(entry)
    request: dict[str, t.Any] = {"directory": directory, "cache_dir": options.cache_dir, "files": entries}
    if inline and poll is not None:
        # Only inline: files copied one by one afterwards would make the listing old by the time msiexec runs.
        request["processes"] = poll
    cache = host.run("Initialize-PackageCache", request)
    if cache.get("acl") == "reset":
        cache_dir = str(cache.get("cache_dir") or options.cache_dir)
        notes.append(folder_reset_note("the package cache", cache_dir, cache.get("removed")))
    # The host's answer picks which controller files are uploaded: only a relative path sent, exactly
    # as sent, maps to a file of the package folder ("../../.vault_pass" or "C:\\x" must never get that far).
    # Every entry is checked before the first upload, so a refused answer uploads nothing.
    sent = {f.relpath: f for f in package.files}
    stale = _answers.only_sent(
        _answers.listed(cache, "stale", "Initialize-PackageCache"), sent, "Initialize-PackageCache", "stale entry"
    )
    written = _answers.only_sent(
        _answers.listed(cache, "written", "Initialize-PackageCache"), sent, "Initialize-PackageCache", "written entry"
    )
    folder = _answers.same_directory(cache.get("directory"), directory, "Initialize-PackageCache")
    for relpath in stale:
        _put_file(host, upload, str(package.folder.joinpath(*relpath.split("\\"))), ntpath.join(folder, relpath))
    polled = cache.get("office") if "processes" in request and not stale else None
    return Delivered(ntpath.join(folder, package.msi_name or ""), [*written, *stale], False, polled)


def _put_file(host: WinHost, upload: Upload, local: str, remote: str) -> None:
    """One file copied with the connection's own transfer, counted in the task's ``winrm`` figures as
    :meth:`WinHost.run` counts a primitive: the cost of a package is mostly its uploads."""
    host.stats.count_put_file(os.path.getsize(local))
    upload(local, remote)


# -- on the host -----------------------------------------------------------------------------------------
def _read_on_host(host: WinHost, path: str, option: str, payload: bool = False) -> tuple[Package, list[str]]:
    """What the .msi at ``path`` on the host says, and with ``payload`` the files it needs beside it."""
    facts = host.run("Get-MsiProperty", {"path": path, "payload": True} if payload else {"path": path})
    code = str(facts.get("ProductCode") or "")
    read = Package(
        _msi.normalize_guid(code, f"ProductCode of {option}") if code else None,
        facts.get("ProductVersion") or None,
        (facts.get("UpgradeCode") or "").upper() or None,
        ntpath.basename(str(facts.get("path") or path)),
        properties={k: str(facts.get(k) or "") for k in CONTEXT_PROPERTIES},
    )
    if not payload:
        return read, []
    return read, _msi.payload_from_tables(int(facts.get("word_count") or 0), facts.get("tables") or {})


def _merged(known: Package, read: Package) -> Package:
    """What the task gave wins over what the package says (documented as overriding it)."""
    return replace(
        known,
        product_code=known.product_code or read.product_code,
        version=known.version or read.version,
        upgrade_code=known.upgrade_code or read.upgrade_code,
        properties=read.properties,
    )


def _fetch(host: WinHost, options: MsiOptions, package: Package, check_only: bool) -> Package:
    """Bring a url package into the host's cache and read it there, as for path: the one place a
    download happens. With ``check_only`` the host only looks; without the package ``host_path`` stays None."""
    download = package.download
    if download is None:
        raise ValueError("the package has no url to download from")
    directory = ntpath.join(options.cache_dir, download.cache_key)
    request = {
        "url": download.url,
        "sha256": download.sha256,
        "directory": directory,
        "cache_dir": options.cache_dir,
        "file_name": download.file_name,
        "expand": download.kind == ".zip",
        "check_only": check_only,
        "timeout_seconds": DOWNLOAD_TIMEOUT,
        "max_bytes": DOWNLOAD_MAX_BYTES,
        "proxy": options.proxy,
        "proxy_use_default_credentials": options.proxy_use_default_credentials,
    }
    try:
        saved = host.run("Save-PackageUrl", request)
    except PrimitiveError as exc:
        explained = _explained(exc)
        if explained is None:
            raise
        raise explained from exc
    if not saved.get("present"):
        return package
    # The host picks the .msi msiexec runs from these: the folder must be the one asked for, the files in it.
    expected = ntpath.join(directory, "package") if request["expand"] else directory
    folder = _answers.same_directory(saved.get("folder"), expected, "Save-PackageUrl")
    files = _answers.relative_paths(_answers.listed(saved, "files", "Save-PackageUrl"), "Save-PackageUrl")
    msi, beside = _msi.locate_msi(download, files)
    msi_path = ntpath.join(folder, msi)
    read, required = _read_on_host(host, msi_path, "url", payload=True)
    _check_given(package, read, download.url)
    missing = _msi.missing_payload(required, beside)
    if missing:
        what = "the .msi alone" if download.kind == ".msi" else "the zip"
        raise ValueError(
            f"url: {read.msi_name} needs payload files beside it that {what} does not hold "
            f"(publish the package folder as a .zip); missing: {', '.join(missing)}"
        )
    return replace(
        _merged(package, read), msi_name=read.msi_name, host_path=msi_path, downloaded=bool(saved.get("downloaded"))
    )


def _explained(exc: PrimitiveError) -> PrimitiveError | None:
    """A download failure with its usual cause added, which .NET's message leaves out: it is on the host."""
    if "(407)" in exc.msg:
        hint = (
            " (the proxy wants credentials the host cannot give: over WinRM with NTLM or Kerberos the "
            "session cannot pass yours on (the double hop), so the host meets the proxy anonymously; "
            "let the host's computer account or anonymous requests through for this URL)"
        )
    elif "certificate" in exc.msg.lower():
        hint = (
            " (the host does not trust the server's certificate: the CA that issued it must be in the "
            "host's Trusted Root Certification Authorities store, and the certificate must name the URL's host)"
        )
    else:
        return None
    return PrimitiveError(exc.name, exc.msg + hint, exc.rc, exc.stderr)


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
