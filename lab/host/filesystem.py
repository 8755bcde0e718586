"""A Windows file system in a dictionary: case-insensitive, drive letters, both slash styles.

Contents live in the fleet's :class:`BlobStore`; a node keeps only a hash. A file
being written in chunks (ansible's put_file sends 250 KB at a time) is kept in a
private buffer and committed to the blob store on the first read, hash or size
query, so an upload costs linear, not quadratic, copying.

Every node has an owner SID and a DACL (:class:`Ace` entries, a protected flag), inherited
on creation and propagated when a folder's DACL is set, as NTFS does. Calls without a
``principal`` are the WinRM administrator or SYSTEM and are not checked; calls with one
(a standard user, see :func:`user_principal`) are checked against the DACL and fail with
.NET's "Access to the path '...' is denied." Junctions (directory reparse points) are
followed in every path component, so a junction really redirects a write.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from lab.host.blobs import BlobStore

_DRIVE = re.compile(r"^([A-Za-z]):(?:[\\/]|$)")

# Well-known SIDs (learn.microsoft.com/windows/win32/secauthz/well-known-sids). Never names: they
# are localized ("Administratoren" on German Windows).
SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
USERS = "S-1-5-32-545"
AUTHENTICATED_USERS = "S-1-5-11"
EVERYONE = "S-1-1-0"
INTERACTIVE = "S-1-5-4"
CREATOR_OWNER = "S-1-3-0"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

# ACE flags and file access rights as winnt.h defines them (learn.microsoft.com/windows/win32/api/winnt/
# ns-winnt-ace_header, .../fileio/file-access-rights-constants).
OI, CI, NP, IO = 0x1, 0x2, 0x4, 0x8
READ_DATA, ADD_FILE, ADD_SUBDIRECTORY, WRITE_EA = 0x1, 0x2, 0x4, 0x10
DELETE_CHILD, WRITE_ATTRIBUTES = 0x40, 0x100
DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER = 0x10000, 0x20000, 0x40000, 0x80000
FULL_CONTROL = 0x1F01FF
MODIFY = 0x1301BF
READ_AND_EXECUTE = 0x1200A9
GENERIC_ALL, GENERIC_EXECUTE, GENERIC_WRITE, GENERIC_READ = 0x10000000, 0x20000000, 0x40000000, 0x80000000
# FILE_GENERIC_* (the generic mapping NTFS applies to a generic right in an inherited ACE).
_GENERIC = {GENERIC_ALL: FULL_CONTROL, GENERIC_READ: 0x120089, GENERIC_WRITE: 0x120116, GENERIC_EXECUTE: 0x1200A0}
# .NET's UnauthorizedAccessException texts (UnauthorizedAccess_IODenied_Path; the parameterless one that
# ObjectSecurity.Persist throws for ERROR_ACCESS_DENIED).
DENIED = "Access to the path '{}' is denied."
UNAUTHORIZED = "Attempted to perform an unauthorized operation."


class Ace(NamedTuple):
    """One allow (or deny) ACE: trustee SID, access mask, inheritance flags, inherited from the parent."""

    sid: str
    mask: int
    flags: int = 0
    inherited: bool = False
    allow: bool = True


@dataclass(frozen=True)
class Principal:
    """The SIDs of a token and the owner it gives what it creates."""

    sids: frozenset[str]
    owner: str


def user_principal(sid: str) -> Principal:
    """A standard user's token (interactive logon): owner of what they create is the user."""
    return Principal(frozenset({sid, USERS, AUTHENTICATED_USERS, EVERYONE, INTERACTIVE}), sid)


def admin_principal(sid: str) -> Principal:
    """An elevated administrator: objects they create are owned by Administrators."""
    return Principal(frozenset({sid, ADMINISTRATORS, USERS, AUTHENTICATED_USERS, EVERYONE}), ADMINISTRATORS)


def _acl(*aces: tuple[str, int, int]) -> tuple[Ace, ...]:
    return tuple(Ace(sid, mask, flags) for sid, mask, flags in aces)


