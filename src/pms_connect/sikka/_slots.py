"""Open slots at Sikka: the PMS's own where Sikka has them, otherwise computed from working hours.

Sikka fills ``appointments_available_slots`` only for OrthoTrac and Dolphin (and those PMSs accept a booking
only at one of those slots), so for them the native openings are used. Everyone else gets slots computed by
[pms_connect.slot_search][] from ``practice_schedule`` (practice, provider and operatory hours), the
visible operatories, the active providers and the booked appointments. This module knows Sikka's rows
only; the search itself is shared.

Requests: providers, operatories and schedules are reference data, cached on the provider for its
``reference_ttl``; appointments are read for the whole window at once (one request per 5,000 rows), and
the cold-cache reads go out together. A warm search is one request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pms_connect import windows
from pms_connect.models import Appointment, ProviderKind, TimeSlot
from pms_connect.scheduling import DEFAULT_GRID, Block, Hours, PracticeHours, WeeklyHours
from pms_connect.sikka import _wire as w
from pms_connect.slot_search import SlotQuery, computed_slots, native_slots, slot_query

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

__all__ = ["NATIVE_UNIT", "find_slots", "load_schedules"]

logger = logging.getLogger("pms_connect.sikka.slots")

#: The length of one time unit of a native slot when Sikka gives units but no end time.
NATIVE_UNIT = timedelta(minutes=10)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # Python order
_BLOCKS_PER_DAY = 3
_PRACTICE_TYPES = {"practice", "office", "clinic"}
_PROVIDER_TYPES = {"provider", "doctor", "dentist", "hygienist"}
_OPERATORY_TYPES = {"operatory", "chair", "room"}


# -- schedules --------------------------------------------------------------------------------------------


def _lenient(parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError):
        return ...


def _weekly(row: w.ScheduleRow) -> WeeklyHours:
    extra = row.model_extra or {}
    days: dict[int, tuple[Block, ...]] = {}
    for weekday, name in enumerate(_WEEKDAYS):
        holiday = _lenient(w.parse_bool, extra.get(f"{name}_holiday"))
        if holiday is True:
            continue
        blocks: list[Block] = []
        for n in range(1, _BLOCKS_PER_DAY + 1):
            start = _lenient(w.parse_time, extra.get(f"{name}_start_{n}"))
            end = _lenient(w.parse_time, extra.get(f"{name}_end_{n}"))
            if start is None and end is None:
                continue
            if isinstance(start, time) and isinstance(end, time) and (start < end or end == time(0)):
                blocks.append((start, end))
            else:
                # Dropping a block we cannot read can only hide hours, never invent them.
                logger.warning("practice_schedule: ignoring an unreadable %s block", name)
        if blocks:
            days[weekday] = tuple(blocks)
    return WeeklyHours(days=days, effective=row.date.date() if row.date else None)


def read_schedules(rows: Iterable[w.ScheduleRow], practice_id: str) -> PracticeHours:
    """Group ``practice_schedule`` rows (all weeks, all resources) into [Hours][pms_connect.scheduling.Hours]
    per resource."""
    practice: list[WeeklyHours] = []
    providers: dict[str, list[WeeklyHours]] = {}
    operatories: dict[str, list[WeeklyHours]] = {}
    unknown: set[str] = set()
    count = 0
    for row in rows:
        if row.practice_id and row.practice_id != practice_id:
            continue
        count += 1
        kind = (row.resource_type or "").strip().lower()
        if kind in _PRACTICE_TYPES:
            practice.append(_weekly(row))
        elif kind in _PROVIDER_TYPES and row.resource_id:
            providers.setdefault(row.resource_id, []).append(_weekly(row))
        elif kind in _OPERATORY_TYPES and row.resource_id:
            operatories.setdefault(row.resource_id, []).append(_weekly(row))
        else:
            unknown.add(kind)
    if unknown:
        # Slots are computed without these rows: say so, rather than offer times nobody works.
        logger.warning("practice_schedule rows of unknown resource_type were left out: %s", sorted(unknown))
    return PracticeHours(
        practice=Hours(practice) if practice else None,
        providers={k: Hours(v) for k, v in providers.items()},
        operatories={k: Hours(v) for k, v in operatories.items()},
        published=count,
    )


async def load_schedules(pms: SikkaProvider) -> PracticeHours:
    """Every week of every resource in one paged read (cached by the caller)."""
    params = {"practice_id": pms.practice_id, "fields": "get_all"}
    rows = await pms.client.pager(
        "practice_schedule", params, w.ScheduleRow, lambda row: row, page_size=pms.page_size
    ).all()
    return read_schedules(rows, pms.practice_id)


# -- native slots -----------------------------------------------------------------------------------------


class NativeSlotRow(w.Wire):
    """One ``appointments_available_slots`` item (``fields=get_all``)."""

    provider_id: w.Text = None
    operatory: w.Text = None
    practice_id: w.Text = None
    date: w.DateTime = None
    time: w.Time = None
    end_time: w.Text = None
    time_units: w.Text = None
    template_unit: w.Text = None


def _units(*values: str | None) -> int | None:
    for value in values:
        parsed = _lenient(w.parse_int, value)
        if isinstance(parsed, int) and parsed > 0:
            return parsed
    return None


def native_opening(row: NativeSlotRow, zone: ZoneInfo) -> TimeSlot | None:
    """A native slot as an opening; its end from ``end_time``, else from its time units, else one unit."""
    if row.date is None or row.time is None:
        return None
    day = row.date.date()
    start = datetime.combine(day, row.time, tzinfo=zone)
    end_time = _lenient(w.parse_time, row.end_time)
    if isinstance(end_time, time):
        end_day = day if end_time > row.time else day + timedelta(days=1)
        end = datetime.combine(end_day, end_time, tzinfo=zone)
    else:
        units = _units(row.time_units, row.template_unit) or 1
        end = (start.astimezone(timezone.utc) + units * NATIVE_UNIT).astimezone(zone)
    return TimeSlot(start=start, end=end, provider_id=row.provider_id, operatory=row.operatory)


async def _native_openings(pms: SikkaProvider, query: SlotQuery) -> list[TimeSlot]:
    span, provider_id, operatory = query.span, query.provider_id, query.operatory
    params = {
        "practice_id": pms.practice_id,
        "startdate": span.first_day.isoformat(),
        "enddate": span.last_day.isoformat(),
        "fields": "get_all",
    }
    if provider_id is not None:
        params["provider_id"] = provider_id
    if operatory is not None:
        params["operatory"] = operatory
    zone = pms.timezone
    openings = await pms.client.pager(
        "appointments_available_slots",
        params,
        NativeSlotRow,
        lambda row: native_opening(row, zone),
        page_size=pms.page_size,
    ).all()
    return [o for o in openings if o is not None]


async def uses_native_slots(pms: SikkaProvider) -> bool:
    """OrthoTrac, Dolphin and Planet DDS practices (their bookings must match a native slot), when the app's
    plan includes the endpoint (an empty scope: assume so)."""
    if not (await pms.pms_rules()).native_slots:
        return False
    token = await pms.client.tokens.get()
    scope = {s.lower() for s in token.scope}
    return not scope or "appointments_available_slots" in scope


# -- the search -------------------------------------------------------------------------------------------


async def find_slots(
    pms: SikkaProvider,
    *,
    start: date | datetime,
    end: date | datetime,
    duration: timedelta,
    provider_id: str | None = None,
    operatory: str | None = None,
    kinds: Iterable[ProviderKind] | None = None,
    limit: int | None = None,
    grid: timedelta = DEFAULT_GRID,
) -> list[TimeSlot]:
    """Open slots of ``duration`` in ``[start, end)`` (a date is that whole local day), in the practice's
    zone, sorted by time, then provider, then operatory; at most ``limit``."""
    query = slot_query(
        start=start,
        end=end,
        duration=duration,
        zone=pms.timezone,
        provider_id=provider_id,
        operatory=operatory,
        kinds=kinds,
        limit=limit,
        grid=grid,
    )
    if await uses_native_slots(pms):
        return await native_slots(pms, query, openings=lambda q: _native_openings(pms, q))

    async def booked(span: windows.Window) -> list[Appointment]:
        return await pms.appointments.list(start=span.start, end=span.end).all()

    slots = await computed_slots(pms, query, hours=pms.schedules, booked=booked)
    logger.debug("find_slots: %d slots", len(slots))
    return slots
