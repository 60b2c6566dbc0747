"""Retries that stop: reads retried on 5xx, 429, connect errors and timeouts up to max_attempts; writes only
when the request never left; 429 waits honour X-Rate-Limit-Reset. Every wait runs on the FakeClock."""

from __future__ import annotations

import random

import httpx
import pytest

from pms_connect.errors import (
    BadRequestError,
    NotFoundError,
    PmsConnectionError,
    PmsStatusError,
    PmsTimeoutError,
    RateLimitError,
    ServerError,
)
from pms_connect.http import HttpPipeline, RetryPolicy
from pms_connect.ratelimit import RateLimiter
from pms_connect.sikka._client import SIKKA_RATE_LIMIT_HEADERS, classify_sikka_response

URL = "https://api.sikkasoft.com/v4/appointments"


@pytest.fixture
async def pipeline(clock):
    pipe = HttpPipeline(
        client=httpx.AsyncClient(),
        owns_client=True,
        limiter=RateLimiter(clock=clock),
        classify=classify_sikka_response,
        rate_limit_headers=SIKKA_RATE_LIMIT_HEADERS,
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.5, max_backoff=20.0),
        clock=clock,
        rng=random.Random(1),
    )
    yield pipe
    await pipe.aclose()


async def get(pipeline: HttpPipeline) -> httpx.Response:
    request = pipeline.client.build_request("GET", URL, params={"practice_id": "1"})
    return await pipeline.send(request, budget_key="practice", idempotent=True)


async def post(pipeline: HttpPipeline) -> httpx.Response:
    request = pipeline.client.build_request("POST", "https://api.sikkasoft.com/v4/appointment", json={"x": "1"})
    return await pipeline.send(request, budget_key="practice", idempotent=False)


def ok() -> httpx.Response:
    return httpx.Response(200, json={"items": []})


# -- reads -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_get_is_retried_on_5xx_up_to_max_attempts_then_raises_server_error(sikka, pipeline, status):
    route = sikka.get("appointments").mock(return_value=httpx.Response(status))

    with pytest.raises(ServerError) as caught:
        await get(pipeline)

    assert route.call_count == 3
    assert pipeline.retries == 2
    assert caught.value.status_code == status


async def test_get_is_retried_on_429_up_to_max_attempts_then_raises_rate_limit_error(sikka, pipeline):
    minute = {"X-Rate-Limit-Limit": "200", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1"}
    route = sikka.get("appointments").mock(return_value=sikka.error("API2012", 429, headers=minute))

    with pytest.raises(RateLimitError):
        await get(pipeline)

    assert route.call_count == 3


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [("API2011", 429, "daily data quota"), ("API2012", 429, "daily request quota"), ("API2010", 500, "no data")],
)
async def test_daily_quotas_and_missing_data_are_not_retried(sikka, pipeline, code, status, words):
    """gs.txt: API2011 and API2012 are per-practice-per-day limits, API2010 "data not uploaded" (hours): a
    retry within seconds cannot help. Without the minute window's headers, one request and a clear error."""
    route = sikka.get("appointments").mock(return_value=sikka.error(code, status))

    with pytest.raises(PmsStatusError, match=words) as caught:
        await get(pipeline)

    assert route.call_count == 1
    assert caught.value.retryable is False
    assert caught.value.code == code


async def test_get_is_retried_on_connect_error_up_to_max_attempts_then_raises(sikka, pipeline):
    route = sikka.get("appointments").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(PmsConnectionError) as caught:
        await get(pipeline)

    assert route.call_count == 3
    assert caught.value.request_sent is False
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_get_is_retried_on_read_timeout_up_to_max_attempts_then_raises_timeout(sikka, pipeline):
    route = sikka.get("appointments").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(PmsTimeoutError):
        await get(pipeline)

    assert route.call_count == 3


async def test_get_is_retried_on_a_broken_connection(sikka, pipeline):
    route = sikka.get("appointments").mock(side_effect=[httpx.ReadError("reset"), ok()])

    response = await get(pipeline)

    assert response.status_code == 200
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.Response(429), httpx.ConnectError("x"), httpx.ReadTimeout("x")],
    ids=["503", "429", "connect-error", "read-timeout"],
)
async def test_get_succeeds_when_a_retry_succeeds(sikka, pipeline, failure):
    route = sikka.get("appointments").mock(side_effect=[failure, ok()])

    response = await get(pipeline)

    assert response.status_code == 200
    assert route.call_count == 2
    assert pipeline.retries == 1


@pytest.mark.parametrize(
    ("status", "error_class"), [(400, BadRequestError), (404, NotFoundError), (422, BadRequestError)]
)
async def test_get_is_not_retried_on_a_client_error(sikka, pipeline, status, error_class):
    route = sikka.get("appointments").mock(return_value=httpx.Response(status))

    with pytest.raises(error_class):
        await get(pipeline)

    assert route.call_count == 1


async def test_max_attempts_one_disables_retries(sikka, clock):
    pipe = HttpPipeline(
        client=httpx.AsyncClient(),
        owns_client=True,
        limiter=RateLimiter(clock=clock),
        classify=classify_sikka_response,
        rate_limit_headers=SIKKA_RATE_LIMIT_HEADERS,
        retry=RetryPolicy(max_attempts=1),
        clock=clock,
    )
    route = sikka.get("appointments").mock(return_value=httpx.Response(503))

    with pytest.raises(ServerError):
        await get(pipe)
    await pipe.aclose()

    assert route.call_count == 1


