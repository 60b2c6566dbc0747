"""The conformance checks: each a coroutine function of a
[ConformanceTarget][pms_connect.testing.conformance.ConformanceTarget].

A check opens its own provider instance (two for the checks about another worker) through
``target.connect``, drives it through the public [PmsProvider][pms_connect.protocol.PmsProvider] surface only,
and raises ``AssertionError`` saying what the provider did wrong, or ``unittest.SkipTest`` (which pytest reports
as a skip) when the target cannot support it. Every write a check makes is followed to its outcome before the
check ends, so that checks sharing one PMS do not see each other's writes still in flight.

[ProviderConformance][pms_connect.testing.conformance.ProviderConformance] runs each one as a test; call them
directly to run one check in your own test, or against a wrapped provider:

    await checks.check_no_duplicate_rows(target)
"""

from __future__ import annotations

import asyncio
import bisect
import unittest
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pms_connect.errors import (
    InvalidArgumentError,
    NotFoundError,
    PmsError,
    SlotUnavailableError,
    UnsupportedOperationError,
)
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    MatchStatus,
    NewPatient,
    PaymentRequest,
    TimeSlot,
    Writeback,
    WritebackKind,
    WritebackResult,
    WritebackState,
)
from pms_connect.pagination import AsyncPager
from pms_connect.protocol import PmsProvider
from pms_connect.testing.conformance._support import (
    THIRTY,
    a_patient,
    active_provider_ids,
    assert_local,
    bookable_slot,
    booking_for,
    captured_logs,
    created,
    day_span,
    digits,
    elapsed,
    elapsed_after,
    elapsed_before,
    error_text,
    expect,
    fresh_phone,
    known_payment_type,
    maybe_await,
    next_offset_change,
    open_slots,
    overlaps,
    record_texts,
    require,
    settle,
    skip,
    slot_days,
    surname,
    unambiguous,
    unused_id,
    utc,
    written,
)
from pms_connect.testing.conformance._target import ConformanceTarget

__all__ = [
    "CHECKS",
    "Check",
    "check_appointments_stay_in_their_window",
    "check_bad_arguments_raise_before_any_request",
    "check_booking_and_cancelling_are_written",
    "check_booking_guard_refuses_the_same_slot",
    "check_durations_are_elapsed_time_across_dst",
    "check_new_patient_is_written",
    "check_no_duplicate_rows",
    "check_no_phi_in_logs_errors_or_reprs",
    "check_pager_views_agree",
    "check_patient_matching",
    "check_payment_is_written",
    "check_provider_surface",
    "check_recheck_refuses_a_slot_booked_elsewhere",
    "check_refused_write_fails",
    "check_rescheduling_is_written",
    "check_slots_are_never_in_the_past",
    "check_slots_are_whole_and_free",
    "check_times_are_aware_and_local",
    "check_unknown_ids_raise_not_found",
    "check_write_times_are_local",
    "check_writes_complete_in_the_background",
]

Check = Callable[[ConformanceTarget], Awaitable[None]]
"""A conformance check: a coroutine function of the target, raising ``AssertionError`` when the provider fails."""

_REASON = "Conformance check"


class _Writes:
    """The handles a check made, each followed to its outcome when the check ends (whatever happened)."""

    def __init__(self, target: ConformanceTarget, pms: PmsProvider) -> None:
        self._target = target
        self._pms = pms
        self._open: list[Writeback] = []

    def add(self, handle: Writeback) -> Writeback:
        if isinstance(handle, Writeback):
            self._open.append(handle)
        return handle

    def done(self, handle: Writeback) -> None:
        if handle in self._open:
            self._open.remove(handle)

    async def drain(self) -> None:
        for handle in self._open:
            try:
                await self._pms.writebacks.wait(handle, timeout=self._target.write_timeout)
            except Exception:  # noqa: S112 - clean-up of a check that already failed; the failure is what counts
                continue
        self._open.clear()


@asynccontextmanager
async def _writing(target: ConformanceTarget, pms: PmsProvider) -> AsyncIterator[_Writes]:
    writes = _Writes(target, pms)
    try:
        yield writes
    finally:
        await writes.drain()


async def _wait(target: ConformanceTarget, pms: PmsProvider, writes: _Writes, handle: Writeback, what: str) -> str:
    """Follow a write to ``written`` and return the id it created."""
    writes.add(handle)
    created_id = await created(target, pms, handle, what)
    writes.done(handle)
    return created_id


# -- the provider object ---------------------------------------------------------------------------------


async def check_provider_surface(target: ConformanceTarget) -> None:
    """The object ``connect`` yields implements [PmsProvider][pms_connect.protocol.PmsProvider]: a ``ZoneInfo``
    zone, ``now()`` aware in it, ``today()`` its date, and a connection check that succeeds."""
    async with target.connect() as pms:
        if not isinstance(pms, PmsProvider):
            raise AssertionError(f"{type(pms).__name__} does not implement the PmsProvider protocol")
        zone = pms.timezone
        if not isinstance(zone, ZoneInfo):
            raise AssertionError(f"timezone is a {type(zone).__name__}, not a ZoneInfo")
        now = pms.now()
        assert_local(now, zone, "now()")
        if pms.today() != now.date():
            raise AssertionError(f"today() is {pms.today()}, but now() is on {now.date()}")
        check = await pms.test_connection()
        if not check.ok:
            raise AssertionError(f"test_connection() failed: {check.error}")


# -- reads and paging ------------------------------------------------------------------------------------


def _lists(target: ConformanceTarget, pms: PmsProvider) -> list[tuple[str, AsyncPager[Any]]]:
    first, last = slot_days(target, pms)
    today = pms.today()
    return [
        ("practices.list()", pms.practices.list()),
        ("providers.list()", pms.providers.list()),
        ("operatories.list(include_hidden=True)", pms.operatories.list(include_hidden=True)),
        ("patients.list()", pms.patients.list()),
        (f"appointments.list({first}, {last})", pms.appointments.list(start=first, end=last)),
        ("insurance.carriers()", pms.insurance.carriers()),
        ("payments.list(the last 14 days)", pms.payments.list(start=today - timedelta(days=14), end=today)),
    ]