# Default security of the folders a Windows 10/11 image ships, (owner, protected, explicit ACEs).
# C:\ProgramData, as Get-Acl shows it on Windows 10/11 and Server 2019-2025:
#   O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;DCLCRPCR;;;BU)
# i.e. icacls "Users:(CI)(WD,AD,WEA,WA)": Users may create files and folders in it and in every folder
# created below it, and CREATOR OWNER gives them full control of what they create (fixtures of several
# public projects read from real installations; aelassas/servy#357 and cloudfoundry/
# bosh-windows-stemcell-builder#177 describe the hole). C:\ is the Windows 10 Enterprise root
# (itm4n/PrivescCheck#11): Authenticated Users may create folders in it and modify what is below.
# The others are simplified to what matters here: only administrators and SYSTEM write.
_SHIPPED: dict[str, tuple[str, tuple[Ace, ...]]] = {
    "c:\\": (
        TRUSTED_INSTALLER,
        _acl(
            (AUTHENTICATED_USERS, ADD_SUBDIRECTORY, 0),
            (AUTHENTICATED_USERS, DELETE | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ, OI | CI | IO),
            (SYSTEM, FULL_CONTROL, OI | CI),
            (ADMINISTRATORS, FULL_CONTROL, OI | CI),
            (USERS, READ_AND_EXECUTE, OI | CI),
        ),
    ),
    "c:\\programdata": (
        SYSTEM,
        _acl(
            (CREATOR_OWNER, GENERIC_ALL, OI | CI | IO),
            (SYSTEM, FULL_CONTROL, OI | CI),
            (ADMINISTRATORS, FULL_CONTROL, OI | CI),
            (USERS, READ_AND_EXECUTE, OI | CI),
            (USERS, ADD_FILE | ADD_SUBDIRECTORY | WRITE_EA | WRITE_ATTRIBUTES, CI),
        ),
    ),
}
# C:\\Windows\\Temp lets users create files and folders too (icacls: Users:(CI)(S,WD,AD,X), CREATOR OWNER
# (OI)(CI)(IO)(F); as commonly reported, not checked against a Microsoft page).
_SHIPPED["c:\\windows\\temp"] = (
    SYSTEM,
    _acl(
        (CREATOR_OWNER, GENERIC_ALL, OI | CI | IO),
        (SYSTEM, FULL_CONTROL, OI | CI),
        (ADMINISTRATORS, FULL_CONTROL, OI | CI),
        (USERS, 0x100000 | ADD_FILE | ADD_SUBDIRECTORY | 0x20, CI),
    ),
)
for _path in ("c:\\windows", "c:\\program files", "c:\\program files (x86)", "c:\\users"):
    _SHIPPED[_path] = (
        TRUSTED_INSTALLER if _path != "c:\\users" else SYSTEM,
        _acl(
            (SYSTEM, FULL_CONTROL, OI | CI), (ADMINISTRATORS, FULL_CONTROL, OI | CI), (USERS, READ_AND_EXECUTE, OI | CI)
        ),
    )


def _mapped(mask: int) -> int:
    for generic, specific in _GENERIC.items():
        if mask & generic:
            mask = (mask & ~generic) | specific
    return mask


def _inherit(parent: tuple[Ace, ...], is_dir: bool, owner: str) -> list[Ace]:
    """The ACEs a new child inherits from its parent's DACL (learn.microsoft.com/windows/win32/secauthz/
    ace-inheritance-rules); CREATOR OWNER becomes the child's owner."""
    out: list[Ace] = []
    for ace in parent:
        if is_dir and ace.flags & CI:
            flags = 0 if ace.flags & NP else ace.flags & (OI | CI)
            if ace.sid == CREATOR_OWNER:
                out.append(Ace(owner, _mapped(ace.mask), 0, True, ace.allow))
                if not ace.flags & NP:
                    out.append(Ace(CREATOR_OWNER, ace.mask, OI | CI | IO, True, ace.allow))
            else:
                out.append(Ace(ace.sid, ace.mask, flags, True, ace.allow))
        elif is_dir and ace.flags & OI and not ace.flags & NP:
            out.append(Ace(ace.sid, ace.mask, OI | IO, True, ace.allow))
        elif not is_dir and ace.flags & OI:
            out.append(Ace(owner if ace.sid == CREATOR_OWNER else ace.sid, _mapped(ace.mask), 0, True, ace.allow))
    return out


@dataclass
class _Node:
    path: str  # canonical display path, original case
    is_dir: bool
    mtime: datetime
    sha256: str | None = None  # committed content (files)
    size: int = 0
    buffer: bytearray | None = None  # uncommitted content being appended to
    children: dict[str, str] = field(default_factory=dict)  # lower name -> display name (dirs)
    owner: str = ADMINISTRATORS
    aces: tuple[Ace, ...] = ()
    protected: bool = False  # SE_DACL_PROTECTED: inherits nothing from the parent
    junction: str | None = None  # a directory junction's target (a mount-point reparse point)


