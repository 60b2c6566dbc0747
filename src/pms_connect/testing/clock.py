"""A virtual clock for tests, demos and benchmarks: sleeping advances time instead of waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta, timezone

from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError

__all__ = ["FakeClock"]


class FakeClock(Clock):
    """Virtual time. ``sleep`` parks the caller until it is the earliest sleeper, then jumps time forward.

    Between jumps every other runnable task gets several turns of the event loop, so concurrent code
    (pollers, rate limiters, refreshes) interleaves as it would in real time, only without the waiting.
    """

    def __init__(self, start: datetime | None = None, *, yields: int = 20) -> None:
        start = start or datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise InvalidArgumentError("FakeClock needs an aware start time")
        self._start = start.astimezone(timezone.utc)
        self._offset = 0.0
        self._yields = yields
        self._sleepers: list[tuple[float, int]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        """The virtual time, aware, in UTC: the start time plus every step taken so far."""
        return self._start + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made: what rate limiters and caches measure intervals with."""
        return self._offset

    def advance(self, seconds: float | timedelta) -> None:
        """Move time forward by hand (for synchronous tests)."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        if step < 0:
            raise InvalidArgumentError("time does not run backwards")
        self._offset += step

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not earlier than now)."""
        self.advance((when - self.now()).total_seconds())

    async def sleep(self, seconds: float) -> None:
        """Wait until every earlier sleeper has woken, then jump time to this one's wake-up: code that sleeps
        minutes finishes at once, in the order real time would have run it."""
        entry = (self._offset + max(0.0, seconds), next(self._counter))
        heapq.heappush(self._sleepers, entry)
        try:
            while True:
                for _ in range(self._yields):
                    await asyncio.sleep(0)
                if self._sleepers and self._sleepers[0] == entry:
                    heapq.heappop(self._sleepers)
                    self._offset = max(self._offset, entry[0])
                    return
        except BaseException:
            if entry in self._sleepers:
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)
            raise
