"""Text messages to staff and patients through Twilio's Messages API (httpx, HTTP Basic auth).

The message body and the recipient are PHI (a patient's number, an appointment time): neither ever reaches
a log line or an exception message; errors carry Twilio's code and status only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["MAX_BODY", "DisabledSms", "SentMessage", "SmsError", "SmsSender", "TwilioSms"]

logger = logging.getLogger("examples.fastapi_receptionist.sms")

MAX_BODY = 1600
"""Twilio refuses a longer body (error 21617)."""

# Twilio error codes worth a sentence in the log (https://www.twilio.com/docs/api/errors).
_KNOWN_CODES = {
    20003: "authentication failed: check the account SID and auth token",
    20429: "too many requests",
    21211: "the 'To' number is not a valid phone number",
    21408: "SMS to this region is not enabled on the account",
    21606: "the 'From' number cannot send SMS to this destination",
    21608: "trial accounts can only text verified numbers",
    21610: "the recipient has opted out (replied STOP)",
    21612: "the 'To' number cannot receive SMS from this sender",
    21614: "the 'To' number is not a mobile number",
    21617: "the body is too long",
}


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class SmsError(Exception):
    """Twilio refused or could not be reached. ``retryable`` when trying again later may succeed."""

    def __init__(
        self, message: str, *, code: int | None = None, status: int | None = None, retryable: bool = False
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable


class SmsSender(Protocol):
    """Sends one text message; the adapter needs nothing more from an SMS provider."""

    async def send(self, to: str, body: str) -> SentMessage: ...

    async def aclose(self) -> None: ...


class _Created(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sid: str
    status: str


class _TwilioError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: int | None = None
    message: str | None = None
    more_info: str | None = None
    status: int | None = None


class TwilioSms:
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with ``To``, ``From`` (or
    ``MessagingServiceSid``) and ``Body``; a 201 answer carries the message's ``sid`` and ``status``."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid")
        self._sender = (
            {"MessagingServiceSid": messaging_service_sid}
            if messaging_service_sid
            else {"From": from_number or ""}
        )
        self._client = httpx.AsyncClient(
            base_url=api_base.rstrip("/"), auth=httpx.BasicAuth(account_sid, auth_token), timeout=timeout
        )
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"

    async def send(self, to: str, body: str) -> SentMessage:
        text = body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"
        try:
            response = await self._client.post(self._path, data={"To": to, **self._sender, "Body": text})
        except httpx.TransportError as exc:
            # A timeout after sending may still deliver: the caller must not resend blindly.
            raise SmsError(f"Twilio could not be reached ({type(exc).__name__})", retryable=False) from None
        if response.status_code == 201:
            try:
                created = _Created.model_validate_json(response.content)
            except ValidationError:
                raise SmsError(
                    "Twilio accepted the message but its answer could not be read", status=201
                ) from None
            return SentMessage(sid=created.sid, status=created.status)
        raise _error_from(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_from(response: httpx.Response) -> SmsError:
    try:
        error = _TwilioError.model_validate_json(response.content)
    except ValidationError:
        error = _TwilioError()
    status = response.status_code
    retryable = status == 429 or status >= 500
    explanation = _KNOWN_CODES.get(error.code or 0, "refused")
    code = f"Twilio error {error.code}" if error.code else "Twilio error"
    return SmsError(f"{code}: {explanation} (HTTP {status})", code=error.code, status=status, retryable=retryable)


class DisabledSms:
    """Used when Twilio is not configured: drops the message and says so in the log (without the body)."""

    def __init__(self) -> None:
        self.dropped = 0

    async def send(self, to: str, body: str) -> SentMessage:
        self.dropped += 1
        logger.warning("SMS is not configured (set the RECEPTIONIST_TWILIO_* settings): a message was dropped")
        return SentMessage(sid="", status="dropped")

    async def aclose(self) -> None:
        return None
