"""``POST /twilio/voice``: route an inbound call to the AI (SIP), to the front desk, or to a message.

Twilio signs each webhook over the URL *it* called; behind a proxy or a tunnel the server sees another
one, so the URL is rebuilt from ``settings.public_base_url``. Validation and TwiML come from Twilio's own
library (``RequestValidator``, ``VoiceResponse``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from .db import PhoneNumber
from .services import ServicesDep

__all__ = ["UNAVAILABLE", "UNKNOWN_NUMBER", "is_valid_signature", "public_url", "route_call", "router"]

router = APIRouter(prefix="/twilio", tags=["twilio"])

UNKNOWN_NUMBER = "Sorry, this number is not in service. Goodbye."
UNAVAILABLE = "Sorry, no one can take your call right now. Please call again later. Goodbye."


def public_url(base_url: str, request: Request) -> str:
    """The URL Twilio requested: the configured public base, then the path and query the app received."""
    query = request.url.query
    return base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def is_valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Twilio's own check: HMAC-SHA1 over the URL and every parameter (blank ones included), sorted."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


MAX_FIELDS = 100
"""Twilio's webhooks carry a few dozen parameters; a form with more is not Twilio's."""


async def signed_form(
    request: Request, auth_token: str, public_base_url: str
) -> ImmutableMultiDict[str, str] | None:
    """The webhook's form when Twilio signed it, else None. Without a signature nothing is read; the body
    is bounded by ``RequestGuard`` and parsed by the stdlib (blank values kept, as signed; at most
    ``MAX_FIELDS`` fields), so no multipart parser is involved."""
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        return None
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:  # more fields than any Twilio webhook has
        return None
    form = ImmutableMultiDict(pairs)
    if not is_valid_signature(auth_token, public_url(public_base_url, request), form, signature):
        return None
    return form


@router.post("/voice")
async def voice(request: Request, svc: ServicesDep) -> Response:
    token = svc.settings.twilio_auth_token
    if token is None:
        return PlainTextResponse("Twilio is not configured on this server", status_code=503)
    form = await signed_form(request, token.get_secret_value(), svc.settings.public_base_url)
    if form is None:
        return PlainTextResponse("invalid Twilio signature", status_code=403)
    dialled = _text(form, "To")
    number = await svc.db.find_phone_number(number=dialled) if dialled else None
    forwarded_from = _text(form, "ForwardedFrom")
    if number is None and forwarded_from:  # a carrier forward may present the practice's own number here
        number = await svc.db.find_phone_number(number=forwarded_from)
    return Response(str(route_call(number)), media_type="text/xml")


def _text(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name) or None


def route_call(number: PhoneNumber | None) -> VoiceResponse:
    """The TwiML for a call to ``number``: the AI over SIP when it is on, else the front desk, else a message."""
    response = VoiceResponse()
    if number is None:
        response.say(UNKNOWN_NUMBER)
        response.hangup()
        return response
    if number.ai_enabled and number.sip_uri:
        response.dial().sip(number.sip_uri)
        return response
    front_desk = _front_desk(number)
    if front_desk is not None:
        response.dial().number(front_desk)
        return response
    response.say(UNAVAILABLE)
    response.hangup()
    return response


def _front_desk(number: PhoneNumber) -> str | None:
    """The staff line, unless dialling it would ring this same line again (a ported number, or a carrier
    that forwards the practice's number here): that would loop until the call fails."""
    staff = number.staff_forward_number
    if not staff or staff in (number.twilio_number, number.original_phone_number):
        return None
    return staff
