"""Time windows in a practice's zone: dates mean whole local days; naive datetimes are refused."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pms_connect.errors import InvalidArgumentError

__all__ = ["Window", "resolve_zone", "window"]


def resolve_zone(zone: str | tzinfo) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    if isinstance(zone, str):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgumentError(f"unknown time zone {zone!r}") from None
    raise InvalidArgumentError("timezone must be an IANA name such as 'America/Chicago' or a ZoneInfo")


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _as_start(value: date | datetime, zone: ZoneInfo, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgumentError(f"{name} is a naive datetime; pass an aware datetime or a date")
        return value.astimezone(zone)
    if isinstance(value, date):
        return local_midnight(value, zone)
    raise InvalidArgumentError(f"{name} must be a date or an aware datetime")


class Window:
    """A half-open interval [start, end) of aware datetimes in the practice's zone."""

    __slots__ = ("_utc_end", "_utc_start", "end", "start")

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.end = end
        self._utc_start = _utc(start)
        self._utc_end = _utc(end)

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last local day the window touches."""
        return (self.end - timedelta(microseconds=1)).date()

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # Compare in UTC: aware datetimes sharing one zone compare by wall clock, wrong across a DST change.
        return _utc(start) < self._utc_end and _utc(end) > self._utc_start

    def overlaps_visit(self, start: datetime, duration: timedelta) -> bool:
        """``overlaps(start, start + duration)`` in elapsed time, with one zone conversion: run on every
        row of a list."""
        begins = start.astimezone(timezone.utc)  # not through ``_utc``: one call a row fewer
        return begins < self._utc_end and begins + duration > self._utc_start

    def __repr__(self) -> str:
        return f"Window({self.start.isoformat()}, {self.end.isoformat()})"


def window(start: date | datetime, end: date | datetime, zone: ZoneInfo) -> Window:
    """``start``/``end`` as a window: a date ``end`` is inclusive (that whole day)."""
    lo = _as_start(start, zone, "start")
    if isinstance(end, datetime):
        hi = _as_start(end, zone, "end")
    elif isinstance(end, date):
        hi = local_midnight(end + timedelta(days=1), zone)
    else:
        raise InvalidArgumentError("end must be a date or an aware datetime")
    if hi <= lo:
        raise InvalidArgumentError("end must be after start")
    return Window(lo, hi)
