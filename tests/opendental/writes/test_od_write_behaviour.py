"""The Open Dental writes against the sandbox, on a FakeClock: a write whose answer is lost is applied once and
read back to ``written`` with its own record; one that was not applied ends ``not_applied``; bookings are
refused over what holds the time although the sandbox itself accepts overlaps.

The sandbox runs in remote mode (paced, as the real API) at 2026-12-01 08:00 in Chicago, seed 7.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from pms_connect.errors import SlotUnavailableError
from pms_connect.models import (
    BookingRequest,
    NewPatient,
    PaymentRequest,
    TimeSlot,
    Writeback,
    WritebackResult,
    WritebackState,
)
from pms_connect.opendental import OpenDentalProvider
from pms_connect.opendental.sandbox.records import DbAppointment, DbSchedule
from pms_connect.stores import MemoryStore, SqliteStore, Store
from pms_connect.testing import FakeClock, OpenDentalSandbox

RECONCILE_WINDOW = timedelta(minutes=5)
WAIT = timedelta(minutes=20)  # longer than the reconcile window: a wait that times out is a failure here
LOSS_MODES = ("drop", "timeout", "error")
CONFIRMED = 21  # the seed's "Appointment Confirmed" (definition Category 2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> OpenDentalSandbox:
    return OpenDentalSandbox(seed=7, clock=clock)


@pytest.fixture
async def pms(sandbox: OpenDentalSandbox) -> AsyncIterator[OpenDentalProvider]:
    async with sandbox.provider(reference_ttl=timedelta(days=1)) as pms:
        yield pms


class FailingWrites(httpx.AsyncBaseTransport):
    """The sandbox's transport with ``error_rate`` at 1 for the writes only: a 500 or 504 answers the write
    before the sandbox applies it (the provider's reads meanwhile are served)."""

    def __init__(self, sandbox: OpenDentalSandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        faults = self.sandbox.faults
        faults.error_rate = 1.0 if request.method != "GET" else 0.0
        try:
            return await self.sandbox.transport.handle_async_request(request)
        finally:
            faults.error_rate = 0.0


# -- what the seeded office holds -----------------------------------------------------------------------------


def active_patients(sandbox: OpenDentalSandbox) -> list[int]:
    return sorted(p.pat_num for p in sandbox.data.patients.values() if p.status == "Patient")


def upcoming(sandbox: OpenDentalSandbox) -> list[DbAppointment]:
    """Scheduled dentist visits (not hygiene) from three days ahead, oldest number first."""
    soon = datetime.combine(sandbox.today + timedelta(days=3), time(0))
    return sorted(
        (
            a
            for a in sandbox.data.appointments.values()
            if a.status == "Scheduled" and a.op and a.start >= soon and not a.is_hygiene and not a.prov_hyg
        ),
        key=lambda a: a.apt_num,
    )


def local(moment: datetime) -> datetime:
    """The sandbox's naive wall clock for an aware practice time."""
    return moment.replace(tzinfo=None)


async def free_slots(
    pms: OpenDentalProvider, days_ahead: int, duration: timedelta, provider_id: str | None = None
) -> list[TimeSlot]:
    day = pms.today() + timedelta(days=days_ahead)
    return await pms.appointments.find_slots(start=day, end=day, duration=duration, provider_id=provider_id)


# -- one write of each kind ---------------------------------------------------------------------------------


@dataclass
class Case:
    """One write of a kind: arranged on the seeded office, made, and its effect (or its absence) checked."""

    sandbox: OpenDentalSandbox
    pms: OpenDentalProvider
    state: dict[str, Any] = field(default_factory=dict)

    method = "POST"

    def path(self) -> str:
        raise NotImplementedError

    async def arrange(self) -> None:
        raise NotImplementedError

    async def write(self) -> Writeback:
        raise NotImplementedError

    def applied(self, handle: Writeback) -> str:
        """Assert the office holds the write exactly once; the created (or updated) record's number."""
        raise NotImplementedError

    def untouched(self) -> None:
        """Assert the office does not hold the write."""
        raise NotImplementedError

    def sent(self) -> list[Any]:
        return [r for r in self.sandbox.requests if r.method == self.method and r.path == "/api/v1/" + self.path()]


class Book(Case):
    def path(self) -> str:
        return "appointments"

    async def arrange(self) -> None:
        self.state["slot"] = (await free_slots(self.pms, 2, timedelta(minutes=30)))[0]
        self.state["patient"] = active_patients(self.sandbox)[0]
        self.state["count"] = len(self.sandbox.data.appointments)

    async def write(self) -> Writeback:
        slot: TimeSlot = self.state["slot"]
        request = BookingRequest(
            patient_id=str(self.state["patient"]),
            provider_id=slot.provider_id,
            start=slot.start,
            duration=timedelta(minutes=30),
            reason="Crown seat",
        )
        return await self.pms.appointments.book(request)

    def applied(self, handle: Writeback) -> str:
        slot: TimeSlot = self.state["slot"]
        [row] = [a for a in self.sandbox.data.appointments.values() if a.note.endswith(handle.id)]
        assert len(self.sandbox.data.appointments) == self.state["count"] + 1
        assert (row.pat_num, row.prov_num, row.op, row.start, row.pattern, row.note) == (
            self.state["patient"],
            int(slot.provider_id),
            int(slot.operatory or 0),
            local(slot.start),
            "XXXXXX",
            f"Crown seat {handle.id}",
        )
        return str(row.apt_num)

    def untouched(self) -> None:
        assert len(self.sandbox.data.appointments) == self.state["count"]


class Reschedule(Case):
    method = "PUT"

    def path(self) -> str:
        return f"appointments/{self.state['row'].apt_num}"

    async def arrange(self) -> None:
        row = upcoming(self.sandbox)[0]
        self.state["row"] = row
        self.state["before"] = dataclasses.replace(row)
        self.state["slot"] = (await free_slots(self.pms, 14, row.length, str(row.prov_num)))[0]
        self.state["count"] = len(self.sandbox.data.appointments)

    async def write(self) -> Writeback:
        slot: TimeSlot = self.state["slot"]
        return await self.pms.appointments.reschedule(
            str(self.state["row"].apt_num), start=slot.start, operatory=slot.operatory
        )

    def applied(self, handle: Writeback) -> str:
        slot: TimeSlot = self.state["slot"]
        before: DbAppointment = self.state["before"]
        row = self.sandbox.data.appointments[before.apt_num]
        assert len(self.sandbox.data.appointments) == self.state["count"]
        assert (row.start, row.op, row.prov_num, row.pat_num, row.status) == (
            local(slot.start),
            int(slot.operatory or 0),
            before.prov_num,
            before.pat_num,
            "Scheduled",
        )
        assert row.pattern == "X" * len(before.pattern)
        return str(row.apt_num)

    def untouched(self) -> None:
        before: DbAppointment = self.state["before"]
        row = self.sandbox.data.appointments[before.apt_num]
        assert (row.start, row.op, row.pattern) == (before.start, before.op, before.pattern)


class Cancel(Case):
    method = "PUT"

    def path(self) -> str:
        return f"appointments/{self.state['row'].apt_num}/Break"

    async def arrange(self) -> None:
        self.state["row"] = upcoming(self.sandbox)[1]
        self.state["count"] = len(self.sandbox.data.appointments)

    async def write(self) -> Writeback:
        return await self.pms.appointments.cancel(str(self.state["row"].apt_num), reason="Patient called")

    def applied(self, handle: Writeback) -> str:
        row = self.sandbox.data.appointments[self.state["row"].apt_num]
        assert row.status == "UnschedList"  # broken onto the Unscheduled List
        assert len(self.sandbox.data.appointments) == self.state["count"]
        return str(row.apt_num)

    def untouched(self) -> None:
        assert self.sandbox.data.appointments[self.state["row"].apt_num].status == "Scheduled"


class Confirm(Case):
    method = "PUT"

    def path(self) -> str:
        return f"appointments/{self.state['row'].apt_num}/Confirm"

    async def arrange(self) -> None:
        self.state["row"] = next(a for a in upcoming(self.sandbox) if a.confirmed != CONFIRMED)
        self.state["was"] = self.state["row"].confirmed

    async def write(self) -> Writeback:
        return await self.pms.appointments.confirm(str(self.state["row"].apt_num))

    def applied(self, handle: Writeback) -> str:
        row = self.sandbox.data.appointments[self.state["row"].apt_num]
        assert row.confirmed == CONFIRMED
        return str(row.apt_num)

    def untouched(self) -> None:
        assert self.sandbox.data.appointments[self.state["row"].apt_num].confirmed == self.state["was"]


class CreatePatient(Case):
    def path(self) -> str:
        return "patients"

    async def arrange(self) -> None:
        self.state["count"] = len(self.sandbox.data.patients)

    async def write(self) -> Writeback:
        patient = NewPatient(
            first_name="Lostina",
            last_name="Answerfield",
            birthdate=date(1988, 4, 9),
            cell_phone="(512) 555-0177",
            email="lostina@example.org",
        )
        return await self.pms.patients.create(patient)

    def mine(self) -> list[Any]:
        return [p for p in self.sandbox.data.patients.values() if (p.lname, p.fname) == ("Answerfield", "Lostina")]

    def applied(self, handle: Writeback) -> str:
        [row] = self.mine()
        assert (row.birthdate, row.wireless_phone, row.email) == (
            date(1988, 4, 9),
            "(512) 555-0177",
            "lostina@example.org",
        )
        assert len(self.sandbox.data.patients) == self.state["count"] + 1
        return str(row.pat_num)

    def untouched(self) -> None:
        assert self.mine() == []
        assert len(self.sandbox.data.patients) == self.state["count"]


class PostPayment(Case):
    def path(self) -> str:
        return "payments"

    async def arrange(self) -> None:
        self.state["patient"] = active_patients(self.sandbox)[1]
        self.state["count"] = len(self.sandbox.data.payments)

    async def write(self) -> Writeback:
        payment = PaymentRequest(
            patient_id=str(self.state["patient"]), amount=Decimal("42.50"), payment_type="69", note="At the desk"
        )
        return await self.pms.payments.post(payment)

    def applied(self, handle: Writeback) -> str:
        [row] = [p for p in self.sandbox.data.payments.values() if p.note.endswith(handle.id)]
        assert (row.pat_num, row.amount, row.pay_type, row.note) == (
            self.state["patient"],
            Decimal("42.50"),
            69,
            f"At the desk {handle.id}",
        )
        assert len(self.sandbox.data.payments) == self.state["count"] + 1
        return str(row.pay_num)

    def untouched(self) -> None:
        assert len(self.sandbox.data.payments) == self.state["count"]


KINDS: dict[str, type[Case]] = {
    "book": Book,
    "reschedule": Reschedule,
    "cancel": Cancel,
    "confirm": Confirm,
    "create patient": CreatePatient,
    "post payment": PostPayment,
}


async def ready(kind: str, sandbox: OpenDentalSandbox, pms: OpenDentalProvider) -> Case:
    case = KINDS[kind](sandbox, pms)
    await case.arrange()
    return case


# -- lost answers of applied writes -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", LOSS_MODES)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_lost_answer_of_an_applied_write_is_read_back_to_written_and_never_resent(
    sandbox: OpenDentalSandbox, pms: OpenDentalProvider, clock: FakeClock, kind: str, mode: str
) -> None:
    case = await ready(kind, sandbox, pms)
    sandbox.faults.write_answer_loss = 1.0
    sandbox.faults.write_answer_loss_mode = mode

    handle = await case.write()
    sandbox.faults.write_answer_loss = 0.0

    assert (handle.acknowledged, handle.writeback_id) == (False, None)
    [first] = case.sent()
    assert first.fault == {"drop": "answer_dropped", "timeout": "answer_timeout", "error": "answer_error"}[mode]
    result = await pms.writebacks.wait(handle, timeout=WAIT)
    number = case.applied(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, number)
    entry = await pms.store.journal.get(handle.id)
    assert entry is not None
    assert entry.writeback_id is not None
    assert entry.writeback_id.split(":")[1] == number
    await clock.sleep(RECONCILE_WINDOW.total_seconds() * 2)
    assert len(case.sent()) == 1, "applied once, never sent again"
    case.applied(handle)


# -- lost answers of writes that were not applied ------------------------------------------------------------

NOT_APPLIED = ("504 before applying", "500 before applying", "error_rate")


@pytest.mark.parametrize("fault", NOT_APPLIED)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_write_answered_5xx_before_it_was_applied_ends_not_applied_after_the_window(
    sandbox: OpenDentalSandbox, clock: FakeClock, kind: str, fault: str
) -> None:
    options: dict[str, Any] = {"reference_ttl": timedelta(days=1)}
    if fault == "error_rate":
        options["transport"] = FailingWrites(sandbox)
    async with sandbox.provider(**options) as pms:
        case = await ready(kind, sandbox, pms)
        if fault != "error_rate":
            status = 504 if fault.startswith("504") else 500
            sandbox.faults.refuse_next_write(
                status=status, message="Gateway Time-out: the request did not complete."
            )

        handle = await case.write()
        sent_at = clock.now()

        assert handle.acknowledged is False
        result = await pms.writebacks.wait(handle, timeout=WAIT)
        assert result.status is WritebackState.NOT_APPLIED
        assert "sending it again is safe" in (result.message or "")
        assert clock.now() - sent_at >= RECONCILE_WINDOW
        case.untouched()
        [only] = case.sent()
        assert only.fault == ("error" if fault == "error_rate" else "refused")


# -- two lost bookings ----------------------------------------------------------------------------------------


def two_times(slots: list[TimeSlot]) -> tuple[TimeSlot, TimeSlot]:
    """Two slots of one day an hour or more apart."""
    first = slots[0]
    second = next(s for s in slots if s.start >= first.start + timedelta(hours=1))
    return first, second


async def book_lost(pms: OpenDentalProvider, patient: int, slot: TimeSlot) -> Writeback:
    request = BookingRequest(
        patient_id=str(patient), provider_id=slot.provider_id, start=slot.start, duration=timedelta(minutes=30)
    )
    return await pms.appointments.book(request)


def assert_each_has_its_own(
    sandbox: OpenDentalSandbox, handles: list[Writeback], results: list[WritebackResult], slots: list[TimeSlot]
) -> None:
    numbers = []
    for handle, result, slot in zip(handles, results, slots, strict=True):
        [row] = [a for a in sandbox.data.appointments.values() if a.note.endswith(handle.id)]
        assert row.start == local(slot.start)
        assert (result.status, result.created_id) == (WritebackState.WRITTEN, str(row.apt_num))
        numbers.append(result.created_id)
    assert len(set(numbers)) == len(handles)
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/v1/appointments"]
    assert len(posts) == len(handles)


async def test_two_lost_bookings_of_one_patient_on_one_day_each_find_their_own(
    sandbox: OpenDentalSandbox, pms: OpenDentalProvider
) -> None:
    slots = list(two_times(await free_slots(pms, 2, timedelta(minutes=30))))
    patient = active_patients(sandbox)[0]
    sandbox.faults.write_answer_loss = 1.0
    handles = [await book_lost(pms, patient, slot) for slot in slots]
    sandbox.faults.write_answer_loss = 0.0

    results = list(await asyncio.gather(*(pms.writebacks.wait(h, timeout=WAIT) for h in handles)))

    assert_each_has_its_own(sandbox, handles, results, slots)


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
async def test_two_providers_on_one_store_never_adopt_each_others_lost_booking(
    sandbox: OpenDentalSandbox, tmp_path: Path, store_kind: str
) -> None:
    store: Store = MemoryStore() if store_kind == "memory" else SqliteStore(tmp_path / "pms.db")
    async with sandbox.provider(store=store) as one, sandbox.provider(store=store) as other:
        slots = list(two_times(await free_slots(one, 2, timedelta(minutes=30))))
        patient = active_patients(sandbox)[0]
        sandbox.faults.write_answer_loss = 1.0
        sandbox.faults.write_answer_loss_mode = "timeout"
        handles = [await book_lost(one, patient, slots[0]), await book_lost(other, patient, slots[1])]
        sandbox.faults.write_answer_loss = 0.0

        results = list(
            await asyncio.gather(
                one.writebacks.wait(handles[0], timeout=WAIT), other.writebacks.wait(handles[1], timeout=WAIT)
            )
        )

        assert_each_has_its_own(sandbox, handles, results, slots)
        for handle, result in zip(handles, results, strict=True):
            entry = await store.journal.get(handle.id)
            assert entry is not None
            assert entry.writeback_id == f"appointments:{result.created_id}"
    await store.aclose()


# -- the booking guard: what Open Dental accepts, the SDK refuses ------------------------------------------------


def add_appointment(sandbox: OpenDentalSandbox, *, provider: int, chair: int, start: datetime) -> DbAppointment:
    """An appointment put straight into the office's data (as the front desk would book it)."""
    data = sandbox.data
    template = upcoming(sandbox)[0]
    row = dataclasses.replace(
        template,
        apt_num=data.next_num(data.appointments),
        prov_num=provider,
        op=chair,
        start=local(start),
        pattern="XXXXXX",
        note="",
    )
    data.appointments[row.apt_num] = row
    return row


def posts(sandbox: OpenDentalSandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path == "/api/v1/appointments")


async def test_a_booking_over_the_providers_appointment_in_another_chair_is_refused(
    sandbox: OpenDentalSandbox, pms: OpenDentalProvider
) -> None:
    assert sandbox.reject_overlaps is False  # the sandbox itself would take the overlap
    slot = (await free_slots(pms, 2, timedelta(minutes=30)))[0]
    other_chair = next(c.id for c in await pms.known_operatories() if c.id != slot.operatory)
    add_appointment(sandbox, provider=int(slot.provider_id), chair=int(other_chair), start=slot.start)
    before = posts(sandbox)

    with pytest.raises(SlotUnavailableError, match="provider"):
        await pms.appointments.book(
            BookingRequest(
                patient_id=str(active_patients(sandbox)[0]),
                provider_id=slot.provider_id,
                start=slot.start + timedelta(minutes=10),
                duration=timedelta(minutes=30),
                operatory=slot.operatory,
            )
        )

    assert posts(sandbox) == before


async def test_a_booking_into_a_chair_another_provider_holds_is_refused(
    sandbox: OpenDentalSandbox, pms: OpenDentalProvider
) -> None:
    slots = await free_slots(pms, 2, timedelta(minutes=30))
    taken = slots[0]
    free = next(s for s in slots if s.start == taken.start and s.provider_id != taken.provider_id)
    add_appointment(sandbox, provider=int(taken.provider_id), chair=int(taken.operatory or 0), start=taken.start)
    before = posts(sandbox)

    with pytest.raises(SlotUnavailableError, match="operatory"):
        await pms.appointments.book(
            BookingRequest(
                patient_id=str(active_patients(sandbox)[0]),
                provider_id=free.provider_id,  # free then, in another chair
                start=taken.start,
                duration=timedelta(minutes=30),
                operatory=taken.operatory,
            )
        )

    assert posts(sandbox) == before


async def test_a_booking_over_a_blockout_is_refused(sandbox: OpenDentalSandbox, pms: OpenDentalProvider) -> None:
    slot = (await free_slots(pms, 2, timedelta(minutes=30)))[0]
    day, wall = slot.start.date(), local(slot.start).time()
    blocked = (datetime.combine(day, wall) + timedelta(minutes=60)).time()
    data = sandbox.data
    number = max(data.schedules) + 1
    # A staff meeting in the slot's chair, and an all-chairs one an hour later (a blockout naming no chair).
    data.schedules[number] = DbSchedule(
        number, day, wall, (datetime.combine(day, wall) + timedelta(minutes=30)).time(), "Blockout",
        blockout_type=248, ops=(int(slot.operatory or 0),),
    )  # fmt: skip
    data.schedules[number + 1] = DbSchedule(
        number + 1, day, blocked, (datetime.combine(day, blocked) + timedelta(minutes=30)).time(), "Blockout",
        blockout_type=248,
    )  # fmt: skip
    pms.clear_cache()
    before = posts(sandbox)
    patient = str(active_patients(sandbox)[0])

    def at(start: datetime, chair: str | None) -> BookingRequest:
        return BookingRequest(
            patient_id=patient,
            provider_id=slot.provider_id,
            start=start,
            duration=timedelta(minutes=30),
            operatory=chair,
        )

    with pytest.raises(SlotUnavailableError, match="operatory"):
        await pms.appointments.book(at(slot.start, slot.operatory))
    with pytest.raises(SlotUnavailableError, match="no operatory"):
        await pms.appointments.book(at(slot.start + timedelta(minutes=60), None))
    assert posts(sandbox) == before


async def test_a_booking_goes_to_the_chair_the_providers_schedule_names(
    sandbox: OpenDentalSandbox, pms: OpenDentalProvider
) -> None:
    chairs = [c.id for c in await pms.known_operatories()]
    # DOC2 (provider 2) works in chair 3 only; chairs 1 and 2 come first in the practice's order.
    assert chairs.index("3") > chairs.index("1")
    slots = await free_slots(pms, 2, timedelta(minutes=30), provider_id="2")
    data = sandbox.data

    def free(chair: int, slot: TimeSlot) -> bool:
        start, end = local(slot.start), local(slot.end)
        return not any(
            a.op == chair and a.status in ("Scheduled", "Complete") and a.start < end and start < a.end
            for a in data.appointments.values()
        )

    slot = next(s for s in slots if free(1, s))  # chair 1 is free too: only the schedule says chair 3
    assert slot.operatory == "3"

    handle = await pms.appointments.book(
        BookingRequest(
            patient_id=str(active_patients(sandbox)[0]),
            provider_id="2",
            start=slot.start,
            duration=timedelta(minutes=30),
        )
    )

    [post] = [r for r in sandbox.requests if r.method == "POST"]
    assert post.body["Op"] == 3
    result = await pms.writebacks.wait(handle)
    assert data.appointments[int(result.created_id or 0)].op == 3
