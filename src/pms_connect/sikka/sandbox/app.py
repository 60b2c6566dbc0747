"""The fake Sikka ONE v4 as a Starlette app: routes, authentication, rate limit, injected faults, headers.

Every route goes through ``_serve``, which does what Sikka does around an endpoint, in order: log the
request, add latency, run due writebacks, inject 429/5xx faults, authenticate (request key or app pair),
check the key's scope and the practice, spend from the per-minute budget, call the handler, then stamp
``Request-Key-Expires``, ``X-Rate-Limit-*`` and ``Data-Insert`` on whatever the answer is. A queued write
may then lose its answer (``write_answer_loss``): ``LostAnswers``, the app's outermost middleware,
breaks the connection or holds the answer back when served (in process the transport raises instead).

The test-control endpoint (``/_sandbox/...``, loopback clients only) is mounted on the same app; see
``pms_connect.sikka.sandbox.control``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pms_connect.sikka.sandbox.auth import RequestKey
from pms_connect.sikka.sandbox.control import CONTROL_PREFIX, control_not_found, control_routes
from pms_connect.sikka.sandbox.data import Office, PmsSupport, PracticeRecord
from pms_connect.sikka.sandbox.query import eq, listing
from pms_connect.sikka.sandbox.reads import READS
from pms_connect.sikka.sandbox.state import Ctx, RequestRecord, SandboxState
from pms_connect.sikka.sandbox.wire import (
    SikkaError,
    error_body,
    error_response,
    fmt_datetime,
    http_date,
    json_response,
)
from pms_connect.sikka.sandbox.writes import APP_WRITEBACK_ROUTES, WRITES, writeback_status

__all__ = ["CURRENT_RECORD", "LostAnswers", "build_app"]

Handler = Callable[[Ctx], Awaitable[Response]]

#: Set by the in-process transport so it can find the log entry of the request it is carrying.
CURRENT_RECORD: ContextVar[list[RequestRecord] | None] = ContextVar("sandbox_current_record", default=None)

_DATA_INSERT_APIS = frozenset({"transactions", "patients", "appointments"})


#: ASGI scope key under which ``LostAnswers`` hands each request an ``_AnswerFate``
_FATE = "pms_connect.sandbox.answer_fate"


@dataclass(frozen=True)
class _Endpoint:
    auth: str  # "key", "app", "none", "key_any" (expired keys allowed)
    scope: str
    handler: Handler
    write: bool = False  # a writeback request, subject to ``write_answer_loss``


@dataclass
class _AnswerFate:
    """Set by the route when a queued write's answer is to be lost on the way out (served mode)."""

    fault: str | None = None  # "answer_dropped" or "answer_timeout"
    hold: float = 0.0


class LostAnswers:
    """ASGI middleware, the app's outermost: loses the answers the routes marked (``write_answer_loss``).

    ``"answer_dropped"``: the status line and headers (with ``Content-Length``) go out, the body never does,
    and the app returns with the answer unfinished, so the server closes the connection: the client sees a
    broken connection (``httpx.RemoteProtocolError``), not a status. ``"answer_timeout"``: the answer is held
    back ``hold`` seconds of real time (given up early if the client goes away) before it is sent.

    In process (``SandboxTransport`` sets ``CURRENT_RECORD``) it passes everything through: the transport
    raises instead, without waiting. (A bare ``httpx.ASGITransport(app=sandbox.app)`` gets the served
    behaviour, which ASGI in process cannot show faithfully: use ``sandbox.transport``.) It sits outside the
    gzip middleware, which holds back the headers until the body comes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or CURRENT_RECORD.get() is not None:
            await self.app(scope, receive, send)
            return
        fate = _AnswerFate()
        start: Message | None = None
        body: list[bytes] = []
        gone = False

        async def wrapped(message: Message) -> None:
            nonlocal start, gone
            if gone:
                return
            if fate.fault == "answer_dropped":
                if message["type"] == "http.response.start":
                    start = message
                    return
                body.append(message.get("body", b""))
                if message.get("more_body", False) or start is None:
                    return
                # The real status line and headers, with the length of a body that never comes.
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(sum(len(b) for b in body)).encode()))
                await send({**start, "headers": headers})
                gone = True
                return
            held = fate.fault == "answer_timeout" and message["type"] == "http.response.start"
            if held and await _client_left_within(receive, fate.hold):
                gone = True
                return
            await send(message)

        await self.app({**scope, _FATE: fate}, receive, wrapped)


async def _client_left_within(receive: Receive, seconds: float) -> bool:
    """Wait up to ``seconds`` (real time); True as soon as the client disconnects."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


