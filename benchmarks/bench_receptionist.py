"""The example receptionist on the phone: how long a caller waits for each tool, with a PMS 100 ms away.

Run: ``python benchmarks/bench_receptionist.py [--latency-ms 100] [--runs 30] [--concurrent 20]``

A Sikka sandbox is served by uvicorn on loopback (a process of its own) and answers each request ``--latency-ms``
late; the adapter (``examples/fastapi_receptionist``, its default SQLite database and store) runs in this
process and is called over httpx's ASGI transport, as Vapi would call it, with a fresh call id per call.
Caches are warmed first (one availability check and one booking), as after the first call of the day.
Measured, as p50 and p95 of each tool call's wall time:

* ``check_availability`` for one day;
* ``get_patient_info`` with name and date of birth (verified, with upcoming appointments);
* ``book_appointment`` from scratch (name and date of birth in the call, a time not offered before);
* ``book_appointment`` in a call that verified the caller and heard the open times (the usual call);
* ``--concurrent`` bookings of distinct slots at once, each by another caller;
* the sequential PMS round trips of each booking: the longest chain of its requests to the sandbox, each
  starting after the previous one ended (requests made together count once), measured at the transport.

Bookings stay pending in the sandbox (its writebacks complete an hour later), so every one holds its slot.
The practice's rate budget is lifted (as in ``bench_stores.py``): the whole run makes more requests than
Sikka's 200 a minute, and these are figures of latency, not of the budget (20 bookings at once make about 80
requests, within a fresh budget).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import socket
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.fastapi_receptionist import Settings, create_app  # noqa: E402

from pms_connect import CredentialVault, PmsProvider  # noqa: E402
from pms_connect.matching import normalize_phone  # noqa: E402
from pms_connect.ratelimit import RateLimit  # noqa: E402
from pms_connect.sikka import SikkaCredentials, SikkaProvider  # noqa: E402
from pms_connect.stores import Store  # noqa: E402
from pms_connect.testing import SikkaSandbox  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789"  # noqa: S105 - made up for the run
VAPI_SECRET = "bench-vapi-secret"  # noqa: S105
ACCOUNT = "bench"
NUMBER_ID = "bench-number"
BACKGROUND = ("/v4/writebacks", "/v4/writeback_status")
GOALS_MS = {
    "book_appointment (from scratch)": 800,
    "check_availability": 450,
    "get_patient_info": 300,
}
CONCURRENT_GOAL_MS = 1500
ROUND_TRIP_GOAL = 3
UNLIMITED = RateLimit(requests=10**9, per_seconds=60)


# -- the served sandbox and a transport that records spans ------------------------------------------------


SANDBOX = {"seed": 7, "writeback_delay": timedelta(hours=1), "rate_limit": 1_000_000}
"""The sandbox served, and its twin in this process (same seed: same credentials, patients and book)."""


def _serve(conn: Connection, latency_ms: float) -> None:
    """The child process: the sandbox on a loopback port, answering ``latency_ms`` late."""
    import uvicorn

    sandbox = SikkaSandbox(**SANDBOX)  # type: ignore[arg-type]
    sandbox.faults.latency = timedelta(milliseconds=latency_ms)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    conn.send(listener.getsockname()[1])
    uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning")).run(sockets=[listener])


@contextmanager
def served(latency_ms: float) -> Iterator[str]:
    """The sandbox in a process of its own (as ``pms-connect sandbox`` would be): its work never competes
    with the adapter's for this interpreter."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, latency_ms), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the sandbox process did not start")
        yield f"http://127.0.0.1:{parent.recv()}/v4"
    finally:
        process.terminate()
        process.join(timeout=10)


