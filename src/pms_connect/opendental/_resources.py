"""The resources of an [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider]: ``pms.appointments``,
``pms.patients``...

Each implements its protocol of [pms_connect.protocol][] at Open Dental: it knows its path, its parameters and
the row type to parse into; writes go through the provider's write path (validated, journaled, sent once).
Ids are Open Dental's numbers: an id that is not a number names no record, and raises
[NotFoundError][pms_connect.errors.NotFoundError] (or lists nothing) without a request.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from pms_connect import windows
from pms_connect.errors import InvalidArgumentError, NotFoundError
from pms_connect.models import (
    Appointment,
    BookingRequest,
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
)
from pms_connect.opendental import _mapping as m
from pms_connect.opendental import _patient_search, _slots
from pms_connect.opendental import _wire as w
from pms_connect.opendental._client import parse_row, read_json, read_rows
from pms_connect.pagination import AsyncPager, Page
from pms_connect.validation import check_id

if TYPE_CHECKING:
    from pms_connect.opendental.provider import OpenDentalProvider

T = TypeVar("T")

#: A visit from the day before can reach into a window only this far past its first midnight (Open Dental's
#: longest pattern, plus an hour for a clock change).
_REACH = m.MAX_PATTERN + timedelta(hours=1)


def _number(value: object, name: str) -> str | None:
    """A checked id if it is one of Open Dental's numbers, else None (it names no record)."""
    text = check_id(value, name)
    return text if text.isdigit() else None


