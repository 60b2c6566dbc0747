"""Open slots at Open Dental: its schedules minus its appointments, as Open Dental's own guide recommends.

``GET /appointments/Slots`` is advised against for offices with several providers or locations ("API Guide -
Finding Appointment Openings"), so slots are computed by [pms_connect.slot_search][] from ``GET /schedules``
for the window's days:

* a Provider block is when that provider works that day; the chairs it names (``operatories``) are where:
  ``seats`` per (provider, chair). A provider none of whose blocks names a chair may sit in any free chair; a
  block naming none, of a provider whose other blocks do, seats them in every chair;
* a Practice block from 00:00 to 00:00 ("3 Day Weekend") closes the practice that day (Open Dental's API
  does not say whether such a row is a holiday or a practice note: the day is closed either way, which can
  only hide slots, never invent them);
* a Blockout block is busy time in the chairs it names (every chair when it names none), as an appointment
  with no provider;
* Employee and WebSchedASAP blocks do not bear on slots.

Schedules are dated, not weekly (``DatedHours``): a day without a block is a day off. They are cached per
window for the provider's ``reference_ttl`` (the last few windows only), so the searches of one phone call
cost one request each, for the appointments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pms_connect import windows
from pms_connect.clock import Clock
from pms_connect.models import Appointment, ProviderKind, TimeSlot
from pms_connect.opendental import _wire as w
from pms_connect.opendental._mapping import wire_date
from pms_connect.scheduling import DEFAULT_GRID, Block, DatedHours, DayHours, PracticeHours
from pms_connect.slot_search import computed_slots, slot_query

if TYPE_CHECKING:
    from pms_connect.opendental.provider import OpenDentalProvider

__all__ = [
    "BLOCKOUT",
    "OpenDays",
    "ScheduleCache",
    "Schedules",
    "busy",
    "find_slots",
    "load_schedules",
    "read_schedules",
]

logger = logging.getLogger("pms_connect.opendental.slots")

BLOCKOUT = "Blockout"
"""The ``status`` of the pseudo-appointments blockouts become (their ``provider_id`` is None)."""
_MIDNIGHT = time(0)
_NOT_ON_BOOK = frozenset({"planned"})  # AptStatus values that hold no time in the appointment book
_RECENT_WINDOWS = 8


@dataclass(frozen=True)
class Schedules:
    """What ``GET /schedules`` says about some days: working hours (with seats), closures and blockouts."""

    hours: PracticeHours
    closures: frozenset[date] = frozenset()
    blockouts: tuple[Appointment, ...] = ()
    days: tuple[date, date] | None = None
    """The first and last day read."""

    def chairs_of(self, provider_id: str, start: datetime, end: datetime, zone: ZoneInfo) -> frozenset[str]:
        """The chairs the provider's schedule names for all of [start, end) (none: it names none)."""
        found = set()
        for (provider, chair), hours in self.hours.seats.items():
            if provider == provider_id and _covers(hours, start, end, zone):
                found.add(chair)
        return frozenset(found)


class OpenDays:
    """A chair's hours at Open Dental: all day, every day the practice is not closed. Chairs keep no hours of
    their own there; the providers' blocks (and the chairs they name) say when a chair is used."""

    __slots__ = ("_closures",)

    def __init__(self, closures: frozenset[date]) -> None:
        self._closures = closures

    def blocks_on(self, day: date) -> tuple[Block, ...]:
        return () if day in self._closures else ((_MIDNIGHT, _MIDNIGHT),)

    def ends(self) -> list[time]:
        return [_MIDNIGHT]

    def __repr__(self) -> str:
        return f"OpenDays(closed on {len(self._closures)} days)"


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=zone)


