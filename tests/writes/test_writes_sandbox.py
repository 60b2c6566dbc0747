"""Writes against the sandbox: validation before sending, slot re-checks, outcomes, no double booking."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from pms_connect import (
    BookingRequest,
    InvalidArgumentError,
    NewPatient,
    PaymentRequest,
    PmsError,
    RateLimit,
    SlotUnavailableError,
    UnsupportedOperationError,
    WritebackState,
)
from pms_connect.models import WritebackKind
from pms_connect.ratelimit import RateLimiter
from pms_connect.sikka import SikkaProvider, SikkaWriteOptions
from pms_connect.stores import JournalEntry, MemoryStore, SlotClaim, new_entry_id
from pms_connect.testing import FakeClock, SikkaSandbox
from pms_connect.writeback import PollSchedule


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SikkaSandbox:
    return SikkaSandbox(seed=11, clock=clock)


def next_weekday(start: date, days_ahead: int) -> date:
    day = start + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at(pms: SikkaProvider, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=pms.timezone)


def writes_sent(sandbox: SikkaSandbox) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in sandbox.requests
        if r.method in {"POST", "PUT", "PATCH"} and r.path != "/v4/request_key"
    ]


def booking(pms: SikkaProvider, patient_id: str, start: datetime, **kw: object) -> BookingRequest:
    values: dict[str, object] = {
        "patient_id": patient_id,
        "provider_id": "DMD1",
        "start": start,
        "duration": timedelta(minutes=30),
        "reason": "Cleaning",
    }
    values.update(kw)
    return BookingRequest.model_validate(values)


async def a_patient(pms: SikkaProvider) -> str:
    page = await pms.patients.list()
    return page.items[0].id


async def test_a_booking_is_followed_until_it_is_in_the_pms(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 3), 6, 0)
        handle = await pms.appointments.book(booking(pms, patient_id, start, operatory="OP2"))
        assert handle.deadline == start
        result = await pms.writebacks.wait(handle, timeout=600)
        assert result.status is WritebackState.WRITTEN
        assert result.created_id is not None
        booked = await pms.appointments.get(result.created_id)
        assert (booked.patient_id, booked.provider_id, booked.operatory) == (patient_id, "DMD1", "OP2")
        assert booked.start == start
        assert booked.duration == timedelta(minutes=30)
    assert writes_sent(sandbox) == ["POST /v4/appointment"]


async def test_invalid_bookings_raise_before_any_write(sandbox: SikkaSandbox, clock: FakeClock) -> None:
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        past = clock.now() - timedelta(hours=1)
        with pytest.raises(InvalidArgumentError, match="future"):
            await pms.appointments.book(booking(pms, patient_id, past))
        future = at(pms, next_weekday(pms.today(), 2), 6)
        with pytest.raises(InvalidArgumentError, match="provider"):
            await pms.appointments.book(booking(pms, patient_id, future, provider_id="NOPE"))
        with pytest.raises(InvalidArgumentError, match="patient"):
            await pms.appointments.book(booking(pms, "no-such-patient", future))
        with pytest.raises(InvalidArgumentError, match="operatory"):
            await pms.appointments.book(booking(pms, patient_id, future, operatory="OP99"))
    with pytest.raises(ValueError, match="aware"):
        BookingRequest(patient_id="1", provider_id="DMD1", start=datetime(2030, 1, 1, 9), duration=timedelta(30))
    with pytest.raises(ValueError, match="positive"):
        BookingRequest(patient_id="1", provider_id="DMD1", start=future, duration=timedelta(minutes=-30))
    assert writes_sent(sandbox) == []


async def test_a_taken_slot_raises_slot_unavailable(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        day = next_weekday(pms.today(), 1)
        existing = next(
            a for a in await pms.appointments.list(start=day, end=day, provider_id="DMD1").all() if not a.cancelled
        )
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.book(booking(pms, patient_id, existing.start + timedelta(minutes=10)))
    assert writes_sent(sandbox) == []


async def test_a_visit_running_past_midnight_blocks_a_booking_the_next_morning(sandbox: SikkaSandbox) -> None:
    """The practice's hours end long before midnight, so a list reads from the window's first day; the
    booking's own check still reads the day before, and sees the late visit that runs into its slot."""
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        evening = next_weekday(pms.today(), 2)
        # Booked at the front desk (not through this SDK, so no claim of ours holds it): 23:30 for an hour.
        template = next(a for a in sandbox.world.appointments.values() if a.practice_id == "1" and a.operatory)
        late = dataclasses.replace(
            template,
            appointment_sr_no=str(max(int(i) for i in sandbox.world.appointments) + 1),
            provider_id="DMD1",
            start=datetime.combine(evening, time(23, 30)),
            length=60,
            status="Scheduled",
        )
        sandbox.world.appointments[late.appointment_sr_no] = late
        assert not (await pms.schedules()).reach_midnight
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.book(booking(pms, patient_id, at(pms, evening + timedelta(days=1), 0, 0)))
    assert writes_sent(sandbox) == []


