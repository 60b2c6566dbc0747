"""The fake Open Dental API as a Starlette app: routes under ``/api/v1``, and what happens around each one.

Every route runs the same pipeline, in this order: log the request; add ``faults.latency``; draw an injected
500/504 (``faults.error_rate``); authenticate ``Authorization: ODFHIR {dev}/{cust}`` (401); in remote mode,
throttle the customer key (429, 400 or a wait: ``throttle_answer``); check the key's permission for the method
(401 "Invalid Permissions"); require ``Content-Type: application/json`` (400, ``require_content_type``); in
remote mode, refuse while the eConnector is down (400, ``faults.econnector_down``); parse a write's body; take a
refusal queued by ``faults.refuse_next_writes``; run the handler; and for a successful write, draw whether its
answer is lost (``faults.write_answer_loss``). An unknown resource or method is a 404 with an explanation.

``AnswerLoss``, the app's outermost middleware, loses the answers the pipeline marked when the app is served
over HTTP (in process the transport raises instead). The test-control endpoint (``/_sandbox/...``, loopback
clients only) is mounted beside the API; see ``control``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pms_connect.opendental.sandbox.control import control_missing, control_routes, is_control
from pms_connect.opendental.sandbox.keys import ApiKeyEntry
from pms_connect.opendental.sandbox.reads import READ_ROUTES
from pms_connect.opendental.sandbox.state import Call, LoggedRequest, ServerState
from pms_connect.opendental.sandbox.wire import JsonBody, OdRefusal, QueryArgs, error_answer
from pms_connect.opendental.sandbox.writes import WRITE_ROUTES

__all__ = ["API_PREFIX", "CARRIED", "AnswerLoss", "make_app"]

API_PREFIX = "/api/v1"

#: Set by the in-process transport: the log entries of the request it carries, so it can raise a lost answer.
CARRIED: ContextVar[list[LoggedRequest] | None] = ContextVar("opendental_sandbox_carried", default=None)

_FATE = "pms_connect.opendental.sandbox.fate"


@dataclass(frozen=True)
class _Endpoint:
    method: str
    permission: str
    handler: Callable[[Call], Response]

    @property
    def write(self) -> bool:
        return self.method != "GET"


class AnswerLoss:
    """ASGI middleware for the served app: loses the answers of writes the pipeline marked as lost.

    ``"answer_dropped"``: the status line and headers go out, the body never does, and the app returns with the
    answer unfinished, so the server breaks the connection. ``"answer_timeout"``: the answer is held back
    ``answer_hold`` seconds of real time. In process (``CARRIED`` set) it passes everything through: the
    transport raises instead, without waiting.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or CARRIED.get() is not None:
            await self.app(scope, receive, send)
            return
        fate: dict[str, Any] = {"fault": None, "hold": 0.0}
        head: Message | None = None

        async def wrapped(message: Message) -> None:
            nonlocal head
            if fate["fault"] == "answer_dropped":
                if message["type"] == "http.response.start":
                    head = message
                elif not message.get("more_body", False) and head is not None:
                    await send(head)  # the headers (with the real Content-Length), then nothing
                    head = None
                return
            if fate["fault"] == "answer_timeout" and message["type"] == "http.response.start":
                await asyncio.sleep(float(fate["hold"]))
            await send(message)

        await self.app({**scope, _FATE: fate}, receive, wrapped)


def _log(state: ServerState, request: Request) -> LoggedRequest:
    record = LoggedRequest(
        method=request.method,
        path=request.url.path,
        params=dict(request.query_params),
        at=state.clock.now(),
    )
    state.requests.append(record)
    carried = CARRIED.get()
    if carried is not None:
        carried.append(record)
    return record


def _resource(path: str) -> str:
    return path.removeprefix(API_PREFIX) or "/"


async def _throttle(state: ServerState, call_key: ApiKeyEntry, record: LoggedRequest) -> None:
    now = state.clock.monotonic()
    wait = state.throttle.wait(call_key, now)
    if wait > 0:
        record.throttled = True
        if state.throttle_answer == "delay":
            await state.clock.sleep(wait)
            now = state.clock.monotonic()
        else:
            interval = call_key.interval
            unit = "second" if interval == 1 else "seconds"
            raise OdRefusal(
                429 if state.throttle_answer == "429" else 400,
                "Too many requests: requests with this customer key are throttled to one per "
                f"{interval:g} {unit}.",
            )
    state.throttle.admit(call_key, now)


