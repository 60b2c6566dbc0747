"""Limits before work: bodies over a path's limit are 413 before they are read (with or without a
``Content-Length``), credentials that do not depend on the body are checked before it is read, Twilio's form
is bounded, and (with real uvicorn on loopback) huge or slow requests in flight never delay a tool call."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.fastapi_receptionist import Settings, create_app
from examples.fastapi_receptionist.guards import BodyLimit, RequestGuard
from twilio.request_validator import RequestValidator

from pms_connect import CredentialVault, PmsProvider
from pms_connect.sikka import SikkaCredentials, SikkaProvider
from pms_connect.stores import Store
from pms_connect.testing import SikkaSandbox

ADMIN_TOKEN = "admin-token-0123456789abcdef"
VAPI_SECRET = "vapi-secret-5f1c2e"
TWILIO_TOKEN = "twilio-token-3e4d5c6b"
PUBLIC_BASE = "https://receptionist.example.com"
HUGE = 8 * 1024 * 1024


class Recorder:
    """An ASGI ``receive`` that hands out a body in chunks and counts how many were asked for."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.taken >= len(self.chunks):
            return {"type": "http.disconnect"}
        self.taken += 1
        return {
            "type": "http.request",
            "body": self.chunks[self.taken - 1],
            "more_body": self.taken < len(self.chunks),
        }


def guard_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "vault_keys": "k1:AAAA",
        "vapi_secret": VAPI_SECRET,
        **overrides,
    }
    return Settings.model_validate(values)


