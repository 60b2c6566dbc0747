"""The Sikka transport layer: auth (request keys), Sikka's error codes, envelopes and pages.

Resources (``_resources.py`` and friends) know only paths, parameters and row types; everything about
talking to Sikka lives here, on top of the shared :class:`~pms_connect.http.HttpPipeline`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from pms_connect._clock import Clock, SystemClock
from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    KeyExpiredError,
    NotFoundError,
    PermissionDeniedError,
    PmsError,
    PmsStatusError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
)
from pms_connect.http import USER_AGENT, HttpPipeline, RetryPolicy, error_class_for_status
from pms_connect.pagination import AsyncPager, Page
from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.sikka import _wire as w
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.tokens import Token, TokenManager, TokenStore

__all__ = ["DEFAULT_BASE_URL", "MAX_PAGE_SIZE", "SikkaClient", "classify_sikka_response"]

DEFAULT_BASE_URL = "https://api.sikkasoft.com/v4"
MAX_PAGE_SIZE = 5000

Row = TypeVar("Row", bound=BaseModel)
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
    "API2011": (RateLimitError, "Sikka daily data quota exhausted"),
    "API2012": (RateLimitError, "Sikka request quota exhausted"),
    "API2013": (ConflictError, "the record already exists at Sikka"),
    "API2015": (ConflictError, "the record already exists at Sikka"),
    "API2017": (PreconditionFailedError, "the practice's Sikka utility is offline; the write was not queued"),
    "API2019": (BadRequestError, "Sikka could not process the request"),
    "API2001": (ServerError, "Sikka internal error"),
    "API2002": (ServerError, "Sikka service unavailable"),
    "API2022": (ServerError, "Sikka gateway timeout"),
}


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


def classify_sikka_response(response: httpx.Response, summary: str) -> PmsError | None:
    """Map a Sikka answer to an error, or None when it is a success (204 included)."""
    if response.status_code < 400:
        return None
    body = _error_body(response)
    code = body.get("error_code") or None
    error_class, message = _CODES.get(code or "", (None, None))
    if error_class is None:
        error_class = error_class_for_status(response.status_code)
        message = f"Sikka answered HTTP {response.status_code}"
    assert message is not None
    if error_class is RateLimitError:
        # The daily data quota (API2011) does not come back within a retry's wait: not retryable.
        return RateLimitError(
            message,
            code=code,
            status_code=response.status_code,
            request=summary,
            body=body,
            retryable=code != "API2011",
        )
    return error_class(message, code=code, status_code=response.status_code, request=summary, body=body)


def _unreadable(error: ValidationError, what: str, summary: str) -> PmsStatusError:
    # pydantic's message would quote the offending (possibly PHI or secret) value: name only the fields.
    fields = sorted({str(err["loc"][-1]) for err in error.errors() if err["loc"]})
    return PmsStatusError(f"Sikka sent {what} this SDK cannot read (fields: {', '.join(fields)})", request=summary)


def parse_rows(items: list[dict[str, Any]], row_type: type[Row], summary: str) -> list[Row]:
    try:
        return [row_type.model_validate(item) for item in items]
    except ValidationError as exc:
        raise _unreadable(exc, "a row", summary) from None


def parse_model(model_type: type[Row], data: Any, summary: str) -> Row:
    try:
        return model_type.model_validate(data)
    except ValidationError as exc:
        raise _unreadable(exc, "an answer", summary) from None


def read_json(response: httpx.Response, summary: str) -> Any:
    """The JSON body, or a typed error (a proxy's HTML page is not a Sikka answer)."""
    try:
        return response.json()
    except ValueError:
        raise PmsStatusError(
            "Sikka's answer was not JSON", request=summary, status_code=response.status_code
        ) from None


def read_envelope(response: httpx.Response, summary: str) -> w.Envelope | None:
    """The list envelope, or None for Sikka's 204 "no content". Some endpoints wrap it in a one-element array."""
    if response.status_code == 204 or not response.content:
        return None
    data = read_json(response, summary)
    if isinstance(data, list):
        data = data[0] if data else {}
    return parse_model(w.Envelope, data, summary)


class SikkaClient:
    """Authenticated requests for one practice, through one pipeline and one token manager."""

    def __init__(
        self,
        credentials: SikkaCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        token_store: TokenStore | None = None,
        rate_limit: RateLimit | int | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        if isinstance(rate_limit, int):
            rate_limit = RateLimit(requests=rate_limit)
        client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout)
        self.pipeline = HttpPipeline(
            client=client,
            owns_client=http_client is None,
            limiter=limiter or RateLimiter(rate_limit, clock=self.clock),
            classify=classify_sikka_response,
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
        self.practice_budget = f"sikka:practice:{credentials.office_id}:{credentials.practice_id}"
        self.app_budget = f"sikka:app:{credentials.app_id}"

    async def aclose(self) -> None:
        await self.pipeline.aclose()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def summary(self, method: str, path: str) -> str:
        """``"GET /v4/patients"``, the form every error's ``request`` takes."""
        return f"{method} {httpx.URL(self._url(path)).path}"

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
        issued = self.clock.now()
        lifetime = timedelta(hours=24)  # Sikka's documented lifetime, when the answer does not say
        if grant.expires_in is not None and grant.expires_in > 0:
            lifetime = timedelta(seconds=grant.expires_in)
        elif grant.start_time and grant.end_time and grant.end_time > grant.start_time:
            lifetime = grant.end_time - grant.start_time
        return Token(
            access=SecretStr(grant.request_key),
            refresh=SecretStr(grant.refresh_key) if grant.refresh_key else None,
            issued_at=issued,
            expires_at=issued + lifetime,
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
        *,
        index: int,
        page_size: int,
        app_level: bool = False,
        priority: Priority = Priority.INTERACTIVE,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of raw items (``offset`` is a page index) and the total count when Sikka gives it."""
        page_params = {**params, "offset": str(index), "limit": str(page_size)}
        call = self.app_call if app_level else self.practice_call
        response = await call("GET", path, params=page_params, priority=priority)
        envelope = read_envelope(response, self.summary("GET", path))
        if envelope is None:
            return [], 0 if index == 0 else None
        return envelope.items, envelope.total_count

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
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        frozen_params = dict(params)

        async def fetch(index: int) -> Page[T]:
            items, total = await self.fetch_page(
                path, frozen_params, index=index, page_size=page_size, app_level=app_level, priority=priority
            )
            summary = self.summary("GET", path)
            rows = parse_rows(items, row_type, summary)
            try:
                converted = [convert(row) for row in rows]
            except ValueError as exc:  # e.g. an appointment without a date: name the problem, not the row
                raise PmsStatusError(f"Sikka sent a row this SDK cannot use ({exc})", request=summary) from None
            if keep is not None:
                converted = [item for item in converted if keep(item)]
            # Decide "more pages" on the raw row count: a filtered page may be short with more to come.
            more = None if total is not None else len(items) >= page_size
            return Page(items=converted, index=index, page_size=page_size, total_count=total, more=more)

        return AsyncPager(fetch)

    def __repr__(self) -> str:
        return f"SikkaClient(base_url={self.base_url!r}, office_id={self.credentials.office_id!r})"