def _log(state: SandboxState, request: Request) -> RequestRecord:
    record = RequestRecord(
        method=request.method,
        path=request.url.path,
        params=dict(request.query_params),
        at=state.clock.now(),
    )
    state.requests.append(record)
    slot = CURRENT_RECORD.get()
    if slot is not None:
        slot.append(record)
    return record


def _request_key(ctx: Ctx) -> str:
    return ctx.headers.get("request-key", "").strip() or ctx.params.get("request_key", "").strip()


def _key_auth(ctx: Ctx, *, allow_expired: bool) -> RequestKey:
    raw = _request_key(ctx)
    if not raw:
        raise SikkaError("API1004")
    key = ctx.state.keys.lookup(raw)
    if key is None:
        raise SikkaError("API1004", "Requestkey is missing/invalid", more="Please provide correct requestkey")
    ctx.key = key
    ctx.response_headers["Request-Key-Expires"] = http_date(key.end)
    if key.state(ctx.state.clock.now()) != "active" and not allow_expired:
        raise SikkaError("API1025")
    ctx.app = ctx.world.apps.get(key.app_id)
    ctx.office = ctx.world.offices.get(key.office_id)
    return key


def _app_auth(ctx: Ctx) -> None:
    app_id = ctx.headers.get("app-id", "").strip()
    app_key = ctx.headers.get("app-key", "").strip()
    if not app_id:
        raise SikkaError("API1001")
    if not app_key:
        raise SikkaError("API1002")
    app = ctx.world.apps.get(app_id)
    if app is None or app.app_key != app_key:
        raise SikkaError("API2003")
    ctx.app = app


def _budget(ctx: Ctx) -> str | None:
    if ctx.key is not None:
        return f"{ctx.key.app_id}:{ctx.key.office_id}"
    if ctx.app is not None:
        return ctx.app.app_id
    return None


def _guess_budget(ctx: Ctx) -> str | None:
    """The budget a request would spend from, without validating anything (for injected 429s)."""
    key = ctx.state.keys.lookup(_request_key(ctx))
    if key is not None:
        return f"{key.app_id}:{key.office_id}"
    return ctx.headers.get("app-id", "").strip() or None


async def _serve(state: SandboxState, endpoint: _Endpoint, ctx: Ctx) -> Response:
    faults = state.faults
    if faults.latency > dt.timedelta(0):
        await state.clock.sleep(faults.latency.total_seconds())
    state.queue.process()
    if faults.take_storm():
        budget = _guess_budget(ctx)
        verdict = state.limiter.peek(budget) if budget else None
        ctx.response_headers.update(
            {"X-Rate-Limit-Limit": str(state.limiter.limit), "X-Rate-Limit-Remaining": "0"}
            | {"X-Rate-Limit-Reset": str(verdict.reset if verdict else 60)}
        )
        raise _Injected("rate_limit_storm", SikkaError("API2012", "Requests per practice per minute exceeded"))
    status = faults.draw_error()
    if status is not None:
        raise _Injected("error", SikkaError("API2001" if status == 500 else "API2002"))
    if endpoint.auth in ("key", "key_any"):
        key = _key_auth(ctx, allow_expired=endpoint.auth == "key_any")
        if endpoint.scope and endpoint.scope not in key.scope:
            raise SikkaError("API2004")
        if ctx.office is None or key.app_id not in ctx.office.authorized_app_ids:
            raise SikkaError("API2007")
        practice = ctx.params.get("practice_id", "").strip()
        if practice and practice not in ctx.office_practices():
            raise SikkaError("API2007")
    elif endpoint.auth == "app":
        _app_auth(ctx)
    budget = _budget(ctx)
    if budget is not None:
        verdict = state.limiter.hit(budget)
        ctx.rate = verdict
        if state.faults.rate_limit_headers:
            ctx.response_headers.update(verdict.headers())
        if not verdict.allowed:
            raise SikkaError(
                "API2012",
                f"More than {verdict.limit} requests in {state.limiter.window:g} seconds.",
                more=f"Retry after X-Rate-Limit-Reset ({verdict.reset}) seconds.",
            )
    if ctx.key is not None:
        ctx.key.request_count += 1
    cap = state.page_cap
    raw_limit = ctx.params.get("limit", "").strip()
    if cap is not None and raw_limit.isdigit() and int(raw_limit) > cap:
        ctx.params = {**ctx.params, "limit": str(cap)}  # the licence's cap: the answer says the limit in force
    return await endpoint.handler(ctx)


