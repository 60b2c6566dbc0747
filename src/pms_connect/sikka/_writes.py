"""Writes to Sikka that never double-book.

Every write is validated before anything is sent, sent once, and answered with a :class:`Writeback` handle
that the poller follows. A write is never retried once it may have reached Sikka: after an ambiguous
failure (a timeout or a broken connection after sending, or a 5xx), Sikka's writeback log is searched for
the write first; only when it is provably absent is the write sent again, once. Bookings re-check the slot
right before sending, against the PMS and against this process's own pending bookings, under a lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from pms_connect.errors import (
    InvalidArgumentError,
    NotFoundError,
    PmsConnectionError,
    PmsError,
    ServerError,
    SlotUnavailableError,
    UnsupportedOperationError,
)
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    NewPatient,
    Operatory,
    PaymentRequest,
    ProviderKind,
    Writeback,
    WritebackKind,
    WritebackResult,
    elapsed_after,
)
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import parse_model, read_json
from pms_connect.sikka._writebacks import parse_writeback_id

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

__all__ = ["SikkaWrites"]

logger = logging.getLogger("pms_connect.sikka.writes")

_DESCRIPTION_UNSAFE = re.compile(r"[^A-Za-z0-9 .,/\-]")


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def _clean_description(text: str | None, default: str) -> str:
    """Sikka refuses special characters in appointment descriptions."""
    cleaned = " ".join(_DESCRIPTION_UNSAFE.sub(" ", text or "").split())
    return cleaned[:60] or default


@dataclass(frozen=True)
class _Hold:
    """A slot held by a booking or reschedule this process sent and that is still pending."""

    provider_id: str
    operatory: str | None
    start: datetime
    end: datetime
    appointment_id: str | None = None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return _utc(self.start) < _utc(end) and _utc(start) < _utc(self.end)

    def clashes(self, provider_id: str, operatory: str | None, start: datetime, end: datetime) -> bool:
        same_resource = self.provider_id == provider_id or (operatory is not None and self.operatory == operatory)
        return same_resource and self.overlaps(start, end)


class SikkaWrites:
    def __init__(self, pms: SikkaProvider) -> None:
        self._pms = pms
        self._slot_lock = asyncio.Lock()
        self._holds: dict[str, _Hold] = {}

    # -- checks ---------------------------------------------------------------------------------------

    async def _require(self, capability: Capability) -> None:
        features = await self._pms.features()
        if capability not in features.capabilities:
            raise UnsupportedOperationError(
                f"the practice's PMS ({features.pms_name or 'unknown'}) does not accept {capability.value}"
            )

    def _require_future(self, start: datetime) -> datetime:
        local = start.astimezone(self._pms.timezone)
        if local <= self._pms.now():
            raise InvalidArgumentError("the appointment start must be in the future")
        return local

    async def _require_provider(self, provider_id: str) -> None:
        providers = {p.id: p for p in await self._pms.known_providers()}
        provider = providers.get(provider_id)
        if provider is None:
            raise InvalidArgumentError("unknown provider_id")
        if not provider.active:
            raise InvalidArgumentError("the provider is inactive")

    async def _default_provider(self) -> str:
        """Sikka requires a provider on a new patient: without one, the practice's first active dentist."""
        providers = [p for p in await self._pms.known_providers() if p.active]
        dentists = [p for p in providers if p.kind is ProviderKind.DENTIST]
        if not (dentists or providers):
            raise InvalidArgumentError("the practice has no active provider; pass provider_id")
        return (dentists or providers)[0].id

    async def _operatories(self) -> dict[str, Operatory]:
        return {o.id: o for o in await self._pms.known_operatories()}

    async def _require_patient(self, patient_id: str) -> None:
        try:
            await self._pms.patients.get(patient_id)
        except NotFoundError:
            raise InvalidArgumentError("unknown patient_id") from None

    async def _busy(
        self, provider_id: str, start: datetime, end: datetime, *, ignore: str | None = None
    ) -> list[Appointment]:
        """Booked, non-cancelled appointments overlapping [start, end) (any provider or operatory)."""
        appointments = await self._pms.appointments.list(start=start, end=end).all()
        return [a for a in appointments if not a.cancelled and a.id != ignore]

    async def _choose_operatory(
        self,
        provider_id: str,
        operatory: str | None,
        start: datetime,
        end: datetime,
        *,
        ignore: str | None = None,
    ) -> str:
        """Re-check the slot against the PMS and our pending holds; return the operatory to book in."""
        operatories = await self._operatories()
        if operatory is not None and operatory not in operatories:
            raise InvalidArgumentError("unknown operatory")
        busy = await self._busy(provider_id, start, end, ignore=ignore)
        # A reschedule may overlap its own old time and its own pending hold.
        holds = [h for h in self._holds.values() if ignore is None or h.appointment_id != ignore]
        if any(a.provider_id == provider_id for a in busy) or any(
            h.clashes(provider_id, None, start, end) for h in holds
        ):
            raise SlotUnavailableError("the provider is no longer free at that time")
        taken = {a.operatory for a in busy if a.operatory} | {
            h.operatory for h in holds if h.operatory and h.overlaps(start, end)
        }
        if operatory is not None:
            if operatory in taken:
                raise SlotUnavailableError("the operatory is no longer free at that time")
            return operatory
        for candidate in operatories.values():
            if not candidate.hidden and candidate.id not in taken:
                return candidate.id
        raise SlotUnavailableError("no operatory is free at that time")

    # -- writes ---------------------------------------------------------------------------------------

    async def book(self, request: BookingRequest) -> Writeback:
        start = self._require_future(request.start)
        await self._require(Capability.BOOK_APPOINTMENT)
        await self._require_provider(request.provider_id)
        await self._require_patient(request.patient_id)
        end = elapsed_after(start, request.duration)
        async with self._slot_lock:
            operatory = await self._choose_operatory(request.provider_id, request.operatory, start, end)
            body = {
                "patient_id": request.patient_id,
                "provider_id": request.provider_id,
                "practice_id": self._pms.practice_id,
                "operatory": operatory,
                "date": start.strftime("%Y-%m-%d"),
                "time": start.strftime("%H:%M"),
                "length": str(int(request.duration.total_seconds() // 60)),
                "description": _clean_description(request.reason, "Appointment"),
            }
            handle = await self._submit(
                WritebackKind.BOOK_APPOINTMENT,
                "POST",
                "appointment",
                body,
                match=("patient_id", "provider_id", "date", "time"),
                deadline=start,
            )
            self._hold(handle, _Hold(request.provider_id, operatory, start, end))
        return handle

    async def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback:
        if start is None and duration is None and provider_id is None and operatory is None:
            raise InvalidArgumentError("give at least one of start, duration, provider_id, operatory")
        if start is not None and (start.tzinfo is None or start.utcoffset() is None):
            raise InvalidArgumentError("start must be an aware datetime")
        if duration is not None and (duration <= timedelta(0) or duration % timedelta(minutes=1)):
            raise InvalidArgumentError("duration must be a positive whole number of minutes")
        await self._require(Capability.RESCHEDULE_APPOINTMENT)
        current = await self._pms.appointments.get(appointment_id)
        if current.cancelled:
            raise InvalidArgumentError("the appointment is cancelled; book a new one instead")
        new_start = self._require_future(start or current.start)
        new_duration = duration or current.duration
        new_provider = provider_id or current.provider_id
        if new_provider is None:
            raise InvalidArgumentError("the appointment has no provider; pass provider_id")
        await self._require_provider(new_provider)
        end = elapsed_after(new_start, new_duration)
        async with self._slot_lock:
            new_operatory = await self._choose_operatory(
                new_provider, operatory or current.operatory, new_start, end, ignore=current.id
            )
            body = {
                "practice_id": self._pms.practice_id,
                "date": new_start.strftime("%Y-%m-%d"),
                "time": new_start.strftime("%H:%M"),
                "length": str(int(new_duration.total_seconds() // 60)),
                "operatory": new_operatory,
                "provider_id": new_provider,
            }
            handle = await self._submit(
                WritebackKind.RESCHEDULE_APPOINTMENT,
                "PUT",
                f"appointments/{current.id}",
                body,
                match=("date", "time", "provider_id"),
                deadline=new_start,
                appointment_id=current.id,
            )
            self._hold(handle, _Hold(new_provider, new_operatory, new_start, end, appointment_id=current.id))
        return handle

    async def change_status(self, appointment_id: str, *, to: str, note: str | None = None) -> Writeback:
        """``to`` is "cancel" or "confirm"; the value sent is the practice's own legal status."""
        await self._require(Capability.CHANGE_APPOINTMENT_STATUS)
        current = await self._pms.appointments.get(appointment_id)
        value = await self._pms.status_value(to)
        body = {
            "op": "replace",
            "path": "/appointment_status",
            "value": value,
            "practice_id": self._pms.practice_id,
            "appointment_sr_no": current.id,
        }
        if note and to == "cancel":
            body["cancellation_note"] = _clean_description(note, "")
        return await self._submit(
            WritebackKind.CHANGE_APPOINTMENT_STATUS,
            "PATCH",
            f"appointments/{current.id}",
            body,
            match=("value",),
            deadline=None,
            appointment_id=current.id,
        )

    async def create_patient(self, patient: NewPatient) -> Writeback:
        if patient.birthdate is not None and patient.birthdate > self._pms.today():
            raise InvalidArgumentError("birthdate is in the future")
        await self._require(Capability.CREATE_PATIENT)
        provider_id = patient.provider_id or await self._default_provider()
        await self._require_provider(provider_id)
        body = {
            "firstname": patient.first_name.strip(),
            "lastname": patient.last_name.strip(),
            "provider_id": provider_id,
            "practice_id": self._pms.practice_id,
        }
        optional = {
            "birthdate": patient.birthdate.strftime("%Y-%m-%d") if patient.birthdate else None,
            "cell": patient.cell_phone,
            "email": patient.email,
        }
        body.update({k: v for k, v in optional.items() if v})
        return await self._submit(
            WritebackKind.CREATE_PATIENT,
            "POST",
            "patient",
            body,
            match=("firstname", "lastname", "birthdate"),
            deadline=None,
        )

    async def post_payment(self, payment: PaymentRequest) -> Writeback:
        if payment.amount <= 0:
            raise InvalidArgumentError("a payment amount must be greater than zero")
        if payment.amount != payment.amount.quantize(Decimal("0.01")):
            raise InvalidArgumentError("a payment amount has at most two decimal places")
        day = payment.date or self._pms.today()
        if day > self._pms.today():
            raise InvalidArgumentError("the payment date is in the future")
        await self._require(Capability.POST_PAYMENT)
        types = await self._pms.payment_types()
        description = types.get(payment.payment_type)
        if description is None:
            raise InvalidArgumentError("unknown payment_type (use a code from the practice's payment types)")
        try:
            patient = await self._pms.patients.get(payment.patient_id)
        except NotFoundError:
            raise InvalidArgumentError("unknown patient_id") from None
        provider_id = payment.provider_id or patient.provider_id
        if provider_id is None:
            raise InvalidArgumentError("the patient has no provider; pass provider_id")
        body = {
            "patient_id": patient.id,
            "guarantor_id": payment.guarantor_id or patient.guarantor_id or patient.id,
            "provider_id": provider_id,
            "procedure_code": payment.payment_type,
            "procedure_description": description,
            "amount": f"{payment.amount:.2f}",
            "transaction_date": day.strftime("%Y-%m-%d"),
            "practice_id": self._pms.practice_id,
        }
        if payment.note:
            body["note"] = _clean_description(payment.note, "")
        return await self._submit(
            WritebackKind.POST_PAYMENT,
            "POST",
            "transaction",
            body,
            match=("patient_id", "amount", "transaction_date"),
            deadline=None,
        )

    # -- the one place a write is sent ----------------------------------------------------------------

    async def _submit(
        self,
        kind: WritebackKind,
        method: str,
        path: str,
        body: dict[str, str],
        *,
        match: tuple[str, ...],
        deadline: datetime | None,
        appointment_id: str | None = None,
    ) -> Writeback:
        sent_at = self._pms.clock.now()
        api_name = path.split("/")[0]
        if self._pms.check_spu:
            body = {**body, "check_spu": "true"}  # refused at once (412) while the practice's utility is offline
        for attempt in (1, 2):
            try:
                response = await self._pms.client.practice_call(method, path, json_body=body, idempotent=False)
            except (PmsConnectionError, ServerError) as exc:
                if isinstance(exc, PmsConnectionError) and not exc.request_sent:
                    raise  # it never left: nothing to reconcile, and the pipeline already retried
                logger.warning("%s %s failed ambiguously (%s); reconciling", method, api_name, type(exc).__name__)
                try:
                    logged = await self._pms.writeback_source.find_logged(
                        method=method,
                        api_name=api_name,
                        since=sent_at,
                        matches={k: body[k] for k in match if k in body},
                        target_id=appointment_id,
                    )
                except PmsError as lookup_error:
                    raise PmsConnectionError(
                        "the write may have reached the PMS and its log could not be checked; "
                        "it was not sent again",
                        request=f"{method} /{api_name}",
                    ) from lookup_error
                if logged is not None:
                    logger.info("the write had been logged; tracking it instead of sending it again")
                    return await self._track(logged, kind, sent_at, deadline, appointment_id)
                if attempt == 2:
                    raise PmsConnectionError(
                        "the write failed twice and the PMS logged neither attempt",
                        request=f"{method} /{api_name}",
                    ) from exc
                continue
            summary = self._pms.client.summary(method, path)
            answer = parse_model(w.WriteAnswer, read_json(response, summary), summary)
            return await self._track(parse_writeback_id(answer), kind, sent_at, deadline, appointment_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _track(
        self,
        writeback_id: str,
        kind: WritebackKind,
        sent_at: datetime,
        deadline: datetime | None,
        appointment_id: str | None,
    ) -> Writeback:
        handle = Writeback(
            id=writeback_id,
            kind=kind,
            practice_id=self._pms.practice_id,
            submitted_at=sent_at,
            deadline=deadline,
            appointment_id=appointment_id,
        )
        await self._pms.writebacks.track(handle)
        return handle

    def _hold(self, handle: Writeback, hold: _Hold) -> None:
        self._holds[handle.id] = hold

        def release(_: WritebackResult) -> None:
            self._holds.pop(handle.id, None)

        self._pms.writebacks.on_complete(handle, release)
