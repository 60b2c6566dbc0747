"""What every provider checks before a write: the arguments, the practice's providers and capabilities.

Each check raises before any request, with a typed error that names the argument and never its value:
[InvalidArgumentError][pms_connect.errors.InvalidArgumentError] for bad input,
[UnsupportedOperationError][pms_connect.errors.UnsupportedOperationError] for a write the practice's PMS
does not accept. A provider adds what its wire needs (field lengths, character sets) on top.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pms_connect import validation as v
from pms_connect.errors import InvalidArgumentError, UnsupportedOperationError
from pms_connect.models import (
    BookingRequest,
    Capability,
    FeatureSet,
    NewPatient,
    PaymentRequest,
    Provider,
    ProviderKind,
    elapsed_after,
)

__all__ = [
    "BOOKING_HORIZON",
    "EARLIEST_BIRTHDATE",
    "NOTE_LENGTH",
    "PAYMENT_HISTORY",
    "REASON_LENGTH",
    "CheckedBooking",
    "CheckedPatient",
    "CheckedPayment",
    "CheckedReschedule",
    "check_booking",
    "check_new_patient",
    "check_payment",
    "check_reschedule",
    "default_provider",
    "future_start",
    "gather_checks",
    "require_active_provider",
    "require_capability",
]

BOOKING_HORIZON = timedelta(days=3 * 366)
"""How far ahead an appointment may be booked."""
PAYMENT_HISTORY = timedelta(days=366)
"""How far back a payment may be dated."""
EARLIEST_BIRTHDATE = date(1900, 1, 1)
REASON_LENGTH = 500
NOTE_LENGTH = 500


async def gather_checks(*steps: Awaitable[Any]) -> list[Any]:
    """Independent checks and reads at once (a caller on the phone waits for each sequential one); the
    first failure in the order given is raised, after every step has finished (none is left running)."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def require_capability(features: FeatureSet, capability: Capability) -> None:
    """Refuse a write the practice's PMS does not accept, before sending it."""
    if capability not in features.capabilities:
        raise UnsupportedOperationError(
            f"the practice's PMS ({features.pms_name or 'unknown'}) does not accept {capability.value}"
        )


def require_active_provider(providers: Sequence[Provider], provider_id: str) -> None:
    """``provider_id`` must be an active provider of the practice."""
    provider = next((p for p in providers if p.id == provider_id), None)
    if provider is None:
        raise InvalidArgumentError("unknown provider_id")
    if not provider.active:
        raise InvalidArgumentError("the provider is inactive")


def default_provider(providers: Sequence[Provider]) -> str:
    """The practice's first active dentist (else first active provider), for a PMS that needs one."""
    active = [p for p in providers if p.active]
    dentists = [p for p in active if p.kind is ProviderKind.DENTIST]
    if not (dentists or active):
        raise InvalidArgumentError("the practice has no active provider; pass provider_id")
    return (dentists or active)[0].id


def future_start(start: object, name: str, zone: ZoneInfo, now: datetime) -> datetime:
    """``start`` as an existing local time of the practice, after ``now`` and within the booking horizon."""
    local = v.check_local_time(start, name, zone)
    if local <= now:
        raise InvalidArgumentError(f"{name} must be in the future")
    if local > now + BOOKING_HORIZON:
        raise InvalidArgumentError(f"{name} is more than three years ahead")
    return local


@dataclass(frozen=True)
class CheckedBooking:
    """A [BookingRequest][pms_connect.models.BookingRequest]'s checked values; ``end`` is ``start`` plus
    ``duration`` of elapsed time."""

    patient_id: str
    provider_id: str
    operatory: str | None
    duration: timedelta
    reason: str | None
    start: datetime
    end: datetime


