"""The provider-neutral surface: :class:`PmsProvider` and its resource namespaces.

A provider (``pms_connect.sikka.SikkaProvider``, later others) implements these protocols; application code
is written against them. Everything is async; :mod:`pms_connect.blocking` gives the same surface to
synchronous code. ``list`` methods return an :class:`~pms_connect.pagination.AsyncPager`; writes return a
:class:`~pms_connect.models.Writeback` handle at once, because at most PMSs a write is applied later.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, runtime_checkable

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


class PracticesResource(Protocol):
    def list(self) -> AsyncPager[Practice]: ...


class ProvidersResource(Protocol):
    def list(self, *, active_only: bool = False) -> AsyncPager[Provider]: ...


class OperatoriesResource(Protocol):
    def list(self, *, include_hidden: bool = False) -> AsyncPager[Operatory]: ...


class AppointmentsResource(Protocol):
    def list(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
    ) -> AsyncPager[Appointment]: ...

    async def get(self, appointment_id: str) -> Appointment: ...

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
    ) -> builtins.list[TimeSlot]: ...

    async def book(self, request: BookingRequest) -> Writeback: ...

    async def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback: ...

    async def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback: ...

    async def confirm(self, appointment_id: str) -> Writeback: ...


class PatientsResource(Protocol):
    def list(self, *, changed_since: date | datetime | None = None) -> AsyncPager[Patient]: ...

    async def get(self, patient_id: str) -> Patient: ...

    async def search(
        self,
        *,
        phone: str | None = None,
        name: str | None = None,
        birthdate: date | None = None,
        email: str | None = None,
    ) -> builtins.list[Patient]: ...

    async def match(
        self,
        *,
        phone: str,
        first_name: str | None = None,
        last_name: str | None = None,
        birthdate: date | None = None,
    ) -> PatientMatch: ...

    async def create(self, patient: NewPatient) -> Writeback: ...


class InsuranceResource(Protocol):
    def carriers(self) -> AsyncPager[InsuranceCarrier]: ...

    async def coverage(self, patient_id: str) -> list[InsuranceCoverage]: ...


class PaymentsResource(Protocol):
    def list(
        self, *, start: date | datetime, end: date | datetime, patient_id: str | None = None
    ) -> AsyncPager[Transaction]: ...

    async def post(self, payment: PaymentRequest) -> Writeback: ...


class WritebacksResource(Protocol):
    async def status(self, handle: Writeback) -> WritebackResult: ...

    async def wait(self, handle: Writeback, *, timeout: float | timedelta | None = None) -> WritebackResult: ...

    async def cancel(self, handle: Writeback) -> WritebackResult: ...

    def on_complete(self, handle: Writeback, callback: WritebackCallback) -> None: ...


@runtime_checkable
class PmsProvider(Protocol):
    """One practice's PMS, read and written through one provider-neutral API."""

    @property
    def practices(self) -> PracticesResource: ...
    @property
    def providers(self) -> ProvidersResource: ...
    @property
    def operatories(self) -> OperatoriesResource: ...
    @property
    def appointments(self) -> AppointmentsResource: ...
    @property
    def patients(self) -> PatientsResource: ...
    @property
    def insurance(self) -> InsuranceResource: ...
    @property
    def payments(self) -> PaymentsResource: ...
    @property
    def writebacks(self) -> WritebacksResource: ...

    async def test_connection(self) -> ConnectionCheck:
        """Authenticate and make one cheap read; never raises: a failed check says why."""
        ...

    async def get_features(self) -> FeatureSet: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> PmsProvider: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
