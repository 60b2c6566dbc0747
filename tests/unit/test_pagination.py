"""AsyncPager and Page on their own: ordering, bounded fetch-ahead, early exit, errors."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from pms_connect.pagination import AsyncPager, Page


class Source:
    """Pages of ``size`` over ``total`` integers. Records fetches; pages in ``hold`` wait for ``release``."""

    def __init__(self, total: int, size: int, *, known_total: bool = True) -> None:
        self.total = total
        self.size = size
        self.known_total = known_total
        self.fetched: list[int] = []
        self.completed: list[int] = []
        self.hold: set[int] = set()
        self.fail: set[int] = set()
        self.release = asyncio.Event()
        self.in_flight = 0
        self.peak = 0

    async def fetch(self, index: int) -> Page[int]:
        self.fetched.append(index)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0)
            if index in self.hold:
                await self.release.wait()
            if index in self.fail:
                raise RuntimeError(f"page {index} failed")
            items = list(range(index * self.size, min(self.total, (index + 1) * self.size)))
            self.completed.append(index)
            return Page(
                items=items,
                index=index,
                page_size=self.size,
                total_count=self.total if self.known_total else None,
            )
        finally:
            self.in_flight -= 1


async def settle(condition, turns: int = 200) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)


async def test_all_yields_every_item_in_order():
    source = Source(23, 5)

    assert await AsyncPager(source.fetch).all() == list(range(23))
    assert sorted(source.fetched) == [0, 1, 2, 3, 4]


async def test_fetch_ahead_never_exceeds_the_concurrency_bound():
    source = Source(100, 5)

    await AsyncPager(source.fetch, concurrency=3).all()

    assert source.peak == 3


async def test_unknown_total_fetches_sequentially_until_a_short_page():
    source = Source(12, 5, known_total=False)

    assert await AsyncPager(source.fetch).all() == list(range(12))
    assert source.fetched == [0, 1, 2]
    assert source.peak == 1


async def test_awaiting_the_pager_fetches_the_first_page_only():
    source = Source(23, 5)

    page = await AsyncPager(source.fetch)

    assert (list(page.items), page.index) == ([0, 1, 2, 3, 4], 0)
    assert source.fetched == [0]


async def test_first_fetches_one_page():
    source = Source(23, 5)

    assert await AsyncPager(source.fetch).first() == 0
    assert source.fetched == [0]


async def test_first_of_an_empty_list_is_none():
    source = Source(0, 5)

    assert await AsyncPager(source.fetch).first() is None


async def test_breaking_out_of_iteration_cancels_outstanding_fetches():
    source = Source(50, 1)
    source.hold = set(range(2, 50))
    seen = []

    async for item in AsyncPager(source.fetch, concurrency=4):
        seen.append(item)
        if len(seen) == 2:
            break
    await settle(lambda: source.in_flight == 0)
    source.release.set()
    await settle(lambda: False, turns=20)

    assert seen == [0, 1]
    assert source.in_flight == 0
    assert source.completed == [0, 1]
    assert max(source.fetched) <= 5


async def test_closing_pages_early_cancels_outstanding_fetches_at_once():
    source = Source(50, 1)
    source.hold = set(range(2, 50))

    async with contextlib.aclosing(AsyncPager(source.fetch, concurrency=3).pages()) as pages:
        async for page in pages:
            if page.index == 1:
                break

    assert source.in_flight == 0


async def test_a_failing_page_raises_and_cancels_the_pages_fetched_ahead():
    source = Source(50, 1)
    source.fail = {1}
    source.hold = set(range(2, 50))

    with pytest.raises(RuntimeError, match="page 1 failed"):
        await AsyncPager(source.fetch, concurrency=4).all()
    await settle(lambda: source.in_flight == 0)
    source.release.set()
    await settle(lambda: False, turns=20)

    assert source.in_flight == 0
    assert source.completed == [0]


async def test_deferred_pager_runs_its_setup_once_lazily():
    source = Source(12, 5)
    made = 0

    async def make() -> AsyncPager[int]:
        nonlocal made
        made += 1
        return AsyncPager(source.fetch)

    pager = AsyncPager.deferred(make)
    assert made == 0

    assert await pager.all() == list(range(12))
    assert made == 1


def test_concurrency_below_one_is_refused():
    with pytest.raises(ValueError, match="concurrency"):
        AsyncPager(Source(1, 1).fetch, concurrency=0)


@pytest.mark.parametrize(
    ("items", "index", "size", "total", "more", "page_count", "has_next"),
    [
        ([1, 2], 0, 2, 5, None, 3, True),
        ([5], 2, 2, 5, None, 3, False),
        ([1, 2], 0, 2, 2, None, 1, False),
        ([], 0, 50, 0, None, 1, False),
        ([1, 2], 0, 2, None, None, None, True),
        ([1], 0, 2, None, None, None, False),
        ([], 0, 2, None, None, None, False),
        ([1], 0, 2, None, True, None, True),
        ([1, 2], 0, 2, 10, False, 5, False),
    ],
)
def test_page_count_and_has_next(items, index, size, total, more, page_count, has_next):
    page = Page(items=items, index=index, page_size=size, total_count=total, more=more)

    assert (page.page_count, page.has_next) == (page_count, has_next)
