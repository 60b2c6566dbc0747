"""``MemoryStore``: the default store, for one process. Nothing survives the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from pms_connect.errors import LockTimeoutError
from pms_connect.models import WritebackResult
from pms_connect.stores._budget import SERVER_LANE, Grant, answered, grant
from pms_connect.stores._journal import JournalEntry
from pms_connect.tokens import InMemoryTokenStore
from pms_connect.validation import check_seconds

__all__ = ["MemoryBudget", "MemoryJournal", "MemoryStore"]

_RETENTION = timedelta(days=7)
_PRUNE_EVERY = 1000


class MemoryJournal:
    """Journal entries in a dict. Settled entries are forgotten a week after they settled."""

    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}
        self._records = 0

    async def record(self, entry: JournalEntry) -> None:
        self._entries[entry.id] = entry
        self._records += 1
        if self._records % _PRUNE_EVERY == 0:
            self._prune(entry.created_at - _RETENTION)

    def _prune(self, before: datetime) -> None:
        stale = [e.id for e in self._entries.values() if e.settled_at is not None and e.settled_at < before]
        for entry_id in stale:
            del self._entries[entry_id]

    async def mark_sent(self, entry_id: str, *, at: datetime) -> None:
        entry = self._entries.get(entry_id)
        if entry is not None:
            self._entries[entry_id] = entry.sent_unacknowledged(at)

    async def acknowledge(self, entry_id: str, writeback_id: str, *, at: datetime, reassign: bool = False) -> bool:
        entry = self._entries.get(entry_id)
        if entry is None or not entry.open:
            return False
        holder = next(
            (
                e
                for e in self._entries.values()
                if e.practice == entry.practice and e.writeback_id == writeback_id and e.id != entry_id
            ),
            None,
        )
        if holder is not None:
            if not reassign or not holder.open:
                return False
            self._entries[holder.id] = holder.unacknowledged()
        self._entries[entry_id] = entry.acknowledged_as(writeback_id, at)
        return True

    async def settle(self, entry_id: str, result: WritebackResult, *, at: datetime) -> WritebackResult:
        entry = self._entries.get(entry_id)
        if entry is None:
            return result
        settled = entry.settled_with(result, at)
        self._entries[entry_id] = settled
        assert settled.result is not None
        return settled.result

    async def touch(self, entry_ids: Collection[str], *, at: datetime) -> None:
        for entry_id in entry_ids:
            entry = self._entries.get(entry_id)
            if entry is not None and entry.open:
                self._entries[entry_id] = entry.touched(at)

    async def get(self, entry_id: str) -> JournalEntry | None:
        return self._entries.get(entry_id)

    async def get_many(self, entry_ids: Collection[str]) -> Mapping[str, JournalEntry]:
        return {i: self._entries[i] for i in entry_ids if i in self._entries}

    async def open_entries(self, practice: str | None = None) -> Sequence[JournalEntry]:
        found = [e for e in self._entries.values() if e.open and (practice is None or e.practice == practice)]
        return sorted(found, key=lambda e: e.created_at)

    async def slot_entries(self, practice: str, *, settled_since: datetime) -> Sequence[JournalEntry]:
        return [
            e
            for e in self._entries.values()
            if e.practice == practice
            and e.slot is not None
            and (e.open or (e.settled_at is not None and e.settled_at >= settled_since))
        ]

    async def claimed(self, practice: str, writeback_ids: Collection[str]) -> set[str]:
        wanted = set(writeback_ids)
        return {
            e.writeback_id
            for e in self._entries.values()
            if e.practice == practice and e.writeback_id is not None and e.writeback_id in wanted
        }

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryJournal(entries={len(self._entries)})"


class MemoryBudget:
    """The budget's sliding logs in a dict: one process."""

    def __init__(self) -> None:
        self._logs: dict[str, list[Grant]] = {}

    def _log(self, key: str, now: float, window: float) -> list[Grant]:
        log = [g for g in self._logs.get(key, ()) if g[0] > now - window]
        self._logs[key] = log
        return log

    async def take(
        self, key: str, *, now: float, window: float, limit: int, lane: str, lane_limit: int | None, grant_id: str
    ) -> float:
        wait, _, self._logs[key] = grant(
            self._logs.get(key, ()),
            now=now,
            window=window,
            limit=limit,
            lane=lane,
            lane_limit=lane_limit,
            grant_id=grant_id,
        )
        return wait

    async def answered(self, key: str, *, grant_id: str, lane: str, at: float, window: float) -> None:
        self._logs[key] = answered(self._logs.get(key, ()), grant_id=grant_id, lane=lane, at=at)

    async def block(self, key: str, *, now: float, window: float, count: int, until: float) -> None:
        self._log(key, now, window).extend([(until - window, SERVER_LANE, "")] * count)

    async def used(self, key: str, *, now: float, window: float) -> int:
        return len(self._log(key, now, window))


class MemoryStore:
    """Tokens, journal and locks in this process's memory: right for one process (the default).

    Several provider objects of one practice in the same process share holds and locks when they share this
    store. ``lock_timeout`` bounds how long a lock is waited for.
    """

    def __init__(self, *, lock_timeout: float = 30.0) -> None:
        check_seconds(lock_timeout, "lock_timeout")
        self._tokens = InMemoryTokenStore()
        self._journal = MemoryJournal()
        self._budget = MemoryBudget()
        self._leases: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_timeout = lock_timeout

    @property
    def tokens(self) -> InMemoryTokenStore:
        return self._tokens

    @property
    def journal(self) -> MemoryJournal:
        return self._journal

    @property
    def budget(self) -> MemoryBudget:
        return self._budget

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), timeout=self._lock_timeout)
        except asyncio.TimeoutError:
            raise LockTimeoutError(
                f"the store lock {name!r} was held for more than {self._lock_timeout:g} s"
            ) from None
        try:
            yield
        finally:
            lock.release()

    async def aclose(self) -> None:
        """Nothing to release; present for the protocol."""

    def __repr__(self) -> str:
        return f"MemoryStore(journal={len(self._journal)} entries)"
