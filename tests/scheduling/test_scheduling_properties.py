"""Property tests of open_slots against a brute-force oracle written independently of the module.

The oracle walks every 5 minutes of real time across the window, keeps the instants whose local wall clock is
on the grid, and decides each (provider, start) from first principles: practice, provider and some operatory
working for the whole visit (wall-clock blocks of the start's local day, as instants), no non-cancelled
appointment of the provider or that operatory overlapping, not before now, inside the window. Days include
the DST changes of New York and Chicago.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pms_connect.models import Appointment, TimeSlot
from pms_connect.scheduling import Hours, WorkingHours, open_slots, slots_from_openings

UTC = timezone.utc
ZONES = [ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")]
DAYS = [date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 7), date(2026, 10, 31), date(2026, 6, 15)]
PROVIDERS = ["P1", "P2", "P3"]
CHAIRS = ["OP1", "OP2", "OP3"]


@st.composite
def blocks(draw: st.DrawFn) -> list[tuple[time, time]]:
    """Up to three blocks of a day on a 5-minute wall clock, night hours included (DST happens at 2 am)."""
    count = draw(st.integers(0, 3))
    marks = sorted(draw(st.lists(st.integers(0, 288), min_size=2 * count, max_size=2 * count, unique=True)))
    out = []
    for a, b in zip(marks[::2], marks[1::2], strict=True):
        end = time(0) if b == 288 else time(b * 5 // 60, b * 5 % 60)
        out.append((time(a * 5 // 60, a * 5 % 60), end))
    return out


@st.composite
def hours(draw: st.DrawFn) -> Hours:
    return Hours.weekly({weekday: draw(blocks()) for weekday in range(7)})


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, object]:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    span_days = draw(st.integers(1, 2))
    lo = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) + timedelta(minutes=draw(st.integers(0, 600)))
    hi = datetime.combine(day + timedelta(days=span_days), time(0), tzinfo=zone).astimezone(UTC)
    hi -= timedelta(minutes=draw(st.integers(0, 300)))
    providers = draw(st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=3, unique=True))
    chairs = draw(st.lists(st.sampled_from(CHAIRS), min_size=1, max_size=3, unique=True))
    practice = draw(st.none() | hours())
    provider_hours = {p: draw(hours()) for p in providers if draw(st.booleans()) or p == providers[0]}
    chair_hours = {c: draw(hours()) for c in chairs if draw(st.booleans()) or c == chairs[0]}
    booked = []
    for n in range(draw(st.integers(0, 12))):
        local = datetime.combine(
            day + timedelta(days=draw(st.integers(-1, span_days))),
            time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 5, 10, 15, 20, 30, 45, 50]))),
            tzinfo=zone,
        ).replace(fold=draw(st.integers(0, 1)))
        booked.append(
            Appointment(
                id=str(n),
                provider_id=draw(st.sampled_from([*PROVIDERS, None])),
                operatory=draw(st.sampled_from([*CHAIRS, None])),
                start=local,
                duration=timedelta(minutes=draw(st.integers(5, 240))),
                cancelled=draw(st.booleans()),
            )
        )
    now = lo + timedelta(minutes=draw(st.integers(-120, 24 * 60)))
    return {
        "zone": zone,
        "start": lo.astimezone(zone),
        "end": hi.astimezone(zone),
        "duration": timedelta(minutes=draw(st.sampled_from([10, 15, 25, 30, 45, 60, 90]))),
        "grid": timedelta(minutes=draw(st.sampled_from([5, 10, 15, 30, 60]))),
        "hours": WorkingHours(practice, provider_hours, chair_hours),
        "providers": providers,
        "operatories": chairs,
        "booked": booked,
        "not_before": now.astimezone(draw(st.sampled_from([UTC, zone]))),
    }


# -- the oracle ---------------------------------------------------------------------------------------------


def _covered(hours: Hours | None, t0: datetime, t1: datetime, zone: ZoneInfo) -> bool:
    if hours is None:
        return True
    day = t0.astimezone(zone).date()
    spans = []
    for a, b in hours.blocks_on(day):
        lo = datetime.combine(day, a, tzinfo=zone).astimezone(UTC)
        end_day = day + timedelta(days=1) if b == time(0) else day
        hi = datetime.combine(end_day, b, tzinfo=zone).astimezone(UTC)
        spans.append((lo, hi))
    spans.sort()
    reach = t0
    for lo, hi in spans:  # is [t0, t1) inside the union of the spans?
        if lo <= reach < hi:
            reach = hi
    return reach >= t1


def _free(booked: list[Appointment], key: str, value: str, t0: datetime, t1: datetime) -> bool:
    for a in booked:
        if a.cancelled or getattr(a, key) != value:
            continue
        a0 = a.start.astimezone(UTC)
        if a0 < t1 and t0 < a0 + a.duration:
            return False
    return True


def _day_fits(t0: datetime, t1: datetime, zone: ZoneInfo) -> bool:
    day = t0.astimezone(zone).date()
    return t1 <= datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def _chair_ok(s: dict[str, object], chair: str, t0: datetime, t1: datetime) -> bool:
    zone = s["zone"]
    hours: WorkingHours = s["hours"]  # type: ignore[assignment]
    return (
        chair in hours.operatories
        and _covered(hours.operatories[chair], t0, t1, zone)  # type: ignore[arg-type]
        and _free(s["booked"], "operatory", chair, t0, t1)  # type: ignore[arg-type]
    )


def oracle(s: dict[str, object]) -> set[tuple[str, datetime]]:
    zone: ZoneInfo = s["zone"]  # type: ignore[assignment]
    hours: WorkingHours = s["hours"]  # type: ignore[assignment]
    duration: timedelta = s["duration"]  # type: ignore[assignment]
    grid_min = int(s["grid"].total_seconds() // 60)  # type: ignore[attr-defined]
    lo = max(s["start"], s["not_before"]).astimezone(UTC)  # type: ignore[type-var, union-attr]
    hi = s["end"].astimezone(UTC)  # type: ignore[attr-defined]
    expected = set()
    t = lo.replace(second=0, microsecond=0)
    t -= timedelta(minutes=t.minute % 5)
    while t + duration <= hi:
        local = t.astimezone(zone)
        if t >= lo and (local.hour * 60 + local.minute) % grid_min == 0:
            t1 = t + duration
            for p in s["providers"]:  # type: ignore[attr-defined]
                if (
                    p in hours.providers
                    and _day_fits(t, t1, zone)
                    and _covered(hours.practice, t, t1, zone)
                    and _covered(hours.providers[p], t, t1, zone)
                    and _free(s["booked"], "provider_id", p, t, t1)  # type: ignore[arg-type]
                    and any(_chair_ok(s, c, t, t1) for c in s["operatories"])  # type: ignore[attr-defined]
                ):
                    expected.add((p, t))
        t += timedelta(minutes=5)
    return expected


# -- the properties -----------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_open_slots_match_the_oracle(s: dict[str, object]) -> None:
    result = open_slots(**s)  # type: ignore[arg-type]
    zone: ZoneInfo = s["zone"]  # type: ignore[assignment]
    duration: timedelta = s["duration"]  # type: ignore[assignment]
    for slot in result:
        t0, t1 = slot.start.astimezone(UTC), slot.end.astimezone(UTC)
        assert t1 - t0 == duration  # exact elapsed time, DST or not
        assert slot.start.tzinfo is zone
        assert t0 >= s["not_before"]  # never in the past  # type: ignore[operator]
        assert s["start"] <= t0
        assert t1 <= s["end"]
        # the chosen chair works and is free for the whole visit
        assert slot.operatory is not None
        assert _chair_ok(s, slot.operatory, t0, t1)
    got = {(slot.provider_id, slot.start.astimezone(UTC)) for slot in result}
    assert len(got) == len(result), "one slot per provider and start"
    assert got == oracle(s)
    keys = [(x.start.astimezone(UTC), x.provider_id, x.operatory) for x in result]
    assert keys == sorted(keys)


@settings(max_examples=60, deadline=None)
@given(scenario(), st.integers(1, 5))
def test_limit_is_a_prefix_of_the_full_answer(s: dict[str, object], limit: int) -> None:
    full = open_slots(**s)  # type: ignore[arg-type]
    assert open_slots(**s, limit=limit) == full[:limit]  # type: ignore[arg-type]


@st.composite
def openings(draw: st.DrawFn) -> tuple[list[TimeSlot], ZoneInfo, datetime]:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    out = []
    for _ in range(draw(st.integers(0, 15))):
        wall = time(draw(st.integers(0, 22)), draw(st.sampled_from([0, 10, 20, 30])))
        start = datetime.combine(day, wall, tzinfo=zone)
        end = (start.astimezone(UTC) + timedelta(minutes=draw(st.sampled_from([10, 20, 30, 60])))).astimezone(zone)
        out.append(
            TimeSlot(
                start=start,
                end=end,
                provider_id=draw(st.sampled_from(["P1", "P2", "X"])),
                operatory=draw(st.sampled_from(["OP1", "OP2", "OP9"])),
            )
        )
    return out, zone, datetime.combine(day, time(0), tzinfo=zone)


@settings(max_examples=100, deadline=None)
@given(openings(), st.sampled_from([10, 20, 30, 45, 60, 90]), st.integers(0, 24 * 60))
def test_native_openings_hold_whole_visits(
    data: tuple[list[TimeSlot], ZoneInfo, datetime], minutes: int, now_offset: int
) -> None:
    items, zone, midnight = data
    duration = timedelta(minutes=minutes)
    now = midnight.astimezone(UTC) + timedelta(minutes=now_offset)
    result = slots_from_openings(
        items,
        start=midnight,
        end=midnight + timedelta(days=1),
        duration=duration,
        zone=zone,
        providers={"P1", "P2"},
        operatories={"OP1", "OP2"},
        not_before=now,
    )
    for slot in result:
        t0, t1 = slot.start.astimezone(UTC), slot.end.astimezone(UTC)
        assert t1 - t0 == duration
        assert t0 >= now
        mine = sorted(
            (o.start.astimezone(UTC), o.end.astimezone(UTC))
            for o in items
            if (o.provider_id, o.operatory) == (slot.provider_id, slot.operatory)
        )
        assert any(o0 == t0 for o0, _ in mine), "a visit starts where an opening starts"
        reach = t0
        for o0, o1 in mine:
            if o0 <= reach < o1:
                reach = o1
        assert reach >= t1, "the visit lies inside adjacent openings"
