"""Writes to Sikka: validated, journaled, claimed, sent once.

Every write goes the same way:

1. every argument is checked ([pms_connect.write_checks][]) and the practice's PMS must accept the write,
   before any request;
2. its intent (kind, the full body, a marker) is recorded in the store's write journal; bookings and
   reschedules do this inside the booking guard, which checks the slot and claims it for every worker;
3. it is sent once. A definite answer settles it (the writeback id is journaled and followed, or the
   refusal is raised). An ambiguous failure (a timeout, a dropped answer, a 5xx after sending, an answer
   without an id) returns a handle with ``acknowledged=False``: the poller finds the write in Sikka's log by
   its marker (appointment and transaction ``note``) or by every field sent, or ends it ``not_applied``.
   Nothing is ever sent a second time.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pms_connect import validation as v
from pms_connect.errors import (
    InvalidArgumentError,
    NotFoundError,
    PmsConnectionError,
    PmsError,
    PmsStatusError,
    ServerError,
    UnsupportedOperationError,
)
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    NewPatient,
    PaymentRequest,
    Writeback,
    WritebackKind,
    WritebackState,
    elapsed_after,
)
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import parse_model, read_json
from pms_connect.sikka._pms_rules import PmsRules
from pms_connect.sikka._writebacks import parse_writeback_id
from pms_connect.stores import JournalEntry, SlotClaim, new_entry_id
from pms_connect.write_checks import (
    NOTE_LENGTH,
    check_booking,
    check_new_patient,
    check_payment,
    check_reschedule,
    default_provider,
    future_start,
    gather_checks,
    require_active_provider,
    require_capability,
)
from pms_connect.write_journal import WriteJournal

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

__all__ = ["MARKER_FIELDS", "SikkaWrites"]

logger = logging.getLogger("pms_connect.sikka.writes")

_DESCRIPTION_UNSAFE = re.compile(r"[^A-Za-z0-9 .,/\-]")
#: The free-text field of each write that carries the journal entry's marker, where the write has one.
MARKER_FIELDS: dict[str, str] = {"appointment": "note", "transaction": "note"}


def _clean_description(text: str | None, default: str) -> str:
    """Sikka refuses special characters in appointment descriptions."""
    cleaned = " ".join(_DESCRIPTION_UNSAFE.sub(" ", text or "").split())
    return cleaned[:60] or default


class SikkaWrites:
    def __init__(self, pms: SikkaProvider) -> None:
        self._pms = pms

    # -- checks ---------------------------------------------------------------------------------------

    async def _require(self, capability: Capability) -> None:
        require_capability(await self._pms.features(), capability)

    async def _require_provider(self, provider_id: str) -> None:
        require_active_provider(await self._pms.known_providers(), provider_id)

    async def _require_patient(self, patient_id: str, name: str = "patient_id") -> None:
        try:
            await self._pms.patients.get(patient_id)
        except NotFoundError:
            raise InvalidArgumentError(f"unknown {name}") from None

    def _practice_fields(self, names: tuple[str, ...], rules: PmsRules, what: str) -> dict[str, str]:
        """The practice's values (``pms_fields``) for the fields its PMS requires on ``what``."""
        missing = [name for name in names if not self._pms.write_options.pms_fields.get(name)]
        if missing:
            raise UnsupportedOperationError(
                f"the practice's PMS ({rules.name}) requires {', '.join(missing)} on {what}: name the practice's "
                "values once with SikkaProvider(writes=SikkaWriteOptions(pms_fields={...})) "
                "(see Sikka's writeback_details)"
            )
        return {name: self._pms.write_options.pms_fields[name] for name in names}

    async def _booked(self, start: datetime, end: datetime) -> list[Appointment]:
        # From the day before whatever the practice's hours: a visit running past midnight into the slot
        # blocks it, and for a slot's day or two the read is one request either way.
        """Every appointment overlapping [start, end), cancelled ones included (the guard decides)."""
        return await self._pms.appointments.overlapping(start=start, end=end, day_before=True).all()

    # -- writes ---------------------------------------------------------------------------------------

    async def book(self, request: BookingRequest) -> Writeback:
        checked = check_booking(request, zone=self._pms.timezone, now=self._pms.now())
        patient_id, provider_id, start, end = checked.patient_id, checked.provider_id, checked.start, checked.end
        # One round trip for every check and the slot's appointments (the patient's chart is the one read
        # not cached).
        _, rules, _, _, booked = await gather_checks(
            self._require(Capability.BOOK_APPOINTMENT),
            self._pms.pms_rules(),
            self._require_provider(provider_id),
            self._require_patient(patient_id),
            self._booked(start, end),
        )
        extra = self._practice_fields(rules.booking_fields, rules, "a booking")
        entry_id = new_entry_id()
        body = {
            "patient_id": patient_id,
            "provider_id": provider_id,
            "practice_id": self._pms.practice_id,
            "operatory": "",
            "date": start.strftime("%Y-%m-%d"),
            "time": start.strftime("%H:%M"),
            "length": str(int(checked.duration.total_seconds() // 60)),
            "description": _clean_description(checked.reason, "Appointment"),
            "note": entry_id,
            **extra,
        }
        if not rules.description:
            del body["description"]
        if rules.booking_flags:  # Planet DDS: an existing patient, and whether they have coverage
            body["is_new_patient"] = "false"
            body["has_insurance"] = "true" if await self._pms.insurance.coverage(patient_id) else "false"
        return await self._claim_and_send(
            entry_id,
            WritebackKind.BOOK_APPOINTMENT,
            "POST",
            "appointment",
            body,
            provider_id=provider_id,
            operatory=checked.operatory,
            start=start,
            end=end,
            moves=None,
            deadline=start,
            booked=booked,
        )

    async def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback:
        pms = self._pms
        change = check_reschedule(
            appointment_id,
            start=start,
            duration=duration,
            provider_id=provider_id,
            operatory=operatory,
            zone=pms.timezone,
            now=pms.now(),
        )
        await self._require(Capability.RESCHEDULE_APPOINTMENT)
        current = await pms.appointments.get(change.appointment_id)
        if current.cancelled:
            raise InvalidArgumentError("the appointment is cancelled; book a new one instead")
        new_start = change.start or future_start(current.start, "start", pms.timezone, pms.now())
        new_duration = change.duration or current.duration
        new_provider = change.provider_id or current.provider_id
        if new_provider is None:
            raise InvalidArgumentError("the appointment has no provider; pass provider_id")
        end = elapsed_after(new_start, new_duration)
        _, booked = await gather_checks(self._require_provider(new_provider), self._booked(new_start, end))
        body = {
            "practice_id": self._pms.practice_id,
            "date": new_start.strftime("%Y-%m-%d"),
            "time": new_start.strftime("%H:%M"),
            "length": str(int(new_duration.total_seconds() // 60)),
            "operatory": "",
            "provider_id": new_provider,
        }
        return await self._claim_and_send(
            new_entry_id(),
            WritebackKind.RESCHEDULE_APPOINTMENT,
            "PUT",
            f"appointments/{current.id}",
            body,
            provider_id=new_provider,
            operatory=change.operatory or current.operatory,
            start=new_start,
            end=end,
            moves=current.id,
            deadline=new_start,
            booked=booked,
        )

    async def change_status(self, appointment_id: str, *, to: str, note: str | None = None) -> Writeback:
        """``to`` is "cancel" or "confirm"; the value sent is the practice's own legal status."""
        appointment_id = v.check_id(appointment_id, "appointment_id")
        if note is not None:
            v.check_text(note, "reason", max_length=NOTE_LENGTH)
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
        if note and to == "cancel" and (await self._pms.pms_rules()).cancellation_note:
            cleaned = _clean_description(note, "")  # only Planet DDS documents the field
            if cleaned:
                body["cancellation_note"] = cleaned
        entry = self._entry(
            new_entry_id(),
            WritebackKind.CHANGE_APPOINTMENT_STATUS,
            "PATCH",
            f"appointments/{current.id}",
            body,
            deadline=None,
            appointment_id=current.id,
        )
        return await self._record_and_send(entry)

    async def create_patient(self, patient: NewPatient) -> Writeback:
        new = check_new_patient(patient, today=self._pms.today())
        await self._require(Capability.CREATE_PATIENT)
        rules = await self._pms.pms_rules()
        if rules.per_patient_fields:
            raise UnsupportedOperationError(
                f"the practice's PMS requires {', '.join(rules.per_patient_fields)} on a new patient, "
                "which this SDK's NewPatient does not carry"
            )
        extra = self._practice_fields(rules.patient_fields, rules, "a new patient")
        # Sikka requires a provider on a new patient: without one, the practice's first active dentist.
        provider_id = new.provider_id or default_provider(await self._pms.known_providers())
        await self._require_provider(provider_id)
        body = {
            "firstname": new.first_name,
            "lastname": new.last_name,
            "provider_id": provider_id,
            "practice_id": self._pms.practice_id,
            **extra,
        }
        optional = {
            "birthdate": new.birthdate.strftime("%Y-%m-%d") if new.birthdate else None,
            "cell": new.cell_phone,
            "email": new.email,
        }
        body.update({k: val for k, val in optional.items() if val})
        entry = self._entry(new_entry_id(), WritebackKind.CREATE_PATIENT, "POST", "patient", body, deadline=None)
        return await self._record_and_send(entry)

    async def post_payment(self, payment: PaymentRequest) -> Writeback:
        paid = check_payment(payment, today=self._pms.today())
        patient_id, payment_type, provider_id, guarantor_id = (
            paid.patient_id,
            paid.payment_type,
            paid.provider_id,
            paid.guarantor_id,
        )
        await self._require(Capability.POST_PAYMENT)
        types = await self._pms.payment_types()
        description = types.get(payment_type)
        if description is None:
            raise InvalidArgumentError("unknown payment_type (use a code from the practice's payment types)")
        try:
            patient = await self._pms.patients.get(patient_id)
        except NotFoundError:
            raise InvalidArgumentError("unknown patient_id") from None
        if provider_id is not None:
            await self._require_provider(provider_id)
        provider_id = provider_id or patient.provider_id
        if provider_id is None:
            raise InvalidArgumentError("the patient has no provider; pass provider_id")
        own_guarantor = patient.guarantor_id or patient.id
        if guarantor_id is not None and guarantor_id != own_guarantor:
            raise InvalidArgumentError("guarantor_id is not the patient's guarantor")
        entry_id = new_entry_id()
        cleaned = _clean_description(paid.note, "") if paid.note else ""
        body = {
            "patient_id": patient.id,
            "guarantor_id": own_guarantor,
            "provider_id": provider_id,
            "procedure_code": payment_type,
            "procedure_description": description,
            # A credit on the ledger: Sikka's documented example posts a cash payment as "-39.30".
            "amount": f"-{paid.amount:.2f}" if self._pms.write_options.negative_payments else f"{paid.amount:.2f}",
            "transaction_date": paid.date.strftime("%Y-%m-%d"),
            "practice_id": self._pms.practice_id,
            "note": f"{cleaned[:39]} {entry_id}" if cleaned else entry_id,  # the marker always survives
        }
        entry = self._entry(entry_id, WritebackKind.POST_PAYMENT, "POST", "transaction", body, deadline=None)
        return await self._record_and_send(entry)

    # -- journal, claim, send ---------------------------------------------------------------------------

    @functools.cached_property
    def _journal(self) -> WriteJournal:
        pms = self._pms
        return WriteJournal(
            store=pms.store,
            guard=pms.guard,
            writebacks=pms.writebacks,
            clock=pms.clock,
            zone=pms.timezone,
            practice=pms.practice_key,
            practice_id=pms.practice_id,
            summary=pms.client.summary,
            logger=logger,
            recovery="its fate is read from the PMS's log",
        )

    def _entry(
        self,
        entry_id: str,
        kind: WritebackKind,
        method: str,
        path: str,
        body: dict[str, str],
        *,
        deadline: datetime | None,
        appointment_id: str | None = None,
        slot: SlotClaim | None = None,
    ) -> JournalEntry:
        if self._pms.write_options.check_spu:
            body = {**body, "check_spu": "true"}  # refused at once (412) while the practice's utility is offline
        return self._journal.entry(
            entry_id,
            kind,
            method,
            path,
            body,
            marker_field=MARKER_FIELDS.get(path.split("/")[0]),
            deadline=deadline,
            appointment_id=appointment_id,
            slot=slot,
        )

    async def _claim_and_send(
        self,
        entry_id: str,
        kind: WritebackKind,
        method: str,
        path: str,
        body: dict[str, str],
        *,
        provider_id: str,
        operatory: str | None,
        start: datetime,
        end: datetime,
        moves: str | None,
        deadline: datetime,
        booked: Sequence[Appointment],
    ) -> Writeback:
        def make(claim: SlotClaim) -> JournalEntry:
            chair = {**body, "operatory": claim.operatory or ""}
            return self._entry(
                entry_id, kind, method, path, chair, deadline=deadline, appointment_id=moves, slot=claim
            )

        entry = await self._journal.claim(
            make,
            provider_id=provider_id,
            operatory=operatory,
            operatories=await self._pms.known_operatories(),
            start=start,
            end=end,
            moves=moves,
            booked=booked,
        )
        return await self._send(entry)

    async def _record_and_send(self, entry: JournalEntry) -> Writeback:
        return await self._send(await self._journal.record(entry))

    async def _send(self, entry: JournalEntry) -> Writeback:
        """The one place a write is sent: once, its outcome journaled whatever happens."""
        pms, journal = self._pms, self._journal
        summary = pms.client.summary(entry.method, entry.path)
        try:
            response = await pms.client.practice_call(
                entry.method, entry.path, json_body=entry.body, idempotent=False
            )
        except PmsConnectionError as exc:
            if not exc.request_sent:  # it never left (the pipeline already retried the connect)
                await journal.settle(entry, WritebackState.NOT_APPLIED, "the request never reached the PMS")
                raise
            return await journal.lost(entry, exc)
        except ServerError as exc:
            return await journal.lost(entry, exc)
        except PmsError as exc:  # a definite refusal: nothing was queued
            await journal.settle(
                entry, WritebackState.NOT_APPLIED, f"refused by the PMS ({exc.code or exc.status_code})"
            )
            raise
        try:
            answer = parse_model(w.WriteAnswer, read_json(response, summary), summary)
            writeback_id = parse_writeback_id(answer)
        except PmsStatusError as exc:  # accepted, but the id is unreadable: find it in the log instead
            return await journal.lost(entry, exc)
        return await journal.queued(entry, writeback_id)
