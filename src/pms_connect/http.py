"""The request pipeline every provider call goes through: rate limit, send, classify, retry, log.

Retry rules live here and nowhere else:

* reads (idempotent requests) are retried on connection errors, timeouts, 429 and 5xx;
* writes are retried only when the request provably never reached the server (the connection could not be
  opened) or the server refused it without processing it (429). Any other failure of a write is surfaced,
  so that the caller reconciles instead of writing twice;
* waits are capped, jittered and exponential, and a server hint (the provider's reset header, then
  ``Retry-After``) comes first.

Which headers state the rate limit is the provider's to say: it passes its
[RateLimitHeaders][pms_connect.http.RateLimitHeaders] (Sikka's are ``X-Rate-Limit-Limit``,
``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset``); the pipeline feeds what they say to the
[RateLimiter][pms_connect.ratelimit.RateLimiter], which lets them only shrink the budget.

Log lines name the method, the path (never the query string, which can hold phone numbers or names), the
status and the time taken; headers and bodies are never logged. A provider whose paths carry record numbers
passes a ``path_template`` that replaces them (Open Dental's ``/api/v1/patients/48`` is logged as
``/api/v1/patients/{id}``); it applies to httpx's own line for the request too.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timezone

import httpx

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PmsConnectionError,
    PmsError,
    PmsStatusError,
    PmsTimeoutError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
    StoreError,
)
from pms_connect.ratelimit import Priority, RateLimiter
from pms_connect.validation import check_count, check_seconds

__all__ = ["HttpPipeline", "RateLimitHeaders", "RetryPolicy", "error_class_for_status", "request_summary"]

logger = logging.getLogger("pms_connect.http")


#: The ``path_template`` of the pipeline whose request httpx is sending in this task, if it has one: httpx
#: logs from inside ``send``, so its filter reads it from here.
_SENDING: ContextVar[Callable[[str], str] | None] = ContextVar("pms_connect_http_sending", default=None)


def _loggable_url(url: httpx.URL, template: Callable[[str], str] | None) -> httpx.URL | str:
    """``url`` without its query, and with its path as ``template`` shows it (when there is one)."""
    if template is None:
        return url.copy_with(query=None) if url.query else url
    try:
        path = template(url.path)
    except Exception:  # a logging filter must never fail the request it logs
        path = "/…"
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{path}"


class _RedactQueryStrings(logging.Filter):
    """httpx logs every request's full URL at INFO; query strings carry PHI here (a phone fragment, a
    birthdate filter), so its records show the URL without the query, and, for a request a pipeline with a
    ``path_template`` sends, with the path as that pipeline's own lines show it (no record numbers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            template = _SENDING.get()
            record.args = tuple(_loggable_url(a, template) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactQueryStrings) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactQueryStrings())

USER_AGENT = "pms-connect-python"

Classifier = Callable[[httpx.Response, str], "PmsError | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``max_attempts`` in all (1 disables retries), backoff bounds in seconds."""

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 20.0

    def __post_init__(self) -> None:
        check_count(self.max_attempts, "max_attempts", minimum=1)
        check_seconds(self.initial_backoff, "initial_backoff", allow_zero=True)
        check_seconds(self.max_backoff, "max_backoff", allow_zero=True)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + rng.random() / 2)


@dataclass(frozen=True)
class RateLimitHeaders:
    """The response headers in which a provider states its rate limit; None for one it does not send.

    Every value is a header name (matched without regard to case) whose value is a number: ``limit`` the
    requests the current window allows, ``remaining`` how many of them are left, ``reset`` the seconds until
    the window starts again. ``retry_after`` is the standard HTTP header (seconds or an HTTP date) a 429 may
    carry; the reset header, when sent, comes first. A provider passes its own to the
    [HttpPipeline][pms_connect.http.HttpPipeline]: there is no default but the standard ``Retry-After``.
    """

    limit: str | None = None
    """The header with the window's request limit, e.g. ``"X-Rate-Limit-Limit"``."""
    remaining: str | None = None
    """The header with the requests left in the window, e.g. ``"X-Rate-Limit-Remaining"``."""
    reset: str | None = None
    """The header with the seconds until the window resets, e.g. ``"X-Rate-Limit-Reset"``."""
    retry_after: str | None = "Retry-After"
    """The header with a 429's hint of when to try again: seconds, or an HTTP date."""

    def __post_init__(self) -> None:
        for name in ("limit", "remaining", "reset", "retry_after"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip() or value != value.strip()):
                raise InvalidArgumentError(f"{name} must be a header name or None")


