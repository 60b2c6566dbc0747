"""The writeback queue: a write is logged now and applied to the PMS later, by the practice's utility.

A writeback becomes due ``delay`` after submission and completes at the first moment from then on that the
utility is online (so it waits, pending, through an outage). At completion it is applied to the world or fails
with a reason, e.g. when its patient no longer exists, or (with ``reject_overlaps``) when its chair time was
taken in the meantime. It shows in Sikka's writeback log (``visible_at``) ``log_delay`` after submission.
Everything is computed from the clock, and lazily: nothing runs in the background, so a FakeClock makes the
whole lifecycle instant and deterministic.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from pms_connect.clock import Clock
from pms_connect.sikka.sandbox.data import AppointmentRecord, PatientRecord, TransactionRecord, World
from pms_connect.sikka.sandbox.wire import fmt_datetime

__all__ = ["UtilityStatus", "WritebackQueue", "WritebackRecord"]

#: kind -> (writeback_status "api", writebacks "api_name", success text)
_KINDS = {
    "new_appointment": ("appointment", "appointment", "New Appointment inserted successfully"),
    "update_appointment": ("appointments", "appointment", "Appointment updated successfully"),
    "appointment_status": ("appointments", "appointment", "Appointment status updated successfully"),
    "new_patient": ("patients", "patient", "New Patient inserted successfully"),
    "payment": ("transaction", "transaction", "Payment inserted successfully"),
}


class _Failed(Exception):
    """A writeback that cannot be applied; the message becomes its ``result``."""


@dataclass
class WritebackRecord:
    """A writeback as the sandbox's queue holds it: what was sent, when it is due, and how it ended."""

    id: str
    app_id: str
    office_id: str
    practice_id: str
    method: str
    kind: str
    body: dict[str, str]
    target_id: str
    patient_id: str
    request_key: str
    submitted: dt.datetime
    due: dt.datetime
    visible_at: dt.datetime
    """When the writeback shows in ``GET writebacks`` / ``GET writeback_status`` (``submitted + log_delay``)."""
    state: str = "pending"  # "pending", "success", "failed"
    completed: dt.datetime | None = None
    result: str = ""
    created_id: str = ""
    deleted: bool = False
    refusal: str = ""  # set at submission: the PMS will refuse it at completion with this reason

    @property
    def api(self) -> str:
        """The ``api`` Sikka's ``writeback_status`` names for this kind of write."""
        return _KINDS[self.kind][0]

    @property
    def api_name(self) -> str:
        """The ``apiname`` Sikka's ``writebacks`` log names for this kind of write."""
        return _KINDS[self.kind][1]

    def status_item(self) -> dict[str, str]:
        """The item of ``GET writeback_status``."""
        done = self.state != "pending"
        return {
            "id": self.id,
            "office_id": self.office_id,
            "method": self.method,
            "api": self.api,
            "payload_body": json.dumps(self.body),
            "appointment_sr_no": self.target_id,
            "request_time": _spaced(self.submitted),
            "is_completed": "True" if done else "",
            "has_error": "True" if self.state == "failed" else "False",
            "completed_time": _spaced(self.completed) if self.completed else "",
            "result": self.result,
            "practice_id": self.practice_id,
            "status": {"pending": "Pending", "success": "Success", "failed": "Failed"}[self.state],
            "patient_id": self.patient_id,
            "created_id": self.created_id,
        }

    def list_item(self, base_url: str) -> dict[str, str]:
        """The item of the app-level ``GET writebacks``."""
        key = self.request_key
        masked = f"{key[:10]}{'*' * 11}{key[-6:]}"
        pairs = [f"request_key={masked}", *(f"{k}={v}" for k, v in self.body.items())]
        pairs.append(f"apiname={self.method} {self.api}")
        if self.target_id:
            pairs.append(f"id={self.target_id}")
        duration = ""
        if self.completed is not None:
            duration = str(int((self.completed - self.submitted).total_seconds()))
        result = {"pending": "pending", "success": "success"}.get(self.state, self.result)
        return {
            "href": f"{base_url}/writebacks/{self.id}",
            "description": "",
            "id": self.id,
            "result": result,
            "office_id": self.office_id,
            "method": self.method,
            "completed_time": fmt_datetime(self.completed),
            "api_name": self.api_name,
            "api_request_body": "&".join(pairs),
            "command_time": fmt_datetime(self.submitted),
            "duration_in_second": duration,
        }


