"""Request keys: a ``TokenManager`` that refreshes before expiry, and pluggable token stores.

The manager is single-flight: however many tasks or threads find the key stale at once, one refresh
reaches the PMS and everyone uses its result. A ``TokenStore`` lets several workers share one key;
its ``lock`` serialises refreshes across processes where the store can. Every
[store][pms_connect.stores] carries one (``store.tokens``); SqliteStore's and RedisStore's are safe across
processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, SecretStr

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import AuthenticationError, BadRequestError, InvalidArgumentError, PmsConnectionError

__all__ = ["InMemoryTokenStore", "Token", "TokenManager", "TokenStore"]

logger = logging.getLogger("pms_connect.tokens")


class Token(BaseModel):
    """A request key with its refresh key and lifetime. Secrets are ``SecretStr``."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    access: SecretStr
    refresh: SecretStr | None = None
    issued_at: datetime
    expires_at: datetime
    scope: tuple[str, ...] = ()

    def refresh_due(self, skew: timedelta) -> datetime:
        """When to refresh: ``skew`` before expiry, but never earlier than half-way through the lifetime."""
        lifetime = self.expires_at - self.issued_at
        return self.expires_at - min(skew, lifetime / 2)

    def to_storage(self) -> dict[str, Any]:
        """A plain dict with the secrets revealed, for stores that encrypt or protect it themselves."""
        return {
            "access": self.access.get_secret_value(),
            "refresh": self.refresh.get_secret_value() if self.refresh else None,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "scope": list(self.scope),
        }

    @classmethod
    def from_storage(cls, data: dict[str, Any]) -> Token:
        return cls.model_validate(data)


@runtime_checkable
class TokenStore(Protocol):
    """Where request keys live between calls, and between processes for a shared store."""

    async def load(self, key: str) -> Token | None: ...

    async def save(self, key: str, token: Token) -> None: ...

    async def clear(self, key: str) -> None: ...

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held while one holder refreshes ``key``; cross-process for stores that are shared."""
        ...


class InMemoryTokenStore:
    """The default store: one process, no persistence."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    async def load(self, key: str) -> Token | None:
        return self._tokens.get(key)

    async def save(self, key: str, token: Token) -> None:
        self._tokens[key] = token

    async def clear(self, key: str) -> None:
        self._tokens.pop(key, None)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        # The manager is already single-flight within a process; nothing else shares this store.
        yield

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(keys={len(self._tokens)})"


Grant = Callable[[], Awaitable[Token]]
RefreshGrant = Callable[[str], Awaitable[Token]]


class TokenManager:
    """Hands out a valid request key, refreshing it once, for everyone, when it is due.

    ``grant`` performs a full grant (office id + secret key); ``refresh`` exchanges a refresh key. When the
    refresh grant is refused, the manager falls back to a full grant.
    """

    def __init__(
        self,
        *,
        key: str,
        grant: Grant,
        refresh: RefreshGrant,
        store: TokenStore | None = None,
        clock: Clock | None = None,
        skew: timedelta = timedelta(hours=1),
    ) -> None:
        if not isinstance(skew, timedelta) or skew < timedelta(0):
            raise InvalidArgumentError("skew must be a timedelta, not negative")
        self._key = key
        self._grant = grant
        self._refresh = refresh
        self._store: TokenStore = store if store is not None else InMemoryTokenStore()
        self._clock = clock or SystemClock()
        self._skew = skew
        self._token: Token | None = None
        self._mutex = threading.Lock()
        self._inflight: concurrent.futures.Future[Token] | None = None
        self._refresh_task: asyncio.Task[Token] | None = None
        self.refresh_count = 0
        """How many grants (full or refresh) this manager has sent: visible to tests and metrics."""

    @property
    def store(self) -> TokenStore:
        return self._store

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and self._clock.now() < token.refresh_due(self._skew)

    async def get(self) -> Token:
        """A request key that is not due for refresh."""
        token = self._token
        if self._fresh(token):
            assert token is not None
            return token
        return await self._single_flight(stale=token)

    async def invalidate(self, token: Token) -> Token:
        """The PMS refused ``token`` as expired: get a new one (once, however many callers report it)."""
        current = self._token
        if current is not None and current.access != token.access and self._fresh(current):
            return current
        return await self._single_flight(stale=token)

    async def _single_flight(self, stale: Token | None) -> Token:
        """Join the refresh in flight, or start one. The refresh runs in its own task, so a caller that is
        cancelled (a timeout, a pager closing early) neither cancels it nor fails the others."""
        with self._mutex:
            future = self._inflight
            if future is None:
                future = self._inflight = concurrent.futures.Future()
                future.set_running_or_notify_cancel()  # waiters may go away; the refresh may not
                task = asyncio.get_running_loop().create_task(self._obtain(stale), name="pms-connect-refresh")
                task.add_done_callback(functools.partial(self._finish, future))
                self._refresh_task = task  # a strong reference: the loop keeps tasks only weakly
        return await asyncio.wrap_future(future)

    def _finish(self, future: concurrent.futures.Future[Token], task: asyncio.Task[Token]) -> None:
        with self._mutex:
            self._inflight = None
            self._refresh_task = None
        if task.cancelled():
            future.set_exception(PmsConnectionError("the request key refresh was cancelled"))
        elif (error := task.exception()) is not None:
            future.set_exception(error)
        else:
            self._token = task.result()
            future.set_result(self._token)

    async def _obtain(self, stale: Token | None) -> Token:
        async with self._store.lock(self._key):
            stored = await self._store.load(self._key)
            if self._fresh(stored) and (stale is None or stored is None or stored.access != stale.access):
                assert stored is not None
                return stored  # another worker refreshed while we waited for the lock
            base = stored or stale
            token = await self._refresh_or_grant(base)
            await self._store.save(self._key, token)
            return token

    async def _refresh_or_grant(self, base: Token | None) -> Token:
        self.refresh_count += 1
        if base is not None and base.refresh is not None:
            try:
                token = await self._refresh(base.refresh.get_secret_value())
                logger.debug("request key refreshed")
                return token
            except (AuthenticationError, BadRequestError) as exc:
                logger.info("refresh grant refused (%s); falling back to a full grant", exc.code)
                self.refresh_count += 1
        token = await self._grant()
        logger.debug("request key granted")
        return token

    def __repr__(self) -> str:
        return f"TokenManager(key={self._key!r}, store={self._store!r})"
