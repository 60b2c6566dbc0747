"""A fleet of real worker processes on one store: one rate budget, one refresh grant, one poller stream.

Each test serves its own sandbox on loopback and counts, from the sandbox's own request log, what all the
workers sent together. The rate-budget tests use a short window (the sandbox's ``rate_window`` switch and the
workers' ``per_seconds``) so that several windows pass in seconds on the real clock; the rule checked is the
same one that holds a 60-second window.
"""

from __future__ import annotations

import bisect
import itertools
import os
import secrets
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pms_connect.testing import SikkaSandbox

from ..served import Served, serve
from .conftest import Worker

pytestmark = pytest.mark.slow

LIMIT, WINDOW = 10, 1.0  # the sandbox's budget: 10 requests in any fixed 1-second window
AUTH_PATHS = {"/v4/request_key", "/v4/authorized_practices", "/v4/request_key_info"}
APP_PATHS = AUTH_PATHS | {"/v4/writebacks", "/v4/supported_pmses"}  # the app's budget, not the practice's


def worst_window(times: list[datetime], window: float) -> int:
    """The most requests any window of ``window`` seconds holds (sliding: stricter than fixed windows)."""
    stamps = sorted(t.timestamp() for t in times)
    return max((bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps)), default=0)


@pytest.fixture
def tight() -> Iterator[Served]:
    """A sandbox whose budget is small and whose window is short, on the real clock."""
    yield from serve(SikkaSandbox(seed=5, rate_limit=LIMIT, rate_window=timedelta(seconds=WINDOW)))


def store_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "redis":
        return {"redis_url": request.getfixturevalue("redis_url"), "prefix": f"fleet{secrets.token_hex(4)}"}
    if kind == "memory":
        return {"memory": True}
    return {}


def start(served: Served, n: int, tmp_path: Path, **config: Any) -> list[Worker]:
    """``n`` workers: on a SqliteStore they share one file; otherwise each has its own directory (a host)."""
    shared = not config.get("redis_url") and not config.get("memory")
    directories = [tmp_path if shared else tmp_path / f"host{i}" for i in range(n)]
    for directory in directories:
        directory.mkdir(exist_ok=True)
    return [Worker(served, directory / "pms.db", **config) for directory in directories]


Answer = dict[str, Any] | None


def all_at_once(workers: list[Worker], command: dict[str, Any], timeout: float = 120) -> list[Answer]:
    for worker in workers:
        worker.send(command)
    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return list(pool.map(lambda w: w.answer(timeout), workers))


@pytest.mark.parametrize(
    ("store", "processes", "headers"),
    [
        ("redis", 4, True),
        ("redis", 4, False),
        ("memory", 1, False),
    ],
    ids=["redis-4-headers", "redis-4-no-headers", "memory-1-no-headers"],
)
def test_workers_sharing_a_store_never_put_more_than_the_budget_in_any_window(
    tight: Served,
    workers: list[Worker],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    store: str,
    processes: int,
    headers: bool,
) -> None:
    """Every worker asks for its reads at once; together they stay within the practice's budget, measured
    at the sandbox on arrival, with or without the server's ``X-Rate-Limit-*`` headers."""
    sandbox = tight.sandbox
    sandbox.faults.rate_limit_headers = headers
    reads = 24 // processes
    workers.extend(
        start(
            tight,
            processes,
            tmp_path,
            cold=True,
            rate_limit=LIMIT,
            per_seconds=WINDOW,
            margin_seconds=0.25,
            **store_config(store, tmp_path, request),
        )
    )
    for worker in workers:
        worker.ready()
    sandbox.requests.clear()

    answers = all_at_once(workers, {"op": "reads", "n": reads})

    assert answers == [{"reads": reads}] * processes
    practice = [r for r in sandbox.requests if r.path not in AUTH_PATHS]
    assert len([r for r in practice if r.path == "/v4/practices"]) == 24, "each read sent once"
    assert [r.status for r in sandbox.requests if r.status == 429] == []
    assert worst_window([r.at for r in practice], WINDOW) <= LIMIT


@pytest.fixture
def roomy() -> Iterator[Served]:
    """A budget that is no constraint, on the real clock; writes complete 3 s after they are queued."""
    yield from serve(SikkaSandbox(seed=5, writeback_delay=timedelta(seconds=3), rate_limit=100_000))


def test_eight_processes_at_key_expiry_make_one_refresh_grant(
    roomy: Served, workers: list[Worker], tmp_path: Path, redis_url: str
) -> None:
    """Eight cold workers on one Redis (no shared file) start at once, then all find the key expired at
    once: one grant each time, and every read succeeds."""
    sandbox = roomy.sandbox
    workers.extend(start(roomy, 8, tmp_path, cold=True, redis_url=redis_url, prefix=f"keys{secrets.token_hex(4)}"))
    for worker in workers:
        worker.ready()
    sandbox.requests.clear()

    def grants() -> int:
        granted = ("POST", "/v4/request_key", 200)
        return len([r for r in sandbox.requests if (r.method, r.path, r.status) == granted])

    assert all_at_once(workers, {"op": "reads", "n": 1}) == [{"reads": 1}] * 8
    assert grants() == 1, "one key for eight cold workers"

    sandbox.faults.expire_keys()
    assert all_at_once(workers, {"op": "reads", "n": 1}) == [{"reads": 1}] * 8
    assert grants() == 2, "one refresh for eight workers that found the key expired"


