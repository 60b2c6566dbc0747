"""Writebacks at the sandbox: validation, the logged answer, completion by clock, failure, the status APIs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.testing import FakeClock, SikkaSandbox

CREATED_KEYS = ["http_code", "http_code_desc", "error_code", "short_message", "long_message", "more_information"]
STATUS_ITEM_KEYS = [
    "id",
    "office_id",
    "method",
    "api",
    "payload_body",
    "appointment_sr_no",
    "request_time",
    "is_completed",
    "has_error",
    "completed_time",
    "result",
    "practice_id",
    "status",
    "patient_id",
    "created_id",
]
LIST_ITEM_KEYS = [
    "href",
    "description",
    "id",
    "result",
    "office_id",
    "method",
    "completed_time",
    "api_name",
    "api_request_body",
    "command_time",
    "duration_in_second",
]


def next_workday(sandbox: SikkaSandbox, weekday: int, after_days: int = 2) -> dt.date:
    """A future ``weekday`` (0 = Monday) that is not the practice's closure day."""
    closed = {
        s.week_start + dt.timedelta(days=i)
        for s in sandbox.world.schedules
        if s.resource_type == "Practice"
        for i in range(7)
        if s.holidays[i]
    }
    day = sandbox.today + dt.timedelta(days=after_days)
    while day.weekday() != weekday or day in closed:
        day += dt.timedelta(days=1)
    return day


def free_time(sandbox: SikkaSandbox, provider: str, operatory: str, day: dt.date, length: int = 30) -> dt.datetime:
    """The first start, on ``day`` or a later working day of ``provider``, where provider and chair are free."""
    world = sandbox.world
    for _ in range(40):
        week = day - dt.timedelta(days=(day.weekday() + 1) % 7)
        rows = {(s.resource_type, s.resource_id): s for s in world.schedules if s.week_start == week}
        open_day = rows[("Practice", "1")].blocks_on(day)
        booked = [
            a
            for a in world.appointments.values()
            if a.practice_id == "1" and a.start.date() == day and not a.cancelled
        ]
        for block_start, block_end in rows[("Provider", provider)].blocks_on(day) if open_day else ():
            t = dt.datetime.combine(day, block_start)
            while t + dt.timedelta(minutes=length) <= dt.datetime.combine(day, block_end):
                end = t + dt.timedelta(minutes=length)
                if not any(
                    a.overlaps(t, end) and (a.operatory == operatory or a.provider_id == provider) for a in booked
                ):
                    return t
                t += dt.timedelta(minutes=10)
        day += dt.timedelta(days=1)
    raise AssertionError("no free time found")


def busy_appointment(sandbox: SikkaSandbox, operatory: str, day: dt.date) -> Any:
    return next(
        a
        for a in sandbox.world.appointments.values()
        if a.operatory == operatory and a.start.date() == day and not a.cancelled and a.practice_id == "1"
    )


def booking(
    patient_id: str, start: dt.datetime, *, provider: str = "DMD1", op: str = "OP1", length: int = 30
) -> dict[str, str]:
    return {
        "patient_id": patient_id,
        "provider_id": provider,
        "practice_id": "1",
        "operatory": op,
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "length": str(length),
        "description": "Limited Exam",
    }


def an_active_patient(sandbox: SikkaSandbox) -> Any:
    return next(p for p in sandbox.world.patients.values() if p.status == "Active" and p.practice_id == "1")


