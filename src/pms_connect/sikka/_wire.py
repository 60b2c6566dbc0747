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
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, NaiveDatetime, Strict, StringConstraints
from typing_extensions import Required, TypedDict

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
_ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def parse_datetime(value: Any) -> datetime | None:
    """A practice-local (naive) datetime; Sikka sends no zone."""
    value = _blank_to_none(value)
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    if len(text) == 19 and _ISO_SECONDS.fullmatch(text):  # Sikka's own shape: 49x faster than strptime
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not a Sikka date") from None
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("not a Sikka date")


def parse_date(value: Any) -> date | None:
    return known_day(parse_datetime(value))


def known_day(parsed: datetime | None) -> date | None:
    """The day of a datetime, None for none and for placeholders such as 1900-01-01, which mean "unknown"
    in several PMSs."""
    if parsed is None:
        return None
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


# Each scalar type tries pydantic's compiled validator first and calls Python only for what it refuses (a
# blank, a number where a string was expected, "1,234.50", "10:30 AM"): a page of 5,000 appointments has
# 80,000 fields, and a Python call for each was most of the read path's time. ``left_to_right`` makes the
# compiled member win whenever it accepts the value.
_FIRST_COMPILED = Field(union_mode="left_to_right")
_Filled = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

Text = Annotated[_Filled | Annotated[str | None, BeforeValidator(_text)], _FIRST_COMPILED]
#: Text whose blank stays ``""`` (no Python at all for it): for the rows that come by the thousand
#: (appointments, patients), whose mapping turns a blank into None itself.
Blanked = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True)] | Annotated[str | None, BeforeValidator(_text)],
    _FIRST_COMPILED,
]
Bool = Annotated[bool | Annotated[bool | None, BeforeValidator(parse_bool)], _FIRST_COMPILED]
Int = Annotated[int | Annotated[int | None, BeforeValidator(parse_int)], _FIRST_COMPILED]
Money = Annotated[
    Annotated[Decimal, Field(allow_inf_nan=False)] | Annotated[Decimal | None, BeforeValidator(parse_decimal)],
    _FIRST_COMPILED,
]
# Strict and naive: from JSON, an ISO string without a zone (never a number read as a Unix time).
DateTime = Annotated[
    Annotated[NaiveDatetime, Strict()] | Annotated[datetime | None, BeforeValidator(parse_datetime)],
    _FIRST_COMPILED,
]
Date = Annotated[date | None, BeforeValidator(parse_date)]
Time = Annotated[Annotated[time, Strict()] | Annotated[time | None, BeforeValidator(parse_time)], _FIRST_COMPILED]
Seconds = Annotated[int | None, BeforeValidator(parse_seconds)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class RawRow(Wire):
    """A row kept whole, for the few places that look at fields by name."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class Links(Wire):
    next: Text = None


Row = TypeVar("Row")


class Envelope(Wire, Generic[Row]):
    """A list answer with its rows typed: a page is read from its bytes in one pass, not as dicts first."""

    offset: Int = None
    limit: Int = None
    total_count: Int = None
    pagination: Links | None = None
    items: list[Row] = Field(default_factory=list)


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


class AppointmentRow(TypedDict, total=False):
    """An appointment as Sikka lists it. The rows that come by the thousand (appointments, patients) are
    typed dicts, not models: built in one compiled pass with no object per row, a page reads 1.6x faster.
    Their text keeps blanks as ``""``, an absent field is an absent key: the mapping reads them with
    ``row.get(name) or None``."""

    appointment_sr_no: Required[str]
    patient_id: Blanked
    provider_id: Blanked
    practice_id: Blanked
    operatory: Blanked
    hygienist: Blanked
    date: DateTime
    time: Time
    length: Int
    status: Blanked
    description: Blanked
    type: Blanked
    cancelled: Bool
    is_confirmed: Bool
    confirmed_on_date: DateTime
    last_changed_date: DateTime


class PatientRow(TypedDict, total=False):
    """A patient as Sikka lists it (a typed dict, as ``AppointmentRow`` says why). ``birthdate`` is read as a
    datetime; the mapping drops placeholder years as ``parse_date`` does."""

    patient_id: Required[str]
    guarantor_id: Blanked
    firstname: Blanked
    middlename: Blanked
    lastname: Blanked
    preferred_name: Blanked
    birthdate: DateTime
    status: Blanked
    cell: Blanked
    homephone: Blanked
    workphone: Blanked
    email: Blanked
    provider_id: Blanked
    practice_id: Blanked


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

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

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


class WritebackOutcome(Wire):
    """What a poll round reads of each row of the app's writeback log: the id and how it ended. The log
    covers every practice of the app, so the round parses nothing else of the rows (their request bodies
    are long): its cost follows the handles it follows more than the log's size."""

    id: Blanked = None
    result: Blanked = None
    completed_time: Blanked = None


class WritebackListRow(Wire):
    """A row of the app's writeback log. Its times stay text, read where used: one unreadable time must not
    make the whole log unreadable (the poller reads every writeback of the app through it). Blanks stay
    ``""``: every reader tests the fields for truth."""

    id: Blanked = None
    result: Blanked = None
    completed_time: Blanked = None
    command_time: Blanked = None
    api_name: Blanked = None
    method: Blanked = None
    office_id: Blanked = None
    api_request_body: Blanked = None
