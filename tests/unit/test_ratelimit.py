"""RateLimiter on a FakeClock: refill, the interactive reserve, and adapting to Sikka's rate-limit headers."""

from __future__ import annotations

import asyncio

import pytest

from pms_connect.ratelimit import Priority, RateLimit, RateLimiter
from pms_connect.testing.clock import FakeClock

TEN_A_MINUTE = RateLimit(requests=10, per_seconds=60, background_share=0.5)  # one token every 6 s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock) -> RateLimiter:
    return RateLimiter(TEN_A_MINUTE, clock=clock)


async def drain(limiter: RateLimiter, n: int, priority: Priority = Priority.INTERACTIVE, key: str = "p") -> None:
    for _ in range(n):
        await limiter.acquire(key, priority)


def test_a_new_bucket_is_full(limiter):
    assert limiter.available("p") == 10


async def test_acquire_spends_one_token_without_waiting(limiter, clock):
    await limiter.acquire("p")

    assert limiter.available("p") == 9
    assert clock.monotonic() == 0
    assert limiter.waited_seconds == 0


async def test_bucket_refills_at_the_configured_rate(limiter, clock):
    await drain(limiter, 10)

    clock.advance(30)

    assert limiter.available("p") == pytest.approx(5)


async def test_bucket_refill_is_capped_at_capacity(limiter, clock):
    await drain(limiter, 3)

    clock.advance(3600)

    assert limiter.available("p") == 10


async def test_acquire_on_an_empty_bucket_waits_for_one_token_on_the_clock(limiter, clock):
    await drain(limiter, 10)

    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(6)
    assert limiter.waited_seconds == pytest.approx(6)


async def test_budget_keys_have_separate_buckets(limiter, clock):
    await drain(limiter, 10, key="practice-a")

    await limiter.acquire("practice-b")

    assert clock.monotonic() == 0
    assert limiter.available("practice-b") == 9


async def test_background_work_spends_only_its_share(limiter, clock):
    await drain(limiter, 5, Priority.BACKGROUND)
    assert clock.monotonic() == 0

    await limiter.acquire("p", Priority.BACKGROUND)  # the 6th would dip into the interactive reserve

    assert clock.monotonic() == pytest.approx(6)


async def test_interactive_calls_can_use_the_reserve_background_cannot(limiter, clock):
    await drain(limiter, 5, Priority.BACKGROUND)

    await drain(limiter, 5, Priority.INTERACTIVE)

    assert clock.monotonic() == 0
    assert limiter.available("p") == 0


async def test_background_waits_while_interactive_calls_take_the_reserve(limiter, clock):
    await drain(limiter, 5, Priority.BACKGROUND)
    background = asyncio.ensure_future(limiter.acquire("p", Priority.BACKGROUND))
    await asyncio.sleep(0)

    await drain(limiter, 5, Priority.INTERACTIVE)  # served at once, ahead of the waiting background call
    interactive_done_at = clock.monotonic()
    await background

    assert interactive_done_at == 0
    # The background call needs 6 tokens in the bucket (1 + the 5-token reserve): 36 s from empty.
    assert clock.monotonic() == pytest.approx(36)


async def test_observe_shrinks_the_bucket_to_the_servers_remaining(limiter):
    limiter.observe("p", remaining=3, reset_seconds=20)

    assert limiter.available("p") == 3


async def test_observe_never_grows_the_bucket(limiter):
    await drain(limiter, 8)

    limiter.observe("p", remaining=250, reset_seconds=60)

    assert limiter.available("p") == 2


async def test_observe_without_headers_changes_nothing(limiter):
    limiter.observe("p", remaining=None, reset_seconds=None)

    assert limiter.available("p") == 10


async def test_observe_zero_remaining_blocks_until_the_reset(limiter, clock):
    limiter.observe("p", remaining=0, reset_seconds=12)

    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(12)


async def test_observe_zero_remaining_blocks_interactive_calls_too(limiter, clock):
    limiter.observe("p", remaining=0, reset_seconds=30)

    await limiter.acquire("p", Priority.INTERACTIVE)

    assert clock.monotonic() == pytest.approx(30)


async def test_observe_zero_remaining_without_reset_blocks_a_second(limiter, clock):
    limiter.observe("p", remaining=0, reset_seconds=None)

    await limiter.acquire("p")

    assert clock.monotonic() == pytest.approx(6)  # 1 s blocked, then the empty bucket needs 6 s for a token


async def test_observe_low_remaining_then_acquire_waits_for_the_reset_once_those_are_spent(limiter, clock):
    limiter.observe("p", remaining=2, reset_seconds=20)

    await drain(limiter, 2)
    assert clock.monotonic() == pytest.approx(0)
    await drain(limiter, 1)

    # The bucket refills faster than that, but the server said two until its window resets in 20 s.
    assert clock.monotonic() == pytest.approx(20)


@pytest.mark.parametrize(
    "kwargs",
    [{"requests": 0}, {"per_seconds": 0}, {"background_share": 0}, {"background_share": 1.5}],
)
def test_rate_limit_refuses_nonsense(kwargs):
    with pytest.raises(ValueError, match=r"rate limit|background_share"):
        RateLimit(**kwargs)


async def test_float_dust_in_the_bucket_never_stalls_acquire(clock):
    """200/min refills 1/0.3 s; after many refills the bucket holds 0.9999999999999997 tokens, which once
    produced a zero-length wait that never advanced the clock."""
    limiter = RateLimiter(RateLimit(requests=200, per_seconds=60), clock=clock)
    for _ in range(260):
        await asyncio.wait_for(limiter.acquire("p"), timeout=5)
    assert clock.monotonic() == pytest.approx(18, abs=0.5)  # 200 at once, then 60 at 0.3 s each
