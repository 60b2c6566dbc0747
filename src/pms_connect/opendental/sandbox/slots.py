"""``GET /appointments/Slots``: whole open slots, schedules minus appointments, blockouts and closures.

As documented [OD-appts]: it returns entire open slots (not suggested start times), searches by whole
appointment length, and for a provider with appointments in several operatories returns only the times free in
all of them. ``date`` must be today or later; without dates it covers the next 14 days (today and 13 more);
``ProvNum`` defaults to the practice's default provider; ``lengthMinutes`` drops shorter slots.

Where the docs are silent the sandbox decides: a slot is free time inside the provider's schedule rows (in
``OpNum`` when given, else in the operatories the row names, reported as the first of them), less every
occupying appointment of that provider (as ``ProvNum`` or, on a hygiene appointment, ``ProvHyg``) in any
operatory, less every occupying appointment in the slot's operatory whoever's it is, less blockouts on that
operatory, less a closure day (a Practice row 00:00-00:00), less the past. Occupying means Scheduled or
Complete: Broken, UnschedList, Planned and note appointments hold no time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pms_connect.opendental.sandbox.records import DbAppointment, DbSchedule, PracticeData
from pms_connect.opendental.sandbox.render import slot_json
from pms_connect.opendental.sandbox.state import ServerState
from pms_connect.opendental.sandbox.wire import OdRefusal, QueryArgs

__all__ = ["OCCUPYING", "closed_days", "occupies", "open_slots", "overlapping"]

OCCUPYING = frozenset({"Scheduled", "Complete"})
"""The statuses whose appointments hold their time on the appointment book."""

Span = tuple[dt.datetime, dt.datetime]


def occupies(row: DbAppointment) -> bool:
    return row.status in OCCUPYING and row.op != 0


def overlapping(data: PracticeData, op: int, start: dt.datetime, end: dt.datetime, *, skip: int = 0) -> bool:
    """Whether an occupying appointment other than ``skip`` overlaps ``[start, end)`` in operatory ``op``."""
    return any(
        a.op == op and occupies(a) and a.start < end and start < a.end and a.apt_num != skip
        for a in data.appointments.values()
    )


def closed_days(data: PracticeData) -> set[dt.date]:
    """Days with a Practice row from 00:00 to 00:00 (a holiday note, such as "3 Day Weekend") [OD-sched]."""
    return {
        s.day
        for s in data.schedules.values()
        if s.sched_type == "Practice" and s.start == dt.time(0) and s.stop == dt.time(0)
    }


def _subtract(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for start, end in spans:
        if cut[1] <= start or cut[0] >= end:
            out.append((start, end))
            continue
        if start < cut[0]:
            out.append((start, cut[0]))
        if cut[1] < end:
            out.append((cut[1], end))
    return out


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _days(state: ServerState, query: QueryArgs) -> list[dt.date]:
    today = state.today()
    day = query.day("date")
    if day is not None:
        if day < today:
            raise OdRefusal(400, "date must be today or a future date.")
        return [day]
    start, end = query.day("dateStart"), query.day("dateEnd")
    if start is None and end is None:
        start, end = today, today + dt.timedelta(days=13)  # "Default is the next 14 days."
    elif start is None:
        start = today
    elif end is None:
        end = start + dt.timedelta(days=13)
    assert start is not None
    assert end is not None
    start = max(start, today)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def open_slots(state: ServerState, query: QueryArgs) -> list[dict[str, Any]]:
    data = state.data
    days = _days(state, query)
    length = query.number("lengthMinutes")
    prov = query.number("ProvNum") or data.default_provider
    if prov not in data.providers:
        raise OdRefusal(400, "ProvNum is invalid.")
    op_filter = query.number("OpNum")
    if op_filter is not None and op_filter not in data.operatories:
        raise OdRefusal(400, "OpNum is invalid.")
    closed = closed_days(data)
    now = state.local_now()
    wanted = set(days) - closed
    rows: list[DbSchedule] = [
        s
        for s in data.schedules.values()
        if s.sched_type == "Provider"
        and s.prov_num == prov
        and s.day in wanted
        and (op_filter is None or op_filter in s.ops)
    ]
    taken = [a for a in data.appointments.values() if occupies(a) and a.start.date() in wanted]
    mine = [(a.start, a.end) for a in taken if a.prov_num == prov or (a.is_hygiene and a.prov_hyg == prov)]
    free: dict[tuple[dt.date, int], list[Span]] = {}
    for row in rows:
        op = op_filter if op_filter is not None else (row.ops[0] if row.ops else 0)
        spans: list[Span] = [(dt.datetime.combine(row.day, row.start), dt.datetime.combine(row.day, row.stop))]
        ops = {op_filter} if op_filter is not None else set(row.ops)
        cuts = list(mine)
        cuts += [(a.start, a.end) for a in taken if a.op in ops]
        cuts += [
            (dt.datetime.combine(b.day, b.start), dt.datetime.combine(b.day, b.stop))
            for b in data.schedules.values()
            if b.sched_type == "Blockout" and b.day == row.day and ops & set(b.ops)
        ]
        if row.day == now.date():
            cuts.append((dt.datetime.combine(row.day, dt.time(0)), now))
        for cut in cuts:
            spans = _subtract(spans, cut)
        free.setdefault((row.day, op), []).extend(spans)
    slots: list[tuple[dt.datetime, dt.datetime, int]] = []
    for (_day, op), spans in free.items():
        for start, end in _merge(spans):
            if end > start and (length is None or end - start >= dt.timedelta(minutes=length)):
                slots.append((start, end, op))
    slots.sort()
    return [slot_json(start, end, prov, op) for start, end, op in slots]
