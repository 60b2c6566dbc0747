"""The rate budget: exact, shared through the store, with priority lanes and the server's headers.

* Exact: a sliding log of grants per budget key (a practice; the app for app-level calls) in the store's
  ``budget``, so that no window of ``per_seconds`` ever holds more than ``requests`` grants, from the first
  second on, across every process sharing the store. A grant counts until ``per_seconds`` after its
  request's answer (``answered``), since the server counts a request when it arrives, not when it was granted.
* Lanes: interactive calls (a caller on the phone) and background work (writeback polling). The background
  lane is capped at ``background_share`` of the budget; interactive calls may use all of it, and a waiting
  interactive call goes before a waiting background one of the same process.
* The server's headers only ever shrink the budget: a limit below the configured budget lowers it, and fewer
  requests remaining than the log leaves are held as phantom grants until the server's reset. Which headers
  say so is the provider's [RateLimitHeaders][pms_connect.http.RateLimitHeaders] (Sikka's
  ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset``); the pipeline passes what they say to
  [observe][pms_connect.ratelimit.RateLimiter.observe].
* No herd: in a process, one waiter per key and lane asks the budget and sleeps; the others queue behind it
  in order.
"""

from __future__ import annotations

import asyncio
import enum
import math
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import InvalidArgumentError
from pms_connect.stores import MemoryBudget, RateBudget
from pms_connect.validation import check_count, check_seconds

__all__ = ["Priority", "RateLimit", "RateLimiter"]

_MIN_WAIT = 0.001  # float dust must never become a zero-length wait that never ends
_YIELD = 0.05  # how long a background waiter steps aside for a waiting interactive one


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 1


@dataclass(frozen=True)
class RateLimit:
    """A budget: ``requests`` per ``per_seconds``, of which background work may use ``background_share``.

    ``margin_seconds`` widens the window the log keeps, for clocks that differ between the hosts sharing a
    budget and the server's (each grant already counts from its request's answer). A second costs about
    1.6 % of a 60-second budget's throughput and no 429.
    """

    requests: int = 200
    per_seconds: float = 60.0
    background_share: float = 0.5
    margin_seconds: float = 1.0

    def __post_init__(self) -> None:
        check_count(self.requests, "requests", minimum=1)
        check_seconds(self.per_seconds, "per_seconds")
        check_seconds(self.margin_seconds, "margin_seconds", allow_zero=True)
        share = self.background_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise InvalidArgumentError("background_share must be in (0, 1]")

    def background_cap(self, limit: int) -> int:
        return max(1, math.floor(limit * self.background_share))

    @property
    def window(self) -> float:
        """Seconds a grant stays in the log: the period plus the margin."""
        return self.per_seconds + self.margin_seconds


class RateLimiter:
    """Spends from the budget of a key; pass a store's ``budget`` to share it with every worker of the store."""

    def __init__(
        self, limit: RateLimit | None = None, *, clock: Clock | None = None, budget: RateBudget | None = None
    ) -> None:
        if limit is not None and not isinstance(limit, RateLimit):
            raise InvalidArgumentError("limit must be a RateLimit (or None for the default)")
        self.limit = limit or RateLimit()
        self._clock = clock or SystemClock()
        self.budget: RateBudget = budget if budget is not None else MemoryBudget()
        self._server_limits: dict[str, int] = {}
        self._turns: dict[tuple[str, Priority], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._interactive_waiting: dict[str, int] = defaultdict(int)
        self.waited_seconds = 0.0
        """Total time callers spent waiting: visible to tests and benchmarks."""
        self.sleeps = 0
        """How many times a caller slept for the budget: one sleeper at a time, however many wait."""

    def limit_for(self, key: str) -> int:
        """The budget of ``key``: the configured one, lowered by the limit the server's headers state."""
        return min(self.limit.requests, self._server_limits.get(key, self.limit.requests))

    @asynccontextmanager
    async def _turn(self, key: str, priority: Priority) -> AsyncIterator[None]:
        if priority is Priority.INTERACTIVE:
            self._interactive_waiting[key] += 1
        try:
            async with self._turns[key, priority]:  # asyncio.Lock wakes its waiters in order, one at a time
                yield
        finally:
            if priority is Priority.INTERACTIVE:
                self._interactive_waiting[key] -= 1

    async def acquire(self, key: str, priority: Priority = Priority.INTERACTIVE) -> str:
        """Wait until a request for ``key`` may be sent, and record it in the budget; the grant's id, for
        [answered][pms_connect.ratelimit.RateLimiter.answered] once the request has its answer."""
        window = self.limit.window
        grant_id = secrets.token_hex(8)
        async with self._turn(key, priority):
            while True:
                if priority is Priority.BACKGROUND and self._interactive_waiting[key]:
                    wait = _YIELD  # a caller on the phone is waiting for this budget: let it go first
                else:
                    limit = self.limit_for(key)
                    cap = self.limit.background_cap(limit) if priority is Priority.BACKGROUND else None
                    wait = await self.budget.take(
                        key,
                        now=self._now(),
                        window=window,
                        limit=limit,
                        lane=priority.name.lower(),
                        lane_limit=cap,
                        grant_id=grant_id,
                    )
                    if wait <= 0:
                        return grant_id
                wait = max(wait, _MIN_WAIT)
                self.waited_seconds += wait
                self.sleeps += 1
                await self._clock.sleep(wait)

    async def answered(self, key: str, grant_id: str, priority: Priority = Priority.INTERACTIVE) -> None:
        """The request of ``grant_id`` is over (answered, failed or abandoned): count its grant from now. The
        server counted it on arrival, which may be long after the grant when the request waited for a
        connection, and is never after its answer; so no server-side window can hold more than the budget."""
        await self.budget.answered(
            key, grant_id=grant_id, lane=priority.name.lower(), at=self._now(), window=self.limit.window
        )

    async def observe(
        self, key: str, *, remaining: int | None, reset_seconds: float | None, limit: int | None = None
    ) -> None:
        """Follow the server's rate-limit headers, which can only shrink the budget: a lower ``limit`` lowers
        it, and fewer ``remaining`` than the log leaves are held until the reset (``reset_seconds`` from now)."""
        if limit is not None and 0 < limit < self.limit_for(key):
            self._server_limits[key] = limit
        if remaining is None:
            return
        now, window = self._now(), self.limit.window
        room = self.limit_for(key) - await self.budget.used(key, now=now, window=window)
        excess = room - max(0, remaining)
        if excess > 0:
            reset = reset_seconds if reset_seconds is not None and 0 < reset_seconds <= window else window
            await self.budget.block(key, now=now, window=window, count=excess, until=now + reset)

    async def available(self, key: str) -> int:
        """Grants ``key`` may still make in the current window."""
        used = await self.budget.used(key, now=self._now(), window=self.limit.window)
        return max(0, self.limit_for(key) - used)

    def _now(self) -> float:
        return self._clock.now().timestamp()
