"""Open Dental's wire conventions: its formats, its plain-text errors, its parameters, bodies and pages.

* Dates ``yyyy-MM-dd``, date-times ``yyyy-MM-dd HH:mm:ss`` (naive, the practice's wall clock), the empty
  ``0001-01-01`` sentinels, booleans as the strings ``"true"``/``"false"``, amounts as C#'s decimal text
  (``"339"``, ``"129.99"``) [OD-impl].
* ``\\r\\n`` inside a string goes out as a space ("The JSON serializer currently outputs carriage returns
  (\\r\\n) as spaces") [OD-impl].
* Errors are a status with an explanation, as plain text (the docs show no JSON envelope); the
  ``error_body="json"`` switch sends the same explanation as a JSON string instead.
* Query parameter names and body keys are matched case-insensitively, as ASP.NET does (the docs' own
  examples mix ``NationalProvId``/``NationalProvID`` and ``dateTimeStart``/``DateTimeStart``).
* Lists come in pages: ``Offset`` (default 0) and ``Limit`` (default and cap: 100 remote, 1000 local).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from starlette.responses import Response

__all__ = [
    "EMPTY_DATE",
    "EMPTY_DATETIME",
    "JsonBody",
    "OdRefusal",
    "QueryArgs",
    "error_answer",
    "fmt_amount",
    "fmt_bool",
    "fmt_clock_time",
    "fmt_day",
    "fmt_moment",
    "json_answer",
    "page_of",
    "parse_day",
    "parse_moment",
    "parse_stamp",
]

EMPTY_DATE = "0001-01-01"
EMPTY_DATETIME = "0001-01-01 00:00:00"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

T = TypeVar("T")


class OdRefusal(Exception):
    """An answer other than success: ``status`` and Open Dental's explanation (plain text)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ------------------------------------------------------------------------------------------------ formats
def fmt_day(day: dt.date | None) -> str:
    """``yyyy-MM-dd``, or the ``0001-01-01`` sentinel for no date."""
    return EMPTY_DATE if day is None else day.strftime("%Y-%m-%d")


