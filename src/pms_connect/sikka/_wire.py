"""Sikka's wire format, as it is: every scalar a string.

These models accept what Sikka sends (``"True"``, ``"F"``, ``""``, ``"60"``, ``"24.0000"``,
``"85603 second(s)"``, ``"2020-09-29T00:00:00"`` + ``"10:30"``) and nothing in them knows about the domain
models; ``pms_connect.sikka._mapping`` turns them into those. Unknown fields are ignored, so a new field
at Sikka does not break an old client.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_bool(value: Any) -> bool | None:
    value = _blank_to_none(value)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a Sikka boolean")


def parse_int(value: Any) -> int | None:
    value = _blank_to_none(value)
    if value is None or isinstance(value, int):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a Sikka integer") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    if number != number.to_integral_value():
        raise ValueError("not a whole number")
    return int(number)


def parse_decimal(value: Any) -> Decimal | None:
    value = _blank_to_none(value)
    if value is None or isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        raise ValueError("not a Sikka amount") from None
    if not number.is_finite():
        raise ValueError("not a finite amount")
    return number


_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d", "%m/%d/%Y")


def parse_datetime(value: Any) -> datetime | None:
    """A practice-local (naive) datetime; Sikka sends no zone."""
    value = _blank_to_none(value)
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("not a Sikka date")


def parse_date(value: Any) -> date | None:
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    # Placeholder dates such as 1900-01-01 mean "unknown" in several PMSs.
    return None if parsed.year <= 1900 else parsed.date()


def parse_time(value: Any) -> time | None:
    value = _blank_to_none(value)
    if value is None or isinstance(value, time):
        return value
    return _parse_time_text(str(value).upper().replace(" ", ""))


@functools.lru_cache(maxsize=2048)
def _parse_time_text(text: str) -> time:
    """Cached: a practice's schedules repeat the same few dozen times thousands of times."""
    for fmt in ("%H:%M", "%H:%M:%S", "%I:%M%p", "%I:%M:%S%p"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise ValueError("not a Sikka time")


_DURATION = re.compile(
    r"^\s*(\d+)\s*(?:(s|secs?|seconds?|second\(s\))|(mins?|minutes?|minute\(s\))|(hours?|hour\(s\)))?\s*$",
    re.IGNORECASE,
)


def parse_seconds(value: Any) -> int | None:
    """``"85603 second(s)"`` -> 85603; minutes and hours are converted; anything else is refused."""
    value = _blank_to_none(value)
    if value is None or isinstance(value, int):
        return value
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError("not a Sikka duration")
    amount = int(match.group(1))
    if match.group(3):
        return amount * 60
    if match.group(4):
        return amount * 3600
    return amount


def _text(value: Any) -> Any:
    value = _blank_to_none(value)
    return None if value is None else str(value)


Text = Annotated[str | None, BeforeValidator(_text)]
Bool = Annotated[bool | None, BeforeValidator(parse_bool)]
Int = Annotated[int | None, BeforeValidator(parse_int)]
Money = Annotated[Decimal | None, BeforeValidator(parse_decimal)]
DateTime = Annotated[datetime | None, BeforeValidator(parse_datetime)]
Date = Annotated[date | None, BeforeValidator(parse_date)]
Time = Annotated[time | None, BeforeValidator(parse_time)]
Seconds = Annotated[int | None, BeforeValidator(parse_seconds)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RawRow(Wire):
    """A row kept whole, for the few places that look at fields by name."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Links(Wire):
    next: Text = None


class Envelope(Wire):
    offset: Int = None
    limit: Int = None
    total_count: Int = None
    pagination: Links | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)


class KeyGrant(Wire):
    request_key: str
    refresh_key: Text = None
    start_time: DateTime = None
    end_time: DateTime = None
    expires_in: Seconds = None
    issued_to: Text = None
    status: Text = None
    scope: Text = None
    domain: Text = None


class AuthorizedPractice(Wire):
    office_id: Text = None
    practice_id: Text = None
    practice_name: Text = None
    practice_management_system: Text = None
    practice_management_system_version: Text = None
    domain: Text = None


class PracticeRow(Wire):
    practice_id: str
    name: Text = None
    cust_id: Text = None
    phone: Text = None


class ProviderRow(Wire):
    provider_id: str
    firstname: Text = None
    lastname: Text = None
    provider_type: Text = None
    specialty: Text = None
    speciality: Text = None
    status: Text = None
    practice_id: Text = None
    is_hidden: Bool = None


class OperatoryRow(Wire):
    operatory: str
    practice_id: Text = None
    cust_id: Text = None
    is_hidden: Bool = None
    abbreviation: Text = None
    provider_id: Text = None


class AppointmentRow(Wire):
    appointment_sr_no: str
    patient_id: Text = None
    provider_id: Text = None
    practice_id: Text = None
    operatory: Text = None
    hygienist: Text = None
    date: DateTime = None
    time: Time = None
    length: Int = None
    status: Text = None
    description: Text = None
    type: Text = None
    cancelled: Bool = None
    is_confirmed: Bool = None
    confirmed_on_date: DateTime = None
    last_changed_date: DateTime = None


class PatientRow(Wire):
    patient_id: str
    guarantor_id: Text = None
    firstname: Text = None
    middlename: Text = None
    lastname: Text = None
    preferred_name: Text = None
    birthdate: Date = None
    status: Text = None
    cell: Text = None
    homephone: Text = None
    workphone: Text = None
    email: Text = None
    provider_id: Text = None
    practice_id: Text = None


class CarrierRow(Wire):
    insurance_company_id: str
    insurance_company_name: Text = None
    payer_id: Text = None
    phone: Text = None
    practice_id: Text = None


class SubscriberRow(Wire):
    patient_id: str
    subscriber_id: Text = None
    type: Text = None
    insurance_company_id: Text = None
    patient_relation: Text = None
    insurance_effective_date: Date = None
    individual_deductible_remaining: Money = None


class TransactionRow(Wire):
    transaction_sr_no: str
    patient_id: Text = None
    provider_id: Text = None
    practice_id: Text = None
    transaction_type: Text = None
    transaction_date: DateTime = None
    amount: Money = None
    payment_type: Text = None
    procedure_code: Text = None
    procedure_description: Text = None


class SupportedPmsRow(Wire):
    practice_management_system: Text = None
    practice_management_system_version: Text = None
    domain: Text = None
    appointment_status_writeback: Text = None
    payment_writeback: Text = None
    new_appointment_writeback: Text = None
    new_patient_writeback: Text = None


class ScheduleRow(Wire):
    """One weekly schedule (``practice_schedule`` with ``fields=get_all``): up to three blocks a day."""

    model_config = ConfigDict(extra="allow", frozen=True)

    practice_id: Text = None
    resource_type: Text = None
    resource_id: Text = None
    date: DateTime = None


class WriteAnswer(Wire):
    http_code: Text = None
    error_code: Text = None
    short_message: Text = None
    long_message: Text = None
    more_information: Text = None


class WritebackStatusRow(Wire):
    id: str
    status: Text = None
    is_completed: Bool = None
    has_error: Bool = None
    completed_time: DateTime = None
    request_time: DateTime = None
    result: Text = None
    created_id: Text = None
    appointment_sr_no: Text = None
    practice_id: Text = None


class WritebackListRow(Wire):
    id: str
    result: Text = None
    completed_time: DateTime = None
    command_time: DateTime = None
    api_name: Text = None
    method: Text = None
    office_id: Text = None
