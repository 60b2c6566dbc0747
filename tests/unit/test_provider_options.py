"""SikkaProvider's options come grouped, are checked once, and conflicting ones raise instead of one being
silently dropped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka import SikkaCredentials, SikkaProvider, SikkaWriteOptions
from pms_connect.stores import MemoryStore
from pms_connect.testing import FakeClock
from pms_connect.writeback import PollSchedule, WritebackPoller

CREDENTIALS = SikkaCredentials(app_id="a", app_key="k", office_id="D1", secret_key="s", practice_id="1")


def _provider(**options: Any) -> SikkaProvider:
    return SikkaProvider(CREDENTIALS, timezone="America/Chicago", clock=FakeClock(), **options)


async def test_write_options_are_grouped_and_checked() -> None:
    options = SikkaWriteOptions(check_spu=True, pms_fields={"staff": "STF1"}, status_values={"cancel": "Broken"})
    pms = _provider(writes=options)
    assert pms.write_options is options
    assert dict(pms.write_options.pms_fields) == {"staff": "STF1"}
    assert _provider().write_options == SikkaWriteOptions()
    for bad in (
        {"reconcile_window": timedelta(0)},
        {"status_values": {"reschedule": "Moved"}},
        {"pms_fields": {" staff": "STF1"}},
        {"pms_fields": {"staff": "x" * 101}},
        {"check_spu": "yes"},
    ):
        with pytest.raises(InvalidArgumentError):
            SikkaWriteOptions(**bad)
    await pms.aclose()


async def test_options_of_the_wrong_kind_are_refused() -> None:
    for bad in ({"writes": {"check_spu": True}}, {"poller": timedelta(seconds=5)}, {"page_size": 0}):
        with pytest.raises(InvalidArgumentError):
            _provider(**bad)


async def test_a_timeout_or_a_transport_beside_an_http_client_is_an_error_not_dropped() -> None:
    async with httpx.AsyncClient() as client:
        for conflicting in (
            {"timeout": 5.0},
            {"timeout": httpx.Timeout(5.0)},
            {"transport": httpx.MockTransport(lambda r: httpx.Response(204))},
        ):
            with pytest.raises(InvalidArgumentError):
                _provider(http_client=client, **conflicting)
        pms = _provider(http_client=client)
        await pms.aclose()
        assert not client.is_closed  # the caller's client is the caller's


async def test_a_shared_rate_limiter_is_the_rate_limit() -> None:
    shared = RateLimiter(RateLimit(requests=50, per_seconds=60), clock=FakeClock())
    first, second = _provider(rate_limit=shared), _provider(rate_limit=shared)
    assert first.client.pipeline.limiter is shared is second.client.pipeline.limiter
    await first.aclose()
    await second.aclose()


async def test_one_poller_is_shared_or_a_schedule_shapes_the_providers_own() -> None:
    store = MemoryStore()
    shared = WritebackPoller(journal=store.journal, clock=FakeClock())
    first, second = _provider(store=store, poller=shared), _provider(store=store, poller=shared)
    assert first.writebacks.poller is shared is second.writebacks.poller
    with pytest.raises(InvalidArgumentError):
        _provider(store=MemoryStore(), poller=shared)  # its journal is another store's
    own = _provider(poller=PollSchedule(min_interval=timedelta(seconds=10)))
    assert own.writebacks.poller is not shared
    for pms in (first, second, own):
        await pms.aclose()
