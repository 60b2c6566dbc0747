"""Tracking queued writes to a terminal state: the provider-neutral :class:`WritebackPoller`.

At Sikka (and most PMS bridges) a write is queued and applied minutes later by the practice's machine, or
never. The poller follows every pending handle of a provider together:

* one batched request reports on many handles (``WritebackSource.poll``); handles the batch cannot tell
  about are checked one by one (``WritebackSource.check``), a few per round;
* young handles are polled often, old ones less (``PollSchedule``); the source sends its requests in the
  background lane of the rate limiter, so interactive calls go first;
* each handle ends in exactly one terminal state: written (with the created id), failed (with the PMS's
  reason), timed out (its deadline passed: the pending write is withdrawn at the PMS so that it cannot land
  after the caller gave up), or cancelled;
* a :class:`WritebackLedger` keeps handles across restarts, so a new worker resumes tracking.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pms_connect._clock import Clock, SystemClock
from pms_connect.errors import PmsError
from pms_connect.models import Writeback, WritebackResult, WritebackState
from pms_connect.protocol import WritebackCallback

__all__ = [
    "BoundWritebacks",
    "InMemoryWritebackLedger",
    "PollSchedule",
    "SqliteWritebackLedger",
    "WritebackLedger",
    "WritebackPoller",
    "WritebackSource",
]

logger = logging.getLogger("pms_connect.writeback")


@runtime_checkable
class WritebackSource(Protocol):
    """How a provider reports on its queued writes.

    Sources with the same ``batch_key`` can answer for each other's handles in :meth:`poll` (at Sikka: every
    practice of one app, whose writebacks one app-level list reports), so a poller shared by many providers
    spends one request a round on all of them.
    """

    @property
    def batch_key(self) -> str: ...

    async def poll(self, handles: Sequence[Writeback]) -> Mapping[str, WritebackResult | None]:
        """What one cheap request tells about ``handles``: a result (pending included), or None for a handle
        that is done but whose outcome needs :meth:`check` (of its own source). Handles left out are unknown
        to the batch and are checked one by one, a few a round."""
        ...

    async def check(self, handle: Writeback) -> WritebackResult:
        """The current result of one handle."""
        ...

    async def withdraw(self, handle: Writeback) -> bool:
        """Delete a pending write at the PMS; False when it can no longer be withdrawn (it completed)."""
        ...


@runtime_checkable
class WritebackLedger(Protocol):
    """Where handles live while pending, so that a restarted worker resumes tracking them."""

    async def record(self, handle: Writeback) -> None: ...

    async def settle(self, result: WritebackResult) -> None: ...

    async def pending(self) -> list[Writeback]: ...


class InMemoryWritebackLedger:
    def __init__(self) -> None:
        self._pending: dict[str, Writeback] = {}
        self.settled: dict[str, WritebackResult] = {}

    async def record(self, handle: Writeback) -> None:
        self._pending[handle.id] = handle

    async def settle(self, result: WritebackResult) -> None:
        self._pending.pop(result.writeback_id, None)
        self.settled[result.writeback_id] = result

    async def pending(self) -> list[Writeback]:
        return list(self._pending.values())


class SqliteWritebackLedger:
    """A ledger in a SQLite file: handles survive the process. Holds ids and times, no PHI."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        with contextlib.closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS writebacks ("
                " id TEXT PRIMARY KEY, handle TEXT NOT NULL, state TEXT NOT NULL, result TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30)

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with contextlib.closing(self._connect()) as db, db:
            return db.execute(sql, params).fetchall()

    async def record(self, handle: Writeback) -> None:
        await asyncio.to_thread(
            self._run,
            "INSERT OR REPLACE INTO writebacks (id, handle, state, result) VALUES (?, ?, 'pending', NULL)",
            (handle.id, handle.model_dump_json()),
        )

    async def settle(self, result: WritebackResult) -> None:
        await asyncio.to_thread(
            self._run,
            "UPDATE writebacks SET state = ?, result = ? WHERE id = ?",
            (result.status.value, result.model_dump_json(), result.writeback_id),
        )

    async def pending(self) -> list[Writeback]:
        rows = await asyncio.to_thread(self._run, "SELECT handle FROM writebacks WHERE state = 'pending'", ())
        return [Writeback.model_validate(json.loads(row[0])) for row in rows]

    async def result(self, writeback_id: str) -> WritebackResult | None:
        rows = await asyncio.to_thread(
            self._run, "SELECT result FROM writebacks WHERE id = ? AND result IS NOT NULL", (writeback_id,)
        )
        return WritebackResult.model_validate(json.loads(rows[0][0])) if rows else None