async def test_a_slot_taken_between_search_and_booking_is_refused(sandbox: SikkaSandbox) -> None:
    """Another worker books the slot after we saw it free: the re-check catches it, nothing is sent."""
    async with sandbox.provider() as ours, sandbox.provider() as theirs:
        patient_id = await a_patient(ours)
        start = at(ours, next_weekday(ours.today(), 4), 6, 30)
        free = await ours.appointments.list(start=start, end=start + timedelta(minutes=30)).all()
        assert [a for a in free if a.provider_id == "DMD1" and not a.cancelled] == []
        theirs_handle = await theirs.appointments.book(booking(theirs, patient_id, start, operatory="OP1"))
        assert (await theirs.writebacks.wait(theirs_handle)).status is WritebackState.WRITTEN
        with pytest.raises(SlotUnavailableError):
            await ours.appointments.book(booking(ours, patient_id, start, operatory="OP1"))
    assert writes_sent(sandbox) == ["POST /v4/appointment"]


async def test_our_own_pending_booking_holds_its_slot(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 5), 6, 0)
        first = await pms.appointments.book(booking(pms, patient_id, start))
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.book(booking(pms, patient_id, start + timedelta(minutes=15)))
        # Concurrent attempts at one slot: exactly one is sent.
        later = start + timedelta(hours=2)
        outcomes = await asyncio.gather(
            *(pms.appointments.book(booking(pms, patient_id, later)) for _ in range(5)), return_exceptions=True
        )
        assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
        assert all(isinstance(o, SlotUnavailableError) for o in outcomes if isinstance(o, BaseException))
        assert (await pms.writebacks.wait(first)).status is WritebackState.WRITTEN
    assert writes_sent(sandbox).count("POST /v4/appointment") == 2


async def test_a_double_booking_from_workers_without_a_shared_store_fails_with_the_pms_reason(
    sandbox: SikkaSandbox,
) -> None:
    """Two workers that share no store both get accepted; a PMS that refuses overlaps applies one only."""
    sandbox.reject_overlaps = True
    async with sandbox.provider() as first, sandbox.provider() as second:
        patient_id = await a_patient(first)
        start = at(first, next_weekday(first.today(), 6), 6, 0)
        a = await first.appointments.book(booking(first, patient_id, start, operatory="OP3"))
        b = await second.appointments.book(booking(second, patient_id, start, operatory="OP3", provider_id="DMD2"))
        results = [await first.writebacks.wait(a), await second.writebacks.wait(b)]
    assert sorted(r.status.value for r in results) == ["failed", "written"]
    failed = next(r for r in results if r.status is WritebackState.FAILED)
    assert "double" in (failed.message or "").lower()


