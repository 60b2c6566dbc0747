"""The pipeline reads the rate-limit headers its provider names, and no others: Sikka's ``X-Rate-Limit-*`` are
Sikka's, passed by its client; a provider with other names (or none) gets what its own headers say."""

from __future__ import annotations

import email.utils
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest

from pms_connect.errors import PmsError, RateLimitError
from pms_connect.http import HttpPipeline, RateLimitHeaders, RetryPolicy
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka._client import SIKKA_RATE_LIMIT_HEADERS, classify_sikka_response
from pms_connect.testing.clock import FakeClock

URL = "https://pms.example/v1/items"
KEY = "practice:1"
OTHER = RateLimitHeaders(limit="RateLimit-Limit", remaining="RateLimit-Remaining", reset="RateLimit-Reset")


def classify(response: httpx.Response, summary: str) -> PmsError | None:
    if response.status_code == 429:
        return RateLimitError("slow down", status_code=429, request=summary)
    return None


Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_pipeline(
    clock: FakeClock,
) -> AsyncIterator[Callable[[RateLimitHeaders, list[httpx.Response]], HttpPipeline]]:
    made: list[HttpPipeline] = []

    def make(headers: RateLimitHeaders, answers: list[httpx.Response]) -> HttpPipeline:
        queue = iter(answers)
        pipe = HttpPipeline(
            client=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: next(queue))),
            owns_client=True,
            limiter=RateLimiter(RateLimit(requests=100, per_seconds=60), clock=clock),
            classify=classify,
            rate_limit_headers=headers,
            retry=RetryPolicy(max_attempts=2, initial_backoff=0.5, max_backoff=20.0),
            clock=clock,
            rng=random.Random(1),
        )
        made.append(pipe)
        return pipe

    yield make
    for pipe in made:
        await pipe.aclose()


async def get(pipe: HttpPipeline) -> httpx.Response:
    return await pipe.send(httpx.Request("GET", URL), budget_key=KEY, idempotent=True)


async def test_the_provider_s_own_header_names_shrink_the_budget(make_pipeline) -> None:
    answer = httpx.Response(
        200, headers={"RateLimit-Limit": "50", "RateLimit-Remaining": "3", "RateLimit-Reset": "30"}
    )
    pipe = make_pipeline(OTHER, [answer])

    await get(pipe)

    assert pipe.limiter.limit_for(KEY) == 50
    assert await pipe.limiter.available(KEY) == 3


async def test_headers_a_provider_does_not_name_are_ignored(make_pipeline) -> None:
    sikka_style = {"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Remaining": "3", "X-Rate-Limit-Reset": "30"}
    pipe = make_pipeline(OTHER, [httpx.Response(200, headers=sikka_style)])

    await get(pipe)

    assert pipe.limiter.limit_for(KEY) == 100
    assert await pipe.limiter.available(KEY) == 99


async def test_sikka_s_client_names_sikka_s_headers(make_pipeline) -> None:
    sikka_style = {"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Remaining": "3", "X-Rate-Limit-Reset": "30"}
    pipe = make_pipeline(SIKKA_RATE_LIMIT_HEADERS, [httpx.Response(200, headers=sikka_style)])

    await get(pipe)

    assert pipe.limiter.limit_for(KEY) == 50
    assert classify_sikka_response(httpx.Response(200), "GET /v4/x") is None


async def test_a_429_waits_for_the_provider_s_reset_header_first(make_pipeline, clock) -> None:
    limited = httpx.Response(429, headers={"RateLimit-Reset": "7", "Retry-After": "99"})
    pipe = make_pipeline(OTHER, [limited, httpx.Response(200)])

    await get(pipe)

    assert clock.monotonic() == 7.0


async def test_a_429_without_a_reset_header_waits_for_retry_after_seconds(make_pipeline, clock) -> None:
    pipe = make_pipeline(
        RateLimitHeaders(), [httpx.Response(429, headers={"Retry-After": "12"}), httpx.Response(200)]
    )

    await get(pipe)

    assert clock.monotonic() == 12.0


async def test_retry_after_may_be_an_http_date(make_pipeline, clock) -> None:
    when = email.utils.format_datetime(clock.now() + timedelta(seconds=15), usegmt=True)
    pipe = make_pipeline(
        RateLimitHeaders(), [httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200)]
    )

    await get(pipe)

    assert clock.monotonic() == pytest.approx(15.0, abs=1.0)


async def test_a_provider_without_retry_after_falls_back_to_backoff(make_pipeline, clock) -> None:
    headers = RateLimitHeaders(retry_after=None)
    pipe = make_pipeline(headers, [httpx.Response(429, headers={"Retry-After": "99"}), httpx.Response(200)])

    await get(pipe)

    assert 0.25 <= clock.monotonic() <= 0.5  # the first backoff, not the ignored hint


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-inf", "many", ""])
async def test_header_values_that_are_not_finite_numbers_are_ignored(make_pipeline, value: str) -> None:
    answer = httpx.Response(
        200, headers={"RateLimit-Limit": value, "RateLimit-Remaining": value, "RateLimit-Reset": value}
    )
    pipe = make_pipeline(OTHER, [answer])

    assert (await get(pipe)).status_code == 200
    assert pipe.limiter.limit_for(KEY) == 100


async def test_header_names_are_matched_without_regard_to_case(make_pipeline) -> None:
    pipe = make_pipeline(OTHER, [httpx.Response(200, headers={"ratelimit-limit": "5"})])

    await get(pipe)

    assert pipe.limiter.limit_for(KEY) == 5


def test_the_default_names_only_the_standard_retry_after() -> None:
    assert RateLimitHeaders() == RateLimitHeaders(
        limit=None, remaining=None, reset=None, retry_after="Retry-After"
    )
