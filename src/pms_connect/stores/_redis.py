"""``RedisStore``: one Redis shared by the workers of many hosts (extra ``redis``, on redis-py's asyncio client).

What lives where (every key under ``prefix``):

* request keys: ``{prefix}:token:{key}``, sealed with the vault when one is given;
* named locks: ``{prefix}:lock:{name}``, a random token set with ``NX`` and a lease (``lock_lease``) that the
  holder renews while it holds the lock, so that a holder that dies frees it within one lease; released by a
  script that deletes the key only if it still holds the holder's token;
* leases (poller leadership): ``{prefix}:lease:{name}``, taken or renewed by one script;
* the rate budget: ``{prefix}:budget:{key}``, a sorted set of grants (score: time, member: ``lane|id``; a
  grant's time moves to its answer's once the request is over),
  decided and recorded by one server-side script that applies the same rule as the other stores
  (``pms_connect.stores._budget.grant``); a script rather than a library such as ``limits``, because the
  rule needs two counts (the key's and its lane's), phantom grants from the server's headers, and grant times
  that never go backwards, all in one atomic step;
* the write journal: each entry a JSON value ``{prefix}:journal:{id}`` (its body sealed when a vault is given) and
  its heartbeat, a score in one sorted set ``{prefix}:touch`` (member: the entry id, score: when it was last
  touched, so that one command renews every entry a poller follows); sets of open entries (all, and per practice),
  a sorted set of the entries with slot claims per practice (score: when settled, ``+inf`` while open), and a hash
  of writeback ids per practice, so that one writeback belongs to one entry. Each transition is an optimistic
  transaction (``WATCH`` the entry, apply the shared transition, ``MULTI``/``EXEC``), retried if another worker
  went first.

Redis must persist what it holds (AOF, ``appendfsync everysec`` or ``always``): the journal is how a write
that reached the PMS is never sent twice. Every Redis failure is raised as
[StoreError][pms_connect.errors.StoreError]; nothing is sent while the store cannot record it, and the client
reconnects on its own when Redis comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from pms_connect.errors import InvalidArgumentError, LockTimeoutError, StoreError, VaultError
from pms_connect.models import WritebackResult
from pms_connect.stores._budget import SERVER_LANE
from pms_connect.stores._journal import JournalEntry
from pms_connect.tokens import Token
from pms_connect.validation import check_seconds

if TYPE_CHECKING:
    from pms_connect.vault import CredentialVault

__all__ = ["RedisStore"]

logger = logging.getLogger("pms_connect.stores.redis")

T = TypeVar("T")

_INF = "+inf"
_TRANSACTION_TRIES = 50
_SETTLED_KEPT = 7 * 24 * 3600  # seconds a settled entry stays readable

# The budget's rule (pms_connect.stores._budget.grant), on the server: KEYS[1] the key's grants;
# ARGV: now, window, limit, lane, lane_limit (-1: none), a unique member id. Returns the wait ("0": granted).
_TAKE = """
local key = KEYS[1]
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lane, lane_limit, id = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local at = now
for i = 1, #all, 2 do
  local tag = string.match(all[i], '^([^|]*)')
  local t = tonumber(all[i + 1])
  if tag ~= 'server' and t > at then at = t end
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', at - window)
local kept = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local times, own = {}, {}
for i = 1, #kept, 2 do
  local t = tonumber(kept[i + 1])
  table.insert(times, t)
  if string.match(kept[i], '^([^|]*)') == lane then table.insert(own, t) end
