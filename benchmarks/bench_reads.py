"""Benchmark: the read path against raw httpx doing the same requests, CPU time, in one run.

    python benchmarks/bench_reads.py [--rows 20000] [--repeat 7]

An in-memory transport serves Sikka-shaped pages (every value a string, the documented envelope, page-index
offsets, ``total_count``; bodies pre-serialized, so serving costs the same whoever asks). Measured, as the
median of ``--repeat`` runs of CPU time (``time.process_time``), the contenders taking turns run by run:

* ``appointments.list(...).all()`` over a window holding ``--rows`` appointments (plus some the day before,
  which a read from the day before would also fetch), on a new provider each run (the auth handshake
  included), against raw httpx sending the same requests and ``.json()``-ing them to dicts, and raw httpx
  plus plain pydantic models (one model a row, strings left as they are);
* ``patients.list().all()`` for ``--rows`` patients, the same way;
* one request's own overhead: a one-row read repeated ``--single`` times on a warm provider (Sikka's budget
  of 200 a minute, on a virtual clock) against the same request through raw httpx.

The goals (issue 11): every ratio at most 1.3x raw httpx with ``.json()``; the appointments read in at most
5 requests including the auth handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
from pydantic import BaseModel

from pms_connect.sikka import SikkaCredentials, SikkaProvider
from pms_connect.testing import FakeClock

BASE = "https://api.sikkasoft.com/v4"
CREDENTIALS = SikkaCredentials(app_id="app", app_key="app-key", office_id="D1", secret_key="secret")  # noqa: S106
WINDOW_START = date(2026, 3, 2)
DAYS = 14
PAGE = 5000


def appointment_row(n: int, day: date) -> dict[str, str]:
    """A row shaped like Sikka's own example (``oneapi.txt``, ``appointments?fields=...``)."""
    minute = 7 * 60 + (n * 10) % (10 * 60)
    return {
        "href": f"{BASE}/practices/1/appointments/{n}",
        "patient_href": f"{BASE}/practices/1/patients/{5000 + n % 3000}",
        "patient_id": str(5000 + n % 3000),
        "guarantor_id": "",
        "provider_id": f"DMD{n % 10}",
        "provider_href": f"{BASE}/practices/1/providers/DMD{n % 10}",
        "practice_id": "1",
        "practice_href": f"{BASE}/practices/1",
        "guarantor_href": "",
        "hygienist": "",
        "amount": "0.0000",
        "status": ("Scheduled", "Confirmed", "Cancelled", "Complete")[n % 4],
        "note": "",
        "surface_quadrant_type": "",
        "appointment_sr_no": str(n),
        "date": f"{day.isoformat()}T00:00:00",
        "time": f"{minute // 60:02d}:{minute % 60:02d}",
        "length": ("30", "60", "90")[n % 3],
        "description": "Seat Br-UR",
        "appointment_made_date": "2026-02-14T00:00:00",
        "type": "General",
        "procedure_code1": "",
        "procedure_code1_amount": "0",
        "procedure_code2": "",
        "procedure_code2_amount": "0",
        "procedure_code3": "",
        "procedure_code3_amount": "0",
        "patient_name": "Patient Name",
        "guarantor_name": "",
        "procedure_code1_time": "0",
        "procedure_code2_time": "0",
        "procedure_code3_time": "0",
        "surface_quadrant": "",
        "operatory": f"OP{n % 8}",
        "cancelled": "False",
        "is_confirmed": "True" if n % 4 == 1 else "False",
        "last_changed_date": "2026-02-20T00:00:00",
    }


def patient_row(n: int) -> dict[str, str]:
    """A row shaped like Sikka's own example (``oneapi.txt``, ``patients``)."""
    return {
        "href": f"{BASE}/practices/1/patients/{n}",
        "patient_id": str(n),
        "guarantor_id": str(n - n % 3),
        "firstname": f"First{n}",
        "middlename": "",
        "lastname": f"Last{n % 997}",
        "preferred_name": "",
        "salutation": "",
        "birthdate": f"{1950 + n % 60}-{1 + n % 12:02d}-{1 + n % 28:02d}T00:00:00",
        "status": "Active",
        "address_line1": "1 Main St",
        "address_line2": "",
        "city": "San Jose",
        "state": "CA",
        "zipcode": "95116",
        "cell": f"408-555-{n % 10000:04d}",
        "homephone": "",
        "workphone": "",
        "email": f"patient{n}@example.com",
        "first_visit": "2019-01-01T00:00:00",
        "last_visit": "2025-11-01T00:00:00",
        "provider_id": f"DMD{n % 10}",
        "provider_href": f"{BASE}/practices/1/providers/DMD{n % 10}",
        "practice_id": "1",
        "practice_href": f"{BASE}/practices/1",
        "primary_insurance_company_id": "",
        "subscriber_id": "",
        "fee_no": "0",
        "created_date": "2019-01-01T00:00:00",
    }


