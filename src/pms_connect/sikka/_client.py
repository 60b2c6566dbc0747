"""The Sikka transport layer: auth (request keys), Sikka's error codes, envelopes and pages.

Resources (``_resources.py`` and friends) know only paths, parameters and row types; everything about
talking to Sikka lives here, on top of the shared [HttpPipeline][pms_connect.http.HttpPipeline].
"""

from __future__ import annotations

import email.utils
import functools
import json
import random
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Generic, TypeVar, Union, cast

import httpx
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from pms_connect import models
from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DataReloadingError,
    InvalidArgumentError,
    KeyExpiredError,
    NotFoundError,
    PermissionDeniedError,
    PmsError,
    PmsStatusError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
)
from pms_connect.http import USER_AGENT, HttpPipeline, RateLimitHeaders, RetryPolicy, error_class_for_status
from pms_connect.pagination import AsyncPager, Page
from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.sikka import _wire as w
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.stores import RateBudget
from pms_connect.tokens import Token, TokenManager, TokenStore
from pms_connect.validation import check_count, check_seconds, describe_validation_error

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "SIKKA_RATE_LIMIT_HEADERS",
    "SikkaClient",
    "SikkaPage",
    "classify_sikka_response",
    "read_page",
]

DEFAULT_BASE_URL = "https://api.sikkasoft.com/v4"
MAX_PAGE_SIZE = 5000
DEFAULT_TIMEOUT = 30.0
"""Seconds httpx waits to connect, send, read and for a pooled connection, each, unless ``timeout=`` says."""
SIKKA_RATE_LIMIT_HEADERS = RateLimitHeaders(
    limit="X-Rate-Limit-Limit",
    remaining="X-Rate-Limit-Remaining",
    reset="X-Rate-Limit-Reset",
    retry_after="Retry-After",
)
"""Where Sikka states its per-minute window (gs.txt): the limit, what is left, and seconds to its reset."""

Row = TypeVar("Row")
Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")

# Sikka's error codes -> (error class, a message a person can act on). Messages are ours, never Sikka's
# free text, which can echo request values; the raw body stays on the exception's ``body``.
_CODES: dict[str, tuple[type[PmsStatusError], str]] = {
    "API1004": (AuthenticationError, "Sikka request key missing or invalid"),
    "API1025": (KeyExpiredError, "Sikka request key expired"),
    "API2003": (AuthenticationError, "Sikka refused the credentials (wrong id or key)"),
    "API2004": (PermissionDeniedError, "this API is not in the Sikka app's plan"),
    "API2007": (PermissionDeniedError, "the practice has not authorized this Sikka app"),
    "API2009": (NotFoundError, "Sikka found no such resource"),
    "API2010": (ServerError, "Sikka has no data for this practice yet (its first upload has not finished)"),
    "API2011": (RateLimitError, "Sikka's daily data quota for this practice is exhausted"),
    "API2012": (RateLimitError, "Sikka's daily request quota for this practice is exhausted"),
    "API2013": (ConflictError, "the record already exists at Sikka"),
    "API2015": (ConflictError, "the record already exists at Sikka"),
    "API2017": (PreconditionFailedError, "the practice's Sikka utility is offline; the write was not queued"),
    "API2019": (BadRequestError, "Sikka could not process the request"),
    "API2001": (ServerError, "Sikka internal error"),
    "API2002": (ServerError, "Sikka service unavailable"),
    "API2022": (ServerError, "Sikka gateway timeout"),
    # Errors Sikka documents with HTTP 200 (gs.txt): a refusal, whatever the status says.
    "API0005": (BadRequestError, "Sikka did not send the email or text message"),
    "API0008": (BadRequestError, "Sikka did not log the appointment status change"),
    "API4002": (BadRequestError, "Sikka could not decrypt a value of the request"),
    "API4003": (BadRequestError, "Sikka could not decrypt the password"),
    "API4004": (BadRequestError, "Sikka could not decrypt the email or user name"),
    "API4005": (BadRequestError, "Sikka could not decrypt the verification code"),
}
#: Codes that are errors although Sikka answers them with HTTP 200.
ERRORS_WITH_200 = frozenset({"API0005", "API0008", "API4002", "API4003", "API4004", "API4005"})
#: Limits that do not come back within a retry's wait: a day's quota, a practice whose data is not uploaded.
_NOT_RETRYABLE = frozenset({"API2010", "API2011", "API2012"})


