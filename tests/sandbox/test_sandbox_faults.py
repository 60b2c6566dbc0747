"""Injected faults, the request log, odd routes, serve mode and the provider hook."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, SandboxFaults, SikkaSandbox


async def test_latency_is_spent_on_the_clock(wire: Any, headers: dict[str, str], clock: FakeClock) -> None:
    wire.sandbox.faults.latency = dt.timedelta(seconds=2)
    before = clock.now()
    assert (await wire.client.get("/practices", headers=headers)).status_code == 200
    assert clock.now() - before == dt.timedelta(seconds=2)


async def test_error_rate_answers_sikka_5xx(wire: Any, headers: dict[str, str]) -> None:
    sandbox = wire.sandbox
    sandbox.faults.error_rate = 1.0
    statuses = set()
    for _ in range(20):
        response = await wire.client.get("/patients", headers=headers)
        code = {500: "API2001", 503: "API2002"}[response.status_code]
        wire.error(response, response.status_code, code)
        statuses.add(response.status_code)
    assert statuses == {500, 503}
    assert sandbox.requests[-1].fault == "error"
    assert sandbox.requests[-1].status in (500, 503)
    sandbox.faults.error_rate = 0.0
    assert (await wire.client.get("/patients", headers=headers)).status_code == 200


async def test_faults_are_deterministic_per_seed(clock: FakeClock, wire_for: Any) -> None:
    async def run(seed: int) -> list[int]:
        sandbox = SikkaSandbox(seed=seed, clock=clock)
        async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
            headers = await wire_for(sandbox, client).key_headers()
            sandbox.faults.error_rate = 0.5
            return [(await client.get("/practices", headers=headers)).status_code for _ in range(30)]

    first, second = await run(3), await run(3)
    assert first == second
    assert {200, 500, 503} <= set(first)
    assert await run(4) != first


async def test_dropped_connections_before_and_after(wire: Any, headers: dict[str, str]) -> None:
    sandbox = wire.sandbox
    sandbox.faults.drop_rate = 1.0
    seen: set[type[Exception]] = set()
    for _ in range(12):
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)) as raised:
            await wire.client.get("/practices", headers=headers)
        seen.add(type(raised.value))
    assert seen == {httpx.ConnectError, httpx.RemoteProtocolError}
    faults = [r.fault for r in sandbox.requests[-12:]]
    assert set(faults) == {"connect_error", "dropped"}
    for record in sandbox.requests[-12:]:
        assert not record.delivered
        assert (record.status is None) == (record.fault == "connect_error")


async def test_a_dropped_write_may_still_be_queued(wire: Any, headers: dict[str, str], clock: FakeClock) -> None:
    sandbox = wire.sandbox
    sandbox.faults.drop_rate = 1.0
    outcomes = []
    for n in range(10):
        body = {"firstname": f"Drop{n}", "lastname": "Case", "provider_id": "DMD1", "practice_id": "1"}
        before = len(sandbox.writebacks)
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)) as raised:
            await wire.client.post("/patient", json=body, headers=headers)
        queued = len(sandbox.writebacks) - before
        outcomes.append((type(raised.value), queued))
    assert (httpx.ConnectError, 0) in outcomes
    assert (httpx.RemoteProtocolError, 1) in outcomes
    assert all(queued == (kind is httpx.RemoteProtocolError) for kind, queued in outcomes)
    sandbox.faults.drop_rate = 0.0
    clock.advance(90)
    completed = await sandbox.run_writebacks()
    assert len(completed) == sum(q for _, q in outcomes)
    assert all(r.state == "success" for r in completed)


async def test_rate_limit_storm(wire: Any, headers: dict[str, str]) -> None:
    wire.sandbox.faults.rate_limit_storm(2)
    for _ in range(2):
        response = await wire.client.get("/practices", headers=headers)
        wire.error(response, 429, "API2012")
        assert response.headers["X-Rate-Limit-Remaining"] == "0"
        assert response.headers["X-Rate-Limit-Limit"] == "250"
        assert int(response.headers["X-Rate-Limit-Reset"]) > 0
        assert wire.sandbox.requests[-1].fault == "rate_limit_storm"
    ok = await wire.client.get("/practices", headers=headers)
    assert ok.status_code == 200
    assert ok.headers["X-Rate-Limit-Remaining"] == "249"  # the storm did not spend the real budget


async def test_expire_keys(wire: Any, headers: dict[str, str]) -> None:
    wire.sandbox.faults.expire_keys()
    wire.error(await wire.client.get("/practices", headers=headers), 400, "API1025")


async def test_utility_status_shows_in_data_sync_status(wire: Any) -> None:
    def status() -> Any:
        return wire.client.get("/data_sync_status", headers=wire.app_headers)

    assert {i["status"] for i in (await status()).json()["items"]} == {"refresh"}
    wire.sandbox.faults.utility_online = False
    assert wire.sandbox.faults.utility_online is False
    assert {i["status"] for i in (await status()).json()["items"]} == {"not_refresh"}


async def test_data_insert_header(wire: Any, headers: dict[str, str]) -> None:
    response = await wire.client.get("/patients", params={"limit": "1"}, headers=headers)
    assert response.headers["Data-Insert"] == "completed"
    assert "Data-Insert" not in (await wire.client.get("/providers", headers=headers)).headers
    wire.sandbox.faults.data_insert_in_progress = True
    response = await wire.client.get("/appointments", params={"limit": "1"}, headers=headers)
    assert response.headers["Data-Insert"] == "in progress"


async def test_reset_turns_everything_off(sandbox: SikkaSandbox) -> None:
    faults: SandboxFaults = sandbox.faults
    faults.latency = dt.timedelta(seconds=1)
    faults.error_rate = faults.drop_rate = 0.5
    faults.utility_online = False
    faults.rate_limit_storm(3)
    faults.fail_next_writebacks(2)
    faults.reset()
    assert (faults.latency, faults.error_rate, faults.drop_rate, faults.utility_online) == (
        dt.timedelta(0),
        0.0,
        0.0,
        True,
    )
    assert faults.take_storm() is False


async def test_request_log(wire: Any, headers: dict[str, str]) -> None:
    sandbox = wire.sandbox
    sandbox.requests.clear()
    await wire.client.get("/patients", params={"lastname": "Smith", "limit": "5"}, headers=headers)
    await wire.client.get("/patients", params={"patient_id": "nobody"}, headers=headers)
    await wire.client.get("/nowhere", headers=headers)
    log = sandbox.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/v4/patients", 200),
        ("GET", "/v4/patients", 204),
        ("GET", "/v4/nowhere", 404),
    ]
    assert log[0].params == {"lastname": "Smith", "limit": "5"}
    assert all(r.delivered for r in log)


async def test_unknown_routes_and_methods(wire: Any, headers: dict[str, str]) -> None:
    body = wire.error(await wire.client.get("/claims_that_do_not_exist", headers=headers), 404, "API2009")
    assert body["short_message"] == "Resource not found"
    wire.error(await wire.client.delete("/patients", headers=headers), 405, "API2014")


def test_serve_runs_the_same_app_on_loopback(sandbox: SikkaSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        seen.update(kwargs, app=app, base_url=sandbox.base_url)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    sandbox.serve(port=9911)
    assert seen["app"] is sandbox.app
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 9911)
    assert seen["base_url"] == "http://127.0.0.1:9911/v4"
    assert sandbox.base_url == "http://sikka-sandbox.test/v4"


async def test_provider_is_wired_to_the_sandbox(sandbox: SikkaSandbox) -> None:
    pytest.importorskip("pms_connect.sikka")
    async with sandbox.provider() as pms:
        check = await pms.test_connection()
    assert check.ok, check.error
    assert sandbox.requests
    assert all(r.path.startswith("/v4/") for r in sandbox.requests)


async def test_large_answers_are_gzipped_when_asked(wire: Any, headers: dict[str, str]) -> None:
    response = await wire.client.get("/patients", headers={**headers, "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["limit"] == "50"
    plain = await wire.client.get("/patients", headers={**headers, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
