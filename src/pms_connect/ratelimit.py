"""An async token bucket with priority lanes that also listens to the server's rate-limit headers.

Interactive calls (a caller on the phone) go ahead of background work (writeback polling): the background
lane may only spend tokens above a reserve kept for interactive calls. When the server says fewer requests
are left in its window than the bucket holds, the bucket shrinks to match; at zero it waits for the reset.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pms_connect._clock import Clock, SystemClock

__all__ = ["Priority", "RateLimit", "RateLimiter"]


_EPSILON = 1e-9
_MIN_WAIT = 0.001


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 1


@dataclass(frozen=True)
class RateLimit:
    """A budget: ``requests`` per ``per_seconds``, with ``background_share`` of it open to background work."""

    requests: int = 200
    per_seconds: float = 60.0
    background_share: float = 0.5

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive period")
        if not 0 < self.background_share <= 1:
            raise ValueError("background_share must be in (0, 1]")


class _Bucket:
    def __init__(self, limit: RateLimit, now: float) -> None:
        self.capacity = float(limit.requests)
        self.rate = limit.requests / limit.per_seconds
        self.tokens = self.capacity
        self.updated = now
        # The server's own window, from its last X-Rate-Limit-* headers: requests left and when it resets.
        self.server_remaining: float | None = None
        self.server_reset_at = 0.0

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.server_remaining is not None and now >= self.server_reset_at:
            self.server_remaining = None  # the server's window has rolled over


class RateLimiter:
    """One bucket per budget key (a practice, or the app for app-level calls)."""

    def __init__(self, limit: RateLimit | None = None, *, clock: Clock | None = None) -> None:
        self.limit = limit or RateLimit()
        self._clock = clock or SystemClock()
        self._buckets: dict[str, _Bucket] = {}
        self.waited_seconds = 0.0
        """Total time callers spent waiting for tokens: visible to tests and benchmarks."""

    def _bucket(self, key: str) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.limit, self._clock.monotonic())
        return bucket

    def _floor(self, bucket: _Bucket, priority: Priority) -> float:
        """Tokens that must remain after this acquisition: the interactive reserve for background work."""
        if priority is Priority.BACKGROUND:
            return bucket.capacity * (1.0 - self.limit.background_share)
        return 0.0

    async def acquire(self, key: str, priority: Priority = Priority.INTERACTIVE) -> None:
        """Wait until a request for ``key`` may be sent, then spend one token."""
        bucket = self._bucket(key)
        while True:
            now = self._clock.monotonic()
            bucket.refill(now)
            needed = 1.0 + self._floor(bucket, priority)
            if bucket.server_remaining is not None and bucket.server_remaining < needed:
                wait = bucket.server_reset_at - now  # the server's window is spent: wait for its reset
            elif bucket.tokens + _EPSILON >= needed:
                bucket.tokens = max(0.0, bucket.tokens - 1.0)
                if bucket.server_remaining is not None:
                    bucket.server_remaining -= 1.0
                return
            else:
                wait = (needed - bucket.tokens) / bucket.rate
            wait = max(wait, _MIN_WAIT)  # float dust must not become a zero-length wait that never ends
            self.waited_seconds += wait
            await self._clock.sleep(wait)

    def observe(self, key: str, *, remaining: int | None, reset_seconds: float | None) -> None:
        """Adapt to the server's ``X-Rate-Limit-Remaining`` / ``X-Rate-Limit-Reset`` headers: until the server's
        window resets, spend no more than it says is left (however full this bucket is)."""
        if remaining is None:
            return
        bucket = self._bucket(key)
        now = self._clock.monotonic()
        bucket.refill(now)
        reset = reset_seconds if reset_seconds is not None and reset_seconds > 0 else 1.0
        bucket.server_remaining = float(max(0, remaining))
        bucket.server_reset_at = now + reset
        bucket.tokens = min(bucket.tokens, bucket.server_remaining)

    def available(self, key: str) -> float:
        bucket = self._bucket(key)
        bucket.refill(self._clock.monotonic())
        return bucket.tokens
