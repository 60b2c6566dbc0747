"""Benchmark: open slots for a 14-day window, the SDK against a competent naive client, and the slot maths'
growth with the window.

    python benchmarks/bench_slots.py [--latency-ms 150] [--repeat 5]

The sandbox's practice is grown to 10 providers, 8 operatories and 3,000 appointments in the window (records
added to ``sandbox.world`` directly). Every answer the sandbox gives is recorded once and then replayed from
memory, so that the CPU measured is the SDK's (or the baseline's), not the in-process sandbox's JSON.

Measured, median of ``--repeat`` runs:

* cold: a new provider (no cached reference data, no request key), one ``find_slots`` call;
* warm: the same call again on that instance (providers, operatories and schedules cached);
* naive: a competent client without the SDK's slot engine: it reads the reference data and the window once
  (through the SDK's own reads, one after another), then tries every 10-minute start of every provider in
  every chair against every appointment of that provider and chair.

Reported per way: requests, simulated wait (``--latency-ms`` per request; concurrent requests overlap), and
CPU time of the process. Then the pure slot computation (``scheduling.open_slots`` on data in memory) at 14,
28 and 56 days with the same density of appointments, whose growth must stay linear (issue 11: 56 days at
most 4.6x the 14-day time), and the warm SDK CPU of one 14-day search (goal: under 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import random
import statistics
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import httpx

from pms_connect.models import Appointment, TimeSlot
from pms_connect.scheduling import Hours, WorkingHours, open_slots, resolve_hours
from pms_connect.sikka import SikkaProvider
from pms_connect.testing import FakeClock, SikkaSandbox

DAYS = 14
PROVIDERS = 10
OPERATORIES = 8
APPOINTMENTS = 3000
DURATION = timedelta(minutes=30)
GRID = timedelta(minutes=10)


class Replay(httpx.AsyncBaseTransport):
    """The sandbox's answers, recorded on first sight and replayed as bytes (the latency still applies, in
    virtual time): the sandbox's own CPU stays out of the figures."""

    def __init__(self, sandbox: SikkaSandbox, clock: FakeClock, latency: timedelta) -> None:
        self._sandbox = sandbox
        self._clock = clock
        self._latency = latency
        self._answers: dict[tuple[str, str], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        key = (request.method, str(request.url))
        answer = self._answers.get(key)
        if answer is None:
            await request.aread()
            response = await self._sandbox.transport.handle_async_request(request)
            body = await response.aread()
            # The body is kept decoded: drop the headers that described it on the wire.
            headers = [
                (k, v)
                for k, v in response.headers.raw
                if k.lower() not in (b"content-encoding", b"content-length")
            ]
            answer = self._answers[key] = (response.status_code, headers, body)
        else:
            await self._clock.sleep(self._latency.total_seconds())
        status, headers, body = answer
        return httpx.Response(status, headers=headers, content=body)


def grow(sandbox: SikkaSandbox, rng: random.Random) -> None:
    """Practice 1 to 10 active providers, 8 visible operatories and 3,000 appointments in the window."""
    world = sandbox.world
    mine = [p for p in world.providers if p.practice_id == "1" and p.active and not p.is_hidden]
    template = next(p for p in mine if p.provider_type == "Dentist")
    rows = [s for s in world.schedules if s.practice_id == "1"]
    for n in range(PROVIDERS - len(mine)):
        pid = f"DMD{10 + n}"
        world.providers.append(dataclasses.replace(template, provider_id=pid))
        for s in rows:
            if s.resource_type == "Provider" and s.resource_id == template.provider_id:
                world.schedules.append(dataclasses.replace(s, resource_id=pid))
    ops = [o for o in world.operatories if o.practice_id == "1" and not o.is_hidden]
    for n in range(OPERATORIES - len(ops)):
        name = f"OP{20 + n}"
        world.operatories.append(dataclasses.replace(ops[0], operatory=name, abbreviation=name))
        for s in rows:
            if s.resource_type == "Operatory" and s.resource_id == ops[0].operatory:
                world.schedules.append(dataclasses.replace(s, resource_id=name))

    first, last = sandbox.today, sandbox.today + timedelta(days=DAYS - 1)
    in_window = [
        a for a in world.appointments.values() if a.practice_id == "1" and first <= a.start.date() <= last
    ]
    providers = [p.provider_id for p in world.providers if p.practice_id == "1" and p.active and not p.is_hidden]
    chairs = [o.operatory for o in world.operatories if o.practice_id == "1" and not o.is_hidden]
    workdays = [first + timedelta(days=d) for d in range(DAYS) if (first + timedelta(days=d)).weekday() < 5]
    template_appt = in_window[0]
    next_id = max(int(i) for i in world.appointments) + 1
    for _ in range(APPOINTMENTS - len(in_window)):
        start = datetime.combine(rng.choice(workdays), datetime.min.time()) + timedelta(
            minutes=rng.randrange(7 * 60 + 30, 17 * 60, 10)
        )
        appt = dataclasses.replace(
            template_appt,
            appointment_sr_no=str(next_id),
            provider_id=rng.choice(providers),
            operatory=rng.choice(chairs),
            start=start,
            length=rng.choice((10, 20, 30, 60)),
            status=rng.choice(("Scheduled", "Confirmed", "Cancelled", "Broken")),
        )
        world.appointments[appt.appointment_sr_no] = appt
        next_id += 1


async def measure(
    feed: Replay, clock: FakeClock, pms: SikkaProvider, first: date, naive: bool
) -> tuple[int, float, float, int]:
    """(requests, virtual seconds, CPU seconds, slots) of one search of the window."""
    before = feed.requests
    virtual0, cpu0 = clock.monotonic(), time.process_time()
    last = first + timedelta(days=DAYS - 1)
    if naive:
        found = await naive_slots(pms, first, last)
    else:
        found = len(await pms.appointments.find_slots(start=first, end=last, duration=DURATION))
    return feed.requests - before, clock.monotonic() - virtual0, time.process_time() - cpu0, found


async def naive_slots(pms: SikkaProvider, first: date, last: date) -> int:
    """What a careful client without a slot engine does: read once, then test every candidate start."""
    providers = [p for p in await pms.providers.list().all() if p.active and not p.hidden]
    chairs = [o.id for o in await pms.operatories.list().all()]
    schedules = await pms.schedules()
    booked = [a for a in await pms.appointments.list(start=first, end=last).all() if not a.cancelled]
    zone, now = pms.timezone, pms.now()
    found = 0
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        for provider in providers:
            own = schedules.providers.get(provider.id) or schedules.practice
            if own is None:
                continue
            for begin, end in own.blocks_on(day):
                t = datetime.combine(day, begin, zone)
                stop = datetime.combine(day + timedelta(days=1) if end == clock_time(0) else day, end, zone)
                while t + DURATION <= stop:
                    if t >= now and _free(booked, provider.id, chairs, t, t + DURATION):
                        found += 1
                    t += GRID
    return found


def _free(booked: list[Appointment], provider: str, chairs: list[str], start: datetime, end: datetime) -> bool:
    """The provider is free over [start, end) and so is at least one chair."""
    clashing = [a for a in booked if a.start < end and a.end > start]
    if any(a.provider_id == provider or a.hygienist_id == provider for a in clashing):
        return False
    taken = {a.operatory for a in clashing}
    return any(chair not in taken for chair in chairs)


def pure_compute(days: int, repeat: int) -> tuple[float, int]:
    """CPU seconds of ``open_slots`` alone over ``days`` days holding APPOINTMENTS per 14 days."""
    rng = random.Random(days)
    zone = ZoneInfo("America/Chicago")
    first = date(2026, 3, 2)
    providers = [f"DMD{n}" for n in range(PROVIDERS)]
    chairs = [f"OP{n}" for n in range(OPERATORIES)]
    weekly = Hours.weekly(
        {d: [(clock_time(7, 30), clock_time(12)), (clock_time(13), clock_time(17))] for d in range(5)}
    )
    hours = WorkingHours(weekly, resolve_hours(weekly, {}, providers), resolve_hours(weekly, {}, chairs))
    booked = []
    for n in range(APPOINTMENTS * days // DAYS):
        day = first + timedelta(days=rng.randrange(days))
        start = datetime.combine(day, clock_time(7, 30), zone) + timedelta(minutes=rng.randrange(0, 570, 10))
        booked.append(
            Appointment(
                id=str(n),
                provider_id=rng.choice(providers),
                operatory=rng.choice(chairs),
                start=start,
                duration=timedelta(minutes=rng.choice((10, 20, 30, 60))),
            )
        )
    start = datetime.combine(first, clock_time(0), zone)
    # The appointments were just made: frozen out of the collector's sight, they do not make each collection
    # during the computation cost more with the window's size (an effect of the heap, not of the maths).
    gc.collect()
    gc.freeze()
    times = []
    slots: list[TimeSlot] = []
    for _ in range(repeat):
        began = time.process_time()
        slots = open_slots(
            start=start,
            end=start + timedelta(days=days),
            duration=DURATION,
            zone=zone,
            hours=hours,
            providers=providers,
            operatories=chairs,
            booked=booked,
        )
        times.append(time.process_time() - began)
    gc.unfreeze()
    return statistics.median(times), len(slots)


def provider(sandbox: SikkaSandbox, feed: Replay) -> SikkaProvider:
    return SikkaProvider(
        sandbox.credentials,
        timezone=sandbox.timezone,
        base_url=sandbox.base_url,
        transport=feed,
        clock=sandbox.clock,
    )


async def main(latency_ms: float, repeat: int) -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=7, clock=clock)
    grow(sandbox, random.Random(42))
    feed = Replay(sandbox, clock, timedelta(milliseconds=latency_ms))
    first = sandbox.today

    results: dict[str, list[tuple[int, float, float, int]]] = {"cold": [], "warm": [], "naive": []}
    for _ in range(repeat + 1):  # the first round records the answers; it is not counted
        async with provider(sandbox, feed) as pms:
            cold = await measure(feed, clock, pms, first, naive=False)
            warm = await measure(feed, clock, pms, first, naive=False)
        async with provider(sandbox, feed) as pms:
            naive = await measure(feed, clock, pms, first, naive=True)
        for way, result in (("cold", cold), ("warm", warm), ("naive", naive)):
            results[way].append(result)
    for runs in results.values():
        del runs[0]

    slots = {way: {r[3] for r in runs} for way, runs in results.items()}
    assert len(slots["cold"] | slots["warm"] | slots["naive"]) == 1, f"the three ways disagree: {slots}"
    print(
        f"window {DAYS} days, {PROVIDERS} providers, {OPERATORIES} operatories, ~{APPOINTMENTS:,} appointments, "
        f"{slots['cold'].pop()} slots of {int(DURATION.total_seconds() // 60)} min; "
        f"latency {latency_ms:.0f} ms/request; median of {repeat}"
    )
    print(f"{'way':<34}{'requests':>9}{'virtual s':>11}{'faster':>8}{'CPU ms':>9}{'less CPU':>10}")
    naive_virtual = statistics.median(r[1] for r in results["naive"])
    naive_cpu = statistics.median(r[2] for r in results["naive"]) * 1000
    labels = {"cold": "SDK, cold cache", "warm": "SDK, warm cache", "naive": "naive: read once, test every start"}
    for way in ("cold", "warm", "naive"):
        runs = results[way]
        requests = statistics.median(r[0] for r in runs)
        virtual = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs) * 1000
        print(
            f"{labels[way]:<34}{requests:>9.0f}{virtual:>11.2f}{naive_virtual / virtual:>7.1f}x"
            f"{cpu:>9.1f}{naive_cpu / cpu:>9.1f}x"
        )
    warm_cpu = statistics.median(r[2] for r in results["warm"]) * 1000
    print(f"warm SDK CPU of one {DAYS}-day search: {warm_cpu:.1f} ms (goal: under 50 ms)")
    print("pure slot computation, same density of appointments:")
    base = 0.0
    for days in (14, 28, 56):
        cpu, count = pure_compute(days, repeat)
        base = base or cpu
        print(f"  {days:>2} days: {cpu * 1000:7.1f} ms CPU, {count:,} slots, {cpu / base:4.2f}x the 14-day time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.latency_ms, args.repeat))
