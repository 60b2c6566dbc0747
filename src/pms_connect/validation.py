"""Input checks, in one place for every provider: the arguments of every write, before anything is sent, and
the settings of the SDK's objects (timeouts, counts), when they are built.

Each check raises [InvalidArgumentError][pms_connect.errors.InvalidArgumentError] naming the argument, never
its value (values can be PHI). Ids are checked as given and sent as checked: an id with surrounding spaces is
refused, not trimmed, because the PMS would be asked about one id and written with another.

[describe_validation_error][pms_connect.validation.describe_validation_error] says what a pydantic
``ValidationError`` found wrong without quoting a value, for the messages of the errors the SDK raises instead.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, AliasPath, BaseModel, ValidationError
from typing_extensions import is_typeddict

from pms_connect.errors import InvalidArgumentError

__all__ = [
    "MAX_AMOUNT",
    "MAX_DURATION",
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "check_amount",
    "check_count",
    "check_date",
    "check_duration",
    "check_email",
    "check_id",
    "check_local_time",
    "check_name",
    "check_phone",
    "check_seconds",
    "check_text",
    "describe_validation_error",
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


_NANP_LEADING = frozenset("23456789")


def check_phone(value: object, name: str, *, region: str = "US") -> str:
    """A phone number the ``phonenumbers`` library finds possible (the right length for its country) and,
    in the North American plan, of its shape ``NXX-NXX-XXXX`` (area code and exchange start with 2-9:
    ``+1 000 000 0000`` is refused). Not the library's list of assigned ranges: it lags new area codes, and a
    chart's real number must never be refused. Returned stripped, in the caller's format."""
    text = _safe_string(value, name).strip()
    import phonenumbers  # imported on first use: its metadata is large

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidArgumentError(f"{name} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidArgumentError(f"{name} is not a possible phone number (wrong length for its country)")
    national = str(number.national_number)
    if number.country_code == 1 and not (national[0] in _NANP_LEADING and national[3] in _NANP_LEADING):
        raise InvalidArgumentError(f"{name} is not a North American number (area code or exchange starts 0 or 1)")
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


def check_seconds(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite number of seconds (an int or a float, not a bool), above zero, or at least zero with
    ``allow_zero``: a timeout, a backoff, a lock's wait."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{name} must be a number of seconds")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise InvalidArgumentError(f"{name} must be finite")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidArgumentError(f"{name} must not be negative" if allow_zero else f"{name} must be positive")
    return seconds


def check_count(value: object, name: str, *, minimum: int = 0) -> int:
    """A whole number (an int, not a bool) of at least ``minimum``: attempts, pages, requests."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be a whole number")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be at least {minimum}")
    return value


_MAX_PROBLEMS = 5  # a page of 5,000 bad rows is described by its first few


def describe_validation_error(error: ValidationError, *types: Any) -> str:
    """What ``error`` found wrong, by location and error type, never by value: e.g.
    ``"items.3.birthdate: value_error; request_key: missing"``.

    pydantic's own message quotes the offending input, which may be PHI or a secret; so do its locations
    where a part is a key of the input (a dict's key, an extra field's name). ``types`` are what was
    validated (models, TypedDicts, dataclasses, or types built from them, such as ``list[Row]``): a
    location shows only the field names (and aliases) of these types, reached through any nesting, and list
    positions; any other part is left out. Without ``types`` no names are shown, only positions and error
    types. At most five problems are listed, then how many more there are.
    """
    known: frozenset[str] = frozenset().union(*(_field_names(t) for t in types))
    problems: dict[str, list[str]] = {}
    for err in error.errors(include_url=False, include_context=False, include_input=False):
        parts = [str(part) for part in err["loc"] if isinstance(part, int) or part in known]
        kinds = problems.setdefault(".".join(parts), [])
        if err["type"] not in kinds:
            kinds.append(err["type"])
    if len(problems) > 1:
        # A root-level entry beside deeper ones is an alternative that failed too (the other member of a
        # union, say): the deeper entries say more.
        problems.pop("", None)
    described = [f"{where or '<root>'}: {', '.join(kinds)}" for where, kinds in problems.items()]
    more = len(described) - _MAX_PROBLEMS
    text = "; ".join(described[:_MAX_PROBLEMS])
    return f"{text}; and {more} more" if more > 0 else text


def _field_names(root: Any) -> frozenset[str]:
    try:
        return _cached_field_names(root)
    except TypeError:  # an unhashable type expression: walk it uncached
        return frozenset(_walk(root, set()))


@functools.lru_cache(maxsize=256)
def _cached_field_names(root: Any) -> frozenset[str]:
    return frozenset(_walk(root, set()))


def _walk(tp: Any, seen: set[int]) -> Iterator[str]:
    """The field names and aliases of every model, TypedDict and dataclass in the type expression ``tp``."""
    if id(tp) in seen:
        return
    seen.add(id(tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            yield name
            yield from _aliases(info.alias, info.validation_alias)
            yield from _walk(info.annotation, seen)
        return
    if is_typeddict(tp) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        try:
            hints: dict[str, Any] = typing.get_type_hints(tp)
        except (NameError, TypeError, AttributeError):  # an unresolvable annotation: its names still count
            hints = dict.fromkeys(getattr(tp, "__annotations__", {}))
        for name, hint in hints.items():
            yield name
            if hint is not None:
                yield from _walk(hint, seen)
        return
    for arg in typing.get_args(tp):
        yield from _walk(arg, seen)


def _aliases(*aliases: object) -> Iterator[str]:
    for alias in aliases:
        if isinstance(alias, str):
            yield alias
        elif isinstance(alias, AliasPath):
            yield from (part for part in alias.path if isinstance(part, str))
        elif isinstance(alias, AliasChoices):
            for choice in alias.choices:
                yield from _aliases(choice)