def _since(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgumentError("changed_since is a naive datetime; pass an aware datetime or a date")
        return value.astimezone(zone)
    if isinstance(value, date):
        return windows.local_midnight(value, zone)
    raise InvalidArgumentError("changed_since must be a date or an aware datetime")


def _empty() -> AsyncPager[T]:
    """A list that names no record (an id that is not a number): nothing, without a request."""

    async def fetch(index: int) -> Page[T]:
        return Page(items=[], index=index, page_size=1, more=False)

    return AsyncPager(fetch)


@dataclass
class _Resource:
    pms: OpenDentalProvider

    @property
    def _clinic(self) -> dict[str, str]:
        """``ClinicNum`` of the credentials' clinic, for the lists that take it."""
        clinic = self.pms.credentials.clinic_num
        return {"ClinicNum": clinic} if clinic is not None else {}


class Practices(_Resource):
    """``pms.practices`` at Open Dental ([PracticesResource][pms_connect.protocol.PracticesResource])."""

    def list(self) -> AsyncPager[Practice]:
        """The clinics (``GET /clinics``, hidden ones are not listed), each a practice whose id is its
        ``ClinicNum``; an office without clinics is one practice, id ``"0"``, named by its ``PracticeTitle``."""
        pms = self.pms

        async def fetch(index: int) -> Page[Practice]:
            if index > 0:
                return Page(items=[], index=index, page_size=1, more=False)
            clinics = await pms.client.pager("clinics", {}, w.ClinicRow, m.clinic, page_size=pms.page_size).all()
            practices = clinics or [m.practice_without_clinics(await pms.practice_title())]
            return Page(items=practices, index=0, page_size=max(1, len(practices)), more=False)

        return AsyncPager(fetch)


class Providers(_Resource):
    """``pms.providers`` at Open Dental ([ProvidersResource][pms_connect.protocol.ProvidersResource])."""

    def list(self, *, active_only: bool = False) -> AsyncPager[Provider]:
        """``GET /providers`` (with the credentials' ``ClinicNum``: the clinic's and unrestricted providers,
        hidden ones left out by Open Dental). ``active_only`` leaves out deleted and hidden providers."""
        practice = self.pms.practice_id
        return self.pms.client.pager(
            "providers",
            self._clinic,
            w.ProviderRow,
            lambda row: m.provider(row, practice),
            page_size=self.pms.page_size,
            keep=(lambda p: p.active) if active_only else None,
        )


class Operatories(_Resource):
    """``pms.operatories`` at Open Dental ([OperatoriesResource][pms_connect.protocol.OperatoriesResource])."""

    def list(self, *, include_hidden: bool = False) -> AsyncPager[Operatory]:
        """``GET /operatories`` (of the credentials' clinic), hidden ones only with ``include_hidden``."""
        return self.pms.client.pager(
            "operatories",
            self._clinic,
            w.OperatoryRow,
            m.operatory,
            page_size=self.pms.page_size,
            keep=None if include_hidden else (lambda o: not o.hidden),
        )


class Appointments(_Resource):
    """``pms.appointments`` at Open Dental ([AppointmentsResource][pms_connect.protocol.AppointmentsResource])."""

    def list(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
    ) -> AsyncPager[Appointment]:
        """Appointments overlapping [start, end); a date ``end`` includes that whole day. ``status`` is an
        ``AptStatus`` (``Scheduled``, ``Complete``, ``Broken``...), sent as the filter; ``provider_id`` keeps the
        appointments whose provider it is (Open Dental's list has no provider filter)."""
        return self.overlapping(
            start=start, end=end, provider_id=provider_id, patient_id=patient_id, status=status
        )

    def overlapping(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
        day_before: bool | None = None,
    ) -> AsyncPager[Appointment]:
        """[list][pms_connect.opendental._resources.Appointments.list], choosing whether to read the day
        before.

        Open Dental filters on the appointment's date (``dateStart``/``dateEnd``), so a visit that starts the
        day before the window and runs past midnight into it is found only by reading that day too. Patterns
        are at most 9 hours, so that day is added to the same request (one range) only when the window starts
        within 10 hours of its first midnight, as every date window does; ``day_before`` forces the choice."""
        pms = self.pms
        zone = pms.timezone
        span = windows.window(start, end, zone)
        provider = check_id(provider_id, "provider_id") if provider_id is not None else None
        params = dict(self._clinic)
        if patient_id is not None:
            number = _number(patient_id, "patient_id")
            if number is None:
                return _empty()
            params["PatNum"] = number
        if status is not None:
            params["AptStatus"] = check_id(status, "status")
        first = span.first_day
        if day_before is None:
            day_before = span.overlaps(
                windows.local_midnight(first, zone), windows.local_midnight(first, zone) + _REACH
            )
        if day_before:
            first -= timedelta(days=1)
        params["dateStart"] = m.wire_date(first)
        params["dateEnd"] = m.wire_date(span.last_day)

        return self._pager(params, span=span, provider=provider)

    def _pager(
        self, params: dict[str, str], *, span: windows.Window | None = None, provider: str | None = None
    ) -> AsyncPager[Appointment]:
        """A list of ``GET /appointments``, mapped with the practice's confirmation definitions (read first,
        cached); kept to those overlapping ``span`` and of ``provider``; planned rows (no time) left out."""
        pms = self.pms
        zone = pms.timezone
        confirmations: dict[str, str] = {}

        async def prepare() -> None:
            if not confirmations:
                confirmations.update(await pms.confirmations())

        def keep(a: Appointment) -> bool:
            in_window = span is None or span.overlaps_visit(a.start, a.duration)
            return in_window and (provider is None or a.provider_id == provider)

        return pms.client.pager(
            "appointments",
            params,
            w.AppointmentRow,
            lambda row: m.appointment(row, zone, confirmations),
            page_size=pms.page_size,
            rows_kept=lambda row: row.AptDateTime is not None,
            keep=keep if span is not None or provider is not None else None,
            server_time=(lambda row: m.local(row.serverDateTime, zone) if row.serverDateTime else None)
            if "DateTStamp" in params
            else None,
            prepare=prepare,
        )

    def changed(self, *, since: date | datetime) -> AsyncPager[Appointment]:
        """Appointments changed after ``since`` (``DateTStamp``), for a sync: a
        [WatermarkPager][pms_connect.opendental.WatermarkPager] whose ``watermark`` is the next ``since``.
        Planned appointments (no time yet) are left out."""
        zone = self.pms.timezone
        return self._pager({**self._clinic, "DateTStamp": m.wire_datetime(_since(since, zone), zone)})

    async def get(self, appointment_id: str) -> Appointment:
        """``GET /appointments/{AptNum}``; [NotFoundError][pms_connect.errors.NotFoundError] when there is
        none (Open Dental answers 404), or when the id is not a number. A planned appointment (no time) raises
        it too: it is not in the book."""
        pms = self.pms
        number = _number(appointment_id, "appointment_id")
        summary = pms.client.summary("GET", "appointments/{id}")
        if number is None:
            raise NotFoundError("no such appointment (Open Dental ids are numbers)", request=summary)
        response, confirmations = await asyncio.gather(
            pms.client.request("GET", f"appointments/{number}"), pms.confirmations()
        )
        row = parse_row(w.AppointmentRow, read_json(response, summary), summary)
        if row.AptDateTime is None:
            raise NotFoundError("the appointment is planned, not in the book (it has no time)", request=summary)
        return m.appointment(row, pms.timezone, confirmations)

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
        """Open slots in [start, end), sorted by time, in the practice's zone (a date means that whole day):
        the window's schedules (provider hours, the chairs they name, closures, blockouts) minus its
        appointments and the bookings in flight."""
        return await _slots.find_slots(
            self.pms,
            start=start,
            end=end,
            duration=duration,
            provider_id=provider_id,
            operatory=operatory,
            kinds=kinds,
            limit=limit,
        )

    async def book(self, request: BookingRequest) -> Writeback:
        """Book an appointment (``POST /appointments``): validated, the slot re-checked and claimed, sent once."""
        return await self.pms.writes.book(request)

    async def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback:
        """Move an appointment in place (``PUT /appointments/{AptNum}``), the new slot checked and claimed as
        for a booking."""
        return await self.pms.writes.reschedule(
            appointment_id, start=start, duration=duration, provider_id=provider_id, operatory=operatory
        )

    async def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback:
        """Break the appointment (``PUT /appointments/{AptNum}/Break``)."""
        return await self.pms.writes.cancel(appointment_id, reason=reason)

    async def confirm(self, appointment_id: str) -> Writeback:
        """Confirm the appointment (``PUT /appointments/{AptNum}/Confirm``) with the practice's own
        "confirmed" definition."""
        return await self.pms.writes.confirm(appointment_id)


class Patients(_Resource):
    """``pms.patients`` at Open Dental ([PatientsResource][pms_connect.protocol.PatientsResource])."""

    def list(self, *, changed_since: date | datetime | None = None) -> AsyncPager[Patient]:
        """Every patient (``GET /patients/Simple``, of the credentials' clinic), or those changed after
        ``changed_since`` (``DateTStamp``). The pager is a
        [WatermarkPager][pms_connect.opendental.WatermarkPager]: once iterated, its ``watermark`` is the next
        ``changed_since``."""
        zone = self.pms.timezone
        params = dict(self._clinic)
        if changed_since is not None:
            params["DateTStamp"] = m.wire_datetime(_since(changed_since, zone), zone)
        return self.pms.client.pager(
            "patients/Simple",
            params,
            w.PatientRow,
            m.patient,
            page_size=self.pms.page_size,
            server_time=lambda row: m.local(row.serverDateTime, zone) if row.serverDateTime else None,
        )

    async def get(self, patient_id: str) -> Patient:
        """``GET /patients/{PatNum}``; [NotFoundError][pms_connect.errors.NotFoundError] when there is none,
        or when the id is not a number."""
        pms = self.pms
        number = _number(patient_id, "patient_id")
        summary = pms.client.summary("GET", "patients/{id}")
        if number is None:
            raise NotFoundError("no such patient (Open Dental ids are numbers)", request=summary)
        response = await pms.client.request("GET", f"patients/{number}")
        return m.patient(parse_row(w.PatientRow, read_json(response, summary), summary))

    async def search(
        self,
        *,
        phone: str | None = None,
        name: str | None = None,
        birthdate: date | None = None,
        email: str | None = None,
    ) -> builtins.list[Patient]:
        """Patients matching every criterion given (phones compare by digits across cell, home and work)."""
        return await _patient_search.search(self.pms, phone=phone, name=name, birthdate=birthdate, email=email)

    async def match(
        self,
        *,
        phone: str,
        first_name: str | None = None,
        last_name: str | None = None,
        birthdate: date | None = None,
    ) -> PatientMatch:
        """The caller's chart: ``exact``, ``ambiguous`` (tied candidates, never a guess) or ``none``."""
        return await _patient_search.match(
            self.pms, phone=phone, first_name=first_name, last_name=last_name, birthdate=birthdate
        )

    async def create(self, patient: NewPatient) -> Writeback:
        """Create a patient (``POST /patients``)."""
        return await self.pms.writes.create_patient(patient)


class Insurance(_Resource):
    """``pms.insurance`` at Open Dental ([InsuranceResource][pms_connect.protocol.InsuranceResource])."""

    def carriers(self) -> AsyncPager[InsuranceCarrier]:
        """Every insurance carrier (``GET /carriers``), hidden ones included: a patient's plan may name one."""
        return self.pms.client.pager("carriers", {}, w.CarrierRow, m.carrier, page_size=self.pms.page_size)

    async def coverage(self, patient_id: str) -> list[InsuranceCoverage]:
        """The patient's plans as the Family Module shows them (``GET /familymodules/{PatNum}/Insurance``:
        one request joining patplan, inssub, insplan and carrier), primary first. No plan: an empty list;
        no such patient: [NotFoundError][pms_connect.errors.NotFoundError]."""
        pms = self.pms
        number = _number(patient_id, "patient_id")
        summary = pms.client.summary("GET", "familymodules/{id}/Insurance")
        if number is None:
            raise NotFoundError("no such patient (Open Dental ids are numbers)", request=summary)
        response = await pms.client.request("GET", f"familymodules/{number}/Insurance")
        rows = read_rows(response, w.FamilyInsuranceRow, summary)
        rows.sort(key=lambda r: r.Ordinal if r.Ordinal is not None else 99)
        return [m.coverage(row, number) for row in rows]


class Payments(_Resource):
    """``pms.payments`` at Open Dental ([PaymentsResource][pms_connect.protocol.PaymentsResource])."""

    def list(
        self, *, start: date | datetime, end: date | datetime, patient_id: str | None = None
    ) -> AsyncPager[Transaction]:
        """Payments dated (``PayDate``) within [start, end] (whole local days): ``GET /payments`` with
        ``DateEntry`` (entered on or after the first day) and ``PatNum``, kept by their date (and the
        credentials' clinic). Open Dental lists only payments (not charges or adjustments); before version
        23.3.11 it needs a ``patient_id``."""
        span = windows.window(start, end, self.pms.timezone)
        params = {"DateEntry": m.wire_date(span.first_day)}
        if patient_id is not None:
            number = _number(patient_id, "patient_id")
            if number is None:
                return _empty()
            params["PatNum"] = number
        first, last = span.first_day, span.last_day
        clinic = self.pms.credentials.clinic_num
        return self.pms.client.pager(
            "payments",
            params,
            w.PaymentRow,
            m.transaction,
            page_size=self.pms.page_size,
            rows_kept=lambda row: clinic is None or str(row.ClinicNum) == clinic,
            keep=lambda t: first <= t.date <= last,
        )

    async def post(self, payment: PaymentRequest) -> Writeback:
        """Post a patient payment (``POST /payments``): ``payment_type`` is a ``PayType`` definition number."""
        return await self.pms.writes.post_payment(payment)
