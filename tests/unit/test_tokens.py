"""TokenManager on its own: single flight across tasks and threads, refresh timing, refresh fallback."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from pydantic import SecretStr

from pms_connect.errors import AuthenticationError, PmsConnectionError
from pms_connect.testing.clock import FakeClock
from pms_connect.tokens import InMemoryTokenStore, Token, TokenManager


def make_token(clock: FakeClock, access: str, *, refresh: str | None = "r", hours: float = 24) -> Token:
    now = clock.now()
    return Token(
        access=SecretStr(access),
        refresh=SecretStr(refresh) if refresh else None,
        issued_at=now,
        expires_at=now + timedelta(hours=hours),
    )


class Grants:
    """Counting grant and refresh callables."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.full = 0
        self.refreshes: list[str] = []
        self.refuse_refresh = False
        self._lock = threading.Lock()

    async def grant(self) -> Token:
        with self._lock:
            self.full += 1
            n = self.full + len(self.refreshes)
        return make_token(self.clock, f"key-{n}", refresh=f"refresh-{n}")

    async def refresh(self, refresh_key: str) -> Token:
        self.refreshes.append(refresh_key)
        if self.refuse_refresh:
            raise AuthenticationError("refused", code="API2003", status_code=401)
        n = self.full + len(self.refreshes)
        return make_token(self.clock, f"key-{n}", refresh=f"refresh-{n}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def grants(clock) -> Grants:
    return Grants(clock)


@pytest.fixture
def manager(grants, clock) -> TokenManager:
    return TokenManager(key="sikka:app:office", grant=grants.grant, refresh=grants.refresh, clock=clock)


# -- Token ---------------------------------------------------------------------------------------------------


def test_refresh_is_due_skew_before_expiry(clock):
    token = make_token(clock, "k", hours=24)

    assert token.refresh_due(timedelta(hours=1)) == token.expires_at - timedelta(hours=1)


def test_refresh_is_never_due_before_half_the_lifetime(clock):
    token = make_token(clock, "k", hours=1)

    assert token.refresh_due(timedelta(hours=1)) == token.issued_at + timedelta(minutes=30)


def test_token_storage_round_trips_with_secrets(clock):
    token = make_token(clock, "k", refresh="r")

    assert Token.from_storage(token.to_storage()) == token


# -- TokenManager ----------------------------------------------------------------------------------------------


async def test_first_get_performs_one_full_grant(manager, grants):
    token = await manager.get()

    assert token.access.get_secret_value() == "key-1"
    assert (grants.full, grants.refreshes, manager.refresh_count) == (1, [], 1)


async def test_fresh_key_is_reused_without_a_grant(manager, grants, clock):
    await manager.get()
    clock.advance(timedelta(hours=22, minutes=59))

    token = await manager.get()

    assert token.access.get_secret_value() == "key-1"
    assert grants.full == 1


async def test_key_due_for_refresh_uses_the_refresh_grant(manager, grants, clock):
    await manager.get()
    clock.advance(timedelta(hours=23, seconds=1))

    token = await manager.get()

    assert token.access.get_secret_value() == "key-2"
    assert (grants.full, grants.refreshes) == (1, ["refresh-1"])


async def test_refused_refresh_falls_back_to_a_full_grant(manager, grants, clock):
    await manager.get()
    clock.advance(timedelta(hours=23, seconds=1))
    grants.refuse_refresh = True

    token = await manager.get()

    assert (grants.full, grants.refreshes) == (2, ["refresh-1"])
    assert token.access.get_secret_value() == "key-3"
    assert manager.refresh_count == 3


async def test_invalidate_replaces_the_refused_key_once(manager, grants):
    stale = await manager.get()

    first = await manager.invalidate(stale)
    second = await manager.invalidate(stale)  # a late report of the same stale key

    assert first.access.get_secret_value() == second.access.get_secret_value() == "key-2"
    assert grants.refreshes == ["refresh-1"]


async def test_a_second_manager_on_the_same_store_reuses_the_stored_key(grants, clock):
    store = InMemoryTokenStore()
    one = TokenManager(key="k", grant=grants.grant, refresh=grants.refresh, store=store, clock=clock)
    two = TokenManager(key="k", grant=grants.grant, refresh=grants.refresh, store=store, clock=clock)

    await one.get()
    token = await two.get()

    assert token.access.get_secret_value() == "key-1"
    assert grants.full == 1


async def test_100_concurrent_gets_share_one_grant(grants, clock):
    release = asyncio.Event()

    async def slow_grant() -> Token:
        await release.wait()
        return await grants.grant()

    manager = TokenManager(key="k", grant=slow_grant, refresh=grants.refresh, clock=clock)
    tasks = [asyncio.ensure_future(manager.get()) for _ in range(100)]
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()

    tokens = await asyncio.gather(*tasks)

    assert grants.full == 1
    assert {t.access.get_secret_value() for t in tokens} == {"key-1"}


async def test_a_failed_grant_fails_every_waiter_once_and_the_next_get_retries(grants, clock):
    calls = 0

    async def failing_grant() -> Token:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise PmsConnectionError("down")
        return make_token(clock, "key-ok")

    manager = TokenManager(key="k", grant=failing_grant, refresh=grants.refresh, clock=clock)

    results = await asyncio.gather(*(manager.get() for _ in range(10)), return_exceptions=True)
    token = await manager.get()

    assert all(isinstance(r, PmsConnectionError) for r in results)
    assert calls == 2
    assert token.access.get_secret_value() == "key-ok"


async def test_cancelling_one_waiter_does_not_break_the_shared_refresh(grants, clock):
    release = asyncio.Event()

    async def slow_grant() -> Token:
        await release.wait()
        return make_token(clock, "key-1")

    manager = TokenManager(key="k", grant=slow_grant, refresh=grants.refresh, clock=clock)
    leader = asyncio.ensure_future(manager.get())
    waiters = [asyncio.ensure_future(manager.get()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)

    waiters[0].cancel()  # e.g. a caller's timeout, or a pager cancelling its fetch-ahead
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()

    token = await leader
    others = await asyncio.gather(*waiters[1:])
    assert token.access.get_secret_value() == "key-1"
    assert [t.access.get_secret_value() for t in others] == ["key-1", "key-1"]


def test_threads_each_with_their_own_event_loop_share_exactly_one_grant(clock):
    threads_n = 24
    grant_calls = 0
    counter_lock = threading.Lock()
    arrived = 0
    all_arrived = threading.Event()
    start = threading.Barrier(threads_n)

    async def grant() -> Token:
        nonlocal grant_calls
        with counter_lock:
            grant_calls += 1
        # Hold the grant open until every thread has asked for a key, so that they all pile up on it.
        await asyncio.to_thread(all_arrived.wait, 5)
        return make_token(clock, "key-1")

    async def refresh(_: str) -> Token:
        raise AssertionError("no refresh expected")

    manager = TokenManager(key="k", grant=grant, refresh=refresh, clock=clock)
    results: list[str] = []
    errors: list[BaseException] = []

    async def one_call() -> str:
        nonlocal arrived
        with counter_lock:
            arrived += 1
            if arrived == threads_n:
                all_arrived.set()
        token = await manager.get()
        return token.access.get_secret_value()

    def worker() -> None:
        try:
            start.wait(5)
            results.append(asyncio.run(one_call()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert errors == []
    assert results == ["key-1"] * threads_n
    assert grant_calls == 1


def test_manager_repr_names_the_key_and_store_only(manager):
    assert repr(manager) == "TokenManager(key='sikka:app:office', store=InMemoryTokenStore(keys=0))"


def test_token_repr_hides_both_keys(clock):
    token = make_token(clock, "very-secret-access", refresh="very-secret-refresh")

    assert "very-secret" not in repr(token)
    assert "very-secret" not in str(token)
