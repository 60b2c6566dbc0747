"""Finding open slots for any provider: the arguments, the candidates, what is held, then the arithmetic.

A provider supplies what only it knows (its providers, chairs, published hours, the appointments of a
window, or the PMS's own openings, through [SlotSource][pms_connect.slot_search.SlotSource]); the rest is
the same everywhere and lives here:

* every argument is checked before any request ([slot_query][pms_connect.slot_search.slot_query]);
* only active providers and visible chairs are candidates, a provider asked for by id must be one;
* times claimed by bookings in flight, this worker's or another's (the
  [BookingGuard][pms_connect.booking.BookingGuard]'s claims in the store), are as taken as booked ones;
* each provider is seated first in the chairs the practice usually books them in;
* computed slots come from [pms_connect.scheduling][]: working hours minus busy time, never in the past.

Reference data is read through the provider's cache, and the reads of one search go out together.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from pms_connect import windows
from pms_connect.booking import BookingGuard, HeldSlot
from pms_connect.errors import InvalidArgumentError, UnsupportedOperationError
from pms_connect.models import Appointment, Operatory, Provider, ProviderKind, TimeSlot
from pms_connect.scheduling import (
    DEFAULT_GRID,
    PracticeHours,
    natural_order,
    open_slots,
    slots_from_openings,
    validate_duration,
    validate_grid,
    validate_limit,
)
from pms_connect.stores import SlotClaim
from pms_connect.validation import check_optional_id

__all__ = [
    "SlotQuery",
    "SlotSource",
    "candidates",
    "chair_preferences",
    "check_kinds",
    "computed_slots",
    "native_slots",
    "slot_query",
]


class SlotSource(Protocol):
    """What a provider supplies for a slot search (a provider object usually is one)."""

    @property
    def timezone(self) -> ZoneInfo: ...

    @property
    def guard(self) -> BookingGuard: ...

    def now(self) -> datetime: ...

    async def known_providers(self) -> builtins.list[Provider]: ...

    async def known_operatories(self) -> builtins.list[Operatory]: ...


@dataclass(frozen=True)
class SlotQuery:
    """A slot search's checked arguments: ``span`` in the practice's zone, everything else as asked."""

    span: windows.Window
    duration: timedelta
    provider_id: str | None
    operatory: str | None
    kinds: frozenset[ProviderKind] | None
    limit: int | None
    grid: timedelta


def check_kinds(kinds: Iterable[ProviderKind | str] | ProviderKind | str | None) -> frozenset[ProviderKind] | None:
    """``kinds`` as a set of [ProviderKind][pms_connect.models.ProviderKind] (None: every kind)."""
    if kinds is None:
        return None
    if isinstance(kinds, str | ProviderKind):
        kinds = [kinds]
    try:
        chosen = frozenset(ProviderKind(k) for k in kinds)
    except (ValueError, TypeError):
        names = ", ".join(k.value for k in ProviderKind)
        raise InvalidArgumentError(f"kinds must be ProviderKind values ({names})") from None
    if not chosen:
        raise InvalidArgumentError("kinds must name at least one ProviderKind (or be None for all)")
    return chosen


def slot_query(
    *,
    start: date | datetime,
    end: date | datetime,
    duration: timedelta,
    zone: ZoneInfo,
    provider_id: str | None = None,
    operatory: str | None = None,
    kinds: Iterable[ProviderKind] | None = None,
    limit: int | None = None,
    grid: timedelta = DEFAULT_GRID,
) -> SlotQuery:
    """Check a slot search's arguments, before any request (a date ``end`` is that whole local day)."""
    return SlotQuery(
        duration=validate_duration(duration),
        limit=validate_limit(limit),
        grid=validate_grid(grid),
        kinds=check_kinds(kinds),
        provider_id=check_optional_id(provider_id, "provider_id"),
        operatory=check_optional_id(operatory, "operatory"),
        span=windows.window(start, end, zone),
    )


