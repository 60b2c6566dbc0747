"""The adapter as a fleet, for real: ``uvicorn examples.fastapi_receptionist.app:from_env --factory --workers 2``
in a subprocess, against a Sikka sandbox served on loopback (uvicorn in a thread of this process, so the test
reads its request log), and twenty callers asking for one slot at once, half of them through each worker.

The sandbox's clock stands still and it accepts overlapping bookings, so nothing but the workers' shared store
(the booking lock and the slot claims) can stop a double booking.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pms_connect import CredentialVault
from pms_connect.matching import normalize_phone
from pms_connect.testing import FakeClock, SikkaSandbox

from ..served import Served, serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP = "examples.fastapi_receptionist.app:from_env"
ADMIN_TOKEN = "fleet-admin-token-0123456789"
VAPI_SECRET = "fleet-vapi-secret-8d7c"
ACCOUNT = "fleet"
VAPI_NUMBER_ID = "fleet-number"
CALLERS = 20
WORKERS = 2
BOOKED = "I've sent the request for "

T = TypeVar("T")

# Every log line carries the process id: which worker accepted each connection, and what it answered.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(process)d %(message)s",
            "use_colors": False,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(process)d ACCESS %(client_addr)s "%(request_line)s" %(status_code)s',
            "use_colors": False,
        },
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
ACCESS = re.compile(r'^(\d+) ACCESS 127\.0\.0\.1:(\d+) "(\S+) (\S+) HTTP/[\d.]+" (\d+)\b')


def eventually(probe: Callable[[], T | None], what: str, *, seconds: float = 20.0, check: Callable[[], None]) -> T:
    """Poll ``probe`` until it returns something, within a deadline; ``check`` fails fast (a dead server)."""
    deadline = time.monotonic() + seconds
    while True:
        check()
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def served() -> Iterator[Served]:
    """A sandbox on loopback whose clock stands still at the real now: bookings stay pending."""
    sandbox = SikkaSandbox(
        seed=7,
        clock=FakeClock(start=datetime.now(timezone.utc)),
        writeback_delay=timedelta(minutes=60),
        rate_limit=100_000,
    )
    yield from serve(sandbox)


class Fleet:
    """``uvicorn ... --workers 2`` on a listening socket of ours (``--fd``: no port to guess), logging to a
    file, with one persistent HTTP connection per caller."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        config = tmp_path / "log-config.json"
        config.write_text(json.dumps(LOG_CONFIG))
        self.log = tmp_path / "uvicorn.log"
        fd = self.listener.fileno()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - uvicorn, run by this interpreter
                [
                    *(sys.executable, "-m", "uvicorn", APP, "--factory", "--workers", str(WORKERS)),
                    *("--fd", str(fd), "--log-config", str(config), "--timeout-keep-alive", "120"),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
            )

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"uvicorn exited with {self.process.returncode}:\n" + "\n".join(self.lines()))

    def started_workers(self) -> set[int]:
        return {int(m[1]) for m in re.finditer(r"Started server process \[(\d+)\]", self.log.read_text())}

    def startups(self) -> int:
        return sum(line.endswith("Application startup complete.") for line in self.lines())

    def access(self) -> list[tuple[int, int, str, str, int]]:
        """(pid, client port, method, path, status) of every request answered so far."""
        found = []
        for line in self.lines():
            m = ACCESS.match(line)
            if m:
                found.append((int(m[1]), int(m[2]), m[3], m[4], int(m[5])))
        return found

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.connect()
        return conn

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the parent stops its workers, each runs its shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.listener.close()
        return self.process.returncode


