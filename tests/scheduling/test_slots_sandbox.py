"""find_slots end to end against SikkaSandbox: computed slots (Dentrix) and native ones (OrthoTrac)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import BookingRequest, ProviderKind, TimeSlot, WritebackState
from pms_connect.sikka import SikkaProvider, SikkaWriteOptions
from pms_connect.testing import FakeClock, SikkaSandbox

UTC = timezone.utc
THIRTY = timedelta(minutes=30)


@pytest.fixture
def sandbox() -> SikkaSandbox:
    return SikkaSandbox(seed=7, clock=FakeClock())


@pytest.fixture
async def pms(sandbox: SikkaSandbox) -> AsyncIterator[SikkaProvider]:
    async with sandbox.provider() as provider:
        yield provider


def paths(sandbox: SikkaSandbox) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in sandbox.requests]


def zone_of(sandbox: SikkaSandbox) -> ZoneInfo:
    return ZoneInfo(sandbox.timezone)


def local(sandbox: SikkaSandbox, naive: datetime) -> datetime:
    return naive.replace(tzinfo=zone_of(sandbox)).astimezone(UTC)


def working(sandbox: SikkaSandbox, kind: str, resource: str, slot: TimeSlot) -> bool:
    """The sandbox's own schedule rows say ``resource`` works for the whole slot."""
    day = slot.start.date()
    week = day - timedelta(days=(day.weekday() + 1) % 7)
    for s in sandbox.world.schedules:
        if (s.practice_id, s.resource_type, s.resource_id, s.week_start) == ("1", kind, resource, week):
            return any(
                local(sandbox, datetime.combine(day, a)) <= slot.start.astimezone(UTC)
                and slot.end.astimezone(UTC) <= local(sandbox, datetime.combine(day, b))
                for a, b in s.blocks_on(day)
            )
    return False


def clashes(sandbox: SikkaSandbox, slot: TimeSlot) -> list[str]:
    t0, t1 = slot.start.astimezone(UTC), slot.end.astimezone(UTC)
    return [
        a.appointment_sr_no
        for a in sandbox.world.appointments.values()
        if a.practice_id == "1"
        and not a.cancelled
        and (a.provider_id == slot.provider_id or a.operatory == slot.operatory)
        and local(sandbox, a.start) < t1
        and t0 < local(sandbox, a.end)
    ]


async def test_two_weeks_of_slots_respect_hours_bookings_and_now(
    sandbox: SikkaSandbox, pms: SikkaProvider
) -> None:
    slots = await pms.appointments.find_slots(
        start=sandbox.today, end=sandbox.today + timedelta(days=13), duration=THIRTY
    )
    assert slots, "the seeded practice has free time in two weeks"
    now = pms.now()
    for slot in slots:
        assert slot.start >= now
        assert slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == THIRTY
        assert slot.start.tzinfo == zone_of(sandbox)
        assert working(sandbox, "Practice", "1", slot)
        assert working(sandbox, "Provider", slot.provider_id or "", slot)
        assert working(sandbox, "Operatory", slot.operatory or "", slot)
        assert clashes(sandbox, slot) == []
    keys = [(s.start, s.provider_id, s.operatory) for s in slots]
    assert keys == sorted(keys)
    offered = {s.provider_id for s in slots}
    assert "DMD4" not in offered, "inactive provider"
    assert "STF1" not in offered, "a provider without a schedule does not work"
    assert "OP7" not in {s.operatory for s in slots}, "hidden operatory"


