"""Authentication at the sandbox: app pair, request keys, refresh, expiry, scope, practice, rate limit."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, SikkaSandbox

TOKEN_KEYS = [
    "href",
    "request_key",
    "start_time",
    "end_time",
    "expires_in",
    "issued_to",
    "status",
    "request_count",
    "scope",
    "domain",
    "refresh_key",
]


async def test_authorized_practices_lists_practice_one_unless_show_all(wire: Any) -> None:
    response = await wire.client.get("/authorized_practices", headers=wire.app_headers)
    assert response.status_code == 200
    body = response.json()
    wire.strings(body)
    assert [item["practice_id"] for item in body["items"]] == ["1"]
    item = body["items"][0]
    creds = wire.sandbox.credentials
    assert item["office_id"] == creds.office_id
    assert item["secret_key"] == creds.secret_key.get_secret_value()
    assert item["practice_management_system"] == "Dentrix"
    assert "Request-Key-Expires" not in response.headers

    everything = await wire.client.get("/authorized_practices", params={"show": "all"}, headers=wire.app_headers)
    assert [item["practice_id"] for item in everything.json()["items"]] == ["1", "2"]


async def test_app_level_errors(wire: Any) -> None:
    client = wire.client
    wire.error(await client.get("/authorized_practices"), 400, "API1001")
    only_id = {"App-Id": wire.sandbox.credentials.app_id}
    wire.error(await client.get("/authorized_practices", headers=only_id), 400, "API1002")
    wrong = {"App-Id": wire.sandbox.credentials.app_id, "App-Key": "0" * 32}
    body = wire.error(await client.get("/authorized_practices", headers=wrong), 401, "API2003")
    assert body["http_code_desc"] == "Unauthorized"
    assert body["long_message"] == "ID or key is incorrect."


async def test_request_key_grant_answers_exactly_like_the_docs(wire: Any) -> None:
    response = await wire.client.post("/request_key", json=wire.grant_body())
    assert response.status_code == 200
    body = response.json()
    assert list(body) == TOKEN_KEYS
    wire.strings(body)
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_key"])
    assert re.fullmatch(r"[0-9a-f]{32}", body["refresh_key"])
    assert body["href"] == f"{wire.sandbox.base_url}/request_key_info?request_key={body['request_key']}"
    assert body["expires_in"] == "86400 second(s)"
    assert body["status"] == "active"
    assert body["issued_to"] == wire.sandbox.credentials.office_id
    assert body["domain"] == "Dental"
    start = datetime.fromisoformat(body["start_time"])
    end = datetime.fromisoformat(body["end_time"])
    assert end - start == timedelta(hours=24)
    scope = body["scope"].split(",")
    for api in ("appointments", "patients", "practice_schedule", "operatories", "writeback_status"):
        assert api in scope
    for write in (
        "POST appointment",
        "PUT appointments",
        "PATCH appointments",
        "POST patient",
        "POST transaction",
    ):
        assert write in scope


async def test_grant_returns_the_office_key_while_it_is_active(wire: Any, clock: FakeClock) -> None:
    first = await wire.request_key()
    clock.advance(600)
    second = await wire.request_key()
    assert second["request_key"] == first["request_key"]
    assert second["expires_in"] == f"{86400 - 600} second(s)"


async def test_grant_refusals(wire: Any) -> None:
    client, body = wire.client, wire.grant_body()
    wire.error(await client.post("/request_key", json={**body, "secret_key": "x" * 32}), 401, "API2003")
    wire.error(await client.post("/request_key", json={**body, "app_key": "x" * 32}), 401, "API2003")
    wire.error(await client.post("/request_key", json={**body, "grant_type": "password"}), 400, "API1026")
    wire.error(await client.post("/request_key", json={**body, "grant_type": ""}), 400, "API1020")
    no_app = {k: v for k, v in body.items() if k != "app_id"}
    wire.error(await client.post("/request_key", json=no_app), 400, "API1001")
    no_secret = {k: v for k, v in body.items() if k != "secret_key"}
    wire.error(await client.post("/request_key", json=no_secret), 400, "API1005")
    other = wire.sandbox.world.offices["D20913"]
    foreign = {**body, "office_id": other.office_id, "secret_key": other.secret_key}
    wire.error(await client.post("/request_key", json=foreign), 401, "API2007")


async def test_key_in_header_any_case_or_query(wire: Any) -> None:
    key = (await wire.request_key())["request_key"]
    for name in ("Request-Key", "request-key", "REQUEST-KEY"):
        assert (await wire.client.get("/practices", headers={name: key})).status_code == 200
    assert (await wire.client.get("/practices", params={"request_key": key})).status_code == 200


async def test_missing_and_unknown_keys(wire: Any) -> None:
    body = wire.error(await wire.client.get("/patients"), 400, "API1004")
    assert body["long_message"] == "Requestkey is missing."
    unknown = wire.error(await wire.client.get("/patients", headers={"Request-Key": "f" * 32}), 400, "API1004")
    assert unknown["long_message"] == "Requestkey is missing/invalid"


async def test_request_key_expires_header_and_expiry_by_clock(wire: Any, clock: FakeClock) -> None:
    token = await wire.request_key()
    headers = {"Request-Key": token["request_key"]}
    response = await wire.client.get("/practices", headers=headers)
    expires = parsedate_to_datetime(response.headers["Request-Key-Expires"])
    assert expires == datetime.fromisoformat(token["end_time"]).replace(tzinfo=timezone.utc)
    assert response.headers["Request-Key-Expires"].endswith("GMT")

    clock.advance(timedelta(hours=24))
    expired = await wire.client.get("/practices", headers=headers)
    body = wire.error(expired, 400, "API1025")
    assert body["short_message"] == "Request key expired"
    assert parsedate_to_datetime(expired.headers["Request-Key-Expires"]) == expires

    fresh = await wire.request_key()
    assert fresh["request_key"] != token["request_key"]
    assert (await wire.client.get("/practices", headers={"Request-Key": fresh["request_key"]})).status_code == 200


async def test_key_lifetime_is_configurable(clock: FakeClock, wire_for: Any) -> None:
    sandbox = SikkaSandbox(clock=clock, key_lifetime=timedelta(minutes=5))
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        token = await wire.request_key()
        assert token["expires_in"] == "300 second(s)"
        headers = {"Request-Key": token["request_key"]}
        clock.advance(299)
        assert (await client.get("/practices", headers=headers)).status_code == 200
        clock.advance(1)
        wire.error(await client.get("/practices", headers=headers), 400, "API1025")


async def test_refresh_rotates_both_keys(wire: Any) -> None:
    client = wire.client
    first = await wire.request_key()
    response = await client.post("/request_key", json=wire.refresh_body(first["refresh_key"]))
    assert response.status_code == 200
    second = response.json()
    assert list(second) == TOKEN_KEYS
    assert second["request_key"] != first["request_key"]
    assert second["refresh_key"] != first["refresh_key"]
    assert (await client.get("/practices", headers={"Request-Key": second["request_key"]})).status_code == 200
    # the used refresh key is retired; the old request key lives until its own end time
    wire.error(await client.post("/request_key", json=wire.refresh_body(first["refresh_key"])), 401, "API2003")
    assert (await client.get("/practices", headers={"Request-Key": first["request_key"]})).status_code == 200
    # a later request_key grant hands out the newest key with the live refresh key
    again = await wire.request_key()
    assert (again["request_key"], again["refresh_key"]) == (second["request_key"], second["refresh_key"])


async def test_refresh_works_after_expiry(wire: Any) -> None:
    first = await wire.request_key()
    wire.sandbox.faults.expire_keys()
    response = await wire.client.post("/request_key", json=wire.refresh_body(first["refresh_key"]))
    assert response.status_code == 200
    assert response.json()["expires_in"] == "86400 second(s)"


async def test_request_key_info_and_deletes(wire: Any) -> None:
    client = wire.client
    token = await wire.request_key()
    headers = {"Request-Key": token["request_key"]}
    info = await client.get("/request_key_info", headers=headers)
    assert info.status_code == 200
    assert list(info.json()) == TOKEN_KEYS[:-1]
    assert info.json()["status"] == "active"

    deleted = await client.delete("/request_key", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json() == {
        "http_code": "200",
        "http_code_desc": "OK",
        "error_code": "API0002",
        "short_message": "OK",
        "long_message": "Request Session terminated successfully.",
        "more_information": "",
    }
    wire.error(await client.get("/practices", headers=headers), 400, "API1025")
    assert (await client.get("/request_key_info", headers=headers)).json()["status"] == "inactive"

    refresh_headers = {**wire.app_headers, "Refresh-Key": token["refresh_key"]}
    assert (await client.delete("/refresh_key", headers=refresh_headers)).json()["error_code"] == "API0002"
    wire.error(await client.delete("/refresh_key", headers=refresh_headers), 401, "API2003")
    wire.error(await client.post("/request_key", json=wire.refresh_body(token["refresh_key"])), 401, "API2003")


async def test_scope_limits_the_apis_a_key_may_call(wire: Any) -> None:
    world = wire.sandbox.world
    app = world.apps[wire.sandbox.credentials.app_id]
    world.apps[app.app_id] = dataclasses.replace(app, scope=tuple(s for s in app.scope if s != "patients"))
    token = await wire.request_key()
    assert "patients" not in token["scope"].split(",")
    headers = {"Request-Key": token["request_key"]}
    wire.error(await wire.client.get("/patients", headers=headers), 401, "API2004")
    assert (await wire.client.get("/providers", headers=headers)).status_code == 200


async def test_practice_outside_the_office_is_not_authorized(wire: Any, headers: dict[str, str]) -> None:
    wire.error(await wire.client.get("/patients", params={"practice_id": "9"}, headers=headers), 401, "API2007")
    assert (await wire.client.get("/patients", params={"practice_id": "2"}, headers=headers)).status_code == 200


@pytest.mark.parametrize("path", ["/practices", "/authorized_practices"])
async def test_rate_limit_headers_and_429(clock: FakeClock, wire_for: Any, path: str) -> None:
    sandbox = SikkaSandbox(clock=clock, rate_limit=3)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        token = await wire.request_key()  # spends from the app's budget
        headers = {"Request-Key": token["request_key"], **wire.app_headers}
        if path == "/authorized_practices":
            clock.advance(60)  # a fresh app window
        seen = []
        for _ in range(3):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit-Limit"] == "3"
            seen.append(response.headers["X-Rate-Limit-Remaining"])
        assert seen == ["2", "1", "0"]
        clock.advance(20)
        limited = await client.get(path, headers=headers)
        body = wire.error(limited, 429, "API2012")
        assert body["http_code_desc"] == "Too Many Requests"
        assert limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.headers["X-Rate-Limit-Reset"] == "40"
        assert "Retry-After" not in limited.headers
        clock.advance(40)
        again = await client.get(path, headers=headers)
        assert again.status_code == 200
        assert again.headers["X-Rate-Limit-Reset"] == "60"
        assert again.headers["X-Rate-Limit-Remaining"] == "2"


async def test_rate_limit_is_shared_by_keys_of_one_office(clock: FakeClock, wire_for: Any) -> None:
    sandbox = SikkaSandbox(clock=clock, rate_limit=2)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        first = await wire.request_key()
        sandbox.faults.expire_keys()
        second = await wire.request_key()
        assert first["request_key"] != second["request_key"]
        headers = {"Request-Key": second["request_key"]}
        assert (await client.get("/practices", headers=headers)).status_code == 200
        assert (await client.get("/practices", headers=headers)).status_code == 200
        wire.error(await client.get("/practices", headers=headers), 429, "API2012")


async def test_credentials_are_deterministic_and_print_safe(sandbox: SikkaSandbox) -> None:
    creds = sandbox.credentials
    text = repr(creds) + str(creds)
    assert creds.app_key.get_secret_value() not in text
    assert creds.secret_key.get_secret_value() not in text
    assert creds.practice_id == "1"
    assert SikkaSandbox(clock=FakeClock(), seed=99).credentials == creds
    assert sandbox.base_url == "http://sikka-sandbox.test/v4"
