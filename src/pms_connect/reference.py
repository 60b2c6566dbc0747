"""Reference data (providers, chairs, hours, statuses, features) cached per provider instance.

Every provider needs the same: these change rarely, every slot search and write checks ids against them,
and a phone caller waits for each request. So they are kept for a time to live, and callers that arrive
while one is loading share its request (a cold slot search and the list it runs both need the hours).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError

__all__ = ["ReferenceCache"]

T = TypeVar("T")


class ReferenceCache:
    """Values by name, each loaded once per ``ttl`` (``timedelta(0)``: loaded on every call, though callers
    arriving together still share one load). Times come from ``clock.monotonic()``."""

    def __init__(self, clock: Clock, ttl: timedelta = timedelta(minutes=15)) -> None:
        if not isinstance(ttl, timedelta) or ttl < timedelta(0):
            raise InvalidArgumentError("the reference data ttl must be a timedelta of zero or more")
        self._clock = clock
        self._ttl = ttl.total_seconds()
        self._values: dict[str, tuple[float, Any]] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}

    @property
    def ttl(self) -> timedelta:
        """How long a loaded value is served before the next call loads it again."""
        return timedelta(seconds=self._ttl)

    async def get(self, name: str, load: Callable[[], Awaitable[T]], *, refresh: bool = False) -> T:
        """The value cached as ``name``, or ``await load()`` when there is none or it is older than ``ttl``
        (or ``refresh``). A failed load caches nothing: the next call tries again."""
        entry = self._values.get(name)
        if entry is not None and not refresh and self._clock.monotonic() - entry[0] < self._ttl:
            return cast(T, entry[1])
        loading = self._loading.get(name)
        if loading is None:
            loading = self._loading[name] = asyncio.ensure_future(self._load(name, load))
        # shield: one caller giving up (a timeout) does not cancel the load the others wait for.
        return cast(T, await asyncio.shield(loading))

    async def _load(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await load()
            self._values[name] = (self._clock.monotonic(), value)
            return value
        finally:
            self._loading.pop(name, None)

    def clear(self) -> None:
        """Forget every value (after the practice changes providers, chairs or hours)."""
        self._values.clear()

    def __repr__(self) -> str:
        return f"ReferenceCache(ttl={self.ttl!r}, names={sorted(self._values)!r})"
