"""Sikka wire rows -> provider-neutral domain models. The one place that knows both shapes."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

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
    prevalidated,
)
from pms_connect.sikka import _wire as w
from pms_connect.statuses import means_cancelled, means_confirmed

_DENTIST_WORDS = (
    "dentist",
    "dds",
    "dmd",
    "provider",
    "orthodont",
    "endodont",
    "periodont",
    "oral surg",
    "pediatric",
    "prosthodont",
    "general",
)


def provider_kind(provider_type: str | None, specialty: str | None) -> ProviderKind:
    text = f"{provider_type or ''} {specialty or ''}".lower()
    if "hyg" in text:
        return ProviderKind.HYGIENIST
    if "assist" in text or "staff" in text:
        return ProviderKind.OTHER
    if any(word in text for word in _DENTIST_WORDS):
        return ProviderKind.DENTIST
    return ProviderKind.OTHER


def practice(row: w.PracticeRow, *, office_id: str | None = None) -> Practice:
    return Practice(id=row.practice_id, name=row.name or "", account_id=office_id)


def provider(row: w.ProviderRow) -> Provider:
    specialty = row.specialty or row.speciality
    return Provider(
        id=row.provider_id,
        first_name=row.firstname or "",
        last_name=row.lastname or "",
        kind=provider_kind(row.provider_type, specialty),
        specialty=specialty,
        active=(row.status or "active").lower() != "inactive",
        hidden=bool(row.is_hidden),
        practice_id=row.practice_id,
    )


def operatory(row: w.OperatoryRow) -> Operatory:
    return Operatory(
        id=row.operatory,
        name=row.abbreviation or row.operatory,
        practice_id=row.practice_id,
        hidden=bool(row.is_hidden),
    )


# Appointments and patients come by the thousand: they are built ``prevalidated`` (every value here has the
# type the wire row proved); the rest are validated as usual.


@functools.lru_cache(maxsize=512)
def _minutes(length: int) -> timedelta:
    """Cached: ``timedelta(minutes=n)`` costs 1.4 us, and a practice books a handful of lengths."""
    try:
        return timedelta(minutes=length)
    except OverflowError:
        raise ValueError("an appointment length out of range") from None


def appointment(row: w.AppointmentRow, zone: ZoneInfo) -> Appointment:
    day = row.get("date")
    if day is None:
        raise ValueError("appointment without a date")
    at = row.get("time")
    text = row.get  # the text fields, read through one bound method: this runs for every row of a list
    status = row.get("status")
    # Sikka's flags when it sends them, else what the status name says (inline: no call a row for each).
    cancelled = row.get("cancelled")
    confirmed = row.get("is_confirmed")
    return prevalidated(
        Appointment,
        {
            "id": row["appointment_sr_no"],
            "practice_id": text("practice_id") or None,
            "patient_id": text("patient_id") or None,
            "provider_id": text("provider_id") or None,
            "hygienist_id": text("hygienist") or None,
            "operatory": text("operatory") or None,
            "start": datetime.combine(day.date(), at, zone) if at is not None else day.replace(tzinfo=zone),
            "duration": _minutes(row.get("length") or 0),
            "status": status or None,
            "description": text("description") or None,
            "cancelled": means_cancelled(status) if cancelled is None else cancelled,
            "confirmed": means_confirmed(status) if confirmed is None else confirmed,
            "kind": text("type") or None,
        },
    )


def patient(row: w.PatientRow) -> Patient:
    text = row.get
    return prevalidated(
        Patient,
        {
            "id": row["patient_id"],
            "first_name": text("firstname") or "",
            "last_name": text("lastname") or "",
            "preferred_name": text("preferred_name") or None,
            "birthdate": w.known_day(row.get("birthdate")),
            "cell_phone": text("cell") or None,
            "home_phone": text("homephone") or None,
            "work_phone": text("workphone") or None,
            "email": text("email") or None,
            "status": text("status") or None,
            "practice_id": text("practice_id") or None,
            "provider_id": text("provider_id") or None,
            "guarantor_id": text("guarantor_id") or None,
        },
    )


def carrier(row: w.CarrierRow) -> InsuranceCarrier:
    return InsuranceCarrier(
        id=row.insurance_company_id,
        name=row.insurance_company_name or "",
        payer_id=row.payer_id,
        phone=row.phone,
    )


def coverage(row: w.SubscriberRow) -> InsuranceCoverage:
    return InsuranceCoverage(
        patient_id=row.patient_id,
        carrier_id=row.insurance_company_id,
        subscriber_id=row.subscriber_id,
        kind=row.type,
        relationship=row.patient_relation,
        effective_date=row.insurance_effective_date,
        deductible_remaining=row.individual_deductible_remaining,
    )


def transaction(row: w.TransactionRow) -> Transaction:
    if row.transaction_date is None:
        raise ValueError("transaction without a date")
    return Transaction(
        id=row.transaction_sr_no,
        patient_id=row.patient_id,
        provider_id=row.provider_id,
        kind=row.transaction_type or "",
        date=row.transaction_date.date(),
        amount=row.amount if row.amount is not None else Decimal(0),
        payment_type=row.payment_type,
        description=row.procedure_description,
    )
