"""Reply to confirm: the booking's text invites a reply; ``POST /twilio/sms`` (signed) confirms the
appointment in the PMS on "C", asks the staff to call back on anything else, and logs the outcome."""

from __future__ import annotations

from typing import Any

from twilio.request_validator import RequestValidator

from .test_vapi_tools import free_slot, local_iso

TWILIO_TOKEN = "twilio-token-3e4d5c6b"
PUBLIC_BASE = "https://receptionist.example.com"
LINE = "+15550100000"
STAFF_MOBILE = "+15550100002"
XML = '<?xml version="1.0" encoding="UTF-8"?>'


def inbound_sms(sender: str, body: str, to: str = LINE) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "MessageSid": "SM" + "4" * 32,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "To": to,
    }


async def post_sms(h: Any, params: dict[str, str], *, signed: bool = True) -> Any:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC_BASE}/twilio/sms", params)
    headers = {"X-Twilio-Signature": signature if signed else "forged"}
    return await h.client.post("/twilio/sms", data=params, headers=headers)


async def booked(h: Any, people: Any) -> Any:
    """A booking the PMS wrote, and its confirmation text."""
    slot = await free_slot(h)
    result = await h.tool(
        "book_appointment", {"start": local_iso(slot.start), **people.details()}, caller=people.known_phone
    )
    assert result["result"].startswith("I've sent the request")
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation text")
    log = await h.call_log()
    assert log.booking_status == "written"
    return log


async def test_c_confirms_the_appointment_in_the_pms(connected: Any, people: Any) -> None:
    h = connected
    log = await booked(h, people)
    [sms] = h.texts()
    assert "Reply C to confirm it, or reply with anything else and we will call you." in sms["Body"]
    response = await post_sms(h, inbound_sms(people.known_phone, " c "))
    assert response.status_code == 200
    assert (
        response.text
        == f"{XML}<Response><Message>Thank you! We've let the office know you're coming.</Message></Response>"
    )
    [confirm] = [w for w in h.sandbox.writebacks if w.method == "PATCH"]
    assert confirm.target_id == log.booked_appointment_id
    await h.eventually(lambda: confirm.state == "success", "the confirmation written")
    pms = await h.pms()
    assert (await pms.appointments.get(log.booked_appointment_id)).confirmed is True

    async def reply_status() -> str | None:
        return (await h.call_log()).reply_status

    for _ in range(10_000):
        if await reply_status() == "confirmed":
            break
    assert await reply_status() == "confirmed"
    # Settled: a second reply finds nothing left to confirm.
    again = await post_sms(h, inbound_sms(people.known_phone, "C"))
    assert "could not find a recent booking" in again.text


async def test_anything_else_asks_the_staff_to_call_back(connected: Any, people: Any) -> None:
    h = connected
    await booked(h, people)
    response = await post_sms(h, inbound_sms(people.known_phone, "Can we make it later?"))
    assert "Our team will call you back soon." in response.text
    texts = h.texts()
    assert len(texts) == 2
    assert texts[1]["To"] == STAFF_MOBILE
    assert people.known_phone in texts[1]["Body"]
    assert (await h.call_log()).reply_status == "call_back_requested"
    assert [w for w in h.sandbox.writebacks if w.method == "PATCH"] == []


async def test_twilio_keywords_unsigned_requests_and_strangers_do_nothing(connected: Any, people: Any) -> None:
    h = connected
    await booked(h, people)
    unsigned = await post_sms(h, inbound_sms(people.known_phone, "C"), signed=False)
    assert unsigned.status_code == 403
    stop = await post_sms(h, inbound_sms(people.known_phone, "STOP"))
    assert stop.text == f"{XML}<Response />"
    stranger = await post_sms(h, inbound_sms(people.stranger_phone, "C"))
    assert "could not find a recent booking" in stranger.text
    assert len(h.texts()) == 1
    assert [w for w in h.sandbox.writebacks if w.method == "PATCH"] == []
    assert (await h.call_log()).reply_status is None
