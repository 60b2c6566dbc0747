"""``POST /twilio/voice``: Twilio's signature (its documented vector, tampering, blank values, the public URL
behind a proxy) and the TwiML for each way a call is routed."""

from __future__ import annotations

from typing import Any

import pytest
from examples.fastapi_receptionist.twilio_routes import UNAVAILABLE, UNKNOWN_NUMBER, is_valid_signature
from twilio.request_validator import RequestValidator

TWILIO_TOKEN = "twilio-token-3e4d5c6b"
PUBLIC_BASE = "https://receptionist.example.com"
INTERNAL_BASE = "http://10.0.0.5:8000"
LINE = "+15550100000"
FRONT_DESK = "+15550100001"
SIP_URI = "sip:maplewood@sip.vapi.ai"
XML = '<?xml version="1.0" encoding="UTF-8"?>'
TO_AI = f'<Dial action="{PUBLIC_BASE}/twilio/voice/fallback" method="POST"><Sip>{SIP_URI}</Sip></Dial>'

# Twilio's documented example (https://www.twilio.com/docs/usage/security#validating-requests).
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
VECTOR_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_documented_vector_is_accepted() -> None:
    assert RequestValidator("12345").compute_signature(VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    assert is_valid_signature("12345", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("token", "url", "params", "signature"),
    [
        pytest.param("12345", VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1235"}, VECTOR_SIGNATURE, id="param"),
        pytest.param("12345", VECTOR_URL, {**VECTOR_PARAMS, "CallerName": ""}, VECTOR_SIGNATURE, id="blank added"),
        pytest.param("12345", VECTOR_URL.replace("bar=2", "bar=3"), VECTOR_PARAMS, VECTOR_SIGNATURE, id="query"),
        pytest.param("12345", VECTOR_URL.replace("https", "http"), VECTOR_PARAMS, VECTOR_SIGNATURE, id="scheme"),
        pytest.param("54321", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE, id="token"),
        pytest.param("12345", VECTOR_URL, VECTOR_PARAMS, "1" + VECTOR_SIGNATURE[1:], id="signature"),
        pytest.param("12345", VECTOR_URL, VECTOR_PARAMS, "", id="no signature"),
    ],
)
def test_the_vector_tampered_with_is_refused(token: str, url: str, params: dict[str, str], signature: str) -> None:
    assert not is_valid_signature(token, url, params, signature)


def inbound(to: str = LINE, **extra: str) -> dict[str, str]:
    """An inbound-call webhook as Twilio posts it (blank values included, as Twilio sends them)."""
    return {
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + "2" * 32,
        "CallStatus": "ringing",
        "Called": to,
        "Caller": "+13125550123",
        "CallerName": "",
        "Direction": "inbound",
        "From": "+13125550123",
        "To": to,
        **extra,
    }


async def post_voice(
    h: Any,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    signed_params: dict[str, str] | None = None,
    query: str = "",
    route: str = "/twilio/voice",
) -> Any:
    path = route + (f"?{query}" if query else "")
    url = signed_url if signed_url is not None else PUBLIC_BASE + path
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        url, signed_params if signed_params is not None else params
    )
    return await h.client.post(path, data=params, headers={"X-Twilio-Signature": signature})


async def test_a_signed_call_is_routed(connected: Any) -> None:
    response = await post_voice(connected, inbound())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == f"{XML}<Response>{TO_AI}</Response>"


async def test_a_tampered_request_is_403(connected: Any) -> None:
    h = connected
    params = inbound()
    response = await post_voice(h, {**params, "From": "+19995550000"}, signed_params=params)
    assert response.status_code == 403
    assert response.text == "invalid Twilio signature"
    unsigned = await h.client.post("/twilio/voice", data=params)
    assert unsigned.status_code == 403


async def test_blank_values_are_part_of_the_signature(connected: Any) -> None:
    h = connected
    params = inbound()
    assert params["CallerName"] == ""
    without_blank = {k: v for k, v in params.items() if v != ""}
    assert (await post_voice(h, params, signed_params=without_blank)).status_code == 403
    assert (await post_voice(h, params)).status_code == 200


async def test_behind_a_proxy_the_public_url_is_what_counts(connected: Any) -> None:
    h = connected
    assert str(h.client.base_url).startswith(INTERNAL_BASE)  # what the app itself sees
    internal = await post_voice(h, inbound(), signed_url=f"{INTERNAL_BASE}/twilio/voice")
    assert internal.status_code == 403
    public = await post_voice(h, inbound(), signed_url=f"{PUBLIC_BASE}/twilio/voice")
    assert public.status_code == 200
    with_query = await post_voice(h, inbound(), query="practice=maple&x=1")
    assert with_query.status_code == 200
    query_dropped = await post_voice(
        h, inbound(), query="practice=maple", signed_url=f"{PUBLIC_BASE}/twilio/voice"
    )
    assert query_dropped.status_code == 403


async def test_twilio_not_configured_is_503(open_harness: Any) -> None:
    async with open_harness(twilio_auth_token=None) as h:
        response = await h.client.post("/twilio/voice", data=inbound())
        assert response.status_code == 503


ROUTES = [
    pytest.param({}, TO_AI, id="AI on: SIP to Vapi"),
    pytest.param({"integrationMethod": "sip"}, TO_AI, id="sip method"),
    pytest.param({"aiEnabled": False}, f"<Dial><Number>{FRONT_DESK}</Number></Dial>", id="AI off: front desk"),
    pytest.param(
        {"sipUri": None, "integrationMethod": "ported"},
        f"<Dial><Number>{FRONT_DESK}</Number></Dial>",
        id="AI on but no SIP URI: front desk",
    ),
    pytest.param(
        {"aiEnabled": False, "staffForwardNumber": None},
        f"<Say>{UNAVAILABLE}</Say><Hangup />",
        id="nobody to ring",
    ),
    pytest.param(
        {"aiEnabled": False, "originalPhoneNumber": FRONT_DESK},
        f"<Say>{UNAVAILABLE}</Say><Hangup />",
        id="front desk is the forwarded number: no loop",
    ),
    pytest.param(
        {"aiEnabled": False, "staffForwardNumber": LINE, "integrationMethod": "ported"},
        f"<Say>{UNAVAILABLE}</Say><Hangup />",
        id="front desk is this line: no loop",
    ),
]


@pytest.mark.parametrize(("number", "twiml"), ROUTES)
async def test_routing(connected: Any, number: dict[str, Any], twiml: str) -> None:
    h = connected
    assert (await h.save_number(**number)).status_code == 200
    response = await post_voice(h, inbound())
    assert response.status_code == 200
    assert response.text == f"{XML}<Response>{twiml}</Response>"


async def test_an_unknown_number_hears_a_message(connected: Any) -> None:
    response = await post_voice(connected, inbound(to="+18885550000"))
    assert response.text == f"{XML}<Response><Say>{UNKNOWN_NUMBER}</Say><Hangup /></Response>"


async def test_a_forwarded_call_is_found_by_the_practice_number(connected: Any) -> None:
    """A carrier forward arrives on another Twilio number, naming the practice's own in ForwardedFrom."""
    h = connected
    assert (await h.save_number(originalPhoneNumber="+13125550000")).status_code == 200
    response = await post_voice(h, inbound(to="+18885550000", ForwardedFrom="+13125550000"))
    assert response.text == f"{XML}<Response>{TO_AI}</Response>"


async def test_a_body_that_is_not_a_form_is_403_not_500(connected: Any) -> None:
    h = connected
    for content in (b"\xff\xfe\x00", b"%%%", b'{"To": "+15550100000"}'):
        response = await h.client.post(
            "/twilio/voice",
            content=content,
            headers={"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "Content-Type": "text/plain"},
        )
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("status", "twiml"),
    [
        pytest.param("failed", f"<Dial><Number>{FRONT_DESK}</Number></Dial>", id="SIP failed: front desk"),
        pytest.param("busy", f"<Dial><Number>{FRONT_DESK}</Number></Dial>", id="SIP busy: front desk"),
        pytest.param("no-answer", f"<Dial><Number>{FRONT_DESK}</Number></Dial>", id="no answer: front desk"),
        pytest.param("completed", "<Hangup />", id="the AI took the call: hang up"),
    ],
)
async def test_a_failed_sip_leg_falls_back_to_the_front_desk(connected: Any, status: str, twiml: str) -> None:
    h = connected
    params = inbound(DialCallStatus=status, DialCallSid="CA" + "3" * 32)
    response = await post_voice(h, params, route="/twilio/voice/fallback")
    assert response.status_code == 200
    assert response.text == f"{XML}<Response>{twiml}</Response>"
    forged = await post_voice(h, params, route="/twilio/voice/fallback", signed_params={**params, "To": "+1"})
    assert forged.status_code == 403


async def test_the_fallback_never_rings_the_same_line(connected: Any) -> None:
    h = connected
    assert (await h.save_number(staffForwardNumber=LINE, integrationMethod="ported")).status_code == 200
    response = await post_voice(h, inbound(DialCallStatus="failed"), route="/twilio/voice/fallback")
    assert response.text == f"{XML}<Response><Say>{UNAVAILABLE}</Say><Hangup /></Response>"
