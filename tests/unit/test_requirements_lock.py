"""requirements.lock (what tools/setup.sh installs with --require-hashes) must match the requirements files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(?:\\|$)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[_name(match.group(1))] = match.group(2)
    return pins


def _lock() -> dict[str, list[str]]:
    """Each locked package with its hashes."""
    locked: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = f"{_name(match.group(1))}=={match.group(2)}"
            locked[current] = []
        elif current and line.strip().startswith("--hash=sha256:"):
            locked[current].append(line.strip().split(":", 1)[1].rstrip(" \\"))
        elif not line.startswith(" "):
            current = None
    return locked


def test_every_pin_of_the_requirements_files_is_locked_with_hashes() -> None:
    locked = _lock()
    wanted = _pins(ROOT / "requirements.txt") | _pins(ROOT / "requirements-dev.txt")
    assert wanted, "no pins read from the requirements files"
    missing = [f"{n}=={v}" for n, v in wanted.items() if f"{n}=={v}" not in locked]
    assert missing == [], "regenerate requirements.lock (see its header)"
    unhashed = [pin for pin, hashes in locked.items() if not hashes or any(len(h) != 64 for h in hashes)]
    assert unhashed == []


def test_the_lock_names_no_machine_local_index() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert not re.search(r"^--(extra-)?index-url|^--find-links|file://", text, re.MULTILINE)


def test_setup_installs_the_lock_with_hashes_required() -> None:
    setup = (ROOT / "tools" / "setup.sh").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in setup
