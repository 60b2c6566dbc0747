"""The four tools through ``POST /vapi/webhook`` (and the per-tool routes), in every payload shape Vapi
uses, against the real SikkaSandbox: answers, bookings confirmed by text, the call log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from pms_connect.models import ProviderKind
from pms_connect.testing import SikkaSandbox

SHAPES = ["toolCallList", "toolWithToolCallList", "both", "toolCalls", "flat-parameters", "flat-arguments"]
TOOLS = ["check_availability", "get_patient_info", "book_appointment", "transfer_to_human"]
FRONT_DESK = "+15550100001"
STAFF_MOBILE = "+15550100002"


async def free_slot(h: Any, *, days_ahead: int = 2, kind: ProviderKind | None = None) -> Any:
    """An open 30-minute slot, as the sandbox sees it now."""
    pms = await h.pms()
    day = h.weekday(days_ahead)
    slots = await pms.appointments.find_slots(
        start=day, end=day, duration=timedelta(minutes=30), kinds=[kind] if kind else None, limit=5
    )
    return slots[0]


def local_iso(moment: Any) -> str:
    return str(moment.replace(tzinfo=None).isoformat(timespec="minutes"))


async def arguments_for(tool: str, h: Any, people: Any) -> dict[str, Any]:
    if tool == "check_availability":
        return {"date": h.weekday(1).isoformat(), "providerKind": "hygienist"}
    if tool == "get_patient_info":
        return people.details()
    if tool == "book_appointment":
        return {"start": local_iso((await free_slot(h)).start), "reason": "cleaning", **people.details()}
    return {"reason": "billing question", "summary": "wants to discuss an invoice"}


EXPECTED = {
    "check_availability": "Open times: ",
    "get_patient_info": '{"status":"found"',
    "book_appointment": "I've sent the request for ",
    "transfer_to_human": '{"transfer":true,"destination":"+15550100001"',
}


@pytest.mark.parametrize("as_string", [False, True], ids=["args-object", "args-json-string"])
@pytest.mark.parametrize("shape", SHAPES)
async def test_every_tool_in_every_shape(connected: Any, people: Any, shape: str, as_string: bool) -> None:
    """All four tools in one message: one result per call, each id echoed, in order, on one line."""
    h = connected
    calls = [(f"call_{tool}", tool, await arguments_for(tool, h, people)) for tool in reversed(TOOLS)]
    message = h.message(calls, shape=shape, call=h.call(people.known_phone), as_string=as_string)
    response = await h.vapi(message)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["results"]
    assert len(body["results"]) == len(calls)
    for (call_id, tool, _), result in zip(calls, body["results"], strict=True):
        h.check_result(result, call_id, tool)
        assert result["result"].startswith(EXPECTED[tool]), result


@pytest.mark.parametrize("tool", TOOLS)
async def test_every_tool_as_a_legacy_function_call(connected: Any, people: Any, tool: str) -> None:
    h = connected
    message = {
        "message": {
            "type": "function-call",
            "call": h.call(people.known_phone),
            "functionCall": {"name": tool, "parameters": await arguments_for(tool, h, people)},
        }
    }
    response = await h.vapi(message)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["result"]
    assert body["result"].startswith(EXPECTED[tool])
    assert "\n" not in body["result"]


@pytest.mark.parametrize(
    ("route", "tool"),
    [
        ("check-availability", "check_availability"),
        ("get-patient-info", "get_patient_info"),
        ("book-appointment", "book_appointment"),
        ("transfer-to-human", "transfer_to_human"),
    ],
)
async def test_the_original_per_tool_routes(connected: Any, people: Any, route: str, tool: str) -> None:
    h = connected
    result = await h.tool(
        tool, await arguments_for(tool, h, people), caller=people.known_phone, path=f"/vapi/tools/{route}"
    )
    assert result["result"].startswith(EXPECTED[tool])


async def test_an_unknown_per_tool_route_is_404(connected: Any, people: Any) -> None:
    response = await connected.vapi({"message": {"type": "tool-calls"}}, path="/vapi/tools/make-coffee")
    assert response.status_code == 404
    assert "check-availability" in response.json()["error"]


async def test_several_calls_get_one_result_each_in_order(connected: Any, people: Any) -> None:
    h = connected
    calls = [
        ("call_b", "get_patient_info", {}),
        ("call_a", "check_availability", {"date": h.weekday(1).isoformat()}),
        ("call_c", "refill_prescription", {}),
        ("call_d", "transfer_to_human", '{"reason": "pain"'),  # a truncated JSON string
    ]
    message = {
        "message": {
            "type": "tool-calls",
            "call": h.call(people.known_phone),
            "toolCallList": [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
            ],
        }
    }
    response = await h.vapi(message)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["toolCallId"] for r in results] == ["call_b", "call_a", "call_c", "call_d"]
    assert [r["name"] for r in results] == [
        "get_patient_info",
        "check_availability",
        "refill_prescription",
        "transfer_to_human",
    ]
    assert "result" in results[0]
    assert "result" in results[1]
    assert results[2]["error"].startswith("unknown tool 'refill_prescription'")
    assert results[3]["error"] == "the arguments are not valid JSON"
    assert h.texts() == []  # the broken transfer call did nothing


async def test_availability_is_a_spoken_summary_of_a_few_spread_out_times(connected: Any, people: Any) -> None:
    h = connected
    day = h.weekday(3)
    result = await h.tool(
        "check_availability",
        {"startDate": day.isoformat(), "endDate": day.isoformat(), "providerKind": "hygienist"},
        caller=people.known_phone,
    )
    text = result["result"]
    offers = text.removeprefix("Open times: ").rstrip(".").split("; ")
    assert len(offers) == 3
    assert all(f"{day:%A, %B} {day.day} at " in offer for offer in offers)
    assert all(" with hygienist " in offer for offer in offers)
    assert "Dr." not in text


async def test_availability_on_a_closed_day_says_so(connected: Any, people: Any) -> None:
    h = connected
    sunday = h.sandbox.today + timedelta(days=(6 - h.sandbox.today.weekday()) % 7 or 7)
    result = await h.tool("check_availability", {"date": sunday.isoformat()}, caller=people.known_phone)
    assert result["result"].startswith("No open times from ")


async def test_availability_refuses_a_past_date_and_a_reversed_range(connected: Any, people: Any) -> None:
    h = connected
    past = await h.tool("check_availability", {"date": "2020-01-06"}, caller=people.known_phone)
    assert past["error"] == "that date has passed; ask for a later one"
    day = h.weekday(3)
    reversed_range = await h.tool(
        "check_availability",
        {"startDate": day.isoformat(), "endDate": (day - timedelta(days=1)).isoformat()},
        caller=people.known_phone,
    )
    assert reversed_range["error"] == "endDate is before startDate"


async def test_nothing_is_disclosed_until_name_and_birthdate_match(connected: Any, people: Any) -> None:
    """Caller ID alone opened a chart (the first name, and a booking): it now only narrows the search."""
    h = connected
    known = people.known
    asked = {}
    for phone in (people.known_phone, people.stranger_phone):
        result = (await h.tool("get_patient_info", {}, caller=phone))["result"]
        asked[phone] = json.loads(result)
        assert known.firstname not in result
    # A known number and a stranger's get the same answer: it does not even say whether the number is known.
    assert asked[people.known_phone] == asked[people.stranger_phone]
    assert asked[people.known_phone]["status"] == "needs_verification"
    assert asked[people.known_phone]["askFor"] == "first and last name and date of birth"
    only_birthdate = json.loads(
        (await h.tool("get_patient_info", {"birthdate": known.birthdate.isoformat()}, caller=people.known_phone))[
            "result"
        ]
    )
    assert (only_birthdate["status"], only_birthdate["askFor"]) == ("needs_verification", "first and last name")
    verified = json.loads(
        (await h.tool("get_patient_info", people.details(), caller=people.known_phone))["result"]
    )
    assert verified["status"] == "found"
    assert verified["verified"] is True
    assert verified["firstName"] == (known.preferred_name or known.firstname)
    assert isinstance(verified["upcomingAppointments"], list)


async def test_wrong_details_are_told_nothing(connected: Any, people: Any) -> None:
    h = connected
    wrong = {**people.details(), "birthdate": "1901-02-03"}
    result = (await h.tool("get_patient_info", wrong, caller=people.known_phone))["result"]
    assert json.loads(result)["status"] == "not_verified"
    assert people.known.firstname not in result
    booking = await h.tool(
        "book_appointment", {"start": local_iso((await free_slot(h)).start), **wrong}, caller=people.known_phone
    )
    assert booking["result"].startswith("Not booked. The details given do not match a patient record")
    assert h.sandbox.writebacks == []


async def test_the_caller_is_verified_once_per_call(connected: Any, people: Any) -> None:
    """Verified by get_patient_info, the caller books without repeating it; another call starts afresh."""
    h = connected
    await h.tool("get_patient_info", people.details(), caller=people.known_phone)
    again = json.loads((await h.tool("get_patient_info", {}, caller=people.known_phone))["result"])
    assert again["verified"] is True
    slot = await free_slot(h)
    booked = await h.tool("book_appointment", {"start": local_iso(slot.start)}, caller=people.known_phone)
    assert booked["result"].startswith("I've sent the request")
    [queued] = h.sandbox.writebacks
    assert queued.body["patient_id"] == people.known.patient_id
    # Another number in the same call (a forged message) is not the verified caller.
    other = json.loads((await h.tool("get_patient_info", {}, caller=people.stranger_phone))["result"])
    assert other["status"] == "needs_verification"
    h.call_id = "call-0002"
    fresh = json.loads((await h.tool("get_patient_info", {}, caller=people.known_phone))["result"])
    assert fresh["status"] == "needs_verification"


@pytest.mark.parametrize("policy", ["name_and_birthdate", "birthdate"])
async def test_a_household_number_is_told_nothing_until_one_member_is_verified(
    open_harness: Any, people: Any, policy: str
) -> None:
    async with open_harness(verification=policy) as h:
        await h.connect()
        result = await h.tool("get_patient_info", {}, caller=people.household_phone)
        answer = json.loads(result["result"])
        assert answer["status"] == "needs_verification"
        assert answer["askFor"] == (
            "date of birth" if policy == "birthdate" else "first and last name and date of birth"
        )
        for chart in people.household:
            for detail in (chart.firstname, chart.lastname, chart.birthdate.isoformat(), chart.patient_id):
                assert detail not in result["result"]
        member = people.household[1]
        factors = {"birthdate": member.birthdate.isoformat()} if policy == "birthdate" else people.details(member)
        answer = json.loads((await h.tool("get_patient_info", factors, caller=people.household_phone))["result"])
        assert answer["status"] == "found"
        assert answer["firstName"] == (member.preferred_name or member.firstname)


async def test_the_birthdate_policy_still_needs_a_name_from_an_unknown_number(
    open_harness: Any, people: Any
) -> None:
    async with open_harness(verification="birthdate") as h:
        await h.connect()
        dob_only = {"birthdate": people.known.birthdate.isoformat()}
        answer = json.loads((await h.tool("get_patient_info", dob_only, caller=people.stranger_phone))["result"])
        assert answer["status"] == "not_verified"  # and asked for the name: the message says so
        assert "first and last name and date of birth" in answer["message"]
        full = json.loads(
            (await h.tool("get_patient_info", people.details(), caller=people.stranger_phone))["result"]
        )
        assert full["status"] == "found"
        h.call_id = "call-0002"
        by_number = json.loads((await h.tool("get_patient_info", dob_only, caller=people.known_phone))["result"])
        assert by_number["status"] == "found"


async def test_an_unverified_caller_is_not_booked(connected: Any, people: Any) -> None:
    h = connected
    slot = await free_slot(h)
    for phone in (people.household_phone, people.known_phone):
        result = await h.tool("book_appointment", {"start": local_iso(slot.start)}, caller=phone)
        assert result["result"] == (
            "Not booked yet. To book, I need the caller's first and last name and date of birth: ask for it, "
            "then call book_appointment again with it."
        )
    assert h.sandbox.writebacks == []


async def test_an_unknown_caller_is_identified_by_name_and_birthdate(connected: Any, people: Any) -> None:
    h = connected
    found = json.loads(
        (await h.tool("get_patient_info", people.details(), caller=people.stranger_phone))["result"]
    )
    assert found["status"] == "found"
    assert found["verified"] is True


async def test_a_booking_is_answered_at_once_and_confirmed_by_text(connected: Any, people: Any) -> None:
    h = connected
    sandbox: SikkaSandbox = h.sandbox
    slot = await free_slot(h, kind=ProviderKind.HYGIENIST)
    sandbox.faults.utility_online = False  # the practice's machine is off: the write stays queued
    result = await h.tool(
        "book_appointment",
        {"start": local_iso(slot.start), "providerKind": "hygienist", **people.details()},
        caller=people.known_phone,
    )
    text = result["result"]
    assert text.startswith(f"I've sent the request for {slot.start:%A, %B} {slot.start.day} at ")
    assert text.endswith("and will text you the confirmation.")
    [queued] = sandbox.writebacks
    assert queued.state == "pending"  # answered before the PMS applied anything
    assert h.texts() == []
    log = await h.call_log()
    assert (log.booking_status, log.booking_writeback_id) == ("pending", queued.id)

    sandbox.faults.utility_online = True
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation text")
    [sms] = h.texts()
    assert sms["To"] == people.known_phone
    assert sms["From"] == "+15005550006"
    assert sms["Body"].startswith("Maplewood Family Dental: your appointment on ")
    assert "is booked" in sms["Body"]
    assert queued.state == "success"
    log = await h.call_log()
    assert log.booking_status == "written"
    assert log.booked_appointment_id == queued.created_id
    booked = await (await h.pms()).appointments.get(queued.created_id)
    assert booked.start == slot.start
    assert booked.patient_id == people.known.patient_id


async def test_a_failed_booking_texts_the_patient_and_the_staff(connected: Any, people: Any) -> None:
    h = connected
    h.sandbox.faults.fail_next_writebacks(1)
    slot = await free_slot(h)
    result = await h.tool(
        "book_appointment", {"start": local_iso(slot.start), **people.details()}, caller=people.known_phone
    )
    assert "will text you the confirmation" in result["result"]
    await h.eventually(lambda: len(h.texts()) == 2, "two texts")
    patient, staff = h.texts()
    assert patient["To"] == people.known_phone
    assert "we could not book your appointment request" in patient["Body"]
    assert staff["To"] == STAFF_MOBILE
    assert "(failed)" in staff["Body"]
    assert people.known_phone in staff["Body"]
    assert (await h.call_log()).booking_status == "failed"


async def test_a_taken_slot_offers_the_next_open_times(connected: Any, people: Any) -> None:
    h = connected
    day = h.weekday(1)
    pms = await h.pms()
    existing = next(
        a for a in await pms.appointments.list(start=day, end=day, provider_id="DMD1").all() if not a.cancelled
    )
    result = await h.tool(
        "book_appointment",
        {"start": local_iso(existing.start), "providerId": "DMD1", **people.details()},
        caller=people.known_phone,
    )
    text = result["result"]
    assert text.startswith("That time was just taken. Not booked. The next open times are: ")
    assert text.count(" with Dr. Evelyn Hartwell") == 3  # alternatives with the same provider
    assert h.sandbox.writebacks == []


async def test_the_same_slot_twice_is_taken_the_second_time(connected: Any, people: Any) -> None:
    h = connected
    slot = await free_slot(h)
    args = {"start": local_iso(slot.start), "providerId": slot.provider_id}
    h.sandbox.faults.utility_online = False
    first = await h.tool("book_appointment", {**args, **people.details()}, caller=people.known_phone)
    assert first["result"].startswith("I've sent the request")
    other = people.household[0]
    h.call_id = "call-0002"
    second = await h.tool("book_appointment", {**args, **people.details(other)}, caller=people.household_phone)
    assert second["result"].startswith("That time was just taken.")
    assert len(h.sandbox.writebacks) == 1


async def test_a_time_nobody_is_free_is_not_booked(connected: Any, people: Any) -> None:
    h = connected
    day = h.weekday(2)
    result = await h.tool(
        "book_appointment", {"start": f"{day.isoformat()}T03:00", **people.details()}, caller=people.known_phone
    )
    assert result["result"].startswith("That time is not available. Not booked. The next open times are: ")


async def test_a_booking_in_the_past_is_refused(connected: Any, people: Any) -> None:
    result = await connected.tool("book_appointment", {"start": "2021-03-01T09:00"}, caller=people.known_phone)
    assert result["error"] == "that time has passed; ask for a later one"


async def test_transfer_texts_the_staff_and_logs_the_request(connected: Any, people: Any) -> None:
    h = connected
    result = await h.tool(
        "transfer_to_human",
        {"reason": "insurance question", "summary": "asks whether a crown is covered"},
        caller=people.known_phone,
    )
    assert json.loads(result["result"]) == {
        "transfer": True,
        "destination": FRONT_DESK,
        "message": "Connecting you with our front desk now.",
    }
    await h.eventually(lambda: len(h.texts()) == 1, "the staff text")
    [sms] = h.texts()
    assert sms["To"] == STAFF_MOBILE
    assert sms["Body"] == (
        f"Call transfer from {people.known_phone}. Reason: insurance question. "
        "Summary: asks whether a crown is covered."
    )
    log = await h.call_log()
    assert log.transfer_requested is True
    assert h.services.open_for_call(h.call_id, log.sealed_transfer) == {
        "reason": "insurance question",
        "summary": "asks whether a crown is covered",
    }
    assert log.status.value == "in-progress"


async def test_staff_are_texted_once_per_call(connected: Any, people: Any) -> None:
    """A second transfer request overwrote the first and texted the staff again."""
    h = connected
    for reason in ("billing question", "still about billing"):
        result = await h.tool(
            "transfer_to_human", {"reason": reason, "summary": reason}, caller=people.known_phone
        )
        assert json.loads(result["result"])["destination"] == FRONT_DESK
    asked = await h.vapi({"message": {"type": "transfer-destination-request", "call": h.call(people.known_phone)}})
    assert asked.json()["destination"]["number"] == FRONT_DESK
    await h.services.drain()
    [sms] = h.texts()
    assert "Reason: billing question." in sms["Body"]
    log = await h.call_log()
    assert h.services.open_for_call(h.call_id, log.sealed_transfer)["reason"] == "billing question"
    h.call_id = "call-0002"  # another call is another transfer
    await h.tool("transfer_to_human", {"reason": "x"}, caller=people.known_phone)
    await h.services.drain()
    assert len(h.texts()) == 2


async def test_transfer_when_transfers_are_off(connected: Any, people: Any) -> None:
    h = connected
    assert (await h.save_number(transferEnabled=False)).status_code == 200
    result = await h.tool("transfer_to_human", {"reason": "x"}, caller=people.known_phone)
    assert json.loads(result["result"])["transfer"] is False
    assert h.texts() == []
    assert (await h.call_log()).transfer_requested is True


async def test_transfer_destination_request(connected: Any, people: Any) -> None:
    h = connected
    response = await h.vapi(
        {"message": {"type": "transfer-destination-request", "call": h.call(people.known_phone)}}
    )
    assert response.status_code == 200
    assert response.json() == {
        "destination": {
            "type": "number",
            "number": FRONT_DESK,
            "message": "Connecting you with our front desk now.",
        }
    }
    await h.eventually(lambda: len(h.texts()) == 1, "the staff text")
    assert (await h.call_log()).transfer_requested is True
    assert (await h.save_number(transferEnabled=False)).status_code == 200
    response = await h.vapi(
        {"message": {"type": "transfer-destination-request", "call": h.call(people.known_phone)}}
    )
    assert response.json() == {"error": "transfers are not enabled for this number"}


async def test_the_practice_is_found_by_the_dialled_number_too(connected: Any, people: Any) -> None:
    h = connected
    call = h.call(None)
    del call["phoneNumberId"]
    message = {
        "message": {
            "type": "tool-calls",
            "call": call,
            "customer": {"number": people.known_phone},
            "phoneNumber": {"number": "+15550100000"},
            "toolCallList": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_patient_info", "arguments": people.details()},
                }
            ],
        }
    }
    [result] = (await h.vapi(message)).json()["results"]
    assert json.loads(result["result"])["status"] == "found"


async def test_a_number_without_a_practice_gets_an_error_result(connected: Any, people: Any) -> None:
    h = connected
    call = h.call(people.known_phone)
    call["phoneNumberId"] = "someone-elses-number"
    message = {
        "message": {
            "type": "tool-calls",
            "call": call,
            "toolCallList": [
                {"id": "t1", "type": "function", "function": {"name": "check_availability", "arguments": {}}}
            ],
        }
    }
    response = await h.vapi(message)
    assert response.status_code == 200
    assert response.json()["results"][0]["error"].startswith(
        "this call's phone number is not set up with a practice"
    )


@pytest.mark.parametrize(
    ("ended_reason", "status"),
    [("customer-ended-call", "completed"), ("pipeline-error-openai-llm-failed", "failed")],
)
async def test_end_of_call_report_closes_the_call_log(
    connected: Any, people: Any, ended_reason: str, status: str
) -> None:
    h = connected
    await h.tool("get_patient_info", {}, caller=people.known_phone)
    report = {
        "message": {"type": "end-of-call-report", "call": h.call(people.known_phone), "endedReason": ended_reason}
    }
    response = await h.vapi(report)
    assert (response.status_code, response.json()) == (200, {})
    log = await h.call_log()
    assert log.status.value == status
    assert log.ended_reason == ended_reason
    assert log.ended_at is not None


async def test_status_updates_and_other_notices_are_acknowledged(connected: Any, people: Any) -> None:
    h = connected
    call = h.call(people.known_phone)
    started = await h.vapi({"message": {"type": "status-update", "status": "in-progress", "call": call}})
    assert (started.status_code, started.json()) == (200, {})
    assert (await h.call_log()).status.value == "in-progress"
    for kind in ("conversation-update", "hang", "speech-update", "transcript", "user-interrupted", "model-output"):
        response = await h.vapi({"message": {"type": kind, "call": call}})
        assert (response.status_code, response.json()) == (200, {})
    ended = await h.vapi({"message": {"type": "status-update", "status": "ended", "call": call}})
    assert ended.status_code == 200
    assert (await h.call_log()).status.value == "completed"


async def test_assistant_request(connected: Any, people: Any) -> None:
    h = connected
    message = {"message": {"type": "assistant-request", "call": h.call(people.known_phone)}}
    assert (await h.vapi(message)).json() == {"error": "no assistant is configured for this number"}
    assert (await h.save_number(vapiAssistantId="asst_123")).status_code == 200
    assert (await h.vapi(message)).json() == {"assistantId": "asst_123"}


async def test_a_sent_booking_is_reported_as_sent_even_if_the_call_log_fails(
    connected: Any, people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = connected
    database = type(h.services.db)
    record_call = database.record_call

    async def flaky(self: Any, call_id: str, at: Any, changes: Any = None) -> None:
        if changes is not None and changes.booking_status is not None:
            raise RuntimeError("disk full")
        await record_call(self, call_id, at, changes)

    monkeypatch.setattr(database, "record_call", flaky)
    slot = await free_slot(h)
    result = await h.tool(
        "book_appointment", {"start": local_iso(slot.start), **people.details()}, caller=people.known_phone
    )
    assert result["result"].startswith("I've sent the request")
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation text")
    assert "is booked" in h.texts()[0]["Body"]


async def test_availability_leaves_out_a_time_just_requested(connected: Any, people: Any) -> None:
    """A booking in flight (pending at the PMS, so not in its appointment book) is not offered again."""
    h = connected
    slot = await free_slot(h)
    day = slot.start.date().isoformat()
    spoken = f"{slot.start:%A, %B} {slot.start.day} at {slot.start.hour % 12 or 12}:{slot.start.minute:02d}"
    last = (slot.start.date() + timedelta(days=6)).isoformat()
    ask = {"startDate": day, "endDate": last, "providerId": slot.provider_id}
    before = await h.tool("check_availability", ask, caller=people.known_phone)
    assert before["result"].startswith(f"Open times: {spoken} ")
    h.sandbox.faults.utility_online = False  # the write stays pending: the PMS's book does not show it
    booked = await h.tool(
        "book_appointment",
        {"start": local_iso(slot.start), "providerId": slot.provider_id, **people.details()},
        caller=people.known_phone,
    )
    assert booked["result"].startswith("I've sent the request")
    h.call_id = "call-0002"
    after = await h.tool("check_availability", ask, caller=people.household_phone)
    assert after["result"].startswith("Open times: ")
    assert f"{spoken} " not in after["result"]


async def test_a_booking_whose_answer_was_lost_is_not_called_sent(connected: Any, people: Any) -> None:
    """The PMS's answer to the write never came back: the caller must not hear "sent"; the text that
    follows says what the PMS really did."""
    h = connected
    slot = await free_slot(h)
    h.sandbox.faults.write_answer_loss = 1.0
    h.sandbox.faults.write_answer_loss_mode = "error"
    result = await h.tool(
        "book_appointment", {"start": local_iso(slot.start), **people.details()}, caller=people.known_phone
    )
    text = result["result"]
    assert text.startswith("The practice's system did not confirm that it received the request for ")
    assert "Do not tell the caller it is booked" in text
    assert "I've sent" not in text
    assert (await h.call_log()).booking_status == "unconfirmed"
    h.sandbox.faults.reset()
    await h.eventually(lambda: len(h.texts()) == 1, "the text once the write is found in the PMS's log")
    [sms] = h.texts()
    assert "is booked" in sms["Body"]
    assert (await h.call_log()).booking_status == "written"