def _spaced(when: dt.datetime | None) -> str:
    return "" if when is None else fmt_datetime(when).replace("T", " ")


@dataclass
class UtilityStatus:
    """The practice utility's on/off history, so a lazily processed writeback knows when it could run."""

    clock: Clock
    _changes: list[tuple[dt.datetime, bool]] = field(default_factory=list)

    @property
    def online(self) -> bool:
        return self._changes[-1][1] if self._changes else True

    def set(self, online: bool) -> None:
        if online != self.online:
            self._changes.append((self.clock.now(), online))

    def first_online_at(self, since: dt.datetime) -> dt.datetime | None:
        """The earliest moment at or after ``since`` at which the utility was (or is) online."""
        state = True
        for when, value in self._changes:
            if when > since:
                break
            state = value
        if state:
            return since
        for when, value in self._changes:
            if when > since and value:
                return when
        return None


class WritebackQueue:
    def __init__(self, world: World, clock: Clock, delay: dt.timedelta, zone: ZoneInfo, utility: UtilityStatus):
        self.world = world
        self.clock = clock
        self.delay = delay
        self.zone = zone
        self.utility = utility
        self.records: dict[str, WritebackRecord] = {}
        self.fail_reasons: deque[str] = deque()
        #: refuse (fail at completion) a booking or move into an operatory already taken at that time
        self.reject_overlaps = False
        #: how long after submission a writeback shows in Sikka's writeback log
        self.log_delay = dt.timedelta(0)
        self._next_id = 490001

    def submit(
        self,
        *,
        app_id: str,
        office_id: str,
        practice_id: str,
        method: str,
        kind: str,
        body: dict[str, str],
        target_id: str,
        patient_id: str,
        request_key: str,
    ) -> WritebackRecord:
        now = self.clock.now().replace(microsecond=0)
        record = WritebackRecord(
            id=str(self._next_id),
            app_id=app_id,
            office_id=office_id,
            practice_id=practice_id,
            method=method,
            kind=kind,
            body=dict(body),
            target_id=target_id,
            patient_id=patient_id,
            request_key=request_key,
            submitted=now,
            due=now + self.delay,
            visible_at=now + self.log_delay,
        )
        self._next_id += 1
        self.records[record.id] = record
        return record

    def visible(self) -> list[WritebackRecord]:
        """The writebacks Sikka's log shows now: not deleted, and logged (``visible_at``) by now."""
        now = self.clock.now()
        return [r for r in self.records.values() if not r.deleted and r.visible_at <= now]

    def is_visible(self, record: WritebackRecord) -> bool:
        return not record.deleted and record.visible_at <= self.clock.now()

    def process(self) -> list[WritebackRecord]:
        """Complete every writeback whose moment has come, in the order the utility would have run them."""
        now = self.clock.now()
        ready: list[tuple[dt.datetime, int, WritebackRecord]] = []
        for record in self.records.values():
            if record.state != "pending" or record.deleted:
                continue
            at = self.utility.first_online_at(record.due)
            if at is not None and at <= now:
                ready.append((at, int(record.id), record))
        ready.sort(key=lambda entry: (entry[0], entry[1]))
        for at, _, record in ready:
            self._complete(record, at.replace(microsecond=0))
        return [entry[2] for entry in ready]

    def _complete(self, record: WritebackRecord, at: dt.datetime) -> None:
        record.completed = at
        try:
            if self.fail_reasons:
                raise _Failed(self.fail_reasons.popleft())
            if record.refusal:
                raise _Failed(record.refusal)
            local = at.astimezone(self.zone).replace(tzinfo=None)
            record.created_id = _APPLY[record.kind](self.world, record, local, self.reject_overlaps)
        except _Failed as failure:
            record.state = "failed"
            record.result = str(failure)
            record.created_id = ""
            return
        record.state = "success"
        record.result = _KINDS[record.kind][2]


