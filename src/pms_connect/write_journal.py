"""The path every provider's checked write takes: journaled before it is sent, its slot claimed under the
booking guard, sent once by the provider, and its outcome journaled whatever happens.

A provider builds one [WriteJournal][pms_connect.write_journal.WriteJournal] and keeps only what its wire
decides: the body, the request, and what an answer means. Then one of:

* [queued][pms_connect.write_journal.WriteJournal.queued]: the PMS took the write and will apply it later
  (Sikka's writebacks): the handle is followed by the poller;
* [written][pms_connect.write_journal.WriteJournal.written]: the PMS applied it while the request ran (Open
  Dental): the entry is settled at once;
* [settled][pms_connect.write_journal.WriteJournal.settled]: it ended without being applied (a refusal);
* [lost][pms_connect.write_journal.WriteJournal.lost]: it may have reached the PMS: never sent again, the
  poller finds its fate through the provider's writeback source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from pms_connect.booking import BookingGuard
from pms_connect.clock import Clock
from pms_connect.errors import PmsError
from pms_connect.models import Appointment, Operatory, Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.stores import JournalEntry, SlotClaim, Store
from pms_connect.writeback import BoundWritebacks, handle_from_entry

__all__ = ["WriteJournal"]

logger = logging.getLogger("pms_connect.writes")


class WriteJournal:
    """One practice's write journal, booking guard and writeback tracking, as its writes use them.

    ``summary(method, path)`` names a request without PHI, for the log line of a lost answer, which goes to
    ``logger`` and ends with ``recovery`` (how its fate is found).
    """

    def __init__(
        self,
        *,
        store: Store,
        guard: BookingGuard,
        writebacks: BoundWritebacks,
        clock: Clock,
        zone: ZoneInfo,
        practice: str,
        practice_id: str,
        summary: Callable[[str, str], str],
        logger: logging.Logger = logger,
        recovery: str = "its fate is read from the PMS",
    ) -> None:
        self._store = store
        self._guard = guard
        self._writebacks = writebacks
        self._clock = clock
        self._zone = zone
        self._practice = practice
        self._practice_id = practice_id
        self._summary = summary
        self._logger = logger
        self._recovery = recovery

    def entry(
        self,
        entry_id: str,
        kind: WritebackKind,
        method: str,
        path: str,
        body: dict[str, str],
        *,
        marker_field: str | None = None,
        deadline: datetime | None = None,
        appointment_id: str | None = None,
        slot: SlotClaim | None = None,
    ) -> JournalEntry:
        """A new entry for the write; ``marker_field`` is the body's free-text field that carries the entry's
        id (the marker a lost answer is found by), where the write has one."""
        now = self._clock.now()
        return JournalEntry(
            id=entry_id,
            kind=kind,
            practice=self._practice,
            practice_id=self._practice_id,
            method=method,
            path=path,
            body=body,
            marker=entry_id if marker_field and entry_id in body.get(marker_field, "") else None,
            slot=slot,
            deadline=deadline,
            appointment_id=appointment_id,
            created_at=now,
            touched_at=now,
        )

    async def record(self, entry: JournalEntry) -> JournalEntry:
        """Journal a write that claims no slot, before it is sent."""
        await self._store.journal.record(entry)
        return entry

    async def claim(
        self,
        make: Callable[[SlotClaim], JournalEntry],
        *,
        provider_id: str,
        operatory: str | None,
        operatories: Sequence[Operatory],
        start: datetime,
        end: datetime,
        moves: str | None,
        booked: Sequence[Appointment],
    ) -> JournalEntry:
        """Check the slot and journal the write that claims it, atomically for every worker of the store
        ([BookingGuard.claim][pms_connect.booking.BookingGuard.claim]); ``make`` builds the entry for the
        chosen claim (its chair goes into the body)."""
        recorded: list[JournalEntry] = []

        async def record(claim: SlotClaim) -> None:
            recorded.append(await self.record(make(claim)))

        await self._guard.claim(
            provider_id=provider_id,
            operatory=operatory,
            operatories=operatories,
            start=start,
            end=end,
            moves=moves,
            booked=booked,
            record=record,
        )
        return recorded[0]

    async def queued(self, entry: JournalEntry, writeback_id: str) -> Writeback:
        """The PMS took the write under ``writeback_id`` and applies it later: the poller follows it."""
        now = self._clock.now()
        await self._store.journal.acknowledge(entry.id, writeback_id, at=now, reassign=True)
        acknowledged = entry.acknowledged_as(writeback_id, now)
        handle = handle_from_entry(acknowledged, self._zone)
        await self._writebacks.track(handle, intent=acknowledged)
        return handle

    async def written(self, entry: JournalEntry, writeback_id: str, created_id: str | None) -> Writeback:
        """The PMS applied the write while the request ran: settled ``written`` at once."""
        now = self._clock.now()
        await self._store.journal.acknowledge(entry.id, writeback_id, at=now, reassign=True)
        result = WritebackResult(
            handle_id=entry.id, status=WritebackState.WRITTEN, created_id=created_id, completed_at=self._local(now)
        )
        await self._store.journal.settle(entry.id, result, at=now)
        handle = handle_from_entry(entry.acknowledged_as(writeback_id, now), self._zone)
        await self._writebacks.track(handle)
        return handle

    async def settle(self, entry: JournalEntry, state: WritebackState, message: str) -> None:
        """End the write without it being applied (never sent, or refused)."""
        now = self._clock.now()
        result = WritebackResult(handle_id=entry.id, status=state, message=message, completed_at=self._local(now))
        await self._store.journal.settle(entry.id, result, at=now)

    async def settled(self, entry: JournalEntry, state: WritebackState, message: str) -> Writeback:
        """[settle][pms_connect.write_journal.WriteJournal.settle], and the handle that tells it."""
        await self.settle(entry, state, message)
        handle = handle_from_entry(entry, self._zone)
        await self._writebacks.track(handle)
        return handle

    async def lost(self, entry: JournalEntry, error: PmsError) -> Writeback:
        """The write may have reached the PMS: never sent again; the poller finds its fate (``acknowledged``
        is False on the handle)."""
        self._logger.warning(
            "%s failed ambiguously (%s); it is not sent again, %s",
            self._summary(entry.method, entry.path),
            type(error).__name__,
            self._recovery,
        )
        now = self._clock.now()
        await self._store.journal.mark_sent(entry.id, at=now)
        sent = entry.sent_unacknowledged(now)
        handle = handle_from_entry(sent, self._zone)
        await self._writebacks.track(handle, intent=sent)
        return handle

    def _local(self, instant: datetime) -> datetime:
        return instant.astimezone(self._zone)