def _block_span(day: date, block: Block, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start, end = block
    stop = _instant(day + timedelta(days=1), _MIDNIGHT, zone) if end == _MIDNIGHT else _instant(day, end, zone)
    return _instant(day, start, zone), stop


def _covers(hours: DayHours, start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    lo, hi = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    day = start.astimezone(zone).date()
    for block in hours.blocks_on(day):
        b_lo, b_hi = _block_span(day, block, zone)
        if b_lo.astimezone(timezone.utc) <= lo and hi <= b_hi.astimezone(timezone.utc):
            return True
    return False


def _block(row: w.ScheduleRow) -> Block | None:
    start, stop = row.StartTime, row.StopTime
    if row.SchedDate is None or start is None or stop is None:
        return None
    if start < stop or (stop == _MIDNIGHT and start != _MIDNIGHT):
        return (start, stop)
    return None


def read_schedules(rows: Iterable[w.ScheduleRow], *, zone: ZoneInfo, chairs: Sequence[str]) -> Schedules:
    """Group schedule rows into the practice's hours. ``chairs`` are the practice's visible operatories (a
    blockout naming none blocks all of them; a provider block naming none, of a provider whose other blocks
    name some, seats the provider in all of them)."""
    rows = list(rows)
    closures: set[date] = set()
    provider_days: dict[str, dict[date, list[Block]]] = {}
    seat_days: dict[tuple[str, str], dict[date, list[Block]]] = {}
    unseated: dict[str, list[tuple[date, Block]]] = {}
    blockouts: list[Appointment] = []
    unreadable = 0
    for row in rows:
        kind = (row.SchedType or "").casefold()
        if kind == "practice":
            if row.SchedDate is not None and row.StartTime == _MIDNIGHT and row.StopTime == _MIDNIGHT:
                closures.add(row.SchedDate)
            continue
        if kind not in ("provider", "blockout"):
            continue
        block = _block(row)
        if block is None:
            unreadable += 1
            continue
        day = row.SchedDate
        assert day is not None
        if kind == "blockout":
            lo, hi = _block_span(day, block, zone)
            for chair in row.operatories or tuple(chairs):
                blockouts.append(
                    Appointment(
                        id=f"blockout:{row.ScheduleNum}:{chair}",
                        operatory=chair,
                        start=lo,
                        duration=hi.astimezone(timezone.utc) - lo.astimezone(timezone.utc),
                        status=BLOCKOUT,
                        kind=row.blockoutType,
                    )
                )
            continue
        if row.ProvNum is None:
            unreadable += 1
            continue
        provider_days.setdefault(row.ProvNum, {}).setdefault(day, []).append(block)
        if row.operatories:
            for chair in row.operatories:
                seat_days.setdefault((row.ProvNum, chair), {}).setdefault(day, []).append(block)
        else:
            unseated.setdefault(row.ProvNum, []).append((day, block))
    seated_providers = {provider for provider, _ in seat_days}
    for provider, blocks in unseated.items():
        if provider in seated_providers:
            for chair in chairs:
                for day, block in blocks:
                    seat_days.setdefault((provider, chair), {}).setdefault(day, []).append(block)
    if unreadable:
        # Dropping a block we cannot read can only hide hours, never invent them.
        logger.warning("schedules: %d blocks without a readable day, time or provider were left out", unreadable)

    def dated(days: dict[date, list[Block]]) -> DatedHours:
        return DatedHours({day: blocks for day, blocks in days.items() if day not in closures})

    seats = {seat: dated(days) for seat, days in seat_days.items()}
    open_days = OpenDays(frozenset(closures))
    hours = PracticeHours(
        practice=None,
        providers={provider: dated(days) for provider, days in provider_days.items()},
        operatories=dict.fromkeys(chairs, open_days),
        # Open Dental publishes hours day by day: a window with no block is days off, not "no hours at all".
        published=max(1, len(rows)),
        seats=seats,
    )
    return Schedules(
        hours=hours,
        closures=frozenset(closures),
        blockouts=tuple(b for b in blockouts if b.start.date() not in closures),
    )


async def load_schedules(pms: OpenDentalProvider, first: date, last: date) -> Schedules:
    """``GET /schedules?dateStart&dateEnd`` for the days (every page), with the visible chairs."""
    params = {"dateStart": wire_date(first), "dateEnd": wire_date(last)}
    rows, chairs = await asyncio.gather(
        pms.client.pager("schedules", params, w.ScheduleRow, lambda row: row, page_size=pms.page_size).all(),
        pms.known_operatories(),
    )
    schedules = read_schedules(rows, zone=pms.timezone, chairs=[c.id for c in chairs])
    return dataclasses.replace(schedules, days=(first, last))


class ScheduleCache:
    """The schedules of the last few windows, each for ``ttl``; callers arriving while one loads share it."""

    def __init__(self, clock: Clock, ttl: timedelta, size: int = _RECENT_WINDOWS) -> None:
        self._clock = clock
        self._ttl = ttl.total_seconds()
        self._size = size
        self._entries: OrderedDict[tuple[date, date], tuple[float, asyncio.Future[Schedules]]] = OrderedDict()

    async def get(self, key: tuple[date, date], load: Callable[[], Awaitable[Schedules]]) -> Schedules:
        """The schedules of the days ``key`` spans (first, last): a fresh window's own, or a loaded fresh
        window's that covers them (a booking's day within the fortnight a slot search read costs no
        request), else loaded."""
        now = self._clock.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self._ttl and not _failed(entry[1]):
            self._entries.move_to_end(key)
            return await asyncio.shield(entry[1])
        for (first, last), (loaded_at, loaded) in reversed(self._entries.items()):
            covers = first <= key[0] and key[1] <= last
            if covers and now - loaded_at < self._ttl and loaded.done() and not _failed(loaded):
                return loaded.result()
        future = asyncio.ensure_future(load())
        self._entries[key] = (now, future)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        try:
            return await asyncio.shield(future)
        except BaseException:
            current = self._entries.get(key)
            if current is not None and current[1] is future:
                del self._entries[key]  # a failed load caches nothing
            raise

    def clear(self) -> None:
        self._entries.clear()


def _failed(future: asyncio.Future[Schedules]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def occupies_book(appointment: Appointment) -> bool:
    """Whether an appointment holds its time in the book (a planned one, not yet scheduled, does not;
    cancelled ones are left out by the slot arithmetic itself)."""
    return (appointment.status or "").casefold() not in _NOT_ON_BOOK


async def busy(pms: OpenDentalProvider, span: windows.Window) -> list[Appointment]:
    """Everything that holds time in [start, end): the book's appointments (cancelled ones included, marked
    so) and the blockouts, as appointments with no provider. What a booking's check reads."""
    appointments, schedules = await asyncio.gather(
        pms.appointments.overlapping(start=span.start, end=span.end).all(), pms.schedules(span)
    )
    blocked = [b for b in schedules.blockouts if span.overlaps_visit(b.start, b.duration)]
    return [a for a in appointments if occupies_book(a)] + blocked


async def find_slots(
    pms: OpenDentalProvider,
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
    zone, sorted by time, then provider, then operatory; at most ``limit``; never in the past."""
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

    async def hours() -> PracticeHours:
        return (await pms.schedules(query.span)).hours

    async def booked(span: windows.Window) -> list[Appointment]:
        return await busy(pms, span)

    slots = await computed_slots(pms, query, hours=hours, booked=booked)
    logger.debug("find_slots: %d slots", len(slots))
    return slots