async def status_of(wire: Any, headers: dict[str, str], writeback_id: str) -> dict[str, str]:
    response = await wire.client.get("/writeback_status", params={"id": writeback_id}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 1
    wire.strings(body)
    assert list(body[0]) == ["offset", "limit", "total_count", "execution_time", "pagination", "items"]
    assert body[0]["total_count"] == "1"
    item: dict[str, str] = body[0]["items"][0]
    assert list(item) == STATUS_ITEM_KEYS
    return item


def writeback_id(response: httpx.Response) -> str:
    return str(response.json()["long_message"]).removeprefix("Id:")


async def test_booking_is_logged_then_applied(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    day = next_workday(sandbox, 1)
    start = free_time(sandbox, "DMD1", "OP1", day)
    patient = an_active_patient(sandbox)
    response = await wire.client.post("/appointment", json=booking(patient.patient_id, start), headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert list(body) == CREATED_KEYS
    wb = writeback_id(response)
    assert body == {
        "http_code": "201",
        "http_code_desc": "Created",
        "error_code": "API2016",
        "short_message": "New resource created successfully",
        "long_message": f"Id:{wb}",
        "more_information": f"{sandbox.base_url}/writeback_status?id={wb}",
    }

    pending = await status_of(wire, headers, wb)
    assert pending["status"] == "Pending"
    assert pending["is_completed"] == ""
    assert pending["completed_time"] == ""
    assert pending["created_id"] == ""
    assert pending["method"] == "POST"
    assert json.loads(pending["payload_body"])["patient_id"] == patient.patient_id
    before = len(sandbox.world.appointments)

    clock.advance(89)
    assert (await status_of(wire, headers, wb))["status"] == "Pending"
    clock.advance(1)
    done = await status_of(wire, headers, wb)
    assert done["status"] == "Success"
    assert done["is_completed"] == "True"
    assert done["has_error"] == "False"
    assert done["result"] == "New Appointment inserted successfully"
    assert done["created_id"]
    submitted = dt.datetime.fromisoformat(done["request_time"])
    assert dt.datetime.fromisoformat(done["completed_time"]) - submitted == dt.timedelta(seconds=90)
    assert len(sandbox.world.appointments) == before + 1

    listed = await wire.client.get(
        "/appointments", params={"appointment_sr_no": done["created_id"], "fields": "operatory"}, headers=headers
    )
    item = listed.json()["items"][0]
    assert (item["date"], item["time"], item["operatory"], item["length"]) == (
        f"{day.isoformat()}T00:00:00",
        start.strftime("%H:%M"),
        "OP1",
        "30",
    )
    assert item["patient_id"] == patient.patient_id
    assert item["status"] == "Scheduled"


async def test_double_booked_chair_fails_at_completion(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.reject_overlaps = True  # overlap rejection is a switch (off by default)
    day = next_workday(sandbox, 2)
    taken = busy_appointment(sandbox, "OP2", day)
    patient = an_active_patient(sandbox)
    response = await wire.client.post(
        "/appointment", json=booking(patient.patient_id, taken.start, provider="DMD1", op="OP2"), headers=headers
    )
    assert response.status_code == 201  # Sikka only logs it
    clock.advance(90)
    failed = await status_of(wire, headers, writeback_id(response))
    assert failed["status"] == "Failed"
    assert failed["is_completed"] == "True"
    assert failed["has_error"] == "True"
    assert failed["result"].startswith("Operatory double-booked")
    assert failed["created_id"] == ""


async def test_two_writes_for_one_slot_the_second_fails(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.reject_overlaps = True  # overlap rejection is a switch (off by default)
    day = next_workday(sandbox, 1)
    start = free_time(sandbox, "DMD1", "OP1", day)
    patients = [p for p in sandbox.world.patients.values() if p.status == "Active"][:2]
    first = await wire.client.post("/appointment", json=booking(patients[0].patient_id, start), headers=headers)
    second = await wire.client.post("/appointment", json=booking(patients[1].patient_id, start), headers=headers)
    clock.advance(90)
    assert (await status_of(wire, headers, writeback_id(first)))["status"] == "Success"
    assert (await status_of(wire, headers, writeback_id(second)))["status"] == "Failed"


@pytest.mark.parametrize(
    ("change", "status", "code", "text"),
    [
        ({"provider_id": ""}, 400, "API1020", "provider_id"),
        ({"description": None}, 400, "API1020", "description"),
        ({"provider_id": "NOPE"}, 422, "API2019", "provider_id"),
        ({"provider_id": "DMD4"}, 422, "API2019", "not an active provider"),
        ({"patient_id": "999999"}, 422, "API2019", "patient_id"),
        ({"operatory": "OP7"}, 422, "API2019", "operatory"),
        ({"operatory": "OP99"}, 422, "API2019", "operatory"),
        ({"date": "12/01/2026"}, 422, "API2019", "date"),
        ({"time": "9:00"}, 422, "API2019", "time"),
        ({"length": "half an hour"}, 422, "API2019", "length"),
        ({"status": "Maybe"}, 422, "API2019", "status"),
        ({"practice_id": "7"}, 401, "API2007", ""),
    ],
)
async def test_booking_validation(
    wire: Any,
    headers: dict[str, str],
    sandbox: SikkaSandbox,
    change: dict[str, Any],
    status: int,
    code: str,
    text: str,
) -> None:
    start = free_time(sandbox, "DMD1", "OP1", next_workday(sandbox, 1))
    body: dict[str, Any] = booking(an_active_patient(sandbox).patient_id, start)
    for name, value in change.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    error = wire.error(await wire.client.post("/appointment", json=body, headers=headers), status, code)
    assert text in error["long_message"]
    assert sandbox.writebacks == []


async def test_bodies_must_be_json_objects_of_strings(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    start = free_time(sandbox, "DMD1", "OP1", next_workday(sandbox, 1))
    body: dict[str, Any] = booking(an_active_patient(sandbox).patient_id, start)
    wire.error(
        await wire.client.post("/appointment", json={**body, "length": 30}, headers=headers), 400, "API1026"
    )
    wire.error(await wire.client.post("/appointment", json=[body], headers=headers), 400, "API1026")
    form = await wire.client.post("/appointment", data=body, headers=headers)
    wire.error(form, 415, "API1006")
    wire.error(await wire.client.post("/appointment", json=body), 400, "API1004")


async def test_check_spu_refuses_at_once_while_the_utility_is_offline(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    start = free_time(sandbox, "DMD1", "OP1", next_workday(sandbox, 1))
    body = {**booking(an_active_patient(sandbox).patient_id, start), "check_spu": "true"}
    sandbox.faults.utility_online = False
    refused = await wire.client.post("/appointment", json=body, headers=headers)
    assert refused.status_code == 412
    assert refused.json() == {
        "http_code": "412",
        "http_code_desc": "Preconditon Failed",
        "error_code": "API2017",
        "short_message": (
            "The server does not meet one of the preconditions that the requester put on the request."
        ),
        "log_message": "Sikka platform utility is offline",
        "more_information": "--",
    }
    assert sandbox.writebacks == []
    sandbox.faults.utility_online = True
    assert (await wire.client.post("/appointment", json=body, headers=headers)).status_code == 201


async def test_offline_utility_keeps_writebacks_pending(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    start = free_time(sandbox, "DMD1", "OP1", next_workday(sandbox, 1))
    sandbox.faults.utility_online = False
    response = await wire.client.post(
        "/appointment", json=booking(an_active_patient(sandbox).patient_id, start), headers=headers
    )
    assert response.status_code == 201
    wb = writeback_id(response)
    clock.advance(3600)
    assert (await status_of(wire, headers, wb))["status"] == "Pending"
    sandbox.faults.utility_online = True
    clock.advance(5)  # nobody asks for a while; the utility ran it when it came back
    done = await status_of(wire, headers, wb)
    assert done["status"] == "Success"
    submitted = dt.datetime.fromisoformat(done["request_time"])
    assert dt.datetime.fromisoformat(done["completed_time"]) - submitted == dt.timedelta(seconds=3600)


async def test_reschedule_moves_the_appointment(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    day = next_workday(sandbox, 2)
    appt = next(
        a
        for a in sandbox.world.appointments.values()
        if a.start.date() == day and a.provider_id == "DMD1" and not a.cancelled and a.length == 30
    )
    target_day = next_workday(sandbox, 3)
    target = free_time(sandbox, "DMD1", "OP1", target_day)
    body = {
        "practice_id": "1",
        "provider_id": "DMD1",
        "date": target.date().isoformat(),
        "time": target.strftime("%H:%M"),
        "operatory": "OP1",
    }
    response = await wire.client.put(f"/appointments/{appt.appointment_sr_no}", json=body, headers=headers)
    assert response.status_code == 200
    wb = writeback_id(response)
    assert list(response.json()) == [
        "error_code",
        "http_code",
        "http_code_desc",
        "long_message",
        "short_message",
        "more_information",
    ]
    assert response.json() == {
        "error_code": "API0007",
        "http_code": "200",
        "http_code_desc": "OK",
        "long_message": f"Id:{wb}",
        "short_message": "Appointment status logged successfully",
        "more_information": f"{sandbox.base_url}/writeback_status?id={wb}",
    }
    assert sandbox.world.appointments[appt.appointment_sr_no].start == appt.start
    clock.advance(90)
    done = await status_of(wire, headers, wb)
    assert (done["status"], done["appointment_sr_no"], done["method"]) == (
        "Success",
        appt.appointment_sr_no,
        "PUT",
    )
    moved = sandbox.world.appointments[appt.appointment_sr_no]
    assert (moved.start, moved.operatory, moved.length) == (target, "OP1", 30)


async def test_reschedule_validation(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    appt = next(iter(sandbox.world.appointments.values()))
    put = wire.client.put
    wire.error(
        await put("/appointments/1", json={"practice_id": "1", "provider_id": "DMD1"}, headers=headers),
        404,
        "API2009",
    )
    no_provider = {"practice_id": "1", "date": "2026-12-09"}
    wire.error(
        await put(f"/appointments/{appt.appointment_sr_no}", json=no_provider, headers=headers), 400, "API1020"
    )
    bad_time = {"practice_id": "1", "provider_id": appt.provider_id, "time": "25:00"}
    wire.error(
        await put(f"/appointments/{appt.appointment_sr_no}", json=bad_time, headers=headers), 422, "API2019"
    )


async def test_reschedule_onto_a_taken_chair_fails(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.reject_overlaps = True  # overlap rejection is a switch (off by default)
    day = next_workday(sandbox, 2)
    taken = busy_appointment(sandbox, "OP3", day)
    mover = next(
        a
        for a in sandbox.world.appointments.values()
        if a.operatory == "OP1" and not a.cancelled and a.start.date() == day
    )
    body = {
        "practice_id": "1",
        "provider_id": mover.provider_id,
        "time": taken.start.strftime("%H:%M"),
        "operatory": "OP3",
    }
    body["date"] = day.isoformat()
    response = await wire.client.put(f"/appointments/{mover.appointment_sr_no}", json=body, headers=headers)
    clock.advance(90)
    failed = await status_of(wire, headers, writeback_id(response))
    assert failed["status"] == "Failed"
    assert "double-booked" in failed["result"]
    assert sandbox.world.appointments[mover.appointment_sr_no] == mover


@pytest.mark.parametrize(
    ("value", "cancelled", "confirmed"),
    [("Cancelled", True, False), ("confirmed", False, True), ("Broken", True, False)],
)
async def test_status_change(
    wire: Any,
    headers: dict[str, str],
    sandbox: SikkaSandbox,
    clock: FakeClock,
    value: str,
    cancelled: bool,
    confirmed: bool,
) -> None:
    appt = next(
        a
        for a in sandbox.world.appointments.values()
        if a.status == "Scheduled" and a.start.date() > sandbox.today
    )
    body = {"op": "replace", "path": "/appointment_status", "value": value, "practice_id": "1"}
    response = await wire.client.patch(f"/appointments/{appt.appointment_sr_no}", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["error_code"] == "API0007"
    clock.advance(90)
    assert (await status_of(wire, headers, writeback_id(response)))["status"] == "Success"
    item = (
        await wire.client.get(
            "/appointments",
            params={"appointment_sr_no": appt.appointment_sr_no, "fields": "cancelled,is_confirmed"},
            headers=headers,
        )
    ).json()["items"][0]
    assert item["status"] == value.capitalize()
    assert item["cancelled"] == str(cancelled)
    assert item["is_confirmed"] == str(confirmed)


async def test_status_change_validation(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    appt = next(iter(sandbox.world.appointments.values()))
    url = f"/appointments/{appt.appointment_sr_no}"
    good = {"op": "replace", "path": "/appointment_status", "value": "Confirmed", "practice_id": "1"}
    patch = wire.client.patch
    wire.error(await patch(url, json={**good, "value": "Done-ish"}, headers=headers), 422, "API2019")
    wire.error(await patch(url, json={**good, "op": "add"}, headers=headers), 422, "API2019")
    wire.error(await patch(url, json={**good, "path": "/status"}, headers=headers), 422, "API2019")
    wire.error(await patch("/appointments/404404", json=good, headers=headers), 404, "API2009")
    wire.error(
        await patch(url, json={k: v for k, v in good.items() if k != "value"}, headers=headers), 400, "API1020"
    )


def new_patient(**extra: str) -> dict[str, str]:
    return {
        "firstname": "Rowan",
        "lastname": "Testcase",
        "birthdate": "1991-04-02",
        "provider_id": "DMD1",
        "practice_id": "1",
        "cell": "555-010-2030",
        "email": "rowan.testcase@example.com",
        "gender": "female",
        **extra,
    }


async def test_new_patient_appears_and_a_duplicate_fails(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    first = await wire.client.post("/patient", json=new_patient(), headers=headers)
    assert first.status_code == 201
    assert first.json()["error_code"] == "API2016"
    clock.advance(90)
    done = await status_of(wire, headers, writeback_id(first))
    assert (done["status"], done["result"]) == ("Success", "New Patient inserted successfully")
    found = (await wire.client.get("/patients", params={"patient_id": done["created_id"]}, headers=headers)).json()
    item = found["items"][0]
    assert (item["firstname"], item["lastname"], item["cell"]) == ("Rowan", "Testcase", "555-010-2030")
    assert item["birthdate"] == "1991-04-02T00:00:00"
    assert item["guarantor_id"] == done["created_id"]

    again = await wire.client.post("/patient", json=new_patient(), headers=headers)
    clock.advance(90)
    duplicate = await status_of(wire, headers, writeback_id(again))
    assert duplicate["status"] == "Failed"
    assert "Duplicate patient" in duplicate["result"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"firstname": ""}, "API1020"),
        ({"email": "not-an-email"}, "API2019"),
        ({"birthdate": "2999-01-01"}, "API2019"),
        ({"birthdate": "04/02/1991"}, "API2019"),
        ({"gender": "x"}, "API2019"),
        ({"cell": "12345"}, "API2019"),
        ({"provider_id": "NOPE"}, "API2019"),
        ({"guarantor_id": "999999"}, "API2019"),
    ],
)
async def test_new_patient_validation(
    wire: Any, headers: dict[str, str], extra: dict[str, str], code: str
) -> None:
    status = 400 if code == "API1020" else 422
    wire.error(await wire.client.post("/patient", json=new_patient(**extra), headers=headers), status, code)


def payment(sandbox: SikkaSandbox, **extra: str) -> dict[str, str]:
    patient = an_active_patient(sandbox)
    return {
        "patient_id": patient.patient_id,
        "guarantor_id": patient.guarantor_id,
        "procedure_code": "1",
        "procedure_description": "Cash Payment",
        "provider_id": "DMD1",
        "amount": "-39.30",
        "practice_id": "1",
        "transaction_date": sandbox.today.isoformat(),
        **extra,
    }


async def test_payment_is_posted(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    response = await wire.client.post("/transaction", json=payment(sandbox), headers=headers)
    assert response.status_code == 201
    clock.advance(90)
    done = await status_of(wire, headers, writeback_id(response))
    assert done["status"] == "Success"
    tx = (
        await wire.client.get("/transactions", params={"transaction_sr_no": done["created_id"]}, headers=headers)
    ).json()
    item = tx["items"][0]
    assert (item["transaction_type"], item["amount"], item["procedure_code"]) == ("Payment", "-39.3000", "1")


@pytest.mark.parametrize(
    "extra",
    [
        {"procedure_description": "Check Payment"},
        {"procedure_code": "5", "procedure_description": "Dental Insurance Payment"},
        {"amount": "0"},
        {"amount": "lots"},
        {"guarantor_id": "1"},
        {"transaction_date": "yesterday"},
    ],
)
async def test_payment_validation(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, extra: dict[str, str]
) -> None:
    wire.error(
        await wire.client.post("/transaction", json=payment(sandbox, **extra), headers=headers), 422, "API2019"
    )


async def test_writes_the_pms_does_not_support_are_refused(clock: FakeClock, wire_for: Any) -> None:
    sandbox = SikkaSandbox(clock=clock, pms_name="Dentrix Enterprise")
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        headers = await wire.key_headers()
        wire.error(await client.post("/transaction", json=payment(sandbox), headers=headers), 405, "API2014")
        assert (await client.post("/patient", json=new_patient(), headers=headers)).status_code == 201


async def test_fail_next_writebacks(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.faults.fail_next_writebacks(1, "PMS is locked by another user")
    first = await wire.client.post("/patient", json=new_patient(), headers=headers)
    second = await wire.client.post("/patient", json=new_patient(firstname="Sage"), headers=headers)
    completed = await sandbox.run_writebacks()
    assert completed == []  # nothing is due yet
    clock.advance(90)
    completed = await sandbox.run_writebacks()
    assert [r.state for r in completed] == ["failed", "success"]
    failed = await status_of(wire, headers, writeback_id(first))
    assert (failed["status"], failed["result"]) == ("Failed", "PMS is locked by another user")
    assert (await status_of(wire, headers, writeback_id(second)))["status"] == "Success"


async def test_writebacks_list_reports_many_at_once(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    ids = []
    for name in ("Ash", "Birch", "Cedar"):
        ids.append(
            writeback_id(await wire.client.post("/patient", json=new_patient(firstname=name), headers=headers))
        )
    sandbox.faults.fail_next_writebacks(1, "Locked")
    clock.advance(90)
    ids.append(
        writeback_id(await wire.client.post("/patient", json=new_patient(firstname="Dogwood"), headers=headers))
    )
    today = clock.now().date()
    params = {"startdate": (today - dt.timedelta(days=1)).isoformat(), "enddate": today.isoformat()}
    wire.error(await wire.client.get("/writebacks", params=params), 400, "API1001")
    response = await wire.client.get("/writebacks", params=params, headers=wire.app_headers)
    assert response.status_code == 200
    body = response.json()
    wire.strings(body)
    assert [i["id"] for i in body["items"]] == ids
    assert all(list(i) == LIST_ITEM_KEYS for i in body["items"])
    assert [i["result"] for i in body["items"]] == ["Locked", "success", "success", "pending"]
    first = body["items"][0]
    assert first["method"] == "POST"
    assert first["api_name"] == "patient"
    assert first["duration_in_second"] == "90"
    assert "firstname=Ash" in first["api_request_body"]
    assert headers["Request-Key"] not in first["api_request_body"]
    page = (
        await wire.client.get(
            "/writebacks", params={**params, "limit": "2", "offset": "1"}, headers=wire.app_headers
        )
    ).json()
    assert [i["id"] for i in page["items"]] == ids[2:]
    one = (await wire.client.get("/writebacks", params={**params, "id": ids[1]}, headers=wire.app_headers)).json()
    assert [i["id"] for i in one["items"]] == [ids[1]]
    wide = {"startdate": (today - dt.timedelta(days=8)).isoformat(), "enddate": today.isoformat()}
    body = wire.error(await wire.client.get("/writebacks", params=wide, headers=wire.app_headers), 400, "API1026")
    assert "7 days" in body["long_message"]
    wire.error(await wire.client.get("/writebacks", headers=wire.app_headers), 400, "API1020")
    old = {
        "startdate": (today - dt.timedelta(days=20)).isoformat(),
        "enddate": (today - dt.timedelta(days=14)).isoformat(),
    }
    assert (await wire.client.get("/writebacks", params=old, headers=wire.app_headers)).status_code == 204


async def test_delete_cancels_only_pending_writebacks(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    pending = writeback_id(await wire.client.post("/patient", json=new_patient(), headers=headers))
    deleted = await wire.client.delete("/writebacks", params={"id": pending}, headers=wire.app_headers)
    assert deleted.status_code == 200
    assert deleted.json() == {
        "http_code": "200",
        "http_code_desc": "OK",
        "error_code": "API4006",
        "short_message": "",
        "long_message": "Writeback request deleted successfully.",
        "more_information": "",
    }
    before = len(sandbox.world.patients)
    clock.advance(90)
    await sandbox.run_writebacks()
    assert len(sandbox.world.patients) == before
    assert (await wire.client.get("/writeback_status", params={"id": pending}, headers=headers)).status_code == 204

    done = writeback_id(await wire.client.post("/patient", json=new_patient(firstname="Other"), headers=headers))
    clock.advance(90)
    wire.error(
        await wire.client.delete("/writebacks", params={"id": done}, headers=wire.app_headers), 409, "API2013"
    )
    wire.error(
        await wire.client.delete("/writebacks", params={"id": "1"}, headers=wire.app_headers), 404, "API2009"
    )


async def test_writeback_status_errors(wire: Any, headers: dict[str, str]) -> None:
    wire.error(await wire.client.get("/writeback_status", headers=headers), 400, "API1020")
    assert (await wire.client.get("/writeback_status", params={"id": "123"}, headers=headers)).status_code == 204


async def test_zero_delay_and_negative_delay(clock: FakeClock, wire_for: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="negative"):
        SikkaSandbox(clock=clock, writeback_delay=dt.timedelta(seconds=-1))
    sandbox = SikkaSandbox(clock=clock, writeback_delay=dt.timedelta(0))
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        headers = await wire.key_headers()
        response = await client.post("/patient", json=new_patient(), headers=headers)
        assert (await status_of(wire, headers, writeback_id(response)))["status"] == "Success"
        sandbox.writeback_delay = dt.timedelta(minutes=3)
        later = await client.post("/patient", json=new_patient(firstname="Later"), headers=headers)
        clock.advance(179)
        assert (await status_of(wire, headers, writeback_id(later)))["status"] == "Pending"
        clock.advance(1)
        assert (await status_of(wire, headers, writeback_id(later)))["status"] == "Success"
        with pytest.raises(InvalidArgumentError, match="negative"):
            sandbox.writeback_delay = dt.timedelta(seconds=-5)