@dataclass
class Recording(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    spans: list[tuple[float, float, str]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.spans.append((started, time.perf_counter(), request.url.path))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def round_trips(self, since: float) -> int:
        chain, last_end = 0, -1.0
        mine = [s for s in self.spans if s[0] >= since and not s[2].endswith(BACKGROUND)]
        for start, end, _ in sorted(mine, key=lambda s: s[1]):
            if start >= last_end:
                chain, last_end = chain + 1, end
        return chain


# -- the seeded practice's callers and free slots ------------------------------------------------------------


def callers(sandbox: SikkaSandbox) -> list[tuple[str, dict[str, str]]]:
    by_phone: dict[str, list[Any]] = defaultdict(list)
    for chart in sandbox.world.patients.values():
        if chart.practice_id != sandbox.credentials.practice_id:
            continue
        for phone in {normalize_phone(x) for x in (chart.cell, chart.homephone, chart.workphone) if x}:
            if phone:
                by_phone[phone].append(chart)
    found = []
    for phone, charts in sorted(by_phone.items()):
        chart = charts[0]
        if len(charts) == 1 and chart.birthdate and normalize_phone(chart.cell) == phone:
            details = {
                "firstName": chart.firstname,
                "lastName": chart.lastname,
                "birthdate": chart.birthdate.isoformat(),
            }
            found.append(("+1" + phone, details))
    return found


async def free_slots(pms: SikkaProvider, first_day: int, days: int) -> list[tuple[str, str]]:
    """Distinct 30-minute slots that overlap nowhere: (practice wall clock ``YYYY-MM-DDTHH:MM``, provider)."""
    today = pms.today()
    slots = await pms.appointments.find_slots(
        start=today + timedelta(days=first_day),
        end=today + timedelta(days=first_day + days),
        duration=timedelta(minutes=30),
    )
    taken: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    chairs: dict[str | None, list[tuple[datetime, datetime]]] = defaultdict(list)
    picked = []
    for slot in slots:
        assert slot.provider_id is not None
        span = (slot.start, slot.end)
        if any(s < span[1] and span[0] < e for s, e in taken[slot.provider_id] + chairs[slot.operatory]):
            continue
        taken[slot.provider_id].append(span)
        chairs[slot.operatory].append(span)
        picked.append((slot.start.replace(tzinfo=None).isoformat(timespec="minutes"), slot.provider_id))
    return picked


# -- the adapter -------------------------------------------------------------------------------------------


class Caller:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ids = itertools.count()

    def call_id(self) -> str:
        return f"bench-call-{next(self.ids)}"

    async def tool(self, call_id: str, phone: str, name: str, arguments: dict[str, Any]) -> str:
        call = {"id": call_id, "phoneNumberId": NUMBER_ID, "customer": {"number": phone}}
        item = {"id": f"t-{call_id}", "type": "function", "function": {"name": name, "arguments": arguments}}
        message = {"message": {"type": "tool-calls", "call": call, "toolCallList": [item]}}
        response = await self.client.post("/vapi/webhook", json=message, headers={"X-Vapi-Secret": VAPI_SECRET})
        response.raise_for_status()
        [result] = response.json()["results"]
        if "result" not in result:
            raise RuntimeError(f"{name} failed: {result.get('error')}")
        return str(result["result"])


async def timed(work: Awaitable[str]) -> tuple[float, str]:
    started = time.perf_counter()
    answer = await work
    return (time.perf_counter() - started) * 1000, answer


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def run(latency_ms: float, runs: int, concurrent: int, store: str) -> dict[str, Any]:
    sandbox = SikkaSandbox(**SANDBOX)  # type: ignore[arg-type]
    with served(latency_ms) as base_url, tempfile.TemporaryDirectory(prefix="bench-receptionist-") as tmp:
        recording = Recording(httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200)))

        def factory(credentials: SikkaCredentials, zone: str, store: Store) -> PmsProvider:
            return SikkaProvider(
                credentials,
                timezone=zone,
                base_url=base_url,
                transport=recording,
                store=store,
                rate_limit=UNLIMITED,
            )

        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{tmp}/receptionist.db",
                "store_url": f"sqlite:///{tmp}/receptionist-pms.db" if store == "sqlite" else "memory://",
                "admin_token": ADMIN_TOKEN,
                "vault_keys": f"k1:{CredentialVault.generate_key()}",
                "vapi_secret": VAPI_SECRET,
            }
        )
        app = create_app(settings, pms_factories={"sikka": factory})
        people = callers(sandbox)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
            ) as client,
        ):
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
            (await client.post("/pms/setup", json=setup, headers=admin)).raise_for_status()
            number = {"accountId": ACCOUNT, "twilioNumber": "+15550100000", "vapiPhoneNumberId": NUMBER_ID}
            (await client.put("/pms/phone-numbers", json=number, headers=admin)).raise_for_status()
            async with SikkaProvider(
                creds, timezone=sandbox.timezone, base_url=base_url, rate_limit=UNLIMITED
            ) as reader:
                slots = await free_slots(reader, 50, 40)
            needed = 2 * runs + concurrent + 1
            if len(slots) < needed:
                raise SystemExit(f"only {len(slots)} free slots; lower --runs or --concurrent")
            free = iter(slots)
            caller = Caller(client)
            who = itertools.cycle(people)

            # Warm up: the SDK's reference caches, as after the first call of the day.
            phone, details = next(who)
            day = (reader.today() + timedelta(days=50)).isoformat()
            await caller.tool(caller.call_id(), phone, "check_availability", {"date": day})
            start, provider = next(free)
            await caller.tool(caller.call_id(), phone, "book_appointment", {"start": start, **details})

            figures: dict[str, list[float]] = defaultdict(list)
            trips: dict[str, list[int]] = defaultdict(list)
            for i in range(runs):
                day = (reader.today() + timedelta(days=20 + i % 20)).isoformat()
                ms, answer = await timed(caller.tool(caller.call_id(), phone, "check_availability", {"date": day}))
                figures["check_availability"].append(ms)
            for _ in range(runs):
                phone, details = next(who)
                since = time.perf_counter()
                ms, answer = await timed(caller.tool(caller.call_id(), phone, "get_patient_info", details))
                assert '"verified":true' in answer, answer
                figures["get_patient_info"].append(ms)
                trips["get_patient_info"].append(recording.round_trips(since))
            for _ in range(runs):
                phone, details = next(who)
                start, provider = next(free)
                since = time.perf_counter()
                args = {"start": start, "providerId": provider, **details}
                ms, answer = await timed(caller.tool(caller.call_id(), phone, "book_appointment", args))
                assert answer.startswith("I've sent the request"), answer
                figures["book_appointment (from scratch)"].append(ms)
                trips["book_appointment (from scratch)"].append(recording.round_trips(since))
            for _ in range(runs):
                phone, details = next(who)
                start, provider = next(free)
                call_id = caller.call_id()
                await caller.tool(call_id, phone, "get_patient_info", details)
                await caller.tool(
                    call_id, phone, "check_availability", {"date": start[:10], "providerId": provider}
                )
                since = time.perf_counter()
                booking = {"start": start, "providerId": provider}
                ms, answer = await timed(caller.tool(call_id, phone, "book_appointment", booking))
                if not answer.startswith("I've sent the request"):
                    raise RuntimeError(answer)
                figures["book_appointment (verified earlier)"].append(ms)
                trips["book_appointment (verified earlier)"].append(recording.round_trips(since))

            batch = [(next(who), next(free)) for _ in range(concurrent)]

            async def book(entry: Any) -> float:
                (phone, details), (start, provider) = entry
                args = {"start": start, "providerId": provider, **details}
                ms, answer = await timed(caller.tool(caller.call_id(), phone, "book_appointment", args))
                if not answer.startswith("I've sent the request"):
                    raise RuntimeError(answer)
                return ms

            figures[f"{concurrent} concurrent bookings"] = list(await asyncio.gather(*(book(e) for e in batch)))
    return {"figures": figures, "trips": trips}


