"""Fixtures for talking to SikkaSandbox over plain httpx (not through the SDK provider).

Tests run with ``--import-mode=importlib``, so shared helpers come as fixtures: ``wire`` (bound to the
default sandbox and client) and ``wire_for(sandbox, client)`` for tests that build their own sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, SikkaSandbox

ERROR_KEYS = ["http_code", "http_code_desc", "error_code", "short_message", "long_message", "more_information"]


class Wire:
    """Sikka wire helpers: credentials as headers/bodies, getting a key, and exact-shape assertions."""

    def __init__(self, sandbox: SikkaSandbox, client: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.client = client

    @property
    def app_headers(self) -> dict[str, str]:
        creds = self.sandbox.credentials
        return {"App-Id": creds.app_id, "App-Key": creds.app_key.get_secret_value()}

    def grant_body(self) -> dict[str, str]:
        creds = self.sandbox.credentials
        return {
            "grant_type": "request_key",
            "office_id": creds.office_id,
            "secret_key": creds.secret_key.get_secret_value(),
            "app_id": creds.app_id,
            "app_key": creds.app_key.get_secret_value(),
        }

    def refresh_body(self, refresh_key: str) -> dict[str, str]:
        creds = self.sandbox.credentials
        return {
            "grant_type": "refresh_key",
            "refresh_key": refresh_key,
            "app_id": creds.app_id,
            "app_key": creds.app_key.get_secret_value(),
        }

    async def request_key(self) -> dict[str, str]:
        response = await self.client.post("/request_key", json=self.grant_body())
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body

    async def key_headers(self) -> dict[str, str]:
        return {"Request-Key": (await self.request_key())["request_key"]}

    @staticmethod
    def strings(value: Any) -> None:
        """Sikka answers with strings only: every scalar anywhere in the body is a str."""
        if isinstance(value, dict):
            for v in value.values():
                Wire.strings(v)
        elif isinstance(value, list):
            for v in value:
                Wire.strings(v)
        else:
            assert isinstance(value, str), f"non-string scalar {value!r}"

    @staticmethod
    def error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
        """Assert a Sikka error body: exactly the six documented keys, all strings, the given codes."""
        assert response.status_code == status, response.text
        body: dict[str, str] = response.json()
        assert list(body) == ERROR_KEYS
        Wire.strings(body)
        assert body["http_code"] == str(status)
        assert body["error_code"] == code
        return body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SikkaSandbox:
    return SikkaSandbox(seed=7, clock=clock)


@pytest.fixture
async def client(sandbox: SikkaSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as c:
        yield c


@pytest.fixture
def wire(sandbox: SikkaSandbox, client: httpx.AsyncClient) -> Wire:
    return Wire(sandbox, client)


@pytest.fixture
def wire_for() -> Callable[[SikkaSandbox, httpx.AsyncClient], Wire]:
    return Wire


@pytest.fixture
async def headers(wire: Wire) -> dict[str, str]:
    return await wire.key_headers()