def polls(sent: dict[str, int]) -> int:
    return sent.get("GET /v4/writebacks", 0) + sent.get("GET /v4/writeback_status", 0)


def test_one_poller_follows_the_fleets_writebacks_and_another_takes_over_when_it_dies(
    roomy: Served, workers: list[Worker], tmp_path: Path, redis_url: str
) -> None:
    """Four workers on one Redis each post payments; one of them (the lease holder) polls for all. Killed
    while every write is pending, the leader is replaced within one lease: nothing is lost or doubled.

    ``PMS_CONNECT_FLEET_PENDING`` scales the number of pending writes (40 by default; the closing figures
    were taken at 1,000) and ``PMS_CONNECT_FLEET_BUDGET`` sets the workers' budget (``200/60``: requests per
    seconds). The figures are printed (``-s`` shows them)."""
    sandbox = roomy.sandbox
    pending = int(os.environ.get("PMS_CONNECT_FLEET_PENDING", "40"))
    budget, per = (int(x) for x in os.environ.get("PMS_CONNECT_FLEET_BUDGET", "200/60").split("/"))
    prefix = f"poll{secrets.token_hex(4)}"
    workers.extend(
        start(
            roomy,
            4,
            tmp_path,
            redis_url=redis_url,
            prefix=prefix,
            lease_ttl=1.5,
            rate_limit=budget,
            per_seconds=per,
        )
    )
    for worker in workers:
        worker.ready()
    who = sorted(p.patient_id for p in sandbox.world.patients.values() if p.practice_id == "1")

    def post(worker_index: int) -> list[dict[str, Any] | None]:
        worker = workers[worker_index]
        return [
            worker.ask({"op": "pay", "patient_id": who[n % len(who)], "amount": f"{1 + n}.{worker_index}5"})
            for n in range(worker_index, pending, 4)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        handles = [a for answers in pool.map(post, range(4)) for a in answers]
    assert all(a is not None and a.get("acknowledged") for a in handles), handles
    leaders = [i for i, w in enumerate(workers) if (w.ask({"op": "leading"}) or {}).get("leading")]
    assert len(leaders) == 1, leaders
    before = [w.ask({"op": "sent"}) or {} for w in workers]
    assert [len(b["poll_times"]) for i, b in enumerate(before) if i != leaders[0]] == [0, 0, 0], "followers wait"
    stream = [(t, leaders[0]) for t in before[leaders[0]]["poll_times"]]

    leader = workers.pop(leaders[0])
    leader.process.kill()  # with every write still pending (they complete 3 s after queueing)
    leader.process.wait(timeout=10)
    killed_at = time.time()

    settled = all_at_once(workers, {"op": "settle_all"}, timeout=max(300, 1.5 * pending))
    results: dict[str, dict[str, Any]] = settled[0]["results"] if settled[0] else {}
    assert all(s is not None and s["results"] == results for s in settled)
    records = sandbox.writebacks
    assert len(records) == pending, "every payment was sent once"
    assert len(results) == pending
    assert {r["status"] for r in results.values()} == {"written"}
    assert sorted(r["writeback_id"] for r in results.values()) == sorted(r.id for r in records)

    # One stream: the workers' writeback reads never interleave. Leadership passes only when a lease has
    # lapsed (the leader died, or had nothing left to follow), so every change of hands follows a pause.
    survivors = [w.ask({"op": "sent"}) or {} for w in workers]
    stream += [(t, 10 + i) for i, s in enumerate(survivors) for t in s["poll_times"]]
    stream.sort()
    handovers = [(b[0] - a[0]) for a, b in itertools.pairwise(stream) if a[1] != b[1]]
    assert handovers, "another worker took over"
    assert len(handovers) <= 3, handovers
    assert min(handovers) >= 0.5, f"two workers polled at once: {handovers}"
    takeover = min(t for t, who in stream if who >= 10) - killed_at

    # Within Sikka's budgets all along (the workers' default: 200 a minute each for the practice and for the
    # app, whose calls are the writebacks list, the PMS list and the key grants; polling at most half).
    assert [r for r in sandbox.requests if r.status == 429] == []
    practice = [r for r in sandbox.requests if r.path not in APP_PATHS]
    worst = worst_window([r.at for r in practice], per)
    worst_app = worst_window([r.at for r in sandbox.requests if r.path in APP_PATHS], per)
    assert worst <= budget
    assert worst_app <= budget

    due = {r.id: r.due for r in records}
    lag = sorted(
        (datetime.fromisoformat(r["settled_at"]) - due[r["writeback_id"]]).total_seconds()
        for r in results.values()
    )
    print(
        f"\n{pending} pending across 4 workers: {len(practice)} practice requests, worst {per} s window {worst} "
        f"(app-level {worst_app}), "
        f"writeback reads {len(stream)}, handovers after "
        f"{[round(h, 2) for h in handovers]} s, first read by the new leader {takeover:.2f} s after the kill; "
        f"detection after due p50 {statistics.median(lag):.2f} s, "
        f"p95 {lag[int(0.95 * (len(lag) - 1))]:.2f} s, max {lag[-1]:.2f} s"
    )
