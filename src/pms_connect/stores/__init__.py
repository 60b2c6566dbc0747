"""Stores: what every worker process of a deployment shares, behind one object.

* [MemoryStore][pms_connect.stores.MemoryStore] (the default): one process.
* [SqliteStore][pms_connect.stores.SqliteStore]: the processes of one host, through one SQLite file.
* [RedisStore][pms_connect.stores.RedisStore]: the workers of many hosts, through one Redis (extra ``redis``).

A store holds the request keys (with a refresh lock), the exact rate budget, the write journal (every
write's intent, recorded before it is sent, its tracking id and its outcome), the slot claims of bookings in
flight (journal entries with a [SlotClaim][pms_connect.stores.SlotClaim]), named locks (a practice's booking
lock) and leases (a poller leader per Sikka app). [store_from_url][pms_connect.stores.store_from_url] builds one
from a setting (``memory://``, ``sqlite:///pms.db``, ``redis://host:6379/0``). Pass one to a provider::

    SikkaProvider(credentials, timezone="America/Chicago", store=SqliteStore("pms.db", vault=vault))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pms_connect.stores._journal import JournalEntry, JournalState, SlotClaim, new_entry_id
from pms_connect.stores._memory import MemoryBudget, MemoryJournal, MemoryStore
from pms_connect.stores._protocol import RateBudget, Store, WriteJournal
from pms_connect.stores._url import store_from_url

if TYPE_CHECKING:
    from pms_connect.stores._redis import RedisStore
    from pms_connect.stores._sqlite import SqliteBudget, SqliteJournal, SqliteStore
    from pms_connect.stores._sqlite_tokens import SqliteTokenStore

# Imported on first use: a process on the default MemoryStore never loads sqlite3 or the Redis client.
_LAZY = {
    "RedisStore": "pms_connect.stores._redis",
    "SqliteBudget": "pms_connect.stores._sqlite",
    "SqliteJournal": "pms_connect.stores._sqlite",
    "SqliteStore": "pms_connect.stores._sqlite",
    "SqliteTokenStore": "pms_connect.stores._sqlite_tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "JournalEntry",
    "JournalState",
    "MemoryBudget",
    "MemoryJournal",
    "MemoryStore",
    "RateBudget",
    "RedisStore",
    "SlotClaim",
    "SqliteBudget",
    "SqliteJournal",
    "SqliteStore",
    "SqliteTokenStore",
    "Store",
    "WriteJournal",
    "new_entry_id",
    "store_from_url",
]
