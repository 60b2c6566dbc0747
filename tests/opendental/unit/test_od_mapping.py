"""Open Dental's wire values and their mapping: Pattern both ways, numbers as strings or numbers, string
booleans, sentinels, naive local times across DST, masked explanations, permission groups, schedules."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import ProviderKind
from pms_connect.opendental import _mapping as m
from pms_connect.opendental import _wire as w
from pms_connect.opendental._client import pacing_period, page_cap
from pms_connect.opendental._errors import permission_area, safe_explanation, template_path
from pms_connect.opendental._slots import ScheduleCache, Schedules, read_schedules
from pms_connect.opendental.options import parse_permissions
from pms_connect.scheduling import PracticeHours
from pms_connect.testing.clock import FakeClock

CHICAGO = ZoneInfo("America/Chicago")


# -- Pattern ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "minutes"),
    [("//XXXX//", 40), ("/XX/", 20), ("//XXXXXX//", 50), ("X", 5), ("", 0), (None, 0), ("//////X/", 40)],
)
def test_pattern_length(pattern: str | None, minutes: int) -> None:
    assert m.pattern_length(pattern) == timedelta(minutes=minutes)


def test_pattern_for_renders_provider_time() -> None:
    assert m.pattern_for(timedelta(minutes=40)) == "XXXXXXXX"
    assert m.pattern_for(timedelta(hours=9)) == "X" * 108


@pytest.mark.parametrize(
    "duration", [timedelta(minutes=7), timedelta(0), timedelta(minutes=-5), timedelta(hours=9, minutes=5)]
)
def test_pattern_for_refuses_what_open_dental_cannot_book(duration: timedelta) -> None:
    with pytest.raises(InvalidArgumentError):
        m.pattern_for(duration)


@given(st.integers(min_value=1, max_value=108))
def test_pattern_round_trips(units: int) -> None:
    duration = timedelta(minutes=5 * units)
    assert m.pattern_length(m.pattern_for(duration)) == duration


# -- scalars ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(18, 18), ("18", 18), (" 18 ", 18), ("18.0", 18), (18.0, 18), ("", None), (None, None)]
)
def test_numbers_as_numbers_or_strings(value: Any, expected: int | None) -> None:
    assert w.parse_int(value) == expected


@pytest.mark.parametrize("value", ["18.5", "abc", True, "nan"])
def test_numbers_refused(value: Any) -> None:
    with pytest.raises(ValueError, match=r"number|boolean"):
        w.parse_int(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (True, True), ("", None), (None, None)],
)
def test_string_booleans_in_any_case(value: Any, expected: bool | None) -> None:
    assert w.parse_bool(value) is expected


def test_a_boolean_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="boolean"):
        w.parse_bool("maybe")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("339", Decimal("339")),
        ("129.99", Decimal("129.99")),
        (111.9, Decimal("111.9")),
        (0.0, Decimal("0.0")),
        ("", None),
    ],
)
def test_money_exactly(value: Any, expected: Decimal | None) -> None:
    assert w.parse_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-07-31 08:30:00", datetime(2020, 7, 31, 8, 30)),
        ("2020-07-31T08:30:00", datetime(2020, 7, 31, 8, 30)),
        ("2020-07-31", datetime(2020, 7, 31)),
        ("0001-01-01 00:00:00", None),
        ("0001-01-01", None),
        ("", None),
    ],
)
def test_datetimes_are_naive_and_the_empty_date_is_none(value: str, expected: datetime | None) -> None:
    assert w.parse_datetime(value) == expected


def test_a_datetime_with_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no zone"):
        w.parse_datetime("2022-05-21 14:30:00-07:00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1976-05-24", date(1976, 5, 24)), ("0001-01-01", None), ("2021-12-08 15:34:34", date(2021, 12, 8))],
)
def test_dates(value: str, expected: date | None) -> None:
    assert w.parse_date(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("14:00:00", time(14)), ("08:30", time(8, 30)), ("", None)])
def test_times(value: str, expected: time | None) -> None:
    assert w.parse_time(value) == expected


def test_keys_ids_and_lists() -> None:
    row = w.ScheduleRow.model_validate(
        {"ScheduleNum": "24555", "ProvNum": "0", "BlockoutType": "248", "operatories": "5,6", "Unknown": [1]}
    )
    assert (row.ScheduleNum, row.ProvNum, row.BlockoutType, row.operatories) == ("24555", None, "248", ("5", "6"))
    assert w.ScheduleRow.model_validate({"ScheduleNum": 1, "operatories": ""}).operatories == ()
    assert w.ScheduleRow.model_validate({"ScheduleNum": 1, "operatories": 5}).operatories == ("5",)
    assert w.PaymentRow.model_validate({"PayNum": 1, "ClinicNum": "0"}).ClinicNum == 0
    assert w.PatientRow.model_validate({"PatNum": 16, "Zip": 90011}).PatNum == "16"  # Zip a number: ignored


# -- rows to models -----------------------------------------------------------------------------------------

APPOINTMENT = {
    "AptNum": 18,
    "PatNum": 17,
    "AptStatus": "Scheduled",
    "Pattern": "//XXXX//",
    "Confirmed": 19,
    "confirmed": "Not Called",
    "Op": 3,
    "Note": "",
    "ProvNum": 1,
    "ProvHyg": 0,
    "AptDateTime": "2020-07-31 08:30:00",
    "ProcDescript": "Seal, Seal",
    "ClinicNum": 0,
    "IsHygiene": "false",
}


def appointment(**over: Any) -> Any:
    return w.AppointmentRow.model_validate({**APPOINTMENT, **over})


def test_an_appointment_in_the_practice_s_zone() -> None:
    a = m.appointment(appointment(), CHICAGO)
    assert a.start == datetime(2020, 7, 31, 8, 30, tzinfo=CHICAGO)
    assert a.start.tzinfo is CHICAGO
    assert (a.id, a.patient_id, a.provider_id, a.hygienist_id, a.operatory, a.practice_id) == (
        "18",
        "17",
        "1",
        None,
        "3",
        "0",
    )
    assert a.end == datetime(2020, 7, 31, 9, 10, tzinfo=CHICAGO)
    assert m.appointment(appointment(Note="Requests window seat"), CHICAGO).description == "Requests window seat"


def test_lengths_are_elapsed_time_across_dst() -> None:
    # 00:30 CDT on the night clocks fall back, three hours: it ends at 02:30 CST (3 h elapsed).
    a = m.appointment(appointment(AptDateTime="2026-11-01 00:30:00", Pattern="X" * 36), CHICAGO)
    assert a.duration == timedelta(hours=3)
    assert a.end.astimezone(timezone.utc) - a.start.astimezone(timezone.utc) == timedelta(hours=3)
    assert a.end.replace(tzinfo=None) == datetime(2026, 11, 1, 2, 30)


def test_times_sent_are_the_practice_s_wall_clock() -> None:
    assert m.wire_datetime(datetime(2026, 11, 1, 7, 30, tzinfo=timezone.utc), CHICAGO) == "2026-11-01 01:30:00"
    assert m.wire_datetime(datetime(2026, 3, 8, 8, 0, tzinfo=timezone.utc), CHICAGO) == "2026-03-08 03:00:00"
    assert m.wire_date(date(2022, 3, 7)) == "2022-03-07"
    with pytest.raises(InvalidArgumentError):
        m.wire_datetime(datetime(2026, 3, 8, 8, 0), CHICAGO)


def test_confirmed_from_the_definitions_else_the_row_s_name() -> None:
    labels = {"19": "Not Called", "21": "Confirmed", "22": "Unconfirmed"}
    assert m.appointment(appointment(Confirmed=21), CHICAGO, labels).confirmed
    assert not m.appointment(appointment(Confirmed=22), CHICAGO, labels).confirmed
    assert m.appointment(appointment(Confirmed=99, confirmed="Confirmed"), CHICAGO, labels).confirmed
    assert m.appointment(appointment(Confirmed=21, confirmed="Confirmed"), CHICAGO).confirmed


@pytest.mark.parametrize(
    ("status", "cancelled"),
    [("Scheduled", False), ("Complete", False), ("Broken", True), ("UnschedList", True), ("PtNote", False)],
)
def test_cancelled_statuses(status: str, cancelled: bool) -> None:
    assert m.appointment(appointment(AptStatus=status), CHICAGO).cancelled is cancelled


def test_an_appointment_without_a_time_is_refused() -> None:
    with pytest.raises(ValueError, match="without a date"):
        m.appointment(appointment(AptDateTime="0001-01-01 00:00:00", AptStatus="Planned"), CHICAGO)


@pytest.mark.parametrize(
    ("fields", "kind", "active"),
    [
        ({"IsSecondary": "true"}, ProviderKind.HYGIENIST, True),
        ({"IsSecondary": "false"}, ProviderKind.DENTIST, True),
        ({"IsNotPerson": "true"}, ProviderKind.OTHER, True),
        ({"ProvStatus": "Deleted"}, ProviderKind.DENTIST, False),
        ({"IsHidden": "True"}, ProviderKind.DENTIST, False),
    ],
)
def test_providers(fields: dict[str, str], kind: ProviderKind, active: bool) -> None:
    p = m.provider(w.ProviderRow.model_validate({"ProvNum": "4", "FName": "Bruce", "LName": "Bently", **fields}))
    assert (p.id, p.kind, p.active, p.display_name) == ("4", kind, active, "Bruce Bently")


def test_a_patient_s_empty_fields_are_none() -> None:
    p = m.patient(
        w.PatientRow.model_validate(
            {
                "PatNum": 2,
                "FName": "Brody",
                "LName": "Johnson",
                "Birthdate": "0001-01-01",
                "HmPhone": "",
                "Guarantor": 0,
            }
        )
    )
    assert (p.birthdate, p.home_phone, p.guarantor_id, p.phones) == (None, None, None, ())


def test_a_refund_keeps_its_sign() -> None:
    t = m.transaction(
        w.PaymentRow.model_validate(
            {"PayNum": 231, "PayType": 383, "PayDate": "2025-01-05", "PayAmt": "-129.99", "PatNum": 1568}
        )
    )
    assert (t.amount, t.payment_type, t.kind) == (Decimal("-129.99"), "383", "payment")


# -- explanations, permissions, pacing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("Patient does not exist", "Patient does not exist"),
        ("Schedule not found", "Schedule not found"),
        ("DateTStamp format must be yyyy-MM-dd HH:mm:ss", "DateTStamp format must be yyyy-MM-dd HH:mm:ss"),
        (
            "Can't delete InsSub because PatPlans are still attached.",
            "Can't delete InsSub because PatPlans are still attached.",
        ),
        (
            "Only appointments with an AptStatus of Scheduled can be broken",
            "Only appointments with an AptStatus of Scheduled can be broken",
        ),
        ("Patient Jane Smith already exists", "Patient … already exists"),
        ("Invalid Birthdate 1990-13-01 for PatNum 48", "Invalid Birthdate … for PatNum …"),
        ("Email jane@example.com is invalid", "Email … is invalid"),
        ("Jane Smith", ""),
        ("", ""),
    ],
)
def test_explanations_keep_only_open_dental_s_words(text: str, safe: str) -> None:
    assert safe_explanation(text) == safe


def test_a_long_explanation_is_cut() -> None:
    assert len(safe_explanation("Patient not found " * 50)) <= 201


@pytest.mark.parametrize(
    ("method", "path", "area"),
    [
        ("GET", "appointments/18", "ReadAll"),
        ("POST", "appointments", "Appointments"),
        ("PUT", "appointments/18", "Appointments"),
        ("PUT", "appointments/18/Break", "Comm"),
        ("PUT", "appointments/18/Confirm", "Comm"),
        ("PUT", "appointments/18/Note", "Comm"),
        ("POST", "patients", "Patients"),
        ("PUT", "patients/48", "Patients"),
        ("POST", "payments", "Payments"),
        ("POST", "payments/Refund", "Payments"),
        ("POST", "patplans", "InsuranceSimple"),
        ("POST", "insplans", "Insurance"),
        ("POST", "subscriptions", "ReadAll"),
        ("POST", "commlogs", "Comm"),
        ("POST", "tasks", "AllOthers"),
    ],
)
def test_permission_areas(method: str, path: str, area: str) -> None:
    assert permission_area(method, path) == area


def test_paths_without_ids() -> None:
    assert template_path("/familymodules/13/Insurance") == "familymodules/{id}/Insurance"


def test_permissions_pacing_and_caps() -> None:
    assert parse_permissions(None) is None
    assert parse_permissions([]) == {"ReadAll"}
    assert parse_permissions(["read all", "COMM"]) == {"ReadAll", "Comm"}
    assert pacing_period(None) == 1.0
    assert pacing_period(frozenset({"ReadAll"})) == 5.0
    assert pacing_period(frozenset({"ReadAll", "Comm"})) == 1.0
    assert pacing_period(frozenset({"ReadAll", "Enterprise"})) == 0.5
    assert (page_cap("remote", None), page_cap("local", None), page_cap("service", frozenset({"Enterprise"}))) == (
        100,
        1000,
        10_000,
    )


# -- schedules ----------------------------------------------------------------------------------------------


def schedule(
    num: int, day: str, start: str, stop: str, kind: str = "Provider", prov: str = "3", ops: str = ""
) -> Any:
    return w.ScheduleRow.model_validate(
        {"ScheduleNum": str(num), "SchedDate": day, "StartTime": start, "StopTime": stop, "SchedType": kind,
         "ProvNum": prov if kind == "Provider" else "0", "operatories": ops}
    )  # fmt: skip


def read(*rows: Any) -> Schedules:
    return read_schedules(rows, zone=CHICAGO, chairs=["1", "2", "3"])


def test_provider_hours_seats_and_closures() -> None:
    s = read(
        schedule(1, "2022-03-07", "08:00:00", "12:00:00", ops="2"),
        schedule(2, "2022-03-07", "13:00:00", "17:00:00"),  # names no chair, beside one that does: every chair
        schedule(3, "2022-03-08", "08:00:00", "12:00:00", prov="4"),  # provider 4 names none: any chair
        schedule(4, "2022-03-11", "08:00:00", "12:00:00", ops="2"),
        schedule(5, "2022-03-11", "00:00:00", "00:00:00", kind="Practice"),
    )
    hours: PracticeHours = s.hours
    assert hours.providers["3"].blocks_on(date(2022, 3, 7)) == ((time(8), time(12)), (time(13), time(17)))
    assert hours.seats[("3", "2")].blocks_on(date(2022, 3, 7)) == ((time(8), time(12)), (time(13), time(17)))
    assert hours.seats[("3", "1")].blocks_on(date(2022, 3, 7)) == ((time(13), time(17)),)
    assert not any(provider == "4" for provider, _ in hours.seats)
    assert hours.providers["3"].blocks_on(date(2022, 3, 11)) == ()  # closed
    assert s.closures == {date(2022, 3, 11)}
    assert hours.operatories["1"].blocks_on(date(2022, 3, 11)) == ()
    assert hours.operatories["1"].blocks_on(date(2022, 3, 10)) == ((time(0), time(0)),)
    at = datetime(2022, 3, 7, 9, 0, tzinfo=CHICAGO)
    assert s.chairs_of("3", at, at + timedelta(hours=1), CHICAGO) == {"2"}
    later = datetime(2022, 3, 7, 14, 0, tzinfo=CHICAGO)
    assert s.chairs_of("3", later, later + timedelta(hours=1), CHICAGO) == {"1", "2", "3"}
    assert s.chairs_of("3", at.replace(hour=11, minute=30), at.replace(hour=12, minute=30), CHICAGO) == frozenset()


def test_blockouts_are_busy_chairs_and_midnight_ends_the_day() -> None:
    s = read(
        schedule(1, "2022-03-07", "13:30:00", "14:00:00", kind="Blockout", ops="2,3"),
        schedule(2, "2022-03-07", "12:00:00", "12:30:00", kind="Blockout"),  # names none: every chair
        schedule(3, "2022-03-07", "18:00:00", "00:00:00"),
        schedule(4, "2022-03-07", "18:00:00", "17:00:00"),  # unreadable: left out
    )
    assert sorted((b.operatory, b.start.hour, b.duration) for b in s.blockouts) == [
        ("1", 12, timedelta(minutes=30)),
        ("2", 12, timedelta(minutes=30)),
        ("2", 13, timedelta(minutes=30)),
        ("3", 12, timedelta(minutes=30)),
        ("3", 13, timedelta(minutes=30)),
    ]
    assert all(b.provider_id is None and b.status == "Blockout" for b in s.blockouts)
    assert s.hours.providers["3"].blocks_on(date(2022, 3, 7)) == ((time(18), time(0)),)
    assert s.hours.published == 4


async def test_the_schedule_cache_loads_once_and_forgets_old_windows() -> None:
    clock = FakeClock()
    cache = ScheduleCache(clock, timedelta(minutes=15), size=2)
    loads: list[int] = []

    async def load() -> Schedules:
        loads.append(1)
        await asyncio.sleep(0)
        return read()

    key = (date(2022, 3, 7), date(2022, 3, 7))
    await asyncio.gather(cache.get(key, load), cache.get(key, load))
    assert len(loads) == 1
    await cache.get((date(2022, 3, 8), date(2022, 3, 8)), load)
    await cache.get((date(2022, 3, 9), date(2022, 3, 9)), load)
    await cache.get(key, load)  # evicted: loaded again
    assert len(loads) == 4
    clock.advance(16 * 60)
    await cache.get(key, load)
    assert len(loads) == 5
