"""The conformance kit can fail: a real sandbox-backed provider, broken on purpose in one way at a time, fails
the check about that behaviour; unbroken, it passes the same check.

Each wrapper delegates everything to a real SikkaProvider except the one behaviour it breaks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pms_connect import PmsProvider, SlotUnavailableError
from pms_connect.models import Appointment, MatchStatus, PatientMatch, TimeSlot, Writeback, WritebackKind
from pms_connect.pagination import AsyncPager, Page
from pms_connect.testing import FakeClock, SikkaSandbox
from pms_connect.testing.conformance import ConformanceTarget, checks
from pms_connect.testing.conformance.test_builtin_sandboxes import sikka_sandbox_target

UTC = timezone.utc


@pytest.fixture(scope="module")
def target() -> ConformanceTarget:
    """One sandbox for the module: the checks follow their writes to the end, so they can share it."""
    return sikka_sandbox_target(SikkaSandbox(seed=7, clock=FakeClock()))


class Delegate:
    """Everything from ``inner``, except what a subclass overrides."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def mapped(pager: AsyncPager[Any], change: Callable[[Page[Any]], Page[Any]]) -> AsyncPager[Any]:
    async def fetch(index: int) -> Page[Any]:
        return change(await pager.fetch_page(index))

    return AsyncPager(fetch)


def rows(pager: AsyncPager[Any], change: Callable[[Any], Any]) -> AsyncPager[Any]:
    return mapped(pager, lambda page: dataclasses.replace(page, items=[change(row) for row in page.items]))


def repeating(pager: AsyncPager[Any]) -> AsyncPager[Any]:
    """Each page after the first starts with the last row of the page before (an offset counted in rows where
    the PMS counts pages, say)."""

    async def fetch(index: int) -> Page[Any]:
        page = await pager.fetch_page(index)
        if index == 0 or not page.items:
            return page
        previous = await pager.fetch_page(index - 1)
        return dataclasses.replace(page, items=[previous.items[-1], *page.items])

    return AsyncPager(fetch)


class RepeatingPatients(Delegate):
    def list(self, **kw: Any) -> AsyncPager[Any]:
        return repeating(self._inner.list(**kw))


def naive(a: Appointment) -> Appointment:
    return a.model_copy(update={"start": a.start.replace(tzinfo=None)})


def in_utc(a: Appointment) -> Appointment:
    return a.model_copy(update={"start": a.start.astimezone(UTC)})


def wall_clock_length(a: Appointment) -> Appointment:
    """The length read as the wall-clock difference of start and end: an hour off across a DST change."""
    return a.model_copy(update={"duration": a.end.replace(tzinfo=None) - a.start.replace(tzinfo=None)})


class MappedAppointments(Delegate):
    def __init__(self, inner: Any, change: Callable[[Appointment], Appointment]) -> None:
        super().__init__(inner)
        self._change = change

    def list(self, **kw: Any) -> AsyncPager[Any]:
        return rows(self._inner.list(**kw), self._change)

    async def get(self, appointment_id: str) -> Appointment:
        return self._change(await self._inner.get(appointment_id))


class SlotOverABooking(Delegate):
    """Offers, among the real slots, one at the start of a booked appointment of its provider."""

    async def find_slots(self, **kw: Any) -> list[TimeSlot]:
        slots: list[TimeSlot] = await self._inner.find_slots(**kw)
        if not slots or kw.get("limit"):
            return slots
        booked = await self._inner.list(start=kw["start"], end=kw["end"]).all()
        victim = next(
            a for a in booked if not a.cancelled and a.provider_id and a.start > slots[0].start and a.operatory
        )
        fake = TimeSlot(
            start=victim.start,
            end=(victim.start.astimezone(UTC) + kw["duration"]).astimezone(victim.start.tzinfo),
            provider_id=victim.provider_id,
            operatory=victim.operatory,
        )
        return sorted([*slots, fake], key=lambda s: s.start.astimezone(UTC))


class SlotInThePast(Delegate):
    async def find_slots(self, **kw: Any) -> list[TimeSlot]:
        slots: list[TimeSlot] = await self._inner.find_slots(**kw)
        if not slots:
            return slots
        start = slots[0].start - timedelta(days=1)
        return [TimeSlot(start=start, end=start + kw["duration"], provider_id=slots[0].provider_id), *slots]


class NoRecheck(Delegate):
    """A booking that is never refused: a taken slot is answered with a handle as if it had been sent."""

    async def book(self, request: Any) -> Writeback:
        try:
            handle: Writeback = await self._inner.book(request)
        except SlotUnavailableError:
            return Writeback(id="never-sent", kind=WritebackKind.BOOK_APPOINTMENT, submitted_at=datetime.now(UTC))
        return handle


