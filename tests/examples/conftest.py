"""Fixtures for the receptionist adapter: the app over httpx's ASGI transport, the real SikkaSandbox on a
FakeClock behind it, and Twilio's REST API under respx (no network anywhere).

Tests run with ``--import-mode=importlib``, so shared helpers come as fixtures (``harness``,
``open_harness``, ``people``), and the repository root is put on ``sys.path`` so that the example package
imports as ``examples.fastapi_receptionist``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.fastapi_receptionist import Settings, create_app  # noqa: E402
from examples.fastapi_receptionist.connections import OpenDentalConnection  # noqa: E402
from examples.fastapi_receptionist.services import Services  # noqa: E402

from pms_connect import CredentialVault, PmsProvider  # noqa: E402
from pms_connect.errors import InvalidArgumentError  # noqa: E402
from pms_connect.matching import normalize_phone  # noqa: E402
from pms_connect.opendental import OpenDentalProvider  # noqa: E402
from pms_connect.sikka import SikkaCredentials, SikkaProvider  # noqa: E402
from pms_connect.stores import Store  # noqa: E402
from pms_connect.testing import FakeClock, OpenDentalSandbox, SikkaSandbox  # noqa: E402

ADMIN_TOKEN = "admin-token-0123456789abcdef"
VAPI_SECRET = "vapi-secret-5f1c2e"
HMAC_SECRET = "hmac-secret-9a8b7c"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-token-3e4d5c6b"
SMS_FROM = "+15005550006"
PUBLIC_BASE = "https://receptionist.example.com"
INTERNAL_BASE = "http://10.0.0.5:8000"  # what the app sees behind the proxy
ACCOUNT = "acct-1"
LINE = "+15550100000"  # the practice's Twilio number
VAPI_NUMBER_ID = "vapi-number-1"
FRONT_DESK = "+15550100001"
STAFF_MOBILE = "+15550100002"
SIP_URI = "sip:maplewood@sip.vapi.ai"
MESSAGES_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"

SHAPES = ["toolCallList", "toolWithToolCallList", "both", "toolCalls", "flat-parameters", "flat-arguments"]
"""Every way VOICE.md says Vapi lists tool calls (``both``: the two lists side by side, as Vapi sends)."""


def tool_calls_message(
    calls: list[tuple[str, str, Any]], *, shape: str, call: dict[str, Any], as_string: bool = False
) -> dict[str, Any]:
    """A ``tool-calls`` message in one of :data:`SHAPES`; ``as_string`` sends arguments as a JSON string."""

    def args(value: Any) -> Any:
        return json.dumps(value) if as_string else value

    plain = [{"id": i, "type": "function", "function": {"name": n, "arguments": args(a)}} for i, n, a in calls]
    wrapped = [
        {
            "type": "function",
            "function": {"name": n, "parameters": {"type": "object", "properties": {}}},
            "server": {"url": "https://receptionist.example.com/vapi/webhook"},
            "toolCall": {"id": i, "type": "function", "function": {"name": n, "arguments": args(a)}},
        }
        for i, n, a in calls
    ]
    message: dict[str, Any] = {"type": "tool-calls", "call": call}
    if shape == "toolCallList":
        message["toolCallList"] = plain
    elif shape == "toolWithToolCallList":
        message["toolWithToolCallList"] = wrapped
    elif shape == "both":
        message["toolCallList"] = plain
        message["toolWithToolCallList"] = wrapped
    elif shape == "toolCalls":
        message["toolCalls"] = plain
    elif shape == "flat-parameters":
        message["toolCallList"] = [{"id": i, "name": n, "parameters": args(a)} for i, n, a in calls]
    elif shape == "flat-arguments":
        message["toolCallList"] = [{"id": i, "name": n, "arguments": args(a)} for i, n, a in calls]
    else:
        raise ValueError(shape)
    return {"message": message}


@dataclass
class People:
    """Callers taken from the sandbox's seeded practice "1"."""

    known: Any  # a chart whose cell phone no other chart uses
    known_phone: str
    household: list[Any]  # charts sharing one home phone
    household_phone: str
    stranger_phone: str = "+13125550199"

    def details(self, chart: Any = None) -> dict[str, str]:
        """What a caller says to be verified: first and last name and date of birth (``known`` by default)."""
        chart = chart or self.known
        return {"firstName": chart.firstname, "lastName": chart.lastname, "birthdate": chart.birthdate.isoformat()}


