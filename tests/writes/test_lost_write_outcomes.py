"""What becomes of a write whose answer was lost, in the cases a quick fault does not show: an answer that
comes back (and fails) long after the request left, a caller's deadline that passes before the PMS's log
shows the write, another client's look-alike write in the log, and a fleet whose access is revoked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect import NewPatient, WritebackState
from pms_connect.errors import PermissionDeniedError, StoreError, WaitTimeoutError
from pms_connect.models import Writeback
from pms_connect.sikka import SikkaProvider
from pms_connect.stores import MemoryStore
from pms_connect.testing import FakeClock, SikkaSandbox

WRITE_METHODS = {"POST", "PUT", "PATCH"}


class SlowThenTimeout(httpx.AsyncBaseTransport):
    """The PMS handles the write, then its answer trickles for ``delay`` and the client times out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: FakeClock, delay: timedelta) -> None:
        self.inner, self.clock, self.delay = inner, clock, delay
        self.slow = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.slow and request.method in WRITE_METHODS and not request.url.path.endswith("request_key"):
            await response.aread()
            self.clock.advance(self.delay)
            raise httpx.ReadTimeout("the answer never finished", request=request)
        return response


def upcoming(sandbox: SikkaSandbox, count: int) -> list[str]:
    rows = sorted(
        (
            a
            for a in sandbox.world.appointments.values()
            if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today + timedelta(days=2)
        ),
        key=lambda a: a.appointment_sr_no,
    )
    return [a.appointment_sr_no for a in rows[:count]]


@pytest.mark.parametrize("delay", [timedelta(seconds=150), timedelta(minutes=9)], ids=["150s", "9min"])
async def test_an_answer_lost_long_after_sending_still_resolves_to_written(delay: timedelta) -> None:
    """Writes without a marker (new patient, reschedule, cancel, confirm) are found in the log by time: the
    window opens when the write was journaled, just before sending, not when its slow answer failed."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=3, clock=clock, writeback_delay=timedelta(seconds=45))
    transport = SlowThenTimeout(sandbox.transport, clock, delay)
    pms = SikkaProvider(
        sandbox.credentials, timezone=sandbox.timezone, base_url=sandbox.base_url, transport=transport, clock=clock
    )
    async with pms:
        await pms.features()
        first, second, third = upcoming(sandbox, 3)
        day = sandbox.today + timedelta(days=120)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        reschedule_to = datetime.combine(day, time(4, 0), tzinfo=ZoneInfo(sandbox.timezone))  # a free time
        transport.slow = True
        writes: list[Callable[[], Awaitable[Writeback]]] = [
            lambda: pms.patients.create(NewPatient(first_name="Slow", last_name="Answer")),
            lambda: pms.appointments.reschedule(first, start=reschedule_to),
            lambda: pms.appointments.cancel(second),
            lambda: pms.appointments.confirm(third),
        ]
        handles = [await write() for write in writes]
        transport.slow = False
        assert not any(h.acknowledged for h in handles)
        results = await asyncio.gather(*(pms.writebacks.wait(h) for h in handles))
    assert [r.status for r in results] == [WritebackState.WRITTEN] * 4, [r.message for r in results]
    assert len(sandbox.writebacks) == 4, "each write reached the PMS once"
    assert sum(1 for p in sandbox.world.patients.values() if p.firstname == "Slow") == 1


async def test_a_deadline_never_gives_up_on_a_write_that_may_be_applied() -> None:
    """``wait(timeout=)`` on a lost write raises WaitTimeoutError and leaves it tracked: the PMS's log shows
    it later and it ends written, never ``timed_out`` while the PMS applies it."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=3, clock=clock, writeback_delay=timedelta(seconds=45))
    async with sandbox.provider() as pms:
        await pms.features()
        sandbox.faults.write_answer_loss = 1.0
        sandbox.faults.write_answer_loss_mode = "drop"
        sandbox.faults.log_delay = timedelta(seconds=30)
        handle = await pms.patients.create(NewPatient(first_name="Tim", last_name="Out"))
        sandbox.faults.write_answer_loss = 0.0
        assert handle.acknowledged is False
        with pytest.raises(WaitTimeoutError, match="may already be applied"):
            await pms.writebacks.wait(handle, timeout=10)
        entry = await pms.store.journal.get(handle.id)
        assert entry is not None
        assert entry.open, "still journaled as open, never settled timed_out"
        result = await pms.writebacks.wait(handle)
        assert result.status is WritebackState.WRITTEN
        assert result.created_id
    assert [(w.kind, w.state) for w in sandbox.writebacks] == [("new_patient", "success")]


