"""Open Dental's wire format, as it is: typed rows that accept what the API sends.

Open Dental's examples are not uniform, so every scalar type here accepts both encodings it is seen in:

* numbers as numbers or as strings (``"ScheduleNum": "24555"``, ``"PayAmt": "339"``, ``"ClinicNum": "0"``,
  ``"Zip": 90011``), money as ``Decimal`` (never through a float's rounding);
* booleans as the strings ``"true"``/``"false"``, in any case (``"True"`` appears too), or as JSON booleans;
* dates ``"yyyy-MM-dd"`` and datetimes ``"yyyy-MM-dd HH:mm:ss"``, naive (Open Dental stores practice-local
  wall-clock times with no zone: the mapping attaches the practice's), with ``0001-01-01`` meaning none;
* blank strings as none; a foreign key of ``0`` as none (``ProvHyg: 0``: no hygienist).

Field names are Open Dental's own (PascalCase columns, lower-case-initial derived strings such as
``confirmed`` or ``payType``). Unknown fields are ignored, so a field added in a later Open Dental version
breaks nothing. Nothing here knows the domain models: ``_mapping`` turns these rows into them.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = [
    "AppointmentRow",
    "Bool",
    "CarrierRow",
    "ClinicRow",
    "Date",
    "DateTime",
    "DefinitionRow",
    "FamilyInsuranceRow",
    "Id",
    "Int",
    "Key",
    "Money",
    "OperatoryRow",
    "PatientRow",
    "PaymentRow",
    "PreferenceRow",
    "ProviderRow",
    "ScheduleRow",
    "Text",
    "Time",
    "Wire",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_int",
    "parse_time",
]

_TRUE = frozenset({"true", "t", "yes", "1"})
_FALSE = frozenset({"false", "f", "no", "0"})


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_bool(value: Any) -> bool | None:
    """``"true"``, ``"False"``, ``true``: a boolean; blank is None."""
    value = _blank(value)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not an Open Dental boolean")


def parse_int(value: Any) -> int | None:
    """``18``, ``"18"``, ``"18.0"``, ``18.0``: a whole number; blank is None."""
    value = _blank(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not an Open Dental number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError("not a whole number")
    return int(number)


def parse_decimal(value: Any) -> Decimal | None:
    """``"339"``, ``"129.99"``, ``111.9``: an exact amount (a float through its shortest repr); blank is None."""
    value = _blank(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        raise ValueError("not an Open Dental amount") from None
    if not number.is_finite():
        raise ValueError("not a finite amount")
    return number


def _known(parsed: datetime) -> datetime | None:
    """None for Open Dental's empty date, ``0001-01-01`` (year 1: ``DateTime.MinValue``)."""
    return None if parsed.year <= 1 else parsed


