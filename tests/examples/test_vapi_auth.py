"""Authentication of Vapi's requests: secret, bearer (any header name, with or without the prefix) and HMAC,
compared in constant time; anything else is a 401 before the body is even parsed."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from examples.fastapi_receptionist import Settings
from examples.fastapi_receptionist import vapi as vapi_module
from pydantic import ValidationError

VAPI_SECRET = "vapi-secret-5f1c2e"
HMAC_SECRET = "hmac-secret-9a8b7c"
NOTICE = json.dumps({"message": {"type": "status-update", "status": "ringing", "call": {"id": "c1"}}}).encode()


def signed(body: bytes, timestamp: str, *, secret: str = HMAC_SECRET, prefix: str = "") -> dict[str, str]:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-signature": prefix + digest, "x-timestamp": timestamp}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Vapi-Secret": VAPI_SECRET}, id="X-Vapi-Secret"),
        pytest.param({"x-vapi-secret": VAPI_SECRET}, id="lower-case header"),
        pytest.param({"Authorization": f"Bearer {VAPI_SECRET}"}, id="bearer"),
        pytest.param({"Authorization": f"bearer  {VAPI_SECRET} "}, id="bearer, odd spacing"),
    ],
)
async def test_the_shared_secret_is_accepted(harness: Any, headers: dict[str, str]) -> None:
    response = await harness.vapi(NOTICE, headers=headers)
    assert (response.status_code, response.json()) == (200, {})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no credentials"),
        pytest.param({"X-Vapi-Secret": ""}, id="empty secret"),
        pytest.param({"X-Vapi-Secret": VAPI_SECRET + "x"}, id="wrong secret"),
        pytest.param({"X-Vapi-Secret": VAPI_SECRET[:-1]}, id="prefix of the secret"),
        pytest.param({"Authorization": "Bearer nope"}, id="wrong bearer"),
        pytest.param({"Authorization": f"Basic {VAPI_SECRET}"}, id="basic scheme"),
        pytest.param({"X-Api-Key": VAPI_SECRET}, id="secret in an unconfigured header"),
        pytest.param({"x-signature": "00" * 32, "x-timestamp": "1"}, id="garbage signature"),
    ],
)
async def test_anything_else_is_401(harness: Any, headers: dict[str, str]) -> None:
    response = await harness.vapi(NOTICE, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


async def test_a_401_comes_before_parsing(harness: Any) -> None:
    response = await harness.vapi(b"not even json", headers={})
    assert response.status_code == 401


async def test_a_renamed_bearer_header_with_or_without_the_prefix(open_harness: Any) -> None:
    async with open_harness(vapi_bearer_header="X-Api-Key") as h:
        for value in (f"Bearer {VAPI_SECRET}", VAPI_SECRET):
            assert (await h.vapi(NOTICE, headers={"X-Api-Key": value})).status_code == 200
        assert (await h.vapi(NOTICE, headers={"X-Api-Key": "Bearer wrong"})).status_code == 401
        # Authorization is no longer where the token is looked for.
        assert (await h.vapi(NOTICE, headers={"Authorization": f"Bearer {VAPI_SECRET}"})).status_code == 401


async def test_hmac_signatures(harness: Any) -> None:
    h = harness
    now = h.clock.now().timestamp()
    seconds = str(int(now))
    millis = str(int(now * 1000))
    assert (await h.vapi(NOTICE, headers=signed(NOTICE, seconds))).status_code == 200
    assert (await h.vapi(NOTICE, headers=signed(NOTICE, millis))).status_code == 200
    assert (await h.vapi(NOTICE, headers=signed(NOTICE, seconds, prefix="sha256="))).status_code == 200
    upper = signed(NOTICE, seconds)
    upper["x-signature"] = upper["x-signature"].upper()
    assert (await h.vapi(NOTICE, headers=upper)).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    ["body", "timestamp", "secret", "stale", "future", "no timestamp", "no signature", "timestamp not a number"],
)
async def test_a_bad_hmac_signature_is_401(harness: Any, tamper: str) -> None:
    h = harness
    now = int(h.clock.now().timestamp())
    headers = signed(NOTICE, str(now))
    body = NOTICE
    if tamper == "body":
        body = NOTICE.replace(b"ringing", b"ended")
    elif tamper == "timestamp":
        headers["x-timestamp"] = str(now + 1)
    elif tamper == "secret":
        headers = signed(NOTICE, str(now), secret="another-secret")
    elif tamper == "stale":
        headers = signed(NOTICE, str(now - 301))
    elif tamper == "future":
        headers = signed(NOTICE, str(now + 301))
    elif tamper == "no timestamp":
        del headers["x-timestamp"]
    elif tamper == "no signature":
        del headers["x-signature"]
    else:
        headers = signed(NOTICE, "yesterday")
    assert (await h.vapi(body, headers=headers)).status_code == 401


async def test_the_replay_window_can_be_switched_off(open_harness: Any) -> None:
    async with open_harness(vapi_hmac_max_age_seconds=None) as h:
        assert (await h.vapi(NOTICE, headers=signed(NOTICE, "12345"))).status_code == 200


async def test_hmac_only_refuses_the_shared_secret(open_harness: Any) -> None:
    async with open_harness(vapi_secret=None) as h:
        assert (await h.vapi(NOTICE, headers={"X-Vapi-Secret": VAPI_SECRET})).status_code == 401
        now = str(int(h.clock.now().timestamp()))
        assert (await h.vapi(NOTICE, headers=signed(NOTICE, now))).status_code == 200


async def test_comparisons_are_constant_time(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(vapi_module.hmac, "compare_digest", spy)
    h = harness
    assert (await h.vapi(NOTICE, headers={"X-Vapi-Secret": "wrong"})).status_code == 401
    assert (b"wrong", VAPI_SECRET.encode()) in compared
    compared.clear()
    now = str(int(h.clock.now().timestamp()))
    assert (await h.vapi(NOTICE, headers=signed(NOTICE, now))).status_code == 200
    assert len(compared) == 1
    assert (await h.vapi(NOTICE, headers={"Authorization": f"Bearer {VAPI_SECRET}"})).status_code == 200
    assert (VAPI_SECRET.encode(), VAPI_SECRET.encode()) in compared


def test_settings_refuse_an_unauthenticated_webhook() -> None:
    with pytest.raises(ValidationError, match="set vapi_secret or vapi_hmac_secret"):
        Settings(admin_token="x" * 16, vault_keys="k1:AAAA")


async def test_the_pms_endpoints_need_the_admin_token(harness: Any) -> None:
    h = harness
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"X-Vapi-Secret": VAPI_SECRET}):
        response = await h.client.post("/pms/setup", json=h.setup_body(), headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert (
            await h.client.get("/pms/status", params={"accountId": "acct-1"}, headers=headers)
        ).status_code == 401
    assert h.sandbox.requests == []  # refused before anything reached the PMS
