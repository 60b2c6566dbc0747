"""Benchmark: open slots for a 14-day window against SikkaSandbox with 150 ms of (virtual) latency per request.

    python benchmarks/bench_slots.py [--latency-ms 150] [--repeat 5]

The practice is grown to 10 providers, 8 operatories and 3,000 appointments in the window (the seeded one is
smaller; records are added to ``sandbox.world`` directly). Three ways are measured in one run:

* cold: a new provider instance (no cached reference data, no request key yet), one ``find_slots`` call;
* warm: the same call again on that instance (providers, operatories and schedules cached);
* naive baseline: the same 14 days asked day by day with the cache cleared before each day, which is what
  a client without caching or window-wide reads does.

Reported per way: HTTP requests seen by the sandbox, virtual elapsed time (the FakeClock advances by the
latency of each request; concurrent requests overlap), and real CPU time of the process (SDK plus the
in-process sandbox), as the median of ``--repeat`` runs. The pure slot computation on pre-fetched data is
timed on its own as well.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import time
from datetime import datetime, timedelta

from pms_connect.scheduling import WorkingHours, open_slots, resolve_hours
from pms_connect.sikka import SikkaProvider, _slots
from pms_connect.testing import FakeClock, SikkaSandbox

DAYS = 14
PROVIDERS = 10
OPERATORIES = 8
APPOINTMENTS = 3000
DURATION = timedelta(minutes=30)


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
    sandbox: SikkaSandbox, clock: FakeClock, pms: SikkaProvider, naive: bool
) -> tuple[int, float, float, int]:
    """(requests, virtual seconds, CPU seconds, slots) of one search of the window."""
    before = len(sandbox.requests)
    virtual0, cpu0 = clock.monotonic(), time.process_time()
    if naive:
        found = []
        for d in range(DAYS):
            day = sandbox.today + timedelta(days=d)
            pms.clear_cache()
            found += await pms.appointments.find_slots(start=day, end=day, duration=DURATION)
    else:
        found = await pms.appointments.find_slots(
            start=sandbox.today, end=sandbox.today + timedelta(days=DAYS - 1), duration=DURATION
        )
    return len(sandbox.requests) - before, clock.monotonic() - virtual0, time.process_time() - cpu0, len(found)


async def pure_compute(pms: SikkaProvider, sandbox: SikkaSandbox, repeat: int) -> tuple[float, int]:
    """CPU seconds of the slot computation alone, on data already fetched."""
    end = sandbox.today + timedelta(days=DAYS)
    providers = [p.id for p in await pms.known_providers() if p.active]
    chairs = [o.id for o in await pms.known_operatories() if not o.hidden]
    schedules = await _slots.load_schedules(pms)
    booked = await pms.appointments.list(start=sandbox.today, end=end).all()
    hours = WorkingHours(
        schedules.practice,
        resolve_hours(schedules.practice, schedules.providers, providers),
        resolve_hours(schedules.practice, schedules.operatories, chairs),
    )
    zone = pms.timezone
    times = []
    for _ in range(repeat):
        started = time.process_time()
        open_slots(
            start=datetime.combine(sandbox.today, datetime.min.time(), tzinfo=zone),
            end=datetime.combine(end, datetime.min.time(), tzinfo=zone),
            duration=DURATION,
            zone=zone,
            hours=hours,
            providers=providers,
            operatories=chairs,
            booked=booked,
            not_before=pms.now(),
            preferences=_slots.chair_preferences(booked),
        )
        times.append(time.process_time() - started)
    return statistics.median(times), len(booked)


async def main(latency_ms: float, repeat: int) -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=7, clock=clock)
    grow(sandbox, random.Random(42))
    sandbox.faults.latency = timedelta(milliseconds=latency_ms)

    results: dict[str, list[tuple[int, float, float, int]]] = {"cold": [], "warm": [], "naive": []}
    for _ in range(repeat):
        async with sandbox.provider() as pms:
            results["cold"].append(await measure(sandbox, clock, pms, naive=False))
            results["warm"].append(await measure(sandbox, clock, pms, naive=False))
        async with sandbox.provider() as pms:
            results["naive"].append(await measure(sandbox, clock, pms, naive=True))
    async with sandbox.provider() as pms:
        compute, booked = await pure_compute(pms, sandbox, repeat)
        scheduled = await _slots.load_schedules(pms)
        providers = sum(1 for p in await pms.known_providers() if p.active and p.id in scheduled.providers)
        chairs = len(await pms.known_operatories())

    slots = {way: {r[3] for r in runs} for way, runs in results.items()}
    assert len(slots["cold"] | slots["warm"] | slots["naive"]) == 1, f"the three ways disagree: {slots}"
    print(
        f"window {DAYS} days, {providers} active scheduled providers, {chairs} operatories, "
        f"{booked} appointments read, {slots['cold'].pop()} slots of {int(DURATION.total_seconds() // 60)} min; "
        f"latency {latency_ms:.0f} ms/request; median of {repeat}"
    )
    print(f"{'way':<30}{'requests':>9}{'fewer':>8}{'virtual s':>11}{'faster':>8}{'CPU ms':>9}{'less CPU':>10}")
    naive_requests = statistics.median(r[0] for r in results["naive"])
    naive_virtual = statistics.median(r[1] for r in results["naive"])
    naive_cpu = statistics.median(r[2] for r in results["naive"]) * 1000
    labels = {"cold": "cold cache", "warm": "warm cache", "naive": "naive: day by day, no cache"}
    for way in ("cold", "warm", "naive"):
        runs = results[way]
        requests = statistics.median(r[0] for r in runs)
        virtual = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs) * 1000
        print(
            f"{labels[way]:<30}{requests:>9.0f}{naive_requests / requests:>7.1f}x{virtual:>11.2f}"
            f"{naive_virtual / virtual:>7.1f}x{cpu:>9.1f}{naive_cpu / cpu:>9.1f}x"
        )
    print(f"slot computation alone (pure, on fetched data): {compute * 1000:.1f} ms CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.latency_ms, args.repeat))
