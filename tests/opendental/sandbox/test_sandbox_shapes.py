"""Each resource's answer has the doc example's keys, with values of the same JSON types and string formats."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, OpenDentalSandbox

from .conftest import Od
from .doc_examples import EXAMPLES

FORMATS = [
    ("datetime", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
    ("date", r"\d{4}-\d{2}-\d{2}"),
    ("time", r"\d{2}:\d{2}:\d{2}"),
    ("bool", r"true|false"),
]


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "json-bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        for name, pattern in FORMATS:
            if re.fullmatch(pattern, value):
                return name
        return "str"
    return type(value).__name__


def assert_shape(answer: dict[str, Any], example: str, *, extra: frozenset[str] = frozenset()) -> None:
    expected = EXAMPLES[example]
    assert set(answer) == set(expected) | extra, (
        sorted(set(answer) - set(expected) - extra),
        sorted(set(expected) - set(answer)),
    )
    wrong = {}
    for key, sample in expected.items():
        want, got = kind(sample), kind(answer[key])
        # free text: any string fits ("" in an example fits any); a formatted string must keep its format
        ok = isinstance(answer[key], str) if want == "str" else got == want
        if not ok:
            wrong[key] = (sample, answer[key])
    assert not wrong, wrong


def first(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert rows
    return rows[0]


async def test_appointments(od: Od) -> None:
    scheduled = first(await od.get("/appointments", AptStatus="Scheduled", Limit=1))
    assert_shape(await od.get(f"/appointments/{scheduled['AptNum']}"), "appointment")
    assert_shape(first(await od.get("/appointments", AptStatus="Complete")), "appointment_list")
    created = await od.post("/appointments", {"PatNum": 21, "Op": 3, "AptDateTime": "2026-12-09 09:00:00"})
    assert_shape(created.json(), "appointment_post")
    updated = await od.put(f"/appointments/{created.json()['AptNum']}", {"Note": "Note on appointment."})
    # the PUT example lacks ItemOrderPlanned, which the POST example has: the sandbox answers the same keys
    assert_shape(updated.json(), "appointment_put", extra=frozenset({"ItemOrderPlanned"}))
    assert_shape(first(await od.get("/appointments/Slots", ProvNum=1)), "slot")


async def test_appointment_numbers_are_numbers_and_booleans_strings(od: Od) -> None:
    row = first(await od.get("/appointments", Limit=1))
    for key in ("AptNum", "PatNum", "Confirmed", "Op", "ProvNum", "ProvHyg", "ClinicNum", "InsPlan1"):
        assert isinstance(row[key], int), key
    for key in ("TimeLocked", "IsNewPatient", "IsHygiene"):
        assert row[key] in ("true", "false"), key


async def test_patients(od: Od) -> None:
    assert_shape(await od.get("/patients/2"), "patient")
    assert_shape(first(await od.get("/patients/Simple", Limit=1)), "patient_simple")
    rows = await od.get("/patients")
    assert_shape(next(r for r in rows if isinstance(r["Zip"], int)), "patient_search")
    created = await od.post("/patients", {"LName": "Smith", "FName": "Jane", "Birthdate": "1976-05-24"})
    assert_shape(created.json(), "patient_post")


async def test_patients_list_sends_a_digits_only_zip_as_a_number(od: Od) -> None:
    rows = await od.get("/patients", Limit=1000)
    zips = {type(r["Zip"]) for r in rows}
    assert zips == {int, str}  # the one ZIP+4 on file stays a string
    single = await od.get(f"/patients/{rows[0]['PatNum']}")
    assert isinstance(single["Zip"], str)


async def test_schedules_send_every_number_as_a_string(od: Od) -> None:
    today = od.sandbox.today.isoformat()
    row = first(await od.get("/schedules", date=today, SchedType="Provider"))
    assert_shape(await od.get(f"/schedules/{row['ScheduleNum']}"), "schedule")
    end = od.sandbox.today.replace(day=28).isoformat()
    blockout = first(await od.get("/schedules", dateStart=today, dateEnd=end, SchedType="Blockout"))
    assert_shape(blockout, "schedule_list")
    assert all(isinstance(value, str) for value in blockout.values())
    assert blockout["blockoutType"] in ("Staff Meeting", "Emergency Only")


async def test_practice_setup(od: Od) -> None:
    assert_shape(await od.get("/operatories/1"), "operatory")
    assert_shape(await od.get("/providers/3"), "provider")
    assert_shape(first(await od.get("/providers")), "provider_list")
    by_clinic = first(await od.get("/providers", ClinicNum=0))
    assert_shape(by_clinic, "provider_clinic")
    assert by_clinic["serverDateTime"] == ""  # "When using ClinicNum, a serverDateTime will not be returned."
    assert_shape(first(await od.get("/definitions", Category=2)), "definition")
    assert_shape(first(await od.get("/appointmenttypes")), "appointment_type")
    assert_shape(first(await od.get("/scheduleops", Limit=1)), "schedule_op")


async def test_clinics_when_the_office_uses_them(clock: FakeClock) -> None:
    sandbox = OpenDentalSandbox(clock=clock, mode="local", clinics=True)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        od = Od(sandbox, client, sandbox.credentials)
        rows = await od.get("/clinics")
        assert [r["ClinicNum"] for r in rows] == [1, 2]
        assert_shape(rows[0], "clinic")
        assert re.fullmatch(r"\d{10}", rows[0]["Phone"])  # "Exactly 10 digits. Does not include punctuation."


async def test_insurance(od: Od) -> None:
    assert_shape(await od.get("/carriers/1"), "carrier")
    assert_shape(await od.get("/insplans/1"), "insplan")
    assert_shape(await od.get("/inssubs/1"), "inssub")
    patplan = first(await od.get("/patplans", Limit=1))
    assert_shape(patplan, "patplan")
    rows = await od.get(f"/familymodules/{patplan['PatNum']}/Insurance")
    assert_shape(first(rows), "family_insurance")
    assert rows[0]["ordinal"] == "Primary"


async def test_payments_send_amount_and_clinic_as_strings(od: Od) -> None:
    row = first(await od.get("/payments", Limit=1))
    assert_shape(row, "payment")
    assert isinstance(row["PayAmt"], str)
    assert isinstance(row["ClinicNum"], str)
    created = await od.post("/payments", {"PayAmt": "129.99", "PatNum": 2})
    assert_shape(created.json(), "payment_post")
    assert created.json()["PayAmt"] == "129.99"
    assert created.json()["PaymentSource"] == "API"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/appointments/1", "serverDateTime"),
        ("/providers/1", "serverDateTime"),
    ],
)
async def test_server_date_time_is_the_offices_clock(od: Od, path: str, key: str) -> None:
    # FakeClock starts at 14:00 UTC, which is 08:00 in Chicago in December
    assert (await od.get(path))[key] == f"{od.sandbox.today.isoformat()} 08:00:00"
