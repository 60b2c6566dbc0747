"""Open Dental wire rows -> provider-neutral domain models, and the few values written back (times, lengths).

The one place that knows both shapes:

* times: Open Dental's naive wall-clock times get the practice's zone attached; times sent are the
  practice's wall clock (``"yyyy-MM-dd HH:mm:ss"``);
* an appointment's length is its ``Pattern``, one character per 5 minutes (``X`` provider time, ``/``
  assistant time): ``"//XXXX//"`` is 40 minutes, as elapsed time (so right across a DST change);
  [pattern_for][] renders a length as all ``X``;
* ``AptStatus`` ``Broken`` and ``UnschedList`` (what breaking an appointment onto the Unscheduled List leaves)
  are cancelled; ``Confirmed`` (a definition of category 2) is confirmed when its name says so;
* ids are Open Dental's numbers as text; a foreign key of 0 is none; ``ClinicNum`` is the practice id
  (``"0"`` for an office without clinics).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import (
    Appointment,
    InsuranceCarrier,
    InsuranceCoverage,
    Operatory,
    Patient,
    Practice,
    Provider,
    ProviderKind,
    Transaction,
)
from pms_connect.opendental import _wire as w
from pms_connect.statuses import means_confirmed

__all__ = [
    "CANCELLED_STATUSES",
    "MAX_PATTERN",
    "NO_CLINIC",
    "PATTERN_UNIT",
    "PMS_NAME",
    "appointment",
    "carrier",
    "clinic",
    "coverage",
    "local",
    "operatory",
    "patient",
    "pattern_for",
    "pattern_length",
    "practice_without_clinics",
    "provider",
    "transaction",
    "wire_date",
    "wire_datetime",
]

PMS_NAME = "Open Dental"
PATTERN_UNIT = timedelta(minutes=5)
"""The length of one character of an appointment's ``Pattern``."""
MAX_PATTERN = timedelta(hours=9)
"""Open Dental trims longer patterns to 9 hours."""
NO_CLINIC = "0"
"""The practice id of an office that does not use clinics (``ClinicNum`` 0 everywhere)."""
CANCELLED_STATUSES = frozenset({"broken", "unschedlist"})
"""``AptStatus`` values (case-folded) of appointments that no longer hold their time in the book."""


# -- times and lengths ----------------------------------------------------------------------------------------


def local(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive Open Dental wall-clock time as an aware datetime in the practice's zone."""
    return value.replace(tzinfo=zone)


def wire_datetime(value: datetime, zone: ZoneInfo) -> str:
    """An aware datetime as Open Dental's practice-local ``"yyyy-MM-dd HH:mm:ss"``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError("a time sent to Open Dental must be aware")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def wire_date(value: date) -> str:
    """A date as Open Dental's ``"yyyy-MM-dd"``."""
    return value.strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=256)
def pattern_length(pattern: str | None) -> timedelta:
    """An appointment's length from its ``Pattern``: 5 minutes a character, whatever the character."""
    return PATTERN_UNIT * len(pattern or "")


