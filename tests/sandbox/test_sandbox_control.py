"""The test-control endpoint ``/_sandbox/...`` in process: every route, its JSON, its checks, loopback only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect.testing import FakeClock, SikkaSandbox

DEFAULT_FAULTS = {
    "latency_s": 0.0,
    "error_rate": 0.0,
    "drop_rate": 0.0,
    "write_answer_loss": 0.0,
    "write_answer_loss_mode": "drop",
    "answer_hold_s": 5.0,
    "log_delay_s": 0.0,
    "utility_online": True,
    "data_insert_in_progress": False,
    "reject_overlaps": False,
    "writeback_delay_s": 90.0,
    "rate_limit_storm": 0,
    "fail_next_writebacks": {"n": 0, "reasons": []},
}


@pytest.fixture
async def control(sandbox: SikkaSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the control endpoint through the sandbox's own in-process transport."""
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.control_url) as c:
        yield c


def new_patient(first: str) -> dict[str, str]:
    return {"firstname": first, "lastname": "Control", "provider_id": "DMD1", "practice_id": "1"}


async def test_health_and_the_control_url(control: httpx.AsyncClient, sandbox: SikkaSandbox) -> None:
    assert sandbox.control_url == "http://sikka-sandbox.test/_sandbox"
    response = await control.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response.headers["content-type"] == "application/json"


async def test_faults_answer_every_switch(control: httpx.AsyncClient) -> None:
    assert (await control.get("/faults")).json() == DEFAULT_FAULTS


async def test_setting_every_switch(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, wire: Any, headers: dict[str, str]
) -> None:
    settings = {
        "latency_s": 0.5,
        "error_rate": 0.25,
        "drop_rate": 0.125,
        "write_answer_loss": 0.75,
        "write_answer_loss_mode": "timeout",
        "answer_hold_s": 1.5,
        "log_delay_s": 30,
        "utility_online": False,
        "data_insert_in_progress": True,
        "reject_overlaps": True,
        "writeback_delay_s": 12,
        "rate_limit_storm": 3,
        "fail_next_writebacks": {"n": 2, "reason": "Chart locked"},
        "expire_keys": True,
    }
    response = await control.post("/faults", json=settings)
    assert response.status_code == 200, response.text
    expected = DEFAULT_FAULTS | {k: v for k, v in settings.items() if k != "expire_keys"}
    expected |= {"log_delay_s": 30.0, "writeback_delay_s": 12.0}
    expected["fail_next_writebacks"] = {"n": 2, "reasons": ["Chart locked", "Chart locked"]}
    assert response.json() == expected
    assert (await control.get("/faults")).json() == expected
    faults = sandbox.faults
    assert faults.latency == dt.timedelta(seconds=0.5)
    assert (faults.error_rate, faults.drop_rate, faults.write_answer_loss) == (0.25, 0.125, 0.75)
    assert (faults.write_answer_loss_mode, faults.answer_hold) == ("timeout", 1.5)
    assert faults.log_delay == dt.timedelta(seconds=30)
    assert (faults.utility_online, faults.data_insert_in_progress) == (False, True)
    assert sandbox.reject_overlaps is True
    assert sandbox.writeback_delay == dt.timedelta(seconds=12)
    # expire_keys acted at once; the storm comes first, then the expired key
    faults.error_rate = faults.drop_rate = 0.0
    faults.latency = dt.timedelta(0)
    for _ in range(3):
        wire.error(await wire.client.get("/practices", headers=headers), 429, "API2012")
    wire.error(await wire.client.get("/practices", headers=headers), 400, "API1025")
    # storms and failures add up, as the Python methods do
    again = await control.post("/faults", json={"rate_limit_storm": 2, "fail_next_writebacks": {"n": 1}})
    assert again.json()["rate_limit_storm"] == 2
    assert again.json()["fail_next_writebacks"] == {
        "n": 3,
        "reasons": ["Chart locked", "Chart locked", "Writeback failed in the practice management system."],
    }


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"errror_rate": 0.5}, "errror_rate"),
        ({"error_rate": "0.5"}, "error_rate"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"drop_rate": True}, "drop_rate"),
        ({"latency_s": -1}, "latency_s"),
        ({"write_answer_loss_mode": "vanish"}, "write_answer_loss_mode"),
        ({"utility_online": "false"}, "utility_online"),
        ({"reject_overlaps": 1}, "reject_overlaps"),
        ({"rate_limit_storm": 2.5}, "rate_limit_storm"),
        ({"fail_next_writebacks": 2}, "fail_next_writebacks"),
        ({"fail_next_writebacks": {"n": -1}}, "fail_next_writebacks.n"),
        ({"fail_next_writebacks": {"n": 1, "why": "x"}}, "fail_next_writebacks.why"),
        ({"fail_next_writebacks": {"n": 1, "reason": 7}}, "fail_next_writebacks.reason"),
        ({"expire_keys": "yes"}, "expire_keys"),
        ({"log_delay_s": float("inf")}, "log_delay_s"),
    ],
)
async def test_bad_settings_are_refused_whole(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, body: dict[str, Any], key: str
) -> None:
    # a good key first: nothing at all is applied when any key is bad
    response = await control.post("/faults", content=json.dumps({"error_rate": 0.5} | body))
    assert response.status_code == 400
    assert response.json()["key"] == key
    assert key in response.json()["error"]
    assert sandbox.faults.error_rate == 0.0
    assert (await control.get("/faults")).json() == DEFAULT_FAULTS


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"{not json"])
async def test_the_body_must_be_an_object(control: httpx.AsyncClient, content: bytes) -> None:
    response = await control.post("/faults", content=content)
    assert response.status_code == 400
    assert response.json()["key"] is None


