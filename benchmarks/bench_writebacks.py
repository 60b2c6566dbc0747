"""Tracking 1,000 concurrent writebacks under 200 requests/minute: the batched poller against a naive one.

Run: ``python benchmarks/bench_writebacks.py [--count 1000] [--budget 200] [--seed 3] [--log 10000]``

Both pollers run against the sandbox in virtual time (a FakeClock: no real waiting), on the same set of
writebacks completing at random moments between 45 s and 4 min after submission, each with its own rate
limiter of ``--budget`` requests a minute. Reported per poller: HTTP requests spent, 429 answers received,
and the detection delay (from the moment the practice applied a write to the moment its handle reached a
terminal state) at p50, p95 and max.

Then one poll round's own CPU: the app's writeback log holds ``--log`` rows (served from memory as bytes, so
the figure is the SDK's), of which 100, 1,000 or all are this worker's pending handles. The round reads the
log either way (one request a page for the whole app); what it does per handle must not grow with the log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx

from pms_connect.models import Writeback, WritebackKind
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka import SikkaProvider
from pms_connect.stores import JournalEntry, JournalState
from pms_connect.testing import FakeClock, SikkaSandbox
from pms_connect.writeback import handle_from_entry

START = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


@dataclass
class Run:
    name: str
    requests: int
    rate_limited: int
    delays: list[float]
    virtual_seconds: float
    real_seconds: float


def journaled(writeback_id: str, kind: WritebackKind, appointment_id: str | None = None) -> JournalEntry:
    """The journal entry of a write the practice acknowledged as ``writeback_id``."""
    return JournalEntry(
        id=f"bench-{writeback_id}",
        kind=kind,
        practice="sikka:D20006:1",
        practice_id="1",
        method="POST",
        path="bench",
        appointment_id=appointment_id,
        created_at=START,
        touched_at=START,
        state=JournalState.ACKNOWLEDGED,
        writeback_id=writeback_id,
    )


def setup(count: int, seed: int) -> tuple[SikkaSandbox, FakeClock, list[JournalEntry]]:
    """Half new patients (creates: their new id needs a detail request), half appointment confirmations."""
    clock = FakeClock(start=START)
    sandbox = SikkaSandbox(seed=seed, clock=clock)
    rng = random.Random(seed)
    upcoming = sorted(
        (a for a in sandbox.world.appointments.values() if a.practice_id == "1" and a.status == "Scheduled"),
        key=lambda a: a.appointment_sr_no,
    )
    made = []
    for i in range(count):
        delay = timedelta(seconds=rng.uniform(45, 240))
        if i % 2 == 0:
            body = {"firstname": f"Bench{i}", "lastname": "Patient", "provider_id": "DMD1", "practice_id": "1"}
            record = sandbox.enqueue_writeback("new_patient", body, delay=delay)
            made.append(journaled(record.id, WritebackKind.CREATE_PATIENT))
        else:
            target = upcoming[(i // 2) % len(upcoming)].appointment_sr_no
            body = {
                "op": "replace",
                "path": "/appointment_status",
                "value": "Confirmed",
                "practice_id": "1",
                "appointment_sr_no": target,
            }
            record = sandbox.enqueue_writeback("appointment_status", body, delay=delay)
            made.append(journaled(record.id, WritebackKind.CHANGE_APPOINTMENT_STATUS, appointment_id=target))
    return sandbox, clock, made


def measure(name: str, sandbox: SikkaSandbox, clock: FakeClock, detected: dict[str, datetime], real: float) -> Run:
    completed = {r.id: r.completed for r in sandbox.writebacks}
    delays = []
    for wid, seen in detected.items():
        done = completed[wid]
        assert done is not None, f"{wid} reported terminal before the practice applied it"
        delays.append((seen - done).total_seconds())
    polled = [r for r in sandbox.requests if r.path in ("/v4/writebacks", "/v4/writeback_status")]
    return Run(
        name=name,
        requests=len(polled),
        rate_limited=sum(1 for r in polled if r.status == 429),
        delays=delays,
        virtual_seconds=(clock.now() - START).total_seconds(),
        real_seconds=real,
    )


Seen = Callable[[str], None]


async def batched(pms: SikkaProvider, writebacks: list[Writeback], seen: Seen) -> None:
    """pms_connect's poller: every handle tracked together."""
    for handle in writebacks:
        await pms.writebacks.track(handle, callback=lambda result: seen(result.writeback_id or ""))
    await asyncio.gather(*(pms.writebacks.wait(h) for h in writebacks))


