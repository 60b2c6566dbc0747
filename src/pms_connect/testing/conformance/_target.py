"""``ConformanceTarget``: what a provider author tells the conformance kit about the provider under test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date

from pms_connect.protocol import PmsProvider

__all__ = ["ConformanceTarget"]


@dataclass(frozen=True)
class ConformanceTarget:
    """How to reach the provider under test, and the few facts about its data the kit cannot find itself.

    Only ``connect`` is required. Everything else the kit finds through the public API (a patient, a free
    slot, a payment type from the ledger, the zone's next daylight-saving change), or skips the check that
    needs it (``refuse_next_write``).
    """

    connect: Callable[[], AbstractAsyncContextManager[PmsProvider]]
    """Open one provider instance: ``async with target.connect() as pms``. Every call must give an independent
    instance (its own store, caches and write poller) on the same PMS data, so that two calls act as two
    workers that share nothing but the PMS: one books a slot, the other must see it taken. Called many times
    and from fresh event loops (each check runs under its own ``asyncio.run``)."""

    advance: Callable[[float], Awaitable[None]] | None = None
    """Let this many seconds of the provider's time pass while other tasks run, so that the PMS applies queued
    writes and the provider's poller learns of them without anyone waiting on a handle. Over a
    [FakeClock][pms_connect.testing.FakeClock] this is ``clock.sleep``. None: the PMS applies writes before
    the write call returns, so a handle's outcome is known at once."""

    requests: Callable[[], int] | None = None
    """How many requests the PMS has received so far (a sandbox's request log: ``lambda:
    len(sandbox.requests)``), to prove that bad arguments are refused before anything is sent. None: that part
    of the check is left out; the refusals are still checked."""

    refuse_next_write: Callable[[], Awaitable[None] | None] | None = None
    """Make the PMS refuse the next write it applies (a sandbox fault such as
    ``sandbox.faults.fail_next_writebacks(1)``); sync or async. None: the check that a refused write ends
    ``failed`` is skipped."""

    slot_window: tuple[date, date] | None = None
    """Days (both inclusive) in which the practice works and has open time for a few bookings. None: today
    and the thirteen days after it."""

    dst_day: date | None = None
    """A day on which the practice's zone changes its UTC offset and the PMS holds appointments. None: the
    kit books an appointment across the zone's next change itself (any PMS that accepts a booking outside
    working hours; give a day instead for one that refuses them)."""

    payment_type: str | None = None
    """A payment type code the practice accepts. None: the most common one in the last 90 days of the
    ledger."""

    write_timeout: float = 900.0
    """The longest a write may take to reach its outcome, in the provider's seconds (virtual ones over a
    ``FakeClock``)."""