_STATUS_ERRORS: dict[int, type[PmsStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[PmsStatusError]:
    if status >= 500:
        return ServerError
    return _STATUS_ERRORS.get(status, PmsStatusError)


def request_summary(request: httpx.Request, path_template: Callable[[str], str] | None = None) -> str:
    """``"GET /v4/patients"``: method and path (as ``path_template`` shows it, when given), never the query (it
    can carry PHI) or the host."""
    path = request.url.path
    return f"{request.method} {path_template(path) if path_template is not None else path}"


def _may_retry(exc: BaseException, idempotent: bool) -> bool:
    """The retry rules of the module docstring, for one failure."""
    if isinstance(exc, RateLimitError):
        return exc.retryable
    if isinstance(exc, PmsConnectionError):
        return idempotent or not exc.request_sent
    return idempotent and isinstance(exc, ServerError) and exc.retryable


def _header_float(response: httpx.Response, name: str | None) -> float | None:
    """The header's value as a finite number, or None when the provider sends no such header, this answer
    lacks it, or its value is not a number."""
    raw = response.headers.get(name) if name is not None else None
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _header_int(response: httpx.Response, name: str | None) -> int | None:
    value = _header_float(response, name)
    return int(value) if value is not None else None


class HttpPipeline:
    """Sends requests for one provider instance. Owns the client only when it created it.

    ``classify`` turns an answer into the provider's error (or None for a success); ``rate_limit_headers``
    names the headers in which the provider states its rate limit; ``path_template`` turns a request's URL
    path into what every log line (and httpx's line for the request) shows: by default the path as it is.
    Open Dental's replaces record numbers (``/api/v1/appointments/{id}/Break``), since a PatNum is a chart
    number.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        owns_client: bool,
        limiter: RateLimiter,
        classify: Classifier,
        rate_limit_headers: RateLimitHeaders,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        path_template: Callable[[str], str] | None = None,
    ) -> None:
        self.client = client
        self._owns_client = owns_client
        self.limiter = limiter
        self._classify = classify
        self.rate_limit_headers = rate_limit_headers
        """The provider's rate-limit headers, read from every answer."""
        self.retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.retries = 0
        """Retries performed so far: visible to tests and metrics."""
        self.path_template = path_template
        """What log lines show of a request's path (None: the path as it is)."""

    def describe(self, request: httpx.Request) -> str:
        """The request as this pipeline's log lines and errors name it: ``"PUT /api/v1/appointments/{id}"``."""
        return request_summary(request, self.path_template)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def send(
        self,
        request: httpx.Request,
        *,
        budget_key: str,
        idempotent: bool,
        priority: Priority = Priority.INTERACTIVE,
    ) -> httpx.Response:
        """Send ``request`` under the retry rules above; return the successful response or raise."""
        try:
            return await self._attempt(request, budget_key=budget_key, priority=priority)
        except PmsError as exc:
            if self.retry.max_attempts == 1 or not _may_retry(exc, idempotent):
                raise
            failure = exc
        # Most requests succeed at once: the retry loop (tenacity, its per-attempt bookkeeping a sixth of a
        # request's own CPU, and its import) is entered only after a failure worth retrying.
        return await self._retry(request, failure, budget_key=budget_key, idempotent=idempotent, priority=priority)

    async def _retry(
        self,
        request: httpx.Request,
        failure: PmsError,
        *,
        budget_key: str,
        idempotent: bool,
        priority: Priority,
    ) -> httpx.Response:
        """Attempts 2 to ``max_attempts``, after ``failure`` ended the first."""
        from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self._backoff(exc, state.attempt_number + 1)

        def before_sleep(state: RetryCallState) -> None:
            self._note_retry(
                request, state.outcome.exception() if state.outcome else None, state.attempt_number + 2
            )

        self._note_retry(request, failure, 2)
        await self._clock.sleep(self._backoff(failure, 1))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts - 1),
            retry=retry_if_exception(lambda exc: _may_retry(exc, idempotent)),
            wait=wait,
            sleep=self._clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(request, budget_key=budget_key, priority=priority)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _backoff(self, exc: BaseException | None, attempt: int) -> float:
        """How long to wait after failed attempt ``attempt``: the server's hint first, capped."""
        hint: float | None = exc.retry_after if isinstance(exc, RateLimitError) else None
        if hint is not None:
            return min(max(hint, 0.0), self.retry.max_backoff * 3)
        return self.retry.backoff(attempt, self._rng)

    def _note_retry(self, request: httpx.Request, exc: BaseException | None, next_attempt: int) -> None:
        self.retries += 1
        logger.info("retrying %s after %s (attempt %d)", self.describe(request), type(exc).__name__, next_attempt)

    async def _send(
        self, request: httpx.Request, budget_key: str, grant: str, priority: Priority
    ) -> httpx.Response:
        """Send and read the answer; then, whatever happened, count the grant from the end of the trip."""
        sending = _SENDING.set(self.path_template)  # for httpx's own log line of this request
        try:
            response = await self.client.send(request)
            await response.aread()
            return response
        finally:
            _SENDING.reset(sending)
            try:
                await self.limiter.answered(budget_key, grant, priority)
            except StoreError as exc:  # the answer is what the caller needs; the grant still counts
                logger.warning("the rate budget could not record an answer (%s)", exc.message)

    async def _attempt(self, request: httpx.Request, *, budget_key: str, priority: Priority) -> httpx.Response:
        grant = await self.limiter.acquire(budget_key, priority)
        summary = self.describe(request)
        started = time.perf_counter()
        try:
            response = await self._send(request, budget_key, grant, priority)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            logger.debug("%s could not connect: %s", summary, type(exc).__name__)
            raise PmsConnectionError("could not connect to the PMS", request=summary, request_sent=False) from exc
        except httpx.TimeoutException as exc:
            logger.debug("%s timed out: %s", summary, type(exc).__name__)
            raise PmsTimeoutError("the PMS did not answer in time", request=summary) from exc
        except httpx.TransportError as exc:
            logger.debug("%s connection failed: %s", summary, type(exc).__name__)
            raise PmsConnectionError("the connection to the PMS broke", request=summary) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s -> %d in %.0f ms", summary, response.status_code, elapsed_ms)
        names = self.rate_limit_headers
        reset = _header_float(response, names.reset)
        await self.limiter.observe(
            budget_key,
            remaining=_header_int(response, names.remaining),
            reset_seconds=reset,
            limit=_header_int(response, names.limit),
        )
        error = self._classify(response, summary)
        if error is not None:
            if isinstance(error, RateLimitError) and error.retry_after is None:
                error.retry_after = reset if reset is not None else self._retry_after(response)
            raise error
        return response

    def _retry_after(self, response: httpx.Response) -> float | None:
        """The ``Retry-After`` hint in seconds: a number, or an HTTP date counted from the clock's now."""
        name = self.rate_limit_headers.retry_after
        seconds = _header_float(response, name)
        if seconds is not None or name is None:
            return seconds
        raw = response.headers.get(name)
        try:
            when = email.utils.parsedate_to_datetime(raw) if raw else None
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - self._clock.now()).total_seconds())
