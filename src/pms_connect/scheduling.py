"""Open-slot computation: working hours minus booked time, in the practice's zone (provider-neutral).

A slot is offered for a provider at a start time when, for the whole visit,

* the practice, the provider and one operatory are all working (their weekly hours for that local day), and
* neither the provider nor that operatory has a booked, non-cancelled appointment, and
* it starts no earlier than ``not_before`` (now) and lies inside the requested window.

Working hours are wall-clock times of a local day; everything is converted to instants once (with
``datetime.combine(day, t, tzinfo=zone)``) and compared in UTC, because Python compares and subtracts two
datetimes of the *same* zone by their wall clocks, which is wrong on the days clocks change. So a slot always
lasts exactly ``duration`` of elapsed time, also across a DST change.

Start times sit on a grid of the local wall clock (every 10 minutes by default: 08:00, 08:10, ...), like a
PMS appointment book. One slot is offered per provider and start time, in the first free operatory of that
provider's preference order (the chairs the provider is usually booked in first): a caller asking for
five options gets five different times, not one time in five chairs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import Appointment, TimeSlot, prevalidated

__all__ = [
    "DEFAULT_GRID",
    "Block",
    "DatedHours",
    "DayHours",
    "Hours",
    "Interval",
    "PracticeHours",
    "WeeklyHours",
    "WorkingHours",
    "natural_order",
    "open_slots",
    "resolve_hours",
    "slots_from_openings",
    "sort_slots",
    "validate_duration",
    "validate_grid",
    "validate_limit",
]

DEFAULT_GRID = timedelta(minutes=10)
"""Slot starts are aligned to this grid of the local wall clock (08:00, 08:10, ...)."""

UTC = timezone.utc
Block = tuple[time, time]
"""A working block of a local day, ``[start, end)``; an ``end`` of 00:00 means midnight at the day's end."""
Interval = tuple[datetime, datetime]
"""A half-open interval of UTC instants."""


@dataclass(frozen=True)
class WeeklyHours:
    """One resource's weekly working hours, valid from the week ``effective`` (None: a standing schedule).

    ``days`` maps a Python weekday (Monday is 0) to its blocks; a missing weekday is a day off.
    """

    days: Mapping[int, tuple[Block, ...]]
    effective: date | None = None

    def blocks_on(self, day: date) -> tuple[Block, ...]:
        """The working blocks of ``day``'s weekday (none: a day off), whatever the week."""
        return self.days.get(day.weekday(), ())

    def ends(self) -> list[time]:
        """When every block of the week ends."""
        return [end for blocks in self.days.values() for _, end in blocks]


class DayHours(Protocol):
    """What the slot arithmetic asks of a resource's hours: [Hours][pms_connect.scheduling.Hours] (weekly
    templates) and [DatedHours][pms_connect.scheduling.DatedHours] (a calendar) both answer it."""

    def blocks_on(self, day: date) -> tuple[Block, ...]:
        """The working blocks of local ``day`` (none: a day off)."""
        ...

    def ends(self) -> list[time]:
        """When every block it knows ends (to tell whether hours reach midnight)."""
        ...


class Hours:
    """A resource's schedule history: for a day, the latest weekly schedule effective on or before it.

    PMSs publish one schedule per week (Sikka's ``practice_schedule`` rows carry the week's start date); a day
    past the last published week keeps the last schedule, which is how a weekly template behaves. A day before
    every dated schedule uses the standing (undated) one, or is off when there is none.
    """

    __slots__ = ("_dated", "_standing", "_starts")

    def __init__(self, schedules: Iterable[WeeklyHours]) -> None:
        schedules = list(schedules)
        dated = sorted((s for s in schedules if s.effective is not None), key=lambda s: s.effective or date.min)
        standing = [s for s in schedules if s.effective is None]
        self._dated: tuple[WeeklyHours, ...] = tuple(dated)
        self._starts: tuple[date, ...] = tuple(s.effective or date.min for s in dated)
        self._standing: WeeklyHours | None = standing[-1] if standing else None

    @classmethod
    def weekly(cls, days: Mapping[int, Sequence[Block]]) -> Hours:
        """The same hours every week."""
        return cls([WeeklyHours({k: tuple(v) for k, v in days.items()})])

    @property
    def schedules(self) -> tuple[WeeklyHours, ...]:
        """Every weekly schedule of the history, the standing one last."""
        return self._dated + ((self._standing,) if self._standing is not None else ())

    def schedule_for(self, day: date) -> WeeklyHours | None:
        """The weekly schedule in force on ``day`` (None: no schedule, so not working), so that a schedule
        change from some week on applies from that week only."""
        index = bisect.bisect_right(self._starts, day)
        return self._dated[index - 1] if index else self._standing

    def blocks_on(self, day: date) -> tuple[Block, ...]:
        """The working blocks of ``day``, from the schedule in force that week (none: a day off)."""
        schedule = self.schedule_for(day)
        return schedule.blocks_on(day) if schedule is not None else ()

    def ends(self) -> list[time]:
        """When every block of every weekly schedule ends."""
        return [end for weekly in self.schedules for end in weekly.ends()]

    def __repr__(self) -> str:
        return f"Hours({len(self._dated)} weekly schedules, standing={self._standing is not None})"


