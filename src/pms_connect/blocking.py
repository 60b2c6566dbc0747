"""The synchronous facade: the same surface as any async provider, for scripts, Django/Flask and notebooks.

There is no second implementation. [connect][pms_connect.blocking.connect] starts an event loop in a background
thread (anyio's ``BlockingPortal``) and proxies every attribute of the provider: coroutine methods run in that
loop and return their result; pagers become [SyncPager][pms_connect.blocking.SyncPager] (iterate them with
``for``); resource namespaces become proxies themselves:

    from pms_connect.blocking import connect

    with connect(SikkaProvider(creds, timezone="America/Chicago")) as pms:
        print(pms.test_connection())
        for appointment in pms.appointments.list(start=date(2026, 12, 1), end=date(2026, 12, 7)):
            ...

Calls may come from several threads at once; they all run in the one loop.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import Enum
from types import TracebackType
from typing import Any, Generic, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal
from pydantic import BaseModel

from pms_connect.pagination import AsyncPager, Page

__all__ = ["BlockingProvider", "SyncPager", "connect"]

T = TypeVar("T")

_PLAIN = (BaseModel, str, bytes, int, float, bool, Decimal, date, datetime, time, timedelta, tzinfo, Enum)


class SyncPager(Generic[T]):
    """An [AsyncPager][pms_connect.pagination.AsyncPager] for synchronous code: iterate it, or call ``all()`` /
    ``first()``."""

    def __init__(self, pager: AsyncPager[T], portal: BlockingPortal) -> None:
        self._pager = pager
        self._portal = portal

    def pages(self) -> Iterator[Page[T]]:
        """Every page in order, as [AsyncPager.pages][pms_connect.pagination.AsyncPager.pages]; leaving the
        loop early closes the pages fetched ahead."""
        pages = self._pager.pages()
        try:
            while True:
                try:
                    yield self._portal.call(pages.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(pages.aclose)

    def __iter__(self) -> Iterator[T]:
        """``for item in pager``: every item, page by page."""
        # One hop into the loop per page, not per item.
        for page in self.pages():
            yield from page.items

    def all(self) -> list[T]:
        """Every item in one list (one call into the loop for the whole list)."""
        return self._portal.call(self._pager.all)

    def first(self) -> T | None:
        """The first item, or None; fetches one page."""
        return self._portal.call(self._pager.first)


class _Proxy:
    """Proxies an object that lives in the portal's loop; attributes are wrapped on the way out."""

    def __init__(self, target: object, portal: BlockingPortal) -> None:
        self._target = target
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _wrap(getattr(self._target, name), self._portal)

    def __repr__(self) -> str:
        return f"blocking({self._target!r})"


def _wrap(value: Any, portal: BlockingPortal) -> Any:
    if isinstance(value, AsyncPager):
        return SyncPager(value, portal)
    if inspect.iscoroutine(value):
        coroutine = value

        async def run() -> Any:
            return await coroutine

        return _wrap(portal.call(run), portal)
    if isinstance(value, _PLAIN) or value is None or isinstance(value, list | tuple | dict | frozenset | set):
        return value
    if callable(value):
        return _blocking_callable(value, portal)
    return _Proxy(value, portal)


def _blocking_callable(function: Callable[..., Any], portal: BlockingPortal) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(function):
            return _wrap(portal.call(functools.partial(function, *args, **kwargs)), portal)
        return _wrap(function(*args, **kwargs), portal)

    return call


class BlockingProvider(_Proxy):
    """A provider driven synchronously. Close it (or use ``with``) to close the provider and stop the loop."""

    def __init__(self, provider: object, portal: BlockingPortal, stack: contextlib.ExitStack) -> None:
        super().__init__(provider, portal)
        self._stack = stack
        self._closed = False

    @property
    def provider(self) -> Any:
        """The async provider underneath (use it only from inside the portal's loop)."""
        return self._target

    def close(self) -> None:
        """Close the provider and stop the loop's thread; without it the thread outlives the script's work.
        Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._target, "aclose", None)
            if aclose is not None:
                self._portal.call(aclose)
        finally:
            self._stack.close()

    def __enter__(self) -> BlockingProvider:
        """``with connect(...) as pms``: the provider, closed on leaving the block."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """[close][pms_connect.blocking.BlockingProvider.close]."""
        self.close()


def connect(provider: object) -> BlockingProvider:
    """Drive ``provider`` (any async [PmsProvider][pms_connect.protocol.PmsProvider]) from synchronous code."""
    stack = contextlib.ExitStack()
    portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
    return BlockingProvider(provider, portal, stack)