end
table.sort(times)
table.sort(own)
local wait = 0
if #times >= limit then wait = times[#times - limit + 1] + window - at end
if lane_limit >= 0 and #own >= lane_limit then
  local w = own[#own - lane_limit + 1] + window - at
  if w > wait then wait = w end
end
if wait > 0 then return tostring(wait) end
redis.call('ZADD', key, at, lane .. '|' .. id)
redis.call('PEXPIRE', key, math.ceil(window * 1000) + 60000)
return '0'
"""

# A grant's request was answered: count it from then (never earlier), or again if it left the log meanwhile.
# KEYS[1]; ARGV member, time, window.
_ANSWERED = """
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 60000)
end
return 0
"""

# Take or renew a lease: KEYS[1]; ARGV holder, ttl in ms. 1 when held by the holder afterwards.
_LEASE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Delete a lock only if it still holds the caller's token: KEYS[1]; ARGV token.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Renew a lock's lease only if it still holds the caller's token: KEYS[1]; ARGV token, ttl in ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _stamp(value: datetime | None) -> float:
    return math.inf if value is None else value.astimezone(timezone.utc).timestamp()


class _Redis:
    """The shared client, and the one place Redis errors become StoreError."""

    def __init__(self, url: str, prefix: str) -> None:
        try:
            from redis.asyncio import Redis
        except ImportError:
            raise ImportError("RedisStore needs the redis extra: pip install 'pms-connect[redis]'") from None
        # redis-py types its answers bytes | str; with decode_responses=True they are str: typed Any here.
        self.client: Any = Redis.from_url(url, decode_responses=True, health_check_interval=30)
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def run(self, work: Callable[[Any], Awaitable[T]], what: str) -> T:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError

        try:
            return await work(self.client)
        except RedisError as exc:
            if isinstance(exc, RedisConnectionError):
                # One broken connection means the server went away: every idle one in the pool is stale too.
                # Dropped now, none of them fails the first concurrent commands once Redis is back.
                await self.client.connection_pool.disconnect(inuse_connections=False)
            raise StoreError(f"Redis could not {what} ({type(exc).__name__})") from exc


class RedisTokenStore:
    """Request keys in Redis, shared by every host; the refresh lock is the store's named lock."""

    def __init__(self, redis: _Redis, vault: CredentialVault | None, lock: Callable[[str], Any]) -> None:
        self._redis, self._vault, self._lock = redis, vault, lock

    async def load(self, key: str) -> Token | None:
        value = await self._redis.run(lambda r: r.get(self._redis.key("token", key)), "read a request key")
        if value is None:
            return None
        try:
            data: Any = self._vault.open(value, context=key) if self._vault else json.loads(value)
            return Token.from_storage(data)
        except (VaultError, ValueError, TypeError, ValidationError):
            logger.warning("the stored token for %r cannot be opened; ignoring it", key)
            return None

    async def save(self, key: str, token: Token) -> None:
        data = token.to_storage()
        value = self._vault.seal(data, context=key) if self._vault else json.dumps(data)
        await self._redis.run(lambda r: r.set(self._redis.key("token", key), value), "save a request key")

    async def clear(self, key: str) -> None:
        await self._redis.run(lambda r: r.delete(self._redis.key("token", key)), "clear a request key")

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        lock: contextlib.AbstractAsyncContextManager[None] = self._lock(f"token:{key}")
        return lock


class RedisBudget:
    """The rate budget's sliding logs in sorted sets, decided by one server-side script."""

    def __init__(self, redis: _Redis) -> None:
        self._redis = redis
        self._take = redis.client.register_script(_TAKE)
        self._answered = redis.client.register_script(_ANSWERED)

    async def take(
        self, key: str, *, now: float, window: float, limit: int, lane: str, lane_limit: int | None, grant_id: str
    ) -> float:
        args = [now, window, limit, lane, -1 if lane_limit is None else lane_limit, grant_id]
        wait = await self._redis.run(
            lambda r: self._take(keys=[self._redis.key("budget", key)], args=args), "spend from the rate budget"
        )
        return float(wait)

    async def answered(self, key: str, *, grant_id: str, lane: str, at: float, window: float) -> None:
        args = [f"{lane}|{grant_id}", at, window]
        await self._redis.run(
            lambda r: self._answered(keys=[self._redis.key("budget", key)], args=args), "update the rate budget"
        )

    async def block(self, key: str, *, now: float, window: float, count: int, until: float) -> None:
        phantoms = {f"{SERVER_LANE}|{secrets.token_hex(8)}": until - window for _ in range(count)}
        await self._redis.run(lambda r: r.zadd(self._redis.key("budget", key), phantoms), "hold the rate budget")

    async def used(self, key: str, *, now: float, window: float) -> int:
        name = self._redis.key("budget", key)

        async def work(r: Any) -> int:
            async with r.pipeline(transaction=True) as pipe:  # one round trip
                pipe.zremrangebyscore(name, "-inf", now - window)
                pipe.zcard(name)
                _, count = await pipe.execute()
            return int(count)

        return await self._redis.run(work, "count the rate budget")