async def test_workers_sharing_a_store_never_both_claim_a_slot(sandbox: SikkaSandbox) -> None:
    """The PMS accepts overlaps (as most do): the shared store is what prevents the second booking."""
    store = MemoryStore()
    async with sandbox.provider(store=store) as first, sandbox.provider(store=store) as second:
        patient_id = await a_patient(first)
        start = at(first, next_weekday(first.today(), 6), 6, 0)
        handle = await first.appointments.book(booking(first, patient_id, start, operatory="OP3"))
        with pytest.raises(SlotUnavailableError):  # the same chair, another dentist
            await second.appointments.book(booking(second, patient_id, start, operatory="OP3", provider_id="DMD2"))
        with pytest.raises(SlotUnavailableError):  # the same dentist, another chair
            await second.appointments.book(booking(second, patient_id, start, operatory="OP4"))
        assert (await first.writebacks.wait(handle)).status is WritebackState.WRITTEN
    booked = [a for a in sandbox.world.appointments.values() if a.patient_id == patient_id and a.start.hour == 6]
    assert len(booked) == 1
    assert writes_sent(sandbox) == ["POST /v4/appointment"]


async def test_a_failed_booking_frees_its_slot_at_once(sandbox: SikkaSandbox) -> None:
    sandbox.faults.fail_next_writebacks(1, "Appointment could not be saved.")
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 6), 7, 0)
        failed = await pms.appointments.book(booking(pms, patient_id, start))
        assert (await pms.writebacks.wait(failed)).status is WritebackState.FAILED
        again = await pms.appointments.book(booking(pms, patient_id, start))
        assert (await pms.writebacks.wait(again)).status is WritebackState.WRITTEN


async def test_a_claim_whose_holder_died_lapses_after_the_hold_lease(
    sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    """A worker claimed a slot, journaled its write and died before sending: nobody follows the entry, so
    its claim lapses after the lease; until then the slot stays taken for everyone."""
    store = MemoryStore()
    async with sandbox.provider(store=store) as pms:
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 8), 6, 0)
        await pms.guard.claim(
            provider_id="DMD1",
            operatory="OP1",
            operatories=await pms.known_operatories(),
            start=start,
            end=start + timedelta(minutes=30),
            moves=None,
            booked=await pms.appointments.list(start=start, end=start + timedelta(minutes=30)).all(),
            record=lambda claim: store.journal.record(dead_workers_entry(pms, claim, clock)),
        )
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.book(booking(pms, patient_id, start))
        clock.advance(pms.guard.hold_lease + timedelta(seconds=1))
        handle = await pms.appointments.book(booking(pms, patient_id, start))
        assert handle.acknowledged


def dead_workers_entry(pms: SikkaProvider, claim: SlotClaim, clock: FakeClock) -> JournalEntry:
    now = clock.now()
    return JournalEntry(
        id=new_entry_id(),
        kind=WritebackKind.BOOK_APPOINTMENT,
        practice=pms.practice_key,
        method="POST",
        path="appointment",
        slot=claim,
        created_at=now,
        touched_at=now,
    )


async def test_find_slots_leaves_out_times_claimed_by_bookings_in_flight(sandbox: SikkaSandbox) -> None:
    sandbox.faults.utility_online = False  # the booking stays pending at the PMS
    store = MemoryStore()
    async with sandbox.provider(store=store) as ours, sandbox.provider(store=store) as theirs:
        patient_id = await a_patient(ours)
        day = ours.today() + timedelta(days=35)  # the seeded book fills up towards today
        while day.weekday() != 1:  # a Tuesday: DMD2 works
            day += timedelta(days=1)
        slots = await ours.appointments.find_slots(
            start=day, end=day, duration=timedelta(minutes=30), provider_id="DMD2"
        )
        taken = slots[0]
        await theirs.appointments.book(
            booking(theirs, patient_id, taken.start, operatory=taken.operatory, provider_id="DMD2")
        )
        after = await ours.appointments.find_slots(
            start=day, end=day, duration=timedelta(minutes=30), provider_id="DMD2"
        )
    assert taken.start in {s.start for s in slots}
    assert all(not (s.start < taken.end and taken.start < s.end) for s in after)
    assert len(after) < len(slots)


