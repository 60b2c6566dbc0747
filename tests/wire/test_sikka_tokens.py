"""Request keys on the wire: the grant and refresh bodies, lifetimes, refresh before expiry, fallback to a full
grant, replay after API1025, and single-flight under concurrency."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from pms_connect.errors import AuthenticationError, KeyExpiredError

from .conftest import key_grant

LIFETIME = 85603  # "85603 second(s)"
REFRESH_AT = LIFETIME - 3600  # the manager refreshes an hour before expiry


def practice() -> dict[str, str]:
    return {"practice_id": "1", "name": "Cedar Mountain Dental", "cust_id": "1"}


@pytest.fixture
def practices(sikka):
    return sikka.get("practices").mock(return_value=sikka.page([practice()], api="practices"))


async def test_first_call_sends_the_request_key_grant_with_the_exact_json_body(sikka, provider, practices):
    await provider.practices.list().all()

    [grant] = sikka.grant_route.calls
    request = grant.request
    assert (request.method, request.url.path) == ("POST", "/v4/request_key")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "grant_type": "request_key",
        "office_id": "D20006",
        "secret_key": "secret-key-1",
        "app_id": "app-1",
        "app_key": "app-key-1",
    }
    assert "Request-Key" not in request.headers


async def test_granted_request_key_is_sent_as_the_request_key_header(sikka, provider, practices):
    await provider.practices.list().all()

    assert practices.calls.last.request.headers["Request-Key"] == "request-key-1"
    assert "request_key" not in practices.calls.last.request.url.params


async def test_expires_in_with_its_unit_suffix_sets_the_key_lifetime(sikka, provider, clock):
    token = await provider.client.tokens.get()

    assert token.access.get_secret_value() == "request-key-1"
    assert token.refresh is not None
    assert token.refresh.get_secret_value() == "refresh-key-1"
    assert token.issued_at == clock.now()
    assert token.expires_at - token.issued_at == timedelta(seconds=LIFETIME)


async def test_scope_is_split_into_a_tuple(sikka, provider):
    token = await provider.client.tokens.get()

    assert token.scope == ("practices", "providers", "operatories", "appointments", "patients", "transactions")


@pytest.mark.parametrize("expires_in", ["", "   "])
async def test_blank_expires_in_means_sikkas_24_hours(sikka, provider, expires_in):
    grant = {
        "request_key": "k",
        "refresh_key": "r",
        "expires_in": expires_in,
        "scope": "",
        "status": "active",
        "start_time": "",
        "end_time": "",
    }
    sikka.grant_route.mock(side_effect=None, return_value=httpx.Response(200, json=grant))

    token = await provider.client.tokens.get()

    assert token.expires_at - token.issued_at == timedelta(hours=24)


async def test_key_is_not_refreshed_before_an_hour_ahead_of_expiry(sikka, provider, practices, clock):
    await provider.practices.list().all()
    clock.advance(REFRESH_AT - 1)

    await provider.practices.list().all()

    assert len(sikka.grant_bodies) == 1
    assert practices.calls.last.request.headers["Request-Key"] == "request-key-1"


async def test_key_is_refreshed_with_the_refresh_grant_an_hour_ahead_of_expiry(sikka, provider, practices, clock):
    await provider.practices.list().all()
    clock.advance(REFRESH_AT + 1)

    await provider.practices.list().all()

    assert sikka.grant_bodies[1] == {
        "grant_type": "refresh_key",
        "refresh_key": "refresh-key-1",
        "app_id": "app-1",
        "app_key": "app-key-1",
    }
    assert practices.calls.last.request.headers["Request-Key"] == "request-key-2"


async def test_the_refresh_key_from_the_latest_answer_is_the_one_used_next(sikka, provider, practices, clock):
    await provider.practices.list().all()
    clock.advance(REFRESH_AT + 1)
    await provider.practices.list().all()
    clock.advance(REFRESH_AT + 1)

    await provider.practices.list().all()

    assert [b.get("refresh_key") for b in sikka.grant_bodies] == [None, "refresh-key-1", "refresh-key-2"]
    assert practices.calls.last.request.headers["Request-Key"] == "request-key-3"


async def test_refused_refresh_falls_back_to_a_full_grant(sikka, provider, practices, clock):
    bodies = sikka.grant_bodies
    normal = sikka.grant_route.side_effect

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["grant_type"] == "refresh_key":
            bodies.append(json.loads(request.content))
            return sikka.error("API2003", 401)
        return normal(request)

    sikka.grant_route.mock(side_effect=answer)
    await provider.practices.list().all()
    clock.advance(REFRESH_AT + 1)

    await provider.practices.list().all()

    assert [b["grant_type"] for b in bodies] == ["request_key", "refresh_key", "request_key"]
    assert practices.calls.last.request.headers["Request-Key"] == "request-key-3"
    assert provider.client.tokens.refresh_count == 3


async def test_expired_key_mid_pagination_refreshes_once_and_replays_that_page(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [{"patient_id": str(n), "firstname": f"F{n}", "lastname": f"L{n}"} for n in range(1, 7)]
    serve = sikka.paged(rows, api="patients")
    expired_once: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "1" and not expired_once:
            expired_once.append(request.headers["Request-Key"])
            return sikka.error("API1025", 400)
        return serve(request)

    route = sikka.get("patients").mock(side_effect=answer)

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == ["1", "2", "3", "4", "5", "6"]
    assert [b["grant_type"] for b in sikka.grant_bodies] == ["request_key", "refresh_key"]
    page_two = [c.request.headers["Request-Key"] for c in route.calls if c.request.url.params["offset"] == "1"]
    assert page_two == ["request-key-1", "request-key-2"]  # refused with the old key, replayed with the new


async def test_a_key_refused_twice_is_raised_after_one_refresh(sikka, provider):
    route = sikka.get("practices").mock(return_value=sikka.error("API1025", 400))

    with pytest.raises(KeyExpiredError):
        await provider.practices.list().all()

    assert route.call_count == 2
    assert [b["grant_type"] for b in sikka.grant_bodies] == ["request_key", "refresh_key"]


async def test_100_concurrent_first_calls_send_exactly_one_grant(sikka, provider, practices):
    results = await asyncio.gather(*(provider.practices.list().all() for _ in range(100)))

    assert len(results) == 100
    assert sikka.grant_route.call_count == 1
    assert practices.call_count == 100
    assert {c.request.headers["Request-Key"] for c in practices.calls} == {"request-key-1"}


async def test_100_concurrent_calls_past_refresh_time_send_exactly_one_refresh(sikka, provider, practices, clock):
    await provider.practices.list().all()
    clock.advance(REFRESH_AT + 1)

    await asyncio.gather(*(provider.practices.list().all() for _ in range(100)))

    assert [b["grant_type"] for b in sikka.grant_bodies] == ["request_key", "refresh_key"]
    assert {c.request.headers["Request-Key"] for c in practices.calls[1:]} == {"request-key-2"}


async def test_100_concurrent_calls_refused_as_expired_send_exactly_one_refresh(sikka, provider):
    await provider.client.tokens.get()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Request-Key"] == "request-key-1":
            return sikka.error("API1025", 400)
        return sikka.page([practice()], api="practices")

    sikka.get("practices").mock(side_effect=answer)

    results = await asyncio.gather(*(provider.practices.list().all() for _ in range(100)))

    assert all(len(r) == 1 for r in results)
    assert [b["grant_type"] for b in sikka.grant_bodies] == ["request_key", "refresh_key"]


async def test_request_key_expires_gives_the_keys_real_end_when_it_is_sooner(sikka, provider, clock):
    """gs.txt: every answer carries ``Request-Key-Expires: <http-date> GMT``, the key's real expiry."""
    grant = key_grant("request-key-1", "refresh-key-1")  # expires_in says 85603 s
    # The FakeClock is at 2026-12-01 14:00 UTC: the header says the key ends at 20:00, six hours from now.
    headers = {"Request-Key-Expires": "Tue, 01 Dec 2026 20:00:00 GMT"}
    sikka.grant_route.mock(side_effect=None, return_value=httpx.Response(200, json=grant, headers=headers))

    token = await provider.client.tokens.get()

    assert token.expires_at == datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("header", ["Wed, 02 Dec 2026 23:00:00 GMT", "not a date", ""])
async def test_a_later_or_unreadable_request_key_expires_leaves_expires_in_in_charge(sikka, provider, header):
    grant = key_grant("request-key-1", "refresh-key-1")
    sikka.grant_route.mock(
        side_effect=None, return_value=httpx.Response(200, json=grant, headers={"Request-Key-Expires": header})
    )

    token = await provider.client.tokens.get()

    assert token.expires_at - token.issued_at == timedelta(seconds=LIFETIME)


@pytest.mark.parametrize(
    ("status", "expires_in"), [("expired", "85603 second(s)"), ("inactive", ""), ("active", "0 second(s)")]
)
async def test_a_grant_of_a_key_that_is_not_active_is_refused_not_taken_for_24_hours(
    sikka, provider, status, expires_in
):
    grant = {**key_grant("request-key-1", "refresh-key-1"), "status": status, "expires_in": expires_in}
    sikka.grant_route.mock(side_effect=None, return_value=httpx.Response(200, json=grant))

    with pytest.raises(AuthenticationError, match="not active"):
        await provider.client.tokens.get()