def _duplicates(ids: Sequence[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


async def check_no_duplicate_rows(target: ConformanceTarget) -> None:
    """Every list (practices, providers, chairs, patients, appointments, carriers, ledger) yields each row once:
    no id twice, whether iterated or read page by page. Lists spanning several pages prove the most: give the
    provider a small page size."""
    async with target.connect() as pms:
        for what, pager in _lists(target, pms):
            try:
                rows = [row async for row in pager]
            except UnsupportedOperationError:
                continue
            twice = _duplicates([row.id for row in rows])
            if twice:
                raise AssertionError(f"{what} yields {len(twice)} id(s) more than once, e.g. {twice[:3]}")
            seen: dict[str, int] = {}
            async for page in pager.pages():
                for row in page.items:
                    if row.id in seen:
                        raise AssertionError(
                            f"{what}: id {row.id!r} is on page {seen[row.id]} and again on page {page.index}"
                        )
                    seen[row.id] = page.index


async def check_pager_views_agree(target: ConformanceTarget) -> None:
    """For every list, ``async for``, ``await pager.all()``, ``pager.pages()`` (numbered 0, 1, ...),
    ``await pager`` (the first page) and ``pager.first()`` give the same rows in the same order."""
    async with target.connect() as pms:
        for what, pager in _lists(target, pms):
            try:
                iterated = [row async for row in pager]
            except UnsupportedOperationError:
                continue
            everything = await pager.all()
            if everything != iterated:
                raise AssertionError(
                    f"{what}: all() gives {len(everything)} rows, iterating {len(iterated)} (or in another order)"
                )
            pages = [page async for page in pager.pages()]
            indexes = [page.index for page in pages]
            if indexes != list(range(len(pages))):
                raise AssertionError(f"{what}: pages() numbers its pages {indexes[:10]}, not 0, 1, 2, ...")
            paged = [row for page in pages for row in page.items]
            if paged != iterated:
                raise AssertionError(f"{what}: pages() hold {len(paged)} rows, iterating gives {len(iterated)}")
            first_page = await pager
            if list(first_page.items) != list(pages[0].items):
                raise AssertionError(f"{what}: `await pager` is not the first page pages() gives")
            first = await pager.first()
            if first != (iterated[0] if iterated else None):
                raise AssertionError(f"{what}: first() is not the first row")


async def _busy_day(pms: PmsProvider, first: date, last: date) -> tuple[date, list[Appointment]]:
    booked = [a for a in await pms.appointments.list(start=first, end=last).all() if not a.cancelled]
    if not booked:
        raise AssertionError(f"appointments.list({first}, {last}) is empty: the kit needs a book to read")
    day = Counter(a.start.date() for a in booked).most_common(1)[0][0]
    return day, booked


async def check_appointments_stay_in_their_window(target: ConformanceTarget) -> None:
    """``appointments.list`` returns exactly the appointments overlapping its window: a date window (a date
    ``end`` includes that day), a datetime window within a day, and a window given in UTC; ``provider_id`` and
    ``patient_id`` keep only (and all of) that provider's and patient's appointments."""
    async with target.connect() as pms:
        zone = pms.timezone
        first, last = slot_days(target, pms)
        day, _ = await _busy_day(pms, first, last)

        def outside(rows: list[Appointment], lo: datetime, hi: datetime) -> list[str]:
            return [a.id for a in rows if not overlaps(a.start, a.end, lo, hi)]

        whole = await pms.appointments.list(start=day, end=day).all()
        lo, hi = day_span(day, day, zone)
        if bad := outside(whole, lo, hi):
            raise AssertionError(f"appointments.list({day}, {day}) returns {bad[:3]}, which are not on {day}")

        busiest = Counter(a.start.hour for a in whole if not a.cancelled).most_common(1)[0][0]
        w0 = datetime.combine(day, time(busiest, 15), tzinfo=zone)
        w1 = w0 + timedelta(minutes=75)
        for label, (start, end) in {"local": (w0, w1), "UTC": (utc(w0), utc(w1))}.items():
            inner = await pms.appointments.list(start=start, end=end).all()
            if bad := outside(inner, w0, w1):
                raise AssertionError(f"appointments.list over {w0:%H:%M}-{w1:%H:%M} ({label}) returns {bad[:3]}")
            expected = {a.id for a in whole if overlaps(a.start, a.end, w0, w1)}
            if missing := expected - {a.id for a in inner}:
                raise AssertionError(
                    f"appointments.list over {w0:%H:%M}-{w1:%H:%M} ({label}) leaves out {sorted(missing)[:3]}, "
                    "which overlap the window"
                )

        edge = next(a for a in whole if not a.cancelled)
        minute = timedelta(minutes=1)
        for lo_edge, hi_edge, inside in (
            (edge.start - THIRTY, edge.start, False),  # ends as the appointment starts
            (edge.end, elapsed_after(edge.end, minute), False),  # starts as it ends
            (edge.start, elapsed_after(edge.start, minute), True),  # its first minute
            (elapsed_before(edge.end, minute), edge.end, True),  # its last minute
        ):
            listed = edge.id in {a.id for a in await pms.appointments.list(start=lo_edge, end=hi_edge).all()}
            if listed is not inside:
                raise AssertionError(
                    f"appointments.list({lo_edge:%H:%M}, {hi_edge:%H:%M}) {'leaves out' if inside else 'returns'} "
                    f"appointment {edge.id} ({edge.start:%H:%M}-{edge.end:%H:%M}); a window is [start, end)"
                )

        provider = Counter(a.provider_id for a in whole if a.provider_id).most_common(1)[0][0]
        theirs = await pms.appointments.list(start=day, end=day, provider_id=provider).all()
        if strays := [a.id for a in theirs if provider not in (a.provider_id, a.hygienist_id)]:
            raise AssertionError(f"appointments.list(provider_id={provider!r}) returns others' {strays[:3]}")
        if missing := {a.id for a in whole if a.provider_id == provider} - {a.id for a in theirs}:
            raise AssertionError(f"appointments.list(provider_id={provider!r}) leaves out {sorted(missing)[:3]}")

        patient = next((a.patient_id for a in whole if a.patient_id), None)
        if patient is not None:
            lo_day, hi_day = day - timedelta(days=7), day + timedelta(days=7)
            mine = await pms.appointments.list(start=lo_day, end=hi_day, patient_id=patient).all()
            if strays := [a.id for a in mine if a.patient_id != patient]:
                raise AssertionError(
                    f"appointments.list(patient_id=...) returns others' appointments {strays[:3]}"
                )
            if missing := {a.id for a in whole if a.patient_id == patient} - {a.id for a in mine}:
                raise AssertionError(f"appointments.list(patient_id=...) leaves out {sorted(missing)[:3]}")


# -- times -----------------------------------------------------------------------------------------------


async def check_times_are_aware_and_local(target: ConformanceTarget) -> None:
    """Every datetime a read returns (appointments listed, one read by id, open slots, ``now()``) is aware and
    in ``provider.timezone``, also when the window was given in another zone."""
    async with target.connect() as pms:
        zone = pms.timezone
        first, last = slot_days(target, pms)
        rows = await pms.appointments.list(start=first - timedelta(days=7), end=last).all()
        for row in rows:
            assert_local(row, zone, f"appointment {row.id}")
        if rows:
            assert_local(await pms.appointments.get(rows[0].id), zone, f"appointments.get({rows[0].id!r})")
        lo, hi = day_span(first, first + timedelta(days=1), zone)
        for row in await pms.appointments.list(start=utc(lo), end=utc(hi)).all():
            assert_local(row, zone, f"appointment {row.id} (listed with a UTC window)")
        for i, slot in enumerate(await open_slots(target, pms)):
            assert_local(slot, zone, f"find_slots()[{i}]")
        assert_local(pms.now(), zone, "now()")


async def check_write_times_are_local(target: ConformanceTarget) -> None:
    """A write's handle (``submitted_at``, ``deadline``) and its result (``completed_at``) are aware and in
    ``provider.timezone``, like every other time the provider returns."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.BOOK_APPOINTMENT)
        patient = await a_patient(pms)
        slot = await bookable_slot(target, pms)
        handle = writes.add(await pms.appointments.book(await booking_for(pms, slot, patient.id, _REASON)))
        result = await settle(target, pms, handle, "the booking")
        writes.done(handle)
        status = await pms.writebacks.status(handle)
        zone = pms.timezone
        assert_local(handle, zone, "the booking's Writeback")
        assert_local(result, zone, "its WritebackResult from wait()")
        assert_local(status, zone, "its WritebackResult from status()")


async def check_durations_are_elapsed_time_across_dst(target: ConformanceTarget) -> None:
    """Across a daylight-saving change an appointment keeps its elapsed length: booked across the zone's next
    offset change (or read on ``target.dst_day``), it reads back at the same instant with its duration, and
    ``end - start`` in UTC equals ``duration`` for every appointment and slot around the change, each with
    the offset of its own side of the change."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        zone = pms.timezone
        if target.dst_day is not None:
            day = target.dst_day
            lo, hi = day_span(day, day, zone)
            if lo.utcoffset() == (hi - timedelta(seconds=1)).utcoffset():
                raise AssertionError(f"ConformanceTarget.dst_day {day} is not a day on which {zone.key} changes")
        else:
            await require(pms, Capability.BOOK_APPOINTMENT)
            change = next_offset_change(zone, pms.now() + timedelta(days=1))
            if change is None:
                raise skip(f"{zone.key} has no UTC offset change in the next two years")
            start = (change - timedelta(hours=2)).astimezone(zone)
            if not unambiguous(start, zone):
                raise skip(f"no unambiguous wall time two hours before {zone.key}'s change at {change}")
            duration = timedelta(hours=3)
            patient = await a_patient(pms)
            booked_id = None
            for provider_id in await active_provider_ids(pms):
                request = BookingRequest(
                    patient_id=patient.id, provider_id=provider_id, start=start, duration=duration, reason=_REASON
                )
                try:
                    handle = await pms.appointments.book(request)
                except SlotUnavailableError:
                    continue
                booked_id = await _wait(target, pms, writes, handle, "the booking across the change")
                break
            if booked_id is None:
                raise AssertionError(f"every active provider is taken at {start.isoformat()}: cannot book across")
            booked = await pms.appointments.get(booked_id)
            assert_local(booked, zone, f"appointment {booked_id}")
            if utc(booked.start) != utc(start):
                raise AssertionError(
                    f"booked at {start.isoformat()}, read back at {booked.start.isoformat()} across the change"
                )
            if booked.duration != duration:
                raise AssertionError(f"booked for {duration}, read back as {booked.duration} across the change")
            if elapsed(booked.start, booked.end) != duration:
                raise AssertionError(f"end - start is {elapsed(booked.start, booked.end)} in UTC, not {duration}")
            if booked.start.utcoffset() == booked.end.utcoffset():
                raise AssertionError("the booking across the change starts and ends with the same UTC offset")
            day = start.date()
        around = await pms.appointments.list(start=day - timedelta(days=1), end=day + timedelta(days=1)).all()
        if not around:
            raise AssertionError(f"appointments.list around {day} is empty: nothing shows the change")
        for row in around:
            assert_local(row, zone, f"appointment {row.id}")
            if elapsed(row.start, row.end) != row.duration:
                raise AssertionError(
                    f"appointment {row.id}: end - start in UTC is not its duration {row.duration}"
                )
        try:
            slots = await pms.appointments.find_slots(
                start=day - timedelta(days=3), end=day + timedelta(days=3), duration=timedelta(minutes=45)
            )
        except UnsupportedOperationError:
            slots = []
        for slot in slots:
            assert_local(slot, zone, f"the slot at {slot.start.isoformat()}")
            if elapsed(slot.start, slot.end) != timedelta(minutes=45):
                raise AssertionError(f"the 45-minute slot at {slot.start.isoformat()} lasts {slot.duration}")


# -- open slots -------------------------------------------------------------------------------------------


async def check_slots_are_never_in_the_past(target: ConformanceTarget) -> None:
    """A window from yesterday on offers nothing before ``provider.now()``, and a window wholly in the past
    offers nothing at all."""
    async with target.connect() as pms:
        today = pms.today()
        _, last = slot_days(target, pms)
        slots = await pms.appointments.find_slots(
            start=today - timedelta(days=1), end=max(last, today + timedelta(days=1)), duration=THIRTY
        )
        now = pms.now()
        if not slots:
            raise AssertionError(f"find_slots from {today - timedelta(days=1)} to {last} found nothing to check")
        if past := [s for s in slots if utc(s.start) < utc(now)]:
            raise AssertionError(
                f"find_slots offers {len(past)} slot(s) before now ({now.isoformat()}), "
                f"e.g. {past[0].start.isoformat()}"
            )
        try:
            gone = await pms.appointments.find_slots(
                start=today - timedelta(days=8), end=today - timedelta(days=1), duration=THIRTY
            )
        except InvalidArgumentError:
            gone = []
        if gone:
            raise AssertionError(
                f"find_slots offers {len(gone)} slot(s) in last week, e.g. {gone[0].start.isoformat()}"
            )


def _busy_index(booked: Sequence[Appointment]) -> dict[tuple[str, str], tuple[list[datetime], list[datetime]]]:
    """Per provider and per chair: starts sorted, and the latest end among the appointments up to each."""
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in booked:
        if a.cancelled:
            continue
        span = (utc(a.start), utc(a.end))
        for who in {a.provider_id, a.hygienist_id} - {None}:
            spans["provider", who or ""].append(span)
        if a.operatory:
            spans["operatory", a.operatory].append(span)
    index = {}
    for key, items in spans.items():
        items.sort()
        latest: list[datetime] = []
        for _, end in items:
            latest.append(max(end, latest[-1]) if latest else end)
        index[key] = ([s for s, _ in items], latest)
    return index


def _taken(
    index: dict[tuple[str, str], tuple[list[datetime], list[datetime]]], key: tuple[str, str], slot: TimeSlot
) -> bool:
    if key not in index:
        return False
    starts, latest = index[key]
    before_end = bisect.bisect_left(starts, utc(slot.end))  # appointments starting before the slot ends
    return before_end > 0 and latest[before_end - 1] > utc(slot.start)


async def check_slots_are_whole_and_free(target: ConformanceTarget) -> None:
    """Every slot lasts exactly the asked duration (elapsed time), lies in the window, is sorted by time,
    belongs to an active provider and a visible chair, and overlaps no booked, non-cancelled appointment of
    its provider (as provider or hygienist) or its chair, as ``appointments.list`` shows them; ``limit`` keeps
    the first slots."""
    async with target.connect() as pms:
        zone = pms.timezone
        first, last = slot_days(target, pms)
        lo, hi = day_span(first, last, zone)
        booked = await pms.appointments.list(start=first - timedelta(days=1), end=last).all()
        index = _busy_index(booked)
        active = {p.id for p in await pms.known_providers() if p.active}
        chairs = {o.id for o in await pms.known_operatories()}
        every: list[TimeSlot] = []
        for duration in (THIRTY, timedelta(minutes=60)):
            slots = await open_slots(target, pms, duration)
            every = every or slots
            starts = [utc(s.start) for s in slots]
            if starts != sorted(starts):
                raise AssertionError(f"find_slots({duration}) is not sorted by start")
            for slot in slots:
                at = slot.start.isoformat()
                assert_local(slot, zone, f"the slot at {at}")
                if elapsed(slot.start, slot.end) != duration:
                    raise AssertionError(f"the slot at {at} lasts {elapsed(slot.start, slot.end)}, not {duration}")
                if utc(slot.start) < utc(lo) or utc(slot.end) > utc(hi):
                    raise AssertionError(f"the slot at {at} is outside the window {first}..{last}")
                if slot.provider_id is not None and slot.provider_id not in active:
                    raise AssertionError(f"the slot at {at} is for {slot.provider_id!r}, not an active provider")
                if slot.operatory is not None and slot.operatory not in chairs:
                    raise AssertionError(f"the slot at {at} is in {slot.operatory!r}, not a visible chair")
                if slot.provider_id is not None and _taken(index, ("provider", slot.provider_id), slot):
                    raise AssertionError(f"the slot at {at} is over a booked appointment of {slot.provider_id!r}")
                if slot.operatory is not None and _taken(index, ("operatory", slot.operatory), slot):
                    raise AssertionError(f"the slot at {at} is over a booked appointment in {slot.operatory!r}")
        limited = await pms.appointments.find_slots(start=first, end=last, duration=THIRTY, limit=3)
        if list(limited) != every[:3]:
            raise AssertionError(
                "find_slots(limit=3) is not the first three slots find_slots gives without a limit"
            )


# -- booking ---------------------------------------------------------------------------------------------


async def check_booking_guard_refuses_the_same_slot(target: ConformanceTarget) -> None:
    """Booking a found slot returns a [Writeback][pms_connect.models.Writeback] handle; booking it again while
    the first is pending, and again once it is written, raises
    [SlotUnavailableError][pms_connect.errors.SlotUnavailableError]."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.BOOK_APPOINTMENT)
        patient = await a_patient(pms)
        slot = await bookable_slot(target, pms)
        request = await booking_for(pms, slot, patient.id, _REASON)
        handle = writes.add(await pms.appointments.book(request))
        if not isinstance(handle, Writeback) or handle.kind is not WritebackKind.BOOK_APPOINTMENT:
            raise AssertionError(f"book() returned {handle!r}, not a book_appointment Writeback")
        await expect(SlotUnavailableError, lambda: pms.appointments.book(request), "booking a slot being booked")
        await _wait(target, pms, writes, handle, "the booking")
        await expect(SlotUnavailableError, lambda: pms.appointments.book(request), "booking a slot already booked")


async def check_recheck_refuses_a_slot_booked_elsewhere(target: ConformanceTarget) -> None:
    """A slot found free, then booked by another worker (a second instance with its own store, on the same PMS
    data) before this one books it, is refused by the booking's re-check with
    [SlotUnavailableError][pms_connect.errors.SlotUnavailableError]: when the other worker took the same
    provider and chair, and when it took only the chair, for another provider."""
    async with (
        target.connect() as ours,
        target.connect() as theirs,
        _writing(target, ours) as our_writes,
        _writing(target, theirs) as their_writes,
    ):
        await require(ours, Capability.BOOK_APPOINTMENT)
        patient = await a_patient(ours)
        slots = await open_slots(target, ours)
        later = [s for s in slots if utc(s.start) >= utc(ours.now()) + timedelta(days=1)] or slots
        slot = later[0]
        ours_first = await booking_for(ours, slot, patient.id, _REASON)
        # Two providers free at one time after the first slot: ours wants the first one's chair, the other
        # worker takes that chair for the second provider.
        at_once: dict[datetime, list[TimeSlot]] = defaultdict(list)
        for s in later:
            if s.provider_id and s.operatory and utc(s.start) >= utc(slot.end):
                at_once[utc(s.start)].append(s)
        pair = next(((g[0], o) for g in at_once.values() for o in g if o.provider_id != g[0].provider_id), None)

        booked = await theirs.appointments.book(ours_first)
        await _wait(target, theirs, their_writes, booked, "the other worker's booking")
        taken = [("the same provider and chair", ours_first)]
        if pair is not None:
            wanted, other = pair
            ours_second = await booking_for(ours, wanted, patient.id, _REASON)
            theirs_second = ours_second.model_copy(update={"provider_id": other.provider_id})
            booked = await theirs.appointments.book(theirs_second)
            await _wait(target, theirs, their_writes, booked, "the other worker's booking of the chair")
            taken.append(("the chair, for another provider", ours_second))
        for what, request in taken:
            try:
                our_writes.add(await ours.appointments.book(request))
            except SlotUnavailableError:
                continue
            raise AssertionError(
                f"book() sent a booking for a slot another worker had booked since it was found ({what})"
            )


# -- matching ---------------------------------------------------------------------------------------------


async def check_patient_matching(target: ConformanceTarget) -> None:
    """``patients.match``: two charts sharing a phone are ``ambiguous`` (both candidates, whatever the phone's
    format); a birthdate or a first name makes it ``exact`` (that chart); an unknown phone is ``none``. The
    charts are created through ``patients.create``."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.CREATE_PATIENT)
        phone = await fresh_phone(pms, 312)
        nobody = await fresh_phone(pms, 312, avoid={phone})
        last = surname("Conformance")
        family = [
            NewPatient(first_name="Marguerite", last_name=last, birthdate=date(1961, 3, 4), cell_phone=phone),
            NewPatient(first_name="Bartholomew", last_name=last, birthdate=date(1990, 8, 9), cell_phone=phone),
        ]
        ids = []
        for i, member in enumerate(family):
            ids.append(await _wait(target, pms, writes, await pms.patients.create(member), f"creating chart {i}"))

        for asked in (phone, "+1 " + phone.replace("(", "").replace(") ", "-"), digits(phone)):
            tied = await pms.patients.match(phone=asked)
            if tied.status is not MatchStatus.AMBIGUOUS:
                raise AssertionError(
                    f"two charts on one phone ({asked!r}) match {tied.status.value}, not ambiguous"
                )
            if sorted(p.id for p in tied.candidates) != sorted(ids) or tied.patient is not None:
                raise AssertionError("an ambiguous match must list exactly the two tied charts, and no patient")
        by_birthdate = await pms.patients.match(phone=phone, birthdate=family[0].birthdate)
        by_name = await pms.patients.match(phone=phone, first_name=family[1].first_name)
        for what, one, which in (("birthdate", by_birthdate, 0), ("first_name", by_name, 1)):
            if one.status is not MatchStatus.EXACT or one.patient is None or one.patient.id != ids[which]:
                raise AssertionError(
                    f"match(phone, {what}=...) gives {one.status.value}, not that one chart exactly"
                )
        none = await pms.patients.match(phone=nobody)
        if none.status is not MatchStatus.NONE or none.patient is not None or none.candidates:
            raise AssertionError(f"a phone on no chart matches {none.status.value}, not none")


# -- writes -----------------------------------------------------------------------------------------------


async def check_booking_and_cancelling_are_written(target: ConformanceTarget) -> None:
    """A booking reaches ``written`` with the new appointment's id, which reads back as booked (patient,
    provider, instant, duration) and is listed; cancelling it reaches ``written`` and it reads back cancelled."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.BOOK_APPOINTMENT)
        patient = await a_patient(pms)
        slot = await bookable_slot(target, pms)
        request = await booking_for(pms, slot, patient.id, _REASON)
        appointment_id = await _wait(target, pms, writes, await pms.appointments.book(request), "the booking")
        booked = await pms.appointments.get(appointment_id)
        seen = (booked.patient_id, booked.provider_id, utc(booked.start), booked.duration, booked.cancelled)
        wanted = (request.patient_id, request.provider_id, utc(request.start), request.duration, False)
        if seen != wanted:
            raise AssertionError(f"the booked appointment reads back as {seen}, not {wanted}")
        if request.operatory is not None and booked.operatory != request.operatory:
            raise AssertionError(f"booked in {request.operatory!r}, read back in {booked.operatory!r}")
        day = slot.start.date()
        if appointment_id not in {a.id for a in await pms.appointments.list(start=day, end=day).all()}:
            raise AssertionError(f"the booked appointment {appointment_id} is not in appointments.list of {day}")

        if Capability.CHANGE_APPOINTMENT_STATUS not in (await pms.get_features()).capabilities:
            return
        handle = writes.add(await pms.appointments.cancel(appointment_id, reason=_REASON))
        if handle.kind is not WritebackKind.CHANGE_APPOINTMENT_STATUS:
            raise AssertionError(f"cancel() returned a {handle.kind.value} handle")
        await written(target, pms, handle, "the cancellation")
        writes.done(handle)
        if not (await pms.appointments.get(appointment_id)).cancelled:
            raise AssertionError(
                f"appointment {appointment_id} was cancelled (written) but does not read cancelled"
            )


async def check_rescheduling_is_written(target: ConformanceTarget) -> None:
    """Moving a booked appointment to another free slot of its provider reaches ``written``; the same
    appointment (same id) then reads back at the new time and chair, with its length."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.BOOK_APPOINTMENT)
        await require(pms, Capability.RESCHEDULE_APPOINTMENT)
        patient = await a_patient(pms)
        slot = await bookable_slot(target, pms)
        request = await booking_for(pms, slot, patient.id, _REASON)
        appointment_id = await _wait(target, pms, writes, await pms.appointments.book(request), "the booking")
        moves = [
            s
            for s in await open_slots(target, pms, provider_id=request.provider_id)
            if utc(s.start) >= utc(slot.end) + timedelta(hours=1)
        ]
        if not moves:
            raise AssertionError(f"no free slot of {request.provider_id!r} to move the appointment to")
        to = moves[0]
        handle = writes.add(
            await pms.appointments.reschedule(appointment_id, start=to.start, operatory=to.operatory)
        )
        if handle.kind is not WritebackKind.RESCHEDULE_APPOINTMENT or handle.appointment_id != appointment_id:
            raise AssertionError(
                f"reschedule() returned a {handle.kind.value} handle for {handle.appointment_id!r}"
            )
        await written(target, pms, handle, "the move")
        writes.done(handle)
        moved = await pms.appointments.get(appointment_id)
        seen = (utc(moved.start), moved.duration, moved.provider_id, moved.cancelled)
        wanted = (utc(to.start), request.duration, request.provider_id, False)
        if seen != wanted:
            raise AssertionError(f"the moved appointment reads back as {seen}, not {wanted}")
        if to.operatory is not None and moved.operatory != to.operatory:
            raise AssertionError(f"moved into {to.operatory!r}, read back in {moved.operatory!r}")


async def check_new_patient_is_written(target: ConformanceTarget) -> None:
    """Creating a patient reaches ``written`` with the new chart's id, and the chart reads back with the names,
    birthdate, phone and email sent, and is found by its phone."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.CREATE_PATIENT)
        phone = await fresh_phone(pms, 415)
        new = NewPatient(
            first_name="Philippa",
            last_name=surname("Writtenchart"),
            birthdate=date(1984, 11, 23),
            cell_phone=phone,
            email=f"philippa.{phone[-4:]}@example.com",
        )
        handle = await pms.patients.create(new)
        if handle.kind is not WritebackKind.CREATE_PATIENT:
            raise AssertionError(f"patients.create() returned a {handle.kind.value} handle")
        patient_id = await _wait(target, pms, writes, handle, "the new patient")
        chart = await pms.patients.get(patient_id)
        seen = (
            chart.first_name.casefold(),
            chart.last_name.casefold(),
            chart.birthdate,
            (chart.email or "").casefold(),
        )
        wanted = (new.first_name.casefold(), new.last_name.casefold(), new.birthdate, (new.email or "").casefold())
        if seen != wanted:
            raise AssertionError("the new chart does not read back with the names, birthdate and email sent")
        if digits(phone) not in {digits(p)[-10:] for p in chart.phones}:
            raise AssertionError("the new chart does not read back with the phone sent")
        if patient_id not in {p.id for p in await pms.patients.search(phone=phone)}:
            raise AssertionError("the new chart is not found by its phone")


async def check_payment_is_written(target: ConformanceTarget) -> None:
    """Posting a payment reaches ``written``, and the patient's ledger for the day shows its amount."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.POST_PAYMENT)
        payment_type = await known_payment_type(target, pms)
        patient = await a_patient(pms)
        payment = PaymentRequest(
            patient_id=patient.id, amount=Decimal("12.34"), payment_type=payment_type, note=_REASON
        )
        handle = writes.add(await pms.payments.post(payment))
        if handle.kind is not WritebackKind.POST_PAYMENT:
            raise AssertionError(f"payments.post() returned a {handle.kind.value} handle")
        await written(target, pms, handle, "the payment")
        writes.done(handle)
        today = pms.today()
        ledger = await pms.payments.list(start=today, end=today, patient_id=patient.id).all()
        if not any(abs(t.amount) == payment.amount for t in ledger):
            raise AssertionError(f"the patient's ledger for {today} has no entry of {payment.amount}")


async def check_refused_write_fails(target: ConformanceTarget) -> None:
    """A write the PMS refuses (``target.refuse_next_write`` arranges one) ends ``failed`` with a message,
    returned by ``writebacks.wait``, not raised."""
    if target.refuse_next_write is None:
        raise skip("ConformanceTarget.refuse_next_write is not given")
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.CREATE_PATIENT)
        await maybe_await(target.refuse_next_write())
        handle = writes.add(
            await pms.patients.create(NewPatient(first_name="Refused", last_name=surname("Conformance")))
        )
        result = await settle(target, pms, handle, "the refused write")
        writes.done(handle)
        if result.status is not WritebackState.FAILED:
            raise AssertionError(f"a write the PMS refused ended {result.status.value}, not failed")
        if not result.message:
            raise AssertionError("a failed write's result gives no message (the PMS's reason)")


async def check_writes_complete_in_the_background(target: ConformanceTarget) -> None:
    """Without anyone waiting, a write completes as time passes (``target.advance``): its ``on_complete``
    callback is called once with the ``written`` result, ``writebacks.status`` then tells the same, and a
    callback registered afterwards is called at once."""
    async with target.connect() as pms, _writing(target, pms) as writes:
        await require(pms, Capability.CREATE_PATIENT)
        handle = writes.add(
            await pms.patients.create(NewPatient(first_name="Backgrounded", last_name=surname("Conformance")))
        )
        results: list[WritebackResult] = []
        pms.writebacks.on_complete(handle, results.append)
        waited = 0.0
        step = 15.0
        while not results and waited < target.write_timeout:
            if target.advance is None:
                break
            await target.advance(step)
            waited += step
        for _ in range(20):  # a callback due now may need a few turns of the loop
            if results:
                break
            await asyncio.sleep(0)
        writes.done(handle)
        if len(results) != 1:
            raise AssertionError(f"on_complete was called {len(results)} times after {waited:g} s, not once")
        if results[0].status is not WritebackState.WRITTEN or results[0].handle_id != handle.id:
            raise AssertionError(
                f"on_complete was called with {results[0].status.value} for {results[0].handle_id}"
            )
        status = await pms.writebacks.status(handle)
        if status.status is not WritebackState.WRITTEN:
            raise AssertionError(f"writebacks.status() says {status.status.value} after on_complete said written")
        late: list[WritebackResult] = []
        pms.writebacks.on_complete(handle, late.append)
        for _ in range(20):
            if late:
                break
            await asyncio.sleep(0)
        if [r.status for r in late] != [WritebackState.WRITTEN]:
            raise AssertionError("a callback registered after the write completed was not called once at once")


# -- errors -----------------------------------------------------------------------------------------------


async def check_bad_arguments_raise_before_any_request(target: ConformanceTarget) -> None:
    """Bad arguments (a naive datetime, an end before its start, a zero or negative duration, a blank id, a
    booking in the past, a blank name, a zero or sub-cent amount, a phone too short, a search without
    criteria) raise [InvalidArgumentError][pms_connect.errors.InvalidArgumentError], and (with
    ``target.requests``) before any request is sent."""
    async with target.connect() as pms:
        zone = pms.timezone
        day = pms.today() + timedelta(days=3)
        aware = datetime.combine(day, time(9), tzinfo=zone)
        naive = datetime.combine(day, time(9))
        past = pms.now() - timedelta(hours=2)
        a = pms.appointments
        cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("appointments.list(start=naive)", lambda: a.list(start=naive, end=aware).all()),
            ("appointments.list(end=naive)", lambda: a.list(start=aware, end=naive).all()),
            ("appointments.list(end before start)", lambda: a.list(start=day, end=day - timedelta(days=2)).all()),
            ("find_slots(start=naive)", lambda: a.find_slots(start=naive, end=day, duration=THIRTY)),
            (
                "find_slots(end before start)",
                lambda: a.find_slots(start=day, end=day - timedelta(days=2), duration=THIRTY),
            ),
            ("find_slots(duration=0)", lambda: a.find_slots(start=day, end=day, duration=timedelta(0))),
            ("find_slots(duration<0)", lambda: a.find_slots(start=day, end=day, duration=-THIRTY)),
            ("appointments.get('')", lambda: a.get("")),
            ("appointments.get('   ')", lambda: a.get("   ")),
            ("appointments.cancel('')", lambda: a.cancel("")),
            ("appointments.reschedule('')", lambda: a.reschedule("", duration=THIRTY)),
            ("patients.get('')", lambda: pms.patients.get("")),
            ("insurance.coverage('')", lambda: pms.insurance.coverage("")),
            (
                "payments.list(end before start)",
                lambda: pms.payments.list(start=day, end=day - timedelta(days=2)).all(),
            ),
            ("payments.list(start=naive)", lambda: pms.payments.list(start=naive, end=day).all()),
            ("patients.match(phone='')", lambda: pms.patients.match(phone="")),
            ("patients.match(phone='12')", lambda: pms.patients.match(phone="12")),
            ("patients.search()", lambda: pms.patients.search()),
            ("book(start in the past)", lambda: a.book(_booking(past))),
            (
                "patients.create(blank first_name)",
                lambda: pms.patients.create(NewPatient(first_name="  ", last_name="X")),
            ),
            ("payments.post(amount=0)", lambda: pms.payments.post(_payment(Decimal("0")))),
            ("payments.post(amount=1.234)", lambda: pms.payments.post(_payment(Decimal("1.234")))),
        ]
        for what, call in cases:
            before = target.requests() if target.requests is not None else 0
            await expect(InvalidArgumentError, call, what)
            if target.requests is not None and (sent := target.requests() - before):
                raise AssertionError(f"{what} raised InvalidArgumentError only after sending {sent} request(s)")


