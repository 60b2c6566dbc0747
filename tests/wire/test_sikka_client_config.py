"""SikkaClient's settings cannot conflict: each one given applies, or the call is refused; none is dropped."""

from __future__ import annotations

import httpx
import pytest

from pms_connect.errors import PmsStatusError
from pms_connect.models import Provider
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka import SikkaCredentials
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import DEFAULT_TIMEOUT, SIKKA_RATE_LIMIT_HEADERS, SikkaClient
from pms_connect.stores import MemoryBudget, MemoryStore

from .conftest import FakeSikka

CANARY = "Zqx-canary-kind-4242"


@pytest.fixture
def credentials() -> SikkaCredentials:
    return SikkaCredentials(app_id="a", app_key="k", office_id="D1", secret_key="s", practice_id="1")


async def test_without_a_timeout_each_phase_waits_thirty_seconds(credentials) -> None:
    client = SikkaClient(credentials)
    try:
        assert client.pipeline.client.timeout == httpx.Timeout(DEFAULT_TIMEOUT) == httpx.Timeout(30.0)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (5, httpx.Timeout(5.0)),
        (2.5, httpx.Timeout(2.5)),
        (httpx.Timeout(1.0, read=9.0), httpx.Timeout(1.0, read=9.0)),
    ],
)
async def test_a_timeout_given_applies(credentials, timeout, expected) -> None:
    client = SikkaClient(credentials, timeout=timeout)
    try:
        assert client.pipeline.client.timeout == expected
    finally:
        await client.aclose()


async def test_an_http_client_of_your_own_keeps_its_timeouts_and_stays_open(credentials) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as mine:
        client = SikkaClient(credentials, http_client=mine)
        await client.aclose()
        assert client.pipeline.client is mine
        assert not mine.is_closed
        assert mine.timeout == httpx.Timeout(3.0)


async def test_the_pipeline_reads_sikka_s_rate_limit_headers(credentials) -> None:
    client = SikkaClient(credentials)
    try:
        assert client.pipeline.rate_limit_headers == SIKKA_RATE_LIMIT_HEADERS
        assert SIKKA_RATE_LIMIT_HEADERS.reset == "X-Rate-Limit-Reset"
    finally:
        await client.aclose()


@pytest.mark.parametrize("rate_limit", [120, RateLimit(requests=120)])
async def test_requests_per_minute_or_a_rate_limit_is_kept_in_the_budget_given(credentials, rate_limit) -> None:
    budget = MemoryBudget()
    client = SikkaClient(credentials, rate_limit=rate_limit, budget=budget)
    try:
        assert client.pipeline.limiter.limit == RateLimit(requests=120)
        assert client.pipeline.limiter.budget is budget
    finally:
        await client.aclose()


async def test_a_rate_limiter_is_a_budget_shared_as_it_is(credentials) -> None:
    shared = RateLimiter(RateLimit(requests=10))
    first = SikkaClient(credentials, rate_limit=shared)
    second = SikkaClient(credentials, rate_limit=shared, budget=MemoryStore().budget)
    try:
        assert first.pipeline.limiter is shared
        assert second.pipeline.limiter is shared
    finally:
        await first.aclose()
        await second.aclose()


def test_there_is_no_second_keyword_for_a_limiter(credentials) -> None:
    with pytest.raises(TypeError):
        SikkaClient(credentials, limiter=RateLimiter())  # type: ignore[call-arg]


async def test_a_row_the_domain_model_refuses_is_described_without_its_values(sikka: FakeSikka, provider) -> None:
    row = {"provider_id": "DMD1", "firstname": "Ann", "lastname": "Lee", "status": "Active"}
    sikka.get("providers").mock(return_value=sikka.page([row], api="providers"))

    def convert(parsed: w.ProviderRow) -> Provider:
        return Provider(id=parsed.provider_id, kind=CANARY)  # type: ignore[arg-type]

    pager = provider.client.pager("providers", {}, w.ProviderRow, convert)
    with pytest.raises(PmsStatusError) as caught:
        await pager.all()

    assert str(caught.value).startswith("Sikka sent a row this SDK cannot use (Provider: kind: enum)")
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value)
    assert caught.value.__cause__ is None