@dataclass(frozen=True)
class SikkaPage(Generic[Row]):
    """One page as Sikka answered it: its rows, the total when given, the page size in force, and whether the
    answer links a next page (None when it has no links at all)."""

    rows: list[Row]
    total: int | None
    limit: int
    next_link: bool | None


def _error_body(response: httpx.Response) -> dict[str, str]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Wed, 21 Aug 2019 17:19:33 GMT``) as an aware datetime, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _minute_window(response: httpx.Response) -> bool:
    """Whether a 429 is the per-minute window's: gs.txt shows that one with ``X-Rate-Limit-Remaining: 0``.
    Sikka documents no code for it; API2012 is "requests per practice per day", so only these headers make an
    API2012 the short-term limit, worth waiting for."""
    name = SIKKA_RATE_LIMIT_HEADERS.remaining
    remaining: str = response.headers.get(name, "") if name else ""
    return remaining.strip() == "0"


def _error_with_200(response: httpx.Response) -> str | None:
    """The code of an error Sikka answered with HTTP 200, if this is one (a cheap look first: lists are big)."""
    if response.status_code != 200 or b'"error_code"' not in response.content[:512]:
        return None
    code = _error_body(response).get("error_code")
    return code if code in ERRORS_WITH_200 else None


def classify_sikka_response(response: httpx.Response, summary: str) -> PmsError | None:
    """Map a Sikka answer to an error, or None when it is a success (204 included). An error Sikka documents
    with HTTP 200 (``API0008`` and others) is an error all the same."""
    if response.status_code < 400 and _error_with_200(response) is None:
        return None
    body = _error_body(response)
    code = body.get("error_code") or None
    error_class, message = _CODES.get(code or "", (None, None))
    if error_class is None:
        error_class = error_class_for_status(response.status_code)
        message = f"Sikka answered HTTP {response.status_code}"
    assert message is not None
    if error_class is RateLimitError:
        daily = code == "API2011" or (code in _NOT_RETRYABLE and not _minute_window(response))
        if not daily and code in _NOT_RETRYABLE:
            message = "Sikka's per-minute request limit was reached"
        elif daily:
            message += "; it resets with Sikka's day (the datalimit API says when), not within a retry's wait"
        return RateLimitError(
            message, code=code, status_code=response.status_code, request=summary, body=body, retryable=not daily
        )
    error = error_class(message, code=code, status_code=response.status_code, request=summary, body=body)
    if code in _NOT_RETRYABLE:
        error.retryable = False
    return error


def _unreadable(error: ValidationError, what: str, summary: str, model: Any) -> PmsStatusError:
    # pydantic's message would quote the offending (possibly PHI or secret) value: name only the fields.
    return PmsStatusError(
        f"Sikka sent {what} this SDK cannot read ({describe_validation_error(error, model)})", request=summary
    )


# The domain models a row is converted into: the names a conversion's ValidationError may show.
_DOMAIN_MODELS = tuple(
    value
    for value in vars(models).values()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == models.__name__
)


def _not_json(summary: str, status: int) -> PmsStatusError:
    return PmsStatusError("Sikka's answer was not JSON", request=summary, status_code=status)


def parse_model(model_type: type[Model], data: Any, summary: str) -> Model:
    try:
        return model_type.model_validate(data)
    except ValidationError as exc:
        raise _unreadable(exc, "an answer", summary, model_type) from None


def read_json(response: httpx.Response, summary: str) -> Any:
    """The JSON body, or a typed error (a proxy's HTML page is not a Sikka answer)."""
    try:
        return response.json()
    except ValueError:
        raise _not_json(summary, response.status_code) from None


