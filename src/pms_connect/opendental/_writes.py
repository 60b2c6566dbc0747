"""Writes to Open Dental: validated, journaled, claimed, sent once, settled at once.

Open Dental applies a write while its request runs (there is no queue to follow), so:

1. every argument is checked ([pms_connect.write_checks][]) and the key must be allowed the write, before any
   request;
2. its intent (kind, full body, a marker) is recorded in the store's write journal; bookings and reschedules
   do this inside the [BookingGuard][pms_connect.booking.BookingGuard], under the practice's lock, after
   reading the chair's and the provider's appointments over the slot: nothing in Open Dental's docs says the
   server refuses an overlapping appointment, so the SDK does;
3. it is sent once. An answer settles the entry at once: ``written`` with the created number, or ``failed``
   with Open Dental's explanation (a 400 or 404 refusal; 401, the key's permissions, is raised). An
   ambiguous failure (a timeout, a dropped connection, a 5xx or 504 after sending) returns a handle with
   ``acknowledged=False`` and is never sent again: the poller reads the write back
   ([OpenDentalWritebackSource][pms_connect.opendental._writebacks.OpenDentalWritebackSource]).

The marker: a booking's ``Note`` and a payment's ``PayNote`` end with the journal entry's id, so that a write
whose answer was lost is found by identity, never confused with another one.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from pms_connect import validation as v
from pms_connect.errors import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PmsConnectionError,
    PmsError,
    PmsStatusError,
    ServerError,
)
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    NewPatient,
    Operatory,
    PaymentRequest,
    Writeback,
    WritebackKind,
    WritebackState,
    elapsed_after,
)
from pms_connect.opendental._mapping import pattern_for
from pms_connect.opendental._writebacks import writeback_id_for
from pms_connect.statuses import practice_status
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
    from pms_connect.opendental.provider import OpenDentalProvider

__all__ = ["MARKER_FIELDS", "OpenDentalWrites", "created_number", "wire_body"]

logger = logging.getLogger("pms_connect.opendental.writes")

#: The free-text field of each write that carries the journal entry's marker.
MARKER_FIELDS: dict[str, str] = {"appointments": "Note", "payments": "PayNote"}
#: Fields Open Dental's examples send as JSON numbers (the journal keeps every value as text).
NUMBER_FIELDS = frozenset({"PatNum", "Op", "ProvNum", "ProvHyg", "ClinicNum", "PriProv", "defNum", "PayType"})
_DATETIME = "%Y-%m-%d %H:%M:%S"
_PAYMENT_TYPE_CATEGORY = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def wire_body(body: Mapping[str, str]) -> dict[str, Any]:
    """The journal's text body as Open Dental's JSON: ids as numbers, as its examples send them."""
    return {k: int(value) if k in NUMBER_FIELDS else value for k, value in body.items()}


def created_number(response: httpx.Response, field: str, summary: str) -> str:
    """The created record's number, from the 201 body (``AptNum``, ``PatNum``, ``PayNum``), else from the
    ``location`` header (``.../appointments/3``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    value = body.get(field) if isinstance(body, dict) else None
    if value is None:
        location = response.headers.get("location", "")
        value = location.rstrip("/").rpartition("/")[2] or None
    text = str(value).strip() if value is not None else ""
    if not text.isdigit():
        raise PmsStatusError(f"the answer names no {field}", request=summary, status_code=response.status_code)
    return text


def _number(value: str, name: str) -> str:
    """An Open Dental id is a whole number (its primary keys are)."""
    if not value.isdigit():
        raise InvalidArgumentError(f"unknown {name}")
    return value


def _note(text: str | None, marker: str) -> str:
    """Free text with the marker at its end; control characters become spaces (Open Dental shows the note
    in the appointment book)."""
    cleaned = " ".join(_CONTROL.sub(" ", text or "").split())
    return f"{cleaned} {marker}" if cleaned else marker


class OpenDentalWrites:
    """The writes behind an [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider]'s resources."""

    def __init__(self, pms: OpenDentalProvider) -> None:
        self._pms = pms

    # -- reads the checks need ------------------------------------------------------------------------------

    async def _require(self, capability: Capability) -> None:
        require_capability(await self._pms.features(), capability)

    async def _require_provider(self, provider_id: str) -> None:
        require_active_provider(await self._pms.known_providers(), provider_id)

    async def _patient(self, patient_id: str, name: str = "patient_id") -> None:
        try:
            await self._pms.patients.get(_number(patient_id, name))
        except NotFoundError:
            raise InvalidArgumentError(f"unknown {name}") from None

    async def _booked(self, start: datetime, end: datetime) -> list[Appointment]:
        """What holds time over [start, end): appointments (cancelled ones included: the guard decides) and
        blockouts (time with no provider in a chair)."""
        return await self._pms.busy(start, end)

    async def payment_types(self) -> dict[str, str]:
        """The practice's payment types (``definitions`` of Category 10, not hidden), DefNum to ItemName,
        cached with the reference data."""

        async def load() -> dict[str, str]:
            rows = await self._pms.client.get_all("definitions", {"Category": str(_PAYMENT_TYPE_CATEGORY)})
            return {
                str(r["DefNum"]): str(r.get("ItemName") or "")
                for r in rows
                if str(r.get("DefNum", "")).isdigit() and str(r.get("isHidden", "false")).lower() != "true"
            }

        return await self._pms.reference.get("payment_types", load)

    # -- writes ---------------------------------------------------------------------------------------------

    async def book(self, request: BookingRequest) -> Writeback:
        pms = self._pms
        checked = check_booking(request, zone=pms.timezone, now=pms.now())
        pattern = pattern_for(checked.duration)
        patient_id = _number(checked.patient_id, "patient_id")
        provider_id = _number(checked.provider_id, "provider_id")
        _, _, _, booked = await gather_checks(
            self._require(Capability.BOOK_APPOINTMENT),
            self._require_provider(provider_id),
            self._patient(patient_id),
            self._booked(checked.start, checked.end),
        )
        entry_id = new_entry_id()
        body = {
            "PatNum": patient_id,
            "AptDateTime": checked.start.strftime(_DATETIME),
            "Pattern": pattern,
            "ProvNum": provider_id,
            "Note": _note(checked.reason, entry_id),
        }
        return await self._claim_and_send(
            entry_id,
            WritebackKind.BOOK_APPOINTMENT,
            "POST",
            "appointments",
            body,
            provider_id=provider_id,
            operatory=checked.operatory,
            start=checked.start,
            end=checked.end,
            moves=None,
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
        if change.duration is not None:
            pattern_for(change.duration)
        await self._require(Capability.RESCHEDULE_APPOINTMENT)
        current = await pms.appointments.get(_number(change.appointment_id, "appointment_id"))
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
            "AptDateTime": new_start.strftime(_DATETIME),
            "Pattern": pattern_for(new_duration),
            "ProvNum": new_provider,
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
            booked=booked,
        )

    async def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback:
        """``PUT /appointments/{AptNum}/Break`` onto the Unscheduled List (so the office sees it is to be
        rebooked). Open Dental's Break takes no reason: ``reason`` is checked, not sent."""
        appointment_id = _number(v.check_id(appointment_id, "appointment_id"), "appointment_id")
        if reason is not None:
            v.check_text(reason, "reason", max_length=NOTE_LENGTH)
        await self._require(Capability.CHANGE_APPOINTMENT_STATUS)
        current = await self._pms.appointments.get(appointment_id)
        if current.cancelled or (current.status or "").lower() != "scheduled":
            raise InvalidArgumentError("only a scheduled appointment can be cancelled (Open Dental breaks it)")
        entry = self._entry(
            new_entry_id(),
            WritebackKind.CHANGE_APPOINTMENT_STATUS,
            "PUT",
            f"appointments/{current.id}/Break",
            {"sendToUnscheduledList": "true"},
            appointment_id=current.id,
        )
        return await self._record_and_send(entry, created=current.id)

    async def confirm(self, appointment_id: str) -> Writeback:
        """``PUT /appointments/{AptNum}/Confirm`` with the practice's own "confirmed" definition (a visible one:
        a definition the office hid is no longer to be set)."""
        appointment_id = _number(v.check_id(appointment_id, "appointment_id"), "appointment_id")
        await self._require(Capability.CHANGE_APPOINTMENT_STATUS)
        current, definitions = await gather_checks(
            self._pms.appointments.get(appointment_id), self._pms.confirmation_definitions()
        )
        if current.cancelled:
            raise InvalidArgumentError("the appointment is cancelled")
        labels = {d.DefNum: d.ItemName or "" for d in definitions if not d.isHidden}
        chosen = practice_status("confirm", list(labels.values()))
        def_num = next(num for num, name in labels.items() if name == chosen)
        entry = self._entry(
            new_entry_id(),
            WritebackKind.CHANGE_APPOINTMENT_STATUS,
            "PUT",
            f"appointments/{current.id}/Confirm",
            {"defNum": def_num},
            appointment_id=current.id,
        )
        return await self._record_and_send(entry, created=current.id)

    async def create_patient(self, patient: NewPatient) -> Writeback:
        pms = self._pms
        new = check_new_patient(patient, today=pms.today())
        await self._require(Capability.CREATE_PATIENT)
        provider_id = new.provider_id
        if provider_id is not None:
            await self._require_provider(_number(provider_id, "provider_id"))
        else:  # the practice's default provider is Open Dental's own choice; name one so the chart has it
            provider_id = default_provider(await pms.known_providers())
        body = {"LName": new.last_name, "FName": new.first_name, "PriProv": provider_id}
        optional = {
            "Birthdate": new.birthdate.isoformat() if new.birthdate else None,
            "WirelessPhone": new.cell_phone,
            "Email": new.email,
            "ClinicNum": pms.credentials.clinic_num,
        }
        body.update({k: val for k, val in optional.items() if val})
        entry = self._entry(new_entry_id(), WritebackKind.CREATE_PATIENT, "POST", "patients", body)
        return await self._record_and_send(entry, created_field="PatNum")

    async def post_payment(self, payment: PaymentRequest) -> Writeback:
        pms = self._pms
        paid = check_payment(payment, today=pms.today())
        patient_id = _number(paid.patient_id, "patient_id")
        if paid.guarantor_id is not None or paid.provider_id is not None:
            # Open Dental splits a payment by the office's allocation rules; it takes neither.
            raise InvalidArgumentError(
                "Open Dental allocates payments itself: pass no provider_id or guarantor_id"
            )
        await self._require(Capability.POST_PAYMENT)
        _, types = await gather_checks(self._patient(patient_id), self.payment_types())
        if paid.payment_type not in types:
            raise InvalidArgumentError("unknown payment_type (use a DefNum of the practice's payment types)")
        entry_id = new_entry_id()
        body = {
            "PatNum": patient_id,
            "PayAmt": f"{paid.amount:.2f}",
            "PayType": paid.payment_type,
            "PayDate": paid.date.isoformat(),
            "PayNote": _note(paid.note, entry_id),
        }
        if pms.credentials.clinic_num:
            body["ClinicNum"] = pms.credentials.clinic_num
        entry = self._entry(entry_id, WritebackKind.POST_PAYMENT, "POST", "payments", body)
        return await self._record_and_send(entry, created_field="PayNum")

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
            recovery="it is read back from Open Dental",
        )

    def _entry(
        self,
        entry_id: str,
        kind: WritebackKind,
        method: str,
        path: str,
        body: dict[str, str],
        *,
        appointment_id: str | None = None,
        slot: SlotClaim | None = None,
        deadline: datetime | None = None,
    ) -> JournalEntry:
        return self._journal.entry(
            entry_id,
            kind,
            method,
            path,
            body,
            marker_field=MARKER_FIELDS.get(path) if method == "POST" else None,
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
        booked: list[Appointment],
    ) -> Writeback:
        def make(claim: SlotClaim) -> JournalEntry:
            seated = {**body, "Op": claim.operatory or ""}
            return self._entry(
                entry_id, kind, method, path, seated, appointment_id=moves, slot=claim, deadline=start
            )

        entry = await self._journal.claim(
            make,
            provider_id=provider_id,
            operatory=operatory,
            operatories=await self._chairs(provider_id, start, end),
            start=start,
            end=end,
            moves=moves,
            booked=booked,
        )
        return await self._send(entry, created=moves, created_field=None if moves else "AptNum")

    async def _chairs(self, provider_id: str, start: datetime, end: datetime) -> list[Operatory]:
        """The visible chairs in the order to try them: those the provider's schedule names for the visit's
        time first (where it names any), then the rest."""
        chairs = await self._pms.known_operatories()
        seated = await self._pms.seated_chairs(provider_id, start, end)
        if not seated:
            return list(chairs)
        return [c for c in chairs if c.id in seated] + [c for c in chairs if c.id not in seated]

    async def _record_and_send(
        self, entry: JournalEntry, *, created: str | None = None, created_field: str | None = None
    ) -> Writeback:
        recorded = await self._journal.record(entry)
        return await self._send(recorded, created=created, created_field=created_field)

    async def _send(self, entry: JournalEntry, *, created: str | None, created_field: str | None) -> Writeback:
        """The one place a write is sent: once, its outcome journaled whatever happens."""
        pms, journal = self._pms, self._journal
        summary = pms.client.summary(entry.method, entry.path)
        try:
            response = await pms.client.request(
                entry.method, entry.path, json_body=wire_body(entry.body), idempotent=False
            )
        except PmsConnectionError as exc:
            if not exc.request_sent:  # it never left (the pipeline already retried the connect)
                await journal.settle(entry, WritebackState.NOT_APPLIED, "the request never reached the PMS")
                raise
            return await journal.lost(entry, exc)
        except ServerError as exc:  # a 5xx (504: the office took over 60 s) may have been applied
            return await journal.lost(entry, exc)
        except (AuthenticationError, PermissionDeniedError):
            await journal.settle(entry, WritebackState.NOT_APPLIED, "refused: the key may not make this write")
            raise
        except PmsError as exc:  # Open Dental refused it (400, 404): nothing was written
            message = f"refused by Open Dental: {exc.message}"
            return await journal.settled(entry, WritebackState.FAILED, message)
        try:
            number = created_number(response, created_field, summary) if created_field else created
        except PmsStatusError as exc:  # written, but the answer is unreadable: read it back instead
            return await journal.lost(entry, exc)
        return await journal.written(entry, writeback_id_for(entry, number), number)