class RedisJournal:
    """The write journal in Redis; each transition one optimistic transaction."""

    def __init__(self, redis: _Redis, vault: CredentialVault | None) -> None:
        self._redis, self._vault = redis, vault

    # -- encoding -------------------------------------------------------------------------------------------

    def _encode(self, entry: JournalEntry) -> str:
        body = (
            self._vault.seal(entry.body, context=f"pms_connect.journal:{entry.id}")
            if self._vault
            else json.dumps(entry.body)
        )
        return json.dumps({"entry": json.loads(entry.model_dump_json(exclude={"body"})), "body": body})

    def _decode(self, value: str, touched: float | None, entry_id: str) -> JournalEntry:
        try:
            data = json.loads(value)
            fields = (
                self._vault.open(data["body"], context=f"pms_connect.journal:{entry_id}")
                if self._vault
                else json.loads(data["body"])
            )
            entry = JournalEntry.model_validate({**data["entry"], "body": fields})
        except VaultError as exc:
            raise StoreError(f"journal entry {entry_id} does not open with this store's vault") from exc
        except (ValueError, TypeError, KeyError, ValidationError):
            raise StoreError(f"journal entry {entry_id} is not a valid entry") from None
        if touched is not None:
            entry = entry.touched(datetime.fromtimestamp(touched, tz=timezone.utc))
        return entry

    def _key(self, entry_id: str) -> str:
        return self._redis.key("journal", entry_id)

    def _index(self, pipe: Any, entry: JournalEntry) -> None:
        """Queue the index updates that follow ``entry``'s state (inside a MULTI)."""
        r = self._redis
        if entry.open:
            pipe.sadd(r.key("open"), entry.id)
            pipe.sadd(r.key("open", entry.practice), entry.id)
        else:
            pipe.srem(r.key("open"), entry.id)
            pipe.srem(r.key("open", entry.practice), entry.id)
            pipe.expire(self._key(entry.id), _SETTLED_KEPT)
            pipe.zrem(r.key("touch"), entry.id)
        if entry.slot is not None:
            pipe.zadd(r.key("slots", entry.practice), {entry.id: _stamp(entry.settled_at)})
        if entry.writeback_id is not None:
            pipe.hset(r.key("wb", entry.practice), entry.writeback_id, entry.id)

    # -- reads ------------------------------------------------------------------------------------------------

    async def _many(self, r: Any, ids: Sequence[str]) -> dict[str, JournalEntry]:
        if not ids:
            return {}
        values = await r.mget([self._key(i) for i in ids])
        touches = await r.zmscore(self._redis.key("touch"), list(ids))
        found = {}
        for entry_id, value, touched in zip(ids, values, touches, strict=True):
            if value is not None:
                found[entry_id] = self._decode(value, touched, entry_id)
        return found

    async def get(self, entry_id: str) -> JournalEntry | None:
        found = await self._redis.run(lambda r: self._many(r, [entry_id]), "read the write journal")
        return found.get(entry_id)

    async def get_many(self, entry_ids: Collection[str]) -> Mapping[str, JournalEntry]:
        ids = list(entry_ids)
        return await self._redis.run(lambda r: self._many(r, ids), "read the write journal")

    async def open_entries(self, practice: str | None = None) -> Sequence[JournalEntry]:
        index = self._redis.key("open") if practice is None else self._redis.key("open", practice)

        async def work(r: Any) -> list[JournalEntry]:
            ids = sorted(await r.smembers(index))
            entries = [e for e in (await self._many(r, ids)).values() if e.open]
            return sorted(entries, key=lambda e: e.created_at)

        return await self._redis.run(work, "read the write journal")

    async def slot_entries(self, practice: str, *, settled_since: datetime) -> Sequence[JournalEntry]:
        index = self._redis.key("slots", practice)

        async def work(r: Any) -> list[JournalEntry]:
            await r.zremrangebyscore(index, "-inf", _stamp(settled_since) - _SETTLED_KEPT)  # long settled
            ids = await r.zrangebyscore(index, _stamp(settled_since), _INF)
            return list((await self._many(r, ids)).values())

        return await self._redis.run(work, "read the slot claims")

    async def claimed(self, practice: str, writeback_ids: Collection[str]) -> set[str]:
        ids = list(writeback_ids)
        if not ids:
            return set()
        holders = await self._redis.run(
            lambda r: r.hmget(self._redis.key("wb", practice), ids), "read the write journal"
        )
        return {wid for wid, holder in zip(ids, holders, strict=True) if holder is not None}

    # -- writes -----------------------------------------------------------------------------------------------

    async def record(self, entry: JournalEntry) -> None:
        async def work(r: Any) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.set(self._key(entry.id), self._encode(entry))
                pipe.zadd(self._redis.key("touch"), {entry.id: _stamp(entry.touched_at)})
                self._index(pipe, entry)
                await pipe.execute()

        await self._redis.run(work, "record a write in the journal")

    async def _change(
        self, entry_id: str, change: Callable[[JournalEntry, Any], Awaitable[JournalEntry | None]], what: str
    ) -> JournalEntry | None:
        """WATCH the entry, compute its change (``change`` may queue more, e.g. on another entry), EXEC;
        again if another worker changed it meanwhile."""
        from redis.exceptions import WatchError

        entry_key = self._key(entry_id)

        async def work(r: Any) -> JournalEntry | None:
            for _ in range(_TRANSACTION_TRIES):
                async with r.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(entry_key)
                        value = await pipe.get(entry_key)
                        if value is None:
                            return None
                        entry = self._decode(value, None, entry_id)
                        pipe.multi()
                        changed = await change(entry, pipe)
                        if changed is None or changed is entry:
                            await pipe.reset()
                            return entry
                        pipe.set(entry_key, self._encode(changed))
                        self._index(pipe, changed)
                        await pipe.execute()
                        return changed
                    except WatchError:
                        await asyncio.sleep(random.uniform(0, 0.01))  # noqa: S311 - jitter
            raise StoreError(f"the write journal stayed too busy to {what}")

        return await self._redis.run(work, what)

    async def mark_sent(self, entry_id: str, *, at: datetime) -> None:
        async def change(entry: JournalEntry, pipe: Any) -> JournalEntry:
            return entry.sent_unacknowledged(at)

        await self._change(entry_id, change, "record a lost answer")

    async def acknowledge(self, entry_id: str, writeback_id: str, *, at: datetime, reassign: bool = False) -> bool:
        from redis.exceptions import WatchError

        entry_key = self._key(entry_id)

        async def work(r: Any) -> bool:
            for _ in range(_TRANSACTION_TRIES):
                async with r.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(entry_key)
                        value = await pipe.get(entry_key)
                        if value is None:
                            return False
                        entry = self._decode(value, None, entry_id)
                        if not entry.open:
                            return False
                        index = self._redis.key("wb", entry.practice)
                        await pipe.watch(index)
                        holder_id = await pipe.hget(index, writeback_id)
                        holder = None
                        if holder_id is not None and holder_id != entry_id:
                            holder_key = self._key(holder_id)
                            await pipe.watch(holder_key)
                            holder_value = await pipe.get(holder_key)
                            if holder_value is not None:
                                holder = self._decode(holder_value, None, holder_id)
                                if not reassign or not holder.open:
                                    return False
                        pipe.multi()
                        if holder is not None:
                            given_up = holder.unacknowledged()
                            pipe.set(self._key(holder.id), self._encode(given_up))
                        acknowledged = entry.acknowledged_as(writeback_id, at)
                        pipe.set(entry_key, self._encode(acknowledged))
                        self._index(pipe, acknowledged)
                        await pipe.execute()
                        return True
                    except WatchError:
                        await asyncio.sleep(random.uniform(0, 0.01))  # noqa: S311 - jitter
            raise StoreError("the write journal stayed too busy to record a writeback id")

        return await self._redis.run(work, "record a writeback id")

    async def settle(self, entry_id: str, result: WritebackResult, *, at: datetime) -> WritebackResult:
        async def change(entry: JournalEntry, pipe: Any) -> JournalEntry:
            return entry.settled_with(result, at)

        settled = await self._change(entry_id, change, "record a write's outcome")
        return settled.result if settled is not None and settled.result is not None else result

    async def touch(self, entry_ids: Collection[str], *, at: datetime) -> None:
        ids = list(entry_ids)
        if not ids:
            return
        stamp = _stamp(at)
        # One sorted set of heartbeats: XX touches only entries still open, GT never moves one backwards.
        touches = {entry_id: stamp for entry_id in ids}
        await self._redis.run(
            lambda r: r.zadd(self._redis.key("touch"), touches, xx=True, gt=True), "renew the journal's heartbeats"
        )