def check_booking(request: BookingRequest, *, zone: ZoneInfo, now: datetime) -> CheckedBooking:
    """Every argument of a booking, checked before any request."""
    patient_id = v.check_id(request.patient_id, "patient_id")
    provider_id = v.check_id(request.provider_id, "provider_id")
    operatory = v.check_optional_id(request.operatory, "operatory")
    duration = v.check_duration(request.duration)
    reason = v.check_text(request.reason, "reason", max_length=REASON_LENGTH) if request.reason else None
    start = future_start(request.start, "start", zone, now)
    return CheckedBooking(
        patient_id=patient_id,
        provider_id=provider_id,
        operatory=operatory,
        duration=duration,
        reason=reason,
        start=start,
        end=elapsed_after(start, duration),
    )


@dataclass(frozen=True)
class CheckedReschedule:
    """A reschedule's checked arguments: what is None stays as the appointment has it."""

    appointment_id: str
    start: datetime | None
    duration: timedelta | None
    provider_id: str | None
    operatory: str | None


def check_reschedule(
    appointment_id: object,
    *,
    start: object,
    duration: object,
    provider_id: object,
    operatory: object,
    zone: ZoneInfo,
    now: datetime,
) -> CheckedReschedule:
    """Every argument of a reschedule, checked before any request; at least one change is asked."""
    checked_id = v.check_id(appointment_id, "appointment_id")
    provider = v.check_optional_id(provider_id, "provider_id")
    chair = v.check_optional_id(operatory, "operatory")
    if start is None and duration is None and provider is None and chair is None:
        raise InvalidArgumentError("give at least one of start, duration, provider_id, operatory")
    return CheckedReschedule(
        appointment_id=checked_id,
        start=future_start(start, "start", zone, now) if start is not None else None,
        duration=v.check_duration(duration) if duration is not None else None,
        provider_id=provider,
        operatory=chair,
    )


@dataclass(frozen=True)
class CheckedPatient:
    """A [NewPatient][pms_connect.models.NewPatient]'s checked values."""

    first_name: str
    last_name: str
    birthdate: date | None
    cell_phone: str | None
    email: str | None
    provider_id: str | None


def check_new_patient(patient: NewPatient, *, today: date) -> CheckedPatient:
    """Every field of a new patient, checked before any request (a birthdate from 1900 to today)."""
    return CheckedPatient(
        first_name=v.check_name(patient.first_name, "first_name"),
        last_name=v.check_name(patient.last_name, "last_name"),
        birthdate=(
            v.check_date(patient.birthdate, "birthdate", earliest=EARLIEST_BIRTHDATE, latest=today)
            if patient.birthdate is not None
            else None
        ),
        cell_phone=v.check_phone(patient.cell_phone, "cell_phone") if patient.cell_phone is not None else None,
        email=v.check_email(patient.email) if patient.email is not None else None,
        provider_id=v.check_optional_id(patient.provider_id, "provider_id"),
    )


@dataclass(frozen=True)
class CheckedPayment:
    """A [PaymentRequest][pms_connect.models.PaymentRequest]'s checked values; ``date`` defaults to today."""

    patient_id: str
    amount: Decimal
    payment_type: str
    provider_id: str | None
    guarantor_id: str | None
    note: str | None
    date: date


def check_payment(payment: PaymentRequest, *, today: date) -> CheckedPayment:
    """Every field of a payment, checked before any request (dated at most a year back, never ahead)."""
    return CheckedPayment(
        patient_id=v.check_id(payment.patient_id, "patient_id"),
        amount=v.check_amount(payment.amount),
        payment_type=v.check_id(payment.payment_type, "payment_type"),
        provider_id=v.check_optional_id(payment.provider_id, "provider_id"),
        guarantor_id=v.check_optional_id(payment.guarantor_id, "guarantor_id"),
        note=v.check_text(payment.note, "note", max_length=NOTE_LENGTH) if payment.note is not None else None,
        date=(
            v.check_date(payment.date, "date", earliest=today - PAYMENT_HISTORY, latest=today)
            if payment.date is not None
            else today
        ),
    )
