"""The ``Store`` protocol: what every worker of a deployment must share, behind one object.

A store has three parts, each its own protocol so that a backend implements them with its own primitives:

* ``tokens``: a [TokenStore][pms_connect.tokens.TokenStore] (request keys, with a refresh lock);
* ``journal``: a ``WriteJournal`` (every write's intent, tracking id and outcome; the slot claims of
  bookings in flight are journal entries too, so holds and writes can never disagree);
* ``budget``: a ``RateBudget``, the exact rate budget every worker spends from;
* ``lock(name)``: a named lock held across every worker sharing the store (a practice's booking lock),
  released when its holder exits or dies; ``lease(name, holder)``: a renewable lease (poller leadership).

Every method raises [StoreError][pms_connect.errors.StoreError] (or its
[LockTimeoutError][pms_connect.errors.LockTimeoutError]) when the backend fails; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from pms_connect.models import WritebackResult
from pms_connect.stores._journal import JournalEntry
from pms_connect.tokens import TokenStore

__all__ = ["RateBudget", "Store", "WriteJournal"]


@runtime_checkable
class WriteJournal(Protocol):
    """Durable records of writes. Every method is atomic; a backend shared by processes makes it atomic
    across them (a transaction, a script), so that two workers never both win a transition."""

    async def record(self, entry: JournalEntry) -> None:
        """Store a new entry durably; returns only once it would survive a crash of this process."""
        ...

    async def mark_sent(self, entry_id: str, *, at: datetime) -> None:
        """The request went out but its answer was lost (no-op once acknowledged or settled)."""
        ...

    async def acknowledge(self, entry_id: str, writeback_id: str, *, at: datetime, reassign: bool = False) -> bool:
        """Record the PMS's tracking id. False when another entry of the practice already holds that id and
        ``reassign`` is False (reconciliation never adopts a claimed write); with ``reassign`` (the PMS's own
        answer named the id) the other entry gives it up and goes back to being looked up."""
        ...

    async def settle(self, entry_id: str, result: WritebackResult, *, at: datetime) -> WritebackResult:
        """End an entry; the first settle wins and every caller gets the winning result."""
        ...

    async def touch(self, entry_ids: Collection[str], *, at: datetime) -> None:
        """Heartbeat: the caller is following these entries (keeps their slot claims alive)."""
        ...

    async def get(self, entry_id: str) -> JournalEntry | None: ...

    async def get_many(self, entry_ids: Collection[str]) -> Mapping[str, JournalEntry]: ...

    async def open_entries(self, practice: str | None = None) -> Sequence[JournalEntry]:
        """Entries not settled yet (of one practice, or all), oldest first."""
        ...

    async def slot_entries(self, practice: str, *, settled_since: datetime) -> Sequence[JournalEntry]:
        """Entries of ``practice`` with a slot claim that are open or settled since ``settled_since``."""
        ...

    async def claimed(self, practice: str, writeback_ids: Collection[str]) -> set[str]:
        """Which of these writeback ids an entry of ``practice`` already holds."""
        ...


@runtime_checkable
class RateBudget(Protocol):
    """Grants of a rate budget, shared by everyone using the store: a sliding log per budget key, each grant
    tagged with its lane (the rule is ``pms_connect.stores._budget.grant``). Times are epoch seconds. Every
    method is atomic."""

    async def take(
        self, key: str, *, now: float, window: float, limit: int, lane: str, lane_limit: int | None, grant_id: str
    ) -> float:
        """Record grant ``grant_id`` and return 0 if one fits now; else record nothing and return how long to
        wait."""
        ...

    async def answered(self, key: str, *, grant_id: str, lane: str, at: float, window: float) -> None:
        """The request of grant ``grant_id`` was answered at ``at``: count the grant from then (for ``window``
        more seconds)."""
        ...

    async def block(self, key: str, *, now: float, window: float, count: int, until: float) -> None:
        """Hold ``count`` grants' room until ``until`` (the server said fewer requests are left)."""
        ...

    async def used(self, key: str, *, now: float, window: float) -> int:
        """Grants (phantoms included) inside the window."""
        ...


@runtime_checkable
class Store(Protocol):
    """What every worker of a deployment shares. ``MemoryStore`` (one process, the default), ``SqliteStore``
    (processes on one host) and, for a fleet, a Redis backend implement it."""

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def journal(self) -> WriteJournal: ...

    @property
    def budget(self) -> RateBudget: ...

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while someone else holds
        it (a poller leader per Sikka app uses this: a dead leader's lease runs out)."""
        ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold ``name`` against every worker sharing this store; raise ``LockTimeoutError`` rather than wait
        for ever. Released on exit, and by the backend if the holder dies."""
        ...

    async def aclose(self) -> None: ...
