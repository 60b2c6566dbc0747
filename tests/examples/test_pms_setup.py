"""``/pms/setup``, ``/pms/status``, ``/pms/phone-numbers`` and ``/health``: credentials are tested before
anything is stored, stored only sealed, and never echoed."""

from __future__ import annotations

from typing import Any

import pytest

from pms_connect import CredentialVault, VaultError
from pms_connect.sikka import SikkaCredentials


async def test_wrong_credentials_are_refused_with_the_reason(harness: Any) -> None:
    h = harness
    wrong = "0" * 32
    response = await h.client.post("/pms/setup", json=h.setup_body(secretKey=wrong), headers=h.admin)
    assert response.status_code == 422
    assert response.json() == {
        "error": "the PMS connection test failed; nothing was stored",
        "reason": "Sikka refused the credentials (wrong id or key) (POST /v4/request_key, API2003, HTTP 401)",
    }
    assert wrong not in response.text
    status = await h.client.get("/pms/status", params={"accountId": "acct-1"}, headers=h.admin)
    assert status.status_code == 404
    assert wrong.encode() not in h.database.read_bytes()


async def test_a_practice_that_did_not_authorize_the_app_is_refused(harness: Any) -> None:
    h = harness
    response = await h.client.post("/pms/setup", json=h.setup_body(practiceId="9"), headers=h.admin)
    assert response.status_code == 422
    assert "has not authorized this Sikka app" in response.json()["reason"]


async def test_good_credentials_are_tested_recorded_and_sealed(harness: Any) -> None:
    h = harness
    creds = h.sandbox.credentials
    app_key, secret_key = creds.app_key.get_secret_value(), creds.secret_key.get_secret_value()
    response = await h.client.post("/pms/setup", json=h.setup_body(), headers=h.admin)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "accountId": "acct-1",
        "provider": "sikka",
        "connected": True,
        "practiceName": "Maplewood Family Dental",
        "pmsName": "Dentrix",
        "timezone": "America/Chicago",
        "capabilities": body["capabilities"],
        "lastCheckAt": "2026-12-01T14:00:00Z",
        "lastCheckError": None,
    }
    assert {"book_appointment", "read_patients", "read_schedules"} <= set(body["capabilities"])
    assert app_key not in response.text
    assert secret_key not in response.text

    raw = h.database.read_bytes()
    assert app_key.encode() not in raw
    assert secret_key.encode() not in raw
    practice = await h.services.db.get_practice("acct-1")
    assert practice.sealed_credentials.startswith("pmsv1.k1.")
    vault: CredentialVault = h.services.vault
    assert vault.open(practice.sealed_credentials, context="acct-1", model=SikkaCredentials) == creds
    with pytest.raises(VaultError):
        vault.open(practice.sealed_credentials, context="acct-2")  # bound to its account

    status = await h.client.get("/pms/status", params={"accountId": "acct-1"}, headers=h.admin)
    assert status.json() == body
    assert secret_key not in status.text


async def test_status_can_check_again(connected: Any) -> None:
    h = connected
    h.clock.advance(3600)
    response = await h.client.get(
        "/pms/status", params={"accountId": "acct-1", "refresh": "true"}, headers=h.admin
    )
    assert response.status_code == 200
    assert response.json()["lastCheckAt"] == "2026-12-01T15:00:00Z"
    assert response.json()["connected"] is True


async def test_setting_up_again_replaces_the_credentials(connected: Any) -> None:
    h = connected
    before = (await h.services.db.get_practice("acct-1")).sealed_credentials
    response = await h.client.post("/pms/setup", json=h.setup_body(timezone="America/New_York"), headers=h.admin)
    assert response.status_code == 200
    after = await h.services.db.get_practice("acct-1")
    assert after.sealed_credentials != before  # a fresh nonce every time
    assert after.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"secretKey": 123456789}, "secretKey"),
        ({"secretKey": ""}, "secretKey"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"accountId": "a b"}, "accountId"),
        ({"unexpected": "surprise-value-42"}, "unexpected"),
    ],
)
async def test_invalid_setup_bodies_do_not_echo_values(harness: Any, override: dict[str, Any], where: str) -> None:
    h = harness
    response = await h.client.post("/pms/setup", json=h.setup_body(**override), headers=h.admin)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid request"
    assert [d["loc"][-1] for d in body["detail"]] == [where]
    for value in (str(v) for v in override.values() if v):
        assert value not in response.text
    assert h.sandbox.credentials.secret_key.get_secret_value() not in response.text
    assert h.sandbox.requests == []


async def test_a_body_that_is_not_json_is_a_clean_422(harness: Any) -> None:
    h = harness
    response = await h.client.post(
        "/pms/setup", content=b"{oops", headers={**h.admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid request"


async def test_phone_numbers(connected: Any) -> None:
    h = connected
    response = await h.save_number(integrationMethod="ported", transferEnabled=False)
    assert response.status_code == 200
    assert response.json() == {
        "accountId": "acct-1",
        "twilioNumber": "+15550100000",
        "originalPhoneNumber": None,
        "vapiPhoneNumberId": "vapi-number-1",
        "vapiAssistantId": None,
        "integrationMethod": "ported",
        "sipUri": "sip:maplewood@sip.vapi.ai",
        "aiEnabled": True,
        "transferEnabled": False,
        "staffForwardNumber": "+15550100001",
        "staffSmsNumber": "+15550100002",
    }
    assert (await h.save_number(accountId="nobody")).status_code == 404
    bad = await h.save_number(staffForwardNumber="555-0100")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "staffForwardNumber"]
    assert (await h.save_number(integrationMethod="carrier-pigeon")).status_code == 422
    assert (await h.save_number(integrationMethod="sip", sipUri=None)).status_code == 422


async def test_health(harness: Any) -> None:
    response = await harness.client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