def _maybe_lose_answer(state: SandboxState, request: Request, record: RequestRecord, answer: Response) -> Response:
    """The write is queued; draw whether its answer reaches the client (``write_answer_loss``)."""
    lost = state.faults.draw_answer_loss()
    if lost is None:
        return answer
    record.fault = lost
    if lost == "answer_error":
        return error_response(SikkaError("API2001"))
    fate = request.scope.get(_FATE)
    if isinstance(fate, _AnswerFate):
        fate.fault = lost
        fate.hold = state.faults.answer_hold
    return answer


class _Injected(Exception):
    def __init__(self, fault: str, error: SikkaError) -> None:
        super().__init__(fault)
        self.fault = fault
        self.error = error


def _route(state: SandboxState, path: str, method: str, endpoint: _Endpoint) -> Route:
    api = path.removeprefix("/v4/").split("/")[0]

    async def run(request: Request) -> Response:
        record = _log(state, request)
        ctx = Ctx(
            state=state,
            method=request.method,
            params={k.lower(): v for k, v in request.query_params.items()},
            headers=request.headers,
            body=await request.body(),
            path_params={k: str(v) for k, v in request.path_params.items()},
        )
        try:
            response = await _serve(state, endpoint, ctx)
        except _Injected as injected:
            record.fault = injected.fault
            response = error_response(injected.error)
        except SikkaError as error:
            response = error_response(error)
        response.headers.update(ctx.response_headers)
        if endpoint.write and record.fault is None and 200 <= response.status_code < 300:
            response = _maybe_lose_answer(state, request, record, response)
            response.headers.update(ctx.response_headers)
        if api in _DATA_INSERT_APIS and response.status_code < 400:
            response.headers["Data-Insert"] = (
                "in progress" if state.faults.data_insert_in_progress else "completed"
            )
        record.status = response.status_code
        return response

    return Route(path, run, methods=[method], name=f"{method} {path}")


# ----------------------------------------------------------------------------------------------- auth routes
def _token_answer(ctx: Ctx, key: RequestKey, *, with_refresh: bool) -> dict[str, str]:
    now = ctx.state.clock.now()
    state = key.state(now)
    remaining = max(0, int((key.end - now).total_seconds())) if state == "active" else 0
    answer = {
        "href": f"{ctx.base}/request_key_info?request_key={key.key}",
        "request_key": key.key,
        "start_time": fmt_datetime(key.start.astimezone(dt.timezone.utc)),
        "end_time": fmt_datetime(key.end.astimezone(dt.timezone.utc)),
        "expires_in": f"{remaining} second(s)",
        "issued_to": key.office_id,
        "status": state,
        "request_count": str(key.request_count),
        "scope": ",".join(key.scope),
        "domain": "Dental",
    }
    if with_refresh:
        answer["refresh_key"] = key.refresh_key
    return answer