@functools.lru_cache(maxsize=4096)
def _parse_datetime_text(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
    except ValueError:
        raise ValueError("not an Open Dental date and time") from None
    if parsed.tzinfo is not None:  # a DateTimeFormatString with an offset; never asked for
        raise ValueError("an Open Dental date and time carries no zone")
    return _known(parsed)


def parse_datetime(value: Any) -> datetime | None:
    """``"2020-07-31 08:30:00"`` (or a date alone, as midnight): a naive practice-local datetime;
    ``0001-01-01 00:00:00`` and blank are None."""
    value = _blank(value)
    if value is None:
        return None
    if isinstance(value, datetime):
        return _known(value)
    if not isinstance(value, str):
        raise ValueError("not an Open Dental date and time")
    return _parse_datetime_text(value)


def parse_date(value: Any) -> date | None:
    """``"1976-05-24"`` (or a datetime's day): a date; ``0001-01-01`` and blank are None."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return None if value.year <= 1 else value
    parsed = parse_datetime(value)
    return parsed.date() if parsed is not None else None


@functools.lru_cache(maxsize=1024)
def _parse_time_text(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError("not an Open Dental time") from None


def parse_time(value: Any) -> time | None:
    """``"14:00:00"`` or ``"14:00"``: a wall-clock time; blank is None."""
    value = _blank(value)
    if value is None or isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError("not an Open Dental time")
    return _parse_time_text(value)


def _text(value: Any) -> str | None:
    value = _blank(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not text")
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise ValueError("not text")


def _id(value: Any) -> str:
    number = parse_int(value)
    if number is None or number < 0:
        raise ValueError("a primary key must be a number")
    return str(number)


def _key(value: Any) -> str | None:
    """A foreign key: its number as text; 0 (none) and blank are None."""
    number = parse_int(value)
    if number is None or number == 0:
        return None
    return str(number)


Id = Annotated[str, BeforeValidator(_id)]
"""A primary key (``AptNum``, ``PatNum``...), as its decimal text: the SDK's ids are strings."""
Key = Annotated[str | None, BeforeValidator(_key)]
"""A foreign key as text; ``0`` (Open Dental's "none") is None."""
Int = Annotated[int | None, BeforeValidator(parse_int)]
Bool = Annotated[bool | None, BeforeValidator(parse_bool)]
Money = Annotated[Decimal | None, BeforeValidator(parse_decimal)]
Text = Annotated[str | None, BeforeValidator(_text)]
DateTime = Annotated[datetime | None, BeforeValidator(parse_datetime)]
Date = Annotated[date | None, BeforeValidator(parse_date)]
Time = Annotated[time | None, BeforeValidator(parse_time)]


def _id_list(value: Any) -> tuple[str, ...]:
    """``"5,6"`` (or ``5``, or ``[5, 6]``): the ids of a comma list; blank is none."""
    if value is None:
        return ()
    parts = value if isinstance(value, list) else str(value).split(",")
    ids = [_key(part) for part in parts]
    return tuple(dict.fromkeys(i for i in ids if i is not None))


IdList = Annotated[tuple[str, ...], BeforeValidator(_id_list)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class AppointmentRow(Wire):
    """An appointment (``GET /appointments``, ``GET /appointments/{AptNum}``, a POST or PUT's answer)."""

    AptNum: Id
    PatNum: Key = None
    AptStatus: Text = None
    Pattern: Text = None
    Confirmed: Key = None
    confirmed: Text = None
    Op: Key = None
    Note: Text = None
    ProvNum: Key = None
    provAbbr: Text = None
    ProvHyg: Key = None
    AptDateTime: DateTime = None
    IsNewPatient: Bool = None
    ProcDescript: Text = None
    ClinicNum: Int = None
    IsHygiene: Bool = None
    DateTStamp: DateTime = None
    AppointmentTypeNum: Key = None
    Priority: Text = None
    serverDateTime: DateTime = None


class PatientRow(Wire):
    """A patient: the full record (``GET /patients/{PatNum}``, ``/patients/Simple``, a POST's answer) or the
    Patient Select window's fields (``GET /patients``: no ``Guarantor``, no ``PriProv``)."""

    PatNum: Id
    LName: Text = None
    FName: Text = None
    MiddleI: Text = None
    Preferred: Text = None
    PatStatus: Text = None
    Gender: Text = None
    Birthdate: Date = None
    HmPhone: Text = None
    WkPhone: Text = None
    WirelessPhone: Text = None
    Guarantor: Key = None
    Email: Text = None
    PriProv: Key = None
    ClinicNum: Int = None
    DateTStamp: DateTime = None
    serverDateTime: DateTime = None


class ProviderRow(Wire):
    ProvNum: Id
    Abbr: Text = None
    LName: Text = None
    FName: Text = None
    MI: Text = None
    PreferredName: Text = None
    Specialty: Key = None
    IsSecondary: Bool = None
    IsHidden: Bool = None
    IsNotPerson: Bool = None
    ProvStatus: Text = None
    DateTStamp: DateTime = None
    serverDateTime: DateTime = None


class OperatoryRow(Wire):
    OperatoryNum: Id
    OpName: Text = None
    Abbrev: Text = None
    ItemOrder: Int = None
    IsHidden: Bool = None
    ProvDentist: Key = None
    ProvHygienist: Key = None
    IsHygiene: Bool = None
    ClinicNum: Int = None


class ClinicRow(Wire):
    ClinicNum: Id
    Description: Text = None
    Abbr: Text = None
    Phone: Text = None
    IsHidden: Bool = None


class PreferenceRow(Wire):
    PrefName: Text = None
    ValueString: Text = None


class DefinitionRow(Wire):
    DefNum: Id
    ItemName: Text = None
    ItemValue: Text = None
    Category: Int = None
    isHidden: Bool = None


class ScheduleRow(Wire):
    """A schedule block (``GET /schedules``): every number a string in Open Dental's examples. ``Note`` can
    name a person: it is never logged."""

    ScheduleNum: Id
    SchedDate: Date = None
    StartTime: Time = None
    StopTime: Time = None
    SchedType: Text = None
    ProvNum: Key = None
    BlockoutType: Key = None
    blockoutType: Text = None
    Note: Text = None
    operatories: IdList = ()
    EmployeeNum: Key = None


class CarrierRow(Wire):
    CarrierNum: Id
    CarrierName: Text = None
    Phone: Text = None
    ElectID: Text = None
    IsHidden: Bool = None


class FamilyInsuranceRow(Wire):
    """One plan of a patient as the Family Module shows it (``GET /familymodules/{PatNum}/Insurance``):
    inssub, patplan, carrier and insplan joined."""

    PatNum: Key = None
    InsSubNum: Key = None
    Subscriber: Key = None
    SubscriberID: Text = None
    PatPlanNum: Key = None
    Ordinal: Int = None
    ordinal: Text = None
    IsPending: Bool = None
    Relationship: Text = None
    CarrierNum: Key = None
    CarrierName: Text = None
    PlanNum: Key = None
    PlanType: Text = None
    planType: Text = None
    IsMedical: Bool = None


class PaymentRow(Wire):
    PayNum: Id
    PayType: Key = None
    payType: Text = None
    PayDate: Date = None
    PayAmt: Money = None
    CheckNum: Text = None
    PayNote: Text = None
    PatNum: Key = None
    ClinicNum: Int = None
    DateEntry: Date = None
    PaymentSource: Text = None
    ProcessStatus: Text = None
    serverDateTime: DateTime = None