def candidates(
    query: SlotQuery, providers: Iterable[Provider], operatories: Iterable[Operatory]
) -> tuple[list[str], list[str]]:
    """The providers (active, of the kinds asked) and chairs (visible) a search may offer, in natural
    order; one asked for by id must be among them."""
    active = {p.id: p for p in providers if p.active}
    if query.provider_id is not None and query.provider_id not in active:
        raise InvalidArgumentError("provider_id is not an active provider of this practice")
    visible = natural_order(o.id for o in operatories if not o.hidden)
    if query.operatory is not None and query.operatory not in visible:
        raise InvalidArgumentError("operatory is not a visible operatory of this practice")
    chosen = [
        p.id
        for p in active.values()
        if (query.provider_id is None or p.id == query.provider_id)
        and (query.kinds is None or p.kind in query.kinds)
    ]
    return natural_order(chosen), [query.operatory] if query.operatory is not None else visible


def chair_preferences(appointments: Iterable[Appointment]) -> dict[str, list[str]]:
    """Each provider's operatories, most booked first: where the practice usually seats that provider."""
    counts: dict[str, dict[str, int]] = {}
    for a in appointments:
        if a.provider_id and a.operatory:
            per = counts.setdefault(a.provider_id, {})
            per[a.operatory] = per.get(a.operatory, 0) + 1
    return {p: sorted(per, key=lambda o: (-per[o], o)) for p, per in counts.items()}


async def computed_slots(
    source: SlotSource,
    query: SlotQuery,
    *,
    hours: Callable[[], Awaitable[PracticeHours]],
    booked: Callable[[windows.Window], Awaitable[list[Appointment]]],
) -> list[TimeSlot]:
    """Slots from the practice's published ``hours`` minus the ``booked`` appointments of the window and
    the claims in flight. The reads (providers, chairs, hours, the book) go out together."""
    providers, operatories, published, appointments = await asyncio.gather(
        source.known_providers(), source.known_operatories(), hours(), booked(query.span)
    )
    held = await source.guard.held(appointments)
    busy = appointments + [_as_appointment(h.claim, source.timezone) for h in held]
    provider_ids, operatory_ids = candidates(query, providers, operatories)
    if published.published == 0:
        raise UnsupportedOperationError("the practice publishes no working hours; open slots cannot be computed")
    return open_slots(
        start=query.span.start,
        end=query.span.end,
        duration=query.duration,
        zone=source.timezone,
        hours=published.for_resources(provider_ids, operatory_ids),
        providers=provider_ids,
        operatories=operatory_ids,
        booked=busy,
        not_before=source.now(),
        grid=query.grid,
        preferences=chair_preferences(busy),
        limit=query.limit,
    )


async def native_slots(
    source: SlotSource,
    query: SlotQuery,
    *,
    openings: Callable[[SlotQuery], Awaitable[list[TimeSlot]]],
) -> list[TimeSlot]:
    """Slots from the PMS's own ``openings`` (for PMSs that accept a booking only at one), cut to whole
    slots of the duration, minus the claims in flight."""
    providers, operatories, offered, held = await asyncio.gather(
        source.known_providers(), source.known_operatories(), openings(query), source.guard.held()
    )
    provider_ids, operatory_ids = candidates(query, providers, operatories)
    slots = slots_from_openings(
        offered,
        start=query.span.start,
        end=query.span.end,
        duration=query.duration,
        zone=source.timezone,
        providers=set(provider_ids),
        operatories=set(operatory_ids),
        not_before=source.now(),
        require_operatory=query.operatory is not None,
        limit=None,
    )
    free = [s for s in slots if not any(_clashes(h, s) for h in held)]
    return free if query.limit is None else free[: query.limit]


def _clashes(held: HeldSlot, slot: TimeSlot) -> bool:
    claim = held.claim
    same = claim.provider_id == slot.provider_id or (
        claim.operatory is not None and claim.operatory == slot.operatory
    )
    return same and claim.overlaps(slot.start, slot.end)


def _as_appointment(claim: SlotClaim, zone: ZoneInfo) -> Appointment:
    """A claim in flight, shaped as the appointment it will be, for the slot arithmetic."""
    return Appointment(
        id=f"claim:{claim.provider_id}:{claim.start.isoformat()}",
        provider_id=claim.provider_id,
        operatory=claim.operatory,
        start=claim.start.astimezone(zone),
        duration=claim.end - claim.start,
    )
