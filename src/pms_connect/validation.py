"""Input checks every write runs before anything is sent, in one place for every provider.

Each check raises [InvalidArgumentError][pms_connect.errors.InvalidArgumentError] naming the argument, never
its value (values can be PHI). Ids are checked as given and sent as checked: an id with surrounding spaces is
refused, not trimmed, because the PMS would be asked about one id and written with another.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pms_connect.errors import InvalidArgumentError

__all__ = [
    "MAX_AMOUNT",
    "MAX_DURATION",
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "check_amount",
    "check_date",
    "check_duration",
    "check_email",
    "check_id",
    "check_local_time",
    "check_name",
    "check_phone",
    "check_text",
]

MAX_ID_LENGTH = 64
"""PMS ids are short codes (``"DMD1"``, ``"275495"``, ``"1-1"``)."""
MAX_NAME_LENGTH = 100
"""The longest person's name accepted, in characters."""
MAX_DURATION = timedelta(hours=12)
"""The longest appointment accepted."""
MAX_AMOUNT = Decimal("999999.99")
"""The largest payment accepted."""
_TEXT_WHITESPACE = frozenset("\t\n\r")


def _unsafe(text: str, *, allow: frozenset[str] = frozenset()) -> bool:
    """Control, format, separator-line and surrogate characters: a PMS stores them badly or not at all, and a
    lone surrogate cannot even be encoded."""
    for char in text:
        if char in allow:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return True
    return False


def _safe_string(value: object, name: str, *, allow: frozenset[str] = frozenset()) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string")
    if _unsafe(value, allow=allow):
        raise InvalidArgumentError(f"{name} contains control or unencodable characters")
    return value


def check_id(value: object, name: str) -> str:
    """A PMS id: a non-empty string of at most 64 characters, no surrounding whitespace, no control
    characters."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string")
    if not value:
        raise InvalidArgumentError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgumentError(f"{name} is longer than {MAX_ID_LENGTH} characters")
    if value != value.strip():
        raise InvalidArgumentError(f"{name} has surrounding whitespace (ids are sent exactly as given)")
    if _unsafe(value):
        raise InvalidArgumentError(f"{name} contains control or unencodable characters")
    return value


def check_optional_id(value: object, name: str) -> str | None:
    return None if value is None else check_id(value, name)


def check_name(value: object, name: str) -> str:
    """A person's name: non-blank, at most 100 characters, no control characters. Surrounding spaces are
    trimmed (the trimmed name is what is sent and journaled)."""
    stripped = " ".join(_safe_string(value, name).split())
    if not stripped:
        raise InvalidArgumentError(f"{name} must not be blank")
    if len(stripped) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"{name} is longer than {MAX_NAME_LENGTH} characters")
    return stripped


def check_text(value: object, name: str, *, max_length: int) -> str:
    """Free text (a reason, a note): tabs and line breaks allowed, other control characters refused."""
    value = _safe_string(value, name, allow=_TEXT_WHITESPACE)
    if len(value) > max_length:
        raise InvalidArgumentError(f"{name} is longer than {max_length} characters")
    return value


def check_phone(value: object, name: str, *, region: str = "US") -> str:
    """A phone number the ``phonenumbers`` library finds possible (right length for its country; fictional
    555 numbers pass). Returned stripped, in the caller's format."""
    text = _safe_string(value, name).strip()
    import phonenumbers  # imported on first use: its metadata is large

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidArgumentError(f"{name} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidArgumentError(f"{name} is not a possible phone number (wrong length for its country)")
    return text


def check_email(value: object, name: str = "email") -> str:
    """An email address with valid syntax (``email-validator``; no DNS lookup). Returned stripped."""
    text = _safe_string(value, name).strip()
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidArgumentError(f"{name} is not a valid email address") from None
    return text


def check_date(value: object, name: str, *, earliest: date, latest: date) -> date:
    """A date (not a datetime) within [earliest, latest]."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidArgumentError(f"{name} must be a date")
    if value < earliest:
        raise InvalidArgumentError(f"{name} is before {earliest.isoformat()}")
    if value > latest:
        raise InvalidArgumentError(f"{name} is after {latest.isoformat()}")
    return value


def check_local_time(value: object, name: str, zone: ZoneInfo) -> datetime:
    """An aware datetime as the practice's wall-clock time, refusing what a PMS cannot hold exactly: naive
    datetimes, times that do not exist in their own zone (skipped by a spring-forward change) and practice
    times that occur twice (the repeated hour of a fall-back change, which a zone-less PMS cannot tell
    apart)."""
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(f"{name} is naive; pass an aware datetime in the practice's zone")
    try:
        instant = value.astimezone(timezone.utc)
        round_trip = instant.astimezone(value.tzinfo)
        local = instant.astimezone(zone)
    except (OverflowError, ValueError):
        raise InvalidArgumentError(f"{name} is out of range") from None
    if round_trip.replace(tzinfo=None) != value.replace(tzinfo=None):
        raise InvalidArgumentError(f"{name} does not exist in its time zone (skipped by a daylight-saving change)")
    wall = local.replace(tzinfo=None)
    other = wall.replace(fold=1 - local.fold).replace(tzinfo=zone)
    if other.utcoffset() != local.utcoffset():
        raise InvalidArgumentError(
            f"{name} falls in the hour a daylight-saving change repeats in the practice's zone: "
            "the PMS cannot tell the two apart; pick another time"
        )
    return local


def check_duration(value: object, name: str = "duration") -> timedelta:
    """A positive whole number of minutes, at most 12 hours."""
    if not isinstance(value, timedelta):
        raise InvalidArgumentError(f"{name} must be a timedelta")
    if value <= timedelta(0):
        raise InvalidArgumentError(f"{name} must be positive")
    if value % timedelta(minutes=1):
        raise InvalidArgumentError(f"{name} must be a whole number of minutes")
    if value > MAX_DURATION:
        raise InvalidArgumentError(f"{name} is longer than {int(MAX_DURATION.total_seconds() // 3600)} hours")
    return value


def check_amount(value: object, name: str = "amount") -> Decimal:
    """A payment amount: a finite Decimal above zero, at most two decimal places and 999,999.99."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidArgumentError(f"{name} must be a Decimal")
    try:
        amount = Decimal(value)
        if not amount.is_finite():
            raise InvalidArgumentError(f"{name} must be a finite number")
        if amount <= 0:
            raise InvalidArgumentError(f"{name} must be greater than zero")
        if amount > MAX_AMOUNT:
            raise InvalidArgumentError(f"{name} is above {MAX_AMOUNT}")
        if amount != amount.quantize(Decimal("0.01")):
            raise InvalidArgumentError(f"{name} has more than two decimal places")
    except InvalidOperation:
        raise InvalidArgumentError(f"{name} is not a number") from None
    return amount