class Feed(httpx.AsyncBaseTransport):
    """Sikka-shaped pages from memory: filtered by ``startdate``/``enddate``, paged by page index, 204 when
    empty. Each distinct page body is serialized once and then served as bytes."""

    def __init__(self, rows: dict[str, list[dict[str, str]]]) -> None:
        self.rows = rows
        self.requests = 0
        self.last = httpx.Request("GET", BASE)
        self._bodies: dict[str, bytes] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.last = request
        path = request.url.path.rsplit("/", 1)[-1]
        if path == "request_key":
            grant = {
                "request_key": "rk-bench",
                "refresh_key": "rf-bench",
                "expires_in": "85603 second(s)",
                "status": "active",
                "scope": "",
            }
            return httpx.Response(200, json=grant)
        key = f"{path}?{request.url.query.decode()}"
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = self._page(path, dict(parse_qsl(request.url.query.decode())))
        if not body:
            return httpx.Response(204)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    def _page(self, path: str, params: dict[str, str]) -> bytes:
        rows = self.rows.get(path, [])
        if "startdate" in params and path == "appointments":
            rows = [r for r in rows if params["startdate"] <= r["date"][:10] <= params["enddate"]]
        for name in ("appointment_sr_no", "patient_id"):
            if name in params:
                rows = [r for r in rows if r.get(name) == params[name]]
        index, limit = int(params.get("offset", "0")), int(params.get("limit", "50"))
        items = rows[index * limit : (index + 1) * limit]
        if not items:
            return b""
        more = (index + 1) * limit < len(rows)
        envelope = {
            "offset": str(index),
            "limit": str(limit),
            "total_count": str(len(rows)),
            "execution_time": "47",
            "pagination": {"next": f"{BASE}/{path}?offset={index + 1}&limit={limit}" if more else ""},
            "items": items,
        }
        return json.dumps(envelope).encode()


class PlainAppointment(BaseModel):
    """What a hand-written client would declare: the fields it reads, strings as they come."""

    appointment_sr_no: str
    patient_id: str
    provider_id: str
    practice_id: str
    operatory: str
    hygienist: str
    date: str
    time: str
    length: str
    status: str
    description: str
    type: str
    cancelled: str
    is_confirmed: str


class PlainPatient(BaseModel):
    patient_id: str
    guarantor_id: str
    firstname: str
    middlename: str
    lastname: str
    preferred_name: str
    birthdate: str
    status: str
    cell: str
    homephone: str
    workphone: str
    email: str
    provider_id: str
    practice_id: str


