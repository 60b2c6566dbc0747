"""Lost write answers (``write_answer_loss``, every mode) and a late writeback log (``log_delay``), in process."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.testing import FakeClock, SandboxFaults, SikkaSandbox


def patient(n: int = 0) -> dict[str, str]:
    return {"firstname": f"Lost{n}", "lastname": "Answer", "provider_id": "DMD1", "practice_id": "1"}


def writebacks_window(sandbox: SikkaSandbox) -> dict[str, str]:
    day = sandbox.today.isoformat()
    return {"startdate": day, "enddate": day}


async def test_drop_raises_after_the_write_was_queued(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.faults.write_answer_loss = 1.0  # mode "drop" is the default
    assert sandbox.faults.write_answer_loss_mode == "drop"
    with pytest.raises(httpx.RemoteProtocolError):
        await wire.client.post("/patient", json=patient(), headers=headers)
    (record,) = sandbox.writebacks
    assert (record.kind, record.state, record.body["firstname"]) == ("new_patient", "pending", "Lost0")
    log = sandbox.requests[-1]
    assert (log.method, log.path, log.status, log.fault) == ("POST", "/v4/patient", 201, "answer_dropped")
    assert log.delivered is False
    # the write is real: it completes as any other
    clock.advance(90)
    (done,) = await sandbox.run_writebacks()
    assert done.state == "success"
    assert sandbox.world.patients[done.created_id].firstname == "Lost0"


async def test_timeout_raises_read_timeout_at_once_in_process(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.faults.write_answer_loss = 1.0
    sandbox.faults.write_answer_loss_mode = "timeout"
    before = clock.now()
    with pytest.raises(httpx.ReadTimeout):
        await wire.client.post("/patient", json=patient(), headers=headers)
    assert clock.now() == before  # nothing waits in process (answer_hold is for served mode)
    assert [r.state for r in sandbox.writebacks] == ["pending"]
    assert (sandbox.requests[-1].status, sandbox.requests[-1].fault) == (201, "answer_timeout")
    assert not sandbox.requests[-1].delivered


async def test_error_answers_500_after_the_write_was_queued(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    sandbox.faults.write_answer_loss = 1.0
    sandbox.faults.write_answer_loss_mode = "error"
    response = await wire.client.post("/patient", json=patient(), headers=headers)
    body = wire.error(response, 500, "API2001")
    assert body["short_message"] == "Internal Error"
    assert response.headers["X-Rate-Limit-Limit"] == "250"  # stamped like any answer
    assert "Request-Key-Expires" in response.headers
    assert [r.state for r in sandbox.writebacks] == ["pending"]
    log = sandbox.requests[-1]
    assert (log.status, log.fault, log.delivered) == (500, "answer_error", False)


@pytest.mark.parametrize("mode", ["drop", "timeout", "error"])
async def test_updates_and_status_changes_lose_answers_too(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, mode: str
) -> None:
    appt = next(
        a
        for a in sandbox.world.appointments.values()
        if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today
    )
    sandbox.faults.write_answer_loss = 1.0
    sandbox.faults.write_answer_loss_mode = mode
    bodies = [
        ("PATCH", {"op": "replace", "path": "/appointment_status", "value": "Confirmed", "practice_id": "1"}),
        ("PUT", {"practice_id": "1", "provider_id": appt.provider_id, "length": str(appt.length + 10)}),
    ]
    for method, body in bodies:
        request = wire.client.build_request(method, f"/appointments/{appt.appointment_sr_no}", json=body)
        request.headers.update(headers)
        if mode == "error":
            wire.error(await wire.client.send(request), 500, "API2001")
        else:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadTimeout)):
                await wire.client.send(request)
    assert [(r.method, r.kind) for r in sandbox.writebacks] == [
        ("PATCH", "appointment_status"),
        ("PUT", "update_appointment"),
    ]
    assert {r.fault for r in sandbox.requests[-2:]} == {f"answer_{'dropped' if mode == 'drop' else mode}"}


async def test_refused_writes_reads_and_key_grants_answer_as_usual(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    sandbox.faults.write_answer_loss = 1.0
    wire.error(await wire.client.post("/patient", json={"firstname": "No"}, headers=headers), 400, "API1020")
    assert sandbox.writebacks == []
    assert sandbox.requests[-1].fault is None
    assert (await wire.client.get("/patients", params={"limit": "1"}, headers=headers)).status_code == 200
    assert (await wire.client.post("/request_key", json=wire.grant_body())).status_code == 200
    assert (
        await wire.client.get("/writebacks", params=writebacks_window(sandbox), headers=wire.app_headers)
    ).status_code == 204
    assert all(r.delivered for r in sandbox.requests)


async def test_answer_loss_is_drawn_from_the_seed(clock: FakeClock, wire_for: Any) -> None:
    async def pattern(seed: int) -> list[bool]:
        sandbox = SikkaSandbox(seed=seed, clock=clock)
        async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
            headers = await wire_for(sandbox, client).key_headers()
            sandbox.faults.write_answer_loss = 0.5
            sandbox.faults.write_answer_loss_mode = "error"
            lost = []
            for n in range(24):
                response = await client.post("/patient", json=patient(n), headers=headers)
                lost.append(response.status_code == 500)
            assert len(sandbox.writebacks) == 24  # lost or not, every write was queued
            return lost

    first = await pattern(3)
    assert first == await pattern(3)
    assert True in first
    assert False in first
    assert first != await pattern(4)


async def test_answer_loss_draws_do_not_shift_the_other_faults(clock: FakeClock, wire_for: Any) -> None:
    """Each fault has its own random stream: turning answer loss on leaves the 5xx pattern of reads alone."""

    async def errors(with_loss: bool) -> list[int]:
        sandbox = SikkaSandbox(seed=5, clock=clock)
        async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
            headers = await wire_for(sandbox, client).key_headers()
            sandbox.faults.error_rate = 0.3
            sandbox.faults.write_answer_loss = 1.0 if with_loss else 0.0
            sandbox.faults.write_answer_loss_mode = "error"
            statuses = []
            for n in range(12):
                statuses.append((await client.get("/practices", headers=headers)).status_code)
                await client.post("/patient", json=patient(n), headers=headers)
            return statuses

    assert await errors(True) == await errors(False)


def test_the_mode_is_checked(sandbox: SikkaSandbox) -> None:
    with pytest.raises(InvalidArgumentError, match="drop, timeout, error"):
        sandbox.faults.write_answer_loss_mode = "vanish"
    assert sandbox.faults.write_answer_loss_mode == "drop"
    with pytest.raises(InvalidArgumentError, match="log_delay"):
        sandbox.faults.log_delay = dt.timedelta(seconds=-1)


def test_reset_turns_the_new_faults_off(sandbox: SikkaSandbox) -> None:
    faults: SandboxFaults = sandbox.faults
    faults.write_answer_loss = 0.7
    faults.write_answer_loss_mode = "timeout"
    faults.answer_hold = 0.25
    faults.log_delay = dt.timedelta(minutes=2)
    faults.reset()
    assert (faults.write_answer_loss, faults.write_answer_loss_mode, faults.answer_hold, faults.log_delay) == (
        0.0,
        "drop",
        5.0,
        dt.timedelta(0),
    )


async def test_log_delay_hides_a_writeback_from_the_log_for_a_while(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    sandbox.faults.log_delay = dt.timedelta(seconds=120)  # longer than the 90 s completion
    answer = await wire.client.post("/patient", json=patient(), headers=headers)
    assert answer.status_code == 201
    wid = str(answer.json()["long_message"]).removeprefix("Id:")
    (record,) = sandbox.writebacks  # the Python side shows it at once
    assert record.visible_at == record.submitted + dt.timedelta(seconds=120)

    async def status() -> httpx.Response:
        return await wire.client.get("/writeback_status", params={"id": wid}, headers=headers)

    async def listed() -> httpx.Response:
        return await wire.client.get("/writebacks", params=writebacks_window(sandbox), headers=wire.app_headers)

    assert (await status()).status_code == 204  # as for an unknown id
    assert (await listed()).status_code == 204
    clock.advance(90)
    assert (await status()).status_code == 204
    assert record.state == "success"  # completion timing is unchanged: the patient is in the PMS already
    assert sandbox.world.patients[record.created_id].firstname == "Lost0"
    clock.advance(30)
    item = (await status()).json()[0]["items"][0]
    assert (item["id"], item["status"]) == (wid, "Success")
    assert [i["id"] for i in (await listed()).json()["items"]] == [wid]


async def test_log_delay_applies_to_writes_submitted_after_it_is_set(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    early = await wire.client.post("/patient", json=patient(1), headers=headers)
    sandbox.faults.log_delay = dt.timedelta(seconds=30)
    late = await wire.client.post("/patient", json=patient(2), headers=headers)
    window = writebacks_window(sandbox)
    shown = await wire.client.get("/writebacks", params=window, headers=wire.app_headers)
    assert [i["id"] for i in shown.json()["items"]] == [early.json()["long_message"].removeprefix("Id:")]
    clock.advance(30)
    shown = await wire.client.get("/writebacks", params=window, headers=wire.app_headers)
    assert len(shown.json()["items"]) == 2
    assert late.status_code == 201