@functools.cache
def _page_reader(row_type: Hashable) -> TypeAdapter[Any]:
    """Reads a list answer's bytes straight into typed rows (some endpoints wrap it in a one-element array)."""
    envelope: Any = w.Envelope[row_type]  # type: ignore[valid-type]
    # left_to_right: a "smart" union would validate an envelope twice (strictly, then not) before choosing.
    return TypeAdapter(Annotated[Union[envelope, list[envelope]], Field(union_mode="left_to_right")])  # noqa: UP007


def read_page(response: httpx.Response, row_type: type[Row], summary: str) -> w.Envelope[Row] | None:
    """The list answer with its rows parsed, or None for Sikka's 204 "no content"."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        data = _page_reader(cast("Hashable", row_type)).validate_json(response.content)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise _not_json(summary, response.status_code) from None
        raise _unreadable(exc, "a row", summary, w.Envelope[row_type]) from None  # type: ignore[valid-type]
    if isinstance(data, list):
        return cast("w.Envelope[Row]", data[0]) if data else w.Envelope[Row]()
    return cast("w.Envelope[Row]", data)


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
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(check_seconds(timeout, "timeout"))


def _rate_limiter(
    rate_limit: int | RateLimit | RateLimiter | None, *, clock: Clock, budget: RateBudget | None
) -> RateLimiter:
    """The limiter ``rate_limit`` stands for: a RateLimiter as it is (a shared budget), else a new one."""
    if isinstance(rate_limit, RateLimiter):
        return rate_limit
    if rate_limit is None or isinstance(rate_limit, RateLimit):
        return RateLimiter(rate_limit, clock=clock, budget=budget)
    if isinstance(rate_limit, int) and not isinstance(rate_limit, bool):
        return RateLimiter(
            RateLimit(requests=check_count(rate_limit, "rate_limit", minimum=1)), clock=clock, budget=budget
        )
    raise InvalidArgumentError("rate_limit must be requests per minute, a RateLimit or a RateLimiter")


class SikkaClient:
    """Authenticated requests for one practice, through one pipeline and one token manager.

    The HTTP client is ``http_client`` (yours: its own timeouts apply, and it is not closed here), or one
    made with ``transport`` (e.g. the sandbox's) and ``timeout``: seconds for each of connect, send, read
    and pool (``None``: 30 s), or an ``httpx.Timeout``. ``rate_limit`` is requests per minute, a
    [RateLimit][pms_connect.ratelimit.RateLimit] (a budget kept in ``budget``, the store's), or a
    [RateLimiter][pms_connect.ratelimit.RateLimiter]: a budget shared as it is, with the limiter's own
    budget store. Settings that could not both apply raise
    [InvalidArgumentError][pms_connect.errors.InvalidArgumentError] rather than one being ignored.
    """

    def __init__(
        self,
        credentials: SikkaCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        token_store: TokenStore | None = None,
        rate_limit: int | RateLimit | RateLimiter | None = None,
        budget: RateBudget | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if http_client is not None and transport is not None:
            raise InvalidArgumentError("pass http_client or transport, not both")
        if http_client is not None and timeout is not None:
            raise InvalidArgumentError("timeout does not apply to an http_client you pass: set it on that client")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidArgumentError("retry must be a RetryPolicy")
        if not isinstance(credentials, SikkaCredentials):
            raise InvalidArgumentError("credentials must be SikkaCredentials")
        self.credentials = credentials
        self.base_url = _base_url(base_url)
        self.clock = clock or SystemClock()
        rate_limiter = _rate_limiter(rate_limit, clock=self.clock, budget=budget)
        client = http_client or httpx.AsyncClient(transport=transport, timeout=_timeout(timeout))
        self.pipeline = HttpPipeline(
            client=client,
            owns_client=http_client is None,
            limiter=rate_limiter,
            classify=classify_sikka_response,
            rate_limit_headers=SIKKA_RATE_LIMIT_HEADERS,
            retry=retry,
            clock=self.clock,
            rng=rng,
        )
        self.tokens = TokenManager(
            key=credentials.token_key,
            grant=self._full_grant,
            refresh=self._refresh_grant,
            store=token_store,
            clock=self.clock,
        )
        self._summaries: dict[tuple[str, str], str] = {}
        self.practice_budget = f"sikka:practice:{credentials.office_id}:{credentials.practice_id}"
        self.app_budget = f"sikka:app:{credentials.app_id}"

    async def aclose(self) -> None:
        await self.pipeline.aclose()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def summary(self, method: str, path: str) -> str:
        """``"GET /v4/patients"``, the form every error's ``request`` takes (built once a path)."""
        key = (method, path)
        summary = self._summaries.get(key)
        if summary is None:
            summary = self._summaries[key] = f"{method} {httpx.URL(self._url(path)).path}"
        return summary

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        return self.pipeline.client.build_request(
            method, self._url(path), params=dict(params or {}), json=json_body, headers=all_headers
        )

    # -- auth ---------------------------------------------------------------------------------------------

    async def _key_grant(self, body: dict[str, str]) -> Token:
        request = self._request("POST", "request_key", json_body=body)
        response = await self.pipeline.send(request, budget_key=self.app_budget, idempotent=True)
        summary = self.summary("POST", "request_key")
        grant = parse_model(w.KeyGrant, read_json(response, summary), summary)
        if not grant.request_key.strip():
            raise PmsStatusError("Sikka granted an empty request key", request=summary)
        if (grant.status or "active").strip().lower() != "active" or grant.expires_in == 0:
            raise AuthenticationError("Sikka granted a request key that is not active", request=summary)
        issued = self.clock.now()
        lifetime = timedelta(hours=24)  # Sikka's documented lifetime, when the answer does not say
        if grant.expires_in is not None and grant.expires_in > 0:
            lifetime = timedelta(seconds=grant.expires_in)
        elif grant.start_time and grant.end_time and grant.end_time > grant.start_time:
            lifetime = grant.end_time - grant.start_time
        expires = issued + lifetime
        # gs.txt: every answer carries Request-Key-Expires, the key's real end (an HTTP date, GMT). Trusted
        # when it is sooner: a refresh too early costs one request, one too late a refused call.
        stated = _http_date(response.headers.get("Request-Key-Expires"))
        if stated is not None and issued < stated < expires:
            expires = stated
        return Token(
            access=SecretStr(grant.request_key),
            refresh=SecretStr(grant.refresh_key) if grant.refresh_key else None,
            issued_at=issued,
            expires_at=expires,
            scope=tuple(s.strip() for s in (grant.scope or "").split(",") if s.strip()),
        )

    async def _full_grant(self) -> Token:
        c = self.credentials
        return await self._key_grant(
            {
                "grant_type": "request_key",
                "office_id": c.office_id,
                "secret_key": c.secret_key.get_secret_value(),
                "app_id": c.app_id,
                "app_key": c.app_key.get_secret_value(),
            }
        )

    async def _refresh_grant(self, refresh_key: str) -> Token:
        c = self.credentials
        return await self._key_grant(
            {
                "grant_type": "refresh_key",
                "refresh_key": refresh_key,
                "app_id": c.app_id,
                "app_key": c.app_key.get_secret_value(),
            }
        )

    def _app_headers(self) -> dict[str, str]:
        return {"App-Id": self.credentials.app_id, "App-Key": self.credentials.app_key.get_secret_value()}

    # -- requests -----------------------------------------------------------------------------------------

    async def practice_call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, str] | None = None,
        idempotent: bool = True,
        priority: Priority = Priority.INTERACTIVE,
    ) -> httpx.Response:
        """A call with the practice's request key; an expired or refused key is refreshed and the call
        replayed once (safe for writes too: Sikka refused the first one before doing anything)."""
        token = await self.tokens.get()
        for replay in (False, True):
            request = self._request(
                method,
                path,
                params=params,
                json_body=json_body,
                headers={"Request-Key": token.access.get_secret_value()},
            )
            try:
                return await self.pipeline.send(
                    request, budget_key=self.practice_budget, idempotent=idempotent, priority=priority
                )
            except AuthenticationError:
                if replay:
                    raise
                token = await self.tokens.invalidate(token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def app_call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
        priority: Priority = Priority.INTERACTIVE,
    ) -> httpx.Response:
        """A call with the app's App-Id/App-Key (authorized_practices, writebacks, supported_pmses)."""
        request = self._request(method, path, params=params, headers=self._app_headers())
        return await self.pipeline.send(
            request, budget_key=self.app_budget, idempotent=idempotent, priority=priority
        )

    # -- lists --------------------------------------------------------------------------------------------

    async def fetch_page(
        self,
        path: str,
        params: Mapping[str, str],
        row_type: type[Row],
        *,
        index: int,
        page_size: int,
        app_level: bool = False,
        priority: Priority = Priority.INTERACTIVE,
    ) -> SikkaPage[Row]:
        """One page of rows (``offset`` is a page index), with what the answer says about paging."""
        page_params = {**params, "offset": str(index), "limit": str(page_size)}
        call = self.app_call if app_level else self.practice_call
        response = await call("GET", path, params=page_params, priority=priority)
        summary = self.summary("GET", path)
        if response.headers.get("Data-Insert", "").strip().lower() == "in progress":
            # gs.txt: "User should not fetch data when data insert is in progress": the rows may be partial.
            raise DataReloadingError(
                "Sikka is reloading the practice's data; its answer may be partial, read again later",
                request=summary,
            )
        envelope = read_page(response, row_type, summary)
        if envelope is None:
            return SikkaPage(rows=[], total=0 if index == 0 else None, limit=page_size, next_link=False)
        # A licence may cap the page size below what was asked: the answer's ``limit`` is the page size in force.
        limit = envelope.limit if envelope.limit is not None and 0 < envelope.limit < page_size else page_size
        links = envelope.pagination
        next_link = None if links is None else bool(links.next)
        total = envelope.total_count if envelope.total_count is None or envelope.total_count >= 0 else None
        return SikkaPage(rows=envelope.items, total=total, limit=limit, next_link=next_link)

    def pager(
        self,
        path: str,
        params: Mapping[str, str],
        row_type: type[Row],
        convert: Callable[[Row], T],
        *,
        page_size: int = MAX_PAGE_SIZE,
        app_level: bool = False,
        keep: Callable[[T], bool] | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> AsyncPager[T]:
        """A lazy pager over a Sikka list endpoint, mapping each row with ``convert``."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        frozen_params = dict(params)
        size = [page_size]  # the page size in force: the licence's cap once an answer has shown it

        async def fetch(index: int) -> Page[T]:
            page = await self.fetch_page(
                path,
                frozen_params,
                row_type,
                index=index,
                page_size=size[0],
                app_level=app_level,
                priority=priority,
            )
            if page.limit < size[0]:
                if index > 0:  # offsets count pages of the size asked: a cap seen late would skip rows
                    raise PmsStatusError("Sikka changed the page size mid-list", request=self.summary("GET", path))
                size[0] = page.limit
            try:
                converted = [convert(row) for row in page.rows]
            except ValidationError as exc:  # its own message would quote the row's values
                problems = describe_validation_error(exc, *_DOMAIN_MODELS)
                raise PmsStatusError(
                    f"Sikka sent a row this SDK cannot use ({exc.title}: {problems})",
                    request=self.summary("GET", path),
                ) from None
            except ValueError as exc:  # e.g. an appointment without a date: name the problem, not the row
                raise PmsStatusError(
                    f"Sikka sent a row this SDK cannot use ({exc})", request=self.summary("GET", path)
                ) from None
            if keep is not None:
                converted = [item for item in converted if keep(item)]
            # Without a total, a next link or a full page means more (an empty link on a full page costs one
            # request that ends in a 204, never a lost page). Counted on the raw rows, not the kept ones: a
            # filtered page may be short with more to come.
            more = None if page.total is not None else bool(page.next_link) or len(page.rows) >= page.limit
            return Page(items=converted, index=index, page_size=page.limit, total_count=page.total, more=more)

        return AsyncPager(fetch)

    def __repr__(self) -> str:
        return f"SikkaClient(base_url={self.base_url!r}, office_id={self.credentials.office_id!r})"