async def test_a_booked_appointment_is_not_offered_and_a_cancelled_one_frees_its_time(
    sandbox: SikkaSandbox, pms: SikkaProvider
) -> None:
    day = sandbox.today + timedelta(days=35)  # the seeded book fills up towards today
    while day.weekday() != 1:  # a Tuesday: DMD2 works
        day += timedelta(days=1)
    before = await pms.appointments.find_slots(start=day, end=day, duration=THIRTY, provider_id="DMD2")
    assert before
    target = before[0]
    template = next(iter(sandbox.world.appointments.values()))
    booked = dataclasses.replace(
        template,
        appointment_sr_no="990001",
        practice_id="1",
        provider_id="DMD2",
        operatory=target.operatory or "",
        start=target.start.replace(tzinfo=None),
        length=30,
        status="Scheduled",
    )
    sandbox.world.appointments[booked.appointment_sr_no] = booked
    after = await pms.appointments.find_slots(start=day, end=day, duration=THIRTY, provider_id="DMD2")
    assert all(not (s.start < target.end and target.start < s.end) for s in after)

    sandbox.world.appointments[booked.appointment_sr_no] = dataclasses.replace(booked, status="Cancelled")
    again = await pms.appointments.find_slots(start=day, end=day, duration=THIRTY, provider_id="DMD2")
    assert again == before


