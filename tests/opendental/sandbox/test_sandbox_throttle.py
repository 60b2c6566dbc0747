"""The remote throttle, per customer key, on the sandbox clock: 5 s read-only, 1 s otherwise, none locally."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pms_connect.opendental import OpenDentalCredentials
from pms_connect.testing import FakeClock, OpenDentalSandbox

from .conftest import headers_for


@pytest.fixture
def remote(clock: FakeClock) -> OpenDentalSandbox:
    return OpenDentalSandbox(clock=clock, mode="remote")


@pytest.fixture
async def http(remote: OpenDentalSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=remote.transport, base_url=remote.base_url) as client:
        yield client


async def status(http: httpx.AsyncClient, credentials: OpenDentalCredentials) -> int:
    return (await http.get("/operatories", headers=headers_for(credentials))).status_code


async def test_a_full_key_gets_one_request_a_second(
    remote: OpenDentalSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    creds = remote.credentials
    assert await status(http, creds) == 200
    response = await http.get("/operatories", headers=headers_for(creds))
    assert response.status_code == 429
    assert "one per 1 second" in response.text
    assert remote.requests[-1].throttled
    clock.advance(0.999)
    assert await status(http, creds) == 429
    clock.advance(0.001)  # a second after the first request's arrival (refusals do not restart it)
    assert await status(http, creds) == 200


async def test_a_read_only_key_gets_one_request_per_five_seconds(
    remote: OpenDentalSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    creds = remote.read_only_credentials
    assert await status(http, creds) == 200
    clock.advance(4)
    assert await status(http, creds) == 429
    clock.advance(1)
    assert await status(http, creds) == 200


async def test_keys_are_throttled_apart_and_enterprise_is_faster(
    remote: OpenDentalSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    fast = remote.add_key("enterprise", ["ReadAll", "Appointments", "Enterprise"])
    assert await status(http, remote.credentials) == 200
    assert await status(http, remote.read_only_credentials) == 200  # another customer key: its own budget
    assert await status(http, fast) == 200
    clock.advance(0.5)
    assert await status(http, fast) == 200
    assert await status(http, remote.credentials) == 429


async def test_what_an_over_rate_request_gets_is_a_switch(
    remote: OpenDentalSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    creds = remote.credentials
    remote.throttle_answer = "400"
    assert await status(http, creds) == 200
    assert await status(http, creds) == 400
    remote.throttle_answer = "delay"
    clock.advance(1)
    assert await status(http, creds) == 200
    before = clock.now()
    assert await status(http, creds) == 200  # waited its turn on the clock, then served
    assert (clock.now() - before).total_seconds() == pytest.approx(1.0)
    remote.throttle = False
    assert [await status(http, creds) for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("mode", ["service", "local"])
async def test_the_api_service_and_the_local_api_are_not_throttled(clock: FakeClock, mode: str) -> None:
    sandbox = OpenDentalSandbox(clock=clock, mode=mode)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        for creds in (sandbox.credentials, sandbox.read_only_credentials):
            assert [await status(client, creds) for _ in range(5)] == [200] * 5


async def test_an_unauthenticated_request_spends_no_turn(
    remote: OpenDentalSandbox, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/operatories", headers={"Content-Type": "application/json"})).status_code == 401
    assert await status(http, remote.credentials) == 200
