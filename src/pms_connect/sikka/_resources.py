"""The resources of a [SikkaProvider][pms_connect.sikka.SikkaProvider]: ``pms.appointments``, ``pms.patients``...

Each implements its protocol of [pms_connect.protocol][] at Sikka: it knows its path, its parameters and the
row type to parse into; writes go through the provider's write path (validated, journaled, sent once). The
classes are not imported by applications, only reached as the provider's attributes.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pms_connect import windows
from pms_connect.errors import NotFoundError, PermissionDeniedError, UnsupportedOperationError
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
from pms_connect.pagination import AsyncPager, Page
from pms_connect.sikka import _mapping as m
from pms_connect.sikka import _wire as w
from pms_connect.validation import check_id

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

_APPOINTMENT_FIELDS = "operatory,hygienist,cancelled,is_confirmed,last_changed_date"
_PATIENT_FIELDS = "homephone,workphone"


def _day(value: date) -> str:
    return value.strftime("%Y-%m-%d")


@dataclass
class _Resource:
    pms: SikkaProvider

    @property
    def _practice_params(self) -> dict[str, str]:
        return {"practice_id": self.pms.practice_id}


class Practices(_Resource):
    """``pms.practices`` at Sikka ([PracticesResource][pms_connect.protocol.PracticesResource])."""

    def list(self) -> AsyncPager[Practice]:
        """Every practice of the office the credentials name (Sikka's ``practices``), with the office as
        ``account_id``."""
        office = self.pms.credentials.office_id
        return self.pms.client.pager(
            "practices",
            {},
            w.PracticeRow,
            lambda row: m.practice(row, office_id=office),
            page_size=self.pms.page_size,
        )


class Providers(_Resource):
    """``pms.providers`` at Sikka ([ProvidersResource][pms_connect.protocol.ProvidersResource])."""

    def list(self, *, active_only: bool = False) -> AsyncPager[Provider]:
        """The practice's providers; ``active_only`` keeps those whose Sikka ``status`` is not inactive."""
        return self.pms.client.pager(
            "providers",
            self._practice_params,
            w.ProviderRow,
            m.provider,
            page_size=self.pms.page_size,
            keep=(lambda p: p.active) if active_only else None,
        )


class Operatories(_Resource):
    """``pms.operatories`` at Sikka ([OperatoriesResource][pms_connect.protocol.OperatoriesResource])."""

    def list(self, *, include_hidden: bool = False) -> AsyncPager[Operatory]:
        """The practice's chairs. Sikka wants the practice's ``cust_id`` with them, so the first page waits
        for one (cached) practice read."""
        pms = self.pms

        async def fetch_all() -> AsyncPager[Operatory]:
            info = await pms.practice_info()
            params = {"cust_id": info.cust_id or "1", **self._practice_params}
            if not include_hidden:
                params["is_hidden"] = "F"
            return pms.client.pager(
                "operatories",
                params,
                w.OperatoryRow,
                m.operatory,
                page_size=pms.page_size,
                keep=None if include_hidden else (lambda o: not o.hidden),
            )

        return AsyncPager.deferred(fetch_all)


class Appointments(_Resource):
    """``pms.appointments`` at Sikka ([AppointmentsResource][pms_connect.protocol.AppointmentsResource])."""

    def list(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
    ) -> AsyncPager[Appointment]:
        """Appointments overlapping [start, end); a date ``end`` includes that whole day."""
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
        """[list][pms_connect.sikka._resources.Appointments.list], choosing whether to read the day before.

        Sikka filters on the appointment's date, so a visit that starts the day before the window and runs
        past midnight into it is listed only by reading that day too. That is rare, and a window's first
        page is often full: the day before is read (one more request, its visits that reach into the window
        kept) only when the practice's hours run to midnight, as its cached schedules tell, or when
        ``day_before`` is True (a booking's check of one slot, which costs no more request either way)."""
        span = windows.window(start, end, self.pms.timezone)
        params = {**self._practice_params, "fields": _APPOINTMENT_FIELDS}
        if provider_id is not None:
            params["provider_id"] = check_id(provider_id, "provider_id")
        if patient_id is not None:
            params["patient_id"] = check_id(patient_id, "patient_id")
        if status is not None:
            params["status"] = check_id(status, "status")
        before = span.first_day - timedelta(days=1)
        if day_before:
            return self._days(params, before, span)
        window = self._days(params, span.first_day, span)
        if day_before is False:
            return window

        async def fetch(index: int) -> Page[Appointment]:
            if index > 0:
                return await window.fetch_page(index)
            page, overnight = await asyncio.gather(window.fetch_page(0), self._hours_reach_midnight())
            if not overnight:
                return page
            earlier = await self._days(params, before, span, last=before).all()
            return dataclasses.replace(page, items=[*earlier, *page.items])

        return AsyncPager(fetch)

    def _days(
        self, params: dict[str, str], first: date, span: windows.Window, *, last: date | None = None
    ) -> AsyncPager[Appointment]:
        """The appointments dated ``first`` to ``last`` (the window's last day) that overlap the window."""
        zone = self.pms.timezone
        return self.pms.client.pager(
            "appointments",
            {**params, "startdate": _day(first), "enddate": _day(last or span.last_day)},
            w.AppointmentRow,
            lambda row: m.appointment(row, zone),
            page_size=self.pms.page_size,
            keep=lambda a: span.overlaps_visit(a.start, a.duration),
        )

    async def _hours_reach_midnight(self) -> bool:
        try:
            return (await self.pms.schedules()).reach_midnight
        except (PermissionDeniedError, UnsupportedOperationError):
            return True  # hours unknown: read the day before, as if they did

    async def get(self, appointment_id: str) -> Appointment:
        """One appointment by its ``appointment_sr_no``; [NotFoundError][pms_connect.errors.NotFoundError] when
        Sikka has none (it answers 204)."""
        params = {
            **self._practice_params,
            "appointment_sr_no": check_id(appointment_id, "appointment_id"),
            "fields": _APPOINTMENT_FIELDS,
        }
        zone = self.pms.timezone
        pager = self.pms.client.pager(
            "appointments", params, w.AppointmentRow, lambda row: m.appointment(row, zone), page_size=1
        )
        found = await pager.first()
        if found is None:
            summary = self.pms.client.summary("GET", "appointments")
            raise NotFoundError("no such appointment", request=summary)
        return found

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
        """Open slots in [start, end), sorted by time, in the practice's zone (a date means that whole day).

        Sikka's native slots where the PMS has them; otherwise computed from working hours minus booked
        appointments (see [pms_connect.scheduling][])."""
        # Imported on first use, as the patient search below: the slot engine and its scheduling maths are
        # a fifth of what importing the provider costs, and a process that only reads does not need them.
        from pms_connect.sikka import _slots

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
        """Book an appointment: validated, the slot re-checked, sent once. Follow the handle to completion
        with ``pms.writebacks.wait(handle)``."""
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
        """Move an appointment in place (Sikka's ``PUT appointments/{id}``), the new slot checked and claimed
        as for a booking; a cancelled appointment is refused (book a new one instead)."""
        return await self.pms.writes.reschedule(
            appointment_id, start=start, duration=duration, provider_id=provider_id, operatory=operatory
        )

    async def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback:
        """Set the practice's own "cancelled" status on the appointment (see ``status_values``); ``reason`` is
        sent only where the PMS keeps a cancellation note (Planet DDS)."""
        return await self.pms.writes.change_status(appointment_id, to="cancel", note=reason)

    async def confirm(self, appointment_id: str) -> Writeback:
        """Set the practice's own "confirmed" status on the appointment (see ``status_values``)."""
        return await self.pms.writes.change_status(appointment_id, to="confirm")


class Patients(_Resource):
    """``pms.patients`` at Sikka ([PatientsResource][pms_connect.protocol.PatientsResource])."""

    def list(self, *, changed_since: date | datetime | None = None) -> AsyncPager[Patient]:
        """Every patient of the practice. ``changed_since`` is refused at Sikka: its patients API documents
        no filter on changes and no last-changed field (``loaded_startdate`` is not in its parameter list, and
        a server that ignored it would report every patient as changed)."""
        if changed_since is not None:
            raise UnsupportedOperationError(
                "Sikka's patients API documents no filter on changes: read every patient "
                "(patients.list()) and compare, or follow Sikka's patient webhooks"
            )
        params = {**self._practice_params, "fields": _PATIENT_FIELDS}
        return self.pms.client.pager("patients", params, w.PatientRow, m.patient, page_size=self.pms.page_size)

    async def get(self, patient_id: str) -> Patient:
        """One chart by its ``patient_id``; [NotFoundError][pms_connect.errors.NotFoundError] when Sikka has
        none (it answers 204)."""
        params = {
            **self._practice_params,
            "patient_id": check_id(patient_id, "patient_id"),
            "fields": _PATIENT_FIELDS,
        }
        found = await self.pms.client.pager("patients", params, w.PatientRow, m.patient, page_size=1).first()
        if found is None:
            summary = self.pms.client.summary("GET", "patients")
            raise NotFoundError("no such patient", request=summary)
        return found

    async def search(
        self,
        *,
        phone: str | None = None,
        name: str | None = None,
        birthdate: date | None = None,
        email: str | None = None,
    ) -> builtins.list[Patient]:
        """Patients matching every criterion given (phones compare by digits across cell, home, work)."""
        from pms_connect.sikka import _patient_search  # on first use, as find_slots says why

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
        from pms_connect.sikka import _patient_search  # on first use, as find_slots says why

        return await _patient_search.match(
            self.pms, phone=phone, first_name=first_name, last_name=last_name, birthdate=birthdate
        )

    def query(self, filters: dict[str, str], *, page_size: int | None = None) -> AsyncPager[Patient]:
        """Patients matching Sikka's own filters (``cell``, ``homephone``, ``search``, ...), as given."""
        params = {**self._practice_params, "fields": _PATIENT_FIELDS, **filters}
        return self.pms.client.pager(
            "patients", params, w.PatientRow, m.patient, page_size=page_size or self.pms.page_size
        )

    async def create(self, patient: NewPatient) -> Writeback:
        """Create a patient (Sikka's ``POST patient``). Sikka requires a provider: without ``provider_id`` the
        practice's first active dentist is sent."""
        return await self.pms.writes.create_patient(patient)


class Insurance(_Resource):
    """``pms.insurance`` at Sikka ([InsuranceResource][pms_connect.protocol.InsuranceResource])."""

    def carriers(self) -> AsyncPager[InsuranceCarrier]:
        """The practice's insurance companies (Sikka's ``insurance_companies``)."""
        params = {**self._practice_params, "fields": "insurance_company_name"}
        return self.pms.client.pager(
            "insurance_companies", params, w.CarrierRow, m.carrier, page_size=self.pms.page_size
        )

    async def coverage(self, patient_id: str) -> list[InsuranceCoverage]:
        """The patient's plans, from Sikka's ``subscribers``."""
        params = {**self._practice_params, "patient_id": check_id(patient_id, "patient_id")}
        pager = self.pms.client.pager("subscribers", params, w.SubscriberRow, m.coverage, page_size=500)
        return await pager.all()


class Payments(_Resource):
    """``pms.payments`` at Sikka ([PaymentsResource][pms_connect.protocol.PaymentsResource])."""

    def list(
        self, *, start: date | datetime, end: date | datetime, patient_id: str | None = None
    ) -> AsyncPager[Transaction]:
        """Transactions dated within [start, end] (whole local days)."""
        span = windows.window(start, end, self.pms.timezone)
        params = {
            **self._practice_params,
            "startdate": _day(span.first_day),
            "enddate": _day(span.last_day),
        }
        if patient_id is not None:
            params["patient_id"] = check_id(patient_id, "patient_id")
        return self.pms.client.pager(
            "transactions", params, w.TransactionRow, m.transaction, page_size=self.pms.page_size
        )

    async def post(self, payment: PaymentRequest) -> Writeback:
        """Post a payment (Sikka's ``POST transaction``), its sign as ``negative_payments`` says; the
        ``payment_type`` must be one of the practice's codes."""
        return await self.pms.writes.post_payment(payment)