def _booking(start: datetime) -> BookingRequest:
    return BookingRequest(patient_id="1", provider_id="1", start=start, duration=THIRTY)


def _payment(amount: Decimal) -> PaymentRequest:
    return PaymentRequest(patient_id="1", amount=amount, payment_type="1")


async def check_unknown_ids_raise_not_found(target: ConformanceTarget) -> None:
    """Reading, cancelling or moving an appointment, or reading a patient, by an id the PMS does not have
    raises [NotFoundError][pms_connect.errors.NotFoundError]."""
    async with target.connect() as pms:
        first, last = slot_days(target, pms)
        no_appointment = unused_id([row.id for row in await pms.appointments.list(start=first, end=last).all()])
        no_patient = unused_id([p.id for p in (await pms.patients.list()).items])
        a = pms.appointments
        cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("appointments.get(unknown)", lambda: a.get(no_appointment)),
            ("patients.get(unknown)", lambda: pms.patients.get(no_patient)),
        ]
        supported = (await pms.get_features()).capabilities
        if Capability.CHANGE_APPOINTMENT_STATUS in supported:
            cases.append(("appointments.cancel(unknown)", lambda: a.cancel(no_appointment)))
        if Capability.RESCHEDULE_APPOINTMENT in supported:
            cases.append(
                ("appointments.reschedule(unknown)", lambda: a.reschedule(no_appointment, duration=THIRTY))
            )
        for what, call in cases:
            await expect(NotFoundError, call, what)