def _check_chair(
    world: World,
    practice_id: str,
    operatory: str,
    start: dt.datetime,
    length: int,
    ignore: str,
    reject_overlaps: bool,
) -> None:
    """With ``reject_overlaps``, fail when the operatory is taken at that time.

    Without it the overlap is applied (the chair then holds two appointments), as many PMSs (Dentrix,
    Eaglesoft, Open Dental) accept overlapping appointments through their APIs. One provider in two chairs
    at once is never refused.
    """
    if not reject_overlaps:
        return
    clash = world.blocking_appointments(
        practice_id, operatory, start, start + dt.timedelta(minutes=length), ignore=ignore
    )
    if clash:
        other = min(clash, key=lambda a: a.start)
        raise _Failed(
            f"Operatory double-booked: {operatory} already has appointment {other.appointment_sr_no} "
            f"from {other.start:%H:%M} to {other.end:%H:%M} on {other.start:%Y-%m-%d}."
        )


def _start(body: dict[str, str]) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(body["date"]), dt.time.fromisoformat(body["time"]))


def _apply_new_appointment(
    world: World, record: WritebackRecord, local: dt.datetime, reject_overlaps: bool
) -> str:
    body = record.body
    patient = world.patient(record.practice_id, body["patient_id"])
    if patient is None:
        raise _Failed("Patient does not exist in the practice management system.")
    start = _start(body)
    length = int(body["length"])
    _check_chair(world, record.practice_id, body["operatory"], start, length, "", reject_overlaps)
    guarantor = world.patients.get(patient.guarantor_id, patient)
    sr_no = world.next_id("appointment")
    status = world.legal_status(body.get("status", "")) or "Scheduled"
    provider = world.provider(record.practice_id, body["provider_id"])
    world.appointments[sr_no] = AppointmentRecord(
        practice_id=record.practice_id,
        appointment_sr_no=sr_no,
        patient_id=patient.patient_id,
        guarantor_id=patient.guarantor_id,
        provider_id=body["provider_id"],
        hygienist=body["provider_id"] if provider and provider.provider_type == "Hygienist" else "",
        operatory=body["operatory"],
        start=start,
        length=length,
        status=status,
        description=body.get("description", ""),
        type=body.get("type", ""),
        note=body.get("note", ""),
        procedure_codes=tuple(c for c in body.get("procedure_codes", "").split("|") if c),
        procedure_amounts=tuple(Decimal(0) for c in body.get("procedure_codes", "").split("|") if c),
        appointment_made_date=local.date(),
        confirmed_on_date=local.date() if status == "Confirmed" else None,
        cancelled_date=None,
        last_changed=local,
        patient_name=f"{patient.lastname}, {patient.firstname}",
        guarantor_name=f"{guarantor.lastname}, {guarantor.firstname}",
    )
    return sr_no


def _status_change(appt: AppointmentRecord, status: str, local: dt.datetime) -> AppointmentRecord:
    lowered = status.lower()
    return replace(
        appt,
        status=status,
        confirmed_on_date=local.date() if lowered == "confirmed" else appt.confirmed_on_date,
        cancelled_date=local.date() if lowered in ("cancelled", "broken") else None,
        last_changed=local,
    )


def _apply_update_appointment(
    world: World, record: WritebackRecord, local: dt.datetime, reject_overlaps: bool
) -> str:
    body = record.body
    appt = world.appointments.get(record.target_id)
    if appt is None or appt.practice_id != record.practice_id:
        raise _Failed("Appointment does not exist in the practice management system.")
    start = appt.start
    if body.get("date") or body.get("time"):
        day = dt.date.fromisoformat(body["date"]) if body.get("date") else appt.start.date()
        clock = dt.time.fromisoformat(body["time"]) if body.get("time") else appt.start.time()
        start = dt.datetime.combine(day, clock)
    updated = replace(
        appt,
        start=start,
        length=int(body["length"]) if body.get("length") else appt.length,
        operatory=body.get("operatory") or appt.operatory,
        provider_id=body.get("provider_id") or appt.provider_id,
        description=body.get("description") or appt.description,
        last_changed=local,
    )
    if body.get("status"):
        updated = _status_change(updated, world.legal_status(body["status"]) or body["status"], local)
    if not updated.cancelled:
        _check_chair(
            world,
            updated.practice_id,
            updated.operatory,
            updated.start,
            updated.length,
            appt.appointment_sr_no,
            reject_overlaps,
        )
    world.appointments[appt.appointment_sr_no] = updated
    return ""