class DatedHours:
    """Hours published date by date, as a calendar (Open Dental's schedules): a date without blocks is a day
    off, whatever its weekday; nothing carries over to a later week."""

    __slots__ = ("_days",)

    def __init__(self, days: Mapping[date, Iterable[Block]]) -> None:
        self._days: dict[date, tuple[Block, ...]] = {
            day: tuple(sorted(blocks)) for day, blocks in days.items() if blocks
        }

    def blocks_on(self, day: date) -> tuple[Block, ...]:
        return self._days.get(day, ())

    def ends(self) -> list[time]:
        return [end for blocks in self._days.values() for _, end in blocks]

    @property
    def days(self) -> list[date]:
        """The dates with hours, in order."""
        return sorted(self._days)

    def __repr__(self) -> str:
        return f"DatedHours({len(self._days)} days)"


@dataclass(frozen=True)
class WorkingHours:
    """Who works when. ``practice`` None means the practice level does not restrict; a provider or an
    operatory missing from its mapping does not work at all (see
    [resolve_hours][pms_connect.scheduling.resolve_hours] for the fallbacks).

    ``seats`` maps ``(provider, operatory)`` to when that provider works in that chair, for PMSs whose
    schedules name the chairs (Open Dental's schedule operatories): a provider with any seat is offered only
    in a chair and at a time one of their seats covers; a provider with none may sit in any free chair.
    """

    practice: DayHours | None
    providers: Mapping[str, DayHours] = field(default_factory=dict)
    operatories: Mapping[str, DayHours] = field(default_factory=dict)
    seats: Mapping[tuple[str, str], DayHours] = field(default_factory=dict)


@dataclass(frozen=True)
class PracticeHours:
    """A practice's published hours as its PMS keeps them: the practice's own, and each provider's and
    operatory's that have any (``published`` is how many schedule records were read: 0 means none)."""

    practice: DayHours | None
    providers: Mapping[str, DayHours] = field(default_factory=dict)
    operatories: Mapping[str, DayHours] = field(default_factory=dict)
    published: int = 0
    seats: Mapping[tuple[str, str], DayHours] = field(default_factory=dict)
    """When each provider works in each chair, where the PMS's schedules say (see
    [WorkingHours][pms_connect.scheduling.WorkingHours])."""

    @property
    def reach_midnight(self) -> bool:
        """Whether any hours run to midnight (or none are published): then a visit may start one day and
        run into the next, and a list from a day must look at the day before."""
        if self.published == 0:
            return True
        levels = [self.practice] if self.practice is not None else []
        levels += [*self.providers.values(), *self.operatories.values()]
        levels += list(self.seats.values())
        return any(end == time(0) for hours in levels for end in hours.ends())

    def for_resources(self, providers: Iterable[str], operatories: Iterable[str]) -> WorkingHours:
        """The hours of these providers and operatories, each level falling back as
        [resolve_hours][pms_connect.scheduling.resolve_hours] says."""
        providers, operatories = list(providers), list(operatories)
        wanted = set(providers)
        return WorkingHours(
            practice=self.practice,
            providers=resolve_hours(self.practice, self.providers, providers),
            operatories=resolve_hours(self.practice, self.operatories, operatories),
            seats={seat: hours for seat, hours in self.seats.items() if seat[0] in wanted},
        )


