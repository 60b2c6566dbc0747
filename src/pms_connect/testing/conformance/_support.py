"""What the checks share: waiting for writes, finding a patient or a slot, expecting errors, reading times."""

from __future__ import annotations

import inspect
import logging
import secrets
import string
import unittest
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from pms_connect.errors import PmsError, UnsupportedOperationError
from pms_connect.models import (
    BookingRequest,
    Capability,
    Patient,
    TimeSlot,
    Writeback,
    WritebackResult,
    WritebackState,
)
from pms_connect.protocol import PmsProvider
from pms_connect.testing.conformance._target import ConformanceTarget

UTC = timezone.utc
THIRTY = timedelta(minutes=30)
E = TypeVar("E", bound=BaseException)


def skip(reason: str) -> unittest.SkipTest:
    """A check that cannot run for this target: pytest reports it skipped (``raise skip(...)``)."""
    return unittest.SkipTest(reason)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two aware datetimes (Python subtracts datetimes of one zone by wall clock)."""
    return utc(end) - utc(start)


def elapsed_after(start: datetime, step: timedelta) -> datetime:
    """``step`` of real time after ``start``, in its zone (Python adds to aware datetimes by wall clock)."""
    return (utc(start) + step).astimezone(start.tzinfo)


def elapsed_before(end: datetime, step: timedelta) -> datetime:
    return (utc(end) - step).astimezone(end.tzinfo)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def day_span(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[first 00:00, the day after last 00:00)`` in the zone: what a date window means."""
    return midnight(first, zone), midnight(last + timedelta(days=1), zone)


def overlaps(start: datetime, end: datetime, lo: datetime, hi: datetime) -> bool:
    return utc(start) < utc(hi) and utc(end) > utc(lo)


def same_zone(value: tzinfo | None, zone: ZoneInfo) -> bool:
    if value is zone:
        return True
    return isinstance(value, ZoneInfo) and zone.key is not None and value.key == zone.key


def datetimes_of(value: object, path: str) -> Iterator[tuple[str, datetime]]:
    """Every datetime a returned value holds (model fields, computed fields, nested models and sequences)."""
    if isinstance(value, datetime):
        yield path, value
    elif isinstance(value, BaseModel):
        names = [*type(value).model_fields, *type(value).model_computed_fields]
        for name in names:
            yield from datetimes_of(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from datetimes_of(item, f"{path}[{i}]")


def assert_local(value: object, zone: ZoneInfo, what: str) -> None:
    """Every datetime in ``value`` is aware and in the practice's zone."""
    for path, moment in datetimes_of(value, what):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise AssertionError(f"{path} is a naive datetime ({moment.isoformat()}); it must be aware")
        if not same_zone(moment.tzinfo, zone):
            raise AssertionError(
                f"{path} is in {moment.tzinfo!r}, not in the provider's timezone {zone.key!r} "
                f"({moment.isoformat()})"
            )


async def expect(error: type[E], make: Callable[[], Awaitable[object]], what: str) -> E:
    """Run ``make()`` (which may raise at once or when awaited) and return the ``error`` it must raise."""
    try:
        await make()
    except error as caught:
        return caught
    except BaseException as other:
        raise AssertionError(f"{what}: expected {error.__name__}, got {type(other).__name__}: {other}") from other
    raise AssertionError(f"{what}: expected {error.__name__}, nothing was raised")


async def maybe_await(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value


async def require(pms: PmsProvider, capability: Capability) -> None:
    """Skip the check when the practice's PMS does not support ``capability``."""
    if capability not in (await pms.get_features()).capabilities:
        raise skip(f"the practice's PMS does not support {capability.value}")


async def settle(target: ConformanceTarget, pms: PmsProvider, handle: Writeback, what: str) -> WritebackResult:
    """Wait for a write's terminal outcome and check the result names the handle."""
    if not isinstance(handle, Writeback):
        raise AssertionError(f"{what} returned {type(handle).__name__}, not a Writeback handle")
    try:
        result = await pms.writebacks.wait(handle, timeout=target.write_timeout)
    except PmsError as error:
        raise AssertionError(f"writebacks.wait({what}) raised {type(error).__name__}: {error}") from error
    if not isinstance(result, WritebackResult):
        raise AssertionError(f"writebacks.wait({what}) returned {type(result).__name__}, not a WritebackResult")
    if result.handle_id != handle.id:
        raise AssertionError(
            f"{what}: the result's handle_id {result.handle_id!r} is not the handle's {handle.id!r}"
        )
    if not result.status.terminal:
        raise AssertionError(f"{what} is still {result.status.value} after {target.write_timeout:g} s")
    if result.completed_at is None:
        raise AssertionError(f"{what} ended {result.status.value} without a completed_at")
    return result


async def written(target: ConformanceTarget, pms: PmsProvider, handle: Writeback, what: str) -> WritebackResult:
    result = await settle(target, pms, handle, what)
    if result.status is not WritebackState.WRITTEN:
        raise AssertionError(f"{what} ended {result.status.value}, not written (message: {result.message!r})")
    return result


async def created(target: ConformanceTarget, pms: PmsProvider, handle: Writeback, what: str) -> str:
    """The id of the record a written write created."""
    result = await written(target, pms, handle, what)
    if not result.created_id:
        raise AssertionError(f"{what} was written but its result names no created_id")
    return result.created_id


def slot_days(target: ConformanceTarget, pms: PmsProvider) -> tuple[date, date]:
    if target.slot_window is not None:
        return target.slot_window
    first = pms.today()
    return first, first + timedelta(days=13)


async def open_slots(
    target: ConformanceTarget, pms: PmsProvider, duration: timedelta = THIRTY, **kw: Any
) -> list[TimeSlot]:
    first, last = slot_days(target, pms)
    slots = await pms.appointments.find_slots(start=first, end=last, duration=duration, **kw)
    if not slots:
        raise AssertionError(
            f"find_slots found no {duration} slot from {first} to {last}: give ConformanceTarget.slot_window "
            "days on which the practice works and has open time"
        )
    return list(slots)


async def bookable_slot(target: ConformanceTarget, pms: PmsProvider, duration: timedelta = THIRTY) -> TimeSlot:
    """A free slot, at least a day ahead where one is (so that it stays in the future while writes settle)."""
    slots = await open_slots(target, pms, duration)
    later = [s for s in slots if utc(s.start) >= utc(pms.now()) + timedelta(days=1)]
    return later[0] if later else slots[-1]


async def active_provider_ids(pms: PmsProvider) -> list[str]:
    ids = [p.id for p in await pms.known_providers() if p.active and not p.hidden]
    if not ids:
        raise AssertionError("known_providers() lists no active provider to book with")
    return ids


async def a_patient(pms: PmsProvider) -> Patient:
    patient = await pms.patients.list().first()
    if patient is None:
        raise AssertionError("patients.list() is empty: the kit needs one patient to book and post for")
    return patient


async def booking_for(pms: PmsProvider, slot: TimeSlot, patient_id: str, reason: str) -> BookingRequest:
    provider_id = slot.provider_id or (await active_provider_ids(pms))[0]
    return BookingRequest(
        patient_id=patient_id,
        provider_id=provider_id,
        start=slot.start,
        duration=slot.duration,
        operatory=slot.operatory,
        reason=reason,
    )


def unused_id(ids: list[str]) -> str:
    """An id no record has: far past the largest numeric one listed, else an obviously made-up one."""
    numeric = [int(i) for i in ids if i.isdigit()]
    if numeric and len(numeric) == len(ids):
        return str(max(numeric) * 1000 + 987_654)
    taken = set(ids)
    candidate = "conformance-no-such-record"
    while candidate in taken:
        candidate += "-x"
    return candidate


async def fresh_phone(pms: PmsProvider, area: int, avoid: Collection[str] = ()) -> str:
    """A fictional number (555-01xx) that no chart has yet."""
    for line in range(100, 200):
        phone = f"({area}) 555-{line:04d}"
        if phone in avoid:
            continue
        if not await pms.patients.search(phone=phone):
            return phone
    raise AssertionError(f"every fictional number ({area}) 555-0100..0199 is taken: the kit cannot match")


def surname(base: str) -> str:
    """``base`` and six random letters: a chart name no earlier run on the same PMS data has used (PMSs refuse
    a second chart with the name and birthdate of one they hold)."""
    return base + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))


def digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


async def known_payment_type(target: ConformanceTarget, pms: PmsProvider) -> str:
    if target.payment_type is not None:
        return target.payment_type
    first = pms.today() - timedelta(days=90)
    try:
        ledger = await pms.payments.list(start=first, end=pms.today()).all()
    except UnsupportedOperationError:
        ledger = []
    counts = Counter(t.payment_type for t in ledger if t.payment_type and t.kind.casefold() == "payment")
    counts = counts or Counter(t.payment_type for t in ledger if t.payment_type)
    if not counts:
        raise skip("no payment type in the last 90 days of the ledger: give ConformanceTarget.payment_type")
    return counts.most_common(1)[0][0]


def next_offset_change(
    zone: ZoneInfo, after: datetime, horizon: timedelta = timedelta(days=800)
) -> datetime | None:
    """The first instant after ``after`` at which ``zone`` changes its UTC offset, to the minute (in UTC)."""
    moment = utc(after)
    offset = moment.astimezone(zone).utcoffset()
    step = timedelta(hours=6)
    while moment < utc(after) + horizon:
        following = moment + step
        if following.astimezone(zone).utcoffset() != offset:
            lo, hi = moment, following
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            change = hi.replace(second=0, microsecond=0)
            return change if change.astimezone(zone).utcoffset() != offset else change + timedelta(minutes=1)
        moment = following
    return None


def unambiguous(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall time of ``moment`` in ``zone`` happens exactly once (not skipped, not repeated)."""
    wall = moment.astimezone(zone).replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() == second.utcoffset() and utc(first).astimezone(zone).replace(tzinfo=None) == wall


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs(name: str = "pms_connect") -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``name`` logger (and its children) at DEBUG while the block runs."""
    logger = logging.getLogger(name)
    handler = _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def record_texts(record: logging.LogRecord) -> tuple[str, str]:
    """All a log record carries: its formatted message (with any traceback), and its other attributes (the
    record's own numbers left out: times and thread ids are no PHI, and their digits would only add noise)."""
    formatted = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    attributes = {k: v for k, v in vars(record).items() if not isinstance(v, (int, float))}
    return formatted, repr(attributes)


def error_text(error: BaseException) -> str:
    import traceback

    return f"{error}\n{error!r}\n{''.join(traceback.format_exception(type(error), error, error.__traceback__))}"