async def run_guard(
    path: str, headers: dict[str, str], receive: Recorder, *, limit: int = 1000
) -> tuple[int, list[bytes]]:
    """Run ``RequestGuard`` over an app that reads its body; (status, what the app read)."""
    read: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        read.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    guard = RequestGuard(
        app,
        settings=guard_settings(),
        limits=[BodyLimit("/twilio/", limit)],
        default_max_bytes=limit,
        body_timeout=5.0,
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await guard(scope, receive, send)
    return sent[0]["status"], read


async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read() -> None:
    receive = Recorder([b"x" * 10_000])
    status, read = await run_guard("/twilio/voice", {"content-length": "10000"}, receive)
    assert status == 413
    assert receive.taken == 0
    assert read == []


async def test_a_chunked_body_over_the_limit_is_413_once_the_limit_is_passed() -> None:
    receive = Recorder([b"x" * 400] * 100)  # 40 KB in 400-byte chunks, no Content-Length
    status, read = await run_guard("/twilio/voice", {"transfer-encoding": "chunked"}, receive)
    assert status == 413
    assert receive.taken == 3  # 1,200 bytes read: the first chunk past the limit, not one more
    assert read == []


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    receive = Recorder([b"a" * 300, b"b" * 300])
    status, read = await run_guard("/twilio/voice", {"transfer-encoding": "chunked"}, receive)
    assert status == 200
    assert read == [b"a" * 300 + b"b" * 300]


async def test_the_admin_token_is_checked_before_the_body_is_read() -> None:
    receive = Recorder([b"{" * 500])
    status, _ = await run_guard("/pms/setup", {"content-type": "application/json"}, receive)
    assert status == 401
    assert receive.taken == 0


async def test_a_vapi_request_without_any_credential_is_401_before_the_body_is_read() -> None:
    receive = Recorder([b"{}"])
    status, _ = await run_guard("/vapi/webhook", {"content-type": "application/json"}, receive)
    assert status == 401
    assert receive.taken == 0


async def test_limits_through_the_app(harness: Any) -> None:
    h = harness
    twilio = await h.client.post("/twilio/voice", content=b"a=&" * 10_000, headers={"X-Twilio-Signature": "x"})
    assert twilio.status_code == 413
    unauthenticated = await h.client.post("/pms/setup", content=b"[" * 100_000)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    too_big = await h.client.post("/pms/setup", content=b"[" * 100_000, headers=h.admin)
    assert too_big.status_code == 413
    vapi = await h.vapi(b" " * (h.settings.vapi_max_body_bytes + 1))
    assert vapi.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 10_000

    chunked = await h.client.post("/vapi/webhook", content=chunks(), headers=h.vapi_auth)
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert h.sandbox.requests == []


async def test_a_twilio_form_with_more_fields_than_twilio_sends_is_refused(connected: Any) -> None:
    h = connected
    params = {f"F{i:03d}": "" for i in range(150)} | {"To": "+15550100000"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC_BASE}/twilio/voice", params)
    response = await h.client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


# -- with real uvicorn on loopback ------------------------------------------------------------------------


class Served:
    def __init__(self, port: int, sandbox: SikkaSandbox) -> None:
        self.port = port
        self.sandbox = sandbox

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.connect()
        return conn

    def raw(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=60)


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[Served]:
    """The whole app under uvicorn in a thread, on the in-process sandbox (real clocks)."""
    import uvicorn

    sandbox = SikkaSandbox(seed=7, rate_limit=100_000)

    def factory(credentials: SikkaCredentials, zone: str, store: Store) -> PmsProvider:
        return SikkaProvider(
            credentials, timezone=zone, base_url=sandbox.base_url, transport=sandbox.transport, store=store
        )

    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'receptionist.db'}",
            "store_url": f"sqlite:///{tmp_path / 'pms.db'}",
            "public_base_url": PUBLIC_BASE,
            "admin_token": ADMIN_TOKEN,
            "vault_keys": f"k1:{CredentialVault.generate_key()}",
            "vapi_secret": VAPI_SECRET,
            "twilio_auth_token": TWILIO_TOKEN,
        }
    )
    app = create_app(settings, pms_factories={"sikka": factory})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_keep_alive=120))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield Served(listener.getsockname()[1], sandbox)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listener.close()
    assert not thread.is_alive()


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    conn.request(
        method, path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, (response.status, data[:300])
    return json.loads(data)


def availability_call(day: str) -> dict[str, Any]:
    call = {"id": "call-limits", "phoneNumberId": "limits-number", "customer": {"number": "+13125550199"}}
    tool = {"id": "t1", "type": "function", "function": {"name": "check_availability", "arguments": {"date": day}}}
    return {"message": {"type": "tool-calls", "call": call, "toolCallList": [tool]}}


def timed_calls(conn: http.client.HTTPConnection, day: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        [result] = request(conn, "POST", "/vapi/webhook", availability_call(day), {"X-Vapi-Secret": VAPI_SECRET})[
            "results"
        ]
        times.append(time.perf_counter() - started)
        assert result["result"].startswith(("Open times", "No open times")), result
    return times


def head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send what the server takes; it may answer and close before the end."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


@pytest.mark.slow
def test_huge_and_slow_requests_in_flight_never_delay_a_tool_call(served_app: Served) -> None:
    s = served_app
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    creds = s.sandbox.credentials
    conn = s.connect()
    setup = {
        "accountId": "limits",
        "appId": creds.app_id,
        "appKey": creds.app_key.get_secret_value(),
        "officeId": creds.office_id,
        "secretKey": creds.secret_key.get_secret_value(),
        "practiceId": creds.practice_id,
        "timezone": s.sandbox.timezone,
    }
    request(conn, "POST", "/pms/setup", setup, admin)
    number = {"accountId": "limits", "twilioNumber": "+15550100000", "vapiPhoneNumberId": "limits-number"}
    request(conn, "PUT", "/pms/phone-numbers", number, admin)
    day = (s.sandbox.today.fromordinal(s.sandbox.today.toordinal() + 3)).isoformat()
    timed_calls(conn, day, 2)  # warm the caches
    baseline = statistics.median(timed_calls(conn, day, 7))

    form = b"&".join(b"F%d=" % i for i in range(HUGE // 8))[:HUGE]
    huge_json = b"[" * HUGE
    sockets: list[socket.socket] = []
    try:
        # Declared huge: answered from the headers alone, the body never sent.
        declared = s.raw()
        sockets.append(declared)
        declared.sendall(head("/twilio/voice", {"Content-Length": str(HUGE), "X-Twilio-Signature": "x"}))
        assert status_of(declared) == 413
        # Huge bodies sent whole (an unsigned Twilio form, unauthenticated JSON to /pms/setup).
        for path, body, headers in (
            ("/twilio/voice", form, {"X-Twilio-Signature": "forged"}),
            ("/pms/setup", huge_json, {"Content-Type": "application/json"}),
        ):
            sock = s.raw()
            sockets.append(sock)
            send_all(sock, head(path, {"Content-Length": str(len(body)), **headers}) + body)
        # In flight while the tool calls are made: a chunked body that never ends, and a stalled one.
        chunked = s.raw()
        sockets.append(chunked)
        send_all(
            chunked,
            head("/vapi/webhook", {"Transfer-Encoding": "chunked", "X-Vapi-Secret": VAPI_SECRET})
            + (b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n") * 8,
        )
        stalled = s.raw()
        sockets.append(stalled)
        send_all(stalled, head("/vapi/webhook", {"Content-Length": "5000", "X-Vapi-Secret": VAPI_SECRET}) + b"{")
        during = statistics.median(timed_calls(conn, day, 7))
        assert status_of(chunked) == 413
    finally:
        for sock in sockets:
            sock.close()
        conn.close()
    ratio = during / baseline
    print(f"\ntool call median {baseline * 1000:.1f} ms alone, {during * 1000:.1f} ms under attack ({ratio:.2f}x)")
    assert ratio < 3, (baseline, during)