def send(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    payload = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, (response.status, data[:300])
    return json.loads(data)


def callers(sandbox: SikkaSandbox, n: int) -> list[tuple[str, dict[str, str]]]:
    """Cell numbers of ``n`` charts that no other chart shares, each with what its caller says to be verified
    (first and last name, date of birth)."""
    practice = sandbox.credentials.practice_id
    by_phone: dict[str, list[Any]] = defaultdict(list)
    for chart in sandbox.world.patients.values():
        if chart.practice_id != practice:
            continue
        for phone in {normalize_phone(x) for x in (chart.cell, chart.homephone, chart.workphone) if x}:
            if phone:
                by_phone[phone].append(chart)
    unique = sorted({normalize_phone(c.cell) for c in sandbox.world.patients.values() if c.cell} - {None})
    phones = [p for p in unique if p is not None and len(by_phone.get(p, [])) == 1 and by_phone[p][0].birthdate][
        :n
    ]
    assert len(phones) == n, "the seeded practice has too few distinct callers"
    return [
        (
            "+1" + p,
            {
                "firstName": by_phone[p][0].firstname,
                "lastName": by_phone[p][0].lastname,
                "birthdate": by_phone[p][0].birthdate.isoformat(),
            },
        )
        for p in phones
    ]


def open_slot(sandbox: SikkaSandbox) -> tuple[str, str]:
    """An open slot a few weekdays ahead: (practice wall clock ``YYYY-MM-DDTHH:MM``, provider id)."""

    async def find() -> tuple[str, str]:
        day = sandbox.today + timedelta(days=3)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        async with sandbox.provider() as pms:
            [slot, *_] = await pms.appointments.find_slots(
                start=day, end=day, duration=timedelta(minutes=30), limit=3
            )
        assert slot.provider_id is not None
        return slot.start.replace(tzinfo=None).isoformat(timespec="minutes"), slot.provider_id

    return asyncio.run(find())


def book_message(
    call_id: str, caller: str, start: str, provider_id: str, details: dict[str, str]
) -> dict[str, Any]:
    call = {
        "id": call_id,
        "type": "inboundPhoneCall",
        "phoneNumberId": VAPI_NUMBER_ID,
        "customer": {"number": caller},
    }
    arguments = {"start": start, "providerId": provider_id, "reason": "cleaning", **details}
    tool = {
        "id": f"tool-{call_id}",
        "type": "function",
        "function": {"name": "book_appointment", "arguments": arguments},
    }
    return {"message": {"type": "tool-calls", "call": call, "toolCallList": [tool]}}


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_two_workers_give_one_slot_to_exactly_one_of_twenty_callers(
    served: Served, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    sandbox = served.sandbox
    if store == "redis":  # as several hosts would: nothing shared but the Redis
        store_url = f"{request.getfixturevalue('redis_url')}?prefix=fleet{secrets.token_hex(4)}"
    else:
        store_url = f"sqlite:///{tmp_path / 'receptionist-pms.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "PMS_CONNECT_"))}
    env.update(
        RECEPTIONIST_ADMIN_TOKEN=ADMIN_TOKEN,
        RECEPTIONIST_VAULT_KEYS=f"k1:{CredentialVault.generate_key()}",
        RECEPTIONIST_VAPI_SECRET=VAPI_SECRET,
        RECEPTIONIST_SIKKA_BASE_URL=served.base_url,
        RECEPTIONIST_DATABASE_URL=f"sqlite:///{tmp_path / 'receptionist.db'}",  # empty: both workers create it
        RECEPTIONIST_STORE_URL=store_url,
        PYTHONUNBUFFERED="1",
    )
    fleet = Fleet(tmp_path, env)
    connections: list[http.client.HTTPConnection] = []
    try:
        eventually(lambda: fleet.startups() >= WORKERS or None, "both workers to start", check=fleet.alive)
        workers = fleet.started_workers()
        assert len(workers) == WORKERS, fleet.lines()

        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        creds = sandbox.credentials
        setup = {
            "accountId": ACCOUNT,
            "appId": creds.app_id,
            "appKey": creds.app_key.get_secret_value(),
            "officeId": creds.office_id,
            "secretKey": creds.secret_key.get_secret_value(),
            "practiceId": creds.practice_id,
            "timezone": sandbox.timezone,
        }
        number = {
            "accountId": ACCOUNT,
            "twilioNumber": "+15550100000",
            "vapiPhoneNumberId": VAPI_NUMBER_ID,
            "sipUri": "sip:fleet@sip.vapi.ai",
            "staffForwardNumber": "+15550100001",
        }
        admin_conn = fleet.connect()
        connections.append(admin_conn)
        assert send(admin_conn, "GET", "/health", None, {}) == {"status": "ok"}
        send(admin_conn, "POST", "/pms/setup", setup, admin)
        send(admin_conn, "PUT", "/pms/phone-numbers", number, admin)

        # Half the callers on connections each worker accepted: open connections until both have enough.
        by_worker: dict[int, list[http.client.HTTPConnection]] = defaultdict(list)
        for _ in range(20 * CALLERS):
            if all(len(by_worker[pid]) >= CALLERS // WORKERS for pid in workers):
                break
            conn = fleet.connect()
            connections.append(conn)
            local_port = conn.sock.getsockname()[1]
            send(conn, "GET", "/health", None, {})

            def answered(port: int = local_port) -> int | None:
                return next(
                    (pid for pid, p, _, path, _ in fleet.access() if p == port and path == "/health"), None
                )

            by_worker[eventually(answered, "the health check's log line", check=fleet.alive)].append(conn)
        assert set(by_worker) == workers
        lines = [conn for pid in sorted(workers) for conn in by_worker[pid][: CALLERS // WORKERS]]
        assert len(lines) == CALLERS, {pid: len(c) for pid, c in by_worker.items()}

        start, provider_id = open_slot(sandbox)
        phones = callers(sandbox, CALLERS)
        sandbox.requests.clear()
        barrier = threading.Barrier(CALLERS)

        def book(i: int) -> str:
            phone, details = phones[i]
            message = book_message(f"call-{i:02d}", phone, start, provider_id, details)
            barrier.wait(timeout=30)
            [result] = send(lines[i], "POST", "/vapi/webhook", message, {"X-Vapi-Secret": VAPI_SECRET})["results"]
            assert "result" in result, result
            return str(result["result"])

        with ThreadPoolExecutor(max_workers=CALLERS) as pool:
            answers = list(pool.map(book, range(CALLERS)))

        booked = [a for a in answers if a.startswith(BOOKED)]
        posted = [r for r in sandbox.requests if (r.method, r.path) == ("POST", "/v4/appointment")]
        served_by = Counter(
            pid for pid, _, method, path, _ in fleet.access() if (method, path) == ("POST", "/vapi/webhook")
        )
        figures = f"told booked: {len(booked)}; POST /v4/appointment: {len(posted)}; per worker: {dict(served_by)}"
        print(f"\n[{store}] {figures}")
        assert len(booked) == 1, answers
        assert len(posted) == 1, posted
        assert all("Not booked" in a for a in answers if not a.startswith(BOOKED)), answers
        assert sorted(served_by.values()) == [CALLERS // WORKERS] * WORKERS, served_by
    finally:
        for conn in connections:
            conn.close()
        code = fleet.stop()
    assert code == 0, fleet.lines()
    shutdowns = [line for line in fleet.lines() if line.endswith("Application shutdown complete.")]
    assert len(shutdowns) == WORKERS, fleet.lines()
