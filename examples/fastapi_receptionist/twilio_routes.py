"""Twilio's webhooks: route an inbound call, fall back when the AI's SIP leg fails, and answer texts.

* ``POST /twilio/voice``: the AI (SIP), the front desk, or a message. The SIP ``<Dial>`` names an
  ``action``: when that leg fails (busy, no answer, failed), Twilio asks ``/twilio/voice/fallback``, which
  rings the front desk instead;
* ``POST /twilio/sms``: a caller's reply to their booking's confirmation text: ``C`` confirms the
  appointment in the PMS (``appointments.confirm``); anything else asks the staff to call them back. Twilio's
  own keywords (STOP, START, HELP...) are left to Twilio. The outcome goes in the call log.

Twilio signs each webhook over the URL *it* called; behind a proxy or a tunnel the server sees another
one, so the URL is rebuilt from ``settings.public_base_url``. Nothing is read from an unsigned request's
body, and a signed one is bounded (``RequestGuard``). Validation and TwiML come from Twilio's own library
(``RequestValidator``, ``VoiceResponse``, ``MessagingResponse``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from pms_connect import PmsError, WritebackResult, WritebackState

from .db import CallChanges, CallLog, PhoneNumber
from .services import Services, ServicesDep
from .vapi import phone_or_none

__all__ = [
    "FALLBACK_PATH",
    "UNAVAILABLE",
    "UNKNOWN_NUMBER",
    "is_valid_signature",
    "public_url",
    "route_call",
    "router",
]

logger = logging.getLogger("examples.fastapi_receptionist.twilio")

router = APIRouter(prefix="/twilio", tags=["twilio"])

FALLBACK_PATH = "/twilio/voice/fallback"
CONFIRMED = "Thank you! We've let the office know you're coming."
CALL_BACK = "Thanks for your reply. Our team will call you back soon."
NOTHING_TO_CONFIRM = "We could not find a recent booking for this number. Please call the office."
CONFIRM_FAILED = "Thanks! We could not record your reply just now; our team will call you."
TWILIO_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "START", "YES", "UNSTOP", "HELP", "INFO"}
)
"""Twilio's default opt-out, opt-in and help keywords: Twilio answers them itself."""
_ENDED_WELL = {"completed", "answered"}

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


async def _twilio_form(request: Request, svc: Services) -> ImmutableMultiDict[str, str] | Response:
    """Every Twilio route's first step: the signed form, or the answer to give instead (503, 403)."""
    token = svc.settings.twilio_auth_token
    if token is None:
        return PlainTextResponse("Twilio is not configured on this server", status_code=503)
    form = await signed_form(request, token.get_secret_value(), svc.settings.public_base_url)
    if form is None:
        return PlainTextResponse("invalid Twilio signature", status_code=403)
    return form


@router.post("/voice")
async def voice(request: Request, svc: ServicesDep) -> Response:
    form = await _twilio_form(request, svc)
    if isinstance(form, Response):
        return form
    number = await _dialled_line(svc, form)
    fallback = svc.settings.public_base_url.rstrip("/") + FALLBACK_PATH
    return Response(str(route_call(number, fallback_url=fallback)), media_type="text/xml")


@router.post("/voice/fallback")
async def voice_fallback(request: Request, svc: ServicesDep) -> Response:
    """The ``<Dial>`` to the AI ended: hang up after a call that happened, else ring the front desk."""
    form = await _twilio_form(request, svc)
    if isinstance(form, Response):
        return form
    response = VoiceResponse()
    if (form.get("DialCallStatus") or "").lower() in _ENDED_WELL:
        response.hangup()
        return Response(str(response), media_type="text/xml")
    number = await _dialled_line(svc, form)
    front_desk = _front_desk(number) if number is not None else None
    if front_desk is not None:
        response.dial().number(front_desk)
    else:
        response.say(UNAVAILABLE)
        response.hangup()
    return Response(str(response), media_type="text/xml")


