"""Following writes to a terminal state: the provider-neutral ``WritebackPoller``, on the write journal.

At Sikka (and most PMS bridges) a write is queued and applied minutes later by the practice's machine, or
never. Every write is an entry of the store's write journal before it is sent
([pms_connect.stores][pms_connect.stores]); the poller follows the open entries of a process together:

* one batched request reports on many handles (``WritebackSource.poll``); handles the batch cannot tell
  about are checked one by one (``WritebackSource.check``), a few per round;
* a write whose answer was lost (``acknowledged=False``) is looked for in the PMS's own log
  (``WritebackSource.find_logged``) every round; found, it is tracked like any other; not logged within the
  source's ``reconcile_window``, it ends ``not_applied``. It is never sent again by the SDK;
* young handles are polled often, old ones less (``PollSchedule``), in the background lane of the rate
  limiter so interactive calls go first;
* each handle ends in exactly one terminal state, recorded in the journal (first writer wins across
  processes): written (with the created id), failed (the PMS's reason), not applied, timed out (its deadline
  passed: the pending write is withdrawn at the PMS so it cannot land after the caller gave up), cancelled;
* what the poller cannot fix reaches the waiters: an authentication or permission error of the PMS, or a
  journal that cannot be written, is raised from ``wait()`` within one round; a round that fails
  unexpectedly is logged and fails the waiters, and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol, runtime_checkable

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import (
    AuthenticationError,
    InvalidArgumentError,
    PermissionDeniedError,
    PmsError,
    StoreError,
    UnsupportedOperationError,
    WaitTimeoutError,
)
from pms_connect.models import Writeback, WritebackResult, WritebackState
from pms_connect.protocol import WritebackCallback
from pms_connect.stores import JournalEntry, MemoryJournal, WriteJournal
from pms_connect.validation import check_count, check_seconds

__all__ = [
    "BoundWritebacks",
    "PollSchedule",
    "WritebackPoller",
    "WritebackSource",
    "handle_from_entry",
]

logger = logging.getLogger("pms_connect.writeback")

_FINISHED_KEPT = 10_000  # recent results kept in memory; the journal keeps them all


@runtime_checkable
class WritebackSource(Protocol):
    """How a provider reports on its writes.

    Sources with the same ``batch_key`` can answer for each other's handles in ``poll`` (at Sikka: every
    practice of one app, whose writebacks one app-level list reports), so a poller shared by many providers
    spends one request a round on all of them. ``reconcile_window`` is how long after sending a write whose
    answer was lost may still show up in the PMS's log.
    """

    @property
    def batch_key(self) -> str: ...

    @property
    def reconcile_window(self) -> timedelta: ...

    async def poll(self, handles: Sequence[Writeback]) -> Mapping[str, WritebackResult | None]:
        """What one cheap request tells about ``handles`` (each with its ``writeback_id``), keyed by handle id:
        a result (pending included), or None for a handle that is done but whose outcome needs ``check``.
        Handles left out are unknown to the batch and are checked one by one, a few a round."""
        ...

    async def check(self, handle: Writeback) -> WritebackResult:
        """The current result of one handle with a known ``writeback_id``."""
        ...

    async def withdraw(self, handle: Writeback) -> bool:
        """Delete a pending write at the PMS; False when it can no longer be withdrawn (it completed)."""
        ...

    async def find_logged(self, entries: Sequence[JournalEntry]) -> Mapping[str, Sequence[str]]:
        """For journal entries whose answer was lost: the writeback ids in the PMS's log that are exactly
        these writes (by their marker, else by every field sent), best first, keyed by entry id."""
        ...


@runtime_checkable
class Leases(Protocol):
    """Leases a poller leader holds (every store has them)."""

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool: ...


@dataclass(frozen=True)
class PollSchedule:
    """How often to look at a handle: ``min_interval`` while young, growing with age up to ``max_interval``.

    The interval is ``age * growth`` clamped to [min_interval, max_interval]. ``max_single_checks`` bounds
    the per-handle fallback requests in one round; ``error_backoff`` is the pause after a failed round.
    """

    min_interval: timedelta = timedelta(seconds=5)
    max_interval: timedelta = timedelta(minutes=2)
    growth: float = 0.1
    max_single_checks: int = 5
    error_backoff: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        for name in ("min_interval", "max_interval", "error_backoff"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise InvalidArgumentError(f"{name} must be a positive timedelta")
        if self.max_interval < self.min_interval:
            raise InvalidArgumentError("max_interval must not be shorter than min_interval")
        growth = self.growth
        if isinstance(growth, bool) or not isinstance(growth, int | float) or not 0 <= growth < math.inf:
            raise InvalidArgumentError("growth must be a finite number, not negative")
        check_count(self.max_single_checks, "max_single_checks")

    def interval(self, age: timedelta) -> timedelta:
        return min(self.max_interval, max(self.min_interval, age * self.growth))


def handle_from_entry(entry: JournalEntry, zone: tzinfo | None = None) -> Writeback:
    """The handle a journal entry stands for (after a restart, or for another worker); its times in ``zone``
    (the practice's) when given, as every time a provider hands back is."""
    return Writeback(
        id=entry.id,
        kind=entry.kind,
        practice_id=entry.practice_id,
        submitted_at=entry.created_at.astimezone(zone) if zone is not None else entry.created_at,
        deadline=entry.deadline.astimezone(zone) if zone is not None and entry.deadline else entry.deadline,
        appointment_id=entry.appointment_id,
        writeback_id=entry.writeback_id,
        acknowledged=entry.writeback_id is not None,
    )


@dataclass
class _Waiter:
    future: asyncio.Future[WritebackResult]
    give_up: datetime | None


@dataclass
class _Entry:
    handle: Writeback  # its writeback_id is filled in once known
    source: WritebackSource
    due: datetime
    deadline: datetime | None
    intent: JournalEntry
    waiters: list[_Waiter] = field(default_factory=list)
    callbacks: list[WritebackCallback] = field(default_factory=list)
    settling: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.handle.writeback_id is not None

    def learn(self, writeback_id: str) -> None:
        self.handle = self.handle.model_copy(update={"writeback_id": writeback_id})


class WritebackPoller:
    """Follows open writes to a terminal state, for ``wait``, ``status``, ``cancel`` and callbacks.

    ``journal`` is the store's write journal (a provider passes its store's). With ``leases`` (the store),
    pollers of several workers elect one leader per batch key (per Sikka app) by a lease of ``lease_ttl``: only
    the leader asks the PMS, for every open entry of the practices it knows; the others serve their waiters
    and callbacks from the results the leader journals, and one of them takes over within one lease when the
    leader stops or dies. ``max_wait`` bounds a
    ``wait()`` that names no timeout on a write with no deadline of its own (a payment, a new patient): it
    then raises [WaitTimeoutError][pms_connect.errors.WaitTimeoutError] and the write stays tracked. One poller can
    serve many providers (``SikkaProvider(poller=shared)``) when they share its journal.
    """

    def __init__(
        self,
        source: WritebackSource | None = None,
        *,
        journal: WriteJournal | None = None,
        clock: Clock | None = None,
        schedule: PollSchedule | None = None,
        on_complete: WritebackCallback | None = None,
        max_wait: timedelta = timedelta(minutes=30),
        leases: Leases | None = None,
        lease_ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        if not isinstance(max_wait, timedelta) or not isinstance(lease_ttl, timedelta):
            raise InvalidArgumentError("max_wait and lease_ttl must be timedeltas")
        if max_wait <= timedelta(0) or lease_ttl <= timedelta(0):
            raise InvalidArgumentError("max_wait and lease_ttl must be positive")
        self._source = source
        self._leases = leases
        self.lease_ttl = lease_ttl
        self.id = secrets.token_hex(8)
        """This poller's name in the leases it holds."""
        self._leading: dict[str, datetime] = {}  # batch key -> until when this poller's lease runs
        self._aside: dict[str, datetime] = {}  # batch key -> until when this poller leaves the lease to others
        self._known: dict[str, WritebackSource] = {}  # practice -> source, for adopting open entries
        self.journal: WriteJournal = journal if journal is not None else MemoryJournal()
        self._clock = clock or SystemClock()
        self.schedule = schedule or PollSchedule()
        self.max_wait = max_wait
        self._default_callback = on_complete
        self._entries: dict[str, _Entry] = {}
        self._finished: OrderedDict[str, WritebackResult] = OrderedDict()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._spawned: set[asyncio.Task[Any]] = set()
        self._last_round = datetime.min.replace(tzinfo=timezone.utc)
        self.rounds = 0
        """Polling rounds run so far: visible to tests and benchmarks."""

    # -- public surface ---------------------------------------------------------------------------------

    def register(self, source: WritebackSource, practice: str) -> None:
        """Know ``source`` for ``practice``: as leader, this poller follows every open entry of it, whichever
        worker wrote it."""
        self._known[practice] = source

    @property
    def leading(self) -> frozenset[str]:
        """The batch keys this poller leads now."""
        now = self._clock.now()
        return frozenset(key for key, until in self._leading.items() if until > now)

    def _resolve(self, source: WritebackSource | None) -> WritebackSource:
        chosen = source or self._source
        if chosen is None:
            raise InvalidArgumentError("this poller has no default source: pass source=")
        return chosen

    async def track(
        self,
        handle: Writeback,
        *,
        callback: WritebackCallback | None = None,
        deadline: datetime | None = None,
        source: WritebackSource | None = None,
        intent: JournalEntry | None = None,
    ) -> None:
        """Start following ``handle`` (idempotent). ``deadline`` (or the handle's own) ends it as timed out."""
        entry = self._entries.get(handle.id)
        if entry is None and handle.id not in self._finished:
            stored = intent or await self.journal.get(handle.id)
            if stored is None:
                raise InvalidArgumentError("this handle is not in the store's write journal")
            if not stored.open and stored.result is not None:
                self._remember(handle.id, stored.result)
            else:
                chosen = self._resolve(source)
                entry = _Entry(
                    handle=handle.model_copy(update={"writeback_id": stored.writeback_id or handle.writeback_id}),
                    source=chosen,
                    due=max(stored.created_at + self.schedule.min_interval, self._clock.now()),
                    deadline=handle.deadline,
                    intent=stored,
                )
                self._entries[handle.id] = entry
        finished = self._finished.get(handle.id)
        if finished is not None:
            if callback is not None:
                await _call(callback, finished)
            return
        assert entry is not None
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
        """Wait for the terminal result.

        A ``timeout`` is a deadline for the write itself: when it passes, a pending write the PMS can still
        withdraw is withdrawn and the result is ``timed_out`` (to keep waiting without giving up on the write,
        use ``on_complete``). A write that may already be applied (``acknowledged`` False: its answer was
        lost; or one the PMS would not withdraw) is never given up on: the wait raises
        [WaitTimeoutError][pms_connect.errors.WaitTimeoutError] and the write stays tracked until its outcome
        is read from the PMS. Without a timeout, a write with a deadline of its own (a booking: its start) is
        waited for until then; any other is waited for at most ``max_wait``, after which ``WaitTimeoutError``
        is raised and the write stays tracked.
        """
        deadline = None if timeout is None else self._deadline(timeout)
        await self.track(handle, deadline=deadline, source=source)
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        entry = self._entries[handle.id]
        future: asyncio.Future[WritebackResult] = asyncio.get_running_loop().create_future()
        # Without a deadline of its own, the wait gives up after max_wait; the loop enforces it, so that
        # virtual clocks see one sleeper, not one per waiter.
        give_up = None if entry.deadline is not None else self._clock.now() + self.max_wait
        entry.waiters.append(_Waiter(future, give_up))
        self._wake.set()
        return await future

    def _deadline(self, timeout: float | timedelta) -> datetime:
        raw = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        seconds = check_seconds(raw, "timeout", allow_zero=True)
        try:
            return self._clock.now() + timedelta(seconds=seconds)
        except OverflowError:
            raise InvalidArgumentError("timeout is too far in the future") from None

    async def status(self, handle: Writeback, *, source: WritebackSource | None = None) -> WritebackResult:
        """The terminal result if known, else a fresh check at the PMS (``pending`` while its tracking id is
        not known yet)."""
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        stored = await self.journal.get(handle.id)
        if stored is not None and stored.result is not None:
            self._remember(handle.id, stored.result)
            return stored.result
        writeback_id = stored.writeback_id if stored is not None else handle.writeback_id
        if writeback_id is None:
            return WritebackResult(handle_id=handle.id, status=WritebackState.PENDING)
        chosen = self._source_for(handle, source)
        result = await chosen.check(handle.model_copy(update={"writeback_id": writeback_id}))
        if result.status.terminal:
            await self._track_and_settle(handle, result, source=chosen)
        return result

    async def cancel(self, handle: Writeback, *, source: WritebackSource | None = None) -> WritebackResult:
        """Withdraw a pending write. If it already completed, the real outcome is returned instead."""
        finished = self._finished.get(handle.id)
        if finished is not None:
            return finished
        stored = await self.journal.get(handle.id)
        if stored is not None and stored.result is not None:
            return stored.result
        writeback_id = stored.writeback_id if stored is not None else handle.writeback_id
        if writeback_id is None:
            raise UnsupportedOperationError(
                "the write's answer was lost and the PMS's log has not shown it yet, so it cannot be withdrawn; "
                "wait for it to be found or to end not_applied"
            )
        chosen = self._source_for(handle, source)
        known = handle.model_copy(update={"writeback_id": writeback_id})
        if await chosen.withdraw(known):
            result = WritebackResult(
                handle_id=handle.id,
                writeback_id=writeback_id,
                status=WritebackState.CANCELLED,
                message="withdrawn at the PMS before it was applied",
                completed_at=self._clock.now(),
            )
        else:
            result = await chosen.check(known)
        return await self._track_and_settle(handle, result, source=chosen)

    async def resume(
        self,
        *,
        source: WritebackSource | None = None,
        practice: str | None = None,
        only: Callable[[JournalEntry], bool] | None = None,
    ) -> int:
        """Track the journal's open entries (after a restart, or a worker's death): those of ``practice``
        that ``only`` accepts, with ``source``; returns how many."""
        entries = [e for e in await self.journal.open_entries(practice) if only is None or only(e)]
        for entry in entries:
            await self.track(handle_from_entry(entry), source=source, intent=entry)
        return len(entries)

    @property
    def pending_count(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        """Stop polling (open entries stay in the journal for ``resume``)."""
        task, self._task = self._task, None
        if task is not None:
            # The flag stops the loop even if a library below swallows the cancellation (one did, in a fleet).
            self._stopping = True
            task.cancel()
            # gather, not `await task` in suppress(CancelledError): a cancellation of our own caller propagates.
            await asyncio.gather(task, return_exceptions=True)

    # -- the loop ---------------------------------------------------------------------------------------

    def _source_for(self, handle: Writeback, source: WritebackSource | None) -> WritebackSource:
        entry = self._entries.get(handle.id)
        return source or (entry.source if entry is not None else self._resolve(None))

    def _remember(self, handle_id: str, result: WritebackResult) -> None:
        self._finished[handle_id] = result
        self._finished.move_to_end(handle_id)
        while len(self._finished) > _FINISHED_KEPT:
            self._finished.popitem(last=False)

    def _tighten(self, entry: _Entry, deadline: datetime) -> None:
        if entry.deadline is None or deadline < entry.deadline:
            entry.deadline = deadline

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pms-connect-writebacks")

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._spawned.add(task)  # a strong reference: the loop keeps tasks only weakly
        task.add_done_callback(self._spawned.discard)
        task.add_done_callback(_log_task_error)

    async def _run(self) -> None:
        while self._entries and not self._stopping:
            self._wake.clear()
            try:
                await self._step()
            except Exception as exc:  # never die silently: tell the waiters, back off, go on
                logger.error("a writeback polling round failed: %s", type(exc).__name__)
                error = (
                    exc
                    if isinstance(exc, PmsError)
                    else PmsError(f"writeback polling failed ({type(exc).__name__})")
                )
                self._fail_waiters(list(self._entries.values()), error)
                await self._sleep_until(self._clock.now() + self.schedule.error_backoff)

    async def _step(self) -> None:
        now = self._clock.now()
        self._give_up_waits(now)
        live = [e for e in self._entries.values() if not e.settling]
        for entry in [e for e in live if e.deadline is not None and e.deadline <= now]:
            await self._expire(entry)
        due = [e for e in live if e.due <= now and not e.settling and e.handle.id in self._entries]
        renew = self._leases is not None and now >= self._last_round + self.lease_ttl / 3
        if due or (renew and self._entries):
            self._last_round = now
            await self._round(due)
            return
        if not self._entries:
            return
        wake_at = min(
            [e.due for e in self._entries.values()]
            + [e.deadline for e in self._entries.values() if e.deadline is not None]
            + [w.give_up for e in self._entries.values() for w in e.waiters if w.give_up is not None]
            # a leader renews its lease well before it runs out, and a follower looks at least as often
            + [now + self.lease_ttl / 3]
        )
        await self._sleep_until(wake_at)

    def _give_up_waits(self, now: datetime) -> None:
        for entry in self._entries.values():
            expired = [w for w in entry.waiters if w.give_up is not None and w.give_up <= now]
            if not expired:
                continue
            entry.waiters = [w for w in entry.waiters if w not in expired]
            for waiter in expired:
                if not waiter.future.done():
                    waiter.future.set_exception(
                        WaitTimeoutError(
                            f"the write is still pending after {self.max_wait.total_seconds():g} s; it is still "
                            "tracked (wait again, use on_complete, or cancel it)"
                        )
                    )

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
        if self._leases is None:
            await self._poll_round(due)
            return
        keeper = asyncio.ensure_future(self._keep_leases())
        try:
            await self._poll_round(due)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_leases(self) -> None:
        """Renew the leases this poller holds while a round runs. A round can wait on the rate budget (its
        background share) for longer than a lease; the leader must not lose the lease meanwhile, or another
        worker would start polling beside it. Real time, as the store's leases run in real time."""
        interval = self.lease_ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            for key in list(self._leading):
                try:
                    await self._lead(key, self._clock.now())
                except StoreError as exc:
                    logger.warning("the poller lease could not be renewed (%s)", exc.message)

    async def _poll_round(self, due: list[_Entry]) -> None:
        self.rounds += 1
        now = self._clock.now()
        if not await self._sync_with_journal(now):
            for entry in due:
                entry.due = now + self.schedule.error_backoff
            return
        # One batched request per batch key covers every pending handle of it, due or not: it costs the same.
        groups: dict[str, list[_Entry]] = {}
        for entry in self._entries.values():
            if not entry.settling:
                groups.setdefault(entry.source.batch_key, []).append(entry)
        failed_keys: set[str] = set()
        unknown: list[_Entry] = []
        for key, group in groups.items():
            try:
                leading = await self._lead(key, now)
            except StoreError as exc:  # nobody may be polling: the waiters must not wait unaware
                logger.error("the poller lease could not be taken (%s); not polling this round", exc.message)
                self._fail_waiters(group, exc)
                failed_keys.add(key)
                continue
            if not leading:
                continue  # another worker's poller asks the PMS; the journal brings its results here
            lost = [e for e in group if not e.acknowledged and e in due]
            if lost and not await self._reconcile(lost, now):
                failed_keys.add(key)
            known = [e for e in group if e.acknowledged and not e.settling and e.handle.id in self._entries]
            if not known:
                continue
            try:
                results = await known[0].source.poll([e.handle for e in known])
            except PmsError as exc:
                self._poll_failed(known, exc)
                failed_keys.add(key)
                continue
            for entry in known:
                if entry.handle.id not in results:
                    if entry in due:
                        unknown.append(entry)
                    continue
                result = results[entry.handle.id]
                if result is None:
                    if not await self._still_leading(key):
                        break  # the round outlasted the lease and another worker leads now
                    await self._check(entry)  # done at the PMS: read its outcome from its own source
                elif result.status.terminal:
                    await self._settle(entry, result)
        unknown.sort(key=lambda e: e.due)
        for entry in unknown[: self.schedule.max_single_checks]:
            if await self._still_leading(entry.source.batch_key):
                await self._check(entry)
        await self._adopt(now)
        for entry in due:
            if entry.handle.id not in self._entries:
                continue
            if entry.source.batch_key in failed_keys:
                entry.due = now + self.schedule.error_backoff
            else:
                entry.due = now + self.schedule.interval(now - entry.handle.submitted_at)
                if not entry.acknowledged:  # look once more exactly when the reconcile window closes
                    entry.due = min(entry.due, max(now, self._window_end(entry)))

    async def _lead(self, key: str, now: datetime) -> bool:
        """Take or renew the lease of ``key``; without leases (one worker) this poller always leads."""
        if self._leases is None:
            return True
        aside = self._aside.get(key)
        if aside is not None and now < aside:
            return False  # stepped aside after an access failure: another worker polls meanwhile
        held = await self._leases.lease(
            _lease_name(key), self.id, ttl=self.lease_ttl.total_seconds(), now=now.timestamp()
        )
        if held:
            self._leading[key] = now + self.lease_ttl
        else:
            self._leading.pop(key, None)
        return held

    async def _still_leading(self, key: str) -> bool:
        """Renew the lease of ``key`` in a long round (one detail check after another), so that the lease never
        lapses while this poller still sends; False once another worker holds it."""
        if self._leases is None:
            return True
        now = self._clock.now()
        until = self._leading.get(key)
        if until is not None and now < until - self.lease_ttl * 2 / 3:
            return True  # renewed within the last third of a lease
        try:
            return await self._lead(key, now)
        except StoreError as exc:
            logger.warning("the poller lease could not be renewed (%s); stopping this round", exc.message)
            return False

    async def _adopt(self, now: datetime) -> None:
        """As leader, follow the open entries of every known practice that no poller here follows yet
        (written by another worker, or left by one that died)."""
        leading = self.leading
        for practice, source in self._known.items():
            if source.batch_key not in leading:
                continue
            try:
                entries = await self.journal.open_entries(practice)
            except StoreError as exc:
                logger.warning("open journal entries could not be read (%s)", exc.message)
                return
            for entry in entries:
                if entry.id not in self._entries and entry.id not in self._finished:
                    await self.track(handle_from_entry(entry), source=source, intent=entry)

    async def _sync_with_journal(self, now: datetime) -> bool:
        """Adopt what other workers settled or found, and renew the heartbeat of every entry followed here."""
        entries = [e for e in self._entries.values() if not e.settling]
        try:
            stored = await self.journal.get_many([e.handle.id for e in entries])
            await self.journal.touch([e.handle.id for e in entries], at=now)
        except StoreError as exc:
            logger.error("the write journal could not be read (%s)", exc.message)
            self._fail_waiters(entries, exc)
            return False
        for entry in entries:
            current = stored.get(entry.handle.id)
            if current is None:
                continue
            entry.intent = current
            if current.result is not None:
                await self._finish(entry, current.result)
            elif current.writeback_id is not None and current.writeback_id != entry.handle.writeback_id:
                entry.learn(current.writeback_id)
        return True

    def _window_end(self, entry: _Entry) -> datetime:
        return entry.intent.sent_or_created() + entry.source.reconcile_window

    async def _reconcile(self, lost: list[_Entry], now: datetime) -> bool:
        """Look for writes whose answer was lost in the PMS's log; False if the log could not be read."""
        try:
            found = await lost[0].source.find_logged([e.intent for e in lost])
        except PmsError as exc:
            self._poll_failed(lost, exc)
            return False
        for entry in lost:
            for writeback_id in found.get(entry.handle.id, ()):
                try:
                    adopted = await self.journal.acknowledge(entry.handle.id, writeback_id, at=now)
                except StoreError as exc:
                    self._fail_waiters([entry], exc)
                    break
                if adopted:
                    logger.info("a write whose answer was lost was found in the PMS's log")
                    entry.learn(writeback_id)
                    break
            else:
                if now >= self._window_end(entry):
                    window = entry.source.reconcile_window.total_seconds()
                    await self._settle(
                        entry,
                        WritebackResult(
                            handle_id=entry.handle.id,
                            status=WritebackState.NOT_APPLIED,
                            message=(
                                f"the PMS did not log this write within {window:g} s of sending it: it was not "
                                "applied, and sending it again is safe"
                            ),
                            completed_at=now,
                        ),
                    )
        return True

    def _poll_failed(self, entries: list[_Entry], exc: PmsError) -> None:
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            # Not transient: the app lost its access. Waiters learn it now; the writes stay tracked. A leader
            # steps aside, so that every other worker polls in turn, meets the error and tells its own waiters
            # (a follower's waiters would otherwise wait, unaware, for results no leader can read).
            logger.error("writebacks cannot be followed: %s", type(exc).__name__)
            self._fail_waiters(entries, exc)
            for key in {e.source.batch_key for e in entries}:
                self._step_aside(key)
        else:
            logger.warning("writeback poll failed (%s); backing off", type(exc).__name__)

    def _step_aside(self, key: str) -> None:
        if self._leases is None or key not in self._leading:
            return
        self._leading.pop(key, None)
        self._aside[key] = self._clock.now() + self.lease_ttl
        self._spawn(self._release(key))

    async def _release(self, key: str) -> None:
        """Give up the lease of ``key`` (renewed for a millisecond: the backends' leases have no release)."""
        assert self._leases is not None
        try:
            await self._leases.lease(_lease_name(key), self.id, ttl=0.001, now=self._clock.now().timestamp())
        except StoreError as exc:
            logger.warning("the poller lease could not be given up (%s); it runs out by itself", exc.message)

    def _fail_waiters(self, entries: Sequence[_Entry], error: PmsError) -> None:
        for entry in entries:
            waiters, entry.waiters = entry.waiters, []
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(error)

    async def _check(self, entry: _Entry) -> None:
        try:
            result = await entry.source.check(entry.handle)
        except PmsError as exc:
            self._poll_failed([entry], exc)
            return
        if result.status.terminal:
            await self._settle(entry, result)

    async def _expire(self, entry: _Entry) -> None:
        """The write's deadline passed. Only a write the PMS can still withdraw ends ``timed_out``: one that may
        already be applied (its answer lost, or the withdrawal not possible) stays tracked until its real
        outcome is known, and its waiters get ``WaitTimeoutError`` meanwhile."""
        withdrawn: bool | None = None
        if entry.acknowledged:
            try:
                withdrawn = await entry.source.withdraw(entry.handle)
            except PmsError as exc:
                logger.warning("could not withdraw a timed-out writeback (%s)", type(exc).__name__)
                entry.deadline = self._clock.now() + self.schedule.error_backoff  # try the withdrawal again
                self._time_out_waiters(entry, "its deadline passed and it could not be withdrawn yet")
                return
            if withdrawn:
                await self._settle(
                    entry,
                    WritebackResult(
                        handle_id=entry.handle.id,
                        writeback_id=entry.handle.writeback_id,
                        status=WritebackState.TIMED_OUT,
                        message="deadline passed; the pending write was withdrawn at the PMS",
                        completed_at=self._clock.now(),
                    ),
                )
                return
            # Too late to withdraw: it completed. Report what really happened.
            with contextlib.suppress(PmsError):
                result = await entry.source.check(entry.handle)
                if result.status.terminal:
                    await self._settle(entry, result)
                    return
        entry.deadline = None
        self._time_out_waiters(
            entry,
            "its deadline passed, but it may already be applied at the PMS, so it cannot be withdrawn",
        )

    def _time_out_waiters(self, entry: _Entry, why: str) -> None:
        waiters, entry.waiters = entry.waiters, []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(
                    WaitTimeoutError(
                        f"the write is still pending: {why}; it is still tracked until its outcome is read from "
                        "the PMS (wait again, use on_complete or status)"
                    )
                )

    async def _track_and_settle(
        self, handle: Writeback, result: WritebackResult, *, source: WritebackSource
    ) -> WritebackResult:
        entry = self._entries.get(handle.id)
        if entry is None:
            final = await self.journal.settle(handle.id, result, at=self._clock.now())
            self._remember(handle.id, final)
            return final
        await self._settle(entry, result)
        return self._finished.get(handle.id, result)

    async def _settle(self, entry: _Entry, result: WritebackResult) -> None:
        if entry.settling or self._entries.get(entry.handle.id) is not entry:
            return
        entry.settling = True  # stays visible in _entries, so new waiters join this entry meanwhile
        try:
            final = await self.journal.settle(entry.handle.id, result, at=self._clock.now())
        except StoreError as exc:
            entry.settling = False
            logger.error("a writeback result could not be journaled (%s)", exc.message)
            self._fail_waiters([entry], exc)
            return
        await self._finish(entry, final)

    async def _finish(self, entry: _Entry, result: WritebackResult) -> None:
        """Deliver a journaled result: callbacks first (so a caller returning from wait() sees their
        effects), then waiters."""
        entry.settling = True
        logger.debug("writeback %s ended %s", entry.handle.id, result.status.value)
        if self._default_callback is not None:
            await _call(self._default_callback, result)
        called = 0
        while called < len(entry.callbacks):  # callbacks added while these run are called too
            await _call(entry.callbacks[called], result)
            called += 1
        self._entries.pop(entry.handle.id, None)
        self._remember(entry.handle.id, result)
        for waiter in entry.waiters:
            if not waiter.future.done():
                waiter.future.set_result(result)


class BoundWritebacks:
    """One provider's view of a (possibly shared) poller: every call carries that provider's source."""

    def __init__(
        self, poller: WritebackPoller, source: WritebackSource, *, practice: str, owns_poller: bool
    ) -> None:
        self.poller = poller
        self.source = source
        self.practice = practice
        self._owns_poller = owns_poller
        poller.register(source, practice)

    async def track(
        self,
        handle: Writeback,
        *,
        callback: WritebackCallback | None = None,
        deadline: datetime | None = None,
        intent: JournalEntry | None = None,
    ) -> None:
        await self.poller.track(handle, callback=callback, deadline=deadline, source=self.source, intent=intent)

    async def status(self, handle: Writeback) -> WritebackResult:
        return await self.poller.status(handle, source=self.source)

    async def wait(self, handle: Writeback, *, timeout: float | timedelta | None = None) -> WritebackResult:
        return await self.poller.wait(handle, timeout=timeout, source=self.source)

    async def cancel(self, handle: Writeback) -> WritebackResult:
        return await self.poller.cancel(handle, source=self.source)

    def on_complete(self, handle: Writeback, callback: WritebackCallback) -> None:
        self.poller.on_complete(handle, callback, source=self.source)

    async def resume(self, *, only: Callable[[JournalEntry], bool] | None = None) -> int:
        """Follow this practice's open journal entries: writes a previous (or crashed) worker left open."""
        return await self.poller.resume(source=self.source, practice=self.practice, only=only)

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


def _lease_name(batch_key: str) -> str:
    return f"writeback-poller:{batch_key}"