def report(results: dict[str, Any], latency_ms: float, concurrent: int) -> bool:
    figures: dict[str, list[float]] = results["figures"]
    trips: dict[str, list[int]] = results["trips"]
    goals = {**GOALS_MS, f"{concurrent} concurrent bookings": CONCURRENT_GOAL_MS}
    print(f"\nexample receptionist, PMS latency {latency_ms:.0f} ms (served sandbox on loopback)\n")
    print(f"{'tool call':<38} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'goal p95':>9} {'round trips':>12}  ")
    ok = True
    for name, values in figures.items():
        goal = goals.get(name)
        met = goal is None or p(values, 0.95) <= goal
        ok = ok and met
        rt = trips.get(name)
        rt_text = f"{min(rt)}-{max(rt)}" if rt and min(rt) != max(rt) else (str(rt[0]) if rt else "")
        print(
            f"{name:<38} {len(values):>3} {p(values, 0.5):>8.0f} {p(values, 0.95):>8.0f} "
            f"{(str(goal) if goal else '-'):>9} {rt_text:>12}  "
            f"{'' if goal is None else 'met' if met else 'MISSED'}"
        )
    usual = trips.get("book_appointment (verified earlier)", [])
    rt_met = bool(usual) and max(usual) <= ROUND_TRIP_GOAL
    verdict = "met" if rt_met else "MISSED"
    print(f"\nsequential PMS round trips, the usual booking: goal <= {ROUND_TRIP_GOAL}: {verdict}")
    return ok and rt_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument(
        "--store", choices=("sqlite", "memory"), default="sqlite", help="the SDK store (default sqlite)"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args.latency_ms, args.runs, args.concurrent, args.store))
    met = report(results, args.latency_ms, args.concurrent)
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
