"""The fast read path keeps the old meaning: compiled validators first, Python only for odd values; domain rows
built ``prevalidated`` equal validated ones; a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect.errors import PmsStatusError
from pms_connect.models import Appointment, Patient, TimeSlot, prevalidated
from pms_connect.sikka import _mapping as m
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import read_page

CHICAGO = ZoneInfo("America/Chicago")


def page_of(*items: dict[str, object], wrapped: bool = False) -> httpx.Response:
    body: object = {"offset": "0", "limit": "50", "total_count": str(len(items)), "items": list(items)}
    return httpx.Response(200, content=json.dumps([body] if wrapped else body).encode())


def one(row_type: type[w.Row], item: dict[str, object]) -> w.Row:
    envelope = read_page(page_of(item), row_type, "GET /v4/x")
    assert envelope is not None
    [row] = envelope.items
    return row


class Sample(w.Wire):
    text: w.Text = None
    blanked: w.Blanked = None
    number: w.Int = None
    flag: w.Bool = None
    amount: w.Money = None
    when: w.DateTime = None
    at: w.Time = None


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("text", "  Seat Br-UR ", "Seat Br-UR"),
        ("text", "", None),
        ("text", "   ", None),
        ("text", 5, "5"),
        ("blanked", "", ""),
        ("blanked", " DMD2 ", "DMD2"),
        ("number", "60", 60),
        ("number", "60.0", 60),
        ("number", "", None),
        ("flag", "True", True),
        ("flag", " F ", False),
        ("flag", "", None),
        ("amount", "24.0000", Decimal("24.0000")),
        ("amount", "1,234.50", Decimal("1234.50")),
        ("amount", "", None),
        ("when", "2020-09-29T10:30:00", datetime(2020, 9, 29, 10, 30)),
        ("when", "2020-09-29 10:30:00", datetime(2020, 9, 29, 10, 30)),
        ("when", "2020-09-29", datetime(2020, 9, 29)),
        ("when", "09/29/2020", datetime(2020, 9, 29)),
        ("when", "", None),
        ("at", "10:30", datetime(2000, 1, 1, 10, 30).time()),
        ("at", "10:30 AM", datetime(2000, 1, 1, 10, 30).time()),
    ],
)
def test_each_wire_type_reads_what_sikka_sends(field: str, raw: object, expected: object) -> None:
    assert getattr(one(Sample, {field: raw}), field) == expected


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("when", "20200929"),  # a compact date is not read as a Unix time
        ("when", "1600000000"),
        ("when", "2020-09-29T10:30:00Z"),  # Sikka sends no zone: one that has one is not Sikka's
        ("when", "2020-13-01T00:00:00"),
        ("number", "60.5"),
        ("amount", "NaN"),
        ("flag", "maybe"),
        ("at", "1030"),
    ],
)
def test_what_no_sikka_field_means_is_refused_naming_the_field_not_the_value(field: str, raw: str) -> None:
    with pytest.raises(PmsStatusError) as caught:
        read_page(page_of({field: raw}), Sample, "GET /v4/x")
    assert field in str(caught.value)
    assert raw not in str(caught.value)


def test_a_page_wrapped_in_an_array_and_a_proxy_page_that_is_not_json() -> None:
    envelope = read_page(page_of({"text": "a"}, wrapped=True), Sample, "GET /v4/x")
    assert envelope is not None
    assert [r.text for r in envelope.items] == ["a"]
    with pytest.raises(PmsStatusError, match="not JSON"):
        read_page(httpx.Response(200, content=b"<html>gateway</html>"), Sample, "GET /v4/x")
    assert read_page(httpx.Response(204), Sample, "GET /v4/x") is None


def test_an_appointment_built_prevalidated_equals_the_validated_one() -> None:
    row = one(
        w.AppointmentRow,
        {
            "appointment_sr_no": "70670",
            "patient_id": "5383",
            "provider_id": "DMD2",
            "practice_id": "1",
            "operatory": "",
            "hygienist": " ",
            "date": "2026-03-08T00:00:00",
            "time": "01:30",
            "length": "60",
            "status": "Scheduled",
            "description": "",
            "type": "General",
            "cancelled": "",
            "is_confirmed": "T",
        },
    )
    built = m.appointment(row, CHICAGO)
    validated = Appointment(
        id="70670",
        practice_id="1",
        patient_id="5383",
        provider_id="DMD2",
        start=datetime(2026, 3, 8, 1, 30, tzinfo=CHICAGO),
        duration=timedelta(minutes=60),
        status="Scheduled",
        confirmed=True,
        kind="General",
    )
    assert built == validated
    assert repr(built) == repr(validated)
    assert built.model_dump() == validated.model_dump()
    assert hash(built) == hash(validated)
    assert built.end == datetime(2026, 3, 8, 3, 30, tzinfo=CHICAGO)  # across the spring-forward hour
    with pytest.raises(ValueError, match="frozen"):
        built.status = "Cancelled"  # type: ignore[misc]


def test_a_patient_built_prevalidated_equals_the_validated_one() -> None:
    row = one(
        w.PatientRow,
        {
            "patient_id": "799601",
            "firstname": "Carlene",
            "lastname": "Victoria",
            "middlename": "",
            "preferred_name": "",
            "birthdate": "1984-12-10T00:00:00",
            "cell": "408-555-0101",
            "homephone": "",
            "email": "c@example.com",
            "status": "Active",
            "guarantor_id": "",
        },
    )
    built = m.patient(row)
    validated = Patient(
        id="799601",
        first_name="Carlene",
        last_name="Victoria",
        birthdate=date(1984, 12, 10),
        cell_phone="408-555-0101",
        email="c@example.com",
        status="Active",
    )
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert "Carlene" not in repr(built)
    placeholder = one(w.PatientRow, {"patient_id": "1", "birthdate": "1900-01-01T00:00:00"})
    assert m.patient(placeholder).birthdate is None


def test_a_slot_built_prevalidated_equals_the_validated_one() -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    values = {"start": start, "end": start + timedelta(minutes=30), "provider_id": "DMD1", "operatory": "OP1"}
    built = prevalidated(TimeSlot, dict(values))
    assert built == TimeSlot.model_validate(values)
    assert built.model_fields_set == TimeSlot.model_validate(values).model_fields_set
    assert built.model_copy(update={"operatory": "OP2"}).operatory == "OP2"
    assert built.operatory == "OP1"


def test_importing_the_sikka_provider_loads_nothing_optional() -> None:
    probe = (
        "import sys, pms_connect.sikka; "
        "print(sorted(m for m in ('cryptography', 'sqlite3', 'redis', 'tenacity', 'fastapi') if m in sys.modules))"
    )
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_importing_the_sikka_provider_defers_what_only_slots_searches_and_writes_need() -> None:
    # Imported on first use (Appointments.find_slots, Patients.search/match, SikkaProvider.writes): a
    # process that only reads does not pay for them, nor for the other provider or the CLI.
    deferred = (
        "pms_connect.sikka._slots",
        "pms_connect.slot_search",
        "pms_connect.scheduling",
        "pms_connect.sikka._patient_search",
        "pms_connect.matching",
        "pms_connect.sikka._writes",
        "pms_connect.write_checks",
        "pms_connect.opendental",
        "pms_connect.cli",
    )
    probe = f"import sys, pms_connect.sikka; print(sorted(m for m in {deferred!r} if m in sys.modules))"
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
