"""The schedules cache serves a window from a fresh, loaded window that covers it: a booking's day inside
the fortnight a slot search just read costs no request."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pms_connect.opendental._slots import ScheduleCache
from pms_connect.testing import FakeClock

FORTNIGHT = (date(2026, 12, 2), date(2026, 12, 15))


async def test_a_covered_window_is_served_from_the_covering_one_while_fresh() -> None:
    clock = FakeClock()
    cache = ScheduleCache(clock, timedelta(minutes=15))
    loads: list[tuple[date, date]] = []

    def loader(key: tuple[date, date]) -> Any:
        async def load() -> Any:
            loads.append(key)
            return object()

        return load

    wide = await cache.get(FORTNIGHT, loader(FORTNIGHT))
    day = (date(2026, 12, 9), date(2026, 12, 9))
    assert await cache.get(day, loader(day)) is wide
    beyond = (date(2026, 12, 15), date(2026, 12, 16))
    assert await cache.get(beyond, loader(beyond)) is not wide  # not covered: loaded
    clock.advance(timedelta(minutes=15))
    assert await cache.get(day, loader(day)) is not wide  # stale: loaded again
    assert loads == [FORTNIGHT, beyond, day]
