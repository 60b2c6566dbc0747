"""``POST /vapi/webhook``: the one server URL for every Vapi message, and the original per-tool routes.

Tool calls are always answered with HTTP 200 and one result per call, in order. A body that is not a Vapi
message at all gets a 400 that says why; a request without valid credentials a 401. Nothing here logs
arguments, numbers or results: they are PHI.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .db import CallChanges, CallStatus
from .services import Services, ServicesDep
from .tools import CallContext, Receptionist
from .vapi import (
    ToolResult,
    VapiMessage,
    VapiPayloadError,
    is_authentic,
    legacy_function_call,
    one_line,
    parse_message,
    parse_tool_calls,
)

__all__ = ["TOOL_ROUTES", "router"]

logger = logging.getLogger("examples.fastapi_receptionist.vapi")

router = APIRouter(prefix="/vapi", tags=["vapi"])

TOOL_ROUTES = {
    "transfer-to-human": "transfer_to_human",
    "book-appointment": "book_appointment",
    "check-availability": "check_availability",
    "get-patient-info": "get_patient_info",
}
"""The original backend's per-tool URLs and the tool each one runs."""

# Messages Vapi waits an answer for; every other type is a notice, acknowledged with {}.
_ANSWERED = {"tool-calls", "function-call", "transfer-destination-request", "assistant-request"}
# Notices that close the call's log row.
_LOGGED_NOTICES = {"status-update", "end-of-call-report"}


@router.post("/webhook")
async def webhook(request: Request, svc: ServicesDep) -> JSONResponse:
    return await _handle(request, svc, as_tool=None)


@router.post("/tools/{tool}")
async def tool_route(tool: str, request: Request, svc: ServicesDep) -> JSONResponse:
    if tool not in TOOL_ROUTES:
        return JSONResponse({"error": f"no such tool route; use one of {', '.join(TOOL_ROUTES)}"}, status_code=404)
    return await _handle(request, svc, as_tool=TOOL_ROUTES[tool])


async def _handle(request: Request, svc: Services, *, as_tool: str | None) -> JSONResponse:
    body = await request.body()
    if not is_authentic(svc.settings, request.headers, body, now=svc.now().timestamp()):
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    try:
        message = parse_message(body)
    except VapiPayloadError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    try:
        if message.type in _ANSWERED:
            return await _answer(svc, message, as_tool=as_tool)
        if message.type in _LOGGED_NOTICES:
            await _log_notice(svc, message)
        return JSONResponse({})  # a notice: Vapi expects no answer
    except VapiPayloadError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except Exception as exc:  # e.g. the database is down: still an answer Vapi can use, never a 500
        logger.error("%s message failed: %s", message.type, type(exc).__name__)
        return _internal_error(message)


def _internal_error(message: VapiMessage) -> JSONResponse:
    error = "internal error in the receptionist server; offer to transfer to the front desk"
    if message.type == "tool-calls":
        try:
            calls = parse_tool_calls(message)
        except VapiPayloadError:
            calls = []
        return JSONResponse({"results": [ToolResult(c.id, c.name, error=error).as_json() for c in calls]})
    if message.type == "function-call":
        return JSONResponse({"result": error})
    return JSONResponse({"error": error})


async def _answer(svc: Services, message: VapiMessage, *, as_tool: str | None) -> JSONResponse:
    call = await _call_context(svc, message)
    receptionist = Receptionist(svc)
    if message.type == "tool-calls":
        calls = parse_tool_calls(message)
        logger.info("call %s: %d tool call(s)", call.call_id, len(calls))
        results = await asyncio.gather(*(receptionist.run(call, c, as_tool=as_tool) for c in calls))
        return JSONResponse({"results": [r.as_json() for r in results]})
    if message.type == "function-call":
        legacy = legacy_function_call(message)
        # Old assistants name no call id; the answer is a bare {"result": ...}.
        result = await receptionist.run(call, legacy, as_tool=as_tool)
        return JSONResponse(
            {"result": one_line(result.error if result.error is not None else result.result or "")}
        )
    if message.type == "transfer-destination-request":
        return await _transfer_destination(receptionist, call)
    return _assistant(call)


async def _transfer_destination(receptionist: Receptionist, call: CallContext) -> JSONResponse:
    """Vapi's own transferCall tool asks where to: the practice's front desk, or a refusal."""
    if call.number is None:
        return JSONResponse({"error": "this phone number is not set up with a practice"})
    destination = await receptionist.request_transfer(
        call, reason="the assistant transferred the call", summary=""
    )
    if destination is None:
        return JSONResponse({"error": "transfers are not enabled for this number"})
    answer: dict[str, Any] = {
        "destination": {
            "type": "number",
            "number": destination,
            "message": "Connecting you with our front desk now.",
        }
    }
    return JSONResponse(answer)


def _assistant(call: CallContext) -> JSONResponse:
    """``assistant-request``: which Vapi assistant takes calls to this number."""
    if call.number is None or not call.number.vapi_assistant_id:
        return JSONResponse({"error": "no assistant is configured for this number"})
    return JSONResponse({"assistantId": call.number.vapi_assistant_id})


async def _call_context(svc: Services, message: VapiMessage) -> CallContext:
    """The practice, by Vapi's id for the number dialled (or the number itself); the call's log row."""
    number = await svc.db.find_phone_number(
        vapi_phone_number_id=message.call.phone_number_id if message.call else None,
        number=message.dialled_number,
    )
    log = None
    if message.call_id:
        log = await svc.db.record_call(
            message.call_id,
            svc.now(),
            CallChanges(
                account_id=number.account_id if number else None,
                phone_number_id=number.id if number else None,
                provider_call_id=message.call.phone_call_provider_id if message.call else None,
            ),
        )
    return CallContext(call_id=message.call_id, caller=message.caller_number, number=number, log=log)


async def _log_notice(svc: Services, message: VapiMessage) -> None:
    """``status-update`` and ``end-of-call-report`` close the call's log row."""
    await _call_context(svc, message)  # creates the row if this is the first message of the call
    call_id = message.call_id
    if call_id is None:
        return
    ended = message.type == "end-of-call-report" or message.status == "ended"
    if not ended:
        return
    reason = message.ended_reason or ""
    failed = any(word in reason for word in ("error", "failed", "fault"))
    await svc.db.record_call(
        call_id,
        svc.now(),
        CallChanges(
            status=CallStatus.FAILED if failed else CallStatus.COMPLETED,
            ended_reason=reason[:200] or None,
            ended_at=svc.now(),
        ),
    )