class GuessingMatch(Delegate):
    """Picks the first of tied charts instead of saying ``ambiguous``."""

    async def match(self, **kw: Any) -> PatientMatch:
        found: PatientMatch = await self._inner.match(**kw)
        if found.status is MatchStatus.AMBIGUOUS:
            return PatientMatch(status=MatchStatus.EXACT, patient=found.candidates[0])
        return found


class LeakyPatients(Delegate):
    async def get(self, patient_id: str) -> Any:
        patient = await self._inner.get(patient_id)
        logging.getLogger("pms_connect.leaky").debug("read chart of %s", patient.first_name)
        return patient


class ReadsBeforeChecking(Delegate):
    """Sends a request before validating the id (a lookup first, say)."""

    def __init__(self, inner: Any, pms: Any) -> None:
        super().__init__(inner)
        self._pms = pms

    async def get(self, appointment_id: str) -> Any:
        await self._pms.providers.list().all()
        return await self._inner.get(appointment_id)


class Broken(Delegate):
    """A provider with some resources replaced."""

    def __init__(self, inner: PmsProvider, **resources: Callable[[Any, PmsProvider], Any]) -> None:
        super().__init__(inner)
        self._resources = {name: make(getattr(inner, name), inner) for name, make in resources.items()}

    def __getattr__(self, name: str) -> Any:
        if name in self.__dict__.get("_resources", {}):
            return self._resources[name]
        return getattr(self._inner, name)


def broken(target: ConformanceTarget, **resources: Callable[[Any, PmsProvider], Any]) -> ConformanceTarget:
    @asynccontextmanager
    async def connect() -> AsyncIterator[PmsProvider]:
        async with target.connect() as pms:
            yield Broken(pms, **resources)  # type: ignore[misc]

    return dataclasses.replace(target, connect=connect)


CASES: dict[str, tuple[dict[str, Callable[[Any, PmsProvider], Any]], checks.Check, str]] = {
    "duplicate rows across pages": (
        {"patients": lambda r, _: RepeatingPatients(r)},
        checks.check_no_duplicate_rows,
        "more than once",
    ),
    "naive datetimes": (
        {"appointments": lambda r, _: MappedAppointments(r, naive)},
        checks.check_times_are_aware_and_local,
        "naive",
    ),
    "times in UTC, not the practice's zone": (
        {"appointments": lambda r, _: MappedAppointments(r, in_utc)},
        checks.check_times_are_aware_and_local,
        "not in the provider's timezone",
    ),
    "durations by wall clock across DST": (
        {"appointments": lambda r, _: MappedAppointments(r, wall_clock_length)},
        checks.check_durations_are_elapsed_time_across_dst,
        "read back as 4:00:00",
    ),
    "a slot over a booking": (
        {"appointments": lambda r, _: SlotOverABooking(r)},
        checks.check_slots_are_whole_and_free,
        "over a booked appointment",
    ),
    "a slot in the past": (
        {"appointments": lambda r, _: SlotInThePast(r)},
        checks.check_slots_are_never_in_the_past,
        "before now",
    ),
    "a booking re-check that does not refuse": (
        {"appointments": lambda r, _: NoRecheck(r)},
        checks.check_recheck_refuses_a_slot_booked_elsewhere,
        "another worker had booked",
    ),
    "a booking guard that does not refuse": (
        {"appointments": lambda r, _: NoRecheck(r)},
        checks.check_booking_guard_refuses_the_same_slot,
        "expected SlotUnavailableError",
    ),
    "a match that guesses": (
        {"patients": lambda r, _: GuessingMatch(r)},
        checks.check_patient_matching,
        "not ambiguous",
    ),
    "PHI in a log record": (
        {"patients": lambda r, _: LeakyPatients(r)},
        checks.check_no_phi_in_logs_errors_or_reprs,
        "log record pms_connect.leaky",
    ),
    "a request before validating": (
        {"appointments": ReadsBeforeChecking},
        checks.check_bad_arguments_raise_before_any_request,
        "only after sending",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_broken_provider_fails_the_check(target: ConformanceTarget, case: str) -> None:
    resources, check, message = CASES[case]
    with pytest.raises(AssertionError, match=message):
        await check(broken(target, **resources))


@pytest.mark.parametrize("check", sorted({check for _, check, _ in CASES.values()}, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)  # fmt: skip
async def test_the_unbroken_provider_passes_the_same_checks(
    target: ConformanceTarget, check: checks.Check
) -> None:
    await check(broken(target))


def test_every_check_runs_in_the_suite() -> None:
    from pms_connect.testing.conformance import ProviderConformance

    tests = {name for name in vars(ProviderConformance) if name.startswith("test_")}
    assert {f"test_{c.__name__.removeprefix('check_')}" for c in checks.CHECKS} == tests
    assert set(checks.CHECKS) == {getattr(checks, name) for name in checks.__all__ if name.startswith("check_")}
