"""One voice-receptionist flow, written once against the PmsProvider protocol, run unchanged against both
built-in providers: find open slots, match the caller by phone (and birthdate when the phone is shared),
book, confirm, cancel. Sikka's writes complete later (its writeback queue); Open Dental's at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from pms_connect import BookingRequest, PmsProvider
from pms_connect.matching import normalize_phone
from pms_connect.models import MatchStatus, Patient, ProviderKind, WritebackState
from pms_connect.stores import MemoryStore
from pms_connect.testing import FakeClock, OpenDentalSandbox, SikkaSandbox

VISIT = timedelta(minutes=30)


@dataclass
class Outcome:
    slots: int
    matched: str
    booked: str
    confirmed: bool
    cancelled: bool


async def receptionist_flow(pms: PmsProvider, caller: Patient) -> Outcome:
    """What the example receptionist does on a call, through the protocol alone."""
    phone = caller.cell_phone or caller.home_phone or caller.work_phone
    assert phone is not None
    match = await pms.patients.match(phone=phone)
    if match.status is MatchStatus.AMBIGUOUS:  # a household line: the caller says their birthdate
        match = await pms.patients.match(phone=phone, birthdate=caller.birthdate, first_name=caller.first_name)
    assert match.status is MatchStatus.EXACT, match.status
    assert match.patient is not None
    today = pms.today()
    slots = await pms.appointments.find_slots(
        start=today + timedelta(days=1),
        end=today + timedelta(days=7),
        duration=VISIT,
        kinds=[ProviderKind.DENTIST],
    )
    assert slots, "no open slot in the next week"
    slot = slots[0]
    assert slot.provider_id is not None
    handle = await pms.appointments.book(
        BookingRequest(
            patient_id=match.patient.id,
            provider_id=slot.provider_id,
            start=slot.start,
            duration=VISIT,
            operatory=slot.operatory,
            reason="Cleaning",
        )
    )
    booked = await pms.writebacks.wait(handle, timeout=600)
    assert booked.status is WritebackState.WRITTEN, booked.message
    assert booked.created_id is not None
    appointment = await pms.appointments.get(booked.created_id)
    assert (appointment.start, appointment.patient_id) == (slot.start, match.patient.id)
    assert appointment.end - appointment.start == VISIT
    confirmed = await pms.writebacks.wait(await pms.appointments.confirm(appointment.id), timeout=600)
    assert confirmed.status is WritebackState.WRITTEN, confirmed.message
    is_confirmed = (await pms.appointments.get(appointment.id)).confirmed
    cancelled = await pms.writebacks.wait(await pms.appointments.cancel(appointment.id), timeout=600)
    assert cancelled.status is WritebackState.WRITTEN, cancelled.message
    is_cancelled = (await pms.appointments.get(appointment.id)).cancelled
    return Outcome(len(slots), match.patient.id, appointment.id, is_confirmed, is_cancelled)


def _sikka() -> Callable[[], PmsProvider]:
    sandbox = SikkaSandbox(seed=11, clock=FakeClock(), writeback_delay=timedelta(seconds=30))
    return lambda: sandbox.provider(store=MemoryStore())


def _opendental() -> Callable[[], PmsProvider]:
    sandbox = OpenDentalSandbox(seed=11, clock=FakeClock())
    return lambda: sandbox.provider(store=MemoryStore())


async def _a_caller(pms: PmsProvider) -> Patient:
    """A patient with a phone and a birthdate (a shared household phone is fine: the flow asks)."""
    for patient in await pms.patients.list().all():
        phone = patient.cell_phone or patient.home_phone or patient.work_phone
        if normalize_phone(phone) and patient.birthdate is not None and patient.first_name:
            return patient
    raise AssertionError("the sandbox has no patient with a phone and a birthdate")


@pytest.mark.parametrize("connect", [_sikka, _opendental], ids=["sikka", "opendental"])
async def test_the_same_flow_runs_on_both_providers(connect: Callable[[], Callable[[], PmsProvider]]) -> None:
    async with connect()() as pms:
        outcome = await receptionist_flow(pms, await _a_caller(pms))
    assert outcome.slots > 0
    assert outcome.confirmed
    assert outcome.cancelled
