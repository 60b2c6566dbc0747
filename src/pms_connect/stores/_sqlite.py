"""``SqliteStore``: one SQLite file shared by the worker processes of one host.

One file holds the request keys (table ``pms_connect_tokens``) and the write journal
(``pms_connect_journal``); named locks live beside it in ``<path>.locks/``. The file is created owner-only
(0600) before SQLite opens it, in WAL mode so that readers never wait for a writer. Every journal change is
one ``BEGIN IMMEDIATE`` transaction that reads the entry, applies the shared transition and writes it back,
so two processes never both win a transition; a committed change survives a crash of the process (WAL with
``synchronous=NORMAL`` is durable against process death, though not against power loss).

Request bodies in the journal can hold PHI (a new patient's name and phone): with a ``vault`` they are
sealed (bound to their entry's id); without one they are stored in clear, readable by whoever can read the
file. Like every SQLite database, the file must be on a local file system, not NFS or SMB.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from pydantic import ValidationError

from pms_connect.errors import StoreError, VaultError
from pms_connect.models import WritebackResult
from pms_connect.stores._budget import SERVER_LANE, Grant, grant
from pms_connect.stores._journal import JournalEntry, JournalState
from pms_connect.stores._sqlite_files import create_private_file, database_path
from pms_connect.stores._sqlite_locks import FileLocks
from pms_connect.stores._sqlite_tokens import SqliteTokenStore

if TYPE_CHECKING:
    from pms_connect.vault import CredentialVault

__all__ = ["SqliteBudget", "SqliteJournal", "SqliteStore"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pms_connect_journal ("
    " id TEXT PRIMARY KEY, practice TEXT NOT NULL, state TEXT NOT NULL, writeback_id TEXT,"
    " has_slot INTEGER NOT NULL, created_at TEXT NOT NULL, settled_at TEXT, touched_at TEXT NOT NULL,"
    " entry TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS pms_connect_journal_writeback"
    " ON pms_connect_journal (practice, writeback_id) WHERE writeback_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS pms_connect_journal_state ON pms_connect_journal (practice, state)",
)


_TOUCH = "UPDATE pms_connect_journal SET touched_at = ? WHERE state != ? AND touched_at < ?"
_CLAIMED = "SELECT writeback_id FROM pms_connect_journal WHERE practice = ?"


def _marks(n: int) -> str:
    """``n`` SQL placeholders: values always travel as parameters, never inside the statement."""
    return ",".join("?" * n)


def _stamp(value: datetime | None) -> str | None:
    """A sortable UTC timestamp: one fixed format, so text order is time order."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteJournal:
    """The write journal in a SQLite table; every change is one immediate transaction."""

    def __init__(self, path: Path, *, vault: CredentialVault | None, busy_timeout: float) -> None:
        self._path = path
        self._vault = vault
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()  # one connection, used by one worker thread at a time

    # -- plumbing -------------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            create_private_file(self._path)
            conn = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        def run() -> T:
            with self._mutex:
                try:
                    conn = self._connection()
                    if not write:
                        return work(conn)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        value = work(conn)
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                    return value
                except sqlite3.Error as exc:
                    raise StoreError(f"the write journal {str(self._path)!r} failed: {exc}") from exc

        return await anyio.to_thread.run_sync(run)

    def _seal(self, entry: JournalEntry) -> str:
        if self._vault is None:
            return json.dumps(entry.body)
        return self._vault.seal(entry.body, context=f"pms_connect.journal:{entry.id}")

    def _load(self, entry_json: str, body: str, entry_id: str, touched_at: str) -> JournalEntry:
        try:
            if self._vault is None:
                fields: Any = json.loads(body)
            else:
                fields = self._vault.open(body, context=f"pms_connect.journal:{entry_id}")
            # The heartbeat is its own column, so that a touch is one cheap UPDATE.
            return JournalEntry.model_validate(
                {**json.loads(entry_json), "body": fields, "touched_at": touched_at}
            )
        except VaultError as exc:
            raise StoreError(f"journal entry {entry_id} does not open with this store's vault") from exc
        except (ValueError, TypeError, ValidationError):
            raise StoreError(f"journal entry {entry_id} is not a valid entry") from None

    def _row_values(self, entry: JournalEntry) -> tuple[Any, ...]:
        return (
            entry.practice,
            entry.state.value,
            entry.writeback_id,
            int(entry.slot is not None),
            _stamp(entry.created_at),
            _stamp(entry.settled_at),
            _stamp(entry.touched_at),
            entry.model_dump_json(exclude={"body"}),
            self._seal(entry),
            entry.id,
        )

    def _select(self, conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[JournalEntry]:
        rows = conn.execute(
            f"SELECT id, entry, body, touched_at FROM pms_connect_journal WHERE {where} ORDER BY created_at",  # noqa: S608
            params,
        ).fetchall()
        return [self._load(entry, body, entry_id, touched) for entry_id, entry, body, touched in rows]

    def _one(self, conn: sqlite3.Connection, entry_id: str) -> JournalEntry | None:
        found = self._select(conn, "id = ?", (entry_id,))
        return found[0] if found else None

    def _write(self, conn: sqlite3.Connection, entry: JournalEntry) -> None:
        conn.execute(
            "UPDATE pms_connect_journal SET practice = ?, state = ?, writeback_id = ?, has_slot = ?,"
            " created_at = ?, settled_at = ?, touched_at = ?, entry = ?, body = ? WHERE id = ?",
            self._row_values(entry),
        )

    async def _change(self, entry_id: str, change: Callable[[JournalEntry], JournalEntry]) -> JournalEntry | None:
        def work(conn: sqlite3.Connection) -> JournalEntry | None:
            entry = self._one(conn, entry_id)
            if entry is None:
                return None
            changed = change(entry)
            if changed is not entry:
                self._write(conn, changed)
            return changed

        return await self._run(work, write=True)

    # -- WriteJournal ----------------------------------------------------------------------------------------

    async def record(self, entry: JournalEntry) -> None:
        values = self._row_values(entry)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO pms_connect_journal"
                " (practice, state, writeback_id, has_slot, created_at, settled_at, touched_at, entry, body, id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._run(work, write=True)

    async def mark_sent(self, entry_id: str, *, at: datetime) -> None:
        await self._change(entry_id, lambda e: e.sent_unacknowledged(at))

    async def acknowledge(self, entry_id: str, writeback_id: str, *, at: datetime, reassign: bool = False) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            entry = self._one(conn, entry_id)
            if entry is None or not entry.open:
                return False
            holders = self._select(
                conn, "practice = ? AND writeback_id = ? AND id != ?", (entry.practice, writeback_id, entry_id)
            )
            for holder in holders:
                if not reassign or not holder.open:
                    return False
                self._write(conn, holder.unacknowledged())
            self._write(conn, entry.acknowledged_as(writeback_id, at))
            return True

        return await self._run(work, write=True)

    async def settle(self, entry_id: str, result: WritebackResult, *, at: datetime) -> WritebackResult:
        settled = await self._change(entry_id, lambda e: e.settled_with(result, at))
        return settled.result if settled is not None and settled.result is not None else result

    async def touch(self, entry_ids: Collection[str], *, at: datetime) -> None:
        ids = list(entry_ids)
        if not ids:
            return

        stamp = _stamp(at)

        def work(conn: sqlite3.Connection) -> None:
            for start in range(0, len(ids), 500):  # SQLite bounds the number of parameters
                chunk = ids[start : start + 500]
                sql = f"{_TOUCH} AND id IN ({_marks(len(chunk))})"
                conn.execute(sql, (stamp, JournalState.SETTLED.value, stamp, *chunk))

        await self._run(work, write=True)

    def _select_ids(self, conn: sqlite3.Connection, ids: list[str]) -> list[JournalEntry]:
        found: list[JournalEntry] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found += self._select(conn, f"id IN ({_marks(len(chunk))})", tuple(chunk))
        return found

    async def get(self, entry_id: str) -> JournalEntry | None:
        return await self._run(lambda conn: self._one(conn, entry_id), write=False)

    async def get_many(self, entry_ids: Collection[str]) -> Mapping[str, JournalEntry]:
        ids = list(entry_ids)
        entries = await self._run(lambda conn: self._select_ids(conn, ids), write=False)
        return {e.id: e for e in entries}

    async def open_entries(self, practice: str | None = None) -> Sequence[JournalEntry]:
        settled = JournalState.SETTLED.value
        if practice is None:
            return await self._run(lambda c: self._select(c, "state != ?", (settled,)), write=False)
        return await self._run(
            lambda c: self._select(c, "practice = ? AND state != ?", (practice, settled)), write=False
        )

    async def slot_entries(self, practice: str, *, settled_since: datetime) -> Sequence[JournalEntry]:
        params = (practice, JournalState.SETTLED.value, _stamp(settled_since))
        return await self._run(
            lambda c: self._select(c, "practice = ? AND has_slot = 1 AND (state != ? OR settled_at >= ?)", params),
            write=False,
        )

    async def claimed(self, practice: str, writeback_ids: Collection[str]) -> set[str]:
        ids = list(writeback_ids)
        if not ids:
            return set()

        def work(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                sql = f"{_CLAIMED} AND writeback_id IN ({_marks(len(chunk))})"
                rows = conn.execute(sql, (practice, *chunk)).fetchall()
                found |= {str(r[0]) for r in rows}
            return found

        return await self._run(work, write=False)

    async def prune(self, *, settled_before: datetime) -> int:
        """Delete entries settled before ``settled_before``; returns how many."""

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "DELETE FROM pms_connect_journal WHERE state = ? AND settled_at < ?",
                (JournalState.SETTLED.value, _stamp(settled_before)),
            )
            return cursor.rowcount

        return await self._run(work, write=True)

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SqliteBudget:
    """The budget's sliding logs in a table of the store's file: every process of the host spends from it.
    Each grant is one immediate transaction (read the key's log, decide, append), so two processes never both
    take the last room."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS pms_connect_grants"
        " (key TEXT NOT NULL, at REAL NOT NULL, lane TEXT NOT NULL, id TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS pms_connect_grants_key ON pms_connect_grants (key, at)",
        "CREATE TABLE IF NOT EXISTS pms_connect_leases"
        " (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until REAL NOT NULL)",
    )

    _INSERT = "INSERT INTO pms_connect_grants (key, at, lane, id) VALUES (?, ?, ?, ?)"

    def __init__(self, journal: SqliteJournal) -> None:
        self._journal = journal  # shares the journal's connection and thread discipline
        self._ready = False

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def with_schema(conn: sqlite3.Connection) -> T:
            if not self._ready:
                for statement in self._SCHEMA:
                    conn.execute(statement)
                self._ready = True
            return work(conn)

        return await self._journal._run(with_schema, write=True)

    @staticmethod
    def _log(conn: sqlite3.Connection, key: str, now: float, window: float) -> list[Grant]:
        conn.execute("DELETE FROM pms_connect_grants WHERE key = ? AND at <= ?", (key, now - window))
        rows = conn.execute("SELECT at, lane, id FROM pms_connect_grants WHERE key = ?", (key,)).fetchall()
        return [(float(at), str(lane), str(gid)) for at, lane, gid in rows]

    async def take(
        self, key: str, *, now: float, window: float, limit: int, lane: str, lane_limit: int | None, grant_id: str
    ) -> float:
        def work(conn: sqlite3.Connection) -> float:
            log = self._log(conn, key, now, window)
            wait, at, _ = grant(
                log, now=now, window=window, limit=limit, lane=lane, lane_limit=lane_limit, grant_id=grant_id
            )
            if wait <= 0:
                conn.execute(self._INSERT, (key, at, lane, grant_id))
            return wait

        return await self._run(work)

    async def answered(self, key: str, *, grant_id: str, lane: str, at: float, window: float) -> None:
        def work(conn: sqlite3.Connection) -> None:
            moved = conn.execute(
                "UPDATE pms_connect_grants SET at = MAX(at, ?) WHERE key = ? AND id = ?", (at, key, grant_id)
            )
            if moved.rowcount == 0:  # it left the log meanwhile: a request slower than the window
                conn.execute(self._INSERT, (key, at, lane, grant_id))

        await self._run(work)

    async def block(self, key: str, *, now: float, window: float, count: int, until: float) -> None:
        rows = [(key, until - window, SERVER_LANE, "")] * count
        await self._run(lambda c: c.executemany(self._INSERT, rows))

    async def used(self, key: str, *, now: float, window: float) -> int:
        return await self._run(lambda c: len(self._log(c, key, now, window)))

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT holder, until FROM pms_connect_leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and float(row[1]) > now:
                return False
            conn.execute(
                "INSERT INTO pms_connect_leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET holder = excluded.holder, until = excluded.until",
                (name, holder, now + ttl),
            )
            return True

        return await self._run(work)


class SqliteStore:
    """Tokens, journal and locks in one SQLite file, shared by the processes of one host.

    ``vault`` seals the request keys and the journal's request bodies (recommended: both are secrets or PHI);
    ``lock_timeout`` bounds how long a lock (a key refresh, a practice's booking check) is waited for;
    ``busy_timeout`` how long one statement waits for another process's short transaction.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        vault: CredentialVault | None = None,
        lock_timeout: float = 30.0,
        busy_timeout: float = 10.0,
    ) -> None:
        self._path = database_path(path, owner="SqliteStore", lock_timeout=lock_timeout, busy_timeout=busy_timeout)
        self._vault = vault
        self._tokens = SqliteTokenStore(self._path, vault, lock_timeout=lock_timeout, busy_timeout=busy_timeout)
        self._journal = SqliteJournal(self._path, vault=vault, busy_timeout=busy_timeout)
        self._budget = SqliteBudget(self._journal)
        self._locks = FileLocks(self._path, timeout=lock_timeout)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def tokens(self) -> SqliteTokenStore:
        return self._tokens

    @property
    def journal(self) -> SqliteJournal:
        return self._journal

    @property
    def budget(self) -> SqliteBudget:
        return self._budget

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        return await self._budget.lease(name, holder, ttl=ttl, now=now)

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks.hold(f"store:{name}"):
            yield

    async def aclose(self) -> None:
        self._journal.close()

    def __repr__(self) -> str:
        return f"SqliteStore(path={str(self._path)!r}, sealed={self._vault is not None})"
