"""The exact rate budget on a FakeClock: no window over the budget, lanes, the server's headers, no herd.

Run against every store's budget: the same rule serves MemoryStore and SqliteStore."""

from __future__ import annotations

import asyncio
import bisect
import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.stores import MemoryBudget, RedisStore, SqliteStore
from pms_connect.testing.clock import FakeClock

# No margin here: these tests check the log's rule itself, to the second.
TEN_A_MINUTE = RateLimit(requests=10, per_seconds=60, background_share=0.5, margin_seconds=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def limiter(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield RateLimiter(TEN_A_MINUTE, clock=clock, budget=MemoryBudget())
        return
    if request.param == "sqlite":
        store: SqliteStore | RedisStore = SqliteStore(tmp_path / "pms.db")
    else:
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=f"rl{secrets.token_hex(4)}")
    yield RateLimiter(TEN_A_MINUTE, clock=clock, budget=store.budget)
    await store.aclose()


async def drain(limiter: RateLimiter, n: int, priority: Priority = Priority.INTERACTIVE, key: str = "p") -> None:
    for _ in range(n):
        await limiter.acquire(key, priority)


def worst_window(times: list[float], window: float) -> int:
    """The most grants any window of ``window`` seconds holds."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


class Recorder:
    """Grant times, read off the clock as each acquisition returns."""

    def __init__(self, limiter: RateLimiter, clock: FakeClock) -> None:
        self.limiter, self.clock = limiter, clock
        self.times: list[float] = []

    async def acquire(self, key: str = "p", priority: Priority = Priority.INTERACTIVE) -> None:
        await self.limiter.acquire(key, priority)
        self.times.append(self.clock.monotonic())


async def test_the_margin_keeps_each_grant_in_the_log_a_little_longer(clock):
    """The server counts arrivals: a margin keeps requests granted a period apart from arriving closer."""
    limiter = RateLimiter(RateLimit(requests=10, per_seconds=60), clock=clock)
    await drain(limiter, 10)

    await limiter.acquire("p")

    assert RateLimit().margin_seconds == 1.0
    assert clock.monotonic() == pytest.approx(61)


async def test_a_grant_counts_from_its_answer_since_the_server_counts_on_arrival(limiter, clock):
    """Ten requests granted at 0 that waited for connections and were answered at 5 s may have reached the
    server at 4.9 s: the eleventh goes 60 s after the answers, not after the grants."""
    grants = [await limiter.acquire("p") for _ in range(10)]
    clock.advance(5)
    for grant_id in grants:
        await limiter.answered("p", grant_id)

    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(65)


async def test_an_answer_slower_than_the_window_counts_its_grant_again(limiter, clock):
    grant_id = await limiter.acquire("p")
    clock.advance(70)  # the grant has left the log; the request may have arrived just now
    assert await limiter.available("p") == 10

    await limiter.answered("p", grant_id)

    assert await limiter.available("p") == 9


def test_a_negative_margin_is_refused():
    with pytest.raises(InvalidArgumentError, match="margin_seconds"):
        RateLimit(margin_seconds=-1)


async def test_a_fresh_budget_lets_exactly_its_limit_through_at_once(limiter, clock):
    await drain(limiter, 10)

    assert clock.monotonic() == 0
    assert await limiter.available("p") == 0


async def test_the_eleventh_waits_until_the_first_leaves_the_window(limiter, clock):
    await drain(limiter, 10)
    clock.advance(15)

    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(60)
    assert limiter.waited_seconds == pytest.approx(45)


async def test_a_thousand_requests_never_put_more_than_the_budget_in_any_window(clock):
    """A token bucket that starts full lets twice its rate through in the first minute (400 of 1,000 under
    200/min); the sliding log lets exactly 200 through in every window of 60 s."""
    limiter = RateLimiter(RateLimit(requests=200, per_seconds=60), clock=clock)
    recorder = Recorder(limiter, clock)

    await asyncio.gather(*(recorder.acquire() for _ in range(1000)))

    assert len(recorder.times) == 1000
    assert worst_window(recorder.times, 60) == 200
    assert worst_window(recorder.times, 61) == 200  # nor any of 60 s plus the default margin
    assert max(recorder.times) == pytest.approx(4 * 61)  # five windows of 200


async def test_concurrent_waiters_do_not_stampede(clock):
    """1,000 concurrent callers: one sleeper at a time, not every waiter computing the same wake time."""
    limiter = RateLimiter(RateLimit(requests=200, per_seconds=60), clock=clock)

    await asyncio.gather(*(limiter.acquire("p") for _ in range(1000)))

    assert limiter.sleeps <= 800 + 5  # at most one sleep per grant that had to wait


async def test_waiters_are_served_in_order(limiter, clock):
    await drain(limiter, 10)
    order: list[int] = []

    async def caller(n: int) -> None:
        await limiter.acquire("p")
        order.append(n)

    await asyncio.gather(*(caller(n) for n in range(12)))

    assert order == list(range(12))


async def test_budget_keys_are_separate(limiter, clock):
    await drain(limiter, 10, key="practice-a")

    await limiter.acquire("practice-b")

    assert clock.monotonic() == 0
    assert await limiter.available("practice-b") == 9


async def test_background_work_is_capped_at_its_share(limiter, clock):
    await drain(limiter, 5, Priority.BACKGROUND)
    assert clock.monotonic() == 0

    await limiter.acquire("p", Priority.BACKGROUND)  # a 6th would exceed the 50 % share in this window

    assert clock.monotonic() == pytest.approx(60)


async def test_interactive_calls_can_use_the_whole_budget(limiter, clock):
    await drain(limiter, 5, Priority.BACKGROUND)

    await drain(limiter, 5, Priority.INTERACTIVE)

    assert clock.monotonic() == 0
    assert await limiter.available("p") == 0


async def test_background_never_exceeds_its_share_in_any_window_however_busy(clock):
    limiter = RateLimiter(RateLimit(requests=200, per_seconds=60, background_share=0.5), clock=clock)
    background = Recorder(limiter, clock)

    await asyncio.gather(*(background.acquire(priority=Priority.BACKGROUND) for _ in range(600)))

    assert worst_window(background.times, 60) == 100


async def test_a_waiting_interactive_call_goes_before_a_waiting_background_one(limiter, clock):
    await drain(limiter, 10)
    done: list[str] = []

    async def call(priority: Priority) -> None:
        await limiter.acquire("p", priority)
        done.append(priority.name)

    background = asyncio.ensure_future(call(Priority.BACKGROUND))
    await asyncio.sleep(0)
    await call(Priority.INTERACTIVE)
    await background

    assert done == ["INTERACTIVE", "BACKGROUND"]


async def test_observe_shrinks_the_budget_to_the_servers_remaining(limiter):
    await limiter.observe("p", remaining=3, reset_seconds=20)

    assert await limiter.available("p") == 3


async def test_observe_never_grows_the_budget(limiter):
    await drain(limiter, 8)

    await limiter.observe("p", remaining=250, reset_seconds=60, limit=250)

    assert await limiter.available("p") == 2


async def test_a_lower_server_limit_lowers_the_budget(limiter, clock):
    await limiter.observe("p", remaining=None, reset_seconds=None, limit=4)

    await drain(limiter, 4)
    assert clock.monotonic() == 0
    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(60)


async def test_observe_without_headers_changes_nothing(limiter):
    await limiter.observe("p", remaining=None, reset_seconds=None)

    assert await limiter.available("p") == 10


async def test_observe_zero_remaining_blocks_until_the_reset(limiter, clock):
    await limiter.observe("p", remaining=0, reset_seconds=12)

    await limiter.acquire("p", Priority.INTERACTIVE)

    assert clock.monotonic() == pytest.approx(12)


async def test_observe_low_remaining_then_acquire_waits_for_the_reset_once_those_are_spent(limiter, clock):
    await limiter.observe("p", remaining=2, reset_seconds=20)

    await drain(limiter, 2)
    assert clock.monotonic() == pytest.approx(0)
    await drain(limiter, 1)

    assert clock.monotonic() == pytest.approx(20)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests": 0},
        {"requests": 2.5},
        {"requests": True},
        {"per_seconds": 0},
        {"per_seconds": float("nan")},
        {"per_seconds": float("inf")},
        {"margin_seconds": -1},
        {"margin_seconds": float("nan")},
        {"background_share": 0},
        {"background_share": 1.5},
    ],
)
def test_rate_limit_refuses_nonsense_naming_the_setting(kwargs):
    (name,) = kwargs
    with pytest.raises(InvalidArgumentError, match=name):
        RateLimit(**kwargs)


async def test_two_limiters_on_one_sqlite_store_share_one_budget(clock, tmp_path):
    """Two workers (limiters) on one store's budget: 10 a minute between them, not 10 each. The grants are
    read off the store itself (a trigger copies each into an audit table): a caller's clock reading can be
    stale by the time its attempt runs, and the store records the grant at its true place."""
    store = SqliteStore(tmp_path / "pms.db")
    first = RateLimiter(TEN_A_MINUTE, clock=clock, budget=store.budget)
    second = RateLimiter(TEN_A_MINUTE, clock=clock, budget=store.budget)
    await first.available("p")  # creates the budget's table
    with sqlite3.connect(tmp_path / "pms.db") as db:
        db.execute("CREATE TABLE audit (at REAL)")
        db.execute(
            "CREATE TRIGGER audit_grants AFTER INSERT ON pms_connect_grants WHEN new.lane != 'server'"
            " BEGIN INSERT INTO audit VALUES (new.at); END"
        )

    await asyncio.gather(*(w.acquire("p") for _ in range(15) for w in (first, second)))

    await store.aclose()
    with sqlite3.connect(tmp_path / "pms.db") as db:
        grants = [float(at) for (at,) in db.execute("SELECT at FROM audit")]
    assert len(grants) == 30
    assert worst_window(grants, 60) == 10
