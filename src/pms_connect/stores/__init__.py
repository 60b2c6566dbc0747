"""Stores: what every worker process of a deployment shares, behind one object.

* :class:`MemoryStore` (the default): one process.
* :class:`SqliteStore`: the processes of one host, through one SQLite file.

A store holds the request keys (with a refresh lock), the write journal (every write's intent, recorded
before it is sent, its tracking id and its outcome), the slot claims of bookings in flight (journal entries
with a :class:`SlotClaim`) and named locks (a practice's booking lock). Pass one to a provider::

    SikkaProvider(credentials, timezone="America/Chicago", store=SqliteStore("pms.db", vault=vault))
"""

from pms_connect.stores._journal import JournalEntry, JournalState, SlotClaim, new_entry_id
from pms_connect.stores._memory import MemoryJournal, MemoryStore
from pms_connect.stores._protocol import Store, WriteJournal
from pms_connect.stores._sqlite import SqliteJournal, SqliteStore
from pms_connect.stores._sqlite_tokens import SqliteTokenStore

__all__ = [
    "JournalEntry",
    "JournalState",
    "MemoryJournal",
    "MemoryStore",
    "SlotClaim",
    "SqliteJournal",
    "SqliteStore",
    "SqliteTokenStore",
    "Store",
    "WriteJournal",
    "new_entry_id",
]
