"""The provider-neutral surface: [PmsProvider][pms_connect.protocol.PmsProvider] and its resource namespaces.

A provider ([SikkaProvider][pms_connect.sikka.SikkaProvider], later others) implements these protocols;
application code is written against them. Everything is async; [pms_connect.blocking][] gives the same surface
to synchronous code. ``list`` methods return an [AsyncPager][pms_connect.pagination.AsyncPager]; writes return
a [Writeback][pms_connect.models.Writeback] handle at once, because at most PMSs a write is applied later.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    ConnectionCheck,
    FeatureSet,
    InsuranceCarrier,
    InsuranceCoverage,
    NewPatient,
    Operatory,
    Patient,
    PatientMatch,
    PaymentRequest,
    Practice,
    Provider,
    ProviderKind,
    TimeSlot,
    Transaction,
    Writeback,
    WritebackResult,
)
from pms_connect.pagination import AsyncPager

__all__ = [
    "AppointmentsResource",
    "Capability",
    "InsuranceResource",
    "OperatoriesResource",
    "PatientsResource",
    "PaymentsResource",
    "PmsProvider",
    "PracticesResource",
    "ProvidersResource",
    "WritebackCallback",
    "WritebacksResource",
]

WritebackCallback = Callable[[WritebackResult], Awaitable[None] | None]
"""A function called with a write's terminal [WritebackResult][pms_connect.models.WritebackResult]; it may be
a coroutine function. An exception it raises is logged (by type only) and swallowed, so that one failing
callback does not stop the others."""


class PracticesResource(Protocol):
    """``pms.practices``: the practices (locations) the credentials reach."""

    def list(self) -> AsyncPager[Practice]:
        """Every practice the credentials reach, to find the ``practice_id`` to connect with."""
        ...


class ProvidersResource(Protocol):
    """``pms.providers``: the practice's dentists, hygienists and other providers."""

    def list(self, *, active_only: bool = False) -> AsyncPager[Provider]:
        """The practice's providers; ``active_only`` leaves out those the PMS marks inactive, which cannot be
        booked."""
        ...


class OperatoriesResource(Protocol):
    """``pms.operatories``: the practice's chairs."""

    def list(self, *, include_hidden: bool = False) -> AsyncPager[Operatory]:
        """The practice's chairs, hidden ones only with ``include_hidden``: hidden chairs are not in the
        appointment book, so they are offered no slots."""
        ...


class AppointmentsResource(Protocol):
    """``pms.appointments``: the appointment book, open slots, and the writes that change the book."""

    def list(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
    ) -> AsyncPager[Appointment]:
        """Appointments overlapping ``[start, end)`` (a date ``end`` includes that whole day), cancelled ones
        included: a schedule view or a sync reads the book through this."""
        ...

    async def get(self, appointment_id: str) -> Appointment:
        """One appointment by id, to show it or check its state before changing it; raises
        [NotFoundError][pms_connect.errors.NotFoundError] when there is none."""
        ...

    async def find_slots(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        duration: timedelta,
        provider_id: str | None = None,
        operatory: str | None = None,
        kinds: Iterable[ProviderKind] | None = None,
        limit: int | None = None,
    ) -> builtins.list[TimeSlot]:
        """Open slots of ``duration`` in ``[start, end)``, sorted by time, to offer a patient before
        [book][pms_connect.protocol.AppointmentsResource.book]. ``kinds`` keeps providers of those kinds
        (hygienists for a cleaning); ``limit`` caps the answer. A slot is an offer, not a hold: booking
        re-checks it."""
        ...

    async def book(self, request: BookingRequest) -> Writeback:
        """Book a new appointment. The slot is checked and claimed for every worker of the store before the
        write is sent (once); raises [SlotUnavailableError][pms_connect.errors.SlotUnavailableError] when it
        is taken. Follow the handle with ``pms.writebacks.wait(handle)``."""
        ...

    async def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback:
        """Move an appointment (time, length, provider or chair; at least one) without cancelling and
        rebooking it, so the patient keeps one appointment in the PMS. The new slot is checked and claimed as
        for [book][pms_connect.protocol.AppointmentsResource.book]."""
        ...

    async def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback:
        """Cancel an appointment by giving it the practice's own "cancelled" status (which PMSs name
        differently), so the book frees the time; ``reason`` is sent where the PMS keeps one."""
        ...

    async def confirm(self, appointment_id: str) -> Writeback:
        """Mark an appointment confirmed by the patient, with the practice's own "confirmed" status, so the
        front desk sees who will come."""
        ...


class PatientsResource(Protocol):
    """``pms.patients``: charts, search, caller matching and new patients."""

    def list(self, *, changed_since: date | datetime | None = None) -> AsyncPager[Patient]:
        """Every patient of the practice, for a sync; ``changed_since`` only where the PMS can filter on
        changes (else [UnsupportedOperationError][pms_connect.errors.UnsupportedOperationError])."""
        ...

    async def get(self, patient_id: str) -> Patient:
        """One chart by id; raises [NotFoundError][pms_connect.errors.NotFoundError] when there is none."""
        ...

    async def search(
        self,
        *,
        phone: str | None = None,
        name: str | None = None,
        birthdate: date | None = None,
        email: str | None = None,
    ) -> builtins.list[Patient]:
        """Patients matching every criterion given (phones compare by digits across cell, home and work), for
        a front-desk lookup. To identify a caller, use [match][pms_connect.protocol.PatientsResource.match]:
        it decides, where a search only lists."""
        ...

    async def match(
        self,
        *,
        phone: str,
        first_name: str | None = None,
        last_name: str | None = None,
        birthdate: date | None = None,
    ) -> PatientMatch:
        """Who is calling from ``phone``: one chart (``exact``), tied charts (``ambiguous``: ask one more
        question and match again) or ``none``. Never a guess, because acting on the wrong chart discloses PHI
        (see [pms_connect.matching][])."""
        ...

    async def create(self, patient: NewPatient) -> Writeback:
        """Create a patient (validated, sent once); the new chart's id is the result's ``created_id``."""
        ...