async def _serve(state: ServerState, endpoint: _Endpoint, request: Request, record: LoggedRequest) -> Response:
    faults = state.faults
    if faults.latency.total_seconds() > 0:
        await state.clock.sleep(faults.latency.total_seconds())
    injected = faults.draw_error()
    if injected is not None:
        record.fault = "error"
        text = (
            "Internal Server Error."
            if injected == 500
            else "Gateway Time-out: the request did not complete in 60 seconds."
        )
        raise OdRefusal(injected, text)
    key = state.keys.authenticate(request.headers.get("authorization"))
    record.key = key.name
    if state.mode == "remote" and state.throttling:
        await _throttle(state, key, record)
    if endpoint.permission not in key.permissions:
        raise OdRefusal(
            401,
            f"Invalid Permissions: this API key does not have the {endpoint.permission} permission needed for "
            f"{endpoint.method} {_resource(request.url.path)}.",
        )
    content_type = request.headers.get("content-type", "")
    if state.require_content_type and not content_type.lower().startswith("application/json"):
        raise OdRefusal(
            400, 'Invalid Content-Type: all API requests require a Content-Type of "application/json".'
        )
    if state.mode == "remote" and faults.econnector_down:
        record.fault = "econnector"
        raise OdRefusal(400, "The dental office's eConnector is not running. It must be running to use the API.")
    body = JsonBody(await request.body()) if endpoint.write else JsonBody(b"")
    if endpoint.write:
        record.body = body.as_dict()
        refusal = faults.take_refusal()
        if refusal is not None:
            record.fault = "refused"
            raise OdRefusal(*refusal)
    call = Call(
        state=state,
        key=key,
        query=QueryArgs(list(request.query_params.multi_items())),
        body=body,
        path={k: str(v) for k, v in request.path_params.items()},
        base=f"{request.url.scheme}://{request.url.netloc}{API_PREFIX}",
    )
    return endpoint.handler(call)


def _lose_answer(state: ServerState, request: Request, record: LoggedRequest, answer: Response) -> Response:
    """The write is applied; draw whether its answer reaches the client (``write_answer_loss``)."""
    lost = state.faults.draw_answer_loss()
    if lost is None:
        return answer
    record.fault = lost
    if lost == "answer_error":
        return error_answer(
            OdRefusal(504, "Gateway Time-out: the request did not complete in 60 seconds."), state.error_body
        )
    fate = request.scope.get(_FATE)
    if isinstance(fate, dict):
        fate["fault"] = lost
        fate["hold"] = state.faults.answer_hold
    return answer


def _route(state: ServerState, path: str, endpoint: _Endpoint) -> Route:
    async def run(request: Request) -> Response:
        record = _log(state, request)
        try:
            response = await _serve(state, endpoint, request, record)
        except OdRefusal as refusal:
            response = error_answer(refusal, state.error_body)
        if endpoint.write and record.fault is None and 200 <= response.status_code < 300:
            response = _lose_answer(state, request, record, response)
        record.status = response.status_code
        return response

    return Route(API_PREFIX + path, run, methods=[endpoint.method], name=f"{endpoint.method} {path}")


def make_app(state: ServerState) -> Starlette:
    """The Starlette app over ``state``: the API under ``/api/v1`` and the control endpoint."""
    routes: list[BaseRoute] = [
        _route(state, path, _Endpoint("GET", "ReadAll", handler)) for path, handler in READ_ROUTES
    ]
    routes += [
        _route(state, path, _Endpoint(method, area, handler)) for method, path, area, handler in WRITE_ROUTES
    ]
    routes += control_routes(state)

    async def missing(request: Request, exc: Exception) -> Response:
        if is_control(request.url.path):
            return control_missing(request, exc)
        record = _log(state, request)
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        text = "The specified API resource does not exist."
        if status == 405:
            text = f"The specified API resource does not support {request.method}."
        response = error_answer(OdRefusal(404, text), state.error_body)
        record.status = response.status_code
        return response

    return Starlette(
        routes=routes, middleware=[Middleware(AnswerLoss)], exception_handlers={404: missing, 405: missing}
    )
