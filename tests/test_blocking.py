"""The synchronous surface drives the one async provider: every read and write, its pagers, its lifecycle, and
calls from many threads at once, all against the sandbox."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pms_connect import BookingRequest, SlotUnavailableError, WritebackState
from pms_connect.blocking import BlockingProvider, SyncPager, connect
from pms_connect.errors import InvalidArgumentError, NotFoundError
from pms_connect.models import (
    Appointment,
    ConnectionCheck,
    FeatureSet,
    InsuranceCarrier,
    InsuranceCoverage,
    Operatory,
    Patient,
    Practice,
    Provider,
    ProviderKind,
    TimeSlot,
    Transaction,
    Writeback,
    WritebackResult,
)
from pms_connect.pagination import AsyncPager, Page
from pms_connect.scheduling import PracticeHours
from pms_connect.sikka import SikkaProvider
from pms_connect.sikka.provider import PracticeInfo
from pms_connect.testing import FakeClock, SikkaSandbox


@pytest.fixture
def sandbox() -> SikkaSandbox:
    return SikkaSandbox(seed=5, clock=FakeClock())


@pytest.fixture
def pms(sandbox: SikkaSandbox) -> Iterator[BlockingProvider[SikkaProvider]]:
    with connect(sandbox.provider()) as blocking:
        yield blocking


@dataclass
class Reads:
    practices: list[Practice]
    providers: list[Provider]
    operatories: list[Operatory]
    patients: list[Patient]
    appointments: list[Appointment]
    appointment: Appointment
    patient: Patient
    carriers: list[InsuranceCarrier]
    coverage: list[InsuranceCoverage]
    payments: list[Transaction]
    slots: list[TimeSlot]
    known_providers: list[Provider]
    known_operatories: list[Operatory]


async def read_everything(sandbox: SikkaSandbox) -> Reads:
    async with sandbox.provider() as a:
        today = a.today()
        patients = await a.patients.list().all()
        appointments = await a.appointments.list(start=today, end=today + timedelta(days=3)).all()
        return Reads(
            practices=await a.practices.list().all(),
            providers=await a.providers.list(active_only=True).all(),
            operatories=await a.operatories.list(include_hidden=True).all(),
            patients=patients,
            appointments=appointments,
            appointment=await a.appointments.get(appointments[0].id),
            patient=await a.patients.get(patients[3].id),
            carriers=await a.insurance.carriers().all(),
            coverage=await a.insurance.coverage(patients[3].id),
            payments=await a.payments.list(start=today - timedelta(days=30), end=today).all(),
            slots=await a.appointments.find_slots(
                start=today + timedelta(days=1), end=today + timedelta(days=8), duration=timedelta(minutes=30)
            ),
            known_providers=await a.known_providers(),
            known_operatories=await a.known_operatories(),
        )


def a_slot(pms: BlockingProvider[SikkaProvider], days_ahead: int) -> TimeSlot:
    today = pms.today()
    slots = pms.appointments.find_slots(
        start=today + timedelta(days=days_ahead),
        end=today + timedelta(days=days_ahead + 7),
        duration=timedelta(minutes=30),
        kinds=[ProviderKind.DENTIST],
        limit=1,
    )
    assert slots, "the sandbox's book has open slots"
    return slots[0]


def booking(patient_id: str, slot: TimeSlot) -> BookingRequest:
    assert slot.provider_id is not None
    return BookingRequest(
        patient_id=patient_id,
        provider_id=slot.provider_id,
        start=slot.start,
        duration=timedelta(minutes=30),
        operatory=slot.operatory,
        reason="Cleaning",
    )


def test_every_read_matches_the_async_provider(
    sandbox: SikkaSandbox, pms: BlockingProvider[SikkaProvider]
) -> None:
    want = asyncio.run(read_everything(sandbox))
    today = pms.today()
    assert list(pms.practices.list()) == want.practices
    assert pms.providers.list(active_only=True).all() == want.providers
    assert list(pms.operatories.list(include_hidden=True)) == want.operatories
    patients = pms.patients.list()
    assert isinstance(patients, SyncPager)
    assert list(patients) == want.patients
    appointments = pms.appointments.list(start=today, end=today + timedelta(days=3)).all()
    assert appointments == want.appointments
    assert pms.appointments.get(appointments[0].id) == want.appointment
    assert pms.patients.get(want.patients[3].id) == want.patient
    assert list(pms.insurance.carriers()) == want.carriers
    assert pms.insurance.coverage(want.patients[3].id) == want.coverage
    assert pms.payments.list(start=today - timedelta(days=30), end=today).all() == want.payments
    slots = pms.appointments.find_slots(
        start=today + timedelta(days=1), end=today + timedelta(days=8), duration=timedelta(minutes=30)
    )
    assert slots == want.slots
    assert pms.known_providers() == want.known_providers
    assert pms.known_operatories() == want.known_operatories


def test_the_practice_clock_and_cache(sandbox: SikkaSandbox, pms: BlockingProvider[SikkaProvider]) -> None:
    assert pms.timezone == ZoneInfo(sandbox.timezone)
    assert pms.now() == sandbox.clock.now().astimezone(pms.timezone)
    assert pms.today() == pms.now().date()
    known = pms.known_providers()
    before = len(sandbox.requests)
    assert pms.known_providers() == known
    assert len(sandbox.requests) == before, "the reference cache answers while fresh"
    pms.clear_cache()
    assert pms.known_providers() == known
    assert len(sandbox.requests) > before, "cleared, the cache reads again"


def test_connection_check_features_search_and_match(pms: BlockingProvider[SikkaProvider]) -> None:
    check = pms.test_connection()
    assert isinstance(check, ConnectionCheck)
    assert check.ok
    assert isinstance(pms.get_features(), FeatureSet)
    someone = pms.patients.list().first()
    assert someone is not None
    assert someone.cell_phone
    found = pms.patients.search(phone=someone.cell_phone)
    assert someone.id in {p.id for p in found}
    match = pms.patients.match(phone=someone.cell_phone, birthdate=someone.birthdate)
    assert someone.id in {p.id for p in match.candidates} | ({match.patient.id} if match.patient else set())


def test_a_booking_is_followed_to_the_pms_then_cancelled(pms: BlockingProvider[SikkaProvider]) -> None:
    patient = pms.patients.list().first()
    assert patient is not None
    slot = a_slot(pms, days_ahead=2)
    handle = pms.appointments.book(booking(patient.id, slot))
    result = pms.writebacks.wait(handle, timeout=600)
    assert result.status is WritebackState.WRITTEN
    assert result.created_id is not None
    assert pms.writebacks.status(handle) == result
    booked = pms.appointments.get(result.created_id)
    assert (booked.patient_id, booked.start) == (patient.id, slot.start)
    cancelled = pms.writebacks.wait(pms.appointments.cancel(booked.id, reason="patient called"), timeout=600)
    assert cancelled.status is WritebackState.WRITTEN
    assert pms.appointments.get(booked.id).cancelled


def test_on_complete_calls_back_in_the_loop_thread(pms: BlockingProvider[SikkaProvider]) -> None:
    patient = pms.patients.list().first()
    assert patient is not None
    handle = pms.appointments.book(booking(patient.id, a_slot(pms, days_ahead=3)))
    seen: list[tuple[WritebackResult, int]] = []
    pms.writebacks.on_complete(handle, lambda result: seen.append((result, threading.get_ident())))
    result = pms.writebacks.wait(handle, timeout=600)
    assert [r for r, _ in seen] == [result]
    assert seen[0][1] == pms.call(threading.get_ident) != threading.get_ident()


def test_a_pager_left_early_cancels_the_pages_fetched_ahead(pms: BlockingProvider[SikkaProvider]) -> None:
    started: list[int] = []
    cancelled: list[int] = []

    async def fetch(index: int) -> Page[int]:
        if index < 2:  # pages 0 and 1 answer; the pages fetched ahead of page 1 never do
            return Page(items=[2 * index, 2 * index + 1], index=index, page_size=2, total_count=10)
        started.append(index)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        raise AssertionError("unreachable")

    seen = []
    for item in pms.pager(AsyncPager, fetch, concurrency=3):
        seen.append(item)
        if item == 2:  # the first item of page 1: pages 2 and 3 (perhaps 4) are being fetched
            break
    assert seen == [0, 1, 2]
    assert {2, 3} <= set(started)
    assert sorted(cancelled) == sorted(started)


def test_pager_pages_first_and_all(pms: BlockingProvider[SikkaProvider]) -> None:
    patients = pms.patients.list().all()
    assert pms.patients.list().first() == patients[0]
    pages = list(pms.patients.list().pages())
    assert [p.index for p in pages] == list(range(len(pages)))
    assert [item for page in pages for item in page.items] == patients
    assert list(pms.practices.list()) == pms.practices.list().all()


def test_provider_extras_run_in_the_loop(sandbox: SikkaSandbox, pms: BlockingProvider[SikkaProvider]) -> None:
    async def expected() -> tuple[PracticeInfo, list[Patient]]:
        async with sandbox.provider() as a:
            someone = await a.patients.list().first()
            assert someone is not None
            assert someone.cell_phone
            return await a.practice_info(), await a.patients.query({"cell": someone.cell_phone}).all()

    info, by_cell = asyncio.run(expected())
    assert pms.call(pms.provider.practice_info, refresh=True) == info
    assert isinstance(pms.call(pms.provider.schedules), PracticeHours)
    assert pms.call(pms.provider.status_value, "cancel")
    someone = pms.patients.list().first()
    assert someone is not None
    assert someone.cell_phone
    pager = pms.pager(pms.provider.patients.query, {"cell": someone.cell_phone})
    assert isinstance(pager, SyncPager)
    assert list(pager) == by_cell
    assert pms.call(lambda: pms.provider.writebacks.pending_count) == 0  # a plain function: run, not awaited


def test_calls_from_many_threads_share_one_loop(pms: BlockingProvider[SikkaProvider]) -> None:
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            results.append((len(pms.providers.list().all()), pms.call(threading.get_ident)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 8
    assert len({count for count, _ in results}) == 1
    loops = {ident for _, ident in results}
    assert len(loops) == 1
    assert loops.isdisjoint({t.ident for t in threads} | {threading.get_ident()})


def test_threads_booking_one_slot_book_it_once(pms: BlockingProvider[SikkaProvider]) -> None:
    patient = pms.patients.list().first()
    assert patient is not None
    request = booking(patient.id, a_slot(pms, days_ahead=4))
    start = threading.Barrier(5)
    outcomes: list[object] = []

    def book() -> None:
        start.wait()
        try:
            outcomes.append(pms.appointments.book(request))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=book) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handles = [o for o in outcomes if isinstance(o, Writeback)]
    assert len(handles) == 1
    assert all(isinstance(o, SlotUnavailableError) for o in outcomes if o not in handles)
    assert len(outcomes) == 5
    assert pms.writebacks.wait(handles[0], timeout=600).status is WritebackState.WRITTEN


def test_errors_surface_as_the_sdks_own(pms: BlockingProvider[SikkaProvider]) -> None:
    with pytest.raises(NotFoundError):
        pms.patients.get("no-such-patient")
    with pytest.raises(InvalidArgumentError):
        pms.appointments.list(start=datetime(2026, 1, 1), end=datetime(2026, 1, 2)).all()


class Recording(SikkaProvider):
    """A sandbox provider that records how it is entered and left."""

    events: list[tuple[str, Any]]

    async def __aenter__(self) -> Recording:
        self.events.append(("enter", threading.get_ident()))
        await super().__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.events.append(("exit", exc_type))
        await super().__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        self.events.append(("aclose", None))
        await super().aclose()


def recording(sandbox: SikkaSandbox) -> Recording:
    provider = Recording(
        sandbox.credentials,
        timezone=sandbox.timezone,
        base_url=sandbox.base_url,
        transport=sandbox.transport,
        clock=sandbox.clock,
    )
    provider.events = []
    return provider


def test_with_enters_and_leaves_the_async_provider(sandbox: SikkaSandbox) -> None:
    provider = recording(sandbox)
    with connect(provider) as pms:
        assert pms.provider is provider
        assert [e for e, _ in provider.events] == ["enter"]
        assert provider.events[0][1] == pms.call(threading.get_ident)
        assert pms.test_connection().ok
    assert provider.events[1:] == [("exit", None), ("aclose", None)]
    with pytest.raises(RuntimeError):
        pms.test_connection()


def test_an_exception_leaving_the_block_reaches_the_provider(sandbox: SikkaSandbox) -> None:
    provider = recording(sandbox)
    with pytest.raises(LookupError), connect(provider):
        raise LookupError("from the block")
    assert provider.events[1:] == [("exit", LookupError), ("aclose", None)]


def test_close_without_with_closes_the_provider_once_and_stops_the_loop(sandbox: SikkaSandbox) -> None:
    provider = recording(sandbox)
    blocking = connect(provider)
    assert blocking.test_connection().ok
    blocking.close()
    blocking.close()
    assert provider.events == [("aclose", None)]
    with pytest.raises(RuntimeError):
        blocking.providers.list().all()
    with pytest.raises(RuntimeError), blocking:
        pass


def test_the_repr_names_the_provider(pms: BlockingProvider[SikkaProvider]) -> None:
    assert repr(pms) == f"blocking({pms.provider!r})"
