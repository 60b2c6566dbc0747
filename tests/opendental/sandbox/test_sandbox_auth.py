"""``Authorization: ODFHIR {dev}/{cust}`` on every request, permissions per key, and the Content-Type rule."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from pms_connect.errors import InvalidArgumentError
from pms_connect.opendental import OpenDentalCredentials
from pms_connect.testing import OpenDentalSandbox

from .conftest import Od


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "Authorization header is missing"),
        ("", "Authorization header is missing"),
        ("Bearer abc", "Invalid Authorization header format"),
        ("ODFHIR onlyonekey", "Invalid Authorization header format"),
        ("ODFHIR wrongDeveloper/odSbxFullAccess1", "Developer key is invalid"),
        ("ODFHIR odSbxDeveloper01/wrongCustomer", "Customer key is invalid"),
    ],
)
async def test_requests_without_valid_keys_get_401_with_an_explanation(
    client: httpx.AsyncClient, sandbox: OpenDentalSandbox, authorization: str | None, says: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.get("/patients/1", headers=headers)
    assert response.status_code == 401
    assert says in response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert sandbox.requests[-1].status == 401


async def test_the_sandbox_credentials_are_accepted(od: Od) -> None:
    assert od.sandbox.credentials.authorization.startswith("ODFHIR ")
    assert (await od.get("/patients/1"))["PatNum"] == 1
    assert od.sandbox.requests[-1].key == "full"


async def test_a_read_only_key_reads_and_gets_401_naming_the_area_on_writes(
    sandbox: OpenDentalSandbox, client: httpx.AsyncClient, od_for: Callable[..., Od]
) -> None:
    reader = od_for(sandbox, client, sandbox.read_only_credentials)
    assert await reader.get("/providers")
    before = len(sandbox.data.appointments)
    cases = [
        ("POST", "/appointments", {"PatNum": 1, "Op": 1, "AptDateTime": "2026-12-09 09:00:00"}, "Appointments"),
        ("PUT", "/appointments/1/Note", {"Note": "x"}, "Comm"),
        ("PUT", "/appointments/1/Confirm", {"confirmVal": "Confirmed"}, "Comm"),
        ("POST", "/patients", {"LName": "A", "FName": "B"}, "Patients"),
        ("POST", "/payments", {"PayAmt": "1", "PatNum": 1}, "Payments"),
    ]
    for method, path, body, area in cases:
        text = await reader.refused(method, path, 401, json=body)
        assert text.startswith("Invalid Permissions")
        assert area in text
    assert len(sandbox.data.appointments) == before


async def test_keys_can_be_added_changed_and_disabled(
    sandbox: OpenDentalSandbox, client: httpx.AsyncClient, od_for: Callable[..., Od]
) -> None:
    creds = sandbox.add_key("scheduler", ["ReadAll", "Appointments"])
    scheduler = od_for(sandbox, client, creds)
    await scheduler.post("/appointments", {"PatNum": 1, "Op": 1, "AptDateTime": "2026-12-09 09:00:00"})
    assert sandbox.requests[-1].key == "scheduler"
    assert "Comm" in await scheduler.refused("PUT", "/appointments/1/Note", 401, json={"Note": "x"})
    sandbox.set_permissions(creds, ["ReadAll", "Appointments", "Comm"])
    await scheduler.put("/appointments/1/Note", {"Note": "x"})
    sandbox.disable_key(creds)
    assert "disabled" in await scheduler.refused("GET", "/providers", 401)
    sandbox.disable_key(creds, disabled=False)
    assert await scheduler.get("/providers")


async def test_foreign_credentials_are_refused_by_the_python_face(sandbox: OpenDentalSandbox) -> None:
    stranger = OpenDentalCredentials(developer_key=SecretStr("x"), customer_key=SecretStr("y"))
    with pytest.raises(ValueError, match="not the sandbox's"):
        sandbox.disable_key(stranger)
    with pytest.raises(ValueError, match="unknown permission"):
        sandbox.add_key("bad", ["ReadEverything"])


async def test_content_type_is_required_unless_switched_off(
    sandbox: OpenDentalSandbox, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": sandbox.credentials.authorization}
    response = await client.get("/providers", headers=headers)
    assert response.status_code == 400
    assert "Content-Type" in response.text
    sandbox.require_content_type = False
    assert (await client.get("/providers", headers=headers)).status_code == 200


async def test_unknown_resources_and_methods_are_404_with_an_explanation(od: Od) -> None:
    assert "does not exist" in await od.refused("GET", "/nosuchthings", 404)
    assert "does not support DELETE" in await od.refused("DELETE", "/appointments/1", 404)
    assert "deprecated" in await od.refused("POST", "/payplans", 410, json={})
    assert "Appointment not found" in await od.refused("GET", "/appointments/999999", 404)


async def test_errors_can_come_as_json_strings(od: Od) -> None:
    od.sandbox.error_body = "json"
    response = await od.request("GET", "/appointments/999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == "Appointment not found"


async def test_a_key_the_sandbox_does_not_know_gets_a_provider_with_the_permissions_given(
    sandbox: OpenDentalSandbox,
) -> None:
    stranger = OpenDentalCredentials(
        developer_key=SecretStr("strangerDev"), customer_key=SecretStr("strangerCust")
    )
    provider = sandbox.provider(credentials=stranger, permissions=["Patients"])
    try:
        assert (await provider.test_connection()).ok is False  # the sandbox refuses the key, at the wire
    finally:
        await provider.aclose()
    with pytest.raises(InvalidArgumentError, match="not the sandbox's"):  # no permissions to declare
        sandbox.provider(credentials=stranger)