async def post_request_key(ctx: Ctx) -> Response:
    try:
        body = json.loads(ctx.body or b"null")
    except ValueError:
        raise SikkaError("API1026", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise SikkaError("API1026", "The request body must be a JSON object.")
    fields = {str(k).lower(): str(v).strip() for k, v in body.items() if v is not None}
    grant = fields.get("grant_type", "")
    if not grant:
        raise SikkaError("API1020", "grant_type is missing.")
    if grant not in ("request_key", "refresh_key"):
        raise SikkaError("API1026", 'grant_type must be either "request_key" or "refresh_key".')
    if not fields.get("app_id"):
        raise SikkaError("API1001")
    if not fields.get("app_key"):
        raise SikkaError("API1002")
    app = ctx.world.apps.get(fields["app_id"])
    if app is None or app.app_key != fields["app_key"]:
        raise SikkaError("API2003")
    ctx.app = app
    verdict = ctx.state.limiter.hit(app.app_id)
    ctx.response_headers.update(verdict.headers())
    if not verdict.allowed:
        raise SikkaError("API2012", f"More than {verdict.limit} requests in {ctx.state.limiter.window:g} seconds.")
    if grant == "request_key":
        if not fields.get("office_id"):
            raise SikkaError("API1020", "office_id is missing.")
        if not fields.get("secret_key"):
            raise SikkaError("API1005")
        office = ctx.world.offices.get(fields["office_id"])
        if office is None or office.secret_key != fields["secret_key"]:
            raise SikkaError("API2003", "Office id or secret key is incorrect.")
        if app.app_id not in office.authorized_app_ids:
            raise SikkaError("API2007")
        key = ctx.state.keys.grant(app.app_id, office.office_id, app.scope)
        if key.request_count == 0:
            key.request_count = 1
    else:
        if not fields.get("refresh_key"):
            raise SikkaError("API1020", "refresh_key is missing.")
        refreshed = ctx.state.keys.refresh(app.app_id, fields["refresh_key"], app.scope)
        if refreshed is None:
            raise SikkaError("API2003", "Refresh key is incorrect, deleted or already used.")
        key = refreshed
        key.request_count = 1
    ctx.response_headers["Request-Key-Expires"] = http_date(key.end)
    return json_response(_token_answer(ctx, key, with_refresh=True))


async def request_key_info(ctx: Ctx) -> Response:
    assert ctx.key is not None
    return json_response(_token_answer(ctx, ctx.key, with_refresh=False))


_SESSION_ENDED = {
    "http_code": "200",
    "http_code_desc": "OK",
    "error_code": "API0002",
    "short_message": "OK",
    "long_message": "Request Session terminated successfully.",
    "more_information": "",
}


async def delete_request_key(ctx: Ctx) -> Response:
    assert ctx.key is not None
    ctx.state.keys.revoke(ctx.key)
    ctx.response_headers["Request-Key-Expires"] = http_date(ctx.key.end)
    return json_response(_SESSION_ENDED)


async def delete_refresh_key(ctx: Ctx) -> Response:
    assert ctx.app is not None
    refresh = ctx.headers.get("refresh-key", "").strip() or ctx.params.get("refresh_key", "").strip()
    if not refresh:
        raise SikkaError("API1020", "Refresh-Key header is missing.")
    if not ctx.state.keys.delete_refresh(ctx.app.app_id, refresh):
        raise SikkaError("API2003", "Refresh key is incorrect or already deleted.")
    return json_response(_SESSION_ENDED)


# ------------------------------------------------------------------------------------------ app-level reads
async def authorized_practices(ctx: Ctx) -> Response:
    assert ctx.app is not None
    show_all = ctx.params.get("show", "").strip().lower() == "all"
    now_local = ctx.state.local_now()
    synced = fmt_datetime(now_local - dt.timedelta(minutes=17))
    rows: list[tuple[Office, PracticeRecord]] = []
    for office in sorted(ctx.world.offices.values(), key=lambda o: o.office_id):
        if ctx.app.app_id not in office.authorized_app_ids:
            continue
        for practice in ctx.world.practices_of_office(office.office_id):
            if not show_all and practice.practice_id != "1":
                continue
            rows.append((office, practice))
    wanted = {k: ctx.params.get(k, "") for k in ("practice_id", "practice_name", "practice_management_system")}
    rows = [
        (o, p)
        for o, p in rows
        if (not wanted["practice_id"] or eq(p.practice_id, wanted["practice_id"]))
        and (not wanted["practice_name"] or eq(p.name, wanted["practice_name"]))
        and (not wanted["practice_management_system"] or eq(p.pms_name, wanted["practice_management_system"]))
    ]

    def render(row: tuple[Office, PracticeRecord]) -> dict[str, str]:
        office, practice = row
        return {
            "href": f"{ctx.base}/authorized_practices/{office.office_id}",
            "city": practice.city,
            "state": practice.state,
            "practice_id": practice.practice_id,
            "address": practice.address_line1,
            "zip": practice.zipcode,
            "office_id": office.office_id,
            "domain": "Dental",
            "secret_key": office.secret_key,
            "practice_name": practice.name,
            "practice_management_system": practice.pms_name,
            "financial_system": "",
            "practice_management_system_refresh_date": synced,
            "data_synchronization_date": synced,
            "data_insert_date": synced,
            "practice_management_system_version": practice.pms_version,
            "practice_management_system_refresh_date_time_zone": ctx.state.zone.key,
            "partner_id": "",
            "financial_system_refresh_date": "",
            "financial_system_version": "",
            "difference_in_minutes": "17",
        }

    return listing(ctx.params, base_url=ctx.base, api="authorized_practices", records=rows, render=render)


async def supported_pmses(ctx: Ctx) -> Response:
    flags = (
        "appointment_status_writeback",
        "payment_writeback",
        "new_appointment_writeback",
        "new_patient_writeback",
        "note_writeback",
        "claim_notes_status_writeback",
        "insurance_payment_writeback",
        "lab_result_writeback",
    )

    def render(row: PmsSupport) -> dict[str, str]:
        item = {
            "specialty": "",
            "domain": "Dental",
            "practice_management_system": row.practice_management_system,
            "practice_management_system_version": row.practice_management_system_version,
            "display_practice_management_system_name": row.practice_management_system,
        }
        for flag in flags:
            item[flag] = "available" if getattr(row, flag, False) else ""
        return item

    name = ctx.params.get("practice_management_system", "")
    rows = [
        r
        for r in ctx.world.supported_pmses
        if (not name or eq(r.practice_management_system, name))
        and all(
            render(r)[flag] == "available"
            for flag in flags
            if ctx.params.get(flag, "").strip().lower() == "available"
        )
    ]
    return listing(ctx.params, base_url=ctx.base, api="supported_pmses", records=rows, render=render)


async def data_sync_status(ctx: Ctx) -> Response:
    assert ctx.app is not None
    app_id = ctx.app.app_id
    rows = [
        (o.office_id, p)
        for o in ctx.world.offices.values()
        if app_id in o.authorized_app_ids
        for p in ctx.world.practices_of_office(o.office_id)
        if not ctx.params.get("office_id") or ctx.params["office_id"].strip() == o.office_id
    ]
    status = "refresh" if ctx.state.utility.online else "not_refresh"
    synced = fmt_datetime(ctx.state.local_now() - dt.timedelta(minutes=17))

    def render(row: tuple[str, PracticeRecord]) -> dict[str, str]:
        office_id, practice = row
        return {
            "status": status,
            "practice_id": practice.practice_id,
            "office_id": office_id,
            "domain": "Dental",
            "practice_name": practice.name,
            "practice_management_system": practice.pms_name,
            "data_insert_date": synced,
            "practice_management_system_version": practice.pms_version,
            "practice_management_system_refresh_date_time_zone": ctx.state.zone.key,
        }

    return listing(ctx.params, base_url=ctx.base, api="data_sync_status", records=rows, render=render)


# --------------------------------------------------------------------------------------------------- the app
def build_app(state: SandboxState) -> Starlette:
    table: list[tuple[str, str, _Endpoint]] = [
        ("POST", "/v4/request_key", _Endpoint("none", "", post_request_key)),
        ("GET", "/v4/request_key_info", _Endpoint("key_any", "", request_key_info)),
        ("DELETE", "/v4/request_key", _Endpoint("key_any", "", delete_request_key)),
        ("DELETE", "/v4/refresh_key", _Endpoint("app", "", delete_refresh_key)),
        ("GET", "/v4/authorized_practices", _Endpoint("app", "", authorized_practices)),
        ("GET", "/v4/supported_pmses", _Endpoint("app", "", supported_pmses)),
        ("GET", "/v4/data_sync_status", _Endpoint("app", "", data_sync_status)),
        ("GET", "/v4/writeback_status", _Endpoint("key", "writeback_status", writeback_status)),
    ]
    table += [("GET", f"/v4/{name}", _Endpoint("key", name, handler)) for name, handler in READS.items()]
    table += [(m, p, _Endpoint("key", scope, h, write=True)) for (m, p), (scope, h) in WRITES.items()]
    table += [(m, p, _Endpoint("app", "", h)) for (m, p), h in APP_WRITEBACK_ROUTES.items()]
    routes: list[BaseRoute] = [_route(state, path, method, endpoint) for method, path, endpoint in table]
    routes += control_routes(state)

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path == CONTROL_PREFIX or request.url.path.startswith(CONTROL_PREFIX + "/"):
            return control_not_found(request, exc)
        record = _log(state, request)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "API2009", 405: "API2014"}.get(status, "API2001")
        response = json_response(error_body(code), int(error_body(code)["http_code"]))
        record.status = response.status_code
        return response

    # Sikka gzips when asked (httpx asks by default); level 1 keeps big pages cheap to produce.
    middleware = [Middleware(LostAnswers), Middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: not_found})
