"""The provider-neutral writeback poller, on the write journal, against a scripted source and a virtual clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import pytest

from pms_connect.errors import (
    InvalidArgumentError,
    PermissionDeniedError,
    PmsError,
    StoreError,
    UnsupportedOperationError,
    WaitTimeoutError,
)
from pms_connect.models import Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.stores import JournalEntry, JournalState, MemoryJournal, MemoryStore, SqliteStore
from pms_connect.testing.clock import FakeClock
from pms_connect.writeback import PollSchedule, WritebackPoller, handle_from_entry


class ScriptedSource:
    """Writebacks that complete at scripted times; counts the requests it is asked to make."""

    batch_key = "scripted"
    reconcile_window = timedelta(minutes=10)

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.outcomes: dict[str, tuple[datetime, WritebackResult]] = {}
        self.invisible: set[str] = set()  # ids the batch list does not show
        self.withdrawn: set[str] = set()
        self.logged: dict[str, tuple[datetime, str]] = {}  # entry id -> (when it shows in the log, writeback id)
        self.failure: PmsError | None = None
        self.poll_calls = 0
        self.check_calls = 0
        self.find_calls = 0

    def complete(self, wid: str, after: timedelta, status: WritebackState, **kw: str) -> None:
        result = WritebackResult(handle_id=wid, writeback_id=wid, status=status, **kw)
        self.outcomes[wid] = (self.clock.now() + after, result)

    def _current(self, handle: Writeback) -> WritebackResult:
        wid = handle.writeback_id or ""
        if wid in self.withdrawn:
            return WritebackResult(handle_id=handle.id, writeback_id=wid, status=WritebackState.CANCELLED)
        when, result = self.outcomes.get(wid, (None, None))
        if when is None or result is None or self.clock.now() < when:
            return WritebackResult(handle_id=handle.id, writeback_id=wid, status=WritebackState.PENDING)
        return result.model_copy(update={"handle_id": handle.id})

    async def poll(self, handles: Sequence[Writeback]) -> dict[str, WritebackResult]:
        self.poll_calls += 1
        if self.failure is not None:
            raise self.failure
        return {h.id: self._current(h) for h in handles if h.writeback_id not in self.invisible}

    async def check(self, handle: Writeback) -> WritebackResult:
        self.check_calls += 1
        return self._current(handle)

    async def withdraw(self, handle: Writeback) -> bool:
        if self._current(handle).status.terminal:
            return False
        self.withdrawn.add(handle.writeback_id or "")
        return True

    async def find_logged(self, entries: Sequence[JournalEntry]) -> Mapping[str, Sequence[str]]:
        self.find_calls += 1
        if self.failure is not None:
            raise self.failure
        now = self.clock.now()
        return {
            e.id: [self.logged[e.id][1]] for e in entries if e.id in self.logged and self.logged[e.id][0] <= now
        }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(clock: FakeClock) -> ScriptedSource:
    return ScriptedSource(clock)


@pytest.fixture
def journal() -> MemoryJournal:
    return MemoryJournal()


def entry(
    clock: FakeClock, entry_id: str, *, writeback_id: str | None, deadline: timedelta | None = None
) -> JournalEntry:
    now = clock.now()
    return JournalEntry(
        id=entry_id,
        kind=WritebackKind.BOOK_APPOINTMENT,
        practice="scripted:1",
        method="POST",
        path="appointment",
        body={"note": entry_id},
        marker=entry_id,
        created_at=now,
        sent_at=now,
        touched_at=now,
        deadline=now + deadline if deadline else None,
        state=JournalState.ACKNOWLEDGED if writeback_id else JournalState.SENT,
        writeback_id=writeback_id,
    )


async def recorded(journal: object, clock: FakeClock, wid: str, deadline: timedelta | None = None) -> Writeback:
    """A handle whose write is journaled and acknowledged as writeback ``wid`` (its handle id is ``wid`` too)."""
    made = entry(clock, wid, writeback_id=wid, deadline=deadline)
    await journal.record(made)  # type: ignore[attr-defined]
    return handle_from_entry(made)


async def lost(journal: object, clock: FakeClock, entry_id: str) -> Writeback:
    """A handle whose answer was lost: journaled as sent, no writeback id."""
    made = entry(clock, entry_id, writeback_id=None)
    await journal.record(made)  # type: ignore[attr-defined]
    return handle_from_entry(made)


async def test_wait_returns_written_with_created_id(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("1", timedelta(seconds=95), WritebackState.WRITTEN, created_id="A77")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    started = clock.now()
    result = await poller.wait(await recorded(journal, clock, "1"))
    assert result.status is WritebackState.WRITTEN
    assert result.created_id == "A77"
    # Detected within one polling interval (age / 4 at 95 s) of the completion.
    assert clock.now() - started <= timedelta(seconds=95 + 95 / 4)
    await poller.aclose()


async def test_failure_carries_the_pms_reason(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("2", timedelta(seconds=50), WritebackState.FAILED, message="Operatory double-booked")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.wait(await recorded(journal, clock, "2"))
    assert (result.status, result.message) == (WritebackState.FAILED, "Operatory double-booked")


async def test_timeout_withdraws_the_pending_write(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("3", timedelta(minutes=30), WritebackState.WRITTEN, created_id="late")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    started = clock.now()
    result = await poller.wait(await recorded(journal, clock, "3"), timeout=120)
    assert result.status is WritebackState.TIMED_OUT
    assert "withdrawn" in (result.message or "")
    assert "3" in source.withdrawn
    assert clock.now() - started == timedelta(seconds=120)


async def test_timeout_after_completion_reports_what_happened(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    # The write lands between the last poll and the deadline: withdrawing fails, the real outcome wins.
    source.complete("4", timedelta(seconds=119), WritebackState.WRITTEN, created_id="A1")
    poller = WritebackPoller(
        source, journal=journal, clock=clock, schedule=PollSchedule(min_interval=timedelta(seconds=60))
    )
    result = await poller.wait(await recorded(journal, clock, "4"), timeout=119.5)
    assert result.status is WritebackState.WRITTEN
    assert result.created_id == "A1"


async def test_appointment_start_is_a_deadline(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.wait(await recorded(journal, clock, "5", deadline=timedelta(minutes=5)))
    assert result.status is WritebackState.TIMED_OUT


async def test_cancel_withdraws_and_ends_cancelled(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "6")
    await poller.track(h)
    result = await poller.cancel(h)
    assert result.status is WritebackState.CANCELLED
    assert (await poller.status(h)).status is WritebackState.CANCELLED
    assert poller.pending_count == 0


async def test_cancel_too_late_returns_the_real_outcome(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("7", timedelta(0), WritebackState.WRITTEN, created_id="B2")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.cancel(await recorded(journal, clock, "7"))
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "B2")


async def test_callbacks_sync_and_async_run_once(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("8", timedelta(seconds=40), WritebackState.WRITTEN, created_id="C3")
    seen: list[str] = []

    async def async_callback(result: WritebackResult) -> None:
        seen.append(f"async:{result.created_id}")

    poller = WritebackPoller(
        source, journal=journal, clock=clock, on_complete=lambda r: seen.append(f"default:{r.status.value}")
    )
    h = await recorded(journal, clock, "8")
    await poller.track(h, callback=lambda r: seen.append(f"sync:{r.created_id}"))
    poller.on_complete(h, async_callback)
    await poller.wait(h)
    await asyncio.sleep(0)
    assert sorted(seen) == ["async:C3", "default:written", "sync:C3"]
    # A callback registered after the end runs at once with the same result.
    late: list[WritebackResult] = []
    poller.on_complete(h, late.append)
    await asyncio.sleep(0)
    assert [r.created_id for r in late] == ["C3"]


async def test_a_failing_callback_does_not_stop_the_others(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("9", timedelta(seconds=10), WritebackState.WRITTEN)
    seen: list[str] = []

    def broken(_: WritebackResult) -> None:
        raise RuntimeError("boom")

    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "9")
    await poller.track(h, callback=broken)
    await poller.track(h, callback=lambda r: seen.append(r.status.value))
    await poller.wait(h)
    assert seen == ["written"]


async def test_one_batched_request_reports_on_many_handles(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    handles = [await recorded(journal, clock, str(i)) for i in range(200)]
    for i, h in enumerate(handles):
        source.complete(h.id, timedelta(seconds=30 + i), WritebackState.WRITTEN, created_id=f"X{i}")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    results = await asyncio.gather(*(poller.wait(h) for h in handles))
    assert all(r.status is WritebackState.WRITTEN for r in results)
    # 200 completions spread over ~4 minutes: a request per round, not per handle.
    assert source.poll_calls == poller.rounds
    assert source.poll_calls < 40
    assert source.check_calls == 0


async def test_handles_missing_from_the_batch_are_checked_one_by_one(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("z", timedelta(seconds=20), WritebackState.WRITTEN, created_id="Z")
    source.invisible.add("z")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.wait(await recorded(journal, clock, "z"))
    assert result.created_id == "Z"
    assert source.check_calls >= 1


def test_old_handles_are_polled_less_often() -> None:
    schedule = PollSchedule(min_interval=timedelta(seconds=10), max_interval=timedelta(minutes=2), growth=0.25)
    assert schedule.interval(timedelta(seconds=5)) == timedelta(seconds=10)
    assert schedule.interval(timedelta(minutes=4)) == timedelta(minutes=1)
    assert schedule.interval(timedelta(hours=3)) == timedelta(minutes=2)


async def test_a_restarted_worker_resumes_the_journal_of_a_sqlite_store(
    clock: FakeClock, tmp_path: object
) -> None:
    store = SqliteStore(f"{tmp_path}/pms.db")
    first = WritebackPoller(ScriptedSource(clock), journal=store.journal, clock=clock)
    handles = [await recorded(store.journal, clock, f"r{i}") for i in range(3)]
    for h in handles:
        await first.track(h)
    await first.aclose()  # the worker dies with three writes pending
    await store.aclose()

    reopened = SqliteStore(f"{tmp_path}/pms.db")
    second_source = ScriptedSource(clock)
    for i, h in enumerate(handles):
        second_source.complete(h.id, timedelta(minutes=2), WritebackState.WRITTEN, created_id=f"N{i}")
    done: list[WritebackResult] = []
    second = WritebackPoller(second_source, journal=reopened.journal, clock=clock, on_complete=done.append)
    assert await second.resume() == 3
    results = [await second.wait(h) for h in handles]
    assert [r.created_id for r in results] == ["N0", "N1", "N2"]
    assert len(done) == 3
    assert await reopened.journal.open_entries() == []
    stored = await reopened.journal.get("r1")
    assert stored is not None
    assert stored.result is not None
    assert stored.result.created_id == "N1"
    await reopened.aclose()


async def test_the_journal_records_every_settle(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.complete("m", timedelta(seconds=15), WritebackState.WRITTEN)
    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "m")
    await poller.track(h)
    assert [e.id for e in await journal.open_entries()] == ["m"]
    await poller.wait(h)
    assert await journal.open_entries() == []
    stored = await journal.get("m")
    assert stored is not None
    assert stored.state is JournalState.SETTLED
    assert stored.result is not None
    assert stored.result.status is WritebackState.WRITTEN


async def test_a_handle_not_in_the_journal_is_refused(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    stray = handle_from_entry(entry(clock, "stray", writeback_id="1"))
    with pytest.raises(InvalidArgumentError, match="journal"):
        await poller.track(stray)


# -- writes whose answer was lost -----------------------------------------------------------------------------


async def test_a_lost_answer_found_in_the_log_is_followed_to_its_outcome(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    h = await lost(journal, clock, "L1")
    assert not h.acknowledged
    source.logged["L1"] = (clock.now() + timedelta(seconds=30), "9001")  # the PMS logs it 30 s late
    source.complete("9001", timedelta(minutes=2), WritebackState.WRITTEN, created_id="A9")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.wait(h)
    assert (result.status, result.created_id, result.writeback_id) == (WritebackState.WRITTEN, "A9", "9001")
    stored = await journal.get("L1")
    assert stored is not None
    assert stored.writeback_id == "9001"


async def test_a_lost_answer_never_logged_ends_not_applied_after_the_window(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    h = await lost(journal, clock, "L2")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    started = clock.now()
    result = await poller.wait(h)
    assert result.status is WritebackState.NOT_APPLIED
    assert "safe" in (result.message or "")
    assert clock.now() - started == source.reconcile_window  # looked once more exactly when the window closed
    assert source.find_calls >= 10  # looked again and again while the window was open


async def test_a_write_logged_just_before_the_window_closes_is_not_missed(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    h = await lost(journal, clock, "L3")
    source.logged["L3"] = (clock.now() + source.reconcile_window - timedelta(seconds=1), "9003")
    source.complete("9003", timedelta(0), WritebackState.WRITTEN, created_id="A3")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    assert (await poller.wait(h)).status is WritebackState.WRITTEN


async def test_a_writeback_already_claimed_by_another_entry_is_not_adopted(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    await recorded(journal, clock, "9100")  # another write, acknowledged as writeback 9100
    h = await lost(journal, clock, "L4")
    source.logged["L4"] = (clock.now(), "9100")  # the log lookup (wrongly) offers that one
    poller = WritebackPoller(source, journal=journal, clock=clock)
    result = await poller.wait(h)
    assert result.status is WritebackState.NOT_APPLIED
    assert result.writeback_id is None


async def test_a_lost_write_cannot_be_cancelled_until_it_is_found(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    h = await lost(journal, clock, "L5")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    with pytest.raises(UnsupportedOperationError, match="cannot be withdrawn"):
        await poller.cancel(h)
    assert (await poller.status(h)).status is WritebackState.PENDING


# -- what the poller cannot fix reaches the waiters ------------------------------------------------------------


async def test_revoked_access_reaches_every_waiter_within_one_round(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    source.failure = PermissionDeniedError("the practice has not authorized this Sikka app", code="API2007")
    poller = WritebackPoller(source, journal=journal, clock=clock)
    handles = [await recorded(journal, clock, "p1"), await lost(journal, clock, "p2")]
    started = clock.now()
    outcomes = await asyncio.gather(*(poller.wait(h) for h in handles), return_exceptions=True)
    assert all(isinstance(o, PermissionDeniedError) for o in outcomes), outcomes
    assert clock.now() - started <= poller.schedule.min_interval
    assert poller.pending_count == 2  # still tracked: access may come back, the writes may still land
    source.failure = None
    source.complete("p1", timedelta(0), WritebackState.WRITTEN)
    assert (await poller.wait(handles[0])).status is WritebackState.WRITTEN
    await poller.aclose()


class _BrokenJournal(MemoryJournal):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    async def get_many(self, entry_ids: Collection[str]) -> Mapping[str, JournalEntry]:
        if self.broken:
            raise StoreError("the write journal 'pms.db' failed: disk I/O error")
        return await super().get_many(entry_ids)


async def test_a_journal_failure_reaches_the_waiters_and_the_poller_recovers(
    clock: FakeClock, source: ScriptedSource
) -> None:
    journal = _BrokenJournal()
    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "j1")
    journal.broken = True
    with pytest.raises(StoreError, match="disk I/O"):
        await poller.wait(h)
    journal.broken = False
    source.complete("j1", timedelta(0), WritebackState.WRITTEN)
    assert (await poller.wait(h)).status is WritebackState.WRITTEN


async def test_an_unexpected_failure_in_a_round_is_raised_to_waiters_and_polling_goes_on(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal, caplog: pytest.LogCaptureFixture
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "u1")
    original = source.poll
    calls = 0

    async def poll_once_broken(handles: Sequence[Writeback]) -> dict[str, WritebackResult]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug")
        return await original(handles)

    source.poll = poll_once_broken  # type: ignore[method-assign]
    with pytest.raises(PmsError, match="KeyError"):
        await poller.wait(h)
    assert "KeyError" in caplog.text
    source.complete("u1", timedelta(0), WritebackState.WRITTEN)
    assert (await poller.wait(h)).status is WritebackState.WRITTEN
    assert poller._task is not None
    await poller.aclose()


async def test_wait_without_a_deadline_gives_up_after_max_wait_and_keeps_tracking(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock, max_wait=timedelta(minutes=5))
    h = await recorded(journal, clock, "w1")  # no deadline of its own, like a payment
    started = clock.now()
    with pytest.raises(WaitTimeoutError, match="still tracked"):
        await poller.wait(h)
    assert clock.now() - started == timedelta(minutes=5)
    assert poller.pending_count == 1
    assert "w1" not in source.withdrawn
    source.complete("w1", timedelta(0), WritebackState.WRITTEN)
    assert (await poller.wait(h)).status is WritebackState.WRITTEN


async def test_a_result_another_worker_settled_reaches_this_workers_waiter(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    h = await recorded(journal, clock, "o1")
    waiting = asyncio.ensure_future(poller.wait(h))
    await asyncio.sleep(0)
    settled = WritebackResult(handle_id="o1", writeback_id="o1", status=WritebackState.WRITTEN, created_id="E1")
    await journal.settle("o1", settled, at=clock.now())  # as another process's poller would
    result = await waiting
    assert result.created_id == "E1"
    assert source.check_calls == 0


async def test_the_first_settle_wins(clock: FakeClock, journal: MemoryJournal) -> None:
    await recorded(journal, clock, "f1")
    first = WritebackResult(handle_id="f1", status=WritebackState.WRITTEN, created_id="X")
    second = WritebackResult(handle_id="f1", status=WritebackState.NOT_APPLIED)
    assert await journal.settle("f1", first, at=clock.now()) == first
    assert await journal.settle("f1", second, at=clock.now()) == first


async def test_negative_timeout_is_refused(
    clock: FakeClock, source: ScriptedSource, journal: MemoryJournal
) -> None:
    poller = WritebackPoller(source, journal=journal, clock=clock)
    with pytest.raises(InvalidArgumentError, match="negative"):
        await poller.wait(await recorded(journal, clock, "n"), timeout=-1)


# -- one leader per batch key across workers ---------------------------------------------------------------


async def test_pollers_sharing_a_store_elect_one_leader_and_all_waiters_get_results(clock: FakeClock) -> None:
    store = MemoryStore()
    sources = [ScriptedSource(clock), ScriptedSource(clock)]
    pollers = [WritebackPoller(s, journal=store.journal, clock=clock, leases=store) for s in sources]
    for poller, source in zip(pollers, sources, strict=True):
        poller.register(source, "scripted:1")  # both serve the practice: the leader follows all its entries
    handles = [await recorded(store.journal, clock, f"e{i}") for i in range(6)]
    for source in sources:
        for i, h in enumerate(handles):
            source.complete(h.id, timedelta(seconds=40 + 10 * i), WritebackState.WRITTEN, created_id=f"C{i}")
    results = await asyncio.gather(*(pollers[i % 2].wait(h) for i, h in enumerate(handles)))

    assert [r.created_id for r in results] == [f"C{i}" for i in range(6)]
    polled = [s.poll_calls for s in sources]
    assert min(polled) == 0, f"both workers asked the PMS: {polled}"
    assert max(polled) > 0
    for poller in pollers:
        await poller.aclose()


async def test_a_follower_takes_over_within_one_lease_when_the_leader_stops(clock: FakeClock) -> None:
    store = MemoryStore()
    ttl = timedelta(seconds=30)
    first, second = ScriptedSource(clock), ScriptedSource(clock)
    leader = WritebackPoller(first, journal=store.journal, clock=clock, leases=store, lease_ttl=ttl)
    follower = WritebackPoller(second, journal=store.journal, clock=clock, leases=store, lease_ttl=ttl)
    leader.register(first, "scripted:1")
    follower.register(second, "scripted:1")
    h = await recorded(store.journal, clock, "t1")
    await leader.track(h)
    waiting = asyncio.ensure_future(follower.wait(h))
    while not leader.leading:  # the first to look becomes the leader
        await clock.sleep(1)
    assert not follower.leading
    await leader.aclose()  # the leader stops (or dies): its lease is no longer renewed
    stopped = clock.now()
    second.complete("t1", timedelta(0), WritebackState.WRITTEN, created_id="T1")

    result = await waiting

    assert result.created_id == "T1"
    assert clock.now() - stopped <= ttl + ttl / 3 + timedelta(seconds=1)
    assert follower.leading == frozenset({"scripted"})
    await follower.aclose()


async def test_the_leader_adopts_what_a_dead_worker_left_open(clock: FakeClock) -> None:
    """Worker A wrote an entry and died; worker B, following a write of its own, leads and finishes A's."""
    store = MemoryStore()
    source = ScriptedSource(clock)
    orphan = await recorded(store.journal, clock, "orphan")
    own = await recorded(store.journal, clock, "own")
    source.complete("orphan", timedelta(seconds=20), WritebackState.WRITTEN, created_id="O1")
    source.complete("own", timedelta(seconds=60), WritebackState.WRITTEN, created_id="W1")
    worker_b = WritebackPoller(source, journal=store.journal, clock=clock, leases=store)
    worker_b.register(source, "scripted:1")

    assert (await worker_b.wait(own)).created_id == "W1"

    settled = await store.journal.get(orphan.id)
    assert settled is not None
    assert settled.result is not None
    assert settled.result.created_id == "O1"
    await worker_b.aclose()