def fmt_moment(moment: dt.datetime | None) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (naive local), or ``0001-01-01 00:00:00`` for none."""
    return EMPTY_DATETIME if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def fmt_clock_time(moment: dt.time) -> str:
    return moment.strftime("%H:%M:%S")


def fmt_bool(value: bool) -> str:
    return "true" if value else "false"


def fmt_amount(amount: Decimal) -> str:
    """C#'s decimal text without trailing zeros: ``339``, ``129.99``, ``-12.5``."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _spaces(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\r\n", " ")
    if isinstance(value, dict):
        return {k: _spaces(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_spaces(v) for v in value]
    return value


def json_answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer, every ``\\r\\n`` in its strings sent as a space as Open Dental's serializer does."""
    return Response(
        json.dumps(_spaces(body), ensure_ascii=False),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json; charset=utf-8",
    )


def error_answer(refusal: OdRefusal, style: str) -> Response:
    """The explanation as plain text (``style="text"``) or as a JSON string (``style="json"``)."""
    if style == "json":
        return Response(
            json.dumps(refusal.message), status_code=refusal.status, media_type="application/json; charset=utf-8"
        )
    return Response(refusal.message, status_code=refusal.status, media_type="text/plain; charset=utf-8")


# ---------------------------------------------------------------------------------------------- parsing
def parse_day(raw: str, name: str) -> dt.date:
    text = raw.strip()
    if _DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise OdRefusal(400, f'{name} format must be yyyy-MM-dd, e.g. "2022-03-07".')


def parse_moment(raw: str, name: str) -> dt.datetime:
    text = raw.strip()
    if _DATETIME.match(text):
        try:
            return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            pass
    raise OdRefusal(400, f"{name} format must be yyyy-MM-dd HH:mm:ss")


def parse_stamp(raw: str, name: str = "DateTStamp") -> dt.datetime:
    """A ``DateTStamp``-style filter: ``yyyy-MM-dd HH:mm:ss``, or a bare date (midnight), as the docs' examples
    send both."""
    text = raw.strip()
    if _DATE.match(text):
        return dt.datetime.combine(parse_day(text, name), dt.time())
    return parse_moment(text, name)


class QueryArgs:
    """The query string, its names matched case-insensitively; values trimmed, empty means absent."""

    def __init__(self, params: Sequence[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for key, value in params:
            self._values.setdefault(key.lower(), value.strip())

    def text(self, name: str) -> str | None:
        value = self._values.get(name.lower(), "")
        return value or None

    def number(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value):
            raise OdRefusal(400, f"{name} must be a whole number.")
        return int(value)

    def day(self, name: str) -> dt.date | None:
        value = self.text(name)
        return None if value is None else parse_day(value, name)

    def stamp(self, name: str = "DateTStamp") -> dt.datetime | None:
        value = self.text(name)
        return None if value is None else parse_stamp(value, name)

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise OdRefusal(400, f'{name} must be either "true" or "false".')
        return value.lower() == "true"

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        for option in allowed:
            if option.lower() == value.lower():
                return option
        raise OdRefusal(400, f"{name} must be one of: {', '.join(allowed)}.")


class JsonBody:
    """A request's JSON object, its keys matched case-insensitively, with Open Dental's field types."""

    def __init__(self, raw: bytes) -> None:
        if not raw.strip():
            self._fields: dict[str, tuple[str, Any]] = {}
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise OdRefusal(400, "The request body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise OdRefusal(400, "The request body must be a JSON object.")
        self._fields = {str(k).lower(): (str(k), v) for k, v in parsed.items()}

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._fields

    def __len__(self) -> int:
        return len(self._fields)

    def names(self) -> list[str]:
        """The keys as sent."""
        return [sent for sent, _ in self._fields.values()]

    def raw(self, name: str) -> Any:
        entry = self._fields.get(name.lower())
        return None if entry is None else entry[1]

    def as_dict(self) -> dict[str, Any]:
        return {sent: value for sent, value in self._fields.values()}

    def text(self, name: str) -> str | None:
        """A string field (numbers are taken as their text); None when absent or null."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, (bool, dict, list)):
            raise OdRefusal(400, f"{name} must be a string.")
        return str(value)

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None or not value.strip():
            raise OdRefusal(400, f"{name} is required.")
        return value

    def number(self, name: str) -> int | None:
        """A whole number, sent as a JSON number or as its text (the docs' examples send both)."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise OdRefusal(400, f"{name} must be a whole number.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise OdRefusal(400, f"{name} must be a whole number.")

    def required_number(self, name: str) -> int:
        value = self.number(name)
        if value is None:
            raise OdRefusal(400, f"{name} is required.")
        return value

    def amount(self, name: str) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise OdRefusal(400, f"{name} must be a number.")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise OdRefusal(400, f"{name} must be a number.") from None
        if not amount.is_finite():
            raise OdRefusal(400, f"{name} must be a number.")
        return amount

    def flag(self, name: str) -> bool | None:
        """A boolean field: the string ``"true"`` or ``"false"`` (any case), as every example sends it."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str) or value.strip().lower() not in ("true", "false"):
            raise OdRefusal(400, f'{name} must be either "true" or "false".')
        return value.strip().lower() == "true"

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        for option in allowed:
            if option.lower() == value.strip().lower():
                return option
        raise OdRefusal(400, f"{name} must be one of: {', '.join(allowed)}.")

    def day(self, name: str) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        return parse_day(value, name)

    def moment(self, name: str) -> dt.datetime | None:
        value = self.text(name)
        if value is None:
            return None
        return parse_moment(value, name)


def page_of(items: Sequence[T], query: QueryArgs, cap: int) -> list[T]:
    """One page: ``Offset`` (default 0) and ``Limit`` (default and most: ``cap``)."""
    offset = query.number("Offset") or 0
    limit = query.number("Limit")
    if offset < 0:
        raise OdRefusal(400, "Offset cannot be negative.")
    if limit is None or limit > cap:
        limit = cap
    if limit < 1:
        raise OdRefusal(400, "Limit must be at least 1.")
    return list(items[offset : offset + limit])
