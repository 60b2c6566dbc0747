"""The provider-neutral writeback poller, against a scripted source and a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from pms_connect.models import Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.testing.clock import FakeClock
from pms_connect.writeback import (
    InMemoryWritebackLedger,
    PollSchedule,
    SqliteWritebackLedger,
    WritebackPoller,
)


class ScriptedSource:
    """Writebacks that complete at scripted times; counts the requests it is asked to make."""

    batch_key = "scripted"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.outcomes: dict[str, tuple[datetime, WritebackResult]] = {}
        self.invisible: set[str] = set()  # ids the batch list does not show
        self.withdrawn: set[str] = set()
        self.poll_calls = 0
        self.check_calls = 0

    def complete(self, wid: str, after: timedelta, status: WritebackState, **kw: str) -> None:
        result = WritebackResult(writeback_id=wid, status=status, **kw)
        self.outcomes[wid] = (self.clock.now() + after, result)

    def _current(self, wid: str) -> WritebackResult:
        if wid in self.withdrawn:
            return WritebackResult(writeback_id=wid, status=WritebackState.CANCELLED)
        when, result = self.outcomes.get(wid, (None, None))
        if when is None or result is None or self.clock.now() < when:
            return WritebackResult(writeback_id=wid, status=WritebackState.PENDING)
        return result

    async def poll(self, handles: Sequence[Writeback]) -> dict[str, WritebackResult]:
        self.poll_calls += 1
        return {h.id: self._current(h.id) for h in handles if h.id not in self.invisible}

    async def check(self, handle: Writeback) -> WritebackResult:
        self.check_calls += 1
        return self._current(handle.id)

    async def withdraw(self, handle: Writeback) -> bool:
        if self._current(handle.id).status.terminal:
            return False
        self.withdrawn.add(handle.id)
        return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def source(clock: FakeClock) -> ScriptedSource:
    return ScriptedSource(clock)


def handle(clock: FakeClock, wid: str, deadline: timedelta | None = None) -> Writeback:
    return Writeback(
        id=wid,
        kind=WritebackKind.BOOK_APPOINTMENT,
        submitted_at=clock.now(),
        deadline=clock.now() + deadline if deadline else None,
    )


async def test_wait_returns_written_with_created_id(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("1", timedelta(seconds=95), WritebackState.WRITTEN, created_id="A77")
    poller = WritebackPoller(source, clock=clock)
    started = clock.now()
    result = await poller.wait(handle(clock, "1"))
    assert result.status is WritebackState.WRITTEN
    assert result.created_id == "A77"
    # Detected within one polling interval (age / 4 at 95 s) of the completion.
    assert clock.now() - started <= timedelta(seconds=95 + 95 / 4)
    await poller.aclose()


async def test_failure_carries_the_pms_reason(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("2", timedelta(seconds=50), WritebackState.FAILED, message="Operatory double-booked")
    poller = WritebackPoller(source, clock=clock)
    result = await poller.wait(handle(clock, "2"))
    assert (result.status, result.message) == (WritebackState.FAILED, "Operatory double-booked")


async def test_timeout_withdraws_the_pending_write(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("3", timedelta(minutes=30), WritebackState.WRITTEN, created_id="late")
    poller = WritebackPoller(source, clock=clock)
    started = clock.now()
    result = await poller.wait(handle(clock, "3"), timeout=120)
    assert result.status is WritebackState.TIMED_OUT
    assert "withdrawn" in (result.message or "")
    assert "3" in source.withdrawn
    assert clock.now() - started == timedelta(seconds=120)


async def test_timeout_after_completion_reports_what_happened(clock: FakeClock, source: ScriptedSource) -> None:
    # The write lands between the last poll and the deadline: withdrawing fails, the real outcome wins.
    source.complete("4", timedelta(seconds=119), WritebackState.WRITTEN, created_id="A1")
    poller = WritebackPoller(source, clock=clock, schedule=PollSchedule(min_interval=timedelta(seconds=60)))
    result = await poller.wait(handle(clock, "4"), timeout=119.5)
    assert result.status is WritebackState.WRITTEN
    assert result.created_id == "A1"


async def test_appointment_start_is_a_deadline(clock: FakeClock, source: ScriptedSource) -> None:
    poller = WritebackPoller(source, clock=clock)
    result = await poller.wait(handle(clock, "5", deadline=timedelta(minutes=5)))
    assert result.status is WritebackState.TIMED_OUT


async def test_cancel_withdraws_and_ends_cancelled(clock: FakeClock, source: ScriptedSource) -> None:
    poller = WritebackPoller(source, clock=clock)
    h = handle(clock, "6")
    await poller.track(h)
    result = await poller.cancel(h)
    assert result.status is WritebackState.CANCELLED
    assert (await poller.status(h)).status is WritebackState.CANCELLED
    assert poller.pending_count == 0


async def test_cancel_too_late_returns_the_real_outcome(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("7", timedelta(0), WritebackState.WRITTEN, created_id="B2")
    poller = WritebackPoller(source, clock=clock)
    result = await poller.cancel(handle(clock, "7"))
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "B2")


async def test_callbacks_sync_and_async_run_once(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("8", timedelta(seconds=40), WritebackState.WRITTEN, created_id="C3")
    seen: list[str] = []

    async def async_callback(result: WritebackResult) -> None:
        seen.append(f"async:{result.created_id}")

    poller = WritebackPoller(source, clock=clock, on_complete=lambda r: seen.append(f"default:{r.status.value}"))
    h = handle(clock, "8")
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


async def test_a_failing_callback_does_not_stop_the_others(clock: FakeClock, source: ScriptedSource) -> None:
    source.complete("9", timedelta(seconds=10), WritebackState.WRITTEN)
    seen: list[str] = []

    def broken(_: WritebackResult) -> None:
        raise RuntimeError("boom")

    poller = WritebackPoller(source, clock=clock)
    h = handle(clock, "9")
    await poller.track(h, callback=broken)
    await poller.track(h, callback=lambda r: seen.append(r.status.value))
    await poller.wait(h)
    assert seen == ["written"]


async def test_one_batched_request_reports_on_many_handles(clock: FakeClock, source: ScriptedSource) -> None:
    handles = [handle(clock, str(i)) for i in range(200)]
    for i, h in enumerate(handles):
        source.complete(h.id, timedelta(seconds=30 + i), WritebackState.WRITTEN, created_id=f"X{i}")
    poller = WritebackPoller(source, clock=clock)
    results = await asyncio.gather(*(poller.wait(h) for h in handles))
    assert all(r.status is WritebackState.WRITTEN for r in results)
    # 200 completions spread over ~4 minutes: a request per round, not per handle.
    assert source.poll_calls == poller.rounds
    assert source.poll_calls < 40
    assert source.check_calls == 0


async def test_handles_missing_from_the_batch_are_checked_one_by_one(
    clock: FakeClock, source: ScriptedSource
) -> None:
    source.complete("z", timedelta(seconds=20), WritebackState.WRITTEN, created_id="Z")
    source.invisible.add("z")
    poller = WritebackPoller(source, clock=clock)
    result = await poller.wait(handle(clock, "z"))
    assert result.created_id == "Z"
    assert source.check_calls >= 1


def test_old_handles_are_polled_less_often() -> None:
    schedule = PollSchedule(min_interval=timedelta(seconds=10), max_interval=timedelta(minutes=2), growth=0.25)
    assert schedule.interval(timedelta(seconds=5)) == timedelta(seconds=10)
    assert schedule.interval(timedelta(minutes=4)) == timedelta(minutes=1)
    assert schedule.interval(timedelta(hours=3)) == timedelta(minutes=2)


async def test_sqlite_ledger_lets_a_restarted_worker_resume(clock: FakeClock, tmp_path: object) -> None:
    path = f"{tmp_path}/ledger.sqlite3"
    first_source = ScriptedSource(clock)
    first = WritebackPoller(first_source, clock=clock, ledger=SqliteWritebackLedger(path))
    handles = [handle(clock, f"r{i}") for i in range(3)]
    for h in handles:
        await first.track(h)
    await first.aclose()  # the worker dies with three writes pending

    second_source = ScriptedSource(clock)
    for i, h in enumerate(handles):
        second_source.complete(h.id, timedelta(minutes=2), WritebackState.WRITTEN, created_id=f"N{i}")
    ledger = SqliteWritebackLedger(path)
    done: list[WritebackResult] = []
    second = WritebackPoller(second_source, clock=clock, ledger=ledger, on_complete=done.append)
    assert await second.resume() == 3
    results = [await second.wait(h) for h in handles]
    assert [r.created_id for r in results] == ["N0", "N1", "N2"]
    assert len(done) == 3
    assert await ledger.pending() == []
    stored = await ledger.result("r1")
    assert stored is not None
    assert stored.created_id == "N1"


async def test_in_memory_ledger_records_and_settles(clock: FakeClock, source: ScriptedSource) -> None:
    ledger = InMemoryWritebackLedger()
    source.complete("m", timedelta(seconds=15), WritebackState.WRITTEN)
    poller = WritebackPoller(source, clock=clock, ledger=ledger)
    h = handle(clock, "m")
    await poller.track(h)
    assert [p.id for p in await ledger.pending()] == ["m"]
    await poller.wait(h)
    assert await ledger.pending() == []
    assert ledger.settled["m"].status is WritebackState.WRITTEN


async def test_negative_timeout_is_refused(clock: FakeClock, source: ScriptedSource) -> None:
    poller = WritebackPoller(source, clock=clock)
    with pytest.raises(ValueError, match="negative"):
        await poller.wait(handle(clock, "n"), timeout=-1)
