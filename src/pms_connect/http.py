"""The request pipeline every provider call goes through: rate limit, send, classify, retry, log.

Retry rules live here and nowhere else:

* reads (idempotent requests) are retried on connection errors, timeouts, 429 and 5xx;
* writes are retried only when the request provably never reached the server (the connection could not be
  opened) or the server refused it without processing it (429). Any other failure of a write is surfaced,
  so that the caller reconciles instead of writing twice;
* waits are capped, jittered and exponential, and a server hint (``X-Rate-Limit-Reset``, ``Retry-After``)
  comes first.

Log lines name the method, the path (never the query string, which can hold phone numbers or names), the
status and the time taken; headers and bodies are never logged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
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

__all__ = ["HttpPipeline", "RetryPolicy", "error_class_for_status", "request_summary"]

logger = logging.getLogger("pms_connect.http")


class _RedactQueryStrings(logging.Filter):
    """httpx logs every request's full URL at INFO; query strings carry PHI here (a phone fragment, a
    birthdate filter), so its records show the URL without the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx.URL) and a.query else a for a in record.args
            )
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
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + rng.random() / 2)


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


def request_summary(request: httpx.Request) -> str:
    """``"GET /v4/patients"``: method and path, never the query (it can carry PHI) or the host."""
    return f"{request.method} {request.url.path}"


def _may_retry(exc: BaseException, idempotent: bool) -> bool:
    """The retry rules of the module docstring, for one failure."""
    if isinstance(exc, RateLimitError):
        return exc.retryable
    if isinstance(exc, PmsConnectionError):
        return idempotent or not exc.request_sent
    return idempotent and isinstance(exc, ServerError) and exc.retryable


def _header_float(response: httpx.Response, name: str) -> float | None:
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


class HttpPipeline:
    """Sends requests for one provider instance. Owns the client only when it created it."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        owns_client: bool,
        limiter: RateLimiter,
        classify: Classifier,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self._owns_client = owns_client
        self.limiter = limiter
        self._classify = classify
        self.retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.retries = 0
        """Retries performed so far: visible to tests and metrics."""

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
        logger.info(
            "retrying %s after %s (attempt %d)", request_summary(request), type(exc).__name__, next_attempt
        )

    async def _send(
        self, request: httpx.Request, budget_key: str, grant: str, priority: Priority
    ) -> httpx.Response:
        """Send and read the answer; then, whatever happened, count the grant from the end of the trip."""
        try:
            response = await self.client.send(request)
            await response.aread()
            return response
        finally:
            try:
                await self.limiter.answered(budget_key, grant, priority)
            except StoreError as exc:  # the answer is what the caller needs; the grant still counts
                logger.warning("the rate budget could not record an answer (%s)", exc.message)

    async def _attempt(self, request: httpx.Request, *, budget_key: str, priority: Priority) -> httpx.Response:
        grant = await self.limiter.acquire(budget_key, priority)
        summary = request_summary(request)
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
        remaining = _header_float(response, "X-Rate-Limit-Remaining")
        server_limit = _header_float(response, "X-Rate-Limit-Limit")
        await self.limiter.observe(
            budget_key,
            remaining=int(remaining) if remaining is not None else None,
            reset_seconds=_header_float(response, "X-Rate-Limit-Reset"),
            limit=int(server_limit) if server_limit is not None else None,
        )
        error = self._classify(response, summary)
        if error is not None:
            if isinstance(error, RateLimitError) and error.retry_after is None:
                reset = _header_float(response, "X-Rate-Limit-Reset")
                error.retry_after = reset if reset is not None else _header_float(response, "Retry-After")
            raise error
        return response