def pattern_for(duration: timedelta) -> str:
    """The ``Pattern`` for an appointment of ``duration``: one ``X`` (provider time) per 5 minutes, since the
    SDK knows no assistant time. A duration that is not a positive whole number of 5-minute units, or is over
    Open Dental's 9 hours, raises [InvalidArgumentError][pms_connect.errors.InvalidArgumentError]."""
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise InvalidArgumentError("duration must be a positive timedelta")
    if duration % PATTERN_UNIT:
        raise InvalidArgumentError("Open Dental books in 5-minute units: duration must be a multiple of 5 minutes")
    if duration > MAX_PATTERN:
        raise InvalidArgumentError("Open Dental keeps appointments of at most 9 hours")
    return "X" * (duration // PATTERN_UNIT)


# -- rows -----------------------------------------------------------------------------------------------------


def _practice(clinic_num: int | None) -> str | None:
    return None if clinic_num is None else str(clinic_num)


def _confirmed(row: w.AppointmentRow, confirmations: Mapping[str, str] | None) -> bool:
    name = confirmations.get(row.Confirmed) if confirmations and row.Confirmed else None
    return means_confirmed(name if name is not None else row.confirmed)


def appointment(
    row: w.AppointmentRow, zone: ZoneInfo, confirmations: Mapping[str, str] | None = None
) -> Appointment:
    """An appointment row as an [Appointment][pms_connect.models.Appointment]. ``confirmations`` maps the
    practice's confirmation definitions (``DefNum`` -> ``ItemName``, category 2) to decide ``confirmed``;
    without them, the row's own ``confirmed`` name decides. A row without a time (a planned appointment)
    raises ``ValueError``."""
    if row.AptDateTime is None:
        raise ValueError("an appointment without a date and time (planned or unscheduled)")
    status = row.AptStatus
    return Appointment(
        id=row.AptNum,
        practice_id=_practice(row.ClinicNum),
        patient_id=row.PatNum,
        provider_id=row.ProvNum,
        hygienist_id=row.ProvHyg,
        operatory=row.Op,
        start=local(row.AptDateTime, zone),
        duration=pattern_length(row.Pattern),
        status=status,
        description=row.Note or row.ProcDescript,
        cancelled=(status or "").casefold() in CANCELLED_STATUSES,
        confirmed=_confirmed(row, confirmations),
        kind="hygiene" if row.IsHygiene else None,
    )


def patient(row: w.PatientRow) -> Patient:
    """A patient row (full or Patient Select) as a [Patient][pms_connect.models.Patient]."""
    return Patient(
        id=row.PatNum,
        first_name=row.FName or "",
        last_name=row.LName or "",
        preferred_name=row.Preferred,
        birthdate=row.Birthdate,
        cell_phone=row.WirelessPhone,
        home_phone=row.HmPhone,
        work_phone=row.WkPhone,
        email=row.Email,
        status=row.PatStatus,
        practice_id=_practice(row.ClinicNum),
        provider_id=row.PriProv,
        guarantor_id=row.Guarantor,
    )


def provider(row: w.ProviderRow, practice_id: str | None = None) -> Provider:
    """A provider: ``IsSecondary`` is a hygienist, ``IsNotPerson`` (a placeholder) other, else a dentist;
    active unless ``ProvStatus`` is ``Deleted`` or the provider is hidden (hidden providers cannot be given
    new appointments in Open Dental)."""
    if row.IsSecondary:
        kind = ProviderKind.HYGIENIST
    elif row.IsNotPerson:
        kind = ProviderKind.OTHER
    else:
        kind = ProviderKind.DENTIST
    hidden = bool(row.IsHidden)
    deleted = (row.ProvStatus or "").casefold() == "deleted"
    return Provider(
        id=row.ProvNum,
        first_name=row.PreferredName or row.FName or "",
        last_name=row.LName or "",
        kind=kind,
        specialty=None,
        active=not deleted and not hidden,
        hidden=hidden,
        practice_id=practice_id,
    )


def operatory(row: w.OperatoryRow) -> Operatory:
    return Operatory(
        id=row.OperatoryNum,
        name=row.Abbrev or row.OpName or row.OperatoryNum,
        practice_id=_practice(row.ClinicNum),
        hidden=bool(row.IsHidden),
    )


def clinic(row: w.ClinicRow) -> Practice:
    """A clinic as a [Practice][pms_connect.models.Practice] (its ``ClinicNum`` the practice id)."""
    return Practice(id=row.ClinicNum, name=row.Description or row.Abbr or row.ClinicNum, pms_name=PMS_NAME)


def practice_without_clinics(name: str | None) -> Practice:
    """The office itself, for one that does not use clinics: practice id ``"0"``."""
    return Practice(id=NO_CLINIC, name=name or PMS_NAME, pms_name=PMS_NAME)


def carrier(row: w.CarrierRow) -> InsuranceCarrier:
    return InsuranceCarrier(id=row.CarrierNum, name=row.CarrierName or "", payer_id=row.ElectID, phone=row.Phone)


def coverage(row: w.FamilyInsuranceRow, patient_id: str) -> InsuranceCoverage:
    """One Family Module insurance row: ``kind`` is its ordinal's name (``"Primary"``, ``"Secondary"``),
    else the plan type's."""
    return InsuranceCoverage(
        patient_id=row.PatNum or patient_id,
        carrier_id=row.CarrierNum,
        subscriber_id=row.SubscriberID,
        kind=row.ordinal or row.planType,
        relationship=row.Relationship,
    )


def transaction(row: w.PaymentRow) -> Transaction:
    """A payment as a ledger [Transaction][pms_connect.models.Transaction]: ``kind`` ``"payment"``, the amount
    as Open Dental shows it (positive for a payment, negative for a refund), ``payment_type`` its
    ``PayType`` definition number (what a payment is posted with)."""
    day = row.PayDate or row.DateEntry
    if day is None:
        raise ValueError("a payment without a date")
    return Transaction(
        id=row.PayNum,
        patient_id=row.PatNum,
        kind="payment",
        date=day,
        amount=row.PayAmt if row.PayAmt is not None else Decimal(0),
        payment_type=row.PayType,
        description=row.PayNote,
    )