async def naive(pms: SikkaProvider, writebacks: list[Writeback], seen: Seen) -> None:
    """One ``writeback_status`` request per pending id, round after round."""
    pending = list(writebacks)
    while pending:
        still = []
        for handle in pending:
            result = await pms.writeback_source.check(handle)
            if result.status.terminal:
                seen(handle.writeback_id or "")
            else:
                still.append(handle)
        pending = still


async def run(
    name: str, track: Callable[[SikkaProvider, list[Writeback], Seen], Awaitable[None]], args: argparse.Namespace
) -> Run:
    """The same writebacks, the same budget: only ``track`` differs."""
    sandbox, clock, entries = setup(args.count, args.seed)
    limiter = RateLimiter(RateLimit(requests=args.budget, background_share=1.0), clock=clock)
    detected: dict[str, datetime] = {}
    started = time.perf_counter()
    async with sandbox.provider(rate_limit=limiter) as pms:
        for entry in entries:
            await pms.store.journal.record(entry)
        writebacks = [handle_from_entry(e) for e in entries]
        await pms.client.tokens.get()
        sandbox.requests.clear()
        await track(pms, writebacks, lambda wid: detected.__setitem__(wid, clock.now()))
    return measure(name, sandbox, clock, detected, time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(runs: list[Run], count: int, budget: int) -> None:
    print(
        f"{count} writebacks (half new patients, half confirmations) completing 45 s to 4 min after "
        f"submission; budget {budget} requests/min"
    )
    header = (
        f"{'poller':32} {'requests':>9} {'429s':>5} {'p50 s':>8} {'p95 s':>8} {'max s':>8} "
        f"{'virtual':>9} {'real':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run.name:32} {run.requests:9d} {run.rate_limited:5d} {percentile(run.delays, 50):8.1f} "
            f"{percentile(run.delays, 95):8.1f} {max(run.delays):8.1f} {run.virtual_seconds:8.0f}s "
            f"{run.real_seconds:6.1f}s"
        )
    base, ours = runs[1], runs[0]
    print(
        f"ratio naive/batched: requests x{base.requests / ours.requests:.1f}, "
        f"p50 delay x{percentile(base.delays, 50) / max(percentile(ours.delays, 50), 0.1):.1f}"
    )


class LogFeed(httpx.AsyncBaseTransport):
    """The app's writeback log, Sikka-shaped, as pre-serialized pages (the sandbox's own rows, copied)."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self._bodies: dict[str, bytes] = {}
        self._rows = rows

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("request_key"):
            grant = {"request_key": "rk", "refresh_key": "rf", "expires_in": "86400 second(s)", "status": "active"}
            return httpx.Response(200, json=grant)
        index, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        key = f"{index}:{limit}"
        if key not in self._bodies:
            items = self._rows[index * limit : (index + 1) * limit]
            envelope = {
                "offset": str(index),
                "limit": str(limit),
                "total_count": str(len(self._rows)),
                "items": items,
            }
            self._bodies[key] = json.dumps(envelope).encode() if items else b""
        body = self._bodies[key]
        return httpx.Response(200, content=body) if body else httpx.Response(204)


def round_cpu(log: int, pending: int, repeat: int = 5) -> float:
    """Median CPU seconds of one ``poll`` over ``pending`` handles while the log holds ``log`` rows."""
    sandbox, clock, entries = setup(log, 3)
    base = sandbox.base_url
    rows = [r.list_item(base) for r in sandbox.writebacks]
    feed = LogFeed(rows)
    handles = [handle_from_entry(e) for e in entries[:pending]]

    async def once() -> float:
        async with SikkaProvider(
            sandbox.credentials, timezone=sandbox.timezone, base_url=base, transport=feed, clock=clock
        ) as pms:
            await pms.client.tokens.get()
            await pms.writeback_source.poll(handles)  # warm: the page bodies are built once
            times = []
            for _ in range(repeat):
                started = time.process_time()
                results = await pms.writeback_source.poll(handles)
                times.append(time.process_time() - started)
            assert len(results) == pending
            return statistics.median(times)

    return asyncio.run(once())


def round_report(log: int) -> None:
    print(f"one poll round, the app's log holding {log:,} writebacks:")
    base = 0.0
    for pending in sorted({100, 1000, log}):
        cpu = round_cpu(log, pending)
        base = base or cpu
        print(f"  {pending:>6,} pending: {cpu * 1000:7.1f} ms CPU ({cpu / base:5.1f}x the 100-handle round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--log", type=int, default=10_000, help="rows of the app's log for the round CPU")
    args = parser.parse_args()
    runs = [
        asyncio.run(run("batched poller (pms_connect)", batched, args)),
        asyncio.run(run("naive: one request per id", naive, args)),
    ]
    report(runs, args.count, args.budget)
    round_report(args.log)


if __name__ == "__main__":
    main()