@dataclass
class Harness:
    client: httpx.AsyncClient
    services: Services
    sandbox: SikkaSandbox
    clock: FakeClock
    settings: Settings
    twilio: respx.MockRouter
    database: Path
    app: Any = None
    opendental: OpenDentalSandbox | None = None
    call_id: str = "call-0001"
    _ids: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    admin: ClassVar[dict[str, str]] = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    vapi_auth: ClassVar[dict[str, str]] = {"X-Vapi-Secret": VAPI_SECRET}
    message = staticmethod(lambda *a, **kw: tool_calls_message(*a, **kw))
    check_result = staticmethod(lambda *a, **kw: assert_result_shape(*a, **kw))

    # -- setup -----------------------------------------------------------------------------------------

    def setup_body(self, **overrides: Any) -> dict[str, Any]:
        creds = self.sandbox.credentials
        body = {
            "accountId": ACCOUNT,
            "appId": creds.app_id,
            "appKey": creds.app_key.get_secret_value(),
            "officeId": creds.office_id,
            "secretKey": creds.secret_key.get_secret_value(),
            "practiceId": creds.practice_id,
            "timezone": self.sandbox.timezone,
        }
        body.update(overrides)
        return body

    def opendental_setup_body(self, **overrides: Any) -> dict[str, Any]:
        """The setup of a practice on the harness's Open Dental sandbox (``open_harness(opendental=...)``)."""
        assert self.opendental is not None, "open_harness(opendental=OpenDentalSandbox(...)) first"
        creds = self.opendental.credentials
        body = {
            "accountId": ACCOUNT,
            "provider": "opendental",
            "developerKey": creds.developer_key.get_secret_value(),
            "customerKey": creds.customer_key.get_secret_value(),
            "timezone": self.opendental.timezone,
        }
        body.update(overrides)
        return body

    async def connect(self, setup: dict[str, Any] | None = None, **number: Any) -> None:
        """Set the practice up (Sikka's sandbox unless ``setup`` says otherwise) and register its line (AI on,
        transfers to the front desk)."""
        response = await self.client.post("/pms/setup", json=setup or self.setup_body(), headers=self.admin)
        assert response.status_code == 200, response.text
        response = await self.save_number(**number)
        assert response.status_code == 200, response.text

    async def save_number(self, **overrides: Any) -> httpx.Response:
        body = {
            "accountId": ACCOUNT,
            "twilioNumber": LINE,
            "vapiPhoneNumberId": VAPI_NUMBER_ID,
            "integrationMethod": "forwarded",
            "sipUri": SIP_URI,
            "staffForwardNumber": FRONT_DESK,
            "staffSmsNumber": STAFF_MOBILE,
        }
        body.update(overrides)
        return await self.client.put("/pms/phone-numbers", json=body, headers=self.admin)

    # -- Vapi ------------------------------------------------------------------------------------------

    def call(self, caller: str | None) -> dict[str, Any]:
        call: dict[str, Any] = {
            "id": self.call_id,
            "orgId": "org-1",
            "type": "inboundPhoneCall",
            "status": "in-progress",
            "phoneNumberId": VAPI_NUMBER_ID,
            "phoneCallProviderId": "CA" + "f" * 32,
        }
        if caller is not None:
            call["customer"] = {"number": caller}
        return call

    async def vapi(
        self, payload: Any, *, path: str = "/vapi/webhook", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await self.client.post(
            path,
            content=content,
            headers={"Content-Type": "application/json", **(self.vapi_auth if headers is None else headers)},
        )

    async def tool(
        self,
        name: str,
        args: Any,
        *,
        caller: str | None,
        shape: str = "toolCallList",
        as_string: bool = False,
        path: str = "/vapi/webhook",
    ) -> dict[str, str]:
        """Run one tool call and return its result object, after checking the answer's exact shape."""
        self._ids += 1
        call_id = f"toolu_{self._ids:04d}"
        message = tool_calls_message(
            [(call_id, name, args)], shape=shape, call=self.call(caller), as_string=as_string
        )
        response = await self.vapi(message, path=path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == ["results"]
        [result] = body["results"]
        assert_result_shape(result, call_id, name)
        return dict(result)

    # -- SMS -------------------------------------------------------------------------------------------

    def texts(self) -> list[dict[str, str]]:
        """The form bodies of every SMS sent through Twilio's API so far."""
        route = self.twilio.routes["messages"]
        return [dict(parse_qsl(c.request.content.decode(), keep_blank_values=True)) for c in route.calls]

    async def eventually(self, predicate: Callable[[], bool], what: str, *, seconds: float = 60.0) -> None:
        """Let background work (writeback pollers on the FakeClock, SMS tasks) run until ``predicate``. The
        real-time bound only stops a hung test; it is generous so that a loaded machine never trips it."""
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0)

    async def call_log(self) -> Any:
        return await self.services.db.get_call(self.call_id)

    # -- the sandbox -----------------------------------------------------------------------------------

    async def pms(self) -> PmsProvider:
        """The app's own connection to the practice (its reference data is cached: tests stay fast)."""
        practice = await self.services.db.get_practice(ACCOUNT)
        assert practice is not None, "connect() first"
        return await self.services.connections.get(practice)

    def weekday(self, days_ahead: int) -> date:
        day = self.sandbox.today + timedelta(days=days_ahead)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day


def assert_result_shape(result: Any, call_id: str, name: str) -> None:
    """Exactly ``{toolCallId, name, result}`` or ``{toolCallId, name, error}``: strings on one line."""
    assert isinstance(result, dict)
    assert result["toolCallId"] == call_id
    assert result["name"] == name
    assert set(result) in ({"toolCallId", "name", "result"}, {"toolCallId", "name", "error"})
    text = result.get("result", result.get("error"))
    assert isinstance(text, str)
    assert text
    assert "\n" not in text
    assert "\r" not in text


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SikkaSandbox:
    return SikkaSandbox(seed=7, clock=clock)


@pytest.fixture(scope="session")
def people() -> People:
    """Seeded data depends only on the seed and the FakeClock's start, which every test shares."""
    sandbox = SikkaSandbox(seed=7, clock=FakeClock())
    charts = [p for p in sandbox.world.patients.values() if p.practice_id == "1"]
    by_phone: dict[str, list[Any]] = defaultdict(list)
    for chart in charts:
        for phone in {normalize_phone(x) for x in (chart.cell, chart.homephone, chart.workphone) if x}:
            if phone:
                by_phone[phone].append(chart)
    known = next(c for c in charts if c.cell and c.birthdate and len(by_phone[normalize_phone(c.cell) or ""]) == 1)
    household_phone, household = next(
        (phone, group)
        for phone, group in by_phone.items()
        if len(group) >= 2 and all(c.birthdate for c in group) and len({c.birthdate for c in group}) == len(group)
    )
    return People(
        known=known,
        known_phone="+1" + (normalize_phone(known.cell) or ""),
        household=household,
        household_phone="+1" + household_phone,
    )


@pytest.fixture
def twilio_api() -> respx.MockRouter:
    """Twilio's Messages API: every send is accepted with 201 and a fresh SID."""
    counter = iter(range(1, 10_000))

    def created(request: httpx.Request) -> httpx.Response:
        sid = f"SM{next(counter):032d}"
        return httpx.Response(201, json={"sid": sid, "status": "queued", "error_code": None})

    router = respx.MockRouter(base_url="https://api.twilio.com", assert_all_called=False)
    router.post(MESSAGES_PATH, name="messages").mock(side_effect=created)
    return router


OpenHarness = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def open_harness(
    tmp_path: Path, clock: FakeClock, sandbox: SikkaSandbox, twilio_api: respx.MockRouter
) -> OpenHarness:
    """``async with open_harness(**settings_overrides) as h``: an app with its own database."""
    opened = itertools.count()

    @asynccontextmanager
    async def open_(
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        opendental: OpenDentalSandbox | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Harness]:
        """``transport``: what the providers reach the Sikka sandbox through (default: the sandbox's own);
        ``opendental``: the sandbox Open Dental practices reach (none: setting one up is refused, offline)."""
        database = tmp_path / f"receptionist-{next(opened)}.db"
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{database}",
            "store_url": f"sqlite:///{database.with_suffix('.pms.db')}",  # the default kind of store
            "public_base_url": PUBLIC_BASE,
            "admin_token": ADMIN_TOKEN,
            "vault_keys": f"k1:{CredentialVault.generate_key()}",
            "vapi_secret": VAPI_SECRET,
            "vapi_hmac_secret": HMAC_SECRET,
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": TWILIO_TOKEN,
            "twilio_from_number": SMS_FROM,
        }
        values.update(overrides)
        settings = Settings.model_validate(values)

        def factory(credentials: SikkaCredentials, zone: str, store: Store) -> PmsProvider:
            return SikkaProvider(
                credentials,
                timezone=zone,
                base_url=sandbox.base_url,
                transport=transport or sandbox.transport,
                clock=clock,
                store=store,
            )

        def opendental_factory(connection: OpenDentalConnection, zone: str, store: Store) -> PmsProvider:
            if opendental is None:
                raise InvalidArgumentError("this harness has no Open Dental sandbox")
            # The sandbox's mode, address and clock; no permissions declared, as for real (app.opendental_factory).
            # Not ``opendental.provider()``: it looks the key up first, and a key it does not know must reach it.
            return OpenDentalProvider(
                connection.credentials,
                timezone=zone,
                mode=opendental.mode,
                base_url=opendental.base_url,
                transport=opendental.transport,
                clock=clock,
                store=store,
            )

        app = create_app(
            settings, pms_factories={"sikka": factory, "opendental": opendental_factory}, clock=clock.now
        )
        with twilio_api:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=INTERNAL_BASE) as client,
            ):
                yield Harness(
                    client=client,
                    services=app.state.services,
                    sandbox=sandbox,
                    clock=clock,
                    settings=settings,
                    twilio=twilio_api,
                    database=database,
                    app=app,
                    opendental=opendental,
                )

    return open_


@pytest.fixture
async def harness(open_harness: OpenHarness) -> AsyncIterator[Harness]:
    async with open_harness() as h:
        yield h


@pytest.fixture
async def connected(harness: Harness) -> Harness:
    """The harness with the practice set up and its line registered."""
    await harness.connect()
    return harness
