"""Fixtures for talking to OpenDentalSandbox over plain httpx (no provider).

The default sandbox runs in ``"local"`` mode (no throttle), so that a test of a resource need not step the clock
between requests; the throttle has its own tests in remote mode. ``od`` wraps a client with the full
credentials' headers; ``od_for(sandbox, client, credentials)`` builds another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from pms_connect.opendental import OpenDentalCredentials
from pms_connect.testing import FakeClock, OpenDentalSandbox


def headers_for(credentials: OpenDentalCredentials) -> dict[str, str]:
    return {"Authorization": credentials.authorization, "Content-Type": "application/json"}


class Od:
    """An httpx client against the sandbox with one key's headers, and answers asserted by status."""

    def __init__(
        self, sandbox: OpenDentalSandbox, client: httpx.AsyncClient, credentials: OpenDentalCredentials
    ) -> None:
        self.sandbox = sandbox
        self.client = client
        self.headers = headers_for(credentials)

    async def request(self, method: str, path: str, *, json: Any = None, **params: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.headers, json=json, params=params or None)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.request("GET", path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def refused(self, method: str, path: str, status: int, *, json: Any = None, **params: Any) -> str:
        """The explanation of a refusal with ``status`` (plain text, as Open Dental sends it)."""
        response = await self.request(method, path, json=json, **params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    async def post(self, path: str, body: Any, status: int = 201) -> httpx.Response:
        response = await self.request("POST", path, json=body)
        assert response.status_code == status, response.text
        return response

    async def put(self, path: str, body: Any, status: int = 200) -> httpx.Response:
        response = await self.request("PUT", path, json=body)
        assert response.status_code == status, response.text
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-12-01 14:00 UTC: 08:00 in Chicago; the window holds 2026-11-01's DST change


@pytest.fixture
def sandbox(clock: FakeClock) -> OpenDentalSandbox:
    return OpenDentalSandbox(seed=7, clock=clock, mode="local")


@pytest.fixture
async def client(sandbox: OpenDentalSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as http:
        yield http


@pytest.fixture
def od(sandbox: OpenDentalSandbox, client: httpx.AsyncClient) -> Od:
    return Od(sandbox, client, sandbox.credentials)


@pytest.fixture
def od_for() -> Callable[..., Od]:
    def make(
        sandbox: OpenDentalSandbox, client: httpx.AsyncClient, credentials: OpenDentalCredentials | None = None
    ) -> Od:
        return Od(sandbox, client, credentials or sandbox.credentials)

    return make