def _apply_status(world: World, record: WritebackRecord, local: dt.datetime, reject_overlaps: bool) -> str:
    appt = world.appointments.get(record.target_id)
    if appt is None or appt.practice_id != record.practice_id:
        raise _Failed("Appointment does not exist in the practice management system.")
    status = world.legal_status(record.body["value"]) or record.body["value"]
    updated = _status_change(appt, status, local)
    if appt.cancelled and not updated.cancelled:
        _check_chair(
            world,
            appt.practice_id,
            appt.operatory,
            appt.start,
            appt.length,
            appt.appointment_sr_no,
            reject_overlaps,
        )
    world.appointments[appt.appointment_sr_no] = updated
    return ""


def _apply_new_patient(world: World, record: WritebackRecord, local: dt.datetime, reject_overlaps: bool) -> str:
    body = record.body
    birth = dt.date.fromisoformat(body["birthdate"]) if body.get("birthdate") else None
    first = body["firstname"].strip()
    last = body["lastname"].strip()
    for existing in world.patients.values():
        if (
            existing.practice_id == record.practice_id
            and birth is not None
            and existing.birthdate == birth
            and existing.firstname.lower() == first.lower()
            and existing.lastname.lower() == last.lower()
        ):
            raise _Failed(f"Duplicate patient: patient {existing.patient_id} has the same name and birthdate.")
    patient_id = world.next_id("patient")
    gender = {"male": "M", "female": "F"}.get(body.get("gender", "").lower(), "")
    world.patients[patient_id] = PatientRecord(
        practice_id=record.practice_id,
        patient_id=patient_id,
        guarantor_id=body.get("guarantor_id") or patient_id,
        firstname=first,
        middlename="",
        lastname=last,
        preferred_name="",
        salutation="",
        birthdate=birth,
        gender=gender,
        status="Active",
        address_line1=body.get("address_line1", ""),
        address_line2=body.get("address_line2", ""),
        city=body.get("city", ""),
        state=body.get("state", ""),
        zipcode=body.get("zipcode", ""),
        homephone=body.get("homephone", ""),
        workphone=body.get("workphone", ""),
        cell=body.get("cell", ""),
        email=body.get("email", ""),
        provider_id=body["provider_id"],
        first_visit=None,
        last_visit=None,
        primary_insurance_company_id="",
        subscriber_id="",
        primary_relationship="",
        created_date=local.date(),
        last_changed=local,
    )
    return patient_id


def _apply_payment(world: World, record: WritebackRecord, local: dt.datetime, reject_overlaps: bool) -> str:
    body = record.body
    if world.patient(record.practice_id, body["patient_id"]) is None:
        raise _Failed("Patient does not exist in the practice management system.")
    sr_no = world.next_id("transaction")
    entry = body.get("transaction_entry_date") or local.date().isoformat()
    world.transactions[sr_no] = TransactionRecord(
        practice_id=record.practice_id,
        transaction_sr_no=sr_no,
        transaction_type="Payment",
        transaction_date=dt.date.fromisoformat(body["transaction_date"]),
        entry_date=dt.date.fromisoformat(entry),
        patient_id=body["patient_id"],
        guarantor_id=body["guarantor_id"],
        provider_id=body["provider_id"],
        procedure_code=body["procedure_code"],
        procedure_description=body["procedure_description"],
        amount=Decimal(body["amount"]).quantize(Decimal("0.0001")),
        payment_type=body["procedure_code"],
        note=body.get("note", ""),
        appointment_sr_no="",
        last_changed=local,
    )
    return sr_no


_APPLY = {
    "new_appointment": _apply_new_appointment,
    "update_appointment": _apply_update_appointment,
    "appointment_status": _apply_status,
    "new_patient": _apply_new_patient,
    "payment": _apply_payment,
}