class InsuranceResource(Protocol):
    """``pms.insurance``: carriers and patients' coverage."""

    def carriers(self) -> AsyncPager[InsuranceCarrier]:
        """The insurance companies the practice bills, to show or map a patient's carrier."""
        ...

    async def coverage(self, patient_id: str) -> list[InsuranceCoverage]:
        """The plans covering a patient (none: an empty list), to tell a caller whether the practice has
        their insurance on file."""
        ...


class PaymentsResource(Protocol):
    """``pms.payments``: the ledger and payments posted to it."""

    def list(
        self, *, start: date | datetime, end: date | datetime, patient_id: str | None = None
    ) -> AsyncPager[Transaction]:
        """Ledger entries dated within ``[start, end]`` (whole local days), for reconciliation or a
        patient's statement."""
        ...

    async def post(self, payment: PaymentRequest) -> Writeback:
        """Post a payment taken outside the PMS (a card terminal, an online form) to the patient's ledger
        (validated, sent once)."""
        ...


class WritebacksResource(Protocol):
    """``pms.writebacks``: following writes to their outcome. Writes are applied by the PMS later, so a write
    call returns a handle and its outcome is learnt here."""

    async def status(self, handle: Writeback) -> WritebackResult:
        """The write's outcome if known, else a fresh check at the PMS: for a caller who polls on its own
        schedule (a web request) rather than waiting."""
        ...

    async def wait(self, handle: Writeback, *, timeout: float | timedelta | None = None) -> WritebackResult:
        """Wait for the write's terminal result. ``timeout`` is a deadline for the write itself: once it
        passes, the pending write is withdrawn and the result is ``timed_out``. Without one, a write with a
        deadline of its own (a booking: its start) is waited for until then; any other until the poller's
        ``max_wait``, after which [WaitTimeoutError][pms_connect.errors.WaitTimeoutError] is raised and the
        write stays tracked."""
        ...

    async def cancel(self, handle: Writeback) -> WritebackResult:
        """Withdraw a write the PMS has not applied yet (the caller changed their mind); when it already
        completed, its real outcome is returned instead."""
        ...

    def on_complete(self, handle: Writeback, callback: WritebackCallback) -> None:
        """Call ``callback(result)`` once the write reaches a terminal state (at once if it has), for code
        that must not block on [wait][pms_connect.protocol.WritebacksResource.wait]."""
        ...


@runtime_checkable
class PmsProvider(Protocol):
    """One practice's PMS, read and written through one provider-neutral API.

    Use it as an async context manager: entering it resumes following the writes a previous worker left open,
    leaving it closes its connections.
    """

    @property
    def timezone(self) -> ZoneInfo:
        """The practice's zone: every time the provider returns is aware, in it; dates mean its local days."""
        ...

    def now(self) -> datetime:
        """The current time in the practice's zone, from the provider's clock."""
        ...

    def today(self) -> date:
        """Today in the practice's zone: what "today" means for its book, whatever the server's zone."""
        ...

    async def known_providers(self) -> builtins.list[Provider]:
        """Every provider of the practice, from the provider's reference cache (no request while fresh)."""
        ...

    async def known_operatories(self) -> builtins.list[Operatory]:
        """Every visible chair of the practice, from the reference cache."""
        ...

    def clear_cache(self) -> None:
        """Forget cached reference data (after the practice changes providers, chairs or hours)."""
        ...

    @property
    def practices(self) -> PracticesResource:
        """The practices the credentials reach."""
        ...

    @property
    def providers(self) -> ProvidersResource:
        """The practice's providers."""
        ...

    @property
    def operatories(self) -> OperatoriesResource:
        """The practice's chairs."""
        ...

    @property
    def appointments(self) -> AppointmentsResource:
        """The appointment book, open slots and appointment writes."""
        ...

    @property
    def patients(self) -> PatientsResource:
        """Charts, search, caller matching and new patients."""
        ...

    @property
    def insurance(self) -> InsuranceResource:
        """Carriers and coverage."""
        ...

    @property
    def payments(self) -> PaymentsResource:
        """The ledger and payment posting."""
        ...

    @property
    def writebacks(self) -> WritebacksResource:
        """Following writes to their outcome."""
        ...

    async def test_connection(self) -> ConnectionCheck:
        """Authenticate and make one cheap read; never raises: a failed check says why."""
        ...

    async def get_features(self) -> FeatureSet:
        """Which reads and writes the practice's PMS supports, read fresh: PMSs differ, so check before
        offering a write rather than learning from a refusal."""
        ...

    async def aclose(self) -> None:
        """Release the provider's connections and stop following writes (their journal entries stay open
        for the next worker to resume)."""
        ...

    async def __aenter__(self) -> PmsProvider:
        """Resume following the writes this practice's journal holds open, then return the provider."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """[aclose][pms_connect.protocol.PmsProvider.aclose]."""
        ...
