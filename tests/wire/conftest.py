"""A mocked Sikka ONE for wire-level tests: Sikka-shaped answers (every scalar a string), a request_key
endpoint that hands out numbered keys, and providers on a FakeClock. No network: respx answers everything."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
import respx

from pms_connect.sikka import SikkaCredentials, SikkaProvider
from pms_connect.testing.clock import FakeClock

BASE_URL = "https://api.sikkasoft.com/v4"
PRACTICE_ZONE = "America/Chicago"


def sikka_list(
    items: Sequence[Mapping[str, str]],
    *,
    api: str,
    offset: int = 0,
    limit: int = 50,
    total_count: int | None = -1,
) -> dict[str, Any]:
    """Sikka's list envelope, strings throughout. ``total_count=-1`` means len(items); None leaves it out."""
    for item in items:
        for name, value in item.items():
            assert isinstance(value, str), f"Sikka sends strings only; {name}={value!r}"
    total = len(items) if total_count == -1 else total_count

    def link(page: int) -> str:
        return f"{BASE_URL}/{api}?offset={page}&limit={limit}"

    last = max(0, math.ceil(total / limit) - 1) if total is not None else offset
    envelope: dict[str, Any] = {
        "offset": str(offset),
        "limit": str(limit),
        "execution_time": "12",
        "pagination": {
            "first": link(0),
            "previous": link(offset - 1) if offset > 0 else "",
            "current": link(offset),
            "next": link(offset + 1) if offset < last else "",
            "last": link(last),
        },
        "items": [dict(item) for item in items],
    }
    if total is not None:
        envelope["total_count"] = str(total)
    return envelope


def sikka_error_body(code: str, status: int, *, long_message: str = "") -> dict[str, str]:
    return {
        "http_code": str(status),
        "http_code_desc": httpx.codes.get_reason_phrase(status).replace(" ", ""),
        "error_code": code,
        "short_message": "error",
        "long_message": long_message,
        "more_information": "",
    }


def key_grant(
    request_key: str,
    refresh_key: str,
    *,
    expires_in: str = "85603 second(s)",
    scope: str = "practices,providers,operatories,appointments,patients,transactions",
) -> dict[str, str]:
    return {
        "href": f"{BASE_URL}/request_key_info?request_key={request_key}",
        "request_key": request_key,
        "start_time": "2026-12-01T08:00:00",
        "end_time": "2026-12-02T08:00:00",
        "expires_in": expires_in,
        "issued_to": "D20006",
        "status": "active",
        "request_count": "1",
        "scope": scope,
        "domain": "Dental",
        "refresh_key": refresh_key,
    }


class FakeSikka:
    """The respx router plus Sikka-shaped answer builders.

    ``POST /request_key`` answers grant n with ``request-key-n`` / ``refresh-key-n`` (or ``key_prefix``
    variants) and records every grant body in ``grant_bodies``.
    """

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.grant_bodies: list[dict[str, str]] = []
        self.key_prefix = "request-key-"
        self.refresh_prefix = "refresh-key-"
        self.grant_route = router.post("/request_key").mock(side_effect=self._grant)

    def _grant(self, request: httpx.Request) -> httpx.Response:
        self.grant_bodies.append(json.loads(request.content))
        n = len(self.grant_bodies)
        return httpx.Response(200, json=key_grant(f"{self.key_prefix}{n}", f"{self.refresh_prefix}{n}"))

    def route(self, method: str, path: str) -> respx.Route:
        return self.router.route(method=method, path=f"/{path}")

    def get(self, path: str) -> respx.Route:
        return self.route("GET", path)

    @staticmethod
    def page(
        items: Sequence[Mapping[str, str]],
        *,
        api: str,
        offset: int = 0,
        limit: int = 50,
        total_count: int | None = -1,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        body = sikka_list(items, api=api, offset=offset, limit=limit, total_count=total_count)
        return httpx.Response(200, json=body, headers=dict(headers or {}))

    @staticmethod
    def error(
        code: str, status: int, *, long_message: str = "", headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        body = sikka_error_body(code, status, long_message=long_message)
        return httpx.Response(status, json=body, headers=dict(headers or {}))

    @staticmethod
    def no_content() -> httpx.Response:
        return httpx.Response(204)

    def hours(self, start: str = "08:00", end: str = "17:00") -> respx.Route:
        """The practice works ``start`` to ``end`` every day (``end`` "00:00": until midnight): the schedule
        an appointments list consults to decide whether to read the day before its window."""
        row: dict[str, str] = {"practice_id": "1", "resource_type": "Practice", "resource_id": "1", "date": ""}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
            row[f"{day}_start_1"] = start
            row[f"{day}_end_1"] = end
        return self.get("practice_schedule").mock(return_value=self.page([row], api="practice_schedule"))

    def paged(
        self, rows: Sequence[Mapping[str, str]], *, api: str, total_count: bool = True
    ) -> Callable[[httpx.Request], httpx.Response]:
        """A side effect serving ``rows`` honestly: ``offset`` is a page index, ``limit`` the page size;
        an empty page is a 204, as at Sikka."""

        def answer(request: httpx.Request) -> httpx.Response:
            offset = int(request.url.params["offset"])
            limit = int(request.url.params["limit"])
            chunk = rows[offset * limit : (offset + 1) * limit]
            if not chunk:
                return httpx.Response(204)
            total = len(rows) if total_count else None
            return self.page(chunk, api=api, offset=offset, limit=limit, total_count=total)

        return answer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def credentials() -> SikkaCredentials:
    return SikkaCredentials(
        app_id="app-1", app_key="app-key-1", office_id="D20006", secret_key="secret-key-1", practice_id="1"
    )


@pytest.fixture
def sikka() -> Iterator[FakeSikka]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield FakeSikka(router)


@pytest.fixture
async def make_provider(
    sikka: FakeSikka, clock: FakeClock, credentials: SikkaCredentials
) -> AsyncIterator[Callable[..., SikkaProvider]]:
    """Build SikkaProviders on the FakeClock against the mocked Sikka; all are closed afterwards."""
    made: list[SikkaProvider] = []

    def make(**overrides: Any) -> SikkaProvider:
        kwargs: dict[str, Any] = {"timezone": PRACTICE_ZONE, "clock": clock}
        kwargs.update(overrides)
        creds = kwargs.pop("credentials", credentials)
        pms = SikkaProvider(creds, **kwargs)
        made.append(pms)
        return pms

    yield make
    for pms in made:
        await pms.aclose()


@pytest.fixture
def provider(make_provider: Callable[..., SikkaProvider]) -> SikkaProvider:
    return make_provider()
