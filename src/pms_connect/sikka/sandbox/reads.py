"""Read endpoints (GET with a request key): filters as documented per endpoint, over the office's practices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from starlette.responses import Response

from pms_connect.sikka.sandbox.data import AppointmentRecord, PatientRecord, Schedule, TransactionRecord
from pms_connect.sikka.sandbox.items import (
    APPOINTMENT_DEFAULTS,
    INSURANCE_DEFAULTS,
    PATIENT_DEFAULTS,
    PRACTICE_DEFAULTS,
    PROVIDER_DEFAULTS,
    SCHEDULE_DEFAULTS,
    TRANSACTION_DEFAULTS,
    appointment_item,
    insurance_item,
    operatory_item,
    patient_item,
    payment_type_item,
    practice_item,
    provider_item,
    schedule_item,
    subscriber_item,
    transaction_item,
)
from pms_connect.sikka.sandbox.query import eq, listing, parse_date, within
from pms_connect.sikka.sandbox.state import Ctx
from pms_connect.sikka.sandbox.wire import SikkaError, fmt_date, fmt_time, no_content

__all__ = ["READS"]

Handler = Callable[[Ctx], Awaitable[Response]]


def _match(ctx: Ctx, *pairs: tuple[str, str]) -> bool:
    """Every given filter parameter equals its stored value (``pairs`` are (param, stored value))."""
    for name, stored in pairs:
        wanted = ctx.params.get(name)
        if wanted is not None and wanted.strip() and not eq(stored, wanted):
            return False
    return True


def _in_office(ctx: Ctx, practice_id: str) -> bool:
    return practice_id in ctx.office_practices()


async def practices(ctx: Ctx) -> Response:
    rows = [
        p
        for p in ctx.world.practices.values()
        if _in_office(ctx, p.practice_id) and _match(ctx, ("practice_id", p.practice_id))
    ]
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="practices",
        records=rows,
        render=lambda p: practice_item(p, ctx.base),
        defaults=PRACTICE_DEFAULTS,
        sort_aliases={"practice_name": "name"},
    )


async def providers(ctx: Ctx) -> Response:
    rows = [
        p
        for p in ctx.world.providers
        if _in_office(ctx, p.practice_id)
        and _match(
            ctx,
            ("practice_id", p.practice_id),
            ("provider_id", p.provider_id),
            ("provider_type", p.provider_type),
            ("firstname", p.firstname),
            ("lastname", p.lastname),
            ("status", p.status),
            ("is_hidden", "True" if p.is_hidden else "False"),
            ("national_provider_identifier", p.national_provider_identifier),
            ("is_user", "False"),
        )
    ]
    rows.sort(key=lambda p: (p.practice_id, p.provider_id))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="providers",
        records=rows,
        render=lambda p: provider_item(p, ctx.base),
        defaults=PROVIDER_DEFAULTS,
    )


async def operatories(ctx: Ctx) -> Response:
    cust_id = ctx.params.get("cust_id", "").strip()
    if not cust_id:
        raise SikkaError("API1020", "cust_id is required (get it from the practices API).")
    rows = [
        o
        for o in ctx.world.operatories
        if _in_office(ctx, o.practice_id)
        and _match(
            ctx,
            ("cust_id", o.cust_id),
            ("practice_id", o.practice_id),
            ("operatory", o.operatory),
            ("is_hidden", "T" if o.is_hidden else "F"),
        )
    ]
    rows.sort(key=lambda o: (o.practice_id, o.operatory))
    return listing(ctx.params, base_url=ctx.base, api="operatories", records=rows, render=operatory_item)


async def practice_schedule(ctx: Ctx) -> Response:
    week = parse_date(ctx.params, "date")

    def keep(s: Schedule) -> bool:
        return (
            _in_office(ctx, s.practice_id)
            and _match(
                ctx,
                ("practice_id", s.practice_id),
                ("resource_id", s.resource_id),
                ("resource_type", s.resource_type),
            )
            and (week is None or s.week_start == week)
        )

    rows = sorted(
        (s for s in ctx.world.schedules if keep(s)),
        key=lambda s: (s.practice_id, s.resource_type != "Practice", s.resource_id, s.week_start),
    )
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="practice_schedule",
        records=rows,
        render=lambda s: schedule_item(s, ctx.base),
        defaults=SCHEDULE_DEFAULTS,
    )


_APPT_DATE_FIELDS: dict[str, Callable[[AppointmentRecord], dt.date | None]] = {
    "date": lambda a: a.start.date(),
    "last_changed_date": lambda a: a.last_changed.date(),
    "appointment_made_date": lambda a: a.appointment_made_date,
    "confirmed_on_date": lambda a: a.confirmed_on_date,
    "cancelled_date": lambda a: a.cancelled_date,
}


async def appointments(ctx: Ctx) -> Response:
    start = parse_date(ctx.params, "startdate")
    end = parse_date(ctx.params, "enddate")
    on = ctx.params.get("date_filter_on", "").strip().lower() or "date"
    if on not in _APPT_DATE_FIELDS:
        raise SikkaError("API1026", f"date_filter_on must be one of {', '.join(sorted(_APPT_DATE_FIELDS))}.")
    pick = _APPT_DATE_FIELDS[on]
    code = ctx.params.get("procedure_code", "").strip().lower()

    def keep(a: AppointmentRecord) -> bool:
        return (
            _in_office(ctx, a.practice_id)
            and _match(
                ctx,
                ("appointment_sr_no", a.appointment_sr_no),
                ("practice_id", a.practice_id),
                ("patient_id", a.patient_id),
                ("guarantor_id", a.guarantor_id),
                ("provider_id", a.provider_id),
                ("status", a.status),
                ("operatory", a.operatory),
                ("type", a.type),
            )
            and within(pick(a), start, end)
            and (not code or code in (c.lower() for c in a.procedure_codes))
        )

    rows = sorted((a for a in ctx.world.appointments.values() if keep(a)), key=lambda a: int(a.appointment_sr_no))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="appointments",
        records=rows,
        render=lambda a: appointment_item(a, ctx.base),
        defaults=APPOINTMENT_DEFAULTS,
        sort_aliases={"appointment_date": "date+time", "appointment_time": "time"},
    )


_SLOT_DEFAULTS = frozenset(
    {
        "href",
        "provider_id",
        "provider_href",
        "practice_id",
        "practice_href",
        "date",
        "time",
        "template_code",
        "template_unit",
        "template_color",
        "template_type",
        "old_color",
        "old_code",
        "scheduled_color",
        "scheduled_code",
    }
)


async def available_slots(ctx: Ctx) -> Response:
    """Native open slots: Sikka documents them for OrthoTrac and Dolphin, and its writeback docs validate Planet
    DDS bookings against them too; everyone else gets 204."""
    start = parse_date(ctx.params, "startdate") or ctx.state.today()
    end = parse_date(ctx.params, "enddate") or start + dt.timedelta(days=6)
    name = ctx.state.pms_name.lower()
    if not any(pms in name for pms in ("orthotrac", "dolphin", "planet dds")):
        return no_content()
    now = ctx.state.local_now()
    rows: list[dict[str, str]] = []
    world = ctx.world
    booked: dict[tuple[str, dt.date], list[AppointmentRecord]] = {}
    for a in world.appointments.values():
        if not a.cancelled and start <= a.start.date() <= end:
            booked.setdefault((a.practice_id, a.start.date()), []).append(a)
    for practice_id in ctx.office_practices():
        if not _match(ctx, ("practice_id", practice_id)):
            continue
        ops = [
            o.operatory
            for o in world.operatories
            if o.practice_id == practice_id and not o.is_hidden and _match(ctx, ("operatory", o.operatory))
        ]
        day = start
        while day <= end:
            taken = booked.get((practice_id, day), [])
            if not _blocks(ctx, practice_id, "Practice", practice_id, day):
                day += dt.timedelta(days=1)
                continue
            for provider in world.providers:
                if provider.practice_id != practice_id or not provider.active or provider.is_hidden:
                    continue
                if not _match(ctx, ("provider_id", provider.provider_id)):
                    continue
                for block_start, block_end in _blocks(ctx, practice_id, "Provider", provider.provider_id, day):
                    t = dt.datetime.combine(day, block_start)
                    while t + dt.timedelta(minutes=30) <= dt.datetime.combine(day, block_end):
                        slot_end = t + dt.timedelta(minutes=30)
                        clash = [a for a in taken if a.overlaps(t, slot_end)]
                        busy = any(a.provider_id == provider.provider_id for a in clash)
                        used = {a.operatory for a in clash}
                        op = next((o for o in ops if o not in used), None)
                        if t >= now and not busy and op is not None:
                            rows.append(_slot(ctx, practice_id, provider.provider_id, op, t, len(rows)))
                        t = slot_end
            day += dt.timedelta(days=1)
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="appointments_available_slots",
        records=rows,
        render=dict,
        defaults=_SLOT_DEFAULTS,
    )


def _blocks(
    ctx: Ctx, practice_id: str, kind: str, resource: str, day: dt.date
) -> tuple[tuple[dt.time, dt.time], ...]:
    week = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    for s in ctx.world.schedules:
        if (
            s.practice_id == practice_id
            and s.resource_type == kind
            and s.resource_id == resource
            and s.week_start == week
        ):
            return s.blocks_on(day)
    return ()


def _slot(ctx: Ctx, practice_id: str, provider_id: str, op: str, t: dt.datetime, n: int) -> dict[str, str]:
    p = f"{ctx.base}/practices/{practice_id}"
    return {
        "href": f"{p}/appointments_available_slots/{practice_id}",
        "provider_id": provider_id,
        "provider_href": f"{p}/providers/{provider_id}",
        "practice_id": practice_id,
        "practice_href": p,
        "date": fmt_date(t.date()),
        "time": fmt_time(t),
        "end_time": fmt_time(t + dt.timedelta(minutes=30)),
        "time_units": "3",
        "operatory": op,
        "sr_no": str(n + 1),
        "template_code": "OPEN",
        "template_unit": "3",
        "template_color": "",
        "template_type": "1",
        "old_color": "",
        "old_code": "",
        "scheduled_color": "",
        "scheduled_code": "",
        "cust_id": "1",
    }


async def appointment_statuses(ctx: Ctx) -> Response:
    rows = [
        (pid, status)
        for pid in ctx.office_practices()
        for status in ctx.world.appointment_statuses
        if _match(ctx, ("practice_id", pid), ("status", status))
    ]

    def render(row: tuple[str, str]) -> dict[str, str]:
        p = f"{ctx.base}/practices/{row[0]}"
        return {
            "href": f"{p}/appointment_statuses/{row[1]}",
            "status": row[1],
            "practice_id": row[0],
            "practice_href": p,
        }

    return listing(ctx.params, base_url=ctx.base, api="appointment_statuses", records=rows, render=render)


async def practice_variables(ctx: Ctx) -> Response:
    catalogue = [("Appointment Status", s) for s in ctx.world.appointment_statuses]
    catalogue += [("Patient Status", s) for s in ("Active", "Inactive", "Non Patient")]
    catalogue += [("Gender", s) for s in ("Male", "Female", "Unknown")]
    rows = [
        (pid, service, value)
        for pid in ctx.office_practices()
        for service, value in catalogue
        if _match(ctx, ("practice_id", pid), ("service_name", service), ("service_item", value))
    ]

    def render(row: tuple[str, str, str]) -> dict[str, str]:
        p = f"{ctx.base}/practices/{row[0]}"
        return {
            "href": f"{p}/practice_variables",
            "practice_id": row[0],
            "practice_href": p,
            "description": row[2],
            "service_name": row[1],
            "value": row[2],
            "service_item": row[2],
        }

    defaults = frozenset({"href", "practice_id", "practice_href", "description", "service_name", "value"})
    return listing(
        ctx.params, base_url=ctx.base, api="practice_variables", records=rows, render=render, defaults=defaults
    )


_SEARCH_FIELDS = (
    "firstname",
    "lastname",
    "middlename",
    "email",
    "city",
    "state",
    "zipcode",
    "homephone",
    "workphone",
    "cell",
)


async def patients(ctx: Ctx) -> Response:
    search = ctx.params.get("search", "").strip().lower()
    first_visit = parse_date(ctx.params, "first_visit")
    last_visit = parse_date(ctx.params, "last_visit")

    def keep(p: PatientRecord) -> bool:
        return (
            _in_office(ctx, p.practice_id)
            and _match(
                ctx,
                ("patient_id", p.patient_id),
                ("practice_id", p.practice_id),
                ("provider_id", p.provider_id),
                ("guarantor_id", p.guarantor_id),
                ("firstname", p.firstname),
                ("lastname", p.lastname),
                ("email", p.email),
                ("cell", p.cell),
                ("phone", p.cell),
                ("homephone", p.homephone),
                ("workphone", p.workphone),
                ("status", p.status),
            )
            and (not search or any(search in str(getattr(p, f)).lower() for f in _SEARCH_FIELDS))
            and (first_visit is None or p.first_visit == first_visit)
            and (last_visit is None or p.last_visit == last_visit)
        )

    rows = sorted((p for p in ctx.world.patients.values() if keep(p)), key=lambda p: int(p.patient_id))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="patients",
        records=rows,
        render=lambda p: patient_item(p, ctx.base, ctx.world),
        defaults=PATIENT_DEFAULTS,
        sort_aliases={"first_name": "firstname", "last_name": "lastname", "patient_zipcode": "zipcode"},
    )


async def insurance_companies(ctx: Ctx) -> Response:
    rows = [
        c
        for c in ctx.world.carriers.values()
        if _in_office(ctx, c.practice_id)
        and _match(
            ctx,
            ("insurance_company_id", c.insurance_company_id),
            ("practice_id", c.practice_id),
            ("carrier_id", c.insurance_company_id),
        )
    ]
    rows.sort(key=lambda c: int(c.insurance_company_id))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="insurance_companies",
        records=rows,
        render=lambda c: insurance_item(c, ctx.base),
        defaults=INSURANCE_DEFAULTS,
        sort_aliases={"insurance_company_name": "insurance_company_name"},
    )


async def subscribers(ctx: Ctx) -> Response:
    rows = [
        s
        for s in ctx.world.subscribers
        if _in_office(ctx, s.practice_id)
        and _match(
            ctx,
            ("patient_id", s.patient_id),
            ("practice_id", s.practice_id),
            ("subscriber_id", s.subscriber_id),
        )
    ]
    rows.sort(key=lambda s: (int(s.patient_id), s.type))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="subscribers",
        records=rows,
        render=lambda s: subscriber_item(s, ctx.base, ctx.world),
    )


_TX_DATE_FIELDS: dict[str, Callable[[TransactionRecord], dt.date]] = {
    "transaction_date": lambda t: t.transaction_date,
    "transaction_entry_date": lambda t: t.entry_date,
    "last_updated_by": lambda t: t.last_changed.date(),
}


async def transactions(ctx: Ctx) -> Response:
    start = parse_date(ctx.params, "startdate")
    end = parse_date(ctx.params, "enddate")
    on = ctx.params.get("date_filter_on", "").strip().lower() or "transaction_date"
    if on not in _TX_DATE_FIELDS:
        raise SikkaError("API1026", f"date_filter_on must be one of {', '.join(sorted(_TX_DATE_FIELDS))}.")
    pick = _TX_DATE_FIELDS[on]

    def keep(t: TransactionRecord) -> bool:
        return (
            _in_office(ctx, t.practice_id)
            and _match(
                ctx,
                ("transaction_sr_no", t.transaction_sr_no),
                ("practice_id", t.practice_id),
                ("patient_id", t.patient_id),
                ("guarantor_id", t.guarantor_id),
                ("provider_id", t.provider_id),
                ("procedure_code", t.procedure_code),
                ("transaction_type", t.transaction_type),
                ("payment_type", t.payment_type),
            )
            and within(pick(t), start, end)
        )

    rows = sorted((t for t in ctx.world.transactions.values() if keep(t)), key=lambda t: int(t.transaction_sr_no))
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="transactions",
        records=rows,
        render=lambda t: transaction_item(t, ctx.base),
        defaults=TRANSACTION_DEFAULTS,
        sort_aliases={"transaction_time": "transaction_date"},
    )


_PAYMENT_FLAGS = {
    "is_adjustment_type": "credit_adjustment",
    "is_debit_adjustment_type": "debit_adjustment",
    "is_insurance_type": "insurance",
}


async def payment_types(ctx: Ctx) -> Response:
    kinds = {kind for flag, kind in _PAYMENT_FLAGS.items() if ctx.params.get(flag, "").strip().lower() == "true"}
    rows = [
        t
        for t in ctx.world.payment_types
        if _in_office(ctx, t.practice_id)
        and _match(ctx, ("practice_id", t.practice_id), ("code", t.code))
        and (not kinds or t.kind in kinds)
    ]
    return listing(
        ctx.params,
        base_url=ctx.base,
        api="payment_types",
        records=rows,
        render=lambda t: payment_type_item(t, ctx.base),
    )


#: endpoint name (also its scope entry) -> handler
READS: dict[str, Handler] = {
    "practices": practices,
    "providers": providers,
    "operatories": operatories,
    "practice_schedule": practice_schedule,
    "appointments": appointments,
    "appointments_available_slots": available_slots,
    "appointment_statuses": appointment_statuses,
    "practice_variables": practice_variables,
    "patients": patients,
    "insurance_companies": insurance_companies,
    "subscribers": subscribers,
    "transactions": transactions,
    "payment_types": payment_types,
}