def resolve_hours(
    practice: DayHours | None, own: Mapping[str, DayHours], ids: Iterable[str]
) -> dict[str, DayHours]:
    """Hours for each of ``ids`` at one level (providers or operatories).

    When the PMS schedules nobody at this level, everyone follows the practice's hours (many PMSs keep only
    office hours). When it schedules some, one without a schedule is not working: offering a provider who
    may not be there is worse than offering one slot fewer.
    """
    if own:
        return {i: own[i] for i in ids if i in own}
    if practice is None:
        return {}
    return dict.fromkeys(ids, practice)


# -- validation -----------------------------------------------------------------------------------------------


def validate_duration(duration: object) -> timedelta:
    """``duration`` if it is a positive whole number of minutes (PMS books count minutes), else
    [InvalidArgumentError][pms_connect.errors.InvalidArgumentError] before any request is made."""
    if not isinstance(duration, timedelta):
        raise InvalidArgumentError("duration must be a timedelta")
    if duration <= timedelta(0):
        raise InvalidArgumentError("duration must be positive")
    if duration % timedelta(minutes=1):
        raise InvalidArgumentError("duration must be a whole number of minutes")
    return duration


def validate_grid(grid: object) -> timedelta:
    """A grid is whole minutes and divides a day, so every local day starts on it."""
    if not isinstance(grid, timedelta) or grid <= timedelta(0) or grid % timedelta(minutes=1):
        raise InvalidArgumentError("grid must be a positive whole number of minutes")
    if timedelta(days=1) % grid:
        raise InvalidArgumentError("grid must divide a day evenly (e.g. 5, 10, 15, 30 or 60 minutes)")
    return grid