async def test_a_round_longer_than_the_lease_keeps_it(clock: FakeClock) -> None:
    """A round of detail checks (one request per write) can outlast the lease: the leader renews it as it
    goes, so that no other worker starts polling while it still sends."""
    store = MemoryStore()
    ttl = timedelta(seconds=30)
    rival_won: list[bool] = []

    class SlowDetails(ScriptedSource):
        async def poll(self, handles: Sequence[Writeback]) -> dict[str, WritebackResult | None]:  # type: ignore[override]
            self.poll_calls += 1
            return {h.id: None for h in handles}  # done at the PMS: each outcome needs its own request

        async def check(self, handle: Writeback) -> WritebackResult:
            clock.advance(timedelta(seconds=12))  # a slow answer
            rival = await store.lease("writeback-poller:scripted", "rival", ttl=30, now=clock.now().timestamp())
            rival_won.append(rival)
            return await super().check(handle)

    source = SlowDetails(clock)
    poller = WritebackPoller(source, journal=store.journal, clock=clock, leases=store, lease_ttl=ttl)
    handles = [await recorded(store.journal, clock, f"d{i}") for i in range(6)]
    for h in handles:
        source.complete(h.id, timedelta(0), WritebackState.WRITTEN)
        await poller.track(h)

    results = [await poller.wait(h) for h in handles]

    assert {r.status for r in results} == {WritebackState.WRITTEN}
    assert source.check_calls == 6, "one round: 72 s of checks under a 30 s lease"
    assert rival_won == [False] * 6
    await poller.aclose()


class SwallowingJournal(MemoryJournal):
    """A journal whose heartbeat swallows a cancellation, as a library below a store once did in a fleet."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = asyncio.Event()

    async def touch(self, entry_ids: Collection[str], *, at: datetime) -> None:
        self.inside.set()
        # The bug being survived: the cancellation stops here and never reaches the poller's loop.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await super().touch(entry_ids, at=at)


async def test_aclose_stops_the_loop_even_when_a_cancellation_is_swallowed(clock: FakeClock) -> None:
    journal = SwallowingJournal()
    source = ScriptedSource(clock)  # never completes: the loop would poll forever
    poller = WritebackPoller(source, journal=journal, clock=clock)
    await poller.track(await recorded(journal, clock, "s1"))
    await journal.inside.wait()  # the poller is inside the journal call that swallows

    await asyncio.wait_for(poller.aclose(), timeout=30)  # a guard against a hang, not a measurement

    rounds = poller.rounds
    await clock.sleep(120)
    assert poller.rounds == rounds, "the poller kept polling after aclose"
