"""Table tests of the provider-neutral slot computation (pms_connect.scheduling)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import Appointment, TimeSlot
from pms_connect.scheduling import (
    DatedHours,
    Hours,
    PracticeHours,
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

CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc
MON = date(2026, 12, 7)  # a Monday
NINE_TO_FIVE = Hours.weekly({d: [(time(9), time(12)), (time(13), time(17))] for d in range(5)})


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=zone)


def appt(provider: str | None, chair: str | None, start: datetime, minutes: int, **kw: object) -> Appointment:
    return Appointment(
        id=str(abs(hash((provider, chair, start)))),
        provider_id=provider,
        operatory=chair,
        start=start,
        duration=timedelta(minutes=minutes),
        **kw,  # type: ignore[arg-type]
    )


def slots(**kw: object) -> list[TimeSlot]:
    args: dict[str, object] = {
        "start": at(MON, 0),
        "end": at(MON + timedelta(days=1), 0),
        "duration": timedelta(minutes=30),
        "zone": CHICAGO,
        "hours": WorkingHours(NINE_TO_FIVE, {"P1": NINE_TO_FIVE, "P2": NINE_TO_FIVE}, {"OP1": NINE_TO_FIVE}),
        "providers": ["P1"],
        "operatories": ["OP1"],
    }
    args.update(kw)
    return open_slots(**args)  # type: ignore[arg-type]


def starts(result: list[TimeSlot]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in result]


class TestValidation:
    @pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-30), timedelta(seconds=90), 30, None])
    def test_bad_duration(self, duration: object) -> None:
        with pytest.raises(InvalidArgumentError):
            validate_duration(duration)

    @pytest.mark.parametrize("limit", [0, -1, True, 2.5, "3"])
    def test_bad_limit(self, limit: object) -> None:
        with pytest.raises(InvalidArgumentError):
            validate_limit(limit)

    @pytest.mark.parametrize("grid", [timedelta(0), timedelta(seconds=30), timedelta(minutes=7), 10])
    def test_bad_grid(self, grid: object) -> None:
        with pytest.raises(InvalidArgumentError):
            validate_grid(grid)

    def test_naive_window_is_refused(self) -> None:
        with pytest.raises(InvalidArgumentError):
            slots(start=datetime(2026, 12, 7, 9))


class TestHours:
    def test_latest_schedule_on_or_before_the_day_applies(self) -> None:
        early = WeeklyHours({0: ((time(8), time(9)),)}, effective=date(2026, 11, 29))
        late = WeeklyHours({0: ((time(10), time(11)),)}, effective=date(2026, 12, 6))
        hours = Hours([late, early])
        assert hours.blocks_on(date(2026, 11, 30)) == ((time(8), time(9)),)
        assert hours.blocks_on(date(2026, 12, 7)) == ((time(10), time(11)),)
        # past the last published week, the last schedule keeps applying
        assert hours.blocks_on(date(2027, 3, 1)) == ((time(10), time(11)),)

    def test_before_every_dated_week_the_standing_schedule_or_nothing(self) -> None:
        dated = WeeklyHours({0: ((time(8), time(9)),)}, effective=date(2026, 12, 6))
        assert Hours([dated]).blocks_on(date(2026, 11, 30)) == ()
        standing = WeeklyHours({0: ((time(7), time(8)),)})
        assert Hours([dated, standing]).blocks_on(date(2026, 11, 30)) == ((time(7), time(8)),)

    def test_resolve_hours_falls_back_to_the_practice_only_when_nobody_is_scheduled(self) -> None:
        practice = Hours.weekly({0: [(time(8), time(9))]})
        own = Hours.weekly({0: [(time(10), time(11))]})
        assert resolve_hours(practice, {}, ["A", "B"]) == {"A": practice, "B": practice}
        assert resolve_hours(practice, {"A": own}, ["A", "B"]) == {"A": own}
        assert resolve_hours(None, {}, ["A"]) == {}


class TestOpenSlots:
    def test_working_hours_and_grid(self) -> None:
        result = slots(duration=timedelta(minutes=60), grid=timedelta(minutes=60))
        assert starts(result) == ["09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]

    def test_whole_slots_only(self) -> None:
        hours = Hours.weekly({0: [(time(9), time(9, 50))]})
        result = slots(duration=timedelta(minutes=30), hours=WorkingHours(None, {"P1": hours}, {"OP1": hours}))
        assert starts(result) == ["09:00", "09:10", "09:20"]

    def test_a_booked_provider_is_not_offered(self) -> None:
        booked = [appt("P1", "OP9", at(MON, 9, 30), 60)]
        result = slots(booked=booked, end=at(MON, 12), grid=timedelta(minutes=30))
        assert starts(result) == ["09:00", "10:30", "11:00", "11:30"]

    def test_a_booked_operatory_is_not_offered(self) -> None:
        booked = [appt("OTHER", "OP1", at(MON, 9, 30), 60)]
        result = slots(booked=booked, end=at(MON, 12), grid=timedelta(minutes=30))
        assert starts(result) == ["09:00", "10:30", "11:00", "11:30"]

    def test_cancelled_appointments_do_not_block(self) -> None:
        booked = [appt("P1", "OP1", at(MON, 9, 0), 180, cancelled=True)]
        result = slots(booked=booked, end=at(MON, 12), grid=timedelta(minutes=30))
        assert starts(result) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]

    def test_the_practice_must_be_open(self) -> None:
        practice = Hours.weekly({0: [(time(10), time(11))]})
        hours = WorkingHours(practice, {"P1": NINE_TO_FIVE}, {"OP1": NINE_TO_FIVE})
        assert starts(slots(hours=hours, grid=timedelta(minutes=30))) == ["10:00", "10:30"]

    def test_the_operatory_must_be_working(self) -> None:
        chair = Hours.weekly({0: [(time(16), time(17))]})
        hours = WorkingHours(None, {"P1": NINE_TO_FIVE}, {"OP1": chair})
        assert starts(slots(hours=hours, grid=timedelta(minutes=30))) == ["16:00", "16:30"]

    def test_unscheduled_providers_and_operatories_do_not_work(self) -> None:
        assert slots(providers=["NOBODY"]) == []
        assert slots(operatories=["NOCHAIR"]) == []

    def test_never_in_the_past(self) -> None:
        result = slots(not_before=at(MON, 16, 5), grid=timedelta(minutes=10))
        assert starts(result) == ["16:10", "16:20", "16:30"]

    def test_window_clips_and_a_date_window_ends_at_midnight(self) -> None:
        result = slots(start=at(MON, 10, 15), end=at(MON, 11, 30), grid=timedelta(minutes=15))
        assert starts(result) == ["10:15", "10:30", "10:45", "11:00"]

    def test_one_slot_per_provider_and_time_in_the_preferred_free_chair(self) -> None:
        hours = WorkingHours(None, {"P1": NINE_TO_FIVE}, dict.fromkeys(["OP1", "OP2", "OP3"], NINE_TO_FIVE))
        booked = [appt("X", "OP3", at(MON, 9), 30)]
        result = slots(
            hours=hours,
            operatories=["OP1", "OP2", "OP3"],
            preferences={"P1": ["OP3", "OP2"]},
            booked=booked,
            end=at(MON, 10),
        )
        assert [(s.start.strftime("%H:%M"), s.operatory) for s in result][:2] == [
            ("09:00", "OP2"),
            ("09:10", "OP2"),
        ]
        assert {s.operatory for s in result if s.start >= at(MON, 9, 30)} == {"OP3"}

    def test_sorted_by_time_then_provider_and_limited(self) -> None:
        result = slots(providers=["P2", "P1"], operatories=["OP1", "OP2"], limit=3,
                       hours=WorkingHours(None, {"P1": NINE_TO_FIVE, "P2": NINE_TO_FIVE},
                                          {"OP1": NINE_TO_FIVE, "OP2": NINE_TO_FIVE}))  # fmt: skip
        assert [(s.start.strftime("%H:%M"), s.provider_id, s.operatory) for s in result] == [
            ("09:00", "P1", "OP1"),
            ("09:00", "P2", "OP1"),
            ("09:10", "P1", "OP1"),
        ]

    def test_a_block_ending_at_midnight_runs_to_the_end_of_the_day(self) -> None:
        late = Hours.weekly({0: [(time(23), time(0))]})
        result = slots(hours=WorkingHours(None, {"P1": late}, {"OP1": late}), grid=timedelta(minutes=30))
        assert starts(result) == ["23:00", "23:30"]

    def test_slots_are_in_the_practice_zone(self) -> None:
        result = slots(start=datetime(2026, 12, 7, 15, tzinfo=UTC), end=datetime(2026, 12, 7, 16, tzinfo=UTC))
        assert result
        assert all(s.start.tzinfo is CHICAGO for s in result)
        assert starts(result)[0] == "09:00"


class TestDaylightSaving:
    NY = ZoneInfo("America/New_York")

    def test_spring_forward_slots_last_exactly_their_duration(self) -> None:
        day = date(2026, 3, 8)
        night = Hours.weekly({6: [(time(1), time(4))]})
        result = open_slots(
            start=at(day, 0, zone=self.NY),
            end=at(day + timedelta(days=1), 0, zone=self.NY),
            duration=timedelta(minutes=60),
            zone=self.NY,
            hours=WorkingHours(None, {"P": night}, {"O": night}),
            providers=["P"],
            operatories=["O"],
            grid=timedelta(minutes=30),
        )
        # 01:00-04:00 on the wall is two hours of real time: 01:00, 01:30 and 03:00 (02:xx does not exist)
        assert [s.start.strftime("%H:%M%z") for s in result] == ["01:00-0500", "01:30-0500", "03:00-0400"]
        assert all(s.end.astimezone(UTC) - s.start.astimezone(UTC) == timedelta(hours=1) for s in result)

    def test_fall_back_offers_the_repeated_hour_twice(self) -> None:
        day = date(2026, 11, 1)
        night = Hours.weekly({6: [(time(1), time(2, 30))]})
        result = open_slots(
            start=at(day, 0, zone=self.NY),
            end=at(day + timedelta(days=1), 0, zone=self.NY),
            duration=timedelta(minutes=60),
            zone=self.NY,
            hours=WorkingHours(None, {"P": night}, {"O": night}),
            providers=["P"],
            operatories=["O"],
            grid=timedelta(minutes=30),
        )
        assert [s.start.strftime("%H:%M%z") for s in result] == [
            "01:00-0400",
            "01:30-0400",
            "01:00-0500",
            "01:30-0500",
        ]

    def test_office_hours_on_the_day_after_the_change_have_the_new_offset(self) -> None:
        day = date(2026, 3, 9)
        hours = Hours.weekly({0: [(time(9), time(10))]})
        result = open_slots(
            start=at(day, 0, zone=self.NY),
            end=at(day, 12, zone=self.NY),
            duration=timedelta(minutes=30),
            zone=self.NY,
            hours=WorkingHours(hours, {"P": hours}, {"O": hours}),
            providers=["P"],
            operatories=["O"],
        )
        assert result[0].start.astimezone(UTC) == datetime(2026, 3, 9, 13, tzinfo=UTC)


class TestOpenings:
    def opening(
        self, hh: int, mm: int, minutes: int = 30, provider: str = "P", chair: str | None = "O1"
    ) -> TimeSlot:
        start = at(MON, hh, mm)
        return TimeSlot(start=start, end=start + timedelta(minutes=minutes), provider_id=provider, operatory=chair)

    def run(self, openings: list[TimeSlot], minutes: int, **kw: object) -> list[TimeSlot]:
        args: dict[str, object] = {
            "start": at(MON, 0),
            "end": at(MON, 23),
            "duration": timedelta(minutes=minutes),
            "zone": CHICAGO,
            "providers": {"P", "Q"},
            "operatories": {"O1", "O2"},
        }
        args.update(kw)
        return slots_from_openings(openings, **args)  # type: ignore[arg-type]

    def test_adjacent_openings_hold_a_longer_visit(self) -> None:
        openings = [self.opening(9, 0), self.opening(9, 30), self.opening(11, 0)]
        assert starts(self.run(openings, 60)) == ["09:00"]
        assert starts(self.run(openings, 20)) == ["09:00", "09:30", "11:00"]

    def test_visits_start_only_where_an_opening_starts(self) -> None:
        assert starts(self.run([self.opening(9, 0, minutes=60)], 30)) == ["09:00"]

    def test_other_chairs_providers_past_and_window_are_dropped(self) -> None:
        openings = [
            self.opening(9, 0, chair="O9"),
            self.opening(9, 0, provider="Z"),
            self.opening(8, 0),
            self.opening(22, 45),
            self.opening(10, 0),
            self.opening(10, 0, chair=None),
        ]
        result = self.run(openings, 30, not_before=at(MON, 8, 30))
        assert [(s.start.strftime("%H:%M"), s.operatory) for s in result] == [("10:00", "O1")]
        assert starts(self.run(openings, 30, not_before=at(MON, 8, 30), require_operatory=True)) == ["10:00"]

    def test_one_slot_per_provider_and_time(self) -> None:
        openings = [
            self.opening(9, 0, chair="O2"),
            self.opening(9, 0, chair="O1"),
            self.opening(9, 0, provider="Q"),
        ]
        result = self.run(openings, 30)
        assert [(s.provider_id, s.operatory) for s in result] == [("P", "O1"), ("Q", "O1")]
        assert self.run(openings, 30, preferences={"P": ["O2"]})[0].operatory == "O2"


def test_natural_order() -> None:
    assert natural_order(["OP10", "OP2", "OP1", "Hyg"]) == ["Hyg", "OP1", "OP2", "OP10"]


def test_repeated_ids_do_not_repeat_slots() -> None:
    assert slots(providers=["P1", "P1"], operatories=["OP1", "OP1"]) == slots()


# -- hours by date, and providers seated in the chairs their schedule names ---------------------------------


def test_dated_hours_open_only_the_dates_they_name() -> None:
    tuesday = MON + timedelta(days=1)
    dated = DatedHours({MON: [(time(14), time(15))], tuesday: []})
    found = slots(
        hours=WorkingHours(None, {"P1": dated}, {"OP1": dated}),
        end=at(MON + timedelta(days=8), 0),
        duration=timedelta(minutes=60),
    )
    assert [(s.start, s.end) for s in found] == [(at(MON, 14), at(MON, 15))]  # not next Monday: no template
    assert dated.days == [MON]
    assert not PracticeHours(None, {"P1": dated}, published=1).reach_midnight
    assert PracticeHours(None, {"P1": DatedHours({MON: [(time(20), time(0))]})}, published=1).reach_midnight


def test_a_seated_provider_is_offered_only_in_the_chairs_and_times_of_their_seats() -> None:
    morning_op2 = DatedHours({MON: [(time(9), time(10))]})
    hours = WorkingHours(
        NINE_TO_FIVE,
        {"P1": NINE_TO_FIVE, "P2": NINE_TO_FIVE},
        {"OP1": NINE_TO_FIVE, "OP2": NINE_TO_FIVE},
        seats={("P1", "OP2"): morning_op2},
    )
    found = slots(hours=hours, providers=["P1", "P2"], operatories=["OP1", "OP2"], duration=timedelta(minutes=60))
    p1 = [(s.start.hour, s.operatory) for s in found if s.provider_id == "P1"]
    assert p1 == [(9, "OP2")]  # never OP1, never after 10:00
    p2 = {s.operatory for s in found if s.provider_id == "P2"}
    assert p2 == {"OP1"}  # no seats: any free chair, the first in order
