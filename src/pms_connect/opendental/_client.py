"""Talking to Open Dental: the servers (modes and the waterfall), auth, pacing, errors, JSON and pages.

Resources know only paths, parameters and row types; everything about the wire lives here, on the shared
[HttpPipeline][pms_connect.http.HttpPipeline] (retries of reads, writes never re-sent once they may have left,
PHI-safe logging).

* Every request carries ``Authorization: ODFHIR {developer key}/{customer key}`` and
  ``Content-Type: application/json`` (Open Dental requires it on every request).
* Pacing ahead of time, since Open Dental documents no 429 and no rate-limit headers: the remote API allows a
  customer key one request per 5 seconds when the developer key has only Read All, one per second with any
  other permission, two per second with Enterprise; the API Service and the Local API are not throttled. The
  budget lives in the store's ``budget``, keyed on the customer key's digest, so every worker of a
  deployment shares it. A grant counts from its request's answer, plus 0.2 s for clocks that differ.
* Pages: ``Limit`` and ``Offset``; at most 100 rows a request remote, 1000 on the API Service or Local API
  (1000 and 10,000 with Enterprise). The ``Limit`` sent is clamped to the cap of the server that gets the
  request, and a page is full when it holds that many: so a list stays whole when the waterfall changes
  servers between two pages.
* The waterfall: the API Service is probed once, at the first request (one cheap read, 3 s at most); when
  it answers, it serves every request, otherwise the remote API does, and the service is probed again
  every 5 minutes. A request the service fails to take (the connection could not be opened) goes to the
  remote API instead, and so does a read whose answer was lost; a write whose answer was lost is never
  sent again, to either server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from pms_connect import models
from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import InvalidArgumentError, PmsConnectionError, PmsError, PmsStatusError
from pms_connect.http import USER_AGENT, HttpPipeline, RateLimitHeaders, RetryPolicy
from pms_connect.opendental._errors import classifier, template_path
from pms_connect.opendental.credentials import OpenDentalCredentials
from pms_connect.opendental.options import BASE_URLS, MODES, REMOTE_URL, SERVICE_URL, OpenDentalMode
from pms_connect.pagination import AsyncPager, Page
from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.stores import RateBudget
from pms_connect.validation import check_count, check_seconds, describe_validation_error

__all__ = [
    "DEFAULT_TIMEOUT",
    "OPEN_DENTAL_RATE_LIMIT_HEADERS",
    "OpenDentalClient",
    "WatermarkPager",
    "largest_page",
    "pacing_period",
    "page_cap",
    "parse_row",
    "read_json",
    "read_rows",
]

logger = logging.getLogger("pms_connect.opendental")

Row = TypeVar("Row", bound=BaseModel)
T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(70.0, connect=10.0)
"""Open Dental ends a call that runs past 60 s with a 504; reads wait a little longer than that."""
OPEN_DENTAL_RATE_LIMIT_HEADERS = RateLimitHeaders(limit=None, remaining=None, reset=None)
"""Open Dental states no rate limit in its answers (only a 429's ``Retry-After`` would be honoured)."""
PACING_MARGIN = 0.2
PROBE_TIMEOUT = httpx.Timeout(3.0)
WATERFALL_RECHECK = timedelta(minutes=5)

_CAPS = {"remote": 100, "service": 1000, "local": 1000}
_ENTERPRISE_CAPS = {"remote": 1000, "service": 10_000, "local": 10_000}


def page_cap(route: str, permissions: frozenset[str] | None) -> int:
    """The most rows Open Dental returns a request on ``route`` (remote, service or local)."""
    caps = _ENTERPRISE_CAPS if permissions and "Enterprise" in permissions else _CAPS
    return caps[route]


def largest_page(mode: OpenDentalMode, permissions: frozenset[str] | None) -> int:
    """The largest ``Limit`` a server of ``mode`` accepts (the waterfall's service takes the most)."""
    return page_cap("remote" if mode == "remote" else "local", permissions)


def pacing_period(permissions: frozenset[str] | None) -> float:
    """Seconds between two requests of one customer key at the remote API: 5 with Read All only, 0.5 with
    Enterprise, else 1 (also when the permissions are not declared: a key that writes)."""
    if permissions is None:
        return 1.0
    if "Enterprise" in permissions:
        return 0.5
    return 5.0 if permissions <= {"ReadAll"} else 1.0


class _Unpaced(RateLimiter):
    """The API Service and the Local API: no throttle, so no budget to spend."""

    async def acquire(self, key: str, priority: Priority = Priority.INTERACTIVE) -> str:
        return ""

    async def answered(self, key: str, grant_id: str, priority: Priority = Priority.INTERACTIVE) -> None:
        return None

    async def observe(
        self, key: str, *, remaining: int | None, reset_seconds: float | None, limit: int | None = None
    ) -> None:
        return None


@dataclass(frozen=True)
class _Route:
    name: str
    """``remote``, ``service`` or ``local``."""
    base_url: str
    pipeline: HttpPipeline
    page_cap: int


# -- answers --------------------------------------------------------------------------------------------------


def read_json(response: httpx.Response, summary: str) -> Any:
    """The answer's JSON, or a [PmsStatusError][pms_connect.errors.PmsStatusError] when it is not JSON (a
    proxy's page, a bare ``OK``)."""
    try:
        return response.json()
    except ValueError:
        raise PmsStatusError(
            "Open Dental's answer was not JSON", request=summary, status_code=response.status_code
        ) from None


@functools.cache
def _list_of(row_type: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(list[row_type])  # type: ignore[valid-type]


def _unreadable(exc: ValidationError, what: str, summary: str, *types: Any) -> PmsStatusError:
    # pydantic's own message quotes the offending value (PHI): name the fields and error types only.
    return PmsStatusError(
        f"Open Dental sent {what} this SDK cannot read ({describe_validation_error(exc, *types)})", request=summary
    )


def parse_row(row_type: type[Row], data: Any, summary: str) -> Row:
    """One JSON object (a single GET, or a POST's or PUT's answer) as ``row_type``."""
    try:
        return row_type.model_validate(data)
    except ValidationError as exc:
        raise _unreadable(exc, "an answer", summary, row_type) from None


def read_rows(response: httpx.Response, row_type: type[Row], summary: str) -> list[Row]:
    """A list answer's rows (an object alone, as one example shows, is a list of one)."""
    data = read_json(response, summary)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise PmsStatusError("Open Dental sent a list answer that is not a list", request=summary)
    try:
        rows: list[Row] = _list_of(row_type).validate_python(data)
    except ValidationError as exc:
        raise _unreadable(exc, "a row", summary, list[row_type]) from None  # type: ignore[valid-type]
    return rows


_DOMAIN_MODELS = tuple(
    value
    for value in vars(models).values()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == models.__name__
)


class WatermarkPager(AsyncPager[T]):
    """A pager of records changed since a time (Open Dental's ``DateTStamp``). Once iterated, ``watermark``
    is where the next sync starts: the server's clock (``serverDateTime``) at the first page, less a second,
    since Open Dental returns rows changed *after* the time given and a clock reads whole seconds. A row may
    so come twice across syncs, never be missed. None until a page has been read, or when no row came."""

    def __init__(self, fetch: Callable[[int], Awaitable[Page[T]]], *, concurrency: int = 1) -> None:
        super().__init__(fetch, concurrency=concurrency)
        self.watermark: datetime | None = None
        """Pass it as ``changed_since`` next time (aware, in the practice's zone)."""

    def _saw(self, server_time: datetime | None) -> None:
        if server_time is None:
            return
        mark = server_time - timedelta(seconds=1)
        if self.watermark is None or mark < self.watermark:
            self.watermark = mark


def _limit_sent(response: httpx.Response, default: int) -> int:
    """The ``Limit`` the request carried (the server's cap when the waterfall moved it): a page this full
    may have more after it."""
    try:
        return max(1, int(response.request.url.params.get("Limit", str(default))))
    except ValueError:
        return default


# -- the client -----------------------------------------------------------------------------------------------


def _base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url) if isinstance(base_url, str) else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InvalidArgumentError("base_url must be an http:// or https:// URL")
    return base_url.rstrip("/")


def _timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(check_seconds(timeout, "timeout"))


def _shared_limiter(
    rate_limit: int | RateLimit | RateLimiter | None, *, clock: Clock, budget: RateBudget | None
) -> RateLimiter | None:
    """The limiter ``rate_limit`` stands for (requests per minute, a RateLimit, or a RateLimiter shared as it
    is), used for every server; None: the default pacing of each server."""
    if rate_limit is None:
        return None
    if isinstance(rate_limit, RateLimiter):
        return rate_limit
    if isinstance(rate_limit, RateLimit):
        return RateLimiter(rate_limit, clock=clock, budget=budget)
    if isinstance(rate_limit, int) and not isinstance(rate_limit, bool):
        return RateLimiter(
            RateLimit(requests=check_count(rate_limit, "rate_limit", minimum=1)), clock=clock, budget=budget
        )
    raise InvalidArgumentError("rate_limit must be requests per minute, a RateLimit or a RateLimiter")


class OpenDentalClient:
    """Authenticated requests for one customer key, through the servers of its mode.

    The HTTP client is ``http_client`` (yours: its own timeouts apply, and it is not closed here), or one
    made with ``transport`` and ``timeout`` (seconds, or an ``httpx.Timeout``; by default 70 s to read, 10 s
    to connect). Settings that could not both apply raise
    [InvalidArgumentError][pms_connect.errors.InvalidArgumentError] rather than one being ignored.
    """

    def __init__(
        self,
        credentials: OpenDentalCredentials,
        *,
        mode: OpenDentalMode = "remote",
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: int | RateLimit | RateLimiter | None = None,
        permissions: frozenset[str] | None = None,
        budget: RateBudget | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(credentials, OpenDentalCredentials):
            raise InvalidArgumentError("credentials must be OpenDentalCredentials")
        if mode not in MODES:
            raise InvalidArgumentError(f"mode must be one of {', '.join(MODES)}")
        if http_client is not None and transport is not None:
            raise InvalidArgumentError("pass http_client or transport, not both")
        if http_client is not None and timeout is not None:
            raise InvalidArgumentError("timeout does not apply to an http_client you pass: set it on that client")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidArgumentError("http_client must be an httpx.AsyncClient")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidArgumentError("retry must be a RetryPolicy")
        urls = (
            {"service": _base_url(base_url or SERVICE_URL), "remote": REMOTE_URL}
            if mode == "waterfall"
            else {mode: _base_url(base_url or BASE_URLS[mode])}
        )
        http_timeout = _timeout(timeout) if http_client is None else None
        self.credentials = credentials
        self.mode: OpenDentalMode = mode
        self.permissions = permissions
        self.clock = clock or SystemClock()
        self.budget_key = f"opendental:{credentials.key_digest}"
        """The rate budget's key: Open Dental throttles per customer key, whatever the clinic."""
        self.pacing = pacing_period(permissions)
        """Seconds between two requests at the remote API, from the declared permissions."""
        self.refused_permissions: set[str] = set()
        """Permission groups a 401 showed the developer key lacks (for ``get_features``)."""
        shared = _shared_limiter(rate_limit, clock=self.clock, budget=budget)
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=http_timeout)
        self._owns_http = http_client is None
        self._headers = {
            "Authorization": credentials.authorization,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        remote_pacing = RateLimit(
            requests=1, per_seconds=self.pacing, background_share=1.0, margin_seconds=PACING_MARGIN
        )

        def route(name: str, url: str) -> _Route:
            if shared is not None:
                limiter = shared
            elif name == "remote":
                limiter = RateLimiter(remote_pacing, clock=self.clock, budget=budget)
            else:
                limiter = _Unpaced(clock=self.clock)
            base = url
            period = self.pacing if name == "remote" else 1.0
            pipeline = HttpPipeline(
                client=self._http,
                owns_client=False,
                limiter=limiter,
                classify=classifier(
                    base_path=httpx.URL(base).path,
                    throttle_seconds=lambda: period,
                    refused=self.refused_permissions,
                ),
                rate_limit_headers=OPEN_DENTAL_RATE_LIMIT_HEADERS,
                retry=retry,
                clock=self.clock,
                rng=rng,
                path_template=lambda path: "/" + template_path(path),  # record numbers never reach a log
            )
            return _Route(name=name, base_url=base, pipeline=pipeline, page_cap=page_cap(name, permissions))

        if mode == "waterfall":
            self._service: _Route | None = route("service", urls["service"])
            self._remote = route("remote", urls["remote"])
            self._active: _Route | None = None
        else:
            self._service = None
            self._remote = route(mode, urls[mode])
            self._active = self._remote
        self._probe_due = 0.0
        self._probe_lock = asyncio.Lock()
        self._summaries: dict[tuple[str, str], str] = {}

    # -- the servers --------------------------------------------------------------------------------------

    @property
    def routes(self) -> tuple[str, ...]:
        """The servers of the mode, in the order tried."""
        return tuple(r.name for r in (self._service, self._remote) if r is not None)

    @property
    def active_route(self) -> str | None:
        """The server requests go to now (None: the waterfall has not probed yet)."""
        return self._active.name if self._active is not None else None

    @property
    def pipelines(self) -> tuple[HttpPipeline, ...]:
        """Each server's request pipeline (their ``retries`` counters, for tests and metrics)."""
        return tuple(r.pipeline for r in (self._service, self._remote) if r is not None)

    @property
    def max_page_size(self) -> int:
        """The largest ``Limit`` any server of the mode accepts."""
        return max(r.page_cap for r in (self._service, self._remote) if r is not None)

    async def _route(self) -> _Route:
        active = self._active
        if self._service is None or (
            active is not None and (active is self._service or self.clock.monotonic() < self._probe_due)
        ):
            assert active is not None
            return active
        async with self._probe_lock:  # one probe for every request arriving meanwhile
            if self._active is None or (
                self._active is self._remote and self.clock.monotonic() >= self._probe_due
            ):
                if await self._probe(self._service):
                    self._active = self._service
                else:
                    self._fall_back()
            assert self._active is not None
            return self._active

    async def _probe(self, service: _Route) -> bool:
        """Whether the API Service answers at all (any HTTP answer, even an error, says it runs)."""
        request = self._http.build_request(
            "GET",
            f"{service.base_url}/preferences",
            params={"PrefName": "PracticeTitle"},
            headers=self._headers,
            timeout=PROBE_TIMEOUT,
        )
        try:
            response = await self._http.send(request)
            await response.aclose()
        except httpx.TransportError as exc:
            logger.info(
                "the Open Dental API Service did not answer (%s): using the remote API", type(exc).__name__
            )
            return False
        logger.info("the Open Dental API Service answered: using it")
        return True

    def _fall_back(self) -> None:
        self._active = self._remote
        self._probe_due = self.clock.monotonic() + WATERFALL_RECHECK.total_seconds()

    # -- requests -----------------------------------------------------------------------------------------

    def summary(self, method: str, path: str) -> str:
        """``"POST /appointments"``, ``"PUT /appointments/{id}/Break"``: method and path from the API root,
        ids replaced (a PatNum is a chart number), never the query. Every error's ``request`` takes it."""
        key = (method, path)
        summary = self._summaries.get(key)
        if summary is None:
            summary = self._summaries[key] = f"{method.upper()} /{template_path(path)}"
        return summary

    def _build(
        self,
        route: _Route,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
        page_size: int | None,
    ) -> httpx.Request:
        query = dict(params or {})
        if page_size is not None:
            query["Limit"] = str(min(page_size, route.page_cap))
        return self._http.build_request(
            method,
            f"{route.base_url}/{path.lstrip('/')}",
            params=query,
            json=dict(json_body) if json_body is not None else None,
            headers=self._headers,
        )

    async def _send(
        self,
        route: _Route,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
        idempotent: bool,
        priority: Priority,
        page_size: int | None,
        summary: str,
    ) -> httpx.Response:
        request = self._build(route, method, path, params, json_body, page_size)
        try:
            return await route.pipeline.send(
                request, budget_key=self.budget_key, idempotent=idempotent, priority=priority
            )
        except PmsError as exc:
            exc.request = summary  # the pipeline's names the ids of the path
            raise

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        priority: Priority = Priority.INTERACTIVE,
        page_size: int | None = None,
    ) -> httpx.Response:
        """Send one request (``path`` from the API root, e.g. ``"appointments/18/Break"``) and return the
        successful answer, or raise the error tree. ``idempotent=False`` (a write) is never retried once it
        may have left; its [PmsConnectionError][pms_connect.errors.PmsConnectionError] has ``request_sent``
        False only when it provably never left. ``page_size`` adds ``Limit``, clamped to the cap of the server
        that takes the request (the answer's ``request.url`` shows the ``Limit`` sent)."""
        method = method.upper()
        summary = self.summary(method, path)
        route = await self._route()
        send = functools.partial(
            self._send,
            method=method,
            path=path,
            params=params,
            json_body=json_body,
            idempotent=idempotent,
            priority=priority,
            page_size=page_size,
            summary=summary,
        )
        try:
            return await send(route)
        except PmsConnectionError as exc:
            if route is not self._service:
                raise
            self._fall_back()  # the service is gone: the next requests go remote, and it is probed again later
            if exc.request_sent and not idempotent:
                raise  # a write that may have reached the service is never sent to the remote API too
            logger.info("%s: the Open Dental API Service failed; sending to the remote API", summary)
            return await send(self._remote)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, priority: Priority = Priority.INTERACTIVE
    ) -> Any:
        """``GET path`` and its JSON (a 404 raises [NotFoundError][pms_connect.errors.NotFoundError])."""
        response = await self.request("GET", path, params=params, priority=priority)
        return read_json(response, self.summary("GET", path))

    async def get_all(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        page_size: int | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> list[dict[str, Any]]:
        """Every row of a list (all its pages) as raw JSON objects, for code that reads a few fields by name."""
        summary = self.summary("GET", path)
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = await self.request(
                "GET",
                path,
                params={**(params or {}), "Offset": str(offset)},
                page_size=page_size or self.max_page_size,
                priority=priority,
            )
            limit = _limit_sent(response, page_size or self.max_page_size)
            data = read_json(response, summary)
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list):
                raise PmsStatusError("Open Dental sent a list answer that is not a list", request=summary)
            rows.extend(row for row in data if isinstance(row, dict))
            if not data or len(data) < limit:
                return rows
            offset += len(data)

    # -- lists --------------------------------------------------------------------------------------------

    def pager(
        self,
        path: str,
        params: Mapping[str, str],
        row_type: type[Row],
        convert: Callable[[Row], T],
        *,
        page_size: int | None = None,
        keep: Callable[[T], bool] | None = None,
        rows_kept: Callable[[Row], bool] | None = None,
        server_time: Callable[[Row], datetime | None] | None = None,
        prepare: Callable[[], Awaitable[object]] | None = None,
    ) -> AsyncPager[T]:
        """A lazy pager over an Open Dental list (``Limit``/``Offset``) until a short page, rows passing
        ``rows_kept`` (if given) mapped by ``convert``, then filtered by ``keep``. With ``server_time`` it is a
        [WatermarkPager][pms_connect.opendental.WatermarkPager] that reads the watermark from the rows.
        ``prepare`` is awaited before every page (the reference data ``convert`` needs, cached)."""
        frozen = dict(params)
        offsets: dict[int, int] = {0: 0}
        summary = self.summary("GET", path)

        async def fetch(index: int) -> Page[T]:
            if prepare is not None:
                await prepare()
            offset = offsets.get(index)
            if offset is None:  # a page asked for out of order: offsets as if every page were full
                offset = index * (page_size or self.max_page_size)
            response = await self.request(
                "GET", path, params={**frozen, "Offset": str(offset)}, page_size=page_size or self.max_page_size
            )
            limit = _limit_sent(response, page_size or self.max_page_size)
            rows = read_rows(response, row_type, summary)
            offsets[index + 1] = offset + len(rows)
            if server_time is not None and isinstance(pager, WatermarkPager):
                for row in rows[:1]:
                    pager._saw(server_time(row))
            try:
                items = [convert(row) for row in rows if rows_kept is None or rows_kept(row)]
            except ValidationError as exc:  # its own message would quote the row's values
                problems = describe_validation_error(exc, *_DOMAIN_MODELS)
                raise PmsStatusError(
                    f"Open Dental sent a row this SDK cannot use ({exc.title}: {problems})", request=summary
                ) from None
            except ValueError as exc:  # e.g. an appointment without a time: the problem, not the row
                raise PmsStatusError(
                    f"Open Dental sent a row this SDK cannot use ({exc})", request=summary
                ) from None
            if keep is not None:
                items = [item for item in items if keep(item)]
            # Full or short by the raw rows, not the kept ones: a filtered page may be short with more to come.
            return Page(items=items, index=index, page_size=limit, more=len(rows) >= limit)

        pager: AsyncPager[T] = WatermarkPager(fetch) if server_time is not None else AsyncPager(fetch)
        return pager

    def __repr__(self) -> str:
        return f"OpenDentalClient(mode={self.mode!r}, routes={self.routes!r})"
