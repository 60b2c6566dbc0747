"""The writes: applied at once, with the docs' defaults, answers and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Od

SLOT = "2026-12-09 09:00:00"  # a Wednesday in the seeded window


async def scheduled(od: Od) -> dict[str, Any]:
    rows = await od.get("/appointments", AptStatus="Scheduled", dateStart=od.sandbox.today.isoformat())
    return rows[0]


# ------------------------------------------------------------------------------------------- appointments POST
async def test_post_appointment_defaults_location_and_read_back(od: Od) -> None:
    patient = await od.get("/patients/21")
    response = await od.post(
        "/appointments", {"PatNum": 21, "Op": 3, "AptDateTime": SLOT, "colorOverride": "100,0,255"}
    )
    body = response.json()
    assert response.headers["location"] == f"{od.sandbox.base_url}/appointments/{body['AptNum']}"
    assert body["AptStatus"] == "Scheduled"
    assert body["Pattern"] == "/XX/"
    assert body["PatternSecondary"] == "////"
    assert (body["Confirmed"], body["confirmed"]) == (19, "Not Called")  # the first ApptConfirmed definition
    assert body["ProvNum"] == (patient["PriProv"] or 1)
    assert body["colorOverride"] == "100,0,255"
    assert "serverDateTime" not in body
    again = await od.get(f"/appointments/{body['AptNum']}")
    assert {k: v for k, v in again.items() if k != "serverDateTime"} == body
    assert od.sandbox.requests[-2].body == {
        "PatNum": 21,
        "Op": 3,
        "AptDateTime": SLOT,
        "colorOverride": "100,0,255",
    }


async def test_post_appointment_with_a_type_takes_its_pattern_and_color(od: Od) -> None:
    body = (
        await od.post("/appointments", {"PatNum": 21, "Op": 3, "AptDateTime": SLOT, "AppointmentTypeNum": 2})
    ).json()
    assert (body["Pattern"], body["colorOverride"]) == ("//XXXXXX//", "74,250,61")
    explicit = {"PatNum": 21, "Op": 3, "AptDateTime": SLOT, "AppointmentTypeNum": 2, "Pattern": "/XXXX/"}
    assert (await od.post("/appointments", explicit)).json()["Pattern"] == "/XXXX/"


async def test_patterns_over_nine_hours_are_trimmed(od: Od) -> None:
    body = (
        await od.post("/appointments", {"PatNum": 21, "Op": 6, "AptDateTime": SLOT, "Pattern": "X" * 200})
    ).json()
    assert len(body["Pattern"]) == 108


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"Op": 1, "AptDateTime": SLOT}, 400, "PatNum is required"),
        ({"PatNum": 21, "AptDateTime": SLOT}, 400, "Op is required"),
        ({"PatNum": 21, "Op": 1}, 400, "AptDateTime is required"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": "2026-12-09T09:00"}, 400, "yyyy-MM-dd HH:mm:ss"),
        ({"PatNum": 99999, "Op": 1, "AptDateTime": SLOT}, 404, "Patient not found"),
        ({"PatNum": 21, "Op": 99, "AptDateTime": SLOT}, 404, "Operatory not found"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "Pattern": "xx"}, 400, "Pattern"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "Confirmed": 69}, 400, "Category=2"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "AptStatus": "Broken"}, 400, "AptStatus"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "IsHygiene": True}, 400, '"true" or "false"'),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "colorOverride": "300,0,0"}, 400, "colorOverride"),
        ({"PatNum": 21, "Op": 1, "AptDateTime": SLOT, "Pattern": "/XX/", "PatternSecondary": "//"}, 400, "length"),
    ],
)
async def test_post_appointment_refusals(od: Od, body: dict[str, Any], status: int, says: str) -> None:
    before = len(od.sandbox.data.appointments)
    assert says in await od.refused("POST", "/appointments", status, json=body)
    assert len(od.sandbox.data.appointments) == before


async def test_numbers_may_come_as_strings_and_keys_in_any_case(od: Od) -> None:
    body = (await od.post("/appointments", {"patnum": "21", "OP": "3", "aptDateTime": SLOT})).json()
    assert (body["PatNum"], body["Op"]) == (21, 3)


async def test_overlapping_appointments_are_accepted_unless_switched(od: Od) -> None:
    first = {"PatNum": 21, "Op": 6, "AptDateTime": "2026-12-09 05:00:00", "Pattern": "/XXXX/"}  # nothing booked
    await od.post("/appointments", first)
    await od.post("/appointments", {**first, "PatNum": 22})  # as the docs imply: no double-booking guard
    od.sandbox.reject_overlaps = True
    text = await od.refused("POST", "/appointments", 400, json={**first, "AptDateTime": "2026-12-09 05:15:00"})
    assert text == "Appointment overlaps another appointment in operatory 6."
    await od.post("/appointments", {**first, "AptDateTime": "2026-12-09 05:30:00"})  # right after: fine
    await od.post("/appointments", {**first, "Op": 3})  # another chair: fine
    moved = await od.post("/appointments", {**first, "AptDateTime": "2026-12-09 06:00:00"})
    clash = {"AptDateTime": "2026-12-09 05:10:00"}
    assert "overlaps" in await od.refused("PUT", f"/appointments/{moved.json()['AptNum']}", 400, json=clash)


# -------------------------------------------------------------------------------------------- appointments PUT
async def test_put_appointment_is_partial_and_note_overwrites(od: Od) -> None:
    row = await scheduled(od)
    body = (await od.put(f"/appointments/{row['AptNum']}", {"Note": "Note on appointment."})).json()
    assert body["Note"] == "Note on appointment."
    assert {k: v for k, v in body.items() if k not in ("Note", "DateTStamp")} == {
        k: v for k, v in row.items() if k not in ("Note", "DateTStamp", "serverDateTime")
    }
    moved = (await od.put(f"/appointments/{row['AptNum']}", {"AptDateTime": SLOT, "Op": 6})).json()
    assert (moved["AptDateTime"], moved["Op"], moved["Note"]) == (SLOT, 6, "Note on appointment.")
    assert await od.refused("PUT", "/appointments/99999", 404, json={"Note": "x"}) == "Appointment not found"
    assert "UnschedStatus" in await od.refused(
        "PUT", f"/appointments/{row['AptNum']}", 400, json={"UnschedStatus": 19}
    )


async def test_rescheduling_a_broken_appointment_with_put(od: Od) -> None:
    row = (await od.get("/appointments", AptStatus="Broken"))[0]
    body = (
        await od.put(f"/appointments/{row['AptNum']}", {"AptStatus": "Scheduled", "AptDateTime": SLOT, "Op": 6})
    ).json()
    assert (body["AptStatus"], body["AptDateTime"]) == ("Scheduled", SLOT)


# ------------------------------------------------------------------------------------------ Break, Note, Confirm
async def test_break_sends_to_the_unscheduled_list_or_leaves_it_broken(od: Od) -> None:
    rows = await od.get("/appointments", AptStatus="Scheduled", dateStart=od.sandbox.today.isoformat())
    listed, kept = rows[0], rows[1]
    response = await od.put(f"/appointments/{listed['AptNum']}/Break", {"sendToUnscheduledList": "true"})
    assert response.content == b""
    assert (await od.get(f"/appointments/{listed['AptNum']}"))["AptStatus"] == "UnschedList"
    await od.put(f"/appointments/{kept['AptNum']}/Break", {"sendToUnscheduledList": "false"})
    after = await od.get(f"/appointments/{kept['AptNum']}")
    assert (after["AptStatus"], after["AptDateTime"], after["Op"]) == ("Broken", kept["AptDateTime"], kept["Op"])


async def test_break_refusals(od: Od) -> None:
    done = (await od.get("/appointments", AptStatus="Complete"))[0]
    text = await od.refused(
        "PUT", f"/appointments/{done['AptNum']}/Break", 400, json={"sendToUnscheduledList": "true"}
    )
    assert text == "Only appointments with an AptStatus of Scheduled can be broken."
    row = await scheduled(od)
    path = f"/appointments/{row['AptNum']}/Break"
    assert "sendToUnscheduledList is required" in await od.refused("PUT", path, 400, json={})
    assert '"true" or "false"' in await od.refused("PUT", path, 400, json={"sendToUnscheduledList": True})
    assert "breakType" in await od.refused(
        "PUT", path, 400, json={"sendToUnscheduledList": "false", "breakType": "Missed"}
    )
    od.sandbox.broken_appointment_procedures = True
    await od.put(path, {"sendToUnscheduledList": "false", "breakType": "Missed"})
    assert (await od.get(f"/appointments/{row['AptNum']}"))["AptStatus"] == "Broken"


async def test_note_appends_after_a_carriage_return_sent_as_a_space(od: Od) -> None:
    row = await scheduled(od)
    path = f"/appointments/{row['AptNum']}"
    await od.put(path, {"Note": "First"})
    assert (await od.put(f"{path}/Note", {"Note": "Requests reschedule"})).content == b""
    assert od.sandbox.data.appointments[row["AptNum"]].note == "First\r\nRequests reschedule"
    assert (await od.get(path))["Note"] == "First Requests reschedule"  # "\r\n" goes out as a space
    assert "Note is required" in await od.refused("PUT", f"{path}/Note", 400, json={})


async def test_confirm_takes_exactly_one_of_confirm_val_and_def_num(od: Od) -> None:
    row = await scheduled(od)
    path = f"/appointments/{row['AptNum']}/Confirm"
    await od.put(path, {"confirmVal": "Confirmed"})
    after = await od.get(f"/appointments/{row['AptNum']}")
    assert (after["Confirmed"], after["confirmed"]) == (21, "Appointment Confirmed")
    await od.put(path, {"defNum": 22})
    assert (await od.get(f"/appointments/{row['AptNum']}"))["confirmed"] == "Left Message"
    await od.put(path, {"confirmVal": "None"})
    assert (await od.get(f"/appointments/{row['AptNum']}"))["Confirmed"] == 19
    for body in ({"confirmVal": "Confirmed", "defNum": 21}, {}, {"confirmVal": "Confirmed", "Note": "x"}):
        assert "Only one field is allowed" in await od.refused("PUT", path, 400, json=body)
    assert "confirmVal" in await od.refused("PUT", path, 400, json={"confirmVal": "Maybe"})
    assert "Category=2" in await od.refused("PUT", path, 400, json={"defNum": 69})


# ------------------------------------------------------------------------------------------------------ patients
NEW = {
    "LName": "Smith",
    "FName": "Jane",
    "Gender": "Female",
    "Position": "Single",
    "Birthdate": "1976-05-24",
    "Address": "125 Satin Heights",
    "City": "San Jose",
    "State": "CA",
    "Zip": "97301",
    "HmPhone": "(536)624-5871",
    "WkPhone": "(536)987-4822",
    "WirelessPhone": "",
    "Email": "smithfam@example.com",
    "PreferConfirmMethod": "HmPhone",
    "Language": "spa",
    "TxtMsgOk": "Yes",
}


async def test_post_patient_answers_201_with_location_and_the_record(od: Od) -> None:
    response = await od.post("/patients", NEW)
    body = response.json()
    assert response.headers["location"] == f"{od.sandbox.base_url}/patients/{body['PatNum']}"
    assert body["Guarantor"] == body["PatNum"]
    assert (body["PatStatus"], body["HmPhone"], body["PriProv"], body["BillingType"]) == (
        "Patient",
        "(536)624-5871",
        1,
        "Standard Account",
    )
    assert body["DateFirstVisit"] == "0001-01-01"
    assert body["ImageFolder"] == f"SmithJane{body['PatNum']}"
    assert await od.get(f"/patients/{body['PatNum']}") == body
    minimal = (await od.post("/patients", {"LName": "Doe", "FName": "Sam"})).json()
    assert (minimal["Gender"], minimal["Position"], minimal["Birthdate"]) == ("Unknown", "Single", "0001-01-01")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"FName": "Jane"}, "LName is required"),
        ({"LName": "Smith", "FName": " "}, "FName is required"),
        ({"LName": "Smith", "FName": "Jane", "Gender": "F"}, "Gender"),
        ({"LName": "Smith", "FName": "Jane", "Zip": "9730"}, "Zip"),
        ({"LName": "Smith", "FName": "Jane", "Birthdate": "05/24/1976"}, "Birthdate"),
        ({"LName": "Smith", "FName": "Jane", "BillingType": "Gold"}, "BillingType"),
        ({"LName": "Smith", "FName": "Jane", "PriProv": 99}, "PriProv"),
        ({"LName": "Smith", "FName": "Jane", "Guarantor": 1, "SuperFamily": 1}, "Guarantor or SuperFamily"),
    ],
)
async def test_post_patient_refusals(od: Od, body: dict[str, Any], says: str) -> None:
    assert says in await od.refused("POST", "/patients", 400, json=body)


async def test_a_duplicate_patient_is_refused_or_answered_or_allowed(od: Od) -> None:
    first = (await od.post("/patients", NEW)).json()
    same_phone = {**NEW, "LName": "SMITH", "Email": "", "HmPhone": "536-624-5871"}
    text = await od.refused("POST", "/patients", 400, json=same_phone)
    assert f"PatNum {first['PatNum']}" in text
    await od.post("/patients", {**NEW, "Birthdate": "1977-05-24"})  # another birthdate: not a duplicate
    await od.post("/patients", {**NEW, "Email": "other@example.com", "HmPhone": "", "WkPhone": ""})
    od.sandbox.duplicate_patients = "existing"
    existing = await od.post("/patients", same_phone, status=200)
    assert existing.json()["PatNum"] == first["PatNum"]
    od.sandbox.duplicate_patients = "allow"
    assert (await od.post("/patients", same_phone)).json()["PatNum"] != first["PatNum"]


async def test_put_patient_updates_clears_and_keeps_names(od: Od) -> None:
    before = await od.get("/patients/5")
    body = (await od.put("/patients/5", {"WirelessPhone": "(512)555-0199", "Email": ""})).json()
    assert (body["WirelessPhone"], body["Email"]) == ("(512)555-0199", "")
    assert (body["LName"], body["HmPhone"]) == (before["LName"], before["HmPhone"])
    assert "LName cannot be blank" in await od.refused("PUT", "/patients/5", 400, json={"LName": ""})
    assert await od.refused("PUT", "/patients/999", 404, json={"Email": "x"}) == "Patient not found"


# ------------------------------------------------------------------------------------------------------ payments
async def test_post_payment(od: Od) -> None:
    patient = await od.get("/patients/2")
    body = (await od.post("/payments", {"PayAmt": "129.99", "PatNum": 2})).json()
    assert (body["PayAmt"], body["PaymentSource"], body["PayType"], body["payType"]) == (
        "129.99",
        "API",
        449,
        "API Payment Processed",
    )
    assert body["PayDate"] == body["DateEntry"] == od.sandbox.today.isoformat()
    assert body["serverDateTime"] == ""
    assert body["ClinicNum"] == "0"
    assert (await od.get("/patients/2"))["EstBalance"] == pytest.approx(patient["EstBalance"] - 129.99)
    whole = (await od.post("/payments", {"PayAmt": 339, "PatNum": 2, "PayType": 69, "CheckNum": "12798"})).json()
    assert (whole["PayAmt"], whole["payType"], whole["CheckNum"]) == ("339", "Check", "12798")
    assert whole["PayNum"] in {p["PayNum"] for p in await od.get("/payments", PatNum=2)}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"PatNum": 2}, 400, "PayAmt is required"),
        ({"PayAmt": "10"}, 400, "PatNum is required"),
        ({"PayAmt": "ten", "PatNum": 2}, 400, "PayAmt must be a number"),
        ({"PayAmt": "-5", "PatNum": 2}, 400, "greater than zero"),
        ({"PayAmt": "10", "PatNum": 99999}, 404, "Patient not found"),
        ({"PayAmt": "10", "PatNum": 2, "PayType": 19}, 400, "Category=10"),
        ({"PayAmt": "10", "PatNum": 2, "PayDate": "2099-01-01"}, 400, "future"),
    ],
)
async def test_post_payment_refusals(od: Od, body: dict[str, Any], status: int, says: str) -> None:
    assert says in await od.refused("POST", "/payments", status, json=body)


async def test_a_bad_body_is_400(od: Od) -> None:
    response = await od.client.post("/patients", headers=od.headers, content=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.text
    assert "JSON object" in await od.refused("POST", "/patients", 400, json=["LName"])