async def test_reset(control: httpx.AsyncClient, sandbox: SikkaSandbox) -> None:
    await control.post(
        "/faults", json={"error_rate": 1.0, "write_answer_loss": 1.0, "log_delay_s": 5, "utility_online": False}
    )
    sandbox.reject_overlaps = True
    response = await control.post("/reset")
    assert response.status_code == 200
    # faults go back to off; reject_overlaps and writeback_delay are configuration and stay
    assert response.json() == DEFAULT_FAULTS | {"reject_overlaps": True}
    assert sandbox.faults.utility_online is True


async def test_the_request_log(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, wire: Any, headers: dict[str, str], clock: FakeClock
) -> None:
    sandbox.requests.clear()
    await wire.client.get("/patients", params={"lastname": "Smith", "limit": "2"}, headers=headers)
    sandbox.faults.write_answer_loss = 1.0
    sandbox.faults.write_answer_loss_mode = "error"
    await wire.client.post("/patient", json=new_patient("Logged"), headers=headers)
    log = (await control.get("/requests")).json()
    assert log == [
        {
            "method": "GET",
            "path": "/v4/patients",
            "params": {"lastname": "Smith", "limit": "2"},
            "at": clock.now().isoformat(),
            "status": 200,
            "fault": None,
            "delivered": True,
        },
        {
            "method": "POST",
            "path": "/v4/patient",
            "params": {},
            "at": clock.now().isoformat(),
            "status": 500,
            "fault": "answer_error",
            "delivered": False,
        },
    ]
    # control requests are neither logged nor charged to any budget
    assert [r.path for r in sandbox.requests] == ["/v4/patients", "/v4/patient"]
    cleared = await control.delete("/requests")
    assert cleared.json() == {"cleared": 2}
    assert sandbox.requests == []
    assert (await control.get("/requests")).json() == []
    remaining = (await wire.client.get("/practices", headers=headers)).headers["X-Rate-Limit-Remaining"]
    for _ in range(5):
        await control.get("/health")
    after = (await wire.client.get("/practices", headers=headers)).headers["X-Rate-Limit-Remaining"]
    assert int(after) == int(remaining) - 1


async def test_control_requests_escape_the_network_faults(
    control: httpx.AsyncClient, sandbox: SikkaSandbox
) -> None:
    sandbox.faults.drop_rate = 1.0
    sandbox.faults.error_rate = 1.0
    sandbox.faults.latency = dt.timedelta(hours=1)
    sandbox.faults.rate_limit_storm(5)
    for _ in range(5):
        assert (await control.get("/health")).status_code == 200
    assert sandbox.faults.pending_storm == 5
    assert sandbox.requests == []


async def test_writebacks_and_running_them(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, wire: Any, headers: dict[str, str], clock: FakeClock
) -> None:
    sandbox.faults.log_delay = dt.timedelta(seconds=10)
    answer = await wire.client.post("/patient", json=new_patient("Queued"), headers=headers)
    wid = answer.json()["long_message"].removeprefix("Id:")
    submitted = clock.now().replace(microsecond=0)
    (view,) = (await control.get("/writebacks")).json()
    assert view == {
        "id": wid,
        "kind": "new_patient",
        "method": "POST",
        "office_id": sandbox.credentials.office_id,
        "practice_id": "1",
        "body": new_patient("Queued"),
        "target_id": "",
        "state": "pending",
        "result": "",
        "created_id": "",
        "deleted": False,
        "submitted": submitted.isoformat(),
        "due": (submitted + dt.timedelta(seconds=90)).isoformat(),
        "visible_at": (submitted + dt.timedelta(seconds=10)).isoformat(),
        "completed": None,
    }
    assert (await control.post("/run_writebacks")).json() == {"completed": []}
    clock.advance(90)
    assert (await control.post("/run_writebacks")).json() == {"completed": [wid]}
    (done,) = (await control.get("/writebacks")).json()
    assert (done["state"], done["result"]) == ("success", "New Patient inserted successfully")
    assert done["completed"] == (submitted + dt.timedelta(seconds=90)).isoformat()
    assert done["created_id"] in sandbox.world.patients


async def test_writebacks_view_completes_what_is_due(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, wire: Any, headers: dict[str, str], clock: FakeClock
) -> None:
    await wire.client.post("/patient", json=new_patient("Due"), headers=headers)
    clock.advance(90)
    (view,) = (await control.get("/writebacks")).json()
    assert view["state"] == "success"  # as any /v4 request would have seen it


