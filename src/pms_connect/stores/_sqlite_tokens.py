"""A [TokenStore][pms_connect.tokens.TokenStore] in a SQLite file, shared safely by worker processes.

Tokens live in one table of the database file, as JSON, sealed by a
[CredentialVault][pms_connect.vault.CredentialVault] when one is given (the store key is the sealing context, so
a row copied under another key does not open). Without a vault the request and refresh keys are stored
in clear: the file is created with mode 600, but anyone who can read it can use them.

The refresh lock of each key is a [FileLocks][pms_connect.stores._sqlite_locks.FileLocks] lock: held across
processes, dropped by the operating system if the holder dies, never waited on for ever.

Like every SQLite database, the file must be on a local file system: network file systems (NFS, SMB)
often implement locks badly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from pydantic import ValidationError

from pms_connect.errors import StoreError, VaultError
from pms_connect.stores._sqlite_files import create_private_file, database_path
from pms_connect.stores._sqlite_locks import FileLocks
from pms_connect.tokens import Token

if TYPE_CHECKING:
    from pms_connect.vault import CredentialVault

__all__ = ["SqliteTokenStore"]

logger = logging.getLogger("pms_connect.stores.sqlite")

_SCHEMA_VERSION = 1


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
        self._path = database_path(
            path, owner="SqliteTokenStore", lock_timeout=lock_timeout, busy_timeout=busy_timeout
        )
        self._vault = vault
        self._busy_timeout = busy_timeout
        self.locks = FileLocks(self._path, timeout=lock_timeout, what="token lock")

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
            return Token.from_storage(data)
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
        async with self.locks.hold(key):
            yield

    def lock_path(self, key: str) -> Path:
        return self.locks.path(key)

    # -- blocking database work, run in threads -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            create_private_file(self._path)
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
            # Cheap when the table exists (a schema read), and it recreates a file deleted under us.
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pms_connect_tokens ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the token database {str(self._path)!r}: {exc}") from exc
        return conn

    def _load_sync(self, key: str) -> str | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT value FROM pms_connect_tokens WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the token database {str(self._path)!r}: {exc}") from exc
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
            raise StoreError(f"cannot write the token database {str(self._path)!r}: {exc}") from exc
        finally:
            conn.close()

    def _clear_sync(self, key: str) -> None:
        conn = self._connect()
        try:
            conn.execute("DELETE FROM pms_connect_tokens WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the token database {str(self._path)!r}: {exc}") from exc
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"SqliteTokenStore(path={str(self._path)!r}, sealed={self._vault is not None})"
