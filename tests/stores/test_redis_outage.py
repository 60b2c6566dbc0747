"""Redis stopped and restarted under a running provider: loud typed errors, nothing sent without the store,
no double booking after it returns, and recovery with nothing to do.

Reads stop too while Redis is away: the rate budget lives in Redis, and a read that went on without it could
spend the practice's budget twice (every worker would keep its own count). ``StoreError`` says so.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from pms_connect import BookingRequest, SlotUnavailableError, StoreError, WritebackState
from pms_connect.sikka import SikkaProvider
from pms_connect.stores import RedisStore
from pms_connect.testing import FakeClock, SikkaSandbox

from ..redis_server import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test alone (it is stopped and started again), persisting to an append-only file."""
    redis = RedisServer(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def weekday_after(start: date, days: int) -> date:
    day = start + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def booking(pms: SikkaProvider, patient_id: str, start: datetime) -> BookingRequest:
    return BookingRequest(
        patient_id=patient_id, provider_id="DMD1", start=start, duration=timedelta(minutes=30), reason="Cleaning"
    )


async def test_redis_away_and_back_raises_typed_errors_sends_nothing_and_recovers(server: RedisServer) -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=11, clock=clock)
    store = RedisStore(server.url, prefix=f"outage{secrets.token_hex(4)}", lock_timeout=5)
    pms = sandbox.provider(store=store)
    async with pms:
        who = [p.id for p in (await pms.patients.list()).items[:3]]
        day = weekday_after(pms.today(), 5)
        held, other = (datetime.combine(day, time(hour), tzinfo=pms.timezone) for hour in (6, 8))
        first = await pms.appointments.book(booking(pms, who[0], held))
        assert first.acknowledged

        server.stop()
        sent = len(sandbox.requests)
        with pytest.raises(StoreError) as refused:
            await pms.appointments.book(booking(pms, who[1], other))
        with pytest.raises(StoreError):
            await pms.patients.get(who[1])
        assert len(sandbox.requests) == sent, "nothing reached the PMS without the store"
        assert str(refused.value).startswith("Redis could not"), "it says what failed"

        server.start()  # the same port and directory: the append-only file brings the holds back
        with pytest.raises(SlotUnavailableError):
            await pms.appointments.book(booking(pms, who[2], held))  # the first booking still holds it
        second = await pms.appointments.book(booking(pms, who[1], other))  # the refused one, now that it works
        results = [await pms.writebacks.wait(h, timeout=600) for h in (first, second)]

    await store.aclose()
    assert [r.status for r in results] == [WritebackState.WRITTEN] * 2
    booked = [r for r in sandbox.requests if (r.method, r.path) == ("POST", "/v4/appointment")]
    assert len(booked) == 2, "one request per booking: none lost, none twice"
