"""Injected faults: latency on the clock, 500/504, dropped connections, lost write answers, refusals, the
eConnector, and the test-control endpoint."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from pms_connect.testing import FakeClock, OpenDentalSandbox

from .conftest import Od, headers_for

BOOKING = {"PatNum": 21, "Op": 6, "AptDateTime": "2026-12-09 05:00:00"}


async def test_latency_is_spent_on_the_clock(od: Od, clock: FakeClock) -> None:
    od.sandbox.faults.latency = dt.timedelta(seconds=2)
    before = clock.now()
    await od.get("/operatories")
    assert clock.now() - before == dt.timedelta(seconds=2)


async def test_error_rate_answers_500_and_504_deterministically(clock: FakeClock) -> None:
    async def run(seed: int) -> list[int]:
        sandbox = OpenDentalSandbox(seed=seed, clock=clock, mode="local")
        sandbox.faults.error_rate = 0.5
        async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
            headers = headers_for(sandbox.credentials)
            return [(await client.get("/operatories", headers=headers)).status_code for _ in range(30)]

    first = await run(3)
    assert first == await run(3)
    assert set(first) == {200, 500, 504}
    assert await run(4) != first


async def test_dropped_connections_before_and_after(od: Od) -> None:
    faults = od.sandbox.faults
    faults.drop_rate = 1.0
    seen: set[type[Exception]] = set()
    for _ in range(12):
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)) as raised:
            await od.request("GET", "/operatories")
        seen.add(type(raised.value))
    assert seen == {httpx.ConnectError, httpx.RemoteProtocolError}
    assert {r.fault for r in od.sandbox.requests[-12:]} == {"connect_error", "dropped"}
    assert not any(r.delivered for r in od.sandbox.requests[-12:])
    faults.reset()
    await od.get("/operatories")


@pytest.mark.parametrize(
    ("mode", "raises", "fault"),
    [("drop", httpx.RemoteProtocolError, "answer_dropped"), ("timeout", httpx.ReadTimeout, "answer_timeout")],
)
async def test_a_lost_answer_comes_after_the_write_was_applied(
    od: Od, mode: str, raises: type[Exception], fault: str
) -> None:
    before = len(od.sandbox.data.appointments)
    od.sandbox.faults.write_answer_loss = 1.0
    od.sandbox.faults.write_answer_loss_mode = mode
    with pytest.raises(raises):
        await od.request("POST", "/appointments", json=BOOKING)
    assert len(od.sandbox.data.appointments) == before + 1
    record = od.sandbox.requests[-1]
    assert (record.status, record.fault, record.delivered) == (201, fault, False)
    await od.get("/operatories")  # reads keep their answers


async def test_a_lost_answer_may_be_a_504_although_the_write_was_applied(od: Od) -> None:
    od.sandbox.faults.write_answer_loss = 1.0
    od.sandbox.faults.write_answer_loss_mode = "error"
    before = len(od.sandbox.data.payments)
    assert "Gateway Time-out" in await od.refused("POST", "/payments", 504, json={"PayAmt": "5", "PatNum": 2})
    assert len(od.sandbox.data.payments) == before + 1


async def test_refuse_next_writes_applies_nothing(od: Od) -> None:
    before = len(od.sandbox.data.appointments)
    od.sandbox.faults.refuse_next_write(message="The office's database is locked.")
    od.sandbox.faults.refuse_next_writes(1, status=404, message="Gone missing.")
    assert await od.refused("POST", "/appointments", 400, json=BOOKING) == "The office's database is locked."
    assert await od.refused("POST", "/appointments", 404, json=BOOKING) == "Gone missing."
    await od.get("/operatories")  # reads are not writes
    await od.post("/appointments", BOOKING)
    assert len(od.sandbox.data.appointments) == before + 1
    assert [r.fault for r in od.sandbox.requests[-4:]] == ["refused", "refused", None, None]


async def test_the_econnector_is_only_in_the_remote_path(clock: FakeClock) -> None:
    for mode, expected in (("remote", 400), ("service", 200)):
        sandbox = OpenDentalSandbox(clock=clock, mode=mode)
        sandbox.faults.econnector_down = True
        async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
            response = await client.get("/operatories", headers=headers_for(sandbox.credentials))
        assert response.status_code == expected
        if expected == 400:
            assert "eConnector" in response.text


async def test_reset_switches_every_fault_off(od: Od) -> None:
    faults = od.sandbox.faults
    faults.latency = dt.timedelta(seconds=1)
    faults.error_rate = faults.drop_rate = faults.write_answer_loss = 0.5
    faults.econnector_down = True
    faults.refuse_next_writes(3)
    faults.reset()
    assert (faults.latency, faults.error_rate, faults.drop_rate, faults.write_answer_loss) == (
        dt.timedelta(0),
        0,
        0,
        0,
    )
    assert (faults.econnector_down, faults.pending_refusals) == (False, [])
    with pytest.raises(ValueError, match="write_answer_loss_mode"):
        faults.write_answer_loss_mode = "vanish"


async def test_the_control_endpoint(od: Od) -> None:
    control = od.sandbox.control_url
    assert control == "http://opendental-sandbox.test/_sandbox"
    client = od.client
    assert (await client.get(f"{control}/health")).json() == {"status": "ok"}
    view = (await client.post(f"{control}/faults", json={"error_rate": 1.0, "reject_overlaps": True})).json()
    assert (view["error_rate"], view["reject_overlaps"]) == (1.0, True)
    assert od.sandbox.reject_overlaps
    assert (await od.request("GET", "/operatories")).status_code in (500, 504)
    bad = await client.post(f"{control}/faults", json={"error_rate": 2, "throttle": False})
    assert bad.status_code == 400
    assert bad.json()["key"] == "error_rate"
    assert (await client.get(f"{control}/faults")).json()["throttle"] is True  # all or nothing
    assert (await client.post(f"{control}/reset")).json()["error_rate"] == 0
    logged = (await client.get(f"{control}/requests")).json()
    assert logged[-1]["path"] == "/api/v1/operatories"
    assert (await client.delete(f"{control}/requests")).json()["cleared"] == len(logged)
    assert od.sandbox.requests == []
    assert (await client.get(f"{control}/nothing")).status_code == 404
