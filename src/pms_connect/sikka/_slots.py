"""Open slots at Sikka: the PMS's own where Sikka has them, otherwise computed from working hours.

Sikka fills ``appointments_available_slots`` only for OrthoTrac and Dolphin (and those PMSs accept a booking
only at one of those slots), so for them the native openings are used. Everyone else gets slots computed by
[pms_connect.scheduling][] from ``practice_schedule`` (practice, provider and operatory hours), the
visible operatories, the active providers and the booked appointments.

Requests: providers, operatories and schedules are reference data, cached on the provider for its
``reference_ttl``; appointments are read for the whole window at once (one request per 5,000 rows), and
the cold-cache reads go out together. A warm search is one request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pms_connect import windows
from pms_connect.errors import InvalidArgumentError, UnsupportedOperationError
from pms_connect.models import Appointment, Operatory, Provider, ProviderKind, TimeSlot
from pms_connect.scheduling import (
    DEFAULT_GRID,
    Block,
    Hours,
    WeeklyHours,
    WorkingHours,
    natural_order,
    open_slots,
    resolve_hours,
    slots_from_openings,
    validate_duration,
    validate_grid,
    validate_limit,
)
from pms_connect.sikka import _wire as w
from pms_connect.stores import SlotClaim
from pms_connect.validation import check_optional_id

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


# -- validation (before any request) ----------------------------------------------------------------------


def _kinds(kinds: Iterable[ProviderKind | str] | None) -> frozenset[ProviderKind] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str | ProviderKind):
        kinds = [kinds]
    try:
        chosen = frozenset(ProviderKind(k) for k in kinds)
    except (ValueError, TypeError):
        names = ", ".join(k.value for k in ProviderKind)
        raise InvalidArgumentError(f"kinds must be ProviderKind values ({names})") from None
    if not chosen:
        raise InvalidArgumentError("kinds must name at least one ProviderKind (or be None for all)")
    return chosen


# -- schedules --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedules:
    """The practice's ``practice_schedule`` rows, read into hours per level."""

    practice: Hours | None
    providers: dict[str, Hours] = field(default_factory=dict)
    operatories: dict[str, Hours] = field(default_factory=dict)
    rows: int = 0

    @property
    def reach_midnight(self) -> bool:
        """Whether any hours run to midnight (or none are published): then a visit may start one day and
        run into the next, and a list from a day must look at the day before."""
        if self.rows == 0:
            return True
        levels = [self.practice] if self.practice is not None else []
        levels += [*self.providers.values(), *self.operatories.values()]
        return any(end == time(0) for hours in levels for weekly in hours.schedules for end in weekly.ends())


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


def read_schedules(rows: Iterable[w.ScheduleRow], practice_id: str) -> Schedules:
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
    return Schedules(
        practice=Hours(practice) if practice else None,
        providers={k: Hours(v) for k, v in providers.items()},
        operatories={k: Hours(v) for k, v in operatories.items()},
        rows=count,
    )


async def load_schedules(pms: SikkaProvider) -> Schedules:
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


async def _native_openings(
    pms: SikkaProvider, span: windows.Window, provider_id: str | None, operatory: str | None
) -> list[TimeSlot]:
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


def _candidates(
    providers: list[Provider],
    operatories: list[Operatory],
    provider_id: str | None,
    operatory: str | None,
    kinds: frozenset[ProviderKind] | None,
) -> tuple[list[str], list[str]]:
    active = {p.id: p for p in providers if p.active}
    if provider_id is not None and provider_id not in active:
        raise InvalidArgumentError("provider_id is not an active provider of this practice")
    visible = natural_order(o.id for o in operatories if not o.hidden)
    if operatory is not None and operatory not in visible:
        raise InvalidArgumentError("operatory is not a visible operatory of this practice")
    chosen = [
        p.id
        for p in active.values()
        if (provider_id is None or p.id == provider_id) and (kinds is None or p.kind in kinds)
    ]
    return natural_order(chosen), [operatory] if operatory is not None else visible


def chair_preferences(appointments: Iterable[Appointment]) -> dict[str, list[str]]:
    """Each provider's operatories, most booked first: where the practice usually seats that provider."""
    counts: dict[str, dict[str, int]] = {}
    for a in appointments:
        if a.provider_id and a.operatory:
            per = counts.setdefault(a.provider_id, {})
            per[a.operatory] = per.get(a.operatory, 0) + 1
    return {p: sorted(per, key=lambda o: (-per[o], o)) for p, per in counts.items()}


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
    duration = validate_duration(duration)
    limit = validate_limit(limit)
    grid = validate_grid(grid)
    wanted_kinds = _kinds(kinds)
    provider_id = check_optional_id(provider_id, "provider_id")
    operatory = check_optional_id(operatory, "operatory")
    span = windows.window(start, end, pms.timezone)

    if await uses_native_slots(pms):
        providers, operatories, openings, held = await asyncio.gather(
            pms.known_providers(),
            pms.known_operatories(),
            _native_openings(pms, span, provider_id, operatory),
            pms.guard.held(),
        )
        provider_ids, operatory_ids = _candidates(providers, operatories, provider_id, operatory, wanted_kinds)
        native = slots_from_openings(
            openings,
            start=span.start,
            end=span.end,
            duration=duration,
            zone=pms.timezone,
            providers=set(provider_ids),
            operatories=set(operatory_ids),
            not_before=pms.now(),
            require_operatory=operatory is not None,
            limit=None,
        )
        free = [s for s in native if not any(_clashes(h.claim, s) for h in held)]
        return free if limit is None else free[:limit]

    providers, operatories, schedules, booked = await asyncio.gather(
        pms.known_providers(),
        pms.known_operatories(),
        pms.schedules(),
        pms.appointments.list(start=span.start, end=span.end).all(),
    )
    # Times claimed by bookings in flight (this worker's or another's) are as taken as booked ones.
    booked = booked + [_as_appointment(h.claim, pms.timezone) for h in await pms.guard.held(booked)]
    provider_ids, operatory_ids = _candidates(providers, operatories, provider_id, operatory, wanted_kinds)
    if schedules.rows == 0:
        raise UnsupportedOperationError(
            "the practice publishes no working hours (practice_schedule is empty); open slots cannot be computed"
        )
    hours = WorkingHours(
        practice=schedules.practice,
        providers=resolve_hours(schedules.practice, schedules.providers, provider_ids),
        operatories=resolve_hours(schedules.practice, schedules.operatories, operatory_ids),
    )
    slots = open_slots(
        start=span.start,
        end=span.end,
        duration=duration,
        zone=pms.timezone,
        hours=hours,
        providers=provider_ids,
        operatories=operatory_ids,
        booked=booked,
        not_before=pms.now(),
        grid=grid,
        preferences=chair_preferences(booked),
        limit=limit,
    )
    logger.debug("find_slots: %d slots from %d appointments", len(slots), len(booked))
    return slots


def _clashes(claim: SlotClaim, slot: TimeSlot) -> bool:
    same = claim.provider_id == slot.provider_id or (
        claim.operatory is not None and claim.operatory == slot.operatory
    )
    return same and claim.overlaps(slot.start, slot.end)


def _as_appointment(claim: SlotClaim, zone: ZoneInfo) -> Appointment:
    """A claim in flight, shaped as the appointment it will be, for the slot arithmetic."""
    return Appointment(
        id=f"claim:{claim.provider_id}:{claim.start.isoformat()}",
        provider_id=claim.provider_id,
        operatory=claim.operatory,
        start=claim.start.astimezone(zone),
        duration=claim.end - claim.start,
    )