async def test_backoff_between_retries_runs_on_the_injected_clock(sikka, pipeline, clock):
    sikka.get("appointments").mock(return_value=httpx.Response(503))

    with pytest.raises(ServerError):
        await get(pipeline)

    # Two waits: 50-100 % of 0.5 s, then of 1.0 s (jittered exponential backoff).
    assert 0.75 <= clock.monotonic() <= 1.5


async def test_429_wait_honours_x_rate_limit_reset(sikka, pipeline, clock):
    limited = sikka.error("API2012", 429, headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "17"})
    route = sikka.get("appointments").mock(side_effect=[limited, ok()])

    response = await get(pipeline)

    assert response.status_code == 200
    assert route.call_count == 2
    assert clock.monotonic() == 17.0


async def test_429_wait_honours_x_rate_limit_reset_without_remaining(sikka, pipeline, clock):
    limited = httpx.Response(429, headers={"X-Rate-Limit-Reset": "9"})  # no code: a short-term limit
    sikka.get("appointments").mock(side_effect=[limited, ok()])

    await get(pipeline)

    assert clock.monotonic() == 9.0


# -- writes ------------------------------------------------------------------------------------------------------


async def test_post_is_not_retried_after_a_read_error(sikka, pipeline):
    route = sikka.route("POST", "appointment").mock(side_effect=httpx.ReadError("reset after send"))

    with pytest.raises(PmsConnectionError) as caught:
        await post(pipeline)

    assert route.call_count == 1
    assert caught.value.request_sent is True


async def test_post_is_not_retried_after_a_read_timeout(sikka, pipeline):
    route = sikka.route("POST", "appointment").mock(side_effect=httpx.ReadTimeout("no answer"))

    with pytest.raises(PmsTimeoutError):
        await post(pipeline)

    assert route.call_count == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_post_is_not_retried_after_5xx(sikka, pipeline, status):
    route = sikka.route("POST", "appointment").mock(return_value=httpx.Response(status))

    with pytest.raises(ServerError):
        await post(pipeline)

    assert route.call_count == 1
    assert pipeline.retries == 0


async def test_post_is_retried_after_connect_error_because_it_never_left(sikka, pipeline):
    route = sikka.route("POST", "appointment").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"error_code": "API2016"})]
    )

    response = await post(pipeline)

    assert response.status_code == 201
    assert route.call_count == 2


async def test_post_is_retried_after_429_because_sikka_refused_it_unprocessed(sikka, pipeline):
    route = sikka.route("POST", "appointment").mock(
        side_effect=[
            sikka.error("API2012", 429, headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "2"}),
            httpx.Response(201, json={"error_code": "API2016"}),
        ]
    )

    response = await post(pipeline)

    assert response.status_code == 201
    assert route.call_count == 2


async def test_post_connect_errors_still_stop_at_max_attempts(sikka, pipeline):
    route = sikka.route("POST", "appointment").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(PmsConnectionError):
        await post(pipeline)

    assert route.call_count == 3


# -- through SikkaClient.practice_call ---------------------------------------------------------------------


async def test_practice_call_post_is_sent_once_after_a_5xx(sikka, provider):
    route = sikka.route("POST", "appointment").mock(return_value=sikka.error("API2001", 500))

    with pytest.raises(ServerError):
        await provider.client.practice_call("POST", "appointment", json_body={"patient_id": "1"}, idempotent=False)

    assert route.call_count == 1


async def test_practice_call_post_is_sent_once_after_a_read_error(sikka, provider):
    route = sikka.route("POST", "appointment").mock(side_effect=httpx.ReadError("reset"))

    with pytest.raises(PmsConnectionError):
        await provider.client.practice_call("POST", "appointment", json_body={"patient_id": "1"}, idempotent=False)

    assert route.call_count == 1


async def test_practice_call_post_is_retried_after_connect_error(sikka, provider):
    route = sikka.route("POST", "appointment").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"error_code": "API2016"})]
    )

    response = await provider.client.practice_call(
        "POST", "appointment", json_body={"patient_id": "1"}, idempotent=False
    )

    assert response.status_code == 201
    assert route.call_count == 2
    assert route.calls.last.request.headers["Request-Key"] == "request-key-1"


async def test_practice_call_get_is_retried_up_to_the_default_four_attempts(sikka, provider):
    route = sikka.get("appointments").mock(return_value=sikka.error("API2002", 503))

    with pytest.raises(ServerError):
        await provider.client.practice_call("GET", "appointments", params={"practice_id": "1"})

    assert route.call_count == RetryPolicy().max_attempts == 4


async def test_practice_call_429_waits_the_reset_on_the_clock(sikka, provider, clock):
    limited = sikka.error("API2012", 429, headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "23"})
    sikka.get("appointments").mock(side_effect=[limited, ok()])

    await provider.client.practice_call("GET", "appointments")

    assert clock.monotonic() == 23.0


def test_retry_policy_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_stays_within_half_and_all_of_its_capped_ceiling(attempt):
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=20.0)
    ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))

    waits = [policy.backoff(attempt, random.Random(seed)) for seed in range(20)]

    assert all(ceiling / 2 <= w <= ceiling for w in waits)
