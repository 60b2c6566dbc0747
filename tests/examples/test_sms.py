"""``TwilioSms`` against Twilio's Messages API under respx: the request, the 201 answer, error mapping."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from examples.fastapi_receptionist.sms import MAX_BODY, SmsError, TwilioSms

SID = "AC" + "1" * 32
TOKEN = "twilio-token-3e4d5c6b"
URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
PATIENT = "+15550847474"


@pytest.fixture
async def sms() -> AsyncIterator[TwilioSms]:
    sender = TwilioSms(SID, TOKEN, from_number="+15005550006")
    yield sender
    await sender.aclose()


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


@respx.mock
async def test_a_message_is_posted_with_basic_auth_and_the_201_is_read(sms: TwilioSms) -> None:
    route = respx.post(URL).respond(
        201, json={"sid": "SM" + "a" * 32, "status": "queued", "to": PATIENT, "body": "Hello", "error_code": None}
    )
    sent = await sms.send(PATIENT, "Hello")
    assert (sent.sid, sent.status) == ("SM" + "a" * 32, "queued")
    request = route.calls.last.request
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"To": PATIENT, "From": "+15005550006", "Body": "Hello"}


@respx.mock
async def test_a_messaging_service_replaces_from() -> None:
    route = respx.post(URL).respond(201, json={"sid": "SM1", "status": "accepted"})
    sender = TwilioSms(SID, TOKEN, messaging_service_sid="MG" + "2" * 32)
    try:
        await sender.send(PATIENT, "Hi")
    finally:
        await sender.aclose()
    assert form(route.calls.last.request) == {"To": PATIENT, "MessagingServiceSid": "MG" + "2" * 32, "Body": "Hi"}


def test_a_sender_is_required() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioSms(SID, TOKEN)


@respx.mock
async def test_a_long_body_is_cut_to_twilios_limit(sms: TwilioSms) -> None:
    route = respx.post(URL).respond(201, json={"sid": "SM1", "status": "queued"})
    await sms.send(PATIENT, "x" * 5000)
    body = form(route.calls.last.request)["Body"]
    assert len(body) == MAX_BODY
    assert body.endswith("…")


ERRORS = [
    pytest.param(
        400,
        {"code": 21211, "message": f"The 'To' number {PATIENT} is not a valid phone number.", "status": 400},
        21211,
        False,
        "Twilio error 21211: the 'To' number is not a valid phone number (HTTP 400)",
        id="invalid number",
    ),
    pytest.param(
        400,
        {"code": 21610, "message": f"Attempt to send to unsubscribed recipient {PATIENT}", "status": 400},
        21610,
        False,
        "Twilio error 21610: the recipient has opted out (replied STOP) (HTTP 400)",
        id="opted out",
    ),
    pytest.param(
        401,
        {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003"},
        20003,
        False,
        "Twilio error 20003: authentication failed: check the account SID and auth token (HTTP 401)",
        id="bad credentials",
    ),
    pytest.param(429, {"code": 20429, "message": "Too Many Requests"}, 20429, True, None, id="rate limited"),
    pytest.param(503, None, None, True, "Twilio error: refused (HTTP 503)", id="server error, no JSON"),
    pytest.param(
        400, {"code": 99999, "status": 400}, 99999, False, "Twilio error 99999: refused (HTTP 400)", id="new"
    ),
]


@pytest.mark.parametrize(("status", "body", "code", "retryable", "message"), ERRORS)
@respx.mock
async def test_errors_are_mapped_without_phi(
    sms: TwilioSms,
    status: int,
    body: dict[str, object] | None,
    code: int | None,
    retryable: bool,
    message: str | None,
) -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(status, json=body)
        if body
        else httpx.Response(status, text="<html>down</html>")
    )
    with pytest.raises(SmsError) as caught:
        await sms.send(PATIENT, "Your appointment is on Thursday")
    error = caught.value
    assert (error.code, error.status, error.retryable) == (code, status, retryable)
    if message is not None:
        assert str(error) == message
    assert PATIENT not in str(error)
    assert "Thursday" not in str(error)


@respx.mock
async def test_an_unreachable_twilio_is_an_sms_error(sms: TwilioSms) -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(SmsError, match=r"Twilio could not be reached \(ConnectError\)"):
        await sms.send(PATIENT, "Hi")


@respx.mock
async def test_an_unreadable_201_is_an_sms_error(sms: TwilioSms) -> None:
    respx.post(URL).respond(201, text="not json")
    with pytest.raises(SmsError, match="accepted the message but its answer could not be read"):
        await sms.send(PATIENT, "Hi")


async def test_a_failed_text_does_not_break_the_call(connected: Any, people: Any) -> None:
    """Twilio refusing the staff text still answers the transfer."""
    h = connected
    h.twilio.routes["messages"].mock(
        return_value=httpx.Response(400, json={"code": 21614, "message": "+15550100002 is not a mobile number"})
    )
    result = await h.tool("transfer_to_human", {"reason": "x"}, caller=people.known_phone)
    assert result["result"].startswith('{"transfer":true')
    await h.eventually(lambda: h.twilio.routes["messages"].call_count == 1, "the attempt")
