"""The test-control endpoint, ``/_sandbox/...``: faults, switches and the request log as JSON over HTTP.

For tests and demos that run the sandbox in another process (``serve``) and cannot reach its Python face. It is
not part of Open Dental's API: it lives outside ``/api/v1``, needs no key, is neither logged nor throttled, and
answers loopback clients only (127.0.0.0/8, ``::1``; httpx's in-process transport presents itself as
127.0.0.1); anyone else gets 403. Its JSON uses native JSON types.

* ``GET /_sandbox/health``: ``{"status": "ok"}``.
* ``GET /_sandbox/faults``: every fault and switch with its value; ``POST`` the same keys to change them (all or
  nothing: one bad key or value changes nothing and answers 400), plus ``refuse_next_writes`` (a count).
* ``POST /_sandbox/reset``: every fault off again (the switches keep their values).
* ``GET /_sandbox/requests``: the request log; ``DELETE`` clears it.
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

from pms_connect.opendental.sandbox.state import (
    DUPLICATE_POLICIES,
    ERROR_BODIES,
    LOSS_MODES,
    THROTTLE_ANSWERS,
    LoggedRequest,
    ServerState,
)

__all__ = ["CONTROL_PATH", "control_missing", "control_routes", "is_control", "settings_view"]

CONTROL_PATH = "/_sandbox"


class _Invalid(Exception):
    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def is_control(path: str) -> bool:
    return path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/")


def _loopback(request: Request) -> bool:
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


def _error(status: int, message: str, **extra: Any) -> Response:
    return JSONResponse({"error": message, **extra}, status_code=status)


def control_missing(request: Request, exc: Exception) -> Response:
    """404/405 under ``/_sandbox`` (JSON, not logged as an API request)."""
    if not _loopback(request):
        return _error(403, "the sandbox control endpoint answers loopback clients only")
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return _error(
        status, "method not allowed" if status == 405 else "no such control endpoint", path=request.url.path
    )


def settings_view(state: ServerState) -> dict[str, Any]:
    """Every fault and switch with its value (the shape of ``GET /_sandbox/faults``)."""
    faults = state.faults
    return {
        "latency_s": faults.latency.total_seconds(),
        "error_rate": faults.error_rate,
        "drop_rate": faults.drop_rate,
        "econnector_down": faults.econnector_down,
        "write_answer_loss": faults.write_answer_loss,
        "write_answer_loss_mode": faults.write_answer_loss_mode,
        "answer_hold_s": faults.answer_hold,
        "refuse_next_writes": len(faults.pending_refusals),
        "mode": state.mode,
        "throttle": state.throttling,
        "throttle_answer": state.throttle_answer,
        "reject_overlaps": state.reject_overlaps,
        "duplicate_patients": state.duplicate_patients,
        "error_body": state.error_body,
        "require_content_type": state.require_content_type,
        "broken_appointment_procedures": state.broken_appointment_procedures,
    }


def _number(key: str, value: Any, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(key, f"{key} must be a number")
    if not 0 <= value <= high:
        raise _Invalid(
            key, f"{key} must be between 0 and {high:g}" if math.isfinite(high) else f"{key} must be >= 0"
        )
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(key, f"{key} must be true or false")
    return value


def _one_of(options: Any) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Invalid(key, f"{key} must be one of {', '.join(options)}")
        return value

    return parse


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(key, f"{key} must be a non-negative integer")
    return value


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "latency_s": _number,
    "error_rate": lambda k, v: _number(k, v, 1.0),
    "drop_rate": lambda k, v: _number(k, v, 1.0),
    "econnector_down": _flag,
    "write_answer_loss": lambda k, v: _number(k, v, 1.0),
    "write_answer_loss_mode": _one_of(tuple(LOSS_MODES)),
    "answer_hold_s": _number,
    "refuse_next_writes": _count,
    "throttle": _flag,
    "throttle_answer": _one_of(THROTTLE_ANSWERS),
    "reject_overlaps": _flag,
    "duplicate_patients": _one_of(DUPLICATE_POLICIES),
    "error_body": _one_of(ERROR_BODIES),
    "require_content_type": _flag,
    "broken_appointment_procedures": _flag,
}


def _apply(state: ServerState, settings: dict[str, Any]) -> None:
    faults = state.faults
    simple = {
        "error_rate": "error_rate",
        "drop_rate": "drop_rate",
        "econnector_down": "econnector_down",
        "write_answer_loss": "write_answer_loss",
        "write_answer_loss_mode": "write_answer_loss_mode",
        "answer_hold_s": "answer_hold",
    }
    switches = {
        "throttle": "throttling",
        "throttle_answer": "throttle_answer",
        "reject_overlaps": "reject_overlaps",
        "duplicate_patients": "duplicate_patients",
        "error_body": "error_body",
        "require_content_type": "require_content_type",
        "broken_appointment_procedures": "broken_appointment_procedures",
    }
    for key, value in settings.items():
        if key == "latency_s":
            faults.latency = dt.timedelta(seconds=value)
        elif key == "refuse_next_writes":
            faults.refuse_next_writes(value)
        elif key in simple:
            setattr(faults, simple[key], value)
        else:
            setattr(state, switches[key], value)


def _request_view(record: LoggedRequest) -> dict[str, Any]:
    return {
        "method": record.method,
        "path": record.path,
        "params": record.params,
        "at": record.at.isoformat(),
        "key": record.key,
        "status": record.status,
        "fault": record.fault,
        "throttled": record.throttled,
        "delivered": record.delivered,
    }


async def _health(state: ServerState, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _get_faults(state: ServerState, request: Request) -> Response:
    return JSONResponse(settings_view(state))


async def _post_faults(state: ServerState, request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise _Invalid(None, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _Invalid(None, "the body must be a JSON object")
    settings: dict[str, Any] = {}
    for key, value in body.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise _Invalid(key, f"unknown key {key}")
        settings[key] = parser(key, value)
    _apply(state, settings)
    return JSONResponse(settings_view(state))


async def _reset(state: ServerState, request: Request) -> Response:
    state.faults.reset()
    return JSONResponse(settings_view(state))


async def _get_requests(state: ServerState, request: Request) -> Response:
    return JSONResponse([_request_view(r) for r in state.requests])


async def _clear_requests(state: ServerState, request: Request) -> Response:
    cleared = len(state.requests)
    state.requests.clear()
    return JSONResponse({"cleared": cleared})


def control_routes(state: ServerState) -> list[BaseRoute]:
    """The ``/_sandbox/...`` routes, bound to ``state``."""
    table: list[tuple[str, str, Callable[[ServerState, Request], Awaitable[Response]]]] = [
        ("/health", "GET", _health),
        ("/faults", "GET", _get_faults),
        ("/faults", "POST", _post_faults),
        ("/reset", "POST", _reset),
        ("/requests", "GET", _get_requests),
        ("/requests", "DELETE", _clear_requests),
    ]

    def route(path: str, method: str, handler: Callable[[ServerState, Request], Awaitable[Response]]) -> Route:
        async def run(request: Request) -> Response:
            if not _loopback(request):
                return _error(403, "the sandbox control endpoint answers loopback clients only")
            try:
                return await handler(state, request)
            except _Invalid as bad:
                return _error(400, bad.message, key=bad.key)

        return Route(CONTROL_PATH + path, run, methods=[method], name=f"sandbox control {method} {path}")

    return [route(path, method, handler) for path, method, handler in table]
