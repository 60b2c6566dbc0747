"""SqliteTokenStore: persistence (plain and sealed), the cross-process refresh lock, TokenManager on top."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from pms_connect.errors import InvalidArgumentError
from pms_connect.errors import LockTimeoutError as TokenLockTimeoutError
from pms_connect.errors import StoreError as TokenStoreError
from pms_connect.stores import SqliteTokenStore
from pms_connect.stores._sqlite_locks import try_begin_immediate
from pms_connect.tokens import Token, TokenManager, TokenStore
from pms_connect.vault import CredentialVault

ACCESS_CANARY = "CANARY-access-4b1e0d"
REFRESH_CANARY = "CANARY-refresh-93ac51"
KEY_LINE = "k1:" + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # bytes 0..31
KEY = "sikka:app-1:D12345"


def make_token(
    access: str = ACCESS_CANARY, refresh: str | None = REFRESH_CANARY, *, age: timedelta = timedelta(0)
) -> Token:
    issued = datetime.now(timezone.utc) - age
    return Token(access=access, refresh=refresh, issued_at=issued, expires_at=issued + timedelta(days=1))


def expired_token(access: str = "access-0", refresh: str = "refresh-0") -> Token:
    return make_token(access, refresh, age=timedelta(days=2))


def vault() -> CredentialVault:
    return CredentialVault.from_string(KEY_LINE)


def raw_bytes(path: Path) -> bytes:
    """Every byte the store left on disk: the database and any journal or lock files beside it."""
    data = b""
    for file in sorted(path.parent.rglob("*")):
        if file.is_file():
            data += file.read_bytes()
    return data


# -- persistence -----------------------------------------------------------------------------------------


async def test_round_trip_without_a_vault_stores_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    token = make_token()
    await SqliteTokenStore(path).save(KEY, token)
    assert await SqliteTokenStore(path).load(KEY) == token
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (value,) = conn.execute("SELECT value FROM pms_connect_tokens WHERE key = ?", (KEY,)).fetchone()
    assert json.loads(value)["access"] == ACCESS_CANARY


async def test_round_trip_with_a_vault_leaves_no_secret_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    token = make_token()
    await SqliteTokenStore(path, vault()).save(KEY, token)
    loaded = await SqliteTokenStore(path, vault()).load(KEY)
    assert loaded == token
    assert loaded is not None
    assert loaded.access.get_secret_value() == ACCESS_CANARY
    on_disk = raw_bytes(path)
    assert b"pmsv1.k1." in on_disk
    assert ACCESS_CANARY.encode() not in on_disk
    assert REFRESH_CANARY.encode() not in on_disk


async def test_a_sealed_token_copied_to_another_key_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.db"
    store = SqliteTokenStore(path, vault())
    await store.save(KEY, make_token())
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO pms_connect_tokens (key, value, updated_at)"
            " SELECT 'sikka:app-1:OTHER', value, updated_at FROM pms_connect_tokens WHERE key = ?",
            (KEY,),
        )
    caplog.set_level(logging.DEBUG)
    assert await store.load("sikka:app-1:OTHER") is None
    assert "cannot be opened" in caplog.text
    assert ACCESS_CANARY not in caplog.text


@pytest.mark.parametrize(
    ("writer_vault", "reader_vault"),
    [
        pytest.param(True, False, id="sealed-read-plain"),
        pytest.param(False, True, id="plain-read-sealed"),
    ],
)
async def test_a_row_the_store_cannot_read_counts_as_absent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, writer_vault: bool, reader_vault: bool
) -> None:
    # A plain row is refused by a sealed store: someone with write access to the file cannot plant a key.
    path = tmp_path / "tokens.db"
    await SqliteTokenStore(path, vault() if writer_vault else None).save(KEY, make_token())
    caplog.set_level(logging.DEBUG)
    assert await SqliteTokenStore(path, vault() if reader_vault else None).load(KEY) is None
    assert ACCESS_CANARY not in caplog.text


async def test_a_missing_key_loads_as_none_and_clear_removes_a_token(tmp_path: Path) -> None:
    store = SqliteTokenStore(tmp_path / "tokens.db")
    assert await store.load(KEY) is None
    await store.save(KEY, make_token())
    await store.save("other", make_token("other-access"))
    await store.clear(KEY)
    assert await store.load(KEY) is None
    assert await store.load("other") is not None
    await store.clear("never-saved")


async def test_save_replaces_the_token_and_keeps_the_rotated_refresh_key(tmp_path: Path) -> None:
    store = SqliteTokenStore(tmp_path / "tokens.db", vault())
    await store.save(KEY, make_token("a1", "r1"))
    await store.save(KEY, make_token("a2", "r2"))
    loaded = await SqliteTokenStore(tmp_path / "tokens.db", vault()).load(KEY)
    assert loaded is not None
    assert loaded.refresh is not None
    assert (loaded.access.get_secret_value(), loaded.refresh.get_secret_value()) == ("a2", "r2")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
async def test_the_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    await SqliteTokenStore(path).save(KEY, make_token())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("path", ["", ":memory:", "file::memory:?cache=shared"])
def test_an_in_memory_database_is_refused(path: str) -> None:
    with pytest.raises(InvalidArgumentError, match="file path"):
        SqliteTokenStore(path)


async def test_a_file_that_is_not_a_database_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TokenStoreError, match="token database"):
        await SqliteTokenStore(path).load(KEY)


def test_the_store_satisfies_the_protocol_and_its_repr_is_safe(tmp_path: Path) -> None:
    store = SqliteTokenStore(tmp_path / "tokens.db", vault())
    assert isinstance(store, TokenStore)
    assert repr(store) == f"SqliteTokenStore(path={str(tmp_path / 'tokens.db')!r}, sealed=True)"


# -- TokenManager over the store ---------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def grant(self) -> Token:
        self.calls.append("grant")
        return make_token(f"granted-{len(self.calls)}", f"refresh-{len(self.calls)}")

    async def refresh(self, refresh_key: str) -> Token:
        self.calls.append(f"refresh {refresh_key}")
        return make_token(f"refreshed-{len(self.calls)}", f"refresh-{len(self.calls)}")


async def test_a_restarted_worker_reuses_the_stored_token_without_a_grant(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    first = Recorder()
    token = await TokenManager(
        key=KEY, grant=first.grant, refresh=first.refresh, store=SqliteTokenStore(path)
    ).get()
    assert first.calls == ["grant"]

    restarted = Recorder()
    manager = TokenManager(key=KEY, grant=restarted.grant, refresh=restarted.refresh, store=SqliteTokenStore(path))
    assert await manager.get() == token
    assert restarted.calls == []
    assert manager.refresh_count == 0


async def test_a_restarted_worker_refreshes_with_the_stored_rotated_refresh_key(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    await SqliteTokenStore(path, vault()).save(KEY, expired_token("old-access", "rotated-refresh-7"))
    recorder = Recorder()
    store = SqliteTokenStore(path, vault())
    token = await TokenManager(key=KEY, grant=recorder.grant, refresh=recorder.refresh, store=store).get()
    assert recorder.calls == ["refresh rotated-refresh-7"]
    assert await store.load(KEY) == token
    assert token.refresh is not None
    assert token.refresh.get_secret_value() == "refresh-1"


async def test_concurrent_tasks_share_one_refresh_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    await SqliteTokenStore(path).save(KEY, expired_token())
    recorder = Recorder()
    managers = [
        TokenManager(key=KEY, grant=recorder.grant, refresh=recorder.refresh, store=SqliteTokenStore(path))
        for _ in range(3)
    ]
    tokens = await asyncio.gather(*(m.get() for m in managers for _ in range(5)))
    assert recorder.calls == ["refresh refresh-0"]
    assert len({t.access.get_secret_value() for t in tokens}) == 1


# -- the lock, in one process -------------------------------------------------------------------------------


async def test_the_lock_excludes_a_second_holder_and_times_out_clearly(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    holder, waiter = SqliteTokenStore(path), SqliteTokenStore(path, lock_timeout=0.2)
    async with holder.lock(KEY):
        with pytest.raises(TokenLockTimeoutError, match=f"token lock for {KEY!r}"):
            async with waiter.lock(KEY):
                pytest.fail("two holders at once")
    async with waiter.lock(KEY):  # released on exit
        pass


async def test_the_lock_is_released_when_the_holder_raises(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    store = SqliteTokenStore(path, lock_timeout=0.2)
    with pytest.raises(RuntimeError):
        async with store.lock(KEY):
            raise RuntimeError("refresh failed")
    async with SqliteTokenStore(path, lock_timeout=0.2).lock(KEY):
        pass


async def test_the_lock_is_released_when_the_holder_is_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    entered = asyncio.Event()

    async def hold() -> None:
        async with SqliteTokenStore(path).lock(KEY):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with SqliteTokenStore(path, lock_timeout=0.2).lock(KEY):
        pass


async def test_locks_of_different_keys_are_independent(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    async with SqliteTokenStore(path).lock("practice-a"):
        async with SqliteTokenStore(path, lock_timeout=0.2).lock("practice-b"):
            pass
        assert SqliteTokenStore(path).lock_path("practice-a") != SqliteTokenStore(path).lock_path("practice-b")


async def test_data_can_be_read_and_written_while_the_lock_is_held(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    other = SqliteTokenStore(path, busy_timeout=0.5)
    async with SqliteTokenStore(path).lock(KEY):
        await other.save(KEY, make_token())
        assert await other.load(KEY) is not None


async def test_waiting_for_the_lock_leaves_the_event_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async with SqliteTokenStore(path).lock(KEY):
        task = asyncio.create_task(ticker())
        try:
            with pytest.raises(TokenLockTimeoutError):
                async with SqliteTokenStore(path, lock_timeout=0.3).lock(KEY):
                    pass
        finally:
            task.cancel()
    assert ticks > 50


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_timeouts_must_be_positive(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(InvalidArgumentError):
        SqliteTokenStore(tmp_path / "tokens.db", lock_timeout=timeout)


# -- the lock, across processes ------------------------------------------------------------------------------


@pytest.fixture
def importable_by_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned processes unpickle the worker functions by module name: put this module's root on the path
    that they inherit (pytest may have imported it as ``tests.test_token_sqlite`` without touching it)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[__name__.count(".")]))


def _hold_lock_until_killed(path: str, key: str, conn: Connection) -> None:
    async def main() -> None:
        async with SqliteTokenStore(path).lock(key):
            conn.send("held")
            await anyio.to_thread.run_sync(conn.recv)  # never answered: the parent kills this process

    asyncio.run(main())


@pytest.mark.usefixtures("importable_by_children")
async def test_a_lock_held_by_a_killed_process_is_released(tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.db")
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_hold_lock_until_killed, args=(path, KEY, child_end))
    child.start()
    try:
        assert await anyio.to_thread.run_sync(parent_end.poll, 20), "the child never took the lock"
        assert parent_end.recv() == "held"
        with pytest.raises(TokenLockTimeoutError):
            async with SqliteTokenStore(path, lock_timeout=0.2).lock(KEY):
                pytest.fail("the lock was taken while another process held it")
        child.kill()
        await anyio.to_thread.run_sync(child.join, 10)
        async with SqliteTokenStore(path, lock_timeout=5).lock(KEY):
            pass
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)


class _Gate:
    """Opens once every worker has committed to what it will do: it has either read the store, or found
    the lock taken. The refresh waits at the gate, so that if the lock let a second worker through, that
    worker has read the stale token before the refresh is saved, and refreshes too."""

    def __init__(self, arrived: Synchronized[int], everyone: Event, n: int) -> None:
        self._arrived, self._everyone, self._n = arrived, everyone, n
        self._done = False

    def arrive(self) -> None:
        if self._done:
            return
        self._done = True
        with self._arrived.get_lock():
            self._arrived.value += 1
            if self._arrived.value == self._n:
                self._everyone.set()

    def wait(self) -> bool:
        return self._everyone.wait(20)


class _ObservedStore(SqliteTokenStore):
    """The real store, reporting to the gate; ``real_lock=False`` (the control) takes no lock at all."""

    def __init__(self, path: str, gate: _Gate, *, real_lock: bool) -> None:
        super().__init__(path, CredentialVault.from_string(KEY_LINE), lock_timeout=20)
        self._gate, self._real_lock = gate, real_lock
        self.locks.try_lock = self._try_lock

    async def load(self, key: str) -> Token | None:
        token = await super().load(key)
        self._gate.arrive()
        return token

    def _try_lock(self, conn: sqlite3.Connection) -> bool:
        taken = try_begin_immediate(conn)
        if not taken:
            self._gate.arrive()
        return taken

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        if self._real_lock:
            async with super().lock(key):
                yield
        else:
            yield


def _record(log: str, line: str) -> None:
    with open(log, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def _refresh_worker(
    path: str,
    log: str,
    barrier: Barrier,
    arrived: Synchronized[int],
    everyone: Event,
    n: int,
    real_lock: bool,
    results: Any,
) -> None:
    pid = os.getpid()
    gate = _Gate(arrived, everyone, n)

    async def grant() -> Token:
        _record(log, f"grant {pid}")
        return make_token(f"granted-by-{pid}", f"refresh-by-{pid}")

    async def refresh(refresh_key: str) -> Token:
        assert await anyio.to_thread.run_sync(gate.wait), "not every worker reached the store"
        _record(log, f"refresh {pid} {refresh_key}")
        return make_token(f"refreshed-by-{pid}", f"refresh-by-{pid}")

    async def main() -> None:
        store = _ObservedStore(path, gate, real_lock=real_lock)
        manager = TokenManager(key=KEY, grant=grant, refresh=refresh, store=store)
        barrier.wait(30)
        token = await manager.get()
        results.put((pid, token.access.get_secret_value()))

    asyncio.run(main())


def _race(tmp_path: Path, n: int, *, real_lock: bool) -> tuple[list[str], list[str], Token | None]:
    path, log = str(tmp_path / "tokens.db"), str(tmp_path / "grants.log")
    asyncio.run(SqliteTokenStore(path, vault()).save(KEY, expired_token("access-0", "refresh-0")))
    Path(log).touch()
    ctx = multiprocessing.get_context("spawn")
    barrier, arrived, everyone, results = ctx.Barrier(n), ctx.Value("i", 0), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_refresh_worker, args=(path, log, barrier, arrived, everyone, n, real_lock, results))
        for _ in range(n)
    ]
    for worker in workers:
        worker.start()
    try:
        access_keys = [results.get(timeout=30)[1] for _ in workers]
        for worker in workers:
            worker.join(10)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join(10)
    stored = asyncio.run(SqliteTokenStore(path, vault()).load(KEY))
    return Path(log).read_text(encoding="utf-8").splitlines(), access_keys, stored


@pytest.mark.usefixtures("importable_by_children")
def test_workers_in_separate_processes_refresh_once_and_share_the_result(tmp_path: Path) -> None:
    n = 5
    calls, access_keys, stored = _race(tmp_path, n, real_lock=True)
    assert len(calls) == 1, calls
    kind, pid, refresh_key = calls[0].split()
    assert (kind, refresh_key) == ("refresh", "refresh-0")
    assert access_keys == [f"refreshed-by-{pid}"] * n
    assert stored is not None
    assert stored.refresh is not None
    assert stored.access.get_secret_value() == f"refreshed-by-{pid}"
    assert stored.refresh.get_secret_value() == f"refresh-by-{pid}"  # the rotated refresh key is kept


@pytest.mark.usefixtures("importable_by_children")
def test_control_without_the_lock_the_same_race_refreshes_in_every_worker(tmp_path: Path) -> None:
    # Shows that the race above is real: take the lock away and each worker sends its own refresh.
    n = 3
    calls, access_keys, _ = _race(tmp_path, n, real_lock=False)
    assert len(calls) == n
    assert len(set(access_keys)) == n