async def test_world_views(
    control: httpx.AsyncClient, sandbox: SikkaSandbox, wire: Any, headers: dict[str, str], clock: FakeClock
) -> None:
    appointments = (await control.get("/appointments")).json()
    assert len(appointments) == len(sandbox.world.appointments)
    first = next(iter(sandbox.world.appointments.values()))
    assert appointments[0] == {
        "appointment_sr_no": first.appointment_sr_no,
        "practice_id": first.practice_id,
        "patient_id": first.patient_id,
        "provider_id": first.provider_id,
        "operatory": first.operatory,
        "start": first.start.isoformat(),
        "length": first.length,
        "status": first.status,
        "note": first.note,
        "description": first.description,
    }
    assert "+" not in appointments[0]["start"]  # practice-local, as Sikka's dates
    transactions = (await control.get("/transactions")).json()
    t = next(iter(sandbox.world.transactions.values()))
    assert transactions[0] == {
        "transaction_sr_no": t.transaction_sr_no,
        "practice_id": t.practice_id,
        "patient_id": t.patient_id,
        "amount": str(t.amount),
        "transaction_date": t.transaction_date.isoformat(),
        "note": t.note,
    }
    assert isinstance(transactions[0]["amount"], str)

    # patients: only those created by writebacks, optionally since a time; or every one with all=1
    assert (await control.get("/patients")).json() == []
    body = new_patient("Early") | {"birthdate": "1990-04-02", "cell": "(512) 555-0101", "email": "e@example.com"}
    await wire.client.post("/patient", json=body, headers=headers)
    clock.advance(90)
    cut = clock.now()
    await wire.client.post("/patient", json=new_patient("Late"), headers=headers)
    clock.advance(90)
    created = (await control.get("/patients")).json()
    assert [p["firstname"] for p in created] == ["Early", "Late"]
    assert created[0] | {"patient_id": "x"} == {
        "patient_id": "x",
        "practice_id": "1",
        "firstname": "Early",
        "lastname": "Control",
        "birthdate": "1990-04-02",
        "cell": "(512) 555-0101",
        "email": "e@example.com",
    }
    assert created[1]["birthdate"] is None
    since = await control.get("/patients", params={"since": (cut + dt.timedelta(seconds=1)).isoformat()})
    assert [p["firstname"] for p in since.json()] == ["Late"]
    local = (cut + dt.timedelta(seconds=1)).astimezone(ZoneInfo(sandbox.timezone)).replace(tzinfo=None)
    naive = await control.get("/patients", params={"since": local.isoformat()})  # naive: practice-local
    assert [p["firstname"] for p in naive.json()] == ["Late"]
    everyone = (await control.get("/patients", params={"all": "1"})).json()
    assert len(everyone) == len(sandbox.world.patients)
    assert set(everyone[0]) == {"patient_id", "practice_id", "firstname", "lastname", "birthdate", "cell", "email"}
    bad = await control.get("/patients", params={"since": "yesterday"})
    assert (bad.status_code, bad.json()["key"]) == (400, "since")


async def test_unknown_control_paths_and_methods(control: httpx.AsyncClient, sandbox: SikkaSandbox) -> None:
    missing = await control.get("/nothing_here")
    assert missing.status_code == 404
    assert missing.json()["path"] == "/_sandbox/nothing_here"
    wrong = await control.delete("/faults")
    assert wrong.status_code == 405
    assert "error" in wrong.json()
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        (("127.0.0.1", 123), True),  # httpx.ASGITransport's default client
        (("127.8.9.10", 5000), True),
        (("::1", 5000), True),
        (("::ffff:127.0.0.1", 5000), True),
        (("10.0.0.5", 123), False),
        (("192.168.1.20", 5000), False),
        (("2001:db8::1", 5000), False),
        (("testclient", 50000), False),
    ],
)
async def test_loopback_clients_only(sandbox: SikkaSandbox, client: tuple[str, int], allowed: bool) -> None:
    transport = httpx.ASGITransport(app=sandbox.app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test/_sandbox") as c:
        health = await c.get("/health")
        changed = await c.post("/faults", json={"error_rate": 1.0})
        unknown = await c.get("/nothing_here")
    if allowed:
        assert (health.status_code, changed.status_code, unknown.status_code) == (200, 200, 404)
        assert sandbox.faults.error_rate == 1.0
    else:
        assert (health.status_code, changed.status_code, unknown.status_code) == (403, 403, 403)
        assert health.json() == {
            "error": "the sandbox control endpoint answers loopback clients only",
            "client": client[0],
        }
        assert sandbox.faults.error_rate == 0.0


async def test_the_default_asgi_client_is_loopback(sandbox: SikkaSandbox) -> None:
    """Plain ``httpx.ASGITransport(app=...)`` (no client given) reaches the control endpoint."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url="http://sandbox.test"
    ) as c:
        assert (await c.get("/_sandbox/health")).status_code == 200