async def test_another_clients_patient_with_a_field_we_did_not_send_is_never_adopted() -> None:
    """Our "Maria Garcia" (no email) fails before reaching the PMS; another client's "Maria Garcia" with an
    email is logged right after. It differs in a field we did not send: ours ends not_applied."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=3, clock=clock, writeback_delay=timedelta(seconds=5))
    async with sandbox.provider() as ours, sandbox.provider(store=MemoryStore()) as theirs:
        await ours.features()
        await ours.known_providers()
        sandbox.faults.error_rate = 1.0
        handle = await ours.patients.create(NewPatient(first_name="Maria", last_name="Garcia"))
        sandbox.faults.error_rate = 0.0
        other = await theirs.patients.create(
            NewPatient(first_name="Maria", last_name="Garcia", email="maria.g@example.org")
        )
        assert (await theirs.writebacks.wait(other)).status is WritebackState.WRITTEN
        result = await ours.writebacks.wait(handle)
    assert result.status is WritebackState.NOT_APPLIED
    assert result.created_id is None


class Revocable(httpx.AsyncBaseTransport):
    """Answers the writeback reads with Sikka's API2007 once the app's access is revoked."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.revoked = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.revoked and request.url.path.endswith(("/writebacks", "/writeback_status")):
            body = {
                "http_code": "401",
                "http_code_desc": "Unauthorized",
                "error_code": "API2007",
                "short_message": "",
                "long_message": "Not authorized to access this API.",
                "more_information": "",
            }
            return httpx.Response(401, json=body, request=request)
        return await self.inner.handle_async_request(request)


async def test_every_worker_of_a_fleet_hears_that_access_was_revoked() -> None:
    """Only the poller leader reads the PMS; it steps aside on an access failure, so the follower polls,
    meets the error and tells its own waiter, instead of waiting for results nobody can read."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=3, clock=clock)
    sandbox.faults.utility_online = False  # the writes stay pending at the PMS
    store = MemoryStore()
    transport = Revocable(sandbox.transport)

    def worker() -> SikkaProvider:
        return SikkaProvider(
            sandbox.credentials,
            timezone=sandbox.timezone,
            base_url=sandbox.base_url,
            transport=transport,
            clock=clock,
            store=store,
        )

    async with worker() as leader, worker() as follower:
        first = await leader.patients.create(NewPatient(first_name="Lead", last_name="Worker"))
        await asyncio.sleep(0)
        clock.advance(timedelta(seconds=6))
        await asyncio.sleep(0.05)
        second = await follower.patients.create(NewPatient(first_name="Follow", last_name="Worker"))
        assert leader.writebacks.poller.leading
        assert not follower.writebacks.poller.leading
        transport.revoked = True
        started = clock.now()
        for pms, handle in ((leader, first), (follower, second)):
            with pytest.raises(PermissionDeniedError):
                await pms.writebacks.wait(handle)
        assert clock.now() - started <= timedelta(minutes=1), "heard within a lease, not after max_wait"
        assert {e.id for e in await store.journal.open_entries()} == {first.id, second.id}, "still tracked"


class LeaselessStore(MemoryStore):
    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        raise StoreError("the lease table is unreachable")


async def test_a_store_whose_leases_fail_tells_the_waiters() -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=3, clock=clock)
    async with sandbox.provider(store=LeaselessStore()) as pms:
        handle = await pms.patients.create(NewPatient(first_name="No", last_name="Lease"))
        with pytest.raises(StoreError, match="unreachable"):
            await pms.writebacks.wait(handle)
