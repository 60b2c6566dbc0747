"""Named cross-process locks beside a SQLite file, released by the operating system if the holder dies.

For each name there is a small lock database ``<path>.locks/<sha256(name)>.lock``; holding the lock means
holding an open ``BEGIN IMMEDIATE`` transaction on it. The operating system drops that lock when the holder's
connection closes or its process dies (even by SIGKILL), so a crashed worker never leaves a stale lock, and
per-name files mean one practice's lock never holds up another's. Acquisition never blocks the event loop:
each attempt runs in a worker thread with a zero busy timeout; between attempts the task sleeps with a short
jittered backoff; after ``timeout`` seconds [LockTimeoutError][pms_connect.errors.LockTimeoutError] is raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from pms_connect.errors import LockTimeoutError, StoreError

__all__ = ["FileLocks"]

logger = logging.getLogger("pms_connect.stores.sqlite")

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


class FileLocks:
    """Locks named by strings, in the directory ``<database path>.locks``."""

    def __init__(self, database: Path, *, timeout: float, what: str = "store lock") -> None:
        self.directory = Path(str(database) + ".locks")
        self.timeout = timeout
        self._what = what
        self.try_lock: Callable[[sqlite3.Connection], bool] = try_begin_immediate
        """One attempt, run in a thread; replaceable so that tests can observe contention."""

    def path(self, name: str) -> Path:
        """The lock database of ``name`` (hashed: a name may hold characters a file name cannot)."""
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{digest}.lock"

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        conn = await self._acquire(name)
        try:
            yield
        finally:
            # Closing ends the transaction and drops the lock at once; it cannot block, so it runs inline,
            # which also makes the release immune to cancellation.
            conn.close()

    async def _acquire(self, name: str) -> sqlite3.Connection:
        lock_file = self.path(name)
        conn = await anyio.to_thread.run_sync(self._open, lock_file)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        attempts = 0
        try:
            while True:
                attempts += 1
                if await anyio.to_thread.run_sync(self.try_lock, conn):
                    if attempts > 1:
                        logger.debug("%s for %r taken after %d attempts", self._what, name, attempts)
                    return conn
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeoutError(
                        f"another worker held the {self._what} for {name!r} for more than "
                        f"{self.timeout:g} s (lock file {str(lock_file)!r})"
                    )
                # Jitter spreads out waiters so they do not retry in lock-step.
                await anyio.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))  # noqa: S311
                delay = min(delay * 2, 0.1)
        except BaseException:
            conn.close()
            raise

    def _open(self, lock_file: Path) -> sqlite3.Connection:
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            conn = sqlite3.connect(lock_file, timeout=0, isolation_level=None, check_same_thread=False)
            # Nothing is ever written to a lock database; keeping the (empty) journal in memory means no
            # journal file is left behind by a holder that died.
            conn.execute("PRAGMA journal_mode=MEMORY")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the lock file {str(lock_file)!r}: {exc}") from exc
        return conn


def try_begin_immediate(conn: sqlite3.Connection) -> bool:
    """Take the database's write lock without waiting: True if taken, False if someone else holds it."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or (code is None and "locked" in str(exc)):
            return False
        raise StoreError(f"cannot take the lock: {exc}") from exc
    return True
