"""PHI and secrets never reach a log line: a whole day's work at DEBUG, then a search for canaries."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from examples.fastapi_receptionist.tools import Receptionist

from pms_connect.matching import normalize_phone


async def test_no_phi_or_secret_in_any_log_line(
    harness: Any, people: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness
    await h.connect()  # setup too, with the credentials in the request
    known = people.known
    reason, summary = "CANARY-REASON toothache", "CANARY-SUMMARY lower left molar"

    # Identify, verify, book (and be texted), ask for a human.
    await h.tool("get_patient_info", {}, caller=people.known_phone)
    await h.tool("get_patient_info", {"birthdate": known.birthdate.isoformat()}, caller=people.known_phone)
    await h.tool("get_patient_info", {}, caller=people.household_phone)
    await h.tool("get_patient_info", {**people.details(), "birthdate": "1901-01-01"}, caller=people.known_phone)
    await h.tool("get_patient_info", people.details(), caller=people.stranger_phone)
    await h.tool("get_patient_info", people.details(), caller=people.known_phone)
    availability = await h.tool(
        "check_availability", {"date": h.weekday(2).isoformat()}, caller=people.known_phone
    )
    assert availability["result"].startswith("Open times")
    pms = await h.pms()
    day = h.weekday(2)
    slot = (await pms.appointments.find_slots(start=day, end=day, duration=timedelta(minutes=30)))[0]
    booking = {"start": slot.start.replace(tzinfo=None).isoformat(), "reason": "CANARY-BOOKING-REASON"}
    await h.tool("book_appointment", booking, caller=people.known_phone)
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation")
    await h.tool("transfer_to_human", {"reason": reason, "summary": summary}, caller=people.known_phone)
    await h.eventually(lambda: len(h.texts()) == 2, "the staff text")

    # Failures: Twilio refusing (its message names the number), a tool crashing with PHI in its message.
    h.twilio.routes["messages"].mock(
        return_value=httpx.Response(400, json={"code": 21211, "message": f"{people.known_phone} is not valid"})
    )
    h.call_id = "call-0002"  # a second call: the staff are texted once per call
    await h.tool("transfer_to_human", {"reason": reason}, caller=people.known_phone)
    await h.eventually(lambda: h.twilio.routes["messages"].call_count == 3, "the refused text")

    async def crash(self: Receptionist, call: Any, raw: Any) -> str:
        raise RuntimeError(f"crashed on {call.caller} {known.lastname}")

    monkeypatch.setattr(Receptionist, "check_availability", crash)
    crashed = await h.tool("check_availability", {}, caller=people.known_phone)
    assert crashed["error"] == "internal error in the receptionist server; offer to transfer to the front desk"
    await h.vapi(
        {"message": {"type": "end-of-call-report", "call": h.call(people.known_phone), "endedReason": "x"}}
    )
    await h.services.drain()

    assert any(r.name.startswith("examples.fastapi_receptionist") for r in caplog.records)  # it does log
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    digits = normalize_phone(people.known_phone) or ""
    canaries = {
        "first name": known.firstname,
        "last name": known.lastname,
        "birthdate": known.birthdate.isoformat(),
        "phone": people.known_phone,
        "phone digits": digits,
        "formatted phone": known.cell,
        "household phone": people.household_phone,
        "stranger phone": people.stranger_phone,
        "transfer reason": "CANARY-REASON",
        "transfer summary": "CANARY-SUMMARY",
        "booking reason": "CANARY-BOOKING-REASON",
        "sms body": "your appointment on",
        "sikka app key": h.sandbox.credentials.app_key.get_secret_value(),
        "sikka secret key": h.sandbox.credentials.secret_key.get_secret_value(),
        "admin token": h.settings.admin_token.get_secret_value(),
        "vapi secret": h.settings.vapi_secret.get_secret_value(),
        "twilio token": h.settings.twilio_auth_token.get_secret_value(),
        "vault key": h.settings.vault_keys.get_secret_value().split(":", 1)[1],
    }
    for household_member in people.household:
        canaries[f"household {household_member.patient_id}"] = household_member.lastname
    leaked = {what: value for what, value in canaries.items() if value and value in logged}
    assert leaked == {}
