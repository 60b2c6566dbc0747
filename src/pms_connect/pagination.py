"""``AsyncPager``: every item of a paginated list, page by page, fetched ahead within a concurrency bound.

A pager is lazy: nothing is requested until it is iterated or awaited. When the first page tells the total
count, the remaining pages are fetched concurrently (``concurrency`` at a time, each still passing the
rate limiter) and yielded in order; otherwise pages are fetched one after another until a short page.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pms_connect.validation import check_count

__all__ = ["AsyncPager", "Page"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, as the PMS answered it."""

    items: Sequence[T]
    index: int
    """The page's position, from 0."""
    page_size: int
    """The page size the PMS applied (which may be smaller than the one asked for)."""
    total_count: int | None = None
    """The number of items of the whole list, when the PMS tells it."""
    more: bool | None = None
    """Whether pages follow, when the source knows better than the item count (e.g. filtered pages)."""

    def __post_init__(self) -> None:
        check_count(self.index, "index")
        check_count(self.page_size, "page_size", minimum=1)
        if self.total_count is not None:
            check_count(self.total_count, "total_count")

    @property
    def page_count(self) -> int | None:
        """How many pages the list has, when ``total_count`` is known: what lets a pager fetch ahead."""
        if self.total_count is None:
            return None
        return max(1, math.ceil(self.total_count / self.page_size))

    @property
    def has_next(self) -> bool:
        """Whether another page follows: from ``more``, else the total count, else a full page."""
        if self.more is not None:
            return self.more
        if self.total_count is not None:
            return (self.index + 1) * self.page_size < self.total_count
        return len(self.items) >= self.page_size and len(self.items) > 0


FetchPage = Callable[[int], Awaitable[Page[T]]]


class AsyncPager(Generic[T]):
    """Async-iterable over every item; ``await pager`` gives the first page, ``await pager.all()`` a list."""

    def __init__(self, fetch: FetchPage[T], *, concurrency: int = 4) -> None:
        check_count(concurrency, "concurrency", minimum=1)
        self._fetch = fetch
        self._concurrency = concurrency

    @classmethod
    def deferred(cls, make: Callable[[], Awaitable[AsyncPager[T]]], *, concurrency: int = 4) -> AsyncPager[T]:
        """A pager whose parameters need an await first (e.g. a lookup); ``make`` runs once, lazily."""
        made: list[AsyncPager[T]] = []

        async def fetch(index: int) -> Page[T]:
            if not made:
                made.append(await make())
            return await made[0].fetch_page(index)

        return cls(fetch, concurrency=concurrency)

    async def fetch_page(self, index: int) -> Page[T]:
        """One page by its index (0-based)."""
        return await self._fetch(index)

    def __await__(self) -> Generator[object, None, Page[T]]:
        return self._fetch(0).__await__()

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        """Every page in order, for code that needs page boundaries or counts (a progress bar, a sync
        checkpoint); close it early with ``contextlib.aclosing`` to cancel the pages fetched ahead."""
        first = await self._fetch(0)
        yield first
        if not first.has_next:
            return
        if first.page_count is None:
            page = first
            while page.has_next:
                page = await self._fetch(page.index + 1)
                yield page
            return
        async with contextlib.aclosing(self._fetch_ahead(range(1, first.page_count))) as ahead:
            async for page in ahead:
                yield page

    async def _fetch_ahead(self, indexes: range) -> AsyncGenerator[Page[T], None]:
        pending: list[asyncio.Task[Page[T]]] = []
        upcoming = iter(indexes)
        try:
            for index in upcoming:
                pending.append(asyncio.ensure_future(self._fetch(index)))
                if len(pending) >= self._concurrency:
                    break
            while pending:
                page = await pending.pop(0)
                next_index = next(upcoming, None)
                if next_index is not None:
                    pending.append(asyncio.ensure_future(self._fetch(next_index)))
                yield page
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def __aiter__(self) -> AsyncIterator[T]:
        """``async for item in pager``: every item, page by page, without holding the whole list."""
        # aclosing: a consumer that stops early cancels the pages fetched ahead now, not at garbage collection.
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    yield item

    async def all(self) -> list[T]:
        """Every item in one list: convenient for short lists (providers, chairs); iterate long ones."""
        # Page by page, not item by item: a step of an async generator per row cost more than the row's
        # mapping's own dict (20,000 rows: 20,000 resumptions of two generators).
        items: list[T] = []
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                items.extend(page.items)
        return items

    async def first(self) -> T | None:
        """The first item, or None; fetches one page."""
        page = await self._fetch(0)
        return page.items[0] if page.items else None
