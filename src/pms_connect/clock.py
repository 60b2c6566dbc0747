"""Injectable time: a wall clock, a monotonic clock and a sleep, so that tests never wait."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

__all__ = ["Clock", "SystemClock"]


class Clock:
    """The clock protocol every time-dependent piece takes. Subclass or duck-type it in tests."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        raise NotImplementedError

    def monotonic(self) -> float:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