# -- PHI --------------------------------------------------------------------------------------------------

_BIRTHDATE = date(1931, 2, 27)
_NOTE = "Canary-note-tooth-fourteen"


@dataclass(frozen=True)
class _Canary:
    first: str
    last: str
    email: str
    phone: str


def _canaries(canary: _Canary) -> list[str]:
    b = _BIRTHDATE
    return [
        canary.first,
        canary.last,
        canary.email,
        _NOTE,
        digits(canary.phone),
        b.isoformat(),
        b.strftime("%m/%d/%Y"),
        b.strftime("%Y%m%d"),
        b.strftime("%Y/%m/%d"),
        f"{b.month}/{b.day}/{b.year}",
    ]


def _leaks(text: str, canaries: list[str], *, squeeze: bool = True) -> list[str]:
    """The canaries in ``text``; with ``squeeze``, also digits written with separators (``(646) 555-0101``)."""
    folded = text.casefold()
    squeezed = "".join(ch for ch in folded if ch not in " -().+") if squeeze else ""
    return [c for c in canaries if c.casefold() in folded or (c.isdigit() and c in squeezed)]


async def check_no_phi_in_logs_errors_or_reprs(target: ConformanceTarget) -> None:
    """With the ``pms_connect`` logger at DEBUG, a canary patient (name, phone, email, birthdate, a note) is
    written, read, searched, matched, booked, cancelled and paid for, and errors are provoked with canary
    values; no canary appears in any log record, in any error's message, repr or traceback, or in the repr or
    str of anything returned."""
    errors: list[BaseException] = []
    shown: list[object] = []
    with captured_logs() as records:
        async with target.connect() as pms, _writing(target, pms) as writes:
            await require(pms, Capability.CREATE_PATIENT)
            features = await pms.get_features()
            phone = await fresh_phone(pms, 646)
            first, last = surname("Zqxcanary"), surname("Vwkcanary")
            canary = _Canary(first=first, last=last, email=f"{first}.{last}@example.com".lower(), phone=phone)
            chart_sent = NewPatient(
                first_name=first, last_name=last, birthdate=_BIRTHDATE, cell_phone=phone, email=canary.email
            )
            handle = await pms.patients.create(chart_sent)
            shown += [handle, chart_sent]
            patient_id = await _wait(target, pms, writes, handle, "the canary chart")
            chart = await pms.patients.get(patient_id)
            if (chart.first_name.casefold(), chart.birthdate) != (first.casefold(), _BIRTHDATE):
                raise AssertionError("the canary chart does not read back with its name and birthdate")
            shown.append(chart)
            shown.append(await pms.patients.match(phone=phone, birthdate=_BIRTHDATE))
            shown.append(await pms.patients.search(name=f"{first} {last}"))
            shown.append(await pms.patients.search(email=canary.email))
            shown.append([p async for p in pms.patients.list() if p.id == patient_id])

            provoked: list[Callable[[], Awaitable[object]]] = [
                lambda: pms.patients.create(
                    NewPatient(first_name=first, last_name=last, email=f"{first}@@{last}")
                ),
                lambda: pms.patients.create(NewPatient(first_name=first, last_name=last, cell_phone=last)),
                lambda: pms.patients.match(phone=f"{first}-{_BIRTHDATE}"),
                lambda: pms.patients.search(email=f"{first}@@"),
                lambda: pms.patients.get(f"{first}\n{last}"),
            ]
            if Capability.BOOK_APPOINTMENT in features.capabilities:
                slot = await bookable_slot(target, pms)
                request = await booking_for(pms, slot, patient_id, _NOTE)
                booked = await pms.appointments.book(request)
                appointment_id = await _wait(target, pms, writes, booked, "the canary booking")
                shown.append(await pms.appointments.get(appointment_id))
                provoked.append(lambda: pms.appointments.book(request))
                if Capability.CHANGE_APPOINTMENT_STATUS in features.capabilities:
                    handle = writes.add(await pms.appointments.cancel(appointment_id, reason=_NOTE))
                    shown.append(await settle(target, pms, handle, "the canary cancellation"))
                    writes.done(handle)
            if Capability.POST_PAYMENT in features.capabilities:
                try:
                    payment_type: str | None = await known_payment_type(target, pms)
                except unittest.SkipTest:
                    payment_type = None
                if payment_type is not None:
                    payment = PaymentRequest(
                        patient_id=patient_id, amount=Decimal("7.00"), payment_type=payment_type, note=_NOTE
                    )
                    handle = writes.add(await pms.payments.post(payment))
                    shown.append(await settle(target, pms, handle, "the canary payment"))
                    writes.done(handle)
                    unknown_type = payment.model_copy(update={"payment_type": f"{first}-type"})
                    provoked.append(lambda: pms.payments.post(unknown_type))
            if target.refuse_next_write is not None:
                await maybe_await(target.refuse_next_write())
                refused = NewPatient(first_name=first, last_name=surname("Vwkcanary"), cell_phone=phone)
                handle = writes.add(await pms.patients.create(refused))
                shown.append(await settle(target, pms, handle, "the refused canary chart"))
                writes.done(handle)
            for make in provoked:
                try:
                    await make()
                except PmsError as raised:
                    errors.append(raised)
            if not errors:
                raise AssertionError("none of the bad calls with canary values raised a PmsError")
            shown.append(pms)

    canaries = _canaries(canary)
    for record in records:
        message, attributes = record_texts(record)
        if found := _leaks(message, canaries) + _leaks(attributes, canaries, squeeze=False):
            raise AssertionError(f"log record {record.name}:{record.levelname} {record.msg!r} shows {found}")
    for error in errors:
        if found := _leaks(error_text(error), canaries):
            raise AssertionError(f"{type(error).__name__} shows {found} in its message, repr or traceback")
    for value in shown:
        for text in (repr(value), str(value)):
            if found := _leaks(text, canaries):
                raise AssertionError(f"the repr or str of a returned {type(value).__name__} shows {found}")


CHECKS: tuple[Check, ...] = (
    check_provider_surface,
    check_no_duplicate_rows,
    check_pager_views_agree,
    check_appointments_stay_in_their_window,
    check_times_are_aware_and_local,
    check_write_times_are_local,
    check_durations_are_elapsed_time_across_dst,
    check_slots_are_never_in_the_past,
    check_slots_are_whole_and_free,
    check_booking_guard_refuses_the_same_slot,
    check_recheck_refuses_a_slot_booked_elsewhere,
    check_patient_matching,
    check_booking_and_cancelling_are_written,
    check_rescheduling_is_written,
    check_new_patient_is_written,
    check_payment_is_written,
    check_refused_write_fails,
    check_writes_complete_in_the_background,
    check_bad_arguments_raise_before_any_request,
    check_unknown_ids_raise_not_found,
    check_no_phi_in_logs_errors_or_reprs,
)
"""Every check, in the order
[ProviderConformance][pms_connect.testing.conformance.ProviderConformance] runs them."""
