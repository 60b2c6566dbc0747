"""Every Sikka read: the exact request on the wire and the parsing of Sikka-shaped answers into domain models."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect.errors import InvalidArgumentError, NotFoundError, UnsupportedOperationError
from pms_connect.models import (
    Appointment,
    InsuranceCarrier,
    InsuranceCoverage,
    Operatory,
    Patient,
    Practice,
    Provider,
    ProviderKind,
    Transaction,
)

CHICAGO = ZoneInfo("America/Chicago")
APPOINTMENT_FIELDS = "operatory,hygienist,cancelled,is_confirmed,last_changed_date"


def assert_sikka_get(request: httpx.Request, path: str, params: dict[str, str], *, key: str = "request-key-1"):
    """One practice-level GET, exactly: path, every query parameter, the request key and who we are."""
    assert request.method == "GET"
    assert request.url.host == "api.sikkasoft.com"
    assert request.url.path == f"/v4/{path}"
    assert dict(request.url.params) == params
    assert len(request.url.params.multi_items()) == len(params), "no query parameter may repeat"
    assert request.headers["Request-Key"] == key
    assert request.headers["User-Agent"] == "pms-connect-python"
    assert request.headers["Accept"] == "application/json"
    assert "App-Key" not in request.headers


def practice_row(**over: str) -> dict[str, str]:
    row = {
        "href": "https://api.sikkasoft.com/v4/practices/1",
        "practice_id": "1",
        "name": "Cedar Mountain Dental",
        "address_line1": "112 Market Square",
        "city": "Newington",
        "state": "CT",
        "cust_id": "7",
        "phone": "8606672600",
    }
    row.update(over)
    return row


def provider_row(provider_id: str, provider_type: str, specialty: str, status: str, **over: str) -> dict[str, str]:
    row = {
        "href": f"https://api.sikkasoft.com/v4/practices/1/providers/{provider_id}",
        "provider_id": provider_id,
        "firstname": f"First{provider_id}",
        "lastname": f"Last{provider_id}",
        "provider_type": provider_type,
        "specialty": specialty,
        "practice_id": "1",
        "status": status,
        "is_hidden": "False",
        "national_provider_identifier": "",
    }
    row.update(over)
    return row


def appointment_row(sr_no: str, day: str, at: str, length: str, **over: str) -> dict[str, str]:
    row = {
        "href": f"https://api.sikkasoft.com/v4/practices/1/appointments/{sr_no}",
        "patient_id": "5383",
        "guarantor_id": "",
        "provider_id": "DMD2",
        "practice_id": "1",
        "amount": "0.0000",
        "status": "Scheduled",
        "note": "",
        "appointment_sr_no": sr_no,
        "date": f"{day}T00:00:00",
        "time": at,
        "length": length,
        "description": "Seat Br-UR",
        "appointment_made_date": "2026-11-14T00:00:00",
        "type": "General",
        "procedure_code1": "",
        "procedure_code1_amount": "0",
        "patient_name": "Pat Name",
        "operatory": "OP-1",
        "hygienist": "",
        "cancelled": "False",
        "is_confirmed": "F",
        "last_changed_date": "2026-11-20T00:00:00",
    }
    row.update(over)
    return row


def patient_row(patient_id: str, **over: str) -> dict[str, str]:
    row = {
        "href": f"https://api.sikkasoft.com/v4/practices/1/patients/{patient_id}",
        "patient_id": patient_id,
        "guarantor_id": "799600",
        "firstname": "Carlene",
        "middlename": "",
        "lastname": "Victoria",
        "preferred_name": "Caeene",
        "birthdate": "1984-12-10T00:00:00",
        "status": "Active",
        "city": "San Jose",
        "cell": "408-555-0101",
        "homephone": "",
        "workphone": "408-555-0102",
        "email": "carlene@example.com",
        "first_visit": "",
        "provider_id": "DMD2",
        "practice_id": "1",
        "primary_insurance_company_id": "",
    }
    row.update(over)
    return row


# -- practices ---------------------------------------------------------------------------------------------


async def test_practices_list_sends_offset_and_limit_with_the_request_key(sikka, provider):
    route = sikka.get("practices").mock(return_value=sikka.page([practice_row()], api="practices"))

    await provider.practices.list().all()

    assert route.call_count == 1
    assert_sikka_get(route.calls.last.request, "practices", {"offset": "0", "limit": "5000"})


async def test_practices_list_parses_rows_into_practices(sikka, provider):
    sikka.get("practices").mock(
        return_value=sikka.page([practice_row(), practice_row(practice_id="1-1", name="")], api="practices")
    )

    practices = await provider.practices.list().all()

    assert practices == [
        Practice(id="1", name="Cedar Mountain Dental", account_id="D20006"),
        Practice(id="1-1", name="", account_id="D20006"),
    ]


# -- providers ---------------------------------------------------------------------------------------------


async def test_providers_list_sends_practice_id_offset_and_limit(sikka, provider):
    route = sikka.get("providers").mock(return_value=sikka.page([], api="providers"))

    await provider.providers.list().all()

    assert_sikka_get(route.calls.last.request, "providers", {"practice_id": "1", "offset": "0", "limit": "5000"})


async def test_providers_list_parses_kind_specialty_and_active_status(sikka, provider):
    rows = [
        provider_row("DMD2", "Dentist", "General", "Active"),
        provider_row("HYG1", "Hygienist", "", "Active"),
        provider_row("VLP", "Provider", "Dental Assistant", "Inactive"),
        provider_row("ORT", "Provider", "", "", speciality="Orthodontics"),
    ]
    sikka.get("providers").mock(return_value=sikka.page(rows, api="providers"))

    providers = await provider.providers.list().all()

    assert providers == [
        Provider(
            id="DMD2",
            first_name="FirstDMD2",
            last_name="LastDMD2",
            kind=ProviderKind.DENTIST,
            specialty="General",
            active=True,
            practice_id="1",
        ),
        Provider(
            id="HYG1",
            first_name="FirstHYG1",
            last_name="LastHYG1",
            kind=ProviderKind.HYGIENIST,
            specialty=None,
            active=True,
            practice_id="1",
        ),
        Provider(
            id="VLP",
            first_name="FirstVLP",
            last_name="LastVLP",
            kind=ProviderKind.OTHER,
            specialty="Dental Assistant",
            active=False,
            practice_id="1",
        ),
        Provider(
            id="ORT",
            first_name="FirstORT",
            last_name="LastORT",
            kind=ProviderKind.DENTIST,
            specialty="Orthodontics",
            active=True,
            practice_id="1",
        ),
    ]


async def test_providers_list_active_only_drops_inactive_providers(sikka, provider):
    rows = [
        provider_row("DMD2", "Dentist", "General", "Active"),
        provider_row("VLP", "Provider", "Dental Assistant", "Inactive"),
        provider_row("HYG1", "Hygienist", "", "Active"),
    ]
    route = sikka.get("providers").mock(return_value=sikka.page(rows, api="providers"))

    providers = await provider.providers.list(active_only=True).all()

    assert [p.id for p in providers] == ["DMD2", "HYG1"]
    assert_sikka_get(route.calls.last.request, "providers", {"practice_id": "1", "offset": "0", "limit": "5000"})


# -- operatories -------------------------------------------------------------------------------------------


def mock_practice_lookup(sikka, *, cust_id: str = "7", pms: str = "Dentrix"):
    practices = sikka.get("practices").mock(
        return_value=sikka.page([practice_row(cust_id=cust_id)], api="practices")
    )
    authorized = sikka.get("authorized_practices").mock(
        return_value=sikka.page(
            [
                {
                    "office_id": "D20006",
                    "practice_id": "1",
                    "practice_name": "Cedar Mountain Dental",
                    "secret_key": "secret-key-1",
                    "practice_management_system": pms,
                    "practice_management_system_version": "G7",
                    "domain": "Dental",
                }
            ],
            api="authorized_practices",
        )
    )
    return practices, authorized


def operatory_row(name: str, abbreviation: str, hidden: str) -> dict[str, str]:
    return {
        "provider_id": "",
        "practice_id": "1-0",
        "operatory": name,
        "cust_id": "7",
        "is_hidden": hidden,
        "abbreviation": abbreviation,
    }


async def test_operatories_list_looks_up_cust_id_from_practices_first(sikka, provider):
    practices, _ = mock_practice_lookup(sikka, cust_id="7")
    sikka.get("operatories").mock(return_value=sikka.page([], api="operatories"))

    await provider.operatories.list().all()

    assert_sikka_get(practices.calls.last.request, "practices", {"practice_id": "1", "offset": "0", "limit": "1"})


async def test_operatories_list_sends_cust_id_and_is_hidden_f(sikka, provider):
    mock_practice_lookup(sikka, cust_id="7")
    route = sikka.get("operatories").mock(return_value=sikka.page([], api="operatories"))

    await provider.operatories.list().all()

    assert_sikka_get(
        route.calls.last.request,
        "operatories",
        {"cust_id": "7", "practice_id": "1", "is_hidden": "F", "offset": "0", "limit": "5000"},
    )


async def test_operatories_list_asks_authorized_practices_with_app_credentials(sikka, provider):
    _, authorized = mock_practice_lookup(sikka)
    sikka.get("operatories").mock(return_value=sikka.page([], api="operatories"))

    await provider.operatories.list().all()

    request = authorized.calls.last.request
    assert request.url.path == "/v4/authorized_practices"
    assert dict(request.url.params) == {"show": "all"}
    assert request.headers["App-Id"] == "app-1"
    assert request.headers["App-Key"] == "app-key-1"
    assert "Request-Key" not in request.headers


async def test_operatories_list_parses_rows_and_drops_hidden_ones(sikka, provider):
    mock_practice_lookup(sikka)
    rows = [operatory_row("Test1", "OP-9", "F"), operatory_row("Test2", "", "F"), operatory_row("Old", "OLD", "T")]
    sikka.get("operatories").mock(return_value=sikka.page(rows, api="operatories"))

    operatories = await provider.operatories.list().all()

    assert operatories == [
        Operatory(id="Test1", name="OP-9", practice_id="1-0", hidden=False),
        Operatory(id="Test2", name="Test2", practice_id="1-0", hidden=False),
    ]


async def test_operatories_list_include_hidden_sends_no_is_hidden_and_keeps_hidden(sikka, provider):
    mock_practice_lookup(sikka)
    rows = [operatory_row("Test1", "OP-9", "F"), operatory_row("Old", "OLD", "T")]
    route = sikka.get("operatories").mock(return_value=sikka.page(rows, api="operatories"))

    operatories = await provider.operatories.list(include_hidden=True).all()

    assert [(o.id, o.hidden) for o in operatories] == [("Test1", False), ("Old", True)]
    assert "is_hidden" not in route.calls.last.request.url.params


async def test_operatories_list_reuses_the_cached_practice_lookup(sikka, provider):
    practices, authorized = mock_practice_lookup(sikka)
    sikka.get("operatories").mock(return_value=sikka.page([], api="operatories"))

    await provider.operatories.list().all()
    await provider.operatories.list().all()

    assert (practices.call_count, authorized.call_count) == (1, 1)


# -- appointments ------------------------------------------------------------------------------------------


async def test_appointments_list_sends_the_window_dates_fields_and_practice(sikka, provider):
    sikka.hours()
    route = sikka.get("appointments").mock(return_value=sikka.no_content())

    await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 4)).all()

    assert route.call_count == 1  # hours end at 17:00: no visit runs in from the day before
    assert_sikka_get(
        route.calls.last.request,
        "appointments",
        {
            "practice_id": "1",
            "startdate": "2026-12-02",
            "enddate": "2026-12-04",
            "fields": APPOINTMENT_FIELDS,
            "offset": "0",
            "limit": "5000",
        },
    )


async def test_appointments_list_reads_the_day_before_only_when_the_hours_reach_midnight(sikka, provider):
    sikka.hours("16:00", "00:00")
    rows = {
        "2026-12-01": [
            appointment_row("ends-before", "2026-12-01", "22:00", "30"),
            appointment_row("spills-in", "2026-12-01", "23:30", "60"),
        ],
        "2026-12-02": [appointment_row("inside", "2026-12-02", "16:00", "60")],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        first = request.url.params["startdate"]
        return sikka.page(rows[first], api="appointments")

    route = sikka.get("appointments").mock(side_effect=answer)

    appointments = await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()

    assert [a.id for a in appointments] == ["spills-in", "inside"]
    asked = [(c.request.url.params["startdate"], c.request.url.params["enddate"]) for c in route.calls]
    assert sorted(asked) == [("2026-12-01", "2026-12-01"), ("2026-12-02", "2026-12-02")]


async def test_appointments_list_reads_the_day_before_when_the_schedule_is_refused(sikka, provider):
    sikka.get("practice_schedule").mock(return_value=sikka.error("API2004", 403))
    route = sikka.get("appointments").mock(return_value=sikka.no_content())

    await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()

    asked = sorted(c.request.url.params["startdate"] for c in route.calls)
    assert asked == ["2026-12-01", "2026-12-02"]


async def test_appointments_list_and_a_slot_search_share_one_schedule_read(sikka, provider):
    schedule = sikka.hours()
    sikka.get("appointments").mock(return_value=sikka.no_content())

    await asyncio.gather(
        provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all(),
        provider.appointments.list(start=date(2026, 12, 3), end=date(2026, 12, 3)).all(),
    )

    assert schedule.call_count == 1


async def test_appointments_list_sends_provider_patient_and_status_filters(sikka, provider):
    sikka.hours()
    route = sikka.get("appointments").mock(return_value=sikka.no_content())

    await provider.appointments.list(
        start=date(2026, 12, 2), end=date(2026, 12, 2), provider_id="DMD2", patient_id="5383", status="Scheduled"
    ).all()

    assert_sikka_get(
        route.calls.last.request,
        "appointments",
        {
            "practice_id": "1",
            "startdate": "2026-12-02",
            "enddate": "2026-12-02",
            "fields": APPOINTMENT_FIELDS,
            "provider_id": "DMD2",
            "patient_id": "5383",
            "status": "Scheduled",
            "offset": "0",
            "limit": "5000",
        },
    )


async def test_appointments_list_turns_aware_bounds_into_practice_local_dates(sikka, provider):
    sikka.hours()
    route = sikka.get("appointments").mock(return_value=sikka.no_content())
    # 03:00 UTC on 12-03 is still 12-02 in Chicago (UTC-6); 05:00 UTC on 12-05 is 23:00 on 12-04.
    start = datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc)
    end = datetime(2026, 12, 5, 5, 0, tzinfo=timezone.utc)

    await provider.appointments.list(start=start, end=end).all()

    params = route.calls.last.request.url.params
    assert (params["startdate"], params["enddate"]) == ("2026-12-02", "2026-12-04")


async def test_appointments_list_parses_date_time_and_length_into_aware_start_and_duration(sikka, provider):
    sikka.hours()
    row = appointment_row("70670", "2026-12-02", "10:30", "60", cancelled="False", is_confirmed="True")
    sikka.get("appointments").mock(return_value=sikka.page([row], api="appointments"))

    [appointment] = await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()

    assert appointment == Appointment(
        id="70670",
        practice_id="1",
        patient_id="5383",
        provider_id="DMD2",
        operatory="OP-1",
        start=datetime(2026, 12, 2, 10, 30, tzinfo=CHICAGO),
        duration=timedelta(minutes=60),
        status="Scheduled",
        description="Seat Br-UR",
        cancelled=False,
        confirmed=True,
        kind="General",
    )
    assert appointment.start.utcoffset() == timedelta(hours=-6)
    assert appointment.end == datetime(2026, 12, 2, 11, 30, tzinfo=CHICAGO)


async def test_appointments_list_reads_blank_flags_from_the_status_text_and_blank_length_as_zero(sikka, provider):
    sikka.hours()
    rows = [
        appointment_row("1", "2026-12-02", "09:00", "30", cancelled="", is_confirmed="", status="Cancelled"),
        appointment_row("2", "2026-12-02", "10:00", "30", cancelled="", is_confirmed="", status="Confirmed"),
        appointment_row("3", "2026-12-02", "11:00", "30", cancelled="", is_confirmed="", status="Unconfirmed"),
        appointment_row("4", "2026-12-02", "12:00", "", cancelled="T", is_confirmed="F", operatory="", type=""),
    ]
    sikka.get("appointments").mock(return_value=sikka.page(rows, api="appointments"))

    appointments = await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()

    assert [(a.id, a.cancelled, a.confirmed) for a in appointments] == [
        ("1", True, False),
        ("2", False, True),
        ("3", False, False),
        ("4", True, False),
    ]
    assert (appointments[3].duration, appointments[3].operatory, appointments[3].kind) == (
        timedelta(0),
        None,
        None,
    )


async def test_appointments_list_keeps_only_appointments_overlapping_the_window(sikka, provider):
    sikka.hours("08:00", "00:00")  # to midnight: the day before is read too
    rows = {
        "2026-12-01": [
            appointment_row("before", "2026-12-01", "22:00", "30"),  # ends 22:30 the day before
            appointment_row("spills-in", "2026-12-01", "23:30", "60"),  # runs past midnight into the window
            appointment_row("touches-start", "2026-12-01", "23:00", "60"),  # ends exactly at the window start
        ],
        "2026-12-02": [
            appointment_row("inside", "2026-12-02", "08:00", "60"),
            appointment_row("touches-end", "2026-12-03", "00:00", "30"),  # starts exactly at the window end
        ],
    }
    sikka.get("appointments").mock(
        side_effect=lambda request: sikka.page(rows[request.url.params["startdate"]], api="appointments")
    )

    appointments = await provider.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()

    assert [a.id for a in appointments] == ["spills-in", "inside"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 12, 2, 9, 0), datetime(2026, 12, 2, 17, 0, tzinfo=CHICAGO)),
        (datetime(2026, 12, 2, 9, 0, tzinfo=CHICAGO), datetime(2026, 12, 2, 17, 0)),
    ],
    ids=["naive-start", "naive-end"],
)
async def test_appointments_list_refuses_a_naive_datetime_before_any_request(sikka, provider, start, end):
    with pytest.raises(InvalidArgumentError, match="naive"):
        provider.appointments.list(start=start, end=end)

    assert sikka.router.calls.call_count == 0


async def test_appointments_list_refuses_an_end_before_the_start_before_any_request(sikka, provider):
    with pytest.raises(InvalidArgumentError):
        provider.appointments.list(start=date(2026, 12, 3), end=date(2026, 12, 1))

    assert sikka.router.calls.call_count == 0


async def test_appointments_get_asks_for_one_row_by_appointment_sr_no(sikka, provider):
    row = appointment_row("70670", "2026-12-02", "10:30", "60")
    route = sikka.get("appointments").mock(return_value=sikka.page([row], api="appointments", limit=1))

    appointment = await provider.appointments.get("70670")

    assert appointment.id == "70670"
    assert appointment.start == datetime(2026, 12, 2, 10, 30, tzinfo=CHICAGO)
    assert_sikka_get(
        route.calls.last.request,
        "appointments",
        {
            "practice_id": "1",
            "appointment_sr_no": "70670",
            "fields": APPOINTMENT_FIELDS,
            "offset": "0",
            "limit": "1",
        },
    )


async def test_appointments_get_raises_not_found_on_204(sikka, provider):
    sikka.get("appointments").mock(return_value=sikka.no_content())

    with pytest.raises(NotFoundError):
        await provider.appointments.get("404404")


async def test_appointments_get_refuses_a_blank_id_before_any_request(sikka, provider):
    with pytest.raises(InvalidArgumentError):
        await provider.appointments.get("  ")

    assert sikka.router.calls.call_count == 0


# -- patients ----------------------------------------------------------------------------------------------


async def test_patients_list_sends_practice_fields_offset_and_limit(sikka, provider):
    route = sikka.get("patients").mock(return_value=sikka.no_content())

    await provider.patients.list().all()

    assert_sikka_get(
        route.calls.last.request,
        "patients",
        {"practice_id": "1", "fields": "homephone,workphone", "offset": "0", "limit": "5000"},
    )


@pytest.mark.parametrize(
    "since", [date(2026, 11, 20), datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc), datetime(2026, 11, 20, 9)]
)
async def test_patients_changed_since_is_refused_because_sikka_documents_no_such_filter(sikka, provider, since):
    """Sikka's patients parameters (oneapi.txt) hold no changed-records filter and its rows no last-changed
    field: a filter the server ignores would report every patient as changed, so the SDK refuses at once."""
    with pytest.raises(UnsupportedOperationError, match="no filter on changes"):
        provider.patients.list(changed_since=since)

    assert sikka.router.calls.call_count == 0


async def test_patients_list_parses_rows_into_patients(sikka, provider):
    rows = [
        patient_row("799601"),
        patient_row(
            "799602",
            firstname="Ann",
            lastname="Lee",
            preferred_name="",
            birthdate="1900-01-01T00:00:00",
            cell="",
            homephone="555-0100",
            workphone="",
            email="",
            guarantor_id="",
            status="Inactive",
        ),
    ]
    sikka.get("patients").mock(return_value=sikka.page(rows, api="patients"))

    patients = await provider.patients.list().all()

    assert patients == [
        Patient(
            id="799601",
            first_name="Carlene",
            last_name="Victoria",
            preferred_name="Caeene",
            birthdate=date(1984, 12, 10),
            cell_phone="408-555-0101",
            home_phone=None,
            work_phone="408-555-0102",
            email="carlene@example.com",
            status="Active",
            practice_id="1",
            provider_id="DMD2",
            guarantor_id="799600",
        ),
        Patient(
            id="799602",
            first_name="Ann",
            last_name="Lee",
            preferred_name=None,
            birthdate=None,
            cell_phone=None,
            home_phone="555-0100",
            work_phone=None,
            email=None,
            status="Inactive",
            practice_id="1",
            provider_id="DMD2",
            guarantor_id=None,
        ),
    ]
    assert patients[0].phones == ("408-555-0101", "408-555-0102")


async def test_patients_get_filters_by_patient_id_with_one_row_pages(sikka, provider):
    route = sikka.get("patients").mock(return_value=sikka.page([patient_row("799601")], api="patients", limit=1))

    patient = await provider.patients.get("799601")

    assert (patient.id, patient.first_name, patient.birthdate) == ("799601", "Carlene", date(1984, 12, 10))
    assert_sikka_get(
        route.calls.last.request,
        "patients",
        {"practice_id": "1", "patient_id": "799601", "fields": "homephone,workphone", "offset": "0", "limit": "1"},
    )


async def test_patients_get_raises_not_found_on_204(sikka, provider):
    sikka.get("patients").mock(return_value=sikka.no_content())

    with pytest.raises(NotFoundError) as caught:
        await provider.patients.get("404404")

    assert caught.value.status_code is None  # an empty answer (204) is not an error status


# -- insurance ---------------------------------------------------------------------------------------------


async def test_insurance_carriers_sends_practice_and_name_field(sikka, provider):
    route = sikka.get("insurance_companies").mock(return_value=sikka.no_content())

    await provider.insurance.carriers().all()

    assert_sikka_get(
        route.calls.last.request,
        "insurance_companies",
        {"practice_id": "1", "fields": "insurance_company_name", "offset": "0", "limit": "5000"},
    )


async def test_insurance_carriers_parses_rows_into_carriers(sikka, provider):
    rows = [
        {
            "insurance_company_id": "2506",
            "insurance_company_name": "Delta Dental",
            "payer_id": "52133",
            "phone": "(1888)7024171",
            "practice_id": "1",
            "maximum_yearly_benefit": "1000.0000",
        },
        {
            "insurance_company_id": "2507",
            "insurance_company_name": "",
            "payer_id": "",
            "phone": "",
            "practice_id": "1",
        },
    ]
    sikka.get("insurance_companies").mock(return_value=sikka.page(rows, api="insurance_companies"))

    carriers = await provider.insurance.carriers().all()

    assert carriers == [
        InsuranceCarrier(id="2506", name="Delta Dental", payer_id="52133", phone="(1888)7024171"),
        InsuranceCarrier(id="2507", name="", payer_id=None, phone=None),
    ]


def subscriber_row(**over: str) -> dict[str, str]:
    row = {
        "patient_id": "994",
        "firstname": "te",
        "lastname": "Sr",
        "birthdate": "1945-03-20T00:00:00",
        "practice_id": "1",
        "subscriber_id": "217_35",
        "type": "Dental Primary",
        "insurance_company_id": "217",
        "employer_name": "ADVANCE AUTO PARTS",
        "patient_relation": "Self",
        "individual_used": "1450.0000",
        "individual_deductible_remaining": "50.0000",
        "insurance_effective_date": "2024-01-01T00:00:00",
        "family_deductible_reamining": "",
    }
    row.update(over)
    return row


async def test_insurance_coverage_asks_subscribers_for_the_patient(sikka, provider):
    route = sikka.get("subscribers").mock(return_value=sikka.page([subscriber_row()], api="subscribers"))

    await provider.insurance.coverage("994")

    assert_sikka_get(
        route.calls.last.request,
        "subscribers",
        {"practice_id": "1", "patient_id": "994", "offset": "0", "limit": "500"},
    )


async def test_insurance_coverage_parses_money_dates_and_blanks(sikka, provider):
    rows = [
        subscriber_row(),
        subscriber_row(
            type="Dental Secondary",
            insurance_company_id="",
            patient_relation="",
            insurance_effective_date="",
            individual_deductible_remaining="",
        ),
    ]
    sikka.get("subscribers").mock(return_value=sikka.page(rows, api="subscribers"))

    coverage = await provider.insurance.coverage("994")

    assert coverage == [
        InsuranceCoverage(
            patient_id="994",
            carrier_id="217",
            subscriber_id="217_35",
            kind="Dental Primary",
            relationship="Self",
            effective_date=date(2024, 1, 1),
            deductible_remaining=Decimal("50.0000"),
        ),
        InsuranceCoverage(
            patient_id="994",
            carrier_id=None,
            subscriber_id="217_35",
            kind="Dental Secondary",
            relationship=None,
            effective_date=None,
            deductible_remaining=None,
        ),
    ]
    assert isinstance(coverage[0].deductible_remaining, Decimal)


async def test_insurance_coverage_is_empty_on_204(sikka, provider):
    sikka.get("subscribers").mock(return_value=sikka.no_content())

    assert await provider.insurance.coverage("994") == []


# -- payments ----------------------------------------------------------------------------------------------


def transaction_row(sr_no: str, kind: str, amount: str, **over: str) -> dict[str, str]:
    row = {
        "patient_id": "1839",
        "guarantor_id": "1841",
        "provider_id": "GREL",
        "practice_id": "1",
        "transaction_sr_no": sr_no,
        "transaction_type": kind,
        "transaction_date": "2026-11-30T00:00:00",
        "procedure_code": "D1208",
        "procedure_description": "Topical Appl of Fluor Excl Varn",
        "amount": amount,
        "transaction_entry_date": "2026-11-30T00:00:00",
        "payment_type": "",
        "claim_sr_no": "2992",
    }
    row.update(over)
    return row


async def test_payments_list_sends_start_and_end_dates_and_patient(sikka, provider):
    route = sikka.get("transactions").mock(return_value=sikka.no_content())

    await provider.payments.list(start=date(2026, 11, 1), end=date(2026, 11, 30), patient_id="1839").all()

    assert_sikka_get(
        route.calls.last.request,
        "transactions",
        {
            "practice_id": "1",
            "startdate": "2026-11-01",
            "enddate": "2026-11-30",
            "patient_id": "1839",
            "offset": "0",
            "limit": "5000",
        },
    )


async def test_payments_list_parses_decimal_amounts_and_dates(sikka, provider):
    rows = [
        transaction_row("31008", "Procedure", "24.0000"),
        transaction_row("31009", "Payment", "-65.5000", payment_type="Visa", procedure_description=""),
        transaction_row("31010", "Adjustment", ""),
    ]
    sikka.get("transactions").mock(return_value=sikka.page(rows, api="transactions"))

    transactions = await provider.payments.list(start=date(2026, 11, 1), end=date(2026, 11, 30)).all()

    assert transactions == [
        Transaction(
            id="31008",
            patient_id="1839",
            provider_id="GREL",
            kind="Procedure",
            date=date(2026, 11, 30),
            amount=Decimal("24.0000"),
            payment_type=None,
            description="Topical Appl of Fluor Excl Varn",
        ),
        Transaction(
            id="31009",
            patient_id="1839",
            provider_id="GREL",
            kind="Payment",
            date=date(2026, 11, 30),
            amount=Decimal("-65.5000"),
            payment_type="Visa",
            description=None,
        ),
        Transaction(
            id="31010",
            patient_id="1839",
            provider_id="GREL",
            kind="Adjustment",
            date=date(2026, 11, 30),
            amount=Decimal(0),
            description="Topical Appl of Fluor Excl Varn",
        ),
    ]
    assert all(isinstance(t.amount, Decimal) for t in transactions)


async def test_payments_list_refuses_a_naive_datetime_before_any_request(sikka, provider):
    with pytest.raises(InvalidArgumentError):
        provider.payments.list(start=datetime(2026, 11, 1, 0, 0), end=date(2026, 11, 30))

    assert sikka.router.calls.call_count == 0


# -- every read ----------------------------------------------------------------------------------------------


async def test_reads_ignore_unknown_fields_sikka_may_add(sikka, provider):
    row = patient_row("1", brand_new_field="x", another_one="")
    sikka.get("patients").mock(return_value=sikka.page([row], api="patients"))

    [patient] = await provider.patients.list().all()

    assert patient.id == "1"


async def test_the_request_key_is_granted_once_and_sent_on_every_read(sikka, provider):
    sikka.get("practices").mock(return_value=sikka.page([practice_row()], api="practices"))
    sikka.get("patients").mock(return_value=sikka.page([patient_row("1")], api="patients"))
    sikka.get("transactions").mock(return_value=sikka.no_content())

    await provider.practices.list().all()
    await provider.patients.get("1")
    await provider.payments.list(start=date(2026, 11, 1), end=date(2026, 11, 2)).all()

    reads = [c.request for c in sikka.router.calls if c.request.method == "GET"]
    assert len(sikka.grant_bodies) == 1
    assert [r.headers["Request-Key"] for r in reads] == ["request-key-1"] * 3
