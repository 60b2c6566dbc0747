"""Lost answers at scale, against the sandbox: every write is handled by the PMS and its answer lost (dropped
after handling, a 5xx after handling, a timeout), and it shows up in the PMS's log at once, 2 s or 30 s late.

50 writes of each kind (book, reschedule, cancel, confirm, new patient, payment) for each mode and each log
delay. Nothing may reach the PMS twice, and every write the PMS applied must end ``written``, tracked by its
own writeback id; never adopted from another write, never reported failed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pms_connect import BookingRequest, NewPatient, PaymentRequest, PmsError, WritebackState
from pms_connect.models import Writeback
from pms_connect.sikka import SikkaProvider
from pms_connect.testing import FakeClock, SikkaSandbox

EACH = 50
LOG_DELAYS = (timedelta(0), timedelta(seconds=2), timedelta(seconds=30))


def weekday_after(today: date, days: int) -> date:
    day = today + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class Writer:
    """50 distinct writes of each kind against one seeded practice."""

    def __init__(self, sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
        self.sandbox, self.pms = sandbox, pms
        world = sandbox.world
        self.zone = ZoneInfo(sandbox.timezone)
        self.patients = sorted(p.patient_id for p in world.patients.values() if p.practice_id == "1")
        self.upcoming = sorted(
            (
                a
                for a in world.appointments.values()
                if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today + timedelta(days=2)
            ),
            key=lambda a: a.appointment_sr_no,
        )[: 3 * EACH]

    def at(self, first_day: int, n: int, per_day: int, step: timedelta) -> datetime:
        day = weekday_after(self.sandbox.today, first_day + 2 * (n // per_day))
        return datetime.combine(day, time(4, 0), tzinfo=self.zone) + step * (n % per_day)

    async def write(self, kind: str, n: int) -> Writeback:
        pms = self.pms
        if kind == "book":
            start = self.at(80, n, 10, timedelta(minutes=40))
            request = BookingRequest(
                patient_id=self.patients[n], provider_id="DMD1", start=start, duration=timedelta(minutes=30)
            )
            return await pms.appointments.book(request)
        if kind == "reschedule":
            return await pms.appointments.reschedule(
                self.upcoming[n].appointment_sr_no, start=self.at(120, n, 6, timedelta(hours=2))
            )
        if kind == "cancel":
            return await pms.appointments.cancel(self.upcoming[EACH + n].appointment_sr_no)
        if kind == "confirm":
            return await pms.appointments.confirm(self.upcoming[2 * EACH + n].appointment_sr_no)
        if kind == "create":
            return await pms.patients.create(NewPatient(first_name=f"Lost{n}", last_name="Answer"))
        code = next(iter(await pms.payment_types()))
        amount = Decimal(f"{10 + n}.25")
        return await pms.payments.post(
            PaymentRequest(patient_id=self.patients[n], amount=amount, payment_type=code)
        )


KINDS = ("book", "reschedule", "cancel", "confirm", "create", "pay")


@pytest.mark.parametrize("delay", LOG_DELAYS, ids=lambda d: f"logged+{d.total_seconds():g}s")
@pytest.mark.parametrize("mode", ["drop", "error", "timeout"])
async def test_lost_answers_never_duplicate_and_every_applied_write_ends_written(
    mode: str, delay: timedelta
) -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=13, clock=clock, writeback_delay=timedelta(seconds=45))
    async with sandbox.provider() as pms:
        writer = Writer(sandbox, pms)
        await pms.features()
        await pms.payment_types()
        sandbox.faults.write_answer_loss = 1.0
        sandbox.faults.write_answer_loss_mode = mode
        sandbox.faults.log_delay = delay
        handles: list[Writeback] = []
        for n in range(EACH):
            for kind in KINDS:
                handles.append(await writer.write(kind, n))
        sandbox.faults.write_answer_loss = 0.0
        assert not any(h.acknowledged for h in handles)
        results = await asyncio.gather(*(pms.writebacks.wait(h) for h in handles))

    records = [r for r in sandbox.writebacks if not r.deleted]
    assert len(records) == len(handles) == EACH * len(KINDS), "every write reached the PMS exactly once"
    assert Counter(r.status for r in results) == {WritebackState.WRITTEN: len(handles)}
    # Each applied write resolved to its own writeback, never to another's.
    assert sorted(r.writeback_id or "" for r in results) == sorted(r.id for r in records)
    by_record = {r.id: r for r in records}
    for handle, result in zip(handles, results, strict=True):
        record = by_record[result.writeback_id or ""]
        if "note" in record.body:
            assert handle.id in record.body["note"]
        assert record.state == "success"
    # Zero duplicates at the PMS.
    world = sandbox.world
    notes = Counter(a.note for a in world.appointments.values() if a.note.startswith("PMSC"))
    assert len(notes) == EACH
    assert set(notes.values()) == {1}
    assert Counter(p.firstname for p in world.patients.values() if p.lastname == "Answer") == {
        f"Lost{n}": 1 for n in range(EACH)
    }
    paid = Counter(t.note for t in world.transactions.values() if t.note.startswith("PMSC"))
    assert len(paid) == EACH
    assert set(paid.values()) == {1}


async def test_a_5xx_before_the_pms_handled_the_write_ends_not_applied_and_nothing_lands() -> None:
    """The control: the answer is an error and the write never reached the PMS (the sandbox's error_rate
    fails a request before handling it). Every handle ends not_applied; nothing is queued; nothing resent."""
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=13, clock=clock)
    async with sandbox.provider(reference_ttl=timedelta(days=1)) as pms:
        writer = Writer(sandbox, pms)
        await pms.features()
        await pms.known_providers()  # every read a new patient needs is cached: only its POST meets the 5xx
        sandbox.faults.error_rate = 1.0
        handles = [await writer.write("create", n) for n in range(20)]
        sandbox.faults.error_rate = 0.0
        results = await asyncio.gather(*(pms.writebacks.wait(h) for h in handles))
    assert {r.status for r in results} == {WritebackState.NOT_APPLIED}
    assert sandbox.writebacks == []
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path == "/v4/patient"]
    assert len(posts) == len(handles), "each sent once, never again"


async def test_no_phi_reaches_logs_reprs_or_errors_on_the_way(caplog: pytest.LogCaptureFixture) -> None:
    canaries = {"first": "Zebulonia", "last": "Quixotepants", "email": "zebq@example.org", "cell": "312-555-0147"}
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=13, clock=clock)
    caplog.set_level("DEBUG", logger="pms_connect")
    async with sandbox.provider() as pms:
        sandbox.faults.write_answer_loss = 1.0
        handle = await pms.patients.create(
            NewPatient(
                first_name=canaries["first"],
                last_name=canaries["last"],
                email=canaries["email"],
                cell_phone=canaries["cell"],
            )
        )
        sandbox.faults.write_answer_loss = 0.0
        result = await pms.writebacks.wait(handle)
        entry = await pms.store.journal.get(handle.id)
        errors = []
        for bad in ({"cell_phone": "555"}, {"email": canaries["email"] + "@"}, {"first_name": " "}):
            try:
                await pms.patients.create(
                    NewPatient.model_construct(**{"first_name": canaries["first"], "last_name": "X", **bad})
                )
            except PmsError as exc:
                errors.append(f"{exc} {exc!r}")
    assert result.status is WritebackState.WRITTEN
    seen = "\n".join([caplog.text, repr(handle), repr(result), repr(entry), *errors])
    assert len(errors) == 3
    for value in canaries.values():
        assert value not in seen