async def test_reschedule_confirm_cancel_use_the_practices_own_statuses(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 7), 6, 0)
        created = await pms.writebacks.wait(await pms.appointments.book(booking(pms, patient_id, start)))
        assert created.created_id is not None
        moved = await pms.appointments.reschedule(created.created_id, start=start + timedelta(days=1))
        assert (await pms.writebacks.wait(moved)).status is WritebackState.WRITTEN
        assert (await pms.appointments.get(created.created_id)).start == start + timedelta(days=1)
        confirmed = await pms.appointments.confirm(created.created_id)
        assert (await pms.writebacks.wait(confirmed)).status is WritebackState.WRITTEN
        assert (await pms.appointments.get(created.created_id)).confirmed
        cancelled = await pms.appointments.cancel(created.created_id, reason="feeling unwell")
        assert (await pms.writebacks.wait(cancelled)).status is WritebackState.WRITTEN
        final = await pms.appointments.get(created.created_id)
        assert final.cancelled
        assert final.status in await pms.appointment_status_values()


async def test_reschedule_refuses_a_taken_slot(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        day = next_weekday(pms.today(), 1)
        booked = [
            a for a in await pms.appointments.list(start=day, end=day, provider_id="DMD1").all() if not a.cancelled
        ]
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.reschedule(booked[0].id, start=booked[1].start)
    assert writes_sent(sandbox) == []


async def test_new_patient_and_payment(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        handle = await pms.patients.create(
            NewPatient(first_name="Ada", last_name="Quill", birthdate=date(1990, 4, 2), cell_phone="312-555-7788")
        )
        created = await pms.writebacks.wait(handle)
        assert created.status is WritebackState.WRITTEN
        assert created.created_id is not None
        patient = await pms.patients.get(created.created_id)
        assert (patient.first_name, patient.last_name) == ("Ada", "Quill")
        code = next(iter(await pms.payment_types()))
        paid = await pms.payments.post(
            PaymentRequest(patient_id=patient.id, amount=Decimal("25.00"), payment_type=code)
        )
        assert (await pms.writebacks.wait(paid)).status is WritebackState.WRITTEN
        today = pms.today()
        payments = await pms.payments.list(start=today, end=today, patient_id=patient.id).all()
        assert [t.amount for t in payments] == [Decimal("-25.00")]  # a credit, as the ledger lists payments
        with pytest.raises(InvalidArgumentError, match="zero"):
            await pms.payments.post(PaymentRequest(patient_id=patient.id, amount=Decimal(0), payment_type=code))
        with pytest.raises(InvalidArgumentError, match="payment_type"):
            await pms.payments.post(PaymentRequest(patient_id=patient.id, amount=Decimal(5), payment_type="zz"))
    with pytest.raises(ValueError, match="non-negative"):
        PaymentRequest(patient_id="1", amount=Decimal("-1"), payment_type="1")


async def test_writes_the_pms_does_not_support_raise_before_sending(clock: FakeClock) -> None:
    sandbox = SikkaSandbox(seed=11, clock=clock, pms_name="Practice-Web")  # no writebacks at all
    async with sandbox.provider() as pms:
        features = await pms.get_features()
        assert not {c.value for c in features.capabilities} & {
            "book_appointment",
            "create_patient",
            "post_payment",
        }
        patient_id = await a_patient(pms)
        start = at(pms, next_weekday(pms.today(), 2), 6)
        with pytest.raises(UnsupportedOperationError, match="book_appointment"):
            await pms.appointments.book(booking(pms, patient_id, start))
        with pytest.raises(UnsupportedOperationError, match="create_patient"):
            await pms.patients.create(NewPatient(first_name="A", last_name="B"))
        with pytest.raises(UnsupportedOperationError, match="post_payment"):
            await pms.payments.post(PaymentRequest(patient_id=patient_id, amount=Decimal(5), payment_type="1"))
    assert writes_sent(sandbox) == []


async def test_a_pending_write_past_its_deadline_is_withdrawn(sandbox: SikkaSandbox) -> None:
    sandbox.faults.utility_online = False  # the practice's machine is off: writes stay queued
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        handle = await pms.appointments.book(booking(pms, patient_id, at(pms, next_weekday(pms.today(), 2), 6)))
        result = await pms.writebacks.wait(handle, timeout=300)
        assert result.status is WritebackState.TIMED_OUT
        assert "withdrawn" in (result.message or "")
        sandbox.faults.utility_online = True
        await sandbox.run_writebacks()
        booked = [
            a for a in sandbox.world.appointments.values() if a.patient_id == patient_id and a.start.hour == 6
        ]
        assert booked == []


@pytest.mark.parametrize("seed", range(12))
async def test_no_double_booking_under_dropped_connections_and_errors(seed: int) -> None:
    """Every handle ends written (exactly one appointment) or not applied (none); never two for a slot."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=seed, clock=clock)
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        await pms.features()
        await pms.known_providers()
        await pms.known_operatories()
        sandbox.faults.drop_rate = 0.35
        sandbox.faults.error_rate = 0.15
        slots = [at(pms, next_weekday(pms.today(), 1 + i), 6, 0) for i in range(4)]
        handles = []
        for start in slots:
            # A clear error before anything was queued is an allowed outcome; a second appointment is not.
            with contextlib.suppress(PmsError):
                handles.append(await pms.appointments.book(booking(pms, patient_id, start, operatory="OP1")))
        sandbox.faults.drop_rate = 0.0
        sandbox.faults.error_rate = 0.0
        results = [await pms.writebacks.wait(h) for h in handles]
    booked = [a for a in sandbox.world.appointments.values() if a.patient_id == patient_id and a.start.hour == 6]
    per_slot = Counter(a.start for a in booked)
    assert all(count == 1 for count in per_slot.values()), per_slot
    assert {r.status for r in results} <= {WritebackState.WRITTEN, WritebackState.NOT_APPLIED}
    assert sorted(r.created_id for r in results if r.status is WritebackState.WRITTEN) == sorted(
        a.appointment_sr_no for a in booked
    )


async def test_interactive_calls_keep_flowing_while_the_poller_is_busy(
    sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.faults.utility_online = False
    limiter = RateLimiter(RateLimit(requests=30, per_seconds=60, background_share=0.5), clock=clock)
    busy = PollSchedule(min_interval=timedelta(seconds=1), max_interval=timedelta(seconds=1))
    async with sandbox.provider(rate_limit=limiter, poller=busy) as pms:
        patient_id = await a_patient(pms)
        first = at(pms, next_weekday(pms.today(), 1), 4)
        for i in range(8):
            await pms.appointments.book(booking(pms, patient_id, first + timedelta(minutes=30 * i)))
        clock.advance(timedelta(seconds=30))
        started = clock.now()
        for _ in range(10):
            await pms.providers.list().all()
        interactive_elapsed = clock.now() - started
        assert pms.writebacks.pending_count == 8
    # The poller wants a request every second, but its lane is capped at half the budget: the ten reads all
    # go within one window, and no minute ever held more than 15 background requests.
    assert interactive_elapsed <= timedelta(seconds=60)
    polls = sorted(
        (r.at - started).total_seconds()
        for r in sandbox.requests
        if r.path in ("/v4/writebacks", "/v4/writeback_status")
    )
    assert polls
    assert max(sum(1 for q in polls if p <= q < p + 60) for p in polls) <= 15


async def test_check_spu_refuses_a_write_at_once_while_the_utility_is_offline(sandbox: SikkaSandbox) -> None:
    from pms_connect import PreconditionFailedError

    sandbox.faults.utility_online = False
    async with sandbox.provider(writes=SikkaWriteOptions(check_spu=True)) as pms:
        patient_id = await a_patient(pms)
        with pytest.raises(PreconditionFailedError, match="offline"):
            await pms.appointments.book(booking(pms, patient_id, at(pms, next_weekday(pms.today(), 2), 6)))
    assert writes_sent(sandbox) == ["POST /v4/appointment"]
    assert [w for w in sandbox.writebacks if not w.deleted] == []


async def test_one_poller_serves_every_practice_with_one_request_a_round(
    sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    from pms_connect.writeback import WritebackPoller

    store = MemoryStore()
    shared = WritebackPoller(journal=store.journal, clock=clock)
    second_practice = sandbox.credentials.model_copy(update={"practice_id": "2"})
    async with (
        sandbox.provider(store=store, poller=shared) as first,
        SikkaProvider(
            second_practice,
            timezone=sandbox.timezone,
            base_url=sandbox.base_url,
            transport=sandbox.transport,
            clock=clock,
            store=store,
            poller=shared,
        ) as second,
    ):
        handles = []
        for pms in (first, second):
            patient_id = await a_patient(pms)
            provider_id = (await pms.known_providers())[0].id
            start = at(pms, next_weekday(pms.today(), 3), 6)
            handles.append(
                (pms, await pms.appointments.book(booking(pms, patient_id, start, provider_id=provider_id)))
            )
        assert shared.pending_count == 2
        results = [await pms.writebacks.wait(handle) for pms, handle in handles]
        assert [r.status for r in results] == [WritebackState.WRITTEN, WritebackState.WRITTEN]
        for (pms, _), result in zip(handles, results, strict=True):
            assert result.created_id is not None
            assert (await pms.appointments.get(result.created_id)).practice_id == pms.practice_id
    lists = [r for r in sandbox.requests if r.path == "/v4/writebacks" and r.method == "GET"]
    assert len(lists) == shared.rounds  # one list request a round for both practices, not one each
    await shared.aclose()


async def test_status_values_name_the_practices_own_status(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider(writes=SikkaWriteOptions(status_values={"cancel": "Broken"})) as pms:
        assert await pms.status_value("cancel") == "Broken"
        assert await pms.status_value("confirm") == "Confirmed"
    async with sandbox.provider(writes=SikkaWriteOptions(status_values={"confirm": "CONF-TEXT"})) as pms:
        with pytest.raises(InvalidArgumentError, match="status_values"):
            await pms.status_value("confirm")


async def test_a_licence_page_cap_of_one_row_still_shows_every_clash(clock: FakeClock) -> None:
    """With Sikka answering one row a page, the slot check before a booking still reads every appointment."""
    sandbox = SikkaSandbox(seed=11, clock=clock, page_cap=1)
    async with sandbox.provider() as pms:
        patient_id = await a_patient(pms)
        day = next_weekday(pms.today(), 1)
        everything = await pms.appointments.list(start=day, end=day).all()
        sandbox.page_cap = None
        assert [a.id for a in everything] == [a.id for a in await pms.appointments.list(start=day, end=day).all()]
        sandbox.page_cap = 1
        taken = [a for a in everything if a.provider_id == "DMD1" and not a.cancelled]
        assert len(everything) > len(taken) >= 2
        for appointment in (taken[0], taken[-1]):  # the first and the last of the day's, many pages apart
            with pytest.raises(SlotUnavailableError):
                await pms.appointments.book(booking(pms, patient_id, appointment.start + timedelta(minutes=5)))
    assert writes_sent(sandbox) == []
    limits = {r.params.get("limit") for r in sandbox.requests if r.path == "/v4/appointments"}
    assert "1" in limits