class RedisStore:
    """Tokens, journal, budget, locks and leases in one Redis, shared by the workers of every host.

    ``url`` is a ``redis://`` (or ``rediss://``) URL; ``prefix`` namespaces every key (one Redis can serve
    several deployments); ``vault`` seals request keys and the journal's bodies; ``lock_timeout`` bounds how
    long a lock is waited for; ``lock_lease`` how long a dead holder's lock outlives it.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "pms_connect",
        vault: CredentialVault | None = None,
        lock_timeout: float = 30.0,
        lock_lease: float = 15.0,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidArgumentError("RedisStore needs a redis:// or rediss:// URL")
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in " \t\r\n"):
            raise InvalidArgumentError("prefix must be a non-empty name without whitespace")
        check_seconds(lock_timeout, "lock_timeout")
        check_seconds(lock_lease, "lock_lease")
        self._redis = _Redis(url, prefix)
        self._vault = vault
        self._lock_timeout = lock_timeout
        self._lock_lease = lock_lease
        self._tokens = RedisTokenStore(self._redis, vault, self.lock)
        self._journal = RedisJournal(self._redis, vault)
        self._budget = RedisBudget(self._redis)
        self._lease = self._redis.client.register_script(_LEASE)
        self._unlock = self._redis.client.register_script(_UNLOCK)
        self._renew = self._redis.client.register_script(_RENEW)

    @property
    def tokens(self) -> RedisTokenStore:
        return self._tokens

    @property
    def journal(self) -> RedisJournal:
        return self._journal

    @property
    def budget(self) -> RedisBudget:
        return self._budget

    async def lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        key = self._redis.key("lease", name)
        held = await self._redis.run(
            lambda r: self._lease(keys=[key], args=[holder, int(ttl * 1000)]), "take a lease"
        )
        return bool(held)

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Hold ``name`` across every host; its lease is renewed while held, and runs out if the holder dies."""
        key = self._redis.key("lock", name)
        token = secrets.token_hex(16)
        lease_ms = int(self._lock_lease * 1000)
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.005
        while not await self._redis.run(lambda r: r.set(key, token, nx=True, px=lease_ms), "take a lock"):
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    f"another worker held the store lock {name!r} for more than {self._lock_timeout:g} s"
                )
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            delay = min(delay * 2, 0.1)
        renewer = asyncio.ensure_future(self._keep(key, token, lease_ms))
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)  # the caller's own cancellation propagates
            with contextlib.suppress(StoreError):  # an unreachable Redis drops the lock by its lease
                await self._redis.run(lambda r: self._unlock(keys=[key], args=[token]), "release a lock")

    async def _keep(self, key: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            with contextlib.suppress(StoreError):
                await self._redis.run(lambda r: self._renew(keys=[key], args=[token, lease_ms]), "renew a lock")

    async def aclose(self) -> None:
        await self._redis.client.aclose()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._redis.prefix!r}, sealed={self._vault is not None})"
