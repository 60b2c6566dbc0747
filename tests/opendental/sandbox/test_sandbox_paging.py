"""Pages: at most 100 items remote, 1000 local or service (Enterprise: 1000 and 10,000), ``Limit``/``Offset``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from pms_connect.opendental.sandbox.records import DbPayment
from pms_connect.testing import FakeClock, OpenDentalSandbox

from .conftest import Od


def add_payments(sandbox: OpenDentalSandbox, n: int) -> int:
    day = sandbox.today
    for number in range(n):
        sandbox.data.payments[900000 + number] = DbPayment(
            pay_num=900000 + number,
            pay_type=69,
            pay_date=day,
            amount=Decimal(10),
            pat_num=1,
            date_entry=day,
            edited=dt.datetime.combine(day, dt.time(9)),
        )
    return len(sandbox.data.payments)


@pytest.mark.parametrize(("mode", "cap"), [("remote", 100), ("service", 1000), ("local", 1000)])
async def test_the_page_cap_per_mode(clock: FakeClock, mode: str, cap: int) -> None:
    sandbox = OpenDentalSandbox(clock=clock, mode=mode, throttle=False)
    total = add_payments(sandbox, 1100)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        od = Od(sandbox, client, sandbox.credentials)
        assert len(await od.get("/payments")) == cap
        assert len(await od.get("/payments", Limit=5000)) == cap  # a bigger Limit is cut to the cap
        assert len(await od.get("/payments", Limit=7)) == 7
        last = await od.get("/payments", Offset=total - 3)
        assert len(last) == 3
        assert await od.get("/payments", Offset=total) == []


async def test_enterprise_raises_the_cap(clock: FakeClock) -> None:
    sandbox = OpenDentalSandbox(clock=clock, mode="remote", throttle=False)
    add_payments(sandbox, 1100)
    creds = sandbox.add_key("enterprise", ["ReadAll", "Enterprise"])
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        assert len(await Od(sandbox, client, creds).get("/payments")) == 1000


async def test_offsets_walk_every_item_once(od: Od) -> None:
    everything = await od.get("/appointments")
    assert 100 < len(everything) < 1000
    seen: list[int] = []
    offset = 0
    while True:
        page = await od.get("/appointments", Offset=offset, Limit=100)
        seen += [row["AptNum"] for row in page]
        if len(page) < 100:
            break
        offset += 100
    assert seen == [row["AptNum"] for row in everything]
    assert seen == sorted(seen)  # primary-key order


@pytest.mark.parametrize(
    ("params", "says"), [({"Limit": 0}, "Limit"), ({"Offset": -1}, "Offset"), ({"Limit": "x"}, "Limit")]
)
async def test_bad_paging_parameters_are_400(od: Od, params: dict[str, object], says: str) -> None:
    assert says in await od.refused("GET", "/appointments", 400, **params)


async def test_parameter_names_match_case_insensitively(od: Od) -> None:
    assert len(await od.get("/appointments", limit=3)) == 3
    first = await od.get("/appointments", Limit=1)
    assert (await od.get("/appointments", patnum=first[0]["PatNum"]))[0]["PatNum"] == first[0]["PatNum"]