@router.post("/sms")
async def sms_reply(request: Request, svc: ServicesDep) -> Response:
    """A text to the practice's line: a reply to a booking's confirmation text (see the module docstring)."""
    form = await _twilio_form(request, svc)
    if isinstance(form, Response):
        return form
    reply = MessagingResponse()
    sender = phone_or_none(form.get("From"))
    word = re.sub(r"[^A-Za-z]", "", form.get("Body") or "").upper()
    number = await _dialled_line(svc, form)
    if number is None or sender is None or word in TWILIO_KEYWORDS:
        return Response(str(reply), media_type="text/xml")
    key = svc.caller_key(sender)
    row = await svc.db.booking_to_confirm(key, number.account_id) if key else None
    if row is None or row.booked_appointment_id is None:
        reply.message(NOTHING_TO_CONFIRM)
        return Response(str(reply), media_type="text/xml")
    if word == "C":
        reply.message(await _confirm(svc, number, row, sender))
    else:
        await _reply_logged(svc, row, "call_back_requested")
        await svc.text(
            number.staff_sms_target,
            f"A patient replied to their booking's confirmation text and asks for a call back: {sender}.",
            purpose="reply",
        )
        reply.message(CALL_BACK)
    return Response(str(reply), media_type="text/xml")


async def _confirm(svc: Services, number: PhoneNumber, row: CallLog, sender: str) -> str:
    """``appointments.confirm`` for the booking; the call log follows it to its end."""
    assert row.booked_appointment_id is not None
    try:
        pms = await svc.connections.get(number.practice)
        handle = await pms.appointments.confirm(row.booked_appointment_id)
    except PmsError as exc:
        logger.warning("call %s: the confirmation could not be sent (%s)", row.call_id, type(exc).__name__)
        await _reply_logged(svc, row, "confirm_failed")
        await svc.text(
            number.staff_sms_target,
            f"A patient replied C to confirm their appointment, but the PMS could not be updated: "
            f"please confirm it by hand and call them at {sender}.",
            purpose="reply",
        )
        return CONFIRM_FAILED
    await _reply_logged(svc, row, "confirm_sent" if handle.acknowledged else "confirm_unconfirmed")

    async def settled(result: WritebackResult) -> None:
        written = result.status is WritebackState.WRITTEN
        await _reply_logged(svc, row, "confirmed" if written else f"confirm_{result.status.value}")
        if not written:
            await svc.text(
                number.staff_sms_target,
                f"A patient replied C to confirm their appointment, but the PMS did not apply it "
                f"({result.status.value}): please confirm it by hand.",
                purpose="reply",
            )

    pms.writebacks.on_complete(handle, settled)
    return CONFIRMED


async def _reply_logged(svc: Services, row: CallLog, status: str) -> None:
    try:
        await svc.db.record_call(row.call_id, svc.now(), CallChanges(reply_status=status))
    except Exception as exc:  # the reply still goes out
        logger.error("call %s: the reply could not be logged (%s)", row.call_id, type(exc).__name__)


async def _dialled_line(svc: Services, form: Mapping[str, str]) -> PhoneNumber | None:
    """The practice's line the webhook is about: ``To``, else a carrier forward's ``ForwardedFrom``."""
    dialled = _text(form, "To")
    number = await svc.db.find_phone_number(number=dialled) if dialled else None
    forwarded_from = _text(form, "ForwardedFrom")
    if number is None and forwarded_from:  # a carrier forward may present the practice's own number here
        number = await svc.db.find_phone_number(number=forwarded_from)
    return number


def _text(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name) or None


def route_call(number: PhoneNumber | None, *, fallback_url: str | None = None) -> VoiceResponse:
    """The TwiML for a call to ``number``: the AI over SIP when it is on, else the front desk, else a message.
    With ``fallback_url``, a SIP leg that fails makes Twilio ask that URL what to do next (the front desk)."""
    response = VoiceResponse()
    if number is None:
        response.say(UNKNOWN_NUMBER)
        response.hangup()
        return response
    if number.ai_enabled and number.sip_uri:
        dial = response.dial(action=fallback_url, method="POST") if fallback_url else response.dial()
        dial.sip(number.sip_uri)
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