async def raw(feed: Feed, path: str, params: dict[str, str], model: type[BaseModel] | None) -> int:
    """What a competent hand-written client does: one key grant, page 0, then the other pages concurrently."""
    async with httpx.AsyncClient(transport=feed) as client:
        grant = (await client.post(f"{BASE}/request_key", json={"grant_type": "request_key"})).json()
        headers = {"Request-Key": grant["request_key"], "Accept": "application/json"}

        async def page(index: int) -> dict[str, Any]:
            query = {**params, "offset": str(index), "limit": str(PAGE)}
            response = await client.get(f"{BASE}/{path}", params=query, headers=headers)
            return response.json() if response.status_code == 200 else {"items": [], "total_count": "0"}

        first = await page(0)
        pages = -(-int(first["total_count"]) // PAGE)
        bodies = [first, *await asyncio.gather(*(page(i) for i in range(1, pages)))]
        rows = [row for body in bodies for row in body["items"]]
        if model is not None:
            rows = [model.model_validate(row) for row in rows]  # type: ignore[misc]
        return len(rows)


def cpu(runs: list[Callable[[], Awaitable[int]]], repeat: int) -> list[tuple[float, int]]:
    """Median CPU seconds of ``repeat`` runs of each (after one warm-up), and what each returned. The runs
    take turns, one of each per round, so that a machine growing busier or quieter mid-benchmark shifts every
    contender alike and leaves their ratios alone."""
    results = [asyncio.run(run()) for run in runs]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for index, run in enumerate(runs):
            gc.collect()
            started = time.process_time()
            asyncio.run(run())
            times[index].append(time.process_time() - started)
    return [(statistics.median(t), r) for t, r in zip(times, results, strict=True)]


def main(rows: int, repeat: int, single: int) -> None:
    days = [WINDOW_START + timedelta(days=d) for d in range(DAYS)]
    before = WINDOW_START - timedelta(days=1)
    appointments = [appointment_row(n, days[n % DAYS]) for n in range(rows)]
    appointments += [appointment_row(rows + n, before) for n in range(rows // DAYS)]
    hours = {"practice_id": "1", "resource_type": "Practice", "resource_id": "1", "date": "2026-01-05T00:00:00"}
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"):
        hours |= {f"{day}_start_1": "07:00", f"{day}_end_1": "19:00"}
    feed = Feed(
        {
            "appointments": appointments,
            "patients": [patient_row(n) for n in range(rows)],
            "practice_schedule": [hours],
        }
    )
    window = {"practice_id": "1", "startdate": WINDOW_START.isoformat(), "enddate": days[-1].isoformat()}

    def provider() -> SikkaProvider:
        return SikkaProvider(CREDENTIALS, timezone="America/Chicago", transport=feed, rate_limit=10**9)

    async def sdk_appointments() -> int:
        async with provider() as pms:
            return len(await pms.appointments.list(start=WINDOW_START, end=days[-1]).all())

    async def sdk_patients() -> int:
        async with provider() as pms:
            return len(await pms.patients.list().all())

    feed.requests = 0
    asyncio.run(sdk_appointments())
    sdk_requests = feed.requests
    feed.requests = 0
    asyncio.run(raw(feed, "appointments", window, None))
    raw_requests = feed.requests

    table: list[tuple[str, float, float, float]] = []
    for what, sdk_run, path, params, plain in (
        (f"{rows:,} appointments", sdk_appointments, "appointments", window, PlainAppointment),
        (f"{rows:,} patients", sdk_patients, "patients", {"practice_id": "1"}, PlainPatient),
    ):
        (sdk_cpu, got), (raw_cpu, expected), (plain_cpu, _) = cpu(
            [
                sdk_run,
                lambda p=path, q=params: raw(feed, p, q, None),  # type: ignore[misc]
                lambda p=path, q=params, m=plain: raw(feed, p, q, m),  # type: ignore[misc]
            ],
            repeat,
        )
        assert got == expected == rows, (got, expected, rows)
        table.append((what, sdk_cpu, raw_cpu, plain_cpu))

    async def sdk_single() -> int:
        # Sikka's own budget (200 a minute) on a virtual clock: the log holds what a busy practice's does,
        # and waiting for room costs no real time.
        clock = FakeClock()
        async with SikkaProvider(CREDENTIALS, timezone="America/Chicago", transport=feed, clock=clock) as pms:
            await pms.appointments.get("1")
            started = time.process_time()
            for _ in range(single):
                await pms.appointments.get("1")
            return int((time.process_time() - started) * 1e9)

    async def raw_single() -> int:
        # The very request the SDK sent (its query and headers), sent through raw httpx.
        request = feed.last
        async with httpx.AsyncClient(transport=feed) as client:
            await client.get(str(request.url), headers=request.headers)
            started = time.process_time()
            url, params, headers = f"{BASE}/appointments", request.url.params, request.headers
            for _ in range(single):
                (await client.get(url, params=params, headers=headers)).json()
            return int((time.process_time() - started) * 1e9)

    sdk_ns = statistics.median(asyncio.run(sdk_single()) for _ in range(repeat)) / single
    raw_ns = statistics.median(asyncio.run(raw_single()) for _ in range(repeat)) / single

    print(f"CPU time, median of {repeat}; page size {PAGE}; goal: every ratio to raw .json() at most 1.3x")
    print(f"{'what':<24}{'pms_connect':>13}{'raw .json()':>13}{'ratio':>7}{'raw+pydantic':>14}{'ratio':>7}")
    for what, sdk_cpu, raw_cpu, plain_cpu in table:
        print(
            f"{what:<24}{sdk_cpu * 1000:>10.0f} ms{raw_cpu * 1000:>10.0f} ms{sdk_cpu / raw_cpu:>6.2f}x"
            f"{plain_cpu * 1000:>11.0f} ms{sdk_cpu / plain_cpu:>6.2f}x"
        )
    print(
        f"{'one request':<24}{sdk_ns / 1000:>10.0f} us{raw_ns / 1000:>10.0f} us{sdk_ns / raw_ns:>6.2f}x"
        f"{'':>14}{'':>7}"
    )
    print(
        f"requests for {rows:,} appointments: pms_connect {sdk_requests}, raw {raw_requests} "
        "(each including the key grant; goal at most 5)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--single", type=int, default=500)
    args = parser.parse_args()
    main(args.rows, args.repeat, args.single)
