"""A :class:`~pms_connect.tokens.TokenStore` in a SQLite file, shared safely by worker processes.

Tokens live in one table of the database file, as JSON, sealed by a
:class:`~pms_connect.vault.CredentialVault` when one is given (the store key is the sealing context, so
a row copied under another key does not open). Without a vault the request and refresh keys are stored
in clear: the file is created with mode 600, but anyone who can read it can use them.

The lock is SQLite's own write lock, not a row: for each store key there is a small lock database
``<path>.locks/<sha256(key)>.lock``, and holding the lock means holding an open ``BEGIN IMMEDIATE``
transaction on it. The operating system drops that lock when the holder's connection closes or its
process dies (even by SIGKILL), so a crashed worker never leaves a stale lock; per-key files mean a slow
refresh of one practice does not hold up another's. Acquisition never blocks the event loop: each attempt
runs in a worker thread with a zero busy timeout, between attempts the task sleeps with a short jittered
backoff, and after ``lock_timeout`` seconds :class:`TokenLockTimeoutError` is raised.

Like every SQLite database, the file must be on a local file system: network file systems (NFS, SMB)
often implement locks badly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from pydantic import ValidationError

from pms_connect import tokens as _tokens
from pms_connect.errors import InvalidArgumentError, PmsError, PmsTimeoutError, VaultError
from pms_connect.vault import CredentialVault

if TYPE_CHECKING:
    from pms_connect.tokens import Token

# ``tokens`` re-exports this store, so ``Token`` is looked up on the module at call time: that way the
# import works whichever of the two modules is imported first.

__all__ = ["SqliteTokenStore", "TokenLockTimeoutError", "TokenStoreError"]

logger = logging.getLogger("pms_connect.tokens.sqlite")

_SCHEMA_VERSION = 1
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


class TokenStoreError(PmsError):
    """The token database could not be read or written (e.g. it is corrupt or not a database)."""


class TokenLockTimeoutError(PmsTimeoutError):
    """Another holder kept a key's refresh lock for longer than the store's ``lock_timeout``."""


class SqliteTokenStore:
    """Request keys in a SQLite file, with a cross-process refresh lock per key.

    ``vault`` seals each stored token (recommended); ``lock_timeout`` should exceed the time a refresh
    takes, including the HTTP timeout of the grant call; ``busy_timeout`` bounds how long a read or write
    waits for another process's short transaction.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        vault: CredentialVault | None = None,
        *,
        lock_timeout: float = 30.0,
        busy_timeout: float = 10.0,
    ) -> None:
        text = os.fspath(path)
        if not text or text == ":memory:" or text.startswith("file:"):
            raise InvalidArgumentError("SqliteTokenStore needs a file path; an in-memory database is not shared")
        if lock_timeout <= 0 or busy_timeout <= 0:
            raise InvalidArgumentError("lock_timeout and busy_timeout must be positive")
        self._path = Path(text)
        self._lock_dir = Path(text + ".locks")
        self._vault = vault
        self._lock_timeout = lock_timeout
        self._busy_timeout = busy_timeout

    @property
    def path(self) -> Path:
        return self._path

    # -- TokenStore --------------------------------------------------------------------------------------

    async def load(self, key: str) -> Token | None:
        """The stored token, or ``None`` if there is none or it cannot be opened (then a new grant heals)."""
        value = await anyio.to_thread.run_sync(self._load_sync, key)
        if value is None:
            return None
        try:
            data: Any = self._vault.open(value, context=key) if self._vault else json.loads(value)
            return _tokens.Token.from_storage(data)
        except VaultError as exc:
            logger.warning("the stored token for %r cannot be opened (%s); ignoring it", key, exc.message)
        except (ValueError, TypeError, ValidationError):
            logger.warning(
                "the stored token for %r is not a valid token (sealed=%s); ignoring it",
                key,
                bool(self._vault),
            )
        return None

    async def save(self, key: str, token: Token) -> None:
        data = token.to_storage()
        value = self._vault.seal(data, context=key) if self._vault else json.dumps(data)
        await anyio.to_thread.run_sync(self._save_sync, key, value)

    async def clear(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._clear_sync, key)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Hold ``key``'s refresh lock against every process using this file; time out, never hang."""
        conn = await self._acquire(key)
        try:
            yield
        finally:
            # Closing ends the transaction and drops the lock at once; nothing here can block, so it is
            # done inline, which also makes the release immune to cancellation.
            conn.close()

    # -- the lock ----------------------------------------------------------------------------------------

    def lock_path(self, key: str) -> Path:
        """The lock database of ``key`` (hashed: a key may hold characters a file name cannot)."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self._lock_dir / f"{digest}.lock"

    async def _acquire(self, key: str) -> sqlite3.Connection:
        lock_file = self.lock_path(key)
        conn = await anyio.to_thread.run_sync(self._open_lock_connection, lock_file)
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.002
        attempts = 0
        try:
            while True:
                attempts += 1
                if await anyio.to_thread.run_sync(self._try_lock, conn):
                    if attempts > 1:
                        logger.debug("token lock for %r taken after %d attempts", key, attempts)
                    return conn
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TokenLockTimeoutError(
                        f"another worker held the token lock for {key!r} for more than "
                        f"{self._lock_timeout:g} s (lock file {str(lock_file)!r})"
                    )
                # Jitter spreads out waiters so they do not retry in lock-step.
                await anyio.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))  # noqa: S311
                delay = min(delay * 2, 0.1)
        except BaseException:
            conn.close()
            raise

    def _try_lock(self, conn: sqlite3.Connection) -> bool:
        """One attempt, run in a thread; a method so that tests can observe contention."""
        return _try_begin_immediate(conn)

    def _open_lock_connection(self, lock_file: Path) -> sqlite3.Connection:
        try:
            self._lock_dir.mkdir(mode=0o700, exist_ok=True)
            conn = sqlite3.connect(lock_file, timeout=0, isolation_level=None, check_same_thread=False)
            # Nothing is ever written to a lock database; keeping the (empty) journal in memory means
            # no journal file is left behind by a holder that died.
            conn.execute("PRAGMA journal_mode=MEMORY")
        except (OSError, sqlite3.Error) as exc:
            raise TokenStoreError(f"cannot open the token lock file {str(lock_file)!r}: {exc}") from exc
        return conn

    # -- blocking database work, run in threads -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self._path.exists():
                # Create the file owner-only before SQLite does (with the umask's, often world-readable,
                # mode); SQLite gives its journal files the database file's permissions.
                os.close(os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600))
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
            # Cheap when the table exists (a schema read), and it recreates a file deleted under us.
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pms_connect_tokens ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise TokenStoreError(f"cannot open the token database {str(self._path)!r}: {exc}") from exc
        return conn

    def _load_sync(self, key: str) -> str | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT value FROM pms_connect_tokens WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise TokenStoreError(f"cannot read the token database {str(self._path)!r}: {exc}") from exc
        finally:
            conn.close()
        return None if row is None else str(row[0])

    def _save_sync(self, key: str, value: str) -> None:
        conn = self._connect()
        try:
            conn.execute(
                "INSERT INTO pms_connect_tokens (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, datetime.now(timezone.utc).isoformat()),
            )
        except sqlite3.Error as exc:
            raise TokenStoreError(f"cannot write the token database {str(self._path)!r}: {exc}") from exc
        finally:
            conn.close()

    def _clear_sync(self, key: str) -> None:
        conn = self._connect()
        try:
            conn.execute("DELETE FROM pms_connect_tokens WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise TokenStoreError(f"cannot write the token database {str(self._path)!r}: {exc}") from exc
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"SqliteTokenStore(path={str(self._path)!r}, sealed={self._vault is not None})"


def _try_begin_immediate(conn: sqlite3.Connection) -> bool:
    """Take the database's write lock without waiting: True if taken, False if someone else holds it."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or (code is None and "locked" in str(exc)):
            return False
        raise TokenStoreError(f"cannot take the token lock: {exc}") from exc
    return True
