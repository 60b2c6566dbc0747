"""The booking guard: no two writes in flight ever claim one provider or one chair at one time.

A booking's (or reschedule's) check and its claim are one step under the practice's booking lock in the
store, so every worker sharing the store sees every claim:

1. take the PMS's appointments over the slot, read just before the lock (so that a PMS round trip never
   holds up the practice's other bookings), and the journal's slot claims that still hold, read under it. A
   booking another worker made since that read is in the journal (its claim is recorded before it is sent
   and holds until the PMS's list shows it), so the read's age loses nothing;
2. refuse with [SlotUnavailableError][pms_connect.errors.SlotUnavailableError] if the provider (as provider or
   hygienist) or the chair is taken, else pick the chair;
3. record the write's journal entry carrying its [SlotClaim][pms_connect.stores.SlotClaim], still under the
   lock. The claim then covers the send, which happens after the lock is released, so that one slow PMS
   request never holds up the practice's other bookings.

A claim holds while its write is open and someone follows it (the poller's heartbeat renews it; a claim whose
holder died lapses ``hold_lease`` after the last heartbeat). It ends at once when the write fails or is not
applied. A written booking keeps holding for ``written_linger`` or until the PMS's own appointment list
shows the change, whichever comes first, because a PMS bridge's reads can lag its writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError, SlotUnavailableError
from pms_connect.models import Appointment, Operatory, WritebackState
from pms_connect.stores import JournalEntry, SlotClaim, Store

__all__ = ["BookingGuard", "HeldSlot"]

_RELEASED = frozenset({WritebackState.FAILED, WritebackState.NOT_APPLIED, WritebackState.CANCELLED})


@dataclass(frozen=True)
class HeldSlot:
    """A claim that still holds, and the appointment it is (or will be) once known."""

    claim: SlotClaim
    appointment_id: str | None


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class BookingGuard:
    """Check-and-claim for one practice (``practice`` is its key in the store)."""

    def __init__(
        self,
        store: Store,
        *,
        practice: str,
        clock: Clock,
        hold_lease: timedelta = timedelta(minutes=10),
        written_linger: timedelta = timedelta(minutes=15),
    ) -> None:
        if hold_lease <= timedelta(0) or written_linger < timedelta(0):
            raise InvalidArgumentError("hold_lease must be positive and written_linger not negative")
        self.store = store
        self.practice = practice
        self.clock = clock
        self.hold_lease = hold_lease
        self.written_linger = written_linger

    async def held(self, seen: Sequence[Appointment] = ()) -> list[HeldSlot]:
        """Every claim of the practice that still holds. ``seen`` is what the PMS just showed over the
        claims' times: a written claim the PMS already shows is left to the PMS's own list."""
        now = self.clock.now()
        entries = await self.store.journal.slot_entries(self.practice, settled_since=now - self.written_linger)
        shown = {a.id: a for a in seen}
        held: list[HeldSlot] = []
        for entry in entries:
            slot = self._still_held(entry, now, shown)
            if slot is not None:
                held.append(slot)
        return held

    def _still_held(self, entry: JournalEntry, now: datetime, shown: Mapping[str, Appointment]) -> HeldSlot | None:
        claim = entry.slot
        if claim is None:
            return None
        if entry.open:
            alive = entry.touched_at + self.hold_lease > now
            return HeldSlot(claim, claim.moves) if alive else None
        result = entry.result
        if result is None or result.status in _RELEASED:
            return None
        appointment_id = claim.moves or result.created_id
        appointment = shown.get(appointment_id) if appointment_id else None
        if appointment is not None and (appointment.cancelled or _utc(appointment.start) == _utc(claim.start)):
            return None  # the PMS shows the change: its own list decides from now on
        return HeldSlot(claim, appointment_id)

    async def claim(
        self,
        *,
        provider_id: str,
        operatory: str | None,
        operatories: Sequence[Operatory],
        start: datetime,
        end: datetime,
        moves: str | None,
        booked: Sequence[Appointment],
        record: Callable[[SlotClaim], Awaitable[None]],
    ) -> SlotClaim:
        """Check the slot and record the write that claims it, atomically for every worker of the store.

        ``booked`` is the PMS's appointments overlapping [start, end) (cancelled ones included), read just
        before;
        ``operatories`` are the practice's visible chairs in the order to try them; ``moves`` is the
        appointment a reschedule moves (its own time and claims do not block it); ``record`` journals the
        write with the claim it is given."""
        known = {o.id for o in operatories}
        if operatory is not None and operatory not in known:
            raise InvalidArgumentError("unknown operatory")
        async with self.store.lock(f"booking:{self.practice}"):
            held = [
                h
                for h in await self.held(booked)
                if h.claim.overlaps(start, end) and (moves is None or h.appointment_id != moves)
            ]
            busy = [
                a
                for a in booked
                if not a.cancelled and a.id != moves and _utc(a.start) < _utc(end) and _utc(start) < _utc(a.end)
            ]
            if any(provider_id in (a.provider_id, a.hygienist_id) for a in busy) or any(
                h.claim.provider_id == provider_id for h in held
            ):
                raise SlotUnavailableError("the provider is no longer free at that time")
            taken = {a.operatory for a in busy if a.operatory} | {
                h.claim.operatory for h in held if h.claim.operatory
            }
            chosen = self._chair(operatory, operatories, taken)
            claim = SlotClaim(
                provider_id=provider_id, operatory=chosen, start=_utc(start), end=_utc(end), moves=moves
            )
            await record(claim)
            return claim

    @staticmethod
    def _chair(operatory: str | None, operatories: Sequence[Operatory], taken: set[str]) -> str:
        if operatory is not None:
            if operatory in taken:
                raise SlotUnavailableError("the operatory is no longer free at that time")
            return operatory
        for candidate in operatories:
            if not candidate.hidden and candidate.id not in taken:
                return candidate.id
        raise SlotUnavailableError("no operatory is free at that time")