def validate_limit(limit: object) -> int | None:
    """``limit`` if it is None or a positive integer (``True`` is refused, though Python counts it as 1), else
    [InvalidArgumentError][pms_connect.errors.InvalidArgumentError]."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError("limit must be a positive integer or None")
    return limit


# -- intervals ------------------------------------------------------------------------------------------------


def _normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged, non-empty."""
    merged: list[Interval] = []
    for start, end in sorted(iv for iv in intervals if iv[0] < iv[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(free: Sequence[Interval], busy: Sequence[Interval]) -> list[Interval]:
    """``free`` minus ``busy``; both normalized."""
    out: list[Interval] = []
    if not free:
        return out
    # The first busy interval still running at the first free start (normalized: ends are sorted too). A
    # day's search passes the whole window's busy list, so starting from 0 each day was quadratic in days.
    j = bisect.bisect_right(busy, free[0][0], key=_end)
    for start, end in free:
        cursor = start
        while j < len(busy) and busy[j][1] <= cursor:
            j += 1
        k = j
        while k < len(busy) and busy[k][0] < end:
            if busy[k][0] > cursor:
                out.append((cursor, busy[k][0]))
            cursor = max(cursor, busy[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def _end(interval: Interval) -> datetime:
    return interval[1]


def _covers(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether one interval of the normalized ``intervals`` holds all of ``[start, end)``."""
    index = bisect.bisect_right(intervals, (start, _FAR_FUTURE)) - 1
    return index >= 0 and intervals[index][0] <= start and end <= intervals[index][1]


_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time of a local day as a UTC instant (a time in a DST gap counts with the old offset)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _day_intervals(blocks: Iterable[Block], day: date, zone: ZoneInfo) -> list[Interval]:
    out: list[Interval] = []
    for start, end in blocks:
        lo = _instant(day, start, zone)
        hi = _instant(day + timedelta(days=1), time(0), zone) if end == time(0) else _instant(day, end, zone)
        out.append((lo, hi))
    return _normalize(out)


def _whole_day(day: date, zone: ZoneInfo) -> list[Interval]:
    return [(_instant(day, time(0), zone), _instant(day + timedelta(days=1), time(0), zone))]


def _align_up(instant: datetime, zone: ZoneInfo, grid: timedelta) -> datetime:
    """The first instant at or after ``instant`` whose local wall-clock time is on the grid."""
    step = int(grid.total_seconds() * 1_000_000)
    while True:
        local = instant.astimezone(zone)
        into_day = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000 + local.microsecond
        remainder = into_day % step
        if remainder == 0:
            return instant
        # Near a clock change the offset can differ after the jump: look again from there.
        instant = instant + timedelta(microseconds=step - remainder)


def _starts(free: Interval, duration: timedelta, zone: ZoneInfo, grid: timedelta) -> Iterable[datetime]:
    start, end = free
    t = _align_up(start, zone, grid)
    while t + duration <= end:
        yield t
        t = _align_up(t + grid, zone, grid)


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _busy(appointments: Iterable[Appointment]) -> tuple[dict[str, list[Interval]], dict[str, list[Interval]]]:
    by_provider: dict[str, list[Interval]] = {}
    by_operatory: dict[str, list[Interval]] = {}
    for appointment in appointments:
        if appointment.cancelled or appointment.duration <= timedelta(0):
            continue
        start = appointment.start.astimezone(UTC)
        interval = (start, start + appointment.duration)
        if appointment.provider_id:
            by_provider.setdefault(appointment.provider_id, []).append(interval)
        if appointment.operatory:
            by_operatory.setdefault(appointment.operatory, []).append(interval)
    return (
        {k: _normalize(v) for k, v in by_provider.items()},
        {k: _normalize(v) for k, v in by_operatory.items()},
    )


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


# -- the computation ------------------------------------------------------------------------------------------


def open_slots(
    *,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone: ZoneInfo,
    hours: WorkingHours,
    providers: Sequence[str],
    operatories: Sequence[str],
    booked: Iterable[Appointment] = (),
    not_before: datetime | None = None,
    grid: timedelta = DEFAULT_GRID,
    preferences: Mapping[str, Sequence[str]] | None = None,
    limit: int | None = None,
) -> list[TimeSlot]:
    """Open slots of exactly ``duration`` in ``[start, end)``, sorted by time, then provider, then operatory.

    ``providers`` and ``operatories`` are the candidates (already filtered: active, visible, asked for);
    ``booked`` are the appointments that may overlap the window (cancelled ones are ignored); ``not_before``
    is usually now. ``preferences`` orders the operatories tried for a provider (others follow in the order of
    ``operatories``). Slots are in ``zone``.
    """
    duration = validate_duration(duration)
    grid = validate_grid(grid)
    limit = validate_limit(limit)
    lo = _aware(start, "start")
    hi = _aware(end, "end")
    if not_before is not None:
        lo = max(lo, _aware(not_before, "not_before"))
    providers = list(dict.fromkeys(providers))
    operatories = list(dict.fromkeys(operatories))
    if hi <= lo or not providers or not operatories:
        return []
    busy_provider, busy_operatory = _busy(booked)
    seated: dict[str, list[str]] = {}
    for provider, operatory in hours.seats:
        seated.setdefault(provider, []).append(operatory)
    window = [(lo, hi)]
    order: dict[str, list[str]] = {}
    for provider in providers:
        preferred = [o for o in (preferences or {}).get(provider, ()) if o in operatories]
        order[provider] = list(dict.fromkeys([*preferred, *operatories]))

    slots: list[TimeSlot] = []
    for day in _local_days(lo, hi, zone):
        base = _intersect(_whole_day(day, zone), window)
        if hours.practice is not None:
            base = _intersect(base, _day_intervals(hours.practice.blocks_on(day), day, zone))
        if not base:
            continue
        chairs: dict[str, list[Interval]] = {}
        for operatory in operatories:
            own = hours.operatories.get(operatory)
            if own is None:
                continue
            open_ = _intersect(base, _day_intervals(own.blocks_on(day), day, zone))
            chairs[operatory] = _subtract(open_, busy_operatory.get(operatory, []))
        if not chairs:
            continue
        today: list[TimeSlot] = []
        for provider in providers:
            own = hours.providers.get(provider)
            if own is None:
                continue
            working = _intersect(base, _day_intervals(own.blocks_on(day), day, zone))
            seats = _seat_intervals(hours.seats, provider, seated.get(provider), day, zone)
            for free in _subtract(working, busy_provider.get(provider, [])):
                for t in _starts(free, duration, zone, grid):
                    t_end = t + duration
                    chair = next(
                        (
                            o
                            for o in order[provider]
                            if o in chairs
                            and _covers(chairs[o], t, t_end)
                            and (seats is None or _covers(seats.get(o, []), t, t_end))
                        ),
                        None,
                    )
                    if chair is not None:
                        values = {
                            "start": t.astimezone(zone),
                            "end": t_end.astimezone(zone),
                            "provider_id": provider,
                            "operatory": chair,
                        }
                        today.append(prevalidated(TimeSlot, values))  # aware by construction
        # Every start of a local day precedes every start of the next, so days can be appended in order.
        today.sort(key=_slot_key)
        slots.extend(today)
        if limit is not None and len(slots) >= limit:
            return slots[:limit]
    return slots


def _seat_intervals(
    seats: Mapping[tuple[str, str], DayHours],
    provider: str,
    chairs: Sequence[str] | None,
    day: date,
    zone: ZoneInfo,
) -> dict[str, list[Interval]] | None:
    """When ``provider`` works in each of their chairs on ``day``; None: they have no seats, any chair."""
    if chairs is None:
        return None
    return {chair: _day_intervals(seats[(provider, chair)].blocks_on(day), day, zone) for chair in chairs}


def _slot_key(slot: TimeSlot) -> tuple[datetime, str, str]:
    return (slot.start.astimezone(UTC), slot.provider_id or "", slot.operatory or "")


def sort_slots(slots: Iterable[TimeSlot]) -> list[TimeSlot]:
    """Slots by instant (not wall clock), then provider, then operatory."""
    return sorted(slots, key=_slot_key)


def slots_from_openings(
    openings: Iterable[TimeSlot],
    *,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone: ZoneInfo,
    providers: Collection[str],
    operatories: Collection[str],
    not_before: datetime | None = None,
    preferences: Mapping[str, Sequence[str]] | None = None,
    require_operatory: bool = False,
    limit: int | None = None,
) -> list[TimeSlot]:
    """Slots from the PMS's own openings (native slots, e.g. OrthoTrac's appointment templates).

    A visit starts where an opening starts (such PMSs accept a booking only there) and may run on through
    adjacent openings of the same provider and operatory. Openings of other providers or operatories, in
    the past or outside the window are dropped; an opening without an operatory passes unless
    ``require_operatory``. As in [open_slots][pms_connect.scheduling.open_slots], one slot per provider and start
    time.
    """
    duration = validate_duration(duration)
    limit = validate_limit(limit)
    lo = _aware(start, "start")
    hi = _aware(end, "end")
    if not_before is not None:
        lo = max(lo, _aware(not_before, "not_before"))
    groups: dict[tuple[str, str | None], list[Interval]] = {}
    for opening in openings:
        provider, chair = opening.provider_id, opening.operatory
        if provider is None or provider not in providers:
            continue
        if (chair is None and require_operatory) or (chair is not None and chair not in operatories):
            continue
        groups.setdefault((provider, chair), []).append(
            (opening.start.astimezone(UTC), opening.end.astimezone(UTC))
        )
    fits: dict[tuple[str, datetime], set[str | None]] = {}
    for (provider, chair), spans in groups.items():
        runs = _normalize(spans)
        for opening_start, _ in spans:
            t_end = opening_start + duration
            if opening_start < lo or t_end > hi or not _covers(runs, opening_start, t_end):
                continue
            fits.setdefault((provider, opening_start), set()).add(chair)
    slots: list[TimeSlot] = []
    for (provider, t), chairs in fits.items():
        preferred = [o for o in (preferences or {}).get(provider, ()) if o in chairs]
        chair = preferred[0] if preferred else min(chairs, key=lambda c: (c is None, _natural(c or "")))
        slots.append(
            TimeSlot(
                start=t.astimezone(zone),
                end=(t + duration).astimezone(zone),
                provider_id=provider,
                operatory=chair,
            )
        )
    slots = sort_slots(slots)
    return slots if limit is None else slots[:limit]


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """``OP2`` before ``OP10``."""
    parts = re.split(r"(\d+)", text.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def natural_order(ids: Iterable[str]) -> list[str]:
    """Ids in human order (``OP2`` before ``OP10``), the default order operatories are tried in."""
    return sorted(ids, key=_natural)
