"""The write journal's records and their state machine, shared by every store backend.

A write's life, each step durable before the next begins::

    PREPARED ──send──▶ ACKNOWLEDGED ──poll──▶ SETTLED
       │                    ▲
       └─answer lost──▶ SENT┘ (found in the PMS's log)   ──window passed, not logged──▶ SETTLED (not_applied)

``PREPARED`` is written before the request leaves, so a crash at any later moment leaves a record that the
next poller resumes: an entry without a writeback id is looked up in the PMS's log, never sent again.
The transitions are pure functions of an entry so that every backend applies exactly the same rules.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from pms_connect.models import AwareDatetime, WritebackKind, WritebackResult

__all__ = ["JournalEntry", "JournalState", "SlotClaim", "new_entry_id"]

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: ids get read aloud and typed


def new_entry_id() -> str:
    """``PMSC`` and 16 random characters (80 bits): unique, and short enough to ride in a PMS note field."""
    return "PMSC" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


class JournalState(str, enum.Enum):
    PREPARED = "prepared"
    """Recorded before sending: the request may or may not have left."""
    SENT = "sent"
    """Sent, but the PMS's answer was lost: its fate is read from the PMS's log."""
    ACKNOWLEDGED = "acknowledged"
    """The PMS acknowledged it; ``writeback_id`` is known."""
    SETTLED = "settled"
    """Terminal: ``result`` holds the outcome."""


class SlotClaim(BaseModel):
    """The chair time a booking or reschedule holds while it is in flight: ``provider_id`` and
    ``operatory`` from ``start`` to ``end``. ``moves`` names the appointment a reschedule moves."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider_id: str
    operatory: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    moves: str | None = None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return _utc(self.start) < _utc(end) and _utc(start) < _utc(self.end)


class JournalEntry(BaseModel):
    """One write: its intent (what is sent, where, with which marker), its tracking id, and its outcome.

    ``body`` is the full request body; it can hold PHI (a new patient's name), so it is kept out of reprs
    and stores seal it when they are given a vault. ``marker`` is the entry's id when the write carries it in
    a free-text field (Sikka's appointment and transaction ``note``): the write is then found in the PMS's
    log by identity. ``touched_at`` is the last heartbeat of a poller following the entry; a slot claim
    whose entry nobody follows lapses after the booking guard's hold lease.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    kind: WritebackKind
    practice: str
    """The practice's key in the store (``sikka:<office>:<practice>``): locks, holds and resumes use it."""
    practice_id: str | None = None
    method: str
    path: str
    body: dict[str, str] = Field(default_factory=dict, repr=False)
    marker: str | None = None
    slot: SlotClaim | None = None
    deadline: AwareDatetime | None = None
    appointment_id: str | None = None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    touched_at: AwareDatetime
    state: JournalState = JournalState.PREPARED
    writeback_id: str | None = None
    settled_at: AwareDatetime | None = None
    result: WritebackResult | None = None

    @property
    def open(self) -> bool:
        return self.state is not JournalState.SETTLED

    @property
    def acknowledged(self) -> bool:
        return self.writeback_id is not None

    # -- transitions (pure: every backend applies these) ------------------------------------------------

    def sent_unacknowledged(self, at: datetime) -> JournalEntry:
        if not self.open or self.writeback_id is not None:
            return self
        return self.model_copy(update={"state": JournalState.SENT, "sent_at": self.sent_at or at})

    def acknowledged_as(self, writeback_id: str, at: datetime) -> JournalEntry:
        if not self.open:
            return self
        return self.model_copy(
            update={
                "state": JournalState.ACKNOWLEDGED,
                "writeback_id": writeback_id,
                "sent_at": self.sent_at or at,
            }
        )

    def unacknowledged(self) -> JournalEntry:
        """Give up a writeback id adopted from the log, because the PMS's own answer named it for another."""
        if not self.open:
            return self
        return self.model_copy(update={"state": JournalState.SENT, "writeback_id": None})

    def settled_with(self, result: WritebackResult, at: datetime) -> JournalEntry:
        if not self.open:
            return self
        update: dict[str, object] = {"state": JournalState.SETTLED, "result": result, "settled_at": at}
        if result.writeback_id and self.writeback_id is None:
            update["writeback_id"] = result.writeback_id
        return self.model_copy(update=update)

    def touched(self, at: datetime) -> JournalEntry:
        return self.model_copy(update={"touched_at": max(self.touched_at, at)})

    def sent_or_created(self) -> datetime:
        return self.sent_at or self.created_at

    def age(self, now: datetime) -> timedelta:
        return now - self.created_at


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)