async def test_requests_cold_and_warm(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    window = {"start": sandbox.today, "end": sandbox.today + timedelta(days=13), "duration": THIRTY}
    await pms.appointments.find_slots(**window)
    cold = paths(sandbox)
    assert sorted(cold) == sorted(
        [
            "request_key",
            "practices",
            "authorized_practices",
            "providers",
            "operatories",
            "practice_schedule",
            "appointments",
        ]
    )
    sandbox.requests.clear()
    await pms.appointments.find_slots(**window)
    assert paths(sandbox) == ["appointments"], "reference data is cached; appointments are one request"


async def test_kinds_provider_operatory_and_limit(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    window = {"start": sandbox.today, "end": sandbox.today + timedelta(days=13), "duration": timedelta(minutes=60)}
    hygiene = await pms.appointments.find_slots(**window, kinds=[ProviderKind.HYGIENIST])
    assert hygiene
    assert {s.provider_id for s in hygiene} <= {"HYG1", "HYG2", "HYG3"}
    only = await pms.appointments.find_slots(**window, provider_id="DMD1", operatory="OP2")
    assert only
    assert {(s.provider_id, s.operatory) for s in only} == {("DMD1", "OP2")}
    every = await pms.appointments.find_slots(**window)
    assert await pms.appointments.find_slots(**window, limit=4) == every[:4]


async def test_a_closed_day_has_no_slots(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    closed = next(
        s.week_start + timedelta(days=i)
        for s in sandbox.world.schedules
        if s.resource_type == "Practice" and s.practice_id == "1"
        for i in range(1, 6)
        if s.holidays[i] and s.week_start + timedelta(days=i) > sandbox.today
    )
    assert await pms.appointments.find_slots(start=closed, end=closed, duration=THIRTY) == []
    weekend = sandbox.today + timedelta(days=(5 - sandbox.today.weekday()) % 7)
    assert await pms.appointments.find_slots(start=weekend, end=weekend + timedelta(days=1), duration=THIRTY) == []


async def test_the_past_is_never_offered(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    yesterday = sandbox.today - timedelta(days=1)
    slots = await pms.appointments.find_slots(start=yesterday, end=sandbox.today, duration=THIRTY)
    assert slots
    assert min(s.start for s in slots) >= pms.now()


@pytest.mark.parametrize(
    ("kwargs", "needs_requests"),
    [
        ({"start": datetime(2026, 12, 2, 9), "end": date(2026, 12, 3)}, False),
        ({"duration": timedelta(0)}, False),
        ({"duration": timedelta(seconds=90)}, False),
        ({"limit": 0}, False),
        ({"kinds": []}, False),
        ({"kinds": ["dentist", "chef"]}, False),
        ({"start": date(2026, 12, 5), "end": date(2026, 12, 4)}, False),
        ({"provider_id": "NOPE"}, True),
        ({"provider_id": "DMD4"}, True),  # inactive
        ({"operatory": "OP7"}, True),  # hidden
    ],
)
async def test_invalid_arguments(
    sandbox: SikkaSandbox, pms: SikkaProvider, kwargs: dict[str, object], needs_requests: bool
) -> None:
    args: dict[str, object] = {"start": date(2026, 12, 2), "end": date(2026, 12, 3), "duration": THIRTY, **kwargs}
    with pytest.raises(InvalidArgumentError):
        await pms.appointments.find_slots(**args)  # type: ignore[arg-type]
    if not needs_requests:
        assert sandbox.requests == [], "refused before any request"


async def test_slots_after_the_spring_change_have_the_new_offset() -> None:
    sandbox = SikkaSandbox(seed=7, clock=FakeClock(datetime(2026, 2, 9, 14, tzinfo=UTC)))
    async with sandbox.provider() as pms:
        slots = await pms.appointments.find_slots(
            start=date(2026, 3, 6), end=date(2026, 3, 9), duration=timedelta(minutes=45)
        )
    friday = [s for s in slots if s.start.date() == date(2026, 3, 6)]
    monday = [s for s in slots if s.start.date() == date(2026, 3, 9)]
    assert friday
    assert monday
    assert {s.start.utcoffset() for s in friday} == {timedelta(hours=-6)}
    assert {s.start.utcoffset() for s in monday} == {timedelta(hours=-5)}
    assert all(s.end.astimezone(UTC) - s.start.astimezone(UTC) == timedelta(minutes=45) for s in slots)
    assert min(s.start.timetz().replace(tzinfo=None) for s in monday) >= time(7, 30)


class TestNativeSlots:
    @pytest.fixture
    def sandbox(self) -> SikkaSandbox:
        return SikkaSandbox(seed=7, clock=FakeClock(), pms_name="OrthoTrac")

    @pytest.fixture
    async def pms(self, sandbox: SikkaSandbox) -> AsyncIterator[SikkaProvider]:
        async with sandbox.provider(
            writes=SikkaWriteOptions(pms_fields={"staff": "STF1", "type": "5"})
        ) as pms:  # OrthoTrac needs both
            yield pms

    async def test_native_slots_are_used_and_read(self, sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
        end = sandbox.today + timedelta(days=6)
        slots = await pms.appointments.find_slots(start=sandbox.today, end=end, duration=THIRTY)
        assert "appointments_available_slots" in paths(sandbox)
        assert "practice_schedule" not in paths(sandbox)
        assert "appointments" not in paths(sandbox)
        assert slots
        # every slot is one of the sandbox's own openings (same start, provider and operatory)
        response = await pms.client.practice_call(
            "GET",
            "appointments_available_slots",
            params={
                "practice_id": "1",
                "startdate": sandbox.today.isoformat(),
                "enddate": end.isoformat(),
                "fields": "get_all",
                "limit": "5000",
            },
        )
        native = {(i["date"][:10], i["time"], i["provider_id"], i["operatory"]) for i in response.json()["items"]}
        for slot in slots:
            key = (slot.start.date().isoformat(), slot.start.strftime("%H:%M"), slot.provider_id, slot.operatory)
            assert key in native
            assert slot.start >= pms.now()

    async def test_longer_visits_need_adjacent_openings(self, sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
        first, end = sandbox.today + timedelta(days=28), sandbox.today + timedelta(days=35)
        short = await pms.appointments.find_slots(start=first, end=end, duration=THIRTY)
        long = await pms.appointments.find_slots(start=first, end=end, duration=timedelta(minutes=90))
        assert long
        assert {(s.start, s.provider_id) for s in long} < {(s.start, s.provider_id) for s in short}

    async def test_a_native_slot_can_be_booked(self, sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
        slot = (await pms.appointments.find_slots(start=sandbox.today, end=sandbox.today + timedelta(days=6),
                                                  duration=THIRTY, limit=1))[0]  # fmt: skip
        patient = next(p for p in sandbox.world.patients.values() if p.practice_id == "1" and p.status == "Active")
        handle = await pms.appointments.book(
            BookingRequest(
                patient_id=patient.patient_id,
                provider_id=slot.provider_id or "",
                operatory=slot.operatory,
                start=slot.start,
                duration=THIRTY,
            )
        )
        result = await pms.writebacks.wait(handle)
        assert result.status is WritebackState.WRITTEN  # OrthoTrac takes a booking only at one of its slots
        [sent] = [w for w in sandbox.writebacks if w.kind == "new_appointment"]
        assert (sent.body["staff"], sent.body["type"]) == ("STF1", "5")