@dataclass(frozen=True)
class PollSchedule:
    """How often to look at a handle: ``min_interval`` while young, growing with age up to ``max_interval``.

    The interval is ``age * growth`` clamped to [min_interval, max_interval]. ``max_single_checks`` bounds
    the per-handle fallback requests in one round.
    """

    min_interval: timedelta = timedelta(seconds=5)
    max_interval: timedelta = timedelta(minutes=2)
    growth: float = 0.1
    max_single_checks: int = 5
    error_backoff: timedelta = timedelta(seconds=30)

    def interval(self, age: timedelta) -> timedelta:
        return min(self.max_interval, max(self.min_interval, age * self.growth))


@dataclass
class _Entry:
    handle: Writeback
    source: WritebackSource
    due: datetime
    result: WritebackResult
    deadline: datetime | None
    waiters: list[asyncio.Future[WritebackResult]] = field(default_factory=list)
    callbacks: list[WritebackCallback] = field(default_factory=list)
    settling: bool = False


class WritebackPoller:
    """Follows pending writebacks to a terminal state, for ``wait``, ``status``, ``cancel`` and callbacks.

    One poller can serve many providers (``SikkaProvider(writeback_poller=shared)``): each handle keeps the
    source it came from, and handles whose sources share a ``batch_key`` are polled with one request.
    ``source`` is the default for calls that name none.
    """

    def __init__(
        self,
        source: WritebackSource | None = None,
        *,
        clock: Clock | None = None,
        ledger: WritebackLedger | None = None,
        schedule: PollSchedule | None = None,
        on_complete: WritebackCallback | None = None,
    ) -> None:
        self._source = source
        self._clock = clock or SystemClock()
        self._ledger: WritebackLedger = ledger if ledger is not None else InMemoryWritebackLedger()
        self.schedule = schedule or PollSchedule()
        self._default_callback = on_complete
        self._entries: dict[str, _Entry] = {}
        self._finished: dict[str, WritebackResult] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        """Polling rounds run so far: visible to tests and benchmarks."""

    # -- public surface ---------------------------------------------------------------------------------

    def _resolve(self, source: WritebackSource | None) -> WritebackSource:
        chosen = source or self._source
        if chosen is None:
            raise ValueError("this poller has no default source: pass source=")
        return chosen

    def _source_of(self, handle: Writeback, source: WritebackSource | None) -> WritebackSource:
        entry = self._entries.get(handle.id)
        return source or (entry.source if entry is not None else self._resolve(None))

    async def track(
        self,
        handle: Writeback,
        *,
        callback: WritebackCallback | None = None,
        deadline: datetime | None = None,
        source: WritebackSource | None = None,
    ) -> None:
        """Start following ``handle`` (idempotent). ``deadline`` (or the handle's own) ends it as timed out."""
        if handle.id not in self._entries and handle.id not in self._finished:
            # Record before polling can start, so that a quick settle is never overwritten by this record.
            await self._ledger.record(handle)
        finished = self._finished.get(handle.id)
        if finished is not None:
            if callback is not None:
                await _call(callback, finished)
            return
        entry = self._entries.get(handle.id)
        if entry is None:
            entry = _Entry(
                handle=handle,
                source=self._resolve(source),
                due=max(handle.submitted_at + self.schedule.min_interval, self._clock.now()),
                result=WritebackResult(writeback_id=handle.id, status=WritebackState.PENDING),
                deadline=handle.deadline,
            )
            self._entries[handle.id] = entry
        if callback is not None:
            entry.callbacks.append(callback)
        if deadline is not None:
            self._tighten(entry, deadline)
        self._ensure_running()
        self._wake.set()

    def on_complete(
        self, handle: Writeback, callback: WritebackCallback, *, source: WritebackSource | None = None
    ) -> None:
        """Call ``callback(result)`` once ``handle`` reaches a terminal state (at once if it has)."""
        finished = self._finished.get(handle.id)
        if finished is not None:
            self._spawn(_call(callback, finished))
            return
        entry = self._entries.get(handle.id)
        if entry is None:
            self._spawn(self.track(handle, callback=callback, source=source))
        else:
            entry.callbacks.append(callback)

    async def wait(
        self,
        handle: Writeback,
        *,
        timeout: float | timedelta | None = None,
        source: WritebackSource | None = None,
    ) -> WritebackResult:
        """Wait for the terminal result. A ``timeout`` is a deadline for the write itself: when it passes,
        the pending write is withdrawn at the PMS and the result is ``timed_out`` (to keep waiting without
        giving up on the write, use :meth:`on_complete`)."""
        deadline = None
        if timeout is not None:
            seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
            if seconds < 0:
                raise ValueError("timeout must not be negative")
            deadline = self._clock.now() + timedelta(seconds=seconds)
        await self.track(handle, deadline=deadline, source=source)
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        future: asyncio.Future[WritebackResult] = asyncio.get_running_loop().create_future()
        self._entries[handle.id].waiters.append(future)
        return await future

    async def status(self, handle: Writeback, *, source: WritebackSource | None = None) -> WritebackResult:
        """The terminal result if known, else one fresh check at the PMS."""
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        result = await self._source_of(handle, source).check(handle)
        if result.status.terminal:
            await self._track_and_settle(handle, result)
        return result

    async def cancel(self, handle: Writeback, *, source: WritebackSource | None = None) -> WritebackResult:
        """Withdraw a pending write. If it already completed, the real outcome is returned instead."""
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        chosen = self._source_of(handle, source)
        if await chosen.withdraw(handle):
            result = WritebackResult(
                writeback_id=handle.id,
                status=WritebackState.CANCELLED,
                message="withdrawn at the PMS before it was applied",
                completed_at=self._clock.now(),
            )
        else:
            result = await chosen.check(handle)
        await self._track_and_settle(handle, result)
        return result

    async def resume(
        self,
        *,
        source: WritebackSource | None = None,
        only: Callable[[Writeback], bool] | None = None,
    ) -> int:
        """Track the handles the ledger holds as pending (after a restart), those ``only`` accepts, with
        ``source``; returns how many."""
        handles = [h for h in await self._ledger.pending() if only is None or only(h)]
        for handle in handles:
            await self.track(handle, source=source)
        return len(handles)

    @property
    def pending_count(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        """Stop polling (pending handles stay in the ledger for :meth:`resume`)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the loop ---------------------------------------------------------------------------------------

    def _tighten(self, entry: _Entry, deadline: datetime) -> None:
        if entry.deadline is None or deadline < entry.deadline:
            entry.deadline = deadline

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pms-connect-writebacks")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(_log_task_error)

    async def _run(self) -> None:
        while self._entries:
            self._wake.clear()
            now = self._clock.now()
            live = [e for e in self._entries.values() if not e.settling]
            for entry in [e for e in live if e.deadline is not None and e.deadline <= now]:
                await self._expire(entry)
            due = [e for e in live if e.due <= now and not e.settling]
            if due:
                await self._round(due)
                continue
            if not self._entries:
                break
            wake_at = min(
                [e.due for e in self._entries.values()]
                + [e.deadline for e in self._entries.values() if e.deadline is not None]
            )
            await self._sleep_until(wake_at)

    async def _sleep_until(self, when: datetime) -> None:
        delay = max(0.0, (when - self._clock.now()).total_seconds())
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    async def _round(self, due: list[_Entry]) -> None:
        self.rounds += 1
        now = self._clock.now()
        # One batched request per batch key covers every pending handle of it, due or not: it costs the same.
        groups: dict[str, list[_Entry]] = {}
        for entry in self._entries.values():
            if not entry.settling:
                groups.setdefault(entry.source.batch_key, []).append(entry)
        failed_keys: set[str] = set()
        unknown: list[_Entry] = []
        for key, group in groups.items():
            try:
                results = await group[0].source.poll([e.handle for e in group])
            except PmsError as exc:
                logger.warning("writeback poll failed (%s); backing off", type(exc).__name__)
                failed_keys.add(key)
                continue
            for entry in group:
                if entry.handle.id not in results:
                    if entry in due:
                        unknown.append(entry)
                    continue
                result = results[entry.handle.id]
                if result is None:
                    await self._check(entry)  # done at the PMS: read its outcome from its own source
                elif result.status.terminal:
                    await self._settle(entry, result)
        unknown.sort(key=lambda e: e.due)
        for entry in unknown[: self.schedule.max_single_checks]:
            await self._check(entry)
        for entry in due:
            if entry.handle.id not in self._entries:
                continue
            if entry.source.batch_key in failed_keys:
                entry.due = now + self.schedule.error_backoff
            else:
                entry.due = now + self.schedule.interval(now - entry.handle.submitted_at)

    async def _check(self, entry: _Entry) -> None:
        try:
            result = await entry.source.check(entry.handle)
        except PmsError as exc:
            logger.warning("writeback check failed (%s)", type(exc).__name__)
            return
        if result.status.terminal:
            await self._settle(entry, result)

    async def _expire(self, entry: _Entry) -> None:
        try:
            withdrawn = await entry.source.withdraw(entry.handle)
        except PmsError as exc:
            logger.warning("could not withdraw a timed-out writeback (%s)", type(exc).__name__)
            withdrawn = None
        if withdrawn is False:
            # Too late to withdraw: it completed. Report what really happened.
            with contextlib.suppress(PmsError):
                result = await entry.source.check(entry.handle)
                if result.status.terminal:
                    await self._settle(entry, result)
                    return
        message = (
            "deadline passed; the pending write was withdrawn at the PMS"
            if withdrawn
            else "deadline passed; the write could not be withdrawn and may still be applied"
        )
        await self._settle(
            entry,
            WritebackResult(
                writeback_id=entry.handle.id,
                status=WritebackState.TIMED_OUT,
                message=message,
                completed_at=self._clock.now(),
            ),
        )

    async def _track_and_settle(self, handle: Writeback, result: WritebackResult) -> None:
        entry = self._entries.get(handle.id)
        if entry is None:
            self._finished[handle.id] = result
            await self._ledger.settle(result)
            return
        await self._settle(entry, result)

    async def _settle(self, entry: _Entry, result: WritebackResult) -> None:
        if entry.settling or self._entries.get(entry.handle.id) is not entry:
            return
        entry.settling = True  # stays visible in _entries, so new waiters join this entry meanwhile
        await self._ledger.settle(result)
        logger.debug("writeback %s ended %s", entry.handle.id, result.status.value)
        # Callbacks before waiters, so that a caller returning from wait() sees their effects.
        if self._default_callback is not None:
            await _call(self._default_callback, result)
        called = 0
        while called < len(entry.callbacks):  # callbacks added while these run are called too
            await _call(entry.callbacks[called], result)
            called += 1
        del self._entries[entry.handle.id]
        self._finished[entry.handle.id] = result
        for waiter in entry.waiters:
            if not waiter.done():
                waiter.set_result(result)


class BoundWritebacks:
    """One provider's view of a (possibly shared) poller: every call carries that provider's source."""

    def __init__(self, poller: WritebackPoller, source: WritebackSource, *, owns_poller: bool) -> None:
        self.poller = poller
        self.source = source
        self._owns_poller = owns_poller

    async def track(
        self, handle: Writeback, *, callback: WritebackCallback | None = None, deadline: datetime | None = None
    ) -> None:
        await self.poller.track(handle, callback=callback, deadline=deadline, source=self.source)

    async def status(self, handle: Writeback) -> WritebackResult:
        return await self.poller.status(handle, source=self.source)

    async def wait(self, handle: Writeback, *, timeout: float | timedelta | None = None) -> WritebackResult:
        return await self.poller.wait(handle, timeout=timeout, source=self.source)

    async def cancel(self, handle: Writeback) -> WritebackResult:
        return await self.poller.cancel(handle, source=self.source)

    def on_complete(self, handle: Writeback, callback: WritebackCallback) -> None:
        self.poller.on_complete(handle, callback, source=self.source)

    async def resume(self, *, only: Callable[[Writeback], bool] | None = None) -> int:
        return await self.poller.resume(source=self.source, only=only)

    @property
    def pending_count(self) -> int:
        return self.poller.pending_count

    async def aclose(self) -> None:
        if self._owns_poller:
            await self.poller.aclose()


async def _call(callback: WritebackCallback, result: WritebackResult) -> None:
    try:
        outcome = callback(result)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception as exc:
        # Only the type: a callback's exception message can carry anything, PHI included.
        logger.error("a writeback callback failed: %s", type(exc).__name__)


def _log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("writeback task failed: %s", type(task.exception()).__name__)
