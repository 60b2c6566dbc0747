"""What a store adds to each request and each booking: RedisStore and SqliteStore against MemoryStore.

Run: ``python benchmarks/bench_stores.py [--requests 200] [--bookings 60] [--runs 3] [--redis-url URL]``

Two measures against the in-process sandbox (one per store), p50 and p95 of each operation's wall time (the
median of ``--runs`` runs). The stores take turns, a few operations at a time in an order that rotates, so
that whatever else the machine does falls on all of them alike and the differences compare like with like:

* a request: one cheap read, ``client.fetch_page("practices", ..., page_size=1)``. The rate budget is kept
  in the store (set so high that it never waits), so every request visits the store: a spend from the budget
  before it is sent and, once answered, its grant re-dated to the answer and the budget counted against the
  server's ``X-Rate-Limit`` headers (three round trips to Redis). The budget is a log of the grants of the
  last 60 s, which each visit reads whole, so its cost grows with the log: 200 requests keep it near the
  200 grants a minute that the default budget allows, and the report gives the p50 of the first and the
  last fifth of the requests;
* a booking: ``appointments.book`` of distinct free slots of one dentist, caches warm: the slot guard's
  practice lock and hold, the journal's record and acknowledgement, and three requests (the patient, the
  appointments that re-check the slot, the write itself), each with its budget visits. The sandbox
  applies writebacks an hour later, so every booking stays pending (and its hold in the store) for the
  whole run, the same for every store.

Without ``--redis-url``, a temporary ``redis-server`` is started on a free loopback port with the setting
recommended for production (``--appendonly yes --appendfsync everysec``), and stopped at the end. With
``--redis-url``, that Redis is used under a fresh key prefix, whose keys are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from pms_connect import BookingRequest
from pms_connect.ratelimit import RateLimit
from pms_connect.sikka import SikkaProvider
from pms_connect.sikka._wire import PracticeRow
from pms_connect.stores import MemoryStore, RedisStore, SqliteStore, Store
from pms_connect.testing import SikkaSandbox
from pms_connect.writeback import PollSchedule

UNLIMITED = RateLimit(requests=10**9, per_seconds=60)
QUIET = PollSchedule(min_interval=timedelta(hours=1), max_interval=timedelta(hours=1))  # no polls mid-run
DENTIST = "DMD1"
PER_DAY = 16  # 30-minute slots from 08:00, on weekdays past the seeded book (which ends 45 days out)
FIRST_DAY = 60
WARM_UP_REQUESTS = 20
REQUEST_BLOCK, BOOKING_BLOCK = 50, 5  # operations a store makes in a row


# -- a temporary redis-server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def temporary_redis(directory: Path) -> AsyncIterator[str]:
    """A redis-server on a free loopback port (AOF, fsync every second), stopped on the way out."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server), or pass --redis-url")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""),
        *("--appendonly", "yes", "--appendfsync", "everysec"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not await _answers_ping(port):  # a bounded wait for the process to accept connections
            if process.returncode is not None:
                raise SystemExit("redis-server exited at start")
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            await asyncio.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


async def _answers_ping(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await reader.read(16)).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        writer.close()


async def forget(url: str, prefix: str) -> None:
    """Delete a run's keys from a Redis the benchmark did not start."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


# -- the measures ---------------------------------------------------------------------------------------


@dataclass
class Run:
    """Wall times of one run, in seconds: one per request, one per booking; and how many requests a booking
    sent to the sandbox (each one a spend from the store's rate budget)."""

    requests: list[float]
    bookings: list[float]
    sent_per_booking: float


async def timed(operation: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await operation()
    return time.perf_counter() - started


def weekday_after(today: date, days: int) -> date:
    day = today + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def slots(sandbox: SikkaSandbox, count: int) -> list[datetime]:
    """``count`` distinct 30-minute starts, ``PER_DAY`` a weekday, on days no seeded appointment takes."""
    zone = ZoneInfo(sandbox.timezone)
    starts: list[datetime] = []
    day = weekday_after(sandbox.today, FIRST_DAY)
    while len(starts) < count:
        opening = datetime.combine(day, clock_time(8, 0), tzinfo=zone)
        starts.extend(opening + timedelta(minutes=30 * n) for n in range(PER_DAY))
        day = weekday_after(day, 1)
    return starts[:count]


def provider(sandbox: SikkaSandbox, store: Store) -> SikkaProvider:
    return SikkaProvider(
        sandbox.credentials,
        timezone=sandbox.timezone,
        base_url=sandbox.base_url,
        transport=sandbox.transport,
        store=store,
        rate_limit=UNLIMITED,
        poller=QUIET,
    )


def makers(directory: Path, redis_url: str) -> dict[str, Callable[[str], Store]]:
    """Each store from a fresh name: its own database file, its own Redis key prefix."""
    return {
        "MemoryStore": lambda name: MemoryStore(),
        "SqliteStore": lambda name: SqliteStore(directory / f"{name}.db"),
        "RedisStore": lambda name: RedisStore(redis_url, prefix=name),
    }


def turns(count: int, names: list[str], block: int) -> Iterator[tuple[int, str]]:
    """Operations 0 to ``count - 1`` of every store, the stores taking turns ``block`` operations at a time in an
    order that rotates: what the machine does meanwhile (other processes, a slower minute) falls on every store
    alike, while each store's own data stays warm in the CPU caches for a block, as in a worker that has one."""
    for b, first in enumerate(range(0, count, block)):
        for k in range(len(names)):
            name = names[(b + k) % len(names)]
            for n in range(first, min(count, first + block)):
                yield n, name


class Bench:
    """One run: a sandbox per store, and a fresh store (empty, its budget log too) for each measure."""

    def __init__(self, redis_url: str, directory: Path, *, cleanup: bool) -> None:
        self.redis_url, self.cleanup = redis_url, cleanup
        self.makers = makers(directory, redis_url)
        self.sandboxes = {
            name: SikkaSandbox(seed=5, writeback_delay=timedelta(hours=1), rate_limit=10**9)
            for name in self.makers
        }

    @asynccontextmanager
    async def providers(self) -> AsyncIterator[dict[str, SikkaProvider]]:
        async with AsyncExitStack() as stack:
            opened: dict[str, SikkaProvider] = {}
            for name, make in self.makers.items():
                store = await stack.enter_async_context(self.fresh(make))
                opened[name] = await stack.enter_async_context(provider(self.sandboxes[name], store))
            yield opened

    @asynccontextmanager
    async def fresh(self, make: Callable[[str], Store]) -> AsyncIterator[Store]:
        name = f"bench-{uuid.uuid4().hex}"
        store = make(name)
        try:
            yield store
        finally:
            await store.aclose()
            if self.cleanup and isinstance(store, RedisStore):
                await forget(self.redis_url, name)

    async def requests(self, count: int) -> dict[str, list[float]]:
        async with self.providers() as providers:

            def read(pms: SikkaProvider) -> Callable[[], Awaitable[object]]:
                params = {"practice_id": pms.practice_id}
                return lambda: pms.client.fetch_page("practices", params, PracticeRow, index=0, page_size=1)

            reads = {name: read(pms) for name, pms in providers.items()}
            for _ in range(WARM_UP_REQUESTS):  # the request key, connections: what follows is the steady state
                for warm in reads.values():
                    await warm()
            times: dict[str, list[float]] = {name: [] for name in providers}
            for _, name in turns(count, list(providers), REQUEST_BLOCK):
                times[name].append(await timed(reads[name]))
            return times

    async def bookings(self, count: int) -> tuple[dict[str, list[float]], float]:
        """Wall times of ``count`` bookings per store (after one that warms the caches), and the requests
        each booking sent."""
        any_sandbox = next(iter(self.sandboxes.values()))
        patients = sorted(p.patient_id for p in any_sandbox.world.patients.values() if p.practice_id == "1")
        starts = slots(any_sandbox, count + 1)  # the same slots in every store's sandbox
        times: dict[str, list[float]] = {name: [] for name in self.makers}
        sent = 0
        async with self.providers() as providers:
            for n, name in turns(count + 1, list(providers), BOOKING_BLOCK):
                request = BookingRequest(
                    patient_id=patients[n % len(patients)],
                    provider_id=DENTIST,
                    start=starts[n],
                    duration=timedelta(minutes=30),
                )
                sandbox = self.sandboxes[name]
                before = len(sandbox.requests)
                elapsed = await timed(partial(providers[name].appointments.book, request))
                if n:  # the first also fetches the request key and warms features, rules, providers, operatories
                    times[name].append(elapsed)
                    sent += len(sandbox.requests) - before
        return times, sent / (count * len(self.makers))


async def measure_with(
    redis_url: str, directory: Path, args: argparse.Namespace, *, cleanup: bool
) -> dict[str, Run]:
    runs: dict[str, list[Run]] = {}
    for _ in range(args.runs):
        bench = Bench(redis_url, directory, cleanup=cleanup)
        requests = await bench.requests(args.requests)
        bookings, sent = await bench.bookings(args.bookings)
        for name in bench.makers:
            runs.setdefault(name, []).append(Run(requests[name], bookings[name], sent))
    return {name: summarise(of_store) for name, of_store in runs.items()}


async def measure(args: argparse.Namespace) -> dict[str, Run]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.redis_url:
            return await measure_with(args.redis_url, directory, args, cleanup=True)
        redis_dir = directory / "redis"
        redis_dir.mkdir()
        async with temporary_redis(redis_dir) as url:
            return await measure_with(url, directory, args, cleanup=False)


# -- the figures ----------------------------------------------------------------------------------------


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def summarise(runs: list[Run]) -> Run:
    """One run standing for all: per measure, the run whose p50 is the median (ties are rare, and harmless)."""

    def middle(pick: Callable[[Run], list[float]]) -> list[float]:
        ordered = sorted((pick(run) for run in runs), key=p50)
        return ordered[len(ordered) // 2]

    return Run(middle(lambda r: r.requests), middle(lambda r: r.bookings), runs[0].sent_per_booking)


def report(results: dict[str, Run], args: argparse.Namespace) -> None:
    base = results["MemoryStore"]
    sent = {f"{run.sent_per_booking:g}" for run in results.values()}
    print(
        f"{args.requests} requests and {args.bookings} bookings per store, the median run of {args.runs} "
        "(wall time per operation)"
    )
    header = (
        f"{'store':12} {'request p50':>12} {'p95':>9} {'added p50':>10} {'x Memory':>9} "
        f"{'booking p50':>12} {'p95':>9} {'added p50':>10} {'x Memory':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, run in results.items():
        req50, req95, book50, book95 = p50(run.requests), p95(run.requests), p50(run.bookings), p95(run.bookings)
        print(
            f"{name:12} {req50 * 1e6:9.0f} us {req95 * 1e6:6.0f} us {(req50 - p50(base.requests)) * 1e6:+7.0f} us "
            f"{req50 / p50(base.requests):8.2f}x "
            f"{book50 * 1e3:9.2f} ms {book95 * 1e3:6.2f} ms {(book50 - p50(base.bookings)) * 1e3:+7.2f} ms "
            f"{book50 / p50(base.bookings):8.2f}x"
        )
    print()
    columns = ("store", "request p50", "p95", "added p50", "x MemoryStore", "booking p50", "p95", "added p50")
    print("| " + " | ".join((*columns, "x MemoryStore")) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in results.items():
        req50, book50 = p50(run.requests), p50(run.bookings)
        print(
            f"| `{name}` | {req50 * 1e6:,.0f} us | {p95(run.requests) * 1e6:,.0f} us "
            f"| {(req50 - p50(base.requests)) * 1e6:+,.0f} us | {req50 / p50(base.requests):.2f}x "
            f"| {book50 * 1e3:.2f} ms | {p95(run.bookings) * 1e3:.2f} ms "
            f"| {(book50 - p50(base.bookings)) * 1e3:+.2f} ms | {book50 / p50(base.bookings):.2f}x |"
        )
    print()
    print(f"requests sent per booking: {', '.join(sorted(sent))}")
    fifth = max(1, args.requests // 5)
    early, late = WARM_UP_REQUESTS, WARM_UP_REQUESTS + args.requests
    print(
        f"request p50, first {fifth} (budget log of ~{early}-{early + fifth} grants) against last {fifth} "
        f"(~{late - fifth}-{late}): a spend reads the whole log of the last {UNLIMITED.per_seconds:g} s"
    )
    for name, run in results.items():
        first, last = p50(run.requests[:fifth]), p50(run.requests[-fifth:])
        print(f"  {name:12} {first * 1e6:7.0f} us -> {last * 1e6:7.0f} us ({(last - first) * 1e6:+.0f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--redis-url", default=None, help="an existing Redis (default: start a temporary one)")
    args = parser.parse_args()
    if args.requests < 2 or args.bookings < 2 or args.runs < 1:
        parser.error("--requests and --bookings need at least 2, --runs at least 1")
    report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main()
