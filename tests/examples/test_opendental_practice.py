"""A practice on Open Dental: set up with its keys (tested, sealed, the provider recorded), then the same Vapi
tool calls as a Sikka practice's, against the real ``OpenDentalSandbox`` through the harness's factory seam."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from examples.fastapi_receptionist.app import opendental_factory
from examples.fastapi_receptionist.connections import OpenDentalConnection

from pms_connect import CredentialVault
from pms_connect.matching import normalize_phone
from pms_connect.opendental import OpenDentalCredentials, OpenDentalProvider
from pms_connect.sikka import SikkaProvider
from pms_connect.stores import MemoryStore
from pms_connect.testing import FakeClock, OpenDentalSandbox

from .test_vapi_tools import local_iso

BAD_KEY = "odWrongCustomer9"


@pytest.fixture
def dental(clock: FakeClock) -> OpenDentalSandbox:
    return OpenDentalSandbox(seed=7, clock=clock)


@pytest.fixture
async def od(open_harness: Any, dental: OpenDentalSandbox) -> AsyncIterator[Any]:
    async with open_harness(opendental=dental) as h:
        yield h


def known_patient(dental: OpenDentalSandbox) -> tuple[Any, str]:
    """A chart with a birthdate and a cell phone no other chart has, and that phone in E.164."""
    phones: dict[str, list[Any]] = {}
    for chart in dental.data.patients.values():
        for phone in {normalize_phone(x) for x in (chart.hm_phone, chart.wk_phone, chart.wireless_phone) if x}:
            if phone:
                phones.setdefault(phone, []).append(chart)
    for chart in dental.data.patients.values():
        cell = normalize_phone(chart.wireless_phone) if chart.wireless_phone else None
        if cell and chart.birthdate and chart.status == "Patient" and len(phones[cell]) == 1:
            return chart, "+1" + cell
    raise AssertionError("the seeded office has no patient with a cell phone of their own")


def details(chart: Any) -> dict[str, str]:
    return {"firstName": chart.fname, "lastName": chart.lname, "birthdate": chart.birthdate.isoformat()}


async def test_a_practice_set_up_with_open_dental_keys(od: Any, dental: OpenDentalSandbox) -> None:
    h = od
    creds = dental.credentials
    customer_key = creds.customer_key.get_secret_value()
    response = await h.client.post("/pms/setup", json=h.opendental_setup_body(), headers=h.admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "accountId": "acct-1",
        "provider": "opendental",
        "connected": True,
        "practiceName": "Bluebonnet Family Dental",
        "pmsName": "Open Dental",
        "timezone": "America/Chicago",
        "capabilities": body["capabilities"],
        "lastCheckAt": body["lastCheckAt"],
        "lastCheckError": None,
    }
    assert {"book_appointment", "read_patients", "read_schedules"} <= set(body["capabilities"])
    assert customer_key not in response.text
    assert customer_key.encode() not in h.database.read_bytes()

    practice = await h.services.db.get_practice("acct-1")
    assert practice.provider == "opendental"
    vault: CredentialVault = h.services.vault
    assert vault.open(practice.sealed_credentials, context="acct-1", model=OpenDentalCredentials) == creds
    sealed = vault.open(practice.sealed_credentials, context="acct-1", model=OpenDentalConnection)
    assert (sealed.mode, sealed.base_url, sealed.credentials) == ("remote", None, creds)
    pms = await h.pms()
    assert isinstance(pms, OpenDentalProvider)
    assert pms.store is h.services.connections.store  # the process's store, shared by every worker


async def test_the_tools_answer_for_an_open_dental_practice(od: Any, dental: OpenDentalSandbox) -> None:
    h = od
    await h.connect(h.opendental_setup_body())
    chart, phone = known_patient(dental)
    day = h.weekday(2)

    offered = await h.tool("check_availability", {"date": day.isoformat()}, caller=phone)
    assert offered["result"].startswith("Open times: "), offered
    times = (await h.call_log()).offered
    assert times
    pms = await h.pms()
    open_slots = await pms.appointments.find_slots(start=day, end=day, duration=timedelta(minutes=30), limit=500)
    open_times = {(slot.start, slot.provider_id) for slot in open_slots}
    assert all((datetime.fromisoformat(t["start"]), t["providerId"]) in open_times for t in times)  # truly open

    info = await h.tool("get_patient_info", details(chart), caller=phone)
    answer = json.loads(info["result"])
    assert (answer["status"], answer["verified"]) == ("found", True), answer
    assert answer["firstName"] == chart.fname
    kept = h.services.open_for_call(h.call_id, (await h.call_log()).sealed_identity)
    assert kept["patientId"] == str(chart.pat_num)  # verified as this chart, for the rest of the call

    before = {a.apt_num for a in dental.data.appointments.values()}
    start = datetime.fromisoformat(times[0]["start"])
    booked = await h.tool("book_appointment", {"start": local_iso(start), "reason": "cleaning"}, caller=phone)
    assert booked["result"].startswith("I've sent the request for "), booked
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation text")
    [text] = h.texts()
    assert text["To"] == phone
    assert "is booked" in text["Body"]

    new = [a for a in dental.data.appointments.values() if a.apt_num not in before]
    assert len(new) == 1  # in Open Dental's data, once
    [appointment] = new
    assert appointment.pat_num == chart.pat_num
    assert appointment.start == start.astimezone(pms.timezone).replace(tzinfo=None)
    assert appointment.status == "Scheduled"
    posts = [r for r in dental.requests if r.method == "POST" and r.path.endswith("/appointments")]
    assert len(posts) == 1
    assert (await h.call_log()).booked_appointment_id == str(appointment.apt_num)


async def test_a_bad_open_dental_key_is_refused_without_echoing_it(
    od: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = od
    developer_key = h.opendental.credentials.developer_key.get_secret_value()
    response = await h.client.post(
        "/pms/setup", json=h.opendental_setup_body(customerKey=BAD_KEY), headers=h.admin
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "the PMS connection test failed; nothing was stored"
    assert body["reason"].startswith("Open Dental refused the developer or customer key"), body
    for secret in (BAD_KEY, developer_key):
        assert secret not in response.text
        assert secret not in caplog.text
        assert secret.encode() not in h.database.read_bytes()
    status = await h.client.get("/pms/status", params={"accountId": "acct-1"}, headers=h.admin)
    assert status.status_code == 404


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"customerKey": ""}, ["opendental", "customerKey"]),
        ({"developerKey": 12345678}, ["opendental", "developerKey"]),
        ({"mode": "cloud"}, ["opendental", "mode"]),
        ({"baseUrl": "ftp://files.example.com"}, ["opendental", "baseUrl"]),
        ({"clinicNum": "main-street"}, ["opendental", "clinicNum"]),
        ({"secretKey": "a-sikka-field"}, ["opendental", "secretKey"]),
        ({"provider": "athena"}, ["provider"]),
    ],
)
async def test_invalid_open_dental_setups_name_the_field(
    od: Any, override: dict[str, Any], where: list[str]
) -> None:
    h = od
    response = await h.client.post("/pms/setup", json=h.opendental_setup_body(**override), headers=h.admin)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid request"
    assert [d["loc"] for d in body["detail"]] == [["body", *where]]
    for value in (str(v) for k, v in override.items() if v and k != "provider"):
        assert value not in response.text
    assert h.opendental.credentials.customer_key.get_secret_value() not in response.text
    assert h.opendental.requests == []


async def test_sikka_and_open_dental_practices_side_by_side(od: Any) -> None:
    """Each practice gets its own provider's factory; both providers use the process's one store."""
    h = od
    await h.connect()  # Sikka, the default
    response = await h.client.post("/pms/setup", json=h.opendental_setup_body(accountId="acct-2"), headers=h.admin)
    assert response.status_code == 200, response.text
    sikka = await h.services.connections.get(await h.services.db.get_practice("acct-1"))
    dental = await h.services.connections.get(await h.services.db.get_practice("acct-2"))
    assert isinstance(sikka, SikkaProvider)
    assert isinstance(dental, OpenDentalProvider)
    assert sikka.store is dental.store is h.services.connections.store
    assert (await h.services.db.get_practice("acct-1")).provider == "sikka"


def test_the_real_factory_reaches_the_practice_as_set_up() -> None:
    connection = OpenDentalConnection(
        developer_key="dev-key",
        customer_key="customer-key",
        clinic_num="3",
        mode="service",
        base_url="http://192.168.1.10:30223/api/v1",
    )
    store = MemoryStore()
    provider = opendental_factory()(connection, "America/Chicago", store)
    assert isinstance(provider, OpenDentalProvider)
    assert (provider.mode, provider.store, provider.credentials) == ("service", store, connection.credentials)
    assert type(provider.credentials) is OpenDentalCredentials