def canonical(path: str) -> str:
    """``'c:/users//Bob/./x'`` -> ``'c:\\users\\Bob\\x'`` with an upper-case drive; ValueError if not absolute."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"not a path: {path!r}")
    raw = path
    for prefix in ("\\\\?\\", "//?/"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    match = _DRIVE.match(raw)
    if not match:
        raise ValueError(f"not an absolute Windows path (drive letter required): {path!r}")
    parts: list[str] = []
    for piece in re.split(r"[\\/]+", raw[2:]):
        # Windows strips trailing dots and spaces from path components.
        part = piece.rstrip(" .") if piece not in (".", "..") else piece
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        if any(c in part for c in '<>:"|?*') or any(ord(c) < 32 for c in part):
            raise ValueError(f"invalid character in path: {path!r}")
        parts.append(part)
    return match.group(1).upper() + ":\\" + "\\".join(parts)


def _split(canon: str) -> tuple[str, str]:
    """Parent and leaf of a canonical path; the root's parent is itself."""
    if len(canon) == 3:
        return canon, ""
    head, _, leaf = canon.rpartition("\\")
    return (head + "\\" if len(head) == 2 else head), leaf


class FileSystem:
    """One host's files. Only drive ``C:`` exists unless :meth:`add_drive` says otherwise."""

    def __init__(self, blobs: BlobStore, clock_now: Callable[[], datetime]) -> None:
        self._blobs = blobs
        self._now = clock_now
        self._nodes: dict[str, _Node] = {}
        self.add_drive("C")

    # -- helpers -------------------------------------------------------------------------------------------
    def add_drive(self, letter: str) -> None:
        root = letter.upper() + ":\\"
        owner, aces = _SHIPPED.get(root.lower(), (ADMINISTRATORS, _SHIPPED["c:\\"][1]))
        self._nodes.setdefault(root.lower(), _Node(root, True, self._now(), owner=owner, aces=aces, protected=True))

    def _real(self, path: str, follow_last: bool = True) -> str:
        """Canonical path with every junction on the way replaced by its target (the last one too unless
        ``follow_last`` is false: what an open with FILE_FLAG_OPEN_REPARSE_POINT sees)."""
        canon = canonical(path)
        parts = [p for p in canon[3:].split("\\") if p]
        current = canon[:3]
        for i, part in enumerate(parts):
            current = current + part if current.endswith("\\") else current + "\\" + part
            hops = 0
            node = self._nodes.get(current.lower())
            while node is not None and node.junction and (follow_last or i < len(parts) - 1):
                hops += 1
                if hops > 31:  # IO_REPARSE_TAG loops end in ERROR_CANT_RESOLVE_FILENAME
                    raise OSError(1921, "The name of the file cannot be resolved by the system", path)
                current = canonical(node.junction)
                node = self._nodes.get(current.lower())
        return current

    def _node_for(self, canon: str, is_dir: bool, parent: _Node, principal: Principal | None) -> _Node:
        owner = principal.owner if principal is not None else ADMINISTRATORS
        node = _Node(canon, is_dir, self._now(), owner=owner, aces=tuple(_inherit(parent.aces, is_dir, owner)))
        shipped = _SHIPPED.get(canon.lower()) if is_dir else None
        if shipped is not None:
            node.owner, node.aces, node.protected = shipped[0], shipped[1], True
        return node

    def _allowed(self, node: _Node, principal: Principal | None) -> int:
        """The access ``principal`` gets to ``node`` (everything when None): allow ACEs minus deny ACEs that
        apply to the node itself, plus READ_CONTROL and WRITE_DAC for its owner."""
        if principal is None:
            return FULL_CONTROL
        allowed = denied = 0
        for ace in node.aces:
            if ace.flags & IO or ace.sid not in principal.sids:
                continue
            if ace.allow:
                allowed |= _mapped(ace.mask)
            else:
                denied |= _mapped(ace.mask)
        if node.owner in principal.sids:
            allowed |= READ_CONTROL | WRITE_DAC
        return allowed & ~denied

    def _require(self, node: _Node, rights: int, principal: Principal | None, path: str) -> None:
        if principal is not None and self._allowed(node, principal) & rights != rights:
            raise PermissionError(5, DENIED.format(path), path)

    def canonical(self, path: str) -> str:
        """The canonical form of ``path`` using the case already on disk for existing components."""
        canon = canonical(path)
        node = self._nodes.get(canon.lower())
        if node is not None:
            return node.path
        parent, leaf = _split(canon)
        if not leaf:
            return canon
        parent_canon = self.canonical(parent)
        return (parent_canon if parent_canon.endswith("\\") else parent_canon + "\\") + leaf

    def _get(self, path: str) -> _Node | None:
        return self._nodes.get(self._real(path).lower())

    def _file(self, path: str) -> _Node:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        if node.is_dir:
            raise IsADirectoryError(21, "Is a directory", path)
        return node

    def _commit(self, node: _Node) -> None:
        if node.buffer is not None:
            old = node.sha256
            node.sha256 = self._blobs.put(bytes(node.buffer))
            node.size = len(node.buffer)
            node.buffer = None
            if old is not None:
                self._blobs.release(old)

    def _parent_dir(self, canon: str, original: str) -> _Node:
        parent, _ = _split(canon)
        node = self._nodes.get(parent.lower())
        if node is None or not node.is_dir:
            # Windows: ERROR_PATH_NOT_FOUND, the parent is not created for you.
            raise FileNotFoundError(3, "The system cannot find the path specified", original)
        return node

    def _new_file(self, path: str, principal: Principal | None = None) -> _Node:
        canon = self.canonical(self._real(path))
        key = canon.lower()
        existing = self._nodes.get(key)
        if existing is not None:
            if existing.is_dir:
                raise IsADirectoryError(21, "Is a directory", path)
            self._require(existing, ADD_FILE, principal, path)
            return existing
        parent = self._parent_dir(canon, path)
        self._require(parent, ADD_FILE, principal, path)
        node = self._node_for(canon, False, parent, principal)
        self._nodes[key] = node
        leaf = _split(canon)[1]
        parent.children[leaf.lower()] = leaf
        return node

    # -- public API ----------------------------------------------------------------------------------------
    def read_bytes(self, path: str, principal: Principal | None = None) -> bytes:
        """The file's content; with a ``principal``, FILE_READ_DATA is checked as opening it for reading does."""
        node = self._file(path)
        self._require(node, READ_DATA, principal, path)
        self._commit(node)
        return self._blobs.get(node.sha256) if node.sha256 else b""

    def move(self, src: str, dst: str, *, replace: bool = False, principal: Principal | None = None) -> str:
        """File.Move (``replace``: File.Replace) within one folder tree: the node keeps its content, owner and
        explicit ACEs and takes the inherited ones of its new folder. File.Move refuses an existing target with
        IOException "Cannot create a file when that file already exists." (ERROR_ALREADY_EXISTS, 183);
        File.Replace wants one (FileNotFoundException). Both need DELETE on the source (or DELETE_CHILD on
        its folder) and ADD_FILE on the target folder."""
        source = self._file(src)
        self._commit(source)
        target_canon = self.canonical(self._real(dst))
        existing = self._nodes.get(target_canon.lower())
        if existing is not None and not replace:
            raise FileExistsError(183, "Cannot create a file when that file already exists", dst)
        if existing is None and replace:
            raise FileNotFoundError(2, "Unable to find the specified file.", dst)
        parent = self._parent_dir(target_canon, dst)
        self._require(parent, ADD_FILE, principal, dst)
        source_parent = self._nodes[_split(source.path)[0].lower()]
        if principal is not None and not (
            self._allowed(source, principal) & DELETE or self._allowed(source_parent, principal) & DELETE_CHILD
        ):
            raise PermissionError(5, DENIED.format(src), src)
        if existing is not None:
            self.remove(existing.path)
        del self._nodes[source.path.lower()]
        source_parent.children.pop(_split(source.path)[1].lower(), None)
        source.path = target_canon
        explicit = [a for a in source.aces if not a.inherited]
        source.aces = tuple(explicit + _inherit(parent.aces, False, source.owner))
        self._nodes[target_canon.lower()] = source
        leaf = _split(target_canon)[1]
        parent.children[leaf.lower()] = leaf
        return target_canon

    def write_bytes(self, path: str, data: bytes, principal: Principal | None = None) -> None:
        node = self._new_file(path, principal)
        old = node.sha256
        node.buffer = None
        node.sha256 = self._blobs.put(bytes(data))
        node.size = len(data)
        node.mtime = self._now()
        if old is not None:
            self._blobs.release(old)

    def write_text(self, path: str, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(path, text.encode(encoding))

    def append_bytes(self, path: str, data: bytes) -> None:
        node = self._new_file(path)
        if node.buffer is None:
            node.buffer = bytearray(self._blobs.get(node.sha256) if node.sha256 else b"")
        node.buffer.extend(data)
        node.size = len(node.buffer)
        node.mtime = self._now()

    def copy(self, src: str, dst: str) -> str:
        """Copy a file without copying bytes (another reference to the same blob); returns the canonical dst."""
        source = self._file(src)
        self._commit(source)
        target = self._new_file(dst)
        old = target.sha256
        target.buffer = None
        if source.sha256:
            self._blobs.acquire(source.sha256)
        target.sha256, target.size, target.mtime = source.sha256, source.size, self._now()
        if old is not None:
            self._blobs.release(old)
        return target.path

    def exists(self, path: str) -> bool:
        try:
            return self._get(path) is not None
        except ValueError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            node = self._get(path)
        except ValueError:
            return False
        return node is not None and node.is_dir

    def is_file(self, path: str) -> bool:
        try:
            node = self._get(path)
        except ValueError:
            return False
        return node is not None and not node.is_dir

    def mkdir(self, path: str, parents: bool = True, principal: Principal | None = None) -> str:
        canon = self.canonical(self._real(path))
        node = self._nodes.get(canon.lower())
        if node is not None:
            if not node.is_dir:
                raise FileExistsError(183, "Cannot create a file when that file already exists", path)
            if not parents:
                raise FileExistsError(183, "Cannot create a file when that file already exists", path)
            return node.path
        parent_path, leaf = _split(canon)
        if parents and parent_path.lower() not in self._nodes:
            if len(parent_path) == 3:
                raise FileNotFoundError(3, "The system cannot find the path specified", path)
            self.mkdir(parent_path, parents=True, principal=principal)
        parent = self._parent_dir(canon, path)
        self._require(parent, ADD_SUBDIRECTORY, principal, path)
        canon = self.canonical(canon)  # parent case may have been created just now
        self._nodes[canon.lower()] = self._node_for(canon, True, parent, principal)
        parent.children[leaf.lower()] = leaf
        return canon

    def remove(self, path: str, recurse: bool = False, principal: Principal | None = None) -> None:
        canon = self._real(path, follow_last=False)
        node = self._nodes.get(canon.lower())
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        if len(canon) == 3:
            raise PermissionError(5, "Access is denied", path)
        if principal is not None:
            parent = self._nodes[_split(canon)[0].lower()]
            if not (self._allowed(node, principal) & DELETE or self._allowed(parent, principal) & DELETE_CHILD):
                raise PermissionError(5, DENIED.format(path), path)
        if node.junction is not None:
            # Removing a junction removes the link, never what it points to.
            node.children.clear()
        elif node.is_dir and node.children:
            if not recurse:
                raise OSError(145, "The directory is not empty", path)
            for child in list(node.children.values()):
                self.remove(node.path + "\\" + child, recurse=True, principal=principal)
        if not node.is_dir and node.sha256:
            self._blobs.release(node.sha256)
        del self._nodes[canon.lower()]
        parent_path, leaf = _split(canon)
        container = self._nodes.get(parent_path.lower())
        if container is not None:
            container.children.pop(leaf.lower(), None)

    def listdir(self, path: str) -> list[str]:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(3, "The system cannot find the path specified", path)
        if not node.is_dir:
            raise NotADirectoryError(267, "The directory name is invalid", path)
        return sorted(node.children.values(), key=str.lower)

    def size(self, path: str) -> int:
        node = self._file(path)
        return len(node.buffer) if node.buffer is not None else node.size

    def sha256(self, path: str) -> str:
        node = self._file(path)
        self._commit(node)
        return node.sha256 or hashlib.sha256(b"").hexdigest()

    def sha1(self, path: str) -> str:
        node = self._file(path)
        self._commit(node)
        return self._blobs.sha1(node.sha256) if node.sha256 else hashlib.sha1(b"").hexdigest()

    def mtime(self, path: str) -> datetime:
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        return node.mtime

    def walk_files(self) -> list[str]:
        return sorted((n.path for n in self._nodes.values() if not n.is_dir), key=str.lower)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """``{path: {size, sha256}}`` for files and ``{path: {dir: True}}`` for directories."""
        out: dict[str, dict[str, object]] = {}
        for node in sorted(self._nodes.values(), key=lambda n: n.path.lower()):
            if node.is_dir:
                out[node.path] = {"dir": True}
            else:
                self._commit(node)
                out[node.path] = {"size": node.size, "sha256": node.sha256 or hashlib.sha256(b"").hexdigest()}
        return out

    # -- security ------------------------------------------------------------------------------------------
    def security(self, path: str) -> dict[str, object]:
        """Owner, protection and DACL of ``path`` (of a junction itself, not its target)."""
        node = self._nodes.get(self._real(path, follow_last=False).lower())
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        return {
            "owner": node.owner,
            "protected": node.protected,
            "aces": [ace._asdict() for ace in node.aces],
            "junction": node.junction,
        }

    def access(self, path: str, principal: Principal) -> int:
        """The access mask ``principal`` gets to ``path``."""
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        return self._allowed(node, principal)

    def set_security(
        self,
        path: str,
        *,
        owner: str | None = None,
        aces: list[Ace] | tuple[Ace, ...] | None = None,
        protected: bool | None = None,
        principal: Principal | None = None,
    ) -> None:
        """SetAccessControl: replace owner and/or explicit DACL; NTFS then re-applies inheritance below
        (learn.microsoft.com/windows/win32/secauthz/automatic-propagation-of-inheritable-aces)."""
        node = self._get(path)
        if node is None:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        needed = (WRITE_OWNER if owner is not None else 0) | (
            WRITE_DAC if aces is not None or protected is not None else 0
        )
        if principal is not None and self._allowed(node, principal) & needed != needed:
            raise PermissionError(5, UNAUTHORIZED, path)
        if owner is not None:
            node.owner = owner
        if protected is not None:
            node.protected = protected
        explicit = (
            [a for a in node.aces if not a.inherited] if aces is None else [a._replace(inherited=False) for a in aces]
        )
        inherited: list[Ace] = []
        if not node.protected and len(node.path) > 3:
            parent = self._nodes[_split(node.path)[0].lower()]
            inherited = _inherit(parent.aces, node.is_dir, node.owner)
        node.aces = tuple(explicit + inherited)
        self._propagate(node)

    def _propagate(self, node: _Node) -> None:
        if not node.is_dir or node.junction is not None:
            return
        for child_name in node.children.values():
            child = self._nodes[(node.path.rstrip("\\") + "\\" + child_name).lower()]
            if child.protected:
                continue
            child.aces = tuple(
                [a for a in child.aces if not a.inherited] + _inherit(node.aces, child.is_dir, child.owner)
            )
            self._propagate(child)

    def make_junction(self, path: str, target: str, principal: Principal | None = None) -> str:
        """``mklink /J``: an empty directory (made here if absent) becomes a mount point to ``target``.
        FSCTL_SET_REPARSE_POINT wants FILE_WRITE_DATA or FILE_WRITE_ATTRIBUTES on the directory and fails on a
        non-empty one (MS-FSA 2.1.5.10.37; STATUS_DIRECTORY_NOT_EMPTY in the FSCTL_SET_REPARSE_POINT docs)."""
        if not self.exists(path):
            self.mkdir(path, parents=False, principal=principal)
        canon = self._real(path, follow_last=False)
        node = self._nodes[canon.lower()]
        if not node.is_dir:
            raise NotADirectoryError(267, "The directory name is invalid", path)
        if node.children:
            # ERROR_DIR_NOT_EMPTY
            raise OSError(145, "The directory is not empty", path)
        if principal is not None and not self._allowed(node, principal) & (ADD_FILE | WRITE_ATTRIBUTES):
            raise PermissionError(5, DENIED.format(path), path)
        node.junction = canonical(target)
        return node.path

    def is_reparse_point(self, path: str) -> bool:
        """FILE_ATTRIBUTE_REPARSE_POINT of the last component itself (Get-Item's Attributes)."""
        try:
            node = self._nodes.get(self._real(path, follow_last=False).lower())
        except (OSError, ValueError):
            return False
        return node is not None and node.junction is not None
