"""The sandbox's test-control endpoint, ``/_sandbox/...``: faults, logs and world state as JSON over HTTP.

For tests that run the sandbox in another process (``pms-connect sandbox``) and cannot reach its Python
face. It is not part of Sikka: it lives outside ``/v4``, its requests are not logged in ``requests`` and
spend no rate budget, and it answers loopback clients only (127.0.0.0/8, ``::1``; httpx's in-process
``ASGITransport`` presents itself as ``127.0.0.1``); anyone else gets 403. Its JSON uses native JSON types
(numbers, booleans, null), unlike Sikka's strings-only wire.

Every view is as of now: writebacks that are due are completed first, as any ``/v4`` request would.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pms_connect.sikka.sandbox.state import ANSWER_LOSS_MODES, RequestRecord, SandboxState
from pms_connect.sikka.sandbox.writebacks import WritebackRecord

__all__ = ["CONTROL_PREFIX", "control_not_found", "control_routes", "faults_view"]

CONTROL_PREFIX = "/_sandbox"

ControlHandler = Callable[[SandboxState, Request], Awaitable[Response]]


class _BadRequest(Exception):
    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _answer(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def _error(status: int, message: str, **extra: Any) -> Response:
    return _answer({"error": message, **extra}, status)


def _is_loopback(request: Request) -> bool:
    client = request.client
    if client is None or not client.host:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _refusal(request: Request) -> Response:
    host = request.client.host if request.client else None
    return _error(403, "the sandbox control endpoint answers loopback clients only", client=host)


def control_not_found(request: Request, exc: Exception) -> Response:
    """404 / 405 under ``/_sandbox`` (JSON, not logged as a Sikka request)."""
    if not _is_loopback(request):
        return _refusal(request)
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = "method not allowed" if status == 405 else "no such control endpoint"
    return _error(status, message, path=request.url.path)


# ------------------------------------------------------------------------------------------------- views
def _iso(when: dt.datetime | dt.date | None) -> str | None:
    return None if when is None else when.isoformat()


def faults_view(state: SandboxState) -> dict[str, Any]:
    """Every switch with its value (the shape of ``GET /_sandbox/faults``)."""
    faults = state.faults
    return {
        "latency_s": faults.latency.total_seconds(),
        "error_rate": faults.error_rate,
        "drop_rate": faults.drop_rate,
        "write_answer_loss": faults.write_answer_loss,
        "write_answer_loss_mode": faults.write_answer_loss_mode,
        "answer_hold_s": faults.answer_hold,
        "log_delay_s": faults.log_delay.total_seconds(),
        "utility_online": faults.utility_online,
        "data_insert_in_progress": faults.data_insert_in_progress,
        "reject_overlaps": state.queue.reject_overlaps,
        "writeback_delay_s": state.queue.delay.total_seconds(),
        "rate_limit_storm": faults.pending_storm,
        "fail_next_writebacks": {"n": len(faults.pending_failures), "reasons": faults.pending_failures},
    }


def _request_view(record: RequestRecord) -> dict[str, Any]:
    return {
        "method": record.method,
        "path": record.path,
        "params": record.params,
        "at": _iso(record.at),
        "status": record.status,
        "fault": record.fault,
        "delivered": record.delivered,
    }


def _writeback_view(record: WritebackRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "method": record.method,
        "office_id": record.office_id,
        "practice_id": record.practice_id,
        "body": record.body,
        "target_id": record.target_id,
        "state": record.state,
        "result": record.result,
        "created_id": record.created_id,
        "deleted": record.deleted,
        "submitted": _iso(record.submitted),
        "due": _iso(record.due),
        "visible_at": _iso(record.visible_at),
        "completed": _iso(record.completed),
    }


# --------------------------------------------------------------------------------------- fault settings
def _number(key: str, value: Any, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _BadRequest(key, f"{key} must be a number")
    if not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f"at least {low:g}"
        raise _BadRequest(key, f"{key} must be {bounds}")
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _BadRequest(key, f"{key} must be true or false")
    return value


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadRequest(key, f"{key} must be a non-negative integer")
    return value


def _mode(key: str, value: Any) -> str:
    if not isinstance(value, str) or value not in ANSWER_LOSS_MODES:
        raise _BadRequest(key, f"{key} must be one of {', '.join(ANSWER_LOSS_MODES)}")
    return value


def _failures(key: str, value: Any) -> tuple[int, str | None]:
    if not isinstance(value, dict):
        raise _BadRequest(key, f'{key} must be an object {{"n": int, "reason": str}}')
    unknown = sorted(set(value) - {"n", "reason"})
    if unknown:
        raise _BadRequest(f"{key}.{unknown[0]}", f"unknown key {key}.{unknown[0]}")
    n = _count(f"{key}.n", value.get("n"))
    reason = value.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _BadRequest(f"{key}.reason", f"{key}.reason must be a string")
    return n, reason


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "latency_s": _number,
    "error_rate": lambda k, v: _number(k, v, high=1.0),
    "drop_rate": lambda k, v: _number(k, v, high=1.0),
    "write_answer_loss": lambda k, v: _number(k, v, high=1.0),
    "write_answer_loss_mode": _mode,
    "answer_hold_s": _number,
    "log_delay_s": _number,
    "utility_online": _flag,
    "data_insert_in_progress": _flag,
    "reject_overlaps": _flag,
    "writeback_delay_s": _number,
    "rate_limit_storm": _count,
    "fail_next_writebacks": _failures,
    "expire_keys": _flag,
}


def _apply(state: SandboxState, settings: dict[str, Any]) -> None:
    faults = state.faults
    for key, value in settings.items():
        if key == "latency_s":
            faults.latency = dt.timedelta(seconds=value)
        elif key == "error_rate":
            faults.error_rate = value
        elif key == "drop_rate":
            faults.drop_rate = value
        elif key == "write_answer_loss":
            faults.write_answer_loss = value
        elif key == "write_answer_loss_mode":
            faults.write_answer_loss_mode = value
        elif key == "answer_hold_s":
            faults.answer_hold = value
        elif key == "log_delay_s":
            faults.log_delay = dt.timedelta(seconds=value)
        elif key == "utility_online":
            faults.utility_online = value
        elif key == "data_insert_in_progress":
            faults.data_insert_in_progress = value
        elif key == "reject_overlaps":
            state.set_reject_overlaps(value)
        elif key == "writeback_delay_s":
            state.queue.delay = dt.timedelta(seconds=value)
        elif key == "rate_limit_storm":
            faults.rate_limit_storm(value)
        elif key == "fail_next_writebacks":
            n, reason = value
            if reason is None:
                faults.fail_next_writebacks(n)
            else:
                faults.fail_next_writebacks(n, reason)
        elif key == "expire_keys" and value:
            faults.expire_keys()


# ---------------------------------------------------------------------------------------------- handlers
async def _health(state: SandboxState, request: Request) -> Response:
    return _answer({"status": "ok"})


async def _get_faults(state: SandboxState, request: Request) -> Response:
    return _answer(faults_view(state))


async def _post_faults(state: SandboxState, request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise _BadRequest(None, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _BadRequest(None, "the body must be a JSON object")
    settings: dict[str, Any] = {}
    for key, value in body.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise _BadRequest(key, f"unknown key {key}")
        settings[key] = parser(key, value)
    _apply(state, settings)  # all or nothing: every key was checked first
    return _answer(faults_view(state))


async def _reset(state: SandboxState, request: Request) -> Response:
    state.faults.reset()
    return _answer(faults_view(state))


async def _get_requests(state: SandboxState, request: Request) -> Response:
    return _answer([_request_view(r) for r in state.requests])


async def _clear_requests(state: SandboxState, request: Request) -> Response:
    cleared = len(state.requests)
    state.requests.clear()
    return _answer({"cleared": cleared})


async def _get_writebacks(state: SandboxState, request: Request) -> Response:
    state.queue.process()
    return _answer([_writeback_view(r) for r in state.queue.records.values()])


async def _run_writebacks(state: SandboxState, request: Request) -> Response:
    return _answer({"completed": [r.id for r in state.queue.process()]})


async def _appointments(state: SandboxState, request: Request) -> Response:
    state.queue.process()
    return _answer(
        [
            {
                "appointment_sr_no": a.appointment_sr_no,
                "practice_id": a.practice_id,
                "patient_id": a.patient_id,
                "provider_id": a.provider_id,
                "operatory": a.operatory,
                "start": a.start.isoformat(),
                "length": a.length,
                "status": a.status,
                "note": a.note,
                "description": a.description,
            }
            for a in state.world.appointments.values()
        ]
    )


async def _transactions(state: SandboxState, request: Request) -> Response:
    state.queue.process()
    return _answer(
        [
            {
                "transaction_sr_no": t.transaction_sr_no,
                "practice_id": t.practice_id,
                "patient_id": t.patient_id,
                "amount": str(t.amount),
                "transaction_date": t.transaction_date.isoformat(),
                "note": t.note,
            }
            for t in state.world.transactions.values()
        ]
    )


def _since(state: SandboxState, raw: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest("since", "since must be an ISO date-time") from None
    return when.replace(tzinfo=state.zone) if when.tzinfo is None else when


async def _patients(state: SandboxState, request: Request) -> Response:
    state.queue.process()
    everyone = request.query_params.get("all", "").strip().lower() in ("1", "true", "yes")
    raw_since = request.query_params.get("since", "").strip()
    since = _since(state, raw_since) if raw_since else None
    if everyone:
        patients = list(state.world.patients.values())
    else:
        created = [
            r.created_id
            for r in state.queue.records.values()
            if r.kind == "new_patient"
            and r.state == "success"
            and r.completed is not None
            and (since is None or r.completed >= since)
        ]
        patients = [state.world.patients[p] for p in created if p in state.world.patients]
    return _answer(
        [
            {
                "patient_id": p.patient_id,
                "practice_id": p.practice_id,
                "firstname": p.firstname,
                "lastname": p.lastname,
                "birthdate": _iso(p.birthdate),
                "cell": p.cell,
                "email": p.email,
            }
            for p in patients
        ]
    )


def _route(state: SandboxState, path: str, methods: list[str], handler: ControlHandler) -> Route:
    async def run(request: Request) -> Response:
        if not _is_loopback(request):
            return _refusal(request)
        try:
            return await handler(state, request)
        except _BadRequest as bad:
            return _error(400, bad.message, key=bad.key)

    return Route(CONTROL_PREFIX + path, run, methods=methods, name=f"sandbox control {path}")


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """The ``/_sandbox/...`` routes, bound to ``state``."""
    table: list[tuple[str, list[str], ControlHandler]] = [
        ("/health", ["GET"], _health),
        ("/faults", ["GET"], _get_faults),
        ("/faults", ["POST"], _post_faults),
        ("/reset", ["POST"], _reset),
        ("/requests", ["GET"], _get_requests),
        ("/requests", ["DELETE"], _clear_requests),
        ("/writebacks", ["GET"], _get_writebacks),
        ("/run_writebacks", ["POST"], _run_writebacks),
        ("/appointments", ["GET"], _appointments),
        ("/transactions", ["GET"], _transactions),
        ("/patients", ["GET"], _patients),
    ]
    return [_route(state, path, methods, handler) for path, methods, handler in table]
