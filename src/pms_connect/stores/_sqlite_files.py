"""The SQLite file every SQLite-backed part of a store shares: its path checked, created owner-only."""

from __future__ import annotations

import os
from pathlib import Path

from pms_connect.errors import InvalidArgumentError, StoreError
from pms_connect.validation import check_seconds

__all__ = ["create_private_file", "database_path"]


def database_path(path: str | os.PathLike[str], *, owner: str, lock_timeout: float, busy_timeout: float) -> Path:
    """``path`` as a file path (an in-memory database is not shared), with positive timeouts."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise InvalidArgumentError(f"{owner} needs a file path (a str or a path)") from None
    if isinstance(text, bytes) or not text or text == ":memory:" or text.startswith("file:"):
        raise InvalidArgumentError(f"{owner} needs a file path; an in-memory database is not shared")
    check_seconds(lock_timeout, "lock_timeout")
    check_seconds(busy_timeout, "busy_timeout")
    return Path(text)


def create_private_file(path: Path) -> None:
    """Create ``path`` owner-only before SQLite does (with the umask's, often world-readable, mode); SQLite
    gives its WAL and journal files the database file's permissions."""
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    except OSError as exc:  # no such folder, no permission, a read-only disk: the store's own error
        raise StoreError(f"the store file could not be created ({exc.strerror or type(exc).__name__})") from None
