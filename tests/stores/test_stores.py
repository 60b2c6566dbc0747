"""The store backends, held to one contract: the same tests for MemoryStore and SqliteStore."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pms_connect import CredentialVault
from pms_connect.errors import InvalidArgumentError, LockTimeoutError, StoreError
from pms_connect.models import WritebackKind, WritebackResult, WritebackState
from pms_connect.stores import (
    JournalEntry,
    JournalState,
    MemoryStore,
    RedisStore,
    SlotClaim,
    SqliteStore,
    Store,
    WriteJournal,
    new_entry_id,
)
from pms_connect.testing import SikkaSandbox

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)
CANARY = "Zebulon-Quixote-7741"  # a patient name that must never be readable in a sealed file


def make_entry(
    entry_id: str | None = None,
    *,
    practice: str = "sikka:D1:1",
    at: datetime = T0,
    slot: SlotClaim | None = None,
    body: dict[str, str] | None = None,
) -> JournalEntry:
    return JournalEntry(
        id=entry_id or new_entry_id(),
        kind=WritebackKind.CREATE_PATIENT,
        practice=practice,
        practice_id="1",
        method="POST",
        path="patient",
        body=body if body is not None else {"firstname": CANARY, "lastname": "Garcia"},
        slot=slot,
        created_at=at,
        touched_at=at,
    )


def files_of(directory: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in directory.iterdir() if f.is_file()}


def claim(minutes: int = 0) -> SlotClaim:
    start = T0 + timedelta(days=2, minutes=minutes)
    return SlotClaim(provider_id="DMD1", operatory="OP1", start=start, end=start + timedelta(minutes=30))


def result(entry_id: str, status: WritebackState = WritebackState.WRITTEN) -> WritebackResult:
    return WritebackResult(
        handle_id=entry_id, status=status, created_id="77" if status.value == "written" else None
    )


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        made: Store = MemoryStore(lock_timeout=0.3)
    elif request.param == "sqlite":
        made = SqliteStore(tmp_path / "pms.db", lock_timeout=0.3)
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisStore(url, prefix=f"t{secrets.token_hex(4)}", lock_timeout=0.3)
    yield made
    await made.aclose()


def test_every_backend_implements_the_protocols(tmp_path: Path) -> None:
    for made in (MemoryStore(), SqliteStore(tmp_path / "pms.db")):
        assert isinstance(made, Store)
        assert isinstance(made.journal, WriteJournal)


async def test_an_entry_goes_prepared_acknowledged_settled(store: Store) -> None:
    journal = store.journal
    entry = make_entry()
    await journal.record(entry)
    stored = await journal.get(entry.id)
    assert stored == entry
    assert stored is not None
    assert stored.state is JournalState.PREPARED
    assert await journal.acknowledge(entry.id, "275495", at=T0)
    stored = await journal.get(entry.id)
    assert stored is not None
    assert (stored.state, stored.writeback_id, stored.sent_at) == (JournalState.ACKNOWLEDGED, "275495", T0)
    final = await journal.settle(entry.id, result(entry.id), at=T0 + timedelta(minutes=2))
    assert final.status is WritebackState.WRITTEN
    stored = await journal.get(entry.id)
    assert stored is not None
    assert (stored.state, stored.settled_at) == (JournalState.SETTLED, T0 + timedelta(minutes=2))
    assert await journal.open_entries() == []


async def test_a_lost_answer_is_recorded_as_sent(store: Store) -> None:
    entry = make_entry()
    await store.journal.record(entry)
    await store.journal.mark_sent(entry.id, at=T0 + timedelta(seconds=1))
    stored = await store.journal.get(entry.id)
    assert stored is not None
    assert (stored.state, stored.writeback_id, stored.sent_at) == (
        JournalState.SENT,
        None,
        T0 + timedelta(seconds=1),
    )


async def test_the_first_settle_wins_and_later_transitions_change_nothing(store: Store) -> None:
    entry = make_entry()
    await store.journal.record(entry)
    first = await store.journal.settle(entry.id, result(entry.id, WritebackState.NOT_APPLIED), at=T0)
    second = await store.journal.settle(entry.id, result(entry.id, WritebackState.WRITTEN), at=T0)
    assert first.status is second.status is WritebackState.NOT_APPLIED
    assert not await store.journal.acknowledge(entry.id, "1", at=T0)
    await store.journal.mark_sent(entry.id, at=T0)
    stored = await store.journal.get(entry.id)
    assert stored is not None
    assert (stored.state, stored.writeback_id) == (JournalState.SETTLED, None)


async def test_a_writeback_id_belongs_to_one_entry_of_a_practice(store: Store) -> None:
    journal = store.journal
    a, b, other_practice = make_entry(), make_entry(), make_entry(practice="sikka:D2:1")
    for entry in (a, b, other_practice):
        await journal.record(entry)
    assert await journal.acknowledge(a.id, "900", at=T0)
    assert not await journal.acknowledge(b.id, "900", at=T0), "reconciliation never adopts a claimed write"
    assert await journal.acknowledge(other_practice.id, "900", at=T0), "ids are per practice"
    assert await journal.claimed("sikka:D1:1", ["900", "901"]) == {"900"}
    # The PMS's own answer is authoritative: the entry that adopted the id goes back to being looked up.
    assert await journal.acknowledge(b.id, "900", at=T0, reassign=True)
    stored_a, stored_b = await journal.get(a.id), await journal.get(b.id)
    assert stored_a is not None
    assert stored_b is not None
    assert (stored_a.state, stored_a.writeback_id) == (JournalState.SENT, None)
    assert stored_b.writeback_id == "900"


async def test_slot_entries_are_the_open_ones_and_the_recently_settled(store: Store) -> None:
    journal = store.journal
    open_one = make_entry(slot=claim(0))
    old = make_entry(slot=claim(60))
    recent = make_entry(slot=claim(120))
    no_slot = make_entry()
    other = make_entry(slot=claim(0), practice="sikka:D2:1")
    for entry in (open_one, old, recent, no_slot, other):
        await journal.record(entry)
    await journal.settle(old.id, result(old.id), at=T0)
    await journal.settle(recent.id, result(recent.id), at=T0 + timedelta(minutes=20))
    found = await journal.slot_entries("sikka:D1:1", settled_since=T0 + timedelta(minutes=10))
    assert {e.id for e in found} == {open_one.id, recent.id}
    assert next(e for e in found if e.id == open_one.id).slot == claim(0)


async def test_touch_renews_the_heartbeat_of_open_entries_only(store: Store) -> None:
    journal = store.journal
    alive, done = make_entry(), make_entry()
    await journal.record(alive)
    await journal.record(done)
    await journal.settle(done.id, result(done.id), at=T0)
    later = T0 + timedelta(minutes=3)
    await journal.touch([alive.id, done.id, "unknown"], at=later)
    await journal.touch([alive.id], at=T0)  # never backwards
    got = await journal.get_many([alive.id, done.id, "unknown"])
    assert set(got) == {alive.id, done.id}
    assert got[alive.id].touched_at == later
    assert got[done.id].touched_at == T0


async def test_open_entries_by_practice_oldest_first(store: Store) -> None:
    journal = store.journal
    entries = [make_entry(at=T0 + timedelta(seconds=s)) for s in (30, 10, 20)]
    entries.append(make_entry(practice="sikka:D2:1"))
    for entry in entries:
        await journal.record(entry)
    assert [e.id for e in await journal.open_entries("sikka:D1:1")] == [entries[i].id for i in (1, 2, 0)]
    assert len(await journal.open_entries()) == 4


async def test_a_lock_excludes_other_holders_and_times_out(store: Store) -> None:
    order: list[str] = []

    async def hold(name: str) -> None:
        async with store.lock("booking:sikka:D1:1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    async with store.lock("booking:sikka:D1:1"):
        with pytest.raises(LockTimeoutError):
            async with store.lock("booking:sikka:D1:1"):
                pytest.fail("two holders at once")
        async with store.lock("booking:sikka:D2:1"):  # another practice's lock is free
            pass


async def test_the_sqlite_file_is_private_and_holds_no_phi_when_sealed(tmp_path: Path) -> None:
    vault = CredentialVault.from_string(f"k1:{CredentialVault.generate_key()}")
    path = tmp_path / "pms.db"
    store = SqliteStore(path, vault=vault)
    entry = make_entry()
    await store.journal.record(entry)
    assert (await store.journal.get(entry.id)) == entry
    await store.aclose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for name, content in files_of(tmp_path).items():
        assert CANARY.encode() not in content, name
    assert "Zebulon" not in repr(entry)
    # Another vault cannot open it: a typed error, no garbage.
    other = SqliteStore(path, vault=CredentialVault.from_string(f"k1:{CredentialVault.generate_key()}"))
    with pytest.raises(StoreError, match="vault"):
        await other.journal.get(entry.id)
    await other.aclose()


async def test_a_file_that_is_not_a_database_raises_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "pms.db"
    path.write_bytes(b"this is not a SQLite database, just some bytes " * 100)
    store = SqliteStore(path)
    with pytest.raises(StoreError, match="journal"):
        await store.journal.record(make_entry())
    await store.aclose()


async def test_entries_survive_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "pms.db")
    entry = make_entry(slot=claim())
    await first.journal.record(entry)
    await first.journal.mark_sent(entry.id, at=T0)
    await first.aclose()
    second = SqliteStore(tmp_path / "pms.db")
    [reopened] = await second.journal.open_entries()
    assert reopened.id == entry.id
    assert reopened.state is JournalState.SENT
    assert reopened.slot == entry.slot
    assert reopened.body == entry.body
    await second.aclose()


@pytest.mark.parametrize("path", ["", ":memory:", "file::memory:?cache=shared"])
def test_sqlite_store_needs_a_real_file(path: str) -> None:
    with pytest.raises(InvalidArgumentError):
        SqliteStore(path)


# -- store_from_url: one setting names the store --------------------------------------------------------------


def test_store_from_url_builds_each_backend(tmp_path: Path) -> None:
    from pms_connect.stores import store_from_url

    assert isinstance(store_from_url("memory://"), MemoryStore)
    sqlite = store_from_url(f"sqlite:///{tmp_path / 'pms.db'}")
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.path == tmp_path / "pms.db"
    redis = store_from_url("redis://127.0.0.1:1/0?prefix=clinic_a")  # no connection until first use
    assert isinstance(redis, RedisStore)
    assert "clinic_a" in repr(redis)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "postgres://db/x", "pms.db", "redis:/x"])
def test_store_from_url_refuses_what_it_cannot_build(url: str) -> None:
    from pms_connect.stores import store_from_url

    with pytest.raises(InvalidArgumentError):
        store_from_url(url)


def test_store_from_url_never_echoes_a_password() -> None:
    from pms_connect.stores import store_from_url

    with pytest.raises(InvalidArgumentError) as raised:
        store_from_url("mysql://admin:Hunter2-Canary@db/x")
    assert "Hunter2-Canary" not in str(raised.value)


async def test_a_sqlite_file_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "no-such-folder" / "pms.db")
    with pytest.raises(StoreError, match="could not be created"):
        await store.journal.open_entries()
    sandbox = SikkaSandbox(seed=1)
    with pytest.raises(StoreError):  # through the provider too: never a bare FileNotFoundError
        async with sandbox.provider(store=SqliteStore(tmp_path / "missing" / "pms.db")) as pms:
            await pms.test_connection()
