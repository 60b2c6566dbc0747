"""Sikka pagination on the wire: ``offset`` is a page index, pages run ahead concurrently but arrive in order."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pms_connect.errors import PmsStatusError
from pms_connect.pagination import Page


def patient(n: int) -> dict[str, str]:
    return {
        "patient_id": str(n),
        "firstname": f"F{n}",
        "lastname": f"L{n}",
        "practice_id": "1",
        "status": "Active",
    }


def offsets(route) -> list[int]:
    return [int(call.request.url.params["offset"]) for call in route.calls]


async def test_offset_is_a_page_index_not_a_row_offset(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 6)]
    route = sikka.get("patients").mock(side_effect=sikka.paged(rows, api="patients"))

    page = await pms.patients.list().fetch_page(1)

    assert dict(route.calls.last.request.url.params) == {
        "practice_id": "1",
        "fields": "homephone,workphone",
        "offset": "1",
        "limit": "2",
    }
    assert [p.id for p in page.items] == ["3", "4"]


async def test_known_total_count_fetches_every_page_once_with_page_indexes(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 8)]
    route = sikka.get("patients").mock(side_effect=sikka.paged(rows, api="patients"))

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == ["1", "2", "3", "4", "5", "6", "7"]
    assert sorted(offsets(route)) == [0, 1, 2, 3]
    assert {call.request.url.params["limit"] for call in route.calls} == {"2"}


async def test_known_total_count_fetches_remaining_pages_concurrently_but_yields_them_in_order(
    sikka, make_provider
):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 8)]  # 4 pages: 0 alone, then 1..3 ahead
    serve = sikka.paged(rows, api="patients")
    asked = {i: asyncio.Event() for i in (1, 2, 3)}
    answered = {i: asyncio.Event() for i in (1, 2, 3)}
    in_flight = 0
    peak = 0
    completion: list[int] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        index = int(request.url.params["offset"])
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            if index:
                asked[index].set()
                # Nobody answers before pages 1-3 are all asked for; then page 3 answers first, page 1 last.
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in asked.values())), 5)
                if index < 3:
                    await asyncio.wait_for(answered[index + 1].wait(), 5)
                answered[index].set()
            completion.append(index)
            return serve(request)
        finally:
            in_flight -= 1

    sikka.get("patients").mock(side_effect=answer)

    patients = await pms.patients.list().all()

    assert completion == [0, 3, 2, 1]
    assert peak == 3
    assert [p.id for p in patients] == ["1", "2", "3", "4", "5", "6", "7"]


async def test_concurrent_page_fetches_are_bounded_by_the_pager_concurrency(sikka, make_provider):
    pms = make_provider(page_size=1)
    rows = [patient(n) for n in range(1, 13)]
    serve = sikka.paged(rows, api="patients")
    in_flight = 0
    peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        in_flight -= 1
        return serve(request)

    sikka.get("patients").mock(side_effect=answer)

    patients = await pms.patients.list().all()

    assert len(patients) == 12
    assert peak == 4


async def test_204_on_the_first_page_is_an_empty_list_after_one_request(sikka, provider):
    route = sikka.get("patients").mock(return_value=httpx.Response(204))

    assert await provider.patients.list().all() == []
    assert route.call_count == 1


async def test_204_first_page_awaits_to_an_empty_page_with_no_next(sikka, provider):
    sikka.get("patients").mock(return_value=httpx.Response(204))

    page = await provider.patients.list()

    assert (list(page.items), page.total_count, page.has_next) == ([], 0, False)


async def test_missing_total_count_fetches_pages_one_at_a_time_until_a_short_page(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 6)]
    serve = sikka.paged(rows, api="patients", total_count=False)
    in_flight = 0
    peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        in_flight -= 1
        return serve(request)

    route = sikka.get("patients").mock(side_effect=answer)

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == ["1", "2", "3", "4", "5"]
    assert offsets(route) == [0, 1, 2]
    assert peak == 1


async def test_missing_total_count_stops_at_a_204_after_full_pages(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 5)]
    route = sikka.get("patients").mock(side_effect=sikka.paged(rows, api="patients", total_count=False))

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == ["1", "2", "3", "4"]
    assert offsets(route) == [0, 1, 2]


async def test_a_page_filtered_short_does_not_end_pagination_without_total_count(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [
        {"provider_id": "A", "status": "Active"},
        {"provider_id": "B", "status": "Inactive"},
        {"provider_id": "C", "status": "Inactive"},
        {"provider_id": "D", "status": "Active"},
        {"provider_id": "E", "status": "Active"},
    ]
    route = sikka.get("providers").mock(side_effect=sikka.paged(rows, api="providers", total_count=False))

    providers = await pms.providers.list(active_only=True).all()

    assert [p.id for p in providers] == ["A", "D", "E"]
    assert offsets(route) == [0, 1, 2]


async def test_awaiting_the_pager_gives_the_first_page_only(sikka, make_provider):
    pms = make_provider(page_size=2)
    rows = [patient(n) for n in range(1, 6)]
    route = sikka.get("patients").mock(side_effect=sikka.paged(rows, api="patients"))

    page = await pms.patients.list()

    assert isinstance(page, Page)
    assert ([p.id for p in page.items], page.index, page.page_size, page.total_count) == (["1", "2"], 0, 2, 5)
    assert (page.page_count, page.has_next) == (3, True)
    assert route.call_count == 1


async def test_nothing_is_requested_until_the_pager_is_used(sikka, provider):
    route = sikka.get("patients").mock(return_value=httpx.Response(204))

    pager = provider.patients.list()

    assert route.call_count == 0
    assert sikka.grant_route.call_count == 0
    await pager.all()
    assert route.call_count == 1


async def test_all_collects_every_item_across_pages(sikka, make_provider):
    pms = make_provider(page_size=3)
    rows = [patient(n) for n in range(1, 11)]
    sikka.get("patients").mock(side_effect=sikka.paged(rows, api="patients"))

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == [str(n) for n in range(1, 11)]


async def test_breaking_early_cancels_outstanding_page_fetches(sikka, make_provider):
    pms = make_provider(page_size=1)
    rows = [patient(n) for n in range(1, 11)]  # 10 pages
    serve = sikka.paged(rows, api="patients")
    release = asyncio.Event()
    asked: list[int] = []
    answered: list[int] = []
    in_flight = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        index = int(request.url.params["offset"])
        asked.append(index)
        in_flight += 1
        try:
            if index >= 2:
                await release.wait()  # held back until the test lets go
            answered.append(index)
            return serve(request)
        finally:
            in_flight -= 1

    sikka.get("patients").mock(side_effect=answer)

    seen = []
    async for p in pms.patients.list():
        seen.append(p.id)
        if len(seen) == 2:
            break
    for _ in range(200):  # let the closed generators run their cleanup
        if in_flight == 0:
            break
        await asyncio.sleep(0)
    release.set()
    for _ in range(20):
        await asyncio.sleep(0)

    assert seen == ["1", "2"]
    assert in_flight == 0
    assert answered == [0, 1]
    assert max(asked) <= 5


def capped(sikka, rows: list[dict[str, str]], *, api: str, cap: int, links_only: bool = False):
    """Sikka under a licence that caps the page size: a larger ``limit`` is answered with ``cap`` rows, and
    the envelope's ``limit`` says so; offsets count pages of the size in force."""

    def answer(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = min(int(request.url.params["limit"]), cap)
        chunk = rows[offset * limit : (offset + 1) * limit]
        if not chunk:
            return httpx.Response(204)
        total = None if links_only else len(rows)
        page = sikka.page(chunk, api=api, offset=offset, limit=limit, total_count=total)
        if links_only:  # no total_count: only the pagination links tell whether a page follows
            body = page.json()
            more = (offset + 1) * limit < len(rows)
            body["pagination"]["next"] = f"https://api.sikkasoft.com/v4/{api}?offset={offset + 1}" if more else ""
            return httpx.Response(200, json=body)
        return page

    return answer


@pytest.mark.parametrize("cap", [1, 10, 4999])
@pytest.mark.parametrize("links_only", [False, True], ids=["total_count", "pagination links"])
async def test_a_licence_cap_on_the_page_size_is_followed(sikka, make_provider, cap, links_only):
    """Asked for 5,000 a page, Sikka answers ``cap`` (the doc: "as per Sikka API license"): every row comes
    back once, in order, paging by the size the answer states."""
    pms = make_provider()
    total = 25 if cap < 25 else cap + 3
    rows = [patient(n) for n in range(1, total + 1)]
    route = sikka.get("patients").mock(
        side_effect=capped(sikka, rows, api="patients", cap=cap, links_only=links_only)
    )

    patients = await pms.patients.list().all()

    assert [p.id for p in patients] == [r["patient_id"] for r in rows]
    assert route.calls[0].request.url.params["limit"] == "5000"
    later = {call.request.url.params["limit"] for call in route.calls[1:]}
    assert later == {str(cap)}
    assert sorted(offsets(route))[: -(-total // cap)] == list(range(-(-total // cap)))


async def test_a_page_size_that_shrinks_mid_list_is_an_error_not_lost_rows(sikka, make_provider):
    pms = make_provider(page_size=10)
    rows = [patient(n) for n in range(1, 26)]
    serve = sikka.paged(rows, api="patients")

    def shrinking(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "0":
            return serve(request)
        return sikka.page(rows[10:15], api="patients", offset=1, limit=5, total_count=25)

    sikka.get("patients").mock(side_effect=shrinking)

    with pytest.raises(PmsStatusError, match="page size"):
        await pms.patients.list().all()
