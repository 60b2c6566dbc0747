"""Every Open Dental read: the exact request on the wire, and the parsing of Open Dental's own example answers
into domain models."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect.errors import InvalidArgumentError, NotFoundError
from pms_connect.models import Capability, MatchStatus, ProviderKind
from pms_connect.opendental import OpenDentalCredentials, WatermarkPager
from pms_connect.testing.clock import FakeClock

from .conftest import (
    APPOINTMENT_18,
    APPOINTMENTS,
    CARRIERS,
    CLINICS,
    FAMILY_INSURANCE_13,
    OPERATORIES,
    PATIENT_48,
    PATIENTS_SELECT,
    PATIENTS_SIMPLE,
    PAYMENTS,
    PROVIDERS,
    SCHEDULES,
    FakeOpenDental,
    assert_od_request,
    preference,
)

CHICAGO = ZoneInfo("America/Chicago")
PAGE = {"Offset": "0", "Limit": "100"}
DEFINITIONS = {"Category": "2", "includeHidden": "true", **PAGE}


def requests_to(od: FakeOpenDental, path: str) -> list[httpx.Request]:
    return [r for _, r in od.arrivals if r.url.path == f"/api/v1/{path}"]


# -- practices, providers, chairs -------------------------------------------------------------------------------


async def test_practices_are_the_clinics(od: FakeOpenDental, provider: Any) -> None:
    od.get("clinics").mock(side_effect=od.answer(CLINICS))
    practices = await provider.practices.list().all()
    assert_od_request(od.arrivals[0][1], "GET", "clinics", PAGE)
    assert [(p.id, p.name, p.pms_name) for p in practices] == [("1", "Clinic1", "Open Dental")]


async def test_an_office_without_clinics_is_one_practice_named_by_its_title(
    od: FakeOpenDental, provider: Any
) -> None:
    od.get("clinics").mock(side_effect=od.answer([]))
    od.get("preferences").mock(side_effect=od.answer(preference("PracticeTitle", "Cedar Mountain Dental")))
    practices = await provider.practices.list().all()
    assert_od_request(requests_to(od, "preferences")[0], "GET", "preferences", {"PrefName": "PracticeTitle"})
    assert [(p.id, p.name) for p in practices] == [("0", "Cedar Mountain Dental")]


async def test_providers(od: FakeOpenDental, provider: Any) -> None:
    od.get("providers").mock(side_effect=od.answer(PROVIDERS))
    every = await provider.providers.list().all()
    assert_od_request(od.arrivals[0][1], "GET", "providers", PAGE)
    brian, tina = every
    assert (brian.id, brian.first_name, brian.last_name, brian.kind, brian.active) == (
        "1",
        "Brian",
        "Albert",
        ProviderKind.DENTIST,
        True,
    )
    assert (tina.id, tina.kind, tina.active, tina.hidden) == ("2", ProviderKind.HYGIENIST, False, False)  # Deleted
    assert [p.id for p in await provider.providers.list(active_only=True).all()] == ["1"]


async def test_a_clinic_s_providers_and_chairs_are_asked_for_by_clinicnum(
    od: FakeOpenDental, make_provider: Any
) -> None:
    pms = make_provider(credentials=OpenDentalCredentials(developer_key="d", customer_key="c", clinic_num="4"))
    od.get("providers").mock(side_effect=od.answer(PROVIDERS[0]))  # the page's ClinicNum example: one object
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    assert [p.id for p in await pms.providers.list().all()] == ["1"]
    await pms.operatories.list().all()
    assert dict(requests_to(od, "providers")[0].url.params) == {"ClinicNum": "4", **PAGE}
    assert dict(requests_to(od, "operatories")[0].url.params) == {"ClinicNum": "4", **PAGE}


async def test_operatories(od: FakeOpenDental, provider: Any) -> None:
    hidden = {**OPERATORIES[1], "OperatoryNum": 3, "Abbrev": "", "OpName": "Storage", "IsHidden": "true"}
    od.get("operatories").mock(side_effect=od.answer([*OPERATORIES, hidden]))
    chairs = await provider.operatories.list().all()
    assert_od_request(od.arrivals[0][1], "GET", "operatories", PAGE)
    assert [(o.id, o.name, o.practice_id, o.hidden) for o in chairs] == [
        ("1", "OP-1", "0", False),
        ("2", "OP-2", "0", False),
    ]
    every = await provider.operatories.list(include_hidden=True).all()
    assert [(o.id, o.name, o.hidden) for o in every][-1] == ("3", "Storage", True)


# -- appointments -----------------------------------------------------------------------------------------------


async def test_appointments_of_a_day_read_the_day_before_in_the_same_request(
    od: FakeOpenDental, provider: Any
) -> None:
    od.confirmations()
    od.get("appointments").mock(side_effect=od.answer(APPOINTMENTS))
    found = await provider.appointments.list(start=date(2020, 7, 31), end=date(2020, 7, 31)).all()
    assert_od_request(requests_to(od, "definitions")[0], "GET", "definitions", DEFINITIONS)
    assert_od_request(
        requests_to(od, "appointments")[0],
        "GET",
        "appointments",
        {"dateStart": "2020-07-30", "dateEnd": "2020-07-31", **PAGE},
    )
    four, three = found
    assert four.id == "4"
    assert four.patient_id == "20"
    assert four.provider_id == "3"
    assert four.operatory == "2"
    assert four.start == datetime(2020, 7, 31, 9, 0, tzinfo=CHICAGO)
    assert four.start.tzinfo is CHICAGO
    assert four.duration == timedelta(minutes=40)  # "//XXXX//"
    assert (four.status, four.cancelled, four.confirmed, four.hygienist_id, four.practice_id) == (
        "Scheduled",
        False,
        False,
        None,
        "0",
    )
    assert four.description == "Ex, PA"  # no Note: the procedures
    assert three.duration == timedelta(minutes=50)
    assert three.hygienist_id == "4"
    assert three.kind == "hygiene"


async def test_a_window_after_ten_reads_its_own_day_only_and_keeps_what_overlaps(
    od: FakeOpenDental, provider: Any
) -> None:
    od.confirmations()
    od.get("appointments").mock(side_effect=od.answer(APPOINTMENTS))
    start = datetime(2020, 7, 31, 9, 45, tzinfo=CHICAGO)
    found = await provider.appointments.list(start=start, end=start + timedelta(hours=1)).all()
    assert [a.id for a in found] == ["3"]  # 09:00-09:50 overlaps; 09:00-09:40 does not
    params = dict(requests_to(od, "appointments")[0].url.params)
    assert (params["dateStart"], params["dateEnd"]) == ("2020-07-30", "2020-07-31")  # within 10 h of midnight
    later = datetime(2020, 7, 31, 10, 0, tzinfo=CHICAGO)
    assert await provider.appointments.list(start=later, end=later + timedelta(hours=1)).all() == []
    params = dict(requests_to(od, "appointments")[1].url.params)
    assert (params["dateStart"], params["dateEnd"]) == ("2020-07-31", "2020-07-31")


async def test_appointment_filters(od: FakeOpenDental, provider: Any) -> None:
    od.confirmations()
    od.get("appointments").mock(side_effect=od.answer(APPOINTMENTS))
    day = date(2020, 7, 31)
    assert [a.id for a in await provider.appointments.list(start=day, end=day, provider_id="1").all()] == []
    assert len(await provider.appointments.list(start=day, end=day, provider_id="3").all()) == 2
    await provider.appointments.list(start=day, end=day, patient_id="20", status="Scheduled").all()
    params = dict(requests_to(od, "appointments")[-1].url.params)
    assert (params["PatNum"], params["AptStatus"]) == ("20", "Scheduled")
    before = len(od.arrivals)
    assert await provider.appointments.list(start=day, end=day, patient_id="not-a-number").all() == []
    assert len(od.arrivals) == before  # no Open Dental id: nothing to ask


async def test_confirmed_comes_from_the_confirmation_definitions(od: FakeOpenDental, provider: Any) -> None:
    od.confirmations()
    rows = [{**APPOINTMENTS[0], "Confirmed": 21, "confirmed": "Conf"}, {**APPOINTMENTS[1], "Confirmed": 22}]
    od.get("appointments").mock(side_effect=od.answer(rows))
    day = date(2020, 7, 31)
    confirmed, unconfirmed = await provider.appointments.list(start=day, end=day).all()
    assert confirmed.confirmed
    assert not unconfirmed.confirmed
    await provider.appointments.list(start=day, end=day).all()
    assert len(requests_to(od, "definitions")) == 1  # reference data: cached


@pytest.mark.parametrize(("status", "cancelled"), [("Broken", True), ("UnschedList", True), ("Complete", False)])
async def test_broken_and_unscheduled_appointments_are_cancelled(
    od: FakeOpenDental, provider: Any, status: str, cancelled: bool
) -> None:
    od.confirmations()
    od.get("appointments/18").mock(side_effect=od.answer({**APPOINTMENT_18, "AptStatus": status}))
    assert (await provider.appointments.get("18")).cancelled is cancelled


async def test_one_appointment(od: FakeOpenDental, provider: Any) -> None:
    od.confirmations()
    od.get("appointments/18").mock(side_effect=od.answer(APPOINTMENT_18))
    appointment = await provider.appointments.get("18")
    assert_od_request(requests_to(od, "appointments/18")[0], "GET", "appointments/18", {})
    assert appointment.start == datetime(2020, 7, 31, 8, 30, tzinfo=CHICAGO)
    assert appointment.duration == timedelta(minutes=40)
    assert (appointment.provider_id, appointment.operatory, appointment.patient_id) == ("1", "3", "17")
    assert appointment.description == "Seal, Seal"


async def test_an_unknown_appointment_is_not_found(od: FakeOpenDental, provider: Any) -> None:
    od.confirmations()
    od.get("appointments/999").mock(side_effect=od.answer("Appointment not found", status=404))
    with pytest.raises(NotFoundError) as caught:
        await provider.appointments.get("999")
    assert caught.value.status_code == 404
    assert caught.value.request == "GET /appointments/{id}"
    assert "Appointment not found" in str(caught.value)
    before = len(od.arrivals)
    with pytest.raises(NotFoundError):
        await provider.appointments.get("A-18")
    assert len(od.arrivals) == before


async def test_appointments_changed_since_carry_a_watermark(od: FakeOpenDental, provider: Any) -> None:
    od.confirmations()
    od.get("appointments").mock(side_effect=od.answer(APPOINTMENTS))
    pager = provider.appointments.changed(since=datetime(2020, 7, 30, 5, 30, tzinfo=timezone.utc))
    assert isinstance(pager, WatermarkPager)
    assert len(await pager.all()) == 2
    params = dict(requests_to(od, "appointments")[0].url.params)
    assert params["DateTStamp"] == "2020-07-30 00:30:00"  # 05:30 UTC is 00:30 in Chicago (CDT)
    assert pager.watermark == datetime(2021, 5, 4, 9, 32, 44, tzinfo=CHICAGO)


# -- patients ---------------------------------------------------------------------------------------------------


async def test_one_patient(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/48").mock(side_effect=od.answer(PATIENT_48))
    jane = await provider.patients.get("48")
    assert_od_request(od.arrivals[0][1], "GET", "patients/48", {})
    assert (jane.id, jane.first_name, jane.last_name, jane.birthdate) == ("48", "Jane", "Smith", date(1976, 5, 24))
    assert (jane.cell_phone, jane.home_phone, jane.work_phone) == (
        "(536)987-4822",
        "(536)624-5871",
        "(536)987-4822",
    )
    assert (jane.email, jane.status, jane.provider_id, jane.guarantor_id, jane.practice_id) == (
        "smithfam@yahoo.com",
        "Patient",
        "1",
        "48",
        "0",
    )
    assert jane.preferred_name is None


async def test_an_unknown_patient_is_not_found(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/4").mock(side_effect=od.answer('"Patient not found"', status=404))
    with pytest.raises(NotFoundError, match="Patient not found"):
        await provider.patients.get("4")


async def test_patients_list_and_changes_with_the_server_s_watermark(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/Simple").mock(side_effect=od.answer(PATIENTS_SIMPLE))
    every = provider.patients.list()
    smith, johnson = await every.all()
    assert_od_request(od.arrivals[0][1], "GET", "patients/Simple", PAGE)
    assert (smith.id, smith.practice_id, smith.work_phone) == ("1", "1", "(123)456-7890")
    assert johnson.birthdate is None  # 0001-01-01: none
    assert every.watermark == datetime(2021, 8, 5, 9, 5, 41, tzinfo=CHICAGO)
    changed = provider.patients.list(changed_since=every.watermark)
    await changed.all()
    assert_od_request(od.arrivals[1][1], "GET", "patients/Simple", {"DateTStamp": "2021-08-05 09:05:41", **PAGE})
    await provider.patients.list(changed_since=date(2021, 7, 1)).all()
    assert dict(od.arrivals[2][1].url.params)["DateTStamp"] == "2021-07-01 00:00:00"
    with pytest.raises(InvalidArgumentError):
        provider.patients.list(changed_since=datetime(2021, 7, 1))  # naive


async def test_a_phone_search_sends_the_last_four_digits_and_decides_locally(
    od: FakeOpenDental, provider: Any
) -> None:
    od.get("patients").mock(side_effect=od.answer(PATIENTS_SELECT))
    found = await provider.patients.search(phone="+1 536 987 5621")
    assert_od_request(od.arrivals[0][1], "GET", "patients", {"Phone": "5621", **PAGE})
    assert [p.id for p in found] == ["15"]
    assert [p.id for p in await provider.patients.search(phone="536-624-5871")] == ["16", "15"]
    assert await provider.patients.search(phone="(536) 624-5871", birthdate=date(1979, 6, 23)) != []
    last = dict(od.arrivals[-1][1].url.params)
    assert last == {"Phone": "5871", "Birthdate": "1979-06-23", **PAGE}


async def test_a_name_search_asks_by_last_and_first_name(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients").mock(side_effect=od.answer(PATIENTS_SELECT))
    found = await provider.patients.search(name="John Smith")
    sent = [dict(r.url.params) for _, r in od.arrivals]
    assert {"LName": "smith", **PAGE} in sent
    assert {"FName": "smith", **PAGE} in sent
    assert [p.id for p in found] == ["15"]
    await provider.patients.search(email="johns@hotmail.com")
    assert dict(od.arrivals[-1][1].url.params) == {"Email": "johns@hotmail.com", **PAGE}


async def test_matching_a_caller(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients").mock(side_effect=od.answer(PATIENTS_SELECT))
    household = await provider.patients.match(phone="(536) 624-5871")
    assert household.status is MatchStatus.AMBIGUOUS
    assert {p.id for p in household.candidates} == {"15", "16"}
    jane = await provider.patients.match(phone="5366245871", first_name="Jane")
    assert jane.status is MatchStatus.EXACT
    assert jane.patient is not None
    assert jane.patient.id == "16"
    assert (await provider.patients.match(phone="555-010-2030")).status is MatchStatus.NONE
    assert all(dict(r.url.params).keys() == {"Phone", "Offset", "Limit"} for _, r in od.arrivals)


# -- insurance and payments -------------------------------------------------------------------------------------


async def test_carriers(od: FakeOpenDental, provider: Any) -> None:
    od.get("carriers").mock(side_effect=od.answer(CARRIERS))
    guard, out = await provider.insurance.carriers().all()
    assert_od_request(od.arrivals[0][1], "GET", "carriers", PAGE)
    assert (guard.id, guard.name, guard.payer_id, guard.phone) == ("1", "Dental Guard", "54651", "(503)456-8910")
    assert out.payer_id is None


async def test_coverage_is_the_family_module_s_insurance(od: FakeOpenDental, provider: Any) -> None:
    od.get("familymodules/13/Insurance").mock(side_effect=od.answer(list(reversed(FAMILY_INSURANCE_13))))
    primary, secondary = await provider.insurance.coverage("13")
    assert_od_request(od.arrivals[0][1], "GET", "familymodules/13/Insurance", {})
    assert (primary.patient_id, primary.carrier_id, primary.subscriber_id, primary.kind, primary.relationship) == (
        "13",
        "8",
        "541147842",
        "Primary",
        "LifePartner",
    )
    assert (secondary.carrier_id, secondary.kind) == ("9", "Secondary")
    od.get("familymodules/14/Insurance").mock(side_effect=od.answer([]))
    assert await provider.insurance.coverage("14") == []


async def test_payments_of_a_window(od: FakeOpenDental, provider: Any) -> None:
    od.get("payments").mock(side_effect=od.answer(PAYMENTS))
    found = await provider.payments.list(start=date(2022, 6, 24), end=date(2022, 6, 30), patient_id="1337").all()
    assert_od_request(od.arrivals[0][1], "GET", "payments", {"DateEntry": "2022-06-24", "PatNum": "1337", **PAGE})
    (check,) = found  # the July payment is after the window
    assert (check.id, check.patient_id, check.kind, check.date, check.amount, check.payment_type) == (
        "56734",
        "1337",
        "payment",
        date(2022, 6, 24),
        Decimal("339"),
        "69",
    )


# -- slots, the connection, features ----------------------------------------------------------------------------

SLOT_DAY = date(2022, 3, 7)


def schedule_rows() -> list[dict[str, Any]]:
    """The Schedules page's example, plus (in its shape) provider 3 working on the closed Friday and a
    blockout in their chair."""
    friday = {**SCHEDULES[2], "ScheduleNum": "24421", "SchedDate": "2022-03-11"}
    blockout = {**SCHEDULES[1], "ScheduleNum": "25885", "StartTime": "16:00:00", "StopTime": "16:30:00"}
    return [*SCHEDULES, friday, {**blockout, "operatories": "2"}]


@pytest.fixture
def slot_clock() -> FakeClock:
    return FakeClock(datetime(2022, 3, 7, 6, 0, tzinfo=timezone.utc))  # midnight in Chicago


async def test_slots_are_the_schedules_minus_the_book(
    od: FakeOpenDental, make_provider: Any, slot_clock: FakeClock
) -> None:
    pms = make_provider(clock=slot_clock)
    doc2 = {**PROVIDERS[0], "ProvNum": 3, "Abbr": "DOC2", "FName": "Sarah", "LName": "Lexington"}
    od.get("providers").mock(side_effect=od.answer([PROVIDERS[0], doc2]))
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    od.get("schedules").mock(side_effect=od.answer(schedule_rows()))
    od.confirmations()
    booked = {**APPOINTMENTS[0], "AptDateTime": "2022-03-07 15:00:00"}  # provider 3, op 2, 40 minutes
    od.get("appointments").mock(side_effect=od.answer([booked]))
    slots = await pms.appointments.find_slots(
        start=SLOT_DAY, end=date(2022, 3, 11), duration=timedelta(minutes=30)
    )
    assert_od_request(
        requests_to(od, "schedules")[0],
        "GET",
        "schedules",
        {"dateStart": "2022-03-07", "dateEnd": "2022-03-11", **PAGE},
    )
    starts = [s.start.strftime("%d %H:%M") for s in slots]
    assert {(s.provider_id, s.operatory) for s in slots} == {("3", "2")}  # their block names chair 2 only
    # 14:00-15:00 free, the visit 15:00-15:40, 20 free minutes, the blockout 16:00-16:30, then free to 18:00
    assert starts[:5] == ["07 14:00", "07 14:10", "07 14:20", "07 14:30", "07 16:30"]
    assert starts[-1] == "07 17:30"
    assert not any(t.startswith("11") for t in starts)  # the practice is closed on the 11th
    assert all(s.start.tzinfo is pms.timezone for s in slots)


async def test_no_slot_is_in_the_past(od: FakeOpenDental, make_provider: Any, slot_clock: FakeClock) -> None:
    slot_clock.set(datetime(2022, 3, 7, 22, 0, tzinfo=timezone.utc))  # 16:00 in Chicago
    pms = make_provider(clock=slot_clock)
    doc2 = {**PROVIDERS[0], "ProvNum": 3}
    od.get("providers").mock(side_effect=od.answer([doc2]))
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    od.get("schedules").mock(side_effect=od.answer(SCHEDULES))
    od.confirmations()
    od.get("appointments").mock(side_effect=od.answer([]))
    slots = await pms.appointments.find_slots(start=SLOT_DAY, end=SLOT_DAY, duration=timedelta(minutes=60))
    assert slots
    assert all(s.start >= pms.now() for s in slots)
    again = await pms.appointments.find_slots(start=SLOT_DAY, end=SLOT_DAY, duration=timedelta(minutes=30))
    assert len(requests_to(od, "schedules")) == 1
    assert again


async def test_the_connection_check_reads_the_practice_title(od: FakeOpenDental, provider: Any) -> None:
    od.get("preferences").mock(side_effect=od.answer(preference("PracticeTitle", "Cedar Mountain Dental")))
    check = await provider.test_connection()
    assert check.ok
    assert check.practice_name == "Cedar Mountain Dental"
    assert check.pms_name == "Open Dental"
    od.get("preferences").mock(side_effect=od.answer("Invalid credentials", status=401))
    failed = await provider.test_connection()
    assert not failed.ok
    assert failed.error is not None
    assert "HTTP 401" in failed.error


async def test_a_clinic_s_connection_check_names_the_clinic(od: FakeOpenDental, make_provider: Any) -> None:
    pms = make_provider(credentials=OpenDentalCredentials(developer_key="d", customer_key="c", clinic_num="1"))
    od.get("clinics").mock(side_effect=od.answer(CLINICS))
    assert (await pms.test_connection()).practice_name == "Clinic1"


@pytest.mark.parametrize(
    ("permissions", "writes"),
    [
        (
            None,
            set(Capability)
            - {Capability.NATIVE_OPEN_SLOTS}
            - {c for c in Capability if c.name.startswith("READ")},
        ),
        (["Read All"], set()),
        (
            ["ReadAll", "Appointments", "Comm"],
            {Capability.BOOK_APPOINTMENT, Capability.RESCHEDULE_APPOINTMENT, Capability.CHANGE_APPOINTMENT_STATUS},
        ),
        (["Patients", "Payments"], {Capability.CREATE_PATIENT, Capability.POST_PAYMENT}),
    ],
)
async def test_features_from_the_declared_permissions(
    od: FakeOpenDental, make_provider: Any, permissions: list[str] | None, writes: set[Capability]
) -> None:
    pms = make_provider(permissions=permissions)
    od.get("preferences").mock(side_effect=od.answer(preference("PracticeTitle", "Cedar")))
    features = await pms.get_features()
    reads = {c for c in Capability if c.name.startswith("READ")}
    assert features.capabilities == frozenset(reads | writes)
    assert features.pms_name == "Open Dental"
    assert Capability.NATIVE_OPEN_SLOTS not in features


async def test_a_refused_permission_is_no_longer_reported(od: FakeOpenDental, provider: Any) -> None:
    od.get("preferences").mock(side_effect=od.answer(preference("PracticeTitle", "Cedar")))
    od.route("POST", "payments").mock(side_effect=od.answer("Invalid Permissions", status=401))
    assert Capability.POST_PAYMENT in await provider.get_features()
    with pytest.raises(Exception, match="Payments API permission"):
        await provider.client.request("POST", "payments", json_body={"PayAmt": "1", "PatNum": 1}, idempotent=False)
    assert Capability.POST_PAYMENT not in await provider.get_features()
