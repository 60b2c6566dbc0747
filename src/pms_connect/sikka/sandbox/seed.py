"""Deterministic generation of the sandbox's world from a seed and "today".

Everything is invented by code from the tables in ``catalog``; nothing is or resembles a real
person's record. The generated world is cached per (seed, today, PMS) as immutable records; each sandbox gets
fresh containers over the shared records, so building one is cheap and never leaks changes into another.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, replace
from decimal import Decimal

from pms_connect.sikka.sandbox.catalog import (
    APPOINTMENT_STATUSES,
    CARRIERS,
    CITIES,
    DEMO_APP,
    DEMO_OFFICE_ID,
    DENTIST_VISITS,
    EMPLOYERS,
    FEMALE_NAMES,
    HYGIENE_VISITS,
    LAST_NAMES,
    MALE_NAMES,
    OTHER_APP,
    OTHER_OFFICE_ID,
    PAYMENT_TYPES,
    PREFERRED_NAMES,
    PROCEDURES,
    STREETS,
    SUPPORTED_PMSES,
    PracticeSpec,
    practice_specs,
    token,
)
from pms_connect.sikka.sandbox.data import (
    AppointmentRecord,
    HoursBlock,
    InsuranceCompany,
    Office,
    OperatoryRecord,
    PatientRecord,
    PaymentType,
    PmsSupport,
    PracticeRecord,
    ProviderRecord,
    Schedule,
    Subscriber,
    TransactionRecord,
    World,
)

__all__ = ["build_world"]


def _phone(rng: random.Random, *, work: bool = False) -> str:
    exchange = f"0{rng.randint(10, 99)}"
    line = f"{rng.randint(0, 9999):04d}"
    roll = rng.random()
    if roll < 0.78:
        text = f"555-{exchange}-{line}"
    elif roll < 0.90:
        text = f"(555) {exchange}-{line}"
    elif roll < 0.97:
        text = f"555{exchange}{line}"
    else:
        text = f"555.{exchange}.{line}"
    if work and rng.random() < 0.2:
        text += f" x{rng.randint(100, 399)}"
    return text


def _email(rng: random.Random, first: str, last: str) -> str:
    domain = rng.choice(("example.com", "example.org", "example.net"))
    clean = "".join(ch for ch in last.lower() if ch.isalpha())
    style = rng.random()
    if style < 0.5:
        local = f"{first.lower()}.{clean}"
    elif style < 0.8:
        local = f"{first[0].lower()}{clean}{rng.randint(1, 99)}"
    else:
        local = f"{clean}.{first.lower()}{rng.randint(1960, 2010)}"
    return f"{local}@{domain}"


def _birthdate(rng: random.Random, today: dt.date, lo: int, hi: int) -> dt.date:
    start = dt.date(today.year - hi, 1, 1)
    end = dt.date(today.year - lo, 12, 28)
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _person(rng: random.Random, gender: str) -> str:
    return rng.choice(MALE_NAMES if gender == "M" else FEMALE_NAMES)


def _patients(
    rng: random.Random, spec: PracticeSpec, today: dt.date, carriers: list[InsuranceCompany]
) -> tuple[list[PatientRecord], list[Subscriber]]:
    practice_id = spec.practice.practice_id
    active_providers = [p.provider.provider_id for p in spec.providers if p.provider.provider_type == "Dentist"]
    patients: list[PatientRecord] = []
    subscribers: list[Subscriber] = []
    next_id = spec.first_patient_id
    while len(patients) < spec.patient_count:
        street = f"{rng.randint(10, 9899)} {rng.choice(STREETS)}"
        city, state, zipcode = rng.choice(CITIES)
        last = rng.choice(LAST_NAMES)
        home = _phone(rng) if rng.random() < 0.65 else ""
        shape = rng.random()
        adults = 1 if shape < 0.45 or shape > 0.85 else 2
        kids = 0 if shape < 0.55 else rng.randint(1, 4)
        guarantor_id = str(next_id)
        carrier = rng.choice(carriers) if rng.random() < 0.62 else None
        employer = rng.choice(EMPLOYERS)
        parent_cell = ""
        parent_email = ""
        household: list[tuple[str, str, str, dt.date | None, str, str, str, str]] = []
        for index in range(adults + kids):
            is_adult = index < adults
            gender = rng.choice("MF")
            first = _person(rng, gender)
            member_last = last if is_adult is False or index == 0 or rng.random() < 0.8 else rng.choice(LAST_NAMES)
            if is_adult:
                birth: dt.date | None = _birthdate(rng, today, 21, 82)
                cell = _phone(rng) if rng.random() < 0.9 else ""
                email = _email(rng, first, member_last) if rng.random() < 0.75 else ""
                parent_cell = parent_cell or cell
                parent_email = parent_email or email
                relation = "Self" if index == 0 else "Spouse"
            else:
                birth = _birthdate(rng, today, 1, 17)
                own = birth.year <= today.year - 13 and rng.random() < 0.5
                cell = _phone(rng) if own else (parent_cell if rng.random() < 0.45 else "")
                email = parent_email if rng.random() < 0.3 else ""
                relation = "Child"
                if index == adults and household and household[0][2] == gender and rng.random() < 0.12:
                    first = household[0][0]  # a "Jr." sharing the parent's name: same phone, other birthdate
            if rng.random() < 0.012:
                birth = None
            household.append((first, member_last, gender, birth, cell, email, relation, ""))
        for first, member_last, gender, birth, cell, email, relation, _ in household:
            if len(patients) >= spec.patient_count:
                break
            patient_id = str(next_id)
            next_id += 1
            roll = rng.random()
            status = "Active" if roll < 0.88 else ("Inactive" if roll < 0.98 else "Non Patient")
            preferred = PREFERRED_NAMES.get(first, "") if rng.random() < 0.6 else ""
            middle = rng.choice(("", "", "", "A", "J", "M", "Lee", "Marie", "R"))
            created = today - dt.timedelta(days=rng.randint(90, 365 * 12))
            work = _phone(rng, work=True) if relation != "Child" and rng.random() < 0.35 else ""
            subscriber_id = f"{carrier.insurance_company_id}_{guarantor_id}" if carrier else ""
            patients.append(
                PatientRecord(
                    practice_id=practice_id,
                    patient_id=patient_id,
                    guarantor_id=guarantor_id,
                    firstname=first,
                    middlename=middle,
                    lastname=member_last,
                    preferred_name=preferred,
                    salutation="",
                    birthdate=birth,
                    gender=gender,
                    status=status,
                    address_line1=street,
                    address_line2="" if rng.random() < 0.9 else f"Apt {rng.randint(1, 40)}",
                    city=city,
                    state=state,
                    zipcode=zipcode,
                    homephone=home,
                    workphone=work,
                    cell=cell,
                    email=email,
                    provider_id=rng.choice(active_providers) if rng.random() < 0.95 else "DMD4",
                    first_visit=None,
                    last_visit=None,
                    primary_insurance_company_id=carrier.insurance_company_id if carrier else "",
                    subscriber_id=subscriber_id,
                    primary_relationship=relation if carrier else "",
                    created_date=created,
                    last_changed=dt.datetime.combine(created, dt.time(9, 0)),
                )
            )
            if carrier is not None:
                used = Decimal(rng.choice((0, 0, 150, 420, 800, 1150))).quantize(Decimal("0.0001"))
                remaining = Decimal(rng.choice((0, 25, 50, 50))).quantize(Decimal("0.0001"))
                subscribers.append(
                    Subscriber(
                        practice_id,
                        patient_id,
                        subscriber_id,
                        "Dental Primary",
                        carrier.insurance_company_id,
                        employer,
                        relation,
                        used,
                        remaining,
                        dt.date(today.year - rng.randint(0, 6), rng.randint(1, 12), 1),
                    )
                )
                if rng.random() < 0.05:
                    second = rng.choice(carriers)
                    subscribers.append(
                        Subscriber(
                            practice_id,
                            patient_id,
                            f"{second.insurance_company_id}_{guarantor_id}",
                            "Dental Secondary",
                            second.insurance_company_id,
                            "",
                            relation,
                            Decimal("0.0000"),
                            Decimal("50.0000"),
                            None,
                        )
                    )
        next_id += rng.randint(0, 2)  # gaps in the id sequence, as deletions leave them
    return patients, subscribers


def _carriers(rng: random.Random, spec: PracticeSpec) -> list[InsuranceCompany]:
    result = []
    for offset, (name, plan_type) in enumerate(CARRIERS):
        city, state, zipcode = rng.choice(CITIES)
        maximum = Decimal(rng.choice((1000, 1500, 2000, 2500))).quantize(Decimal("0.0001"))
        result.append(
            InsuranceCompany(
                practice_id=spec.practice.practice_id,
                insurance_company_id=str(spec.first_carrier_id + offset),
                name=name,
                address_line1=f"P.O. Box {rng.randint(1000, 99999)}",
                city=city,
                state=state,
                zipcode=zipcode,
                phone=f"555-0{rng.randint(10, 99)}-{rng.randint(0, 9999):04d}",
                payer_id=str(rng.randint(10000, 99999)),
                group_plan_name=f"{name.split()[0]} Employer Group",
                group_plan_number=str(rng.randint(100000, 999999)),
                plan_type=plan_type,
                maximum_yearly_benefit=maximum,
                individual_deductible_limit=Decimal("50.0000"),
                family_deductible_limit=Decimal("150.0000"),
                renew_month=str(rng.choice((1, 1, 1, 7))),
            )
        )
    return result


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


def _schedules(spec: PracticeSpec, first: dt.date, last: dt.date, closures: set[dt.date]) -> list[Schedule]:
    rows: list[Schedule] = []
    practice_id = spec.practice.practice_id
    week = _week_start(first)

    def weekly(days: dict[int, tuple[HoursBlock, ...]]) -> tuple[tuple[HoursBlock, ...], ...]:
        return tuple(days.get((i - 1) % 7, ()) for i in range(7))

    while week <= last:
        holidays = tuple((week + dt.timedelta(days=i)) in closures for i in range(7))
        practice_hours = tuple(() if holidays[i] else h for i, h in enumerate(weekly(spec.hours)))
        weekend = tuple(i in (0, 6) for i in range(7))
        rows.append(
            Schedule(
                practice_id,
                "Practice",
                practice_id,
                week,
                practice_hours,
                tuple(a or b for a, b in zip(holidays, weekend, strict=True)),
                spec.practice.cust_id,
            )
        )
        for p in spec.providers:
            if p.provider.is_hidden:
                continue
            rows.append(
                Schedule(
                    practice_id,
                    "Provider",
                    p.provider.provider_id,
                    week,
                    weekly(p.days),
                    (False,) * 7,
                    spec.practice.cust_id,
                )
            )
        for op in spec.operatories:
            hours = () if op.is_hidden else weekly(spec.hours)
            rows.append(
                Schedule(
                    practice_id,
                    "Operatory",
                    op.operatory,
                    week,
                    hours or ((),) * 7,
                    (False,) * 7,
                    spec.practice.cust_id,
                )
            )
        week += dt.timedelta(days=7)
    return rows


@dataclass
class _Book:
    """Per-day occupancy in 10-minute units, so the seed never double-books a provider or a chair."""

    busy: dict[tuple[str, dt.date], set[int]]

    def free(self, key: str, day: dt.date, start: int, units: int) -> bool:
        taken = self.busy.get((key, day), set())
        return all(u not in taken for u in range(start, start + units))

    def take(self, key: str, day: dt.date, start: int, units: int) -> None:
        self.busy.setdefault((key, day), set()).update(range(start, start + units))


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _appointments(
    rng: random.Random,
    spec: PracticeSpec,
    patients: list[PatientRecord],
    first: dt.date,
    last: dt.date,
    today: dt.date,
    closures: set[dt.date],
    next_sr: int,
) -> list[AppointmentRecord]:
    by_id = {p.patient_id: p for p in patients}
    adults = [p for p in patients if p.status == "Active"]
    kids = [p for p in adults if p.birthdate is not None and (today - p.birthdate).days < 365 * 14]
    book = _Book({})
    result: list[AppointmentRecord] = []
    fees = {code: Decimal(fee).quantize(Decimal("0.0001")) for code, (_, fee) in PROCEDURES.items()}
    day = first
    while day <= last:
        if day.weekday() >= 5 or day in closures:
            day += dt.timedelta(days=1)
            continue
        distance = (day - today).days
        fill = 0.88 if distance < 0 else max(0.25, 0.85 - distance * 0.014)
        for p in spec.providers:
            blocks = p.days.get(day.weekday(), ())
            hygiene = p.provider.provider_type == "Hygienist"
            for block_start, block_end in blocks:
                t = _minutes(block_start)
                end = _minutes(block_end)
                while t < end:
                    if rng.random() > fill:
                        t += rng.choice((10, 20, 30))
                        continue
                    desc, kind, codes, lengths = rng.choice(HYGIENE_VISITS if hygiene else DENTIST_VISITS)
                    length = min(rng.choice(lengths), end - t)
                    if length < 30:
                        break
                    units = length // 10
                    slot = t // 10
                    op = next((o for o in p.operatories if book.free(f"op:{o}", day, slot, units)), None)
                    if op is None or not book.free(f"pr:{p.provider.provider_id}", day, slot, units):
                        t += 10
                        continue
                    book.take(f"op:{op}", day, slot, units)
                    book.take(f"pr:{p.provider.provider_id}", day, slot, units)
                    pool = kids if desc.startswith("Child") and kids else adults
                    patient = rng.choice(pool)
                    start = dt.datetime.combine(day, dt.time(t // 60, t % 60))
                    visit = (p.provider, op, start, length, desc, kind, codes)
                    result.append(
                        _make_appt(rng, spec, patient, by_id, *visit, fees, today, str(next_sr + len(result)))
                    )
                    t += length
                    if rng.random() < 0.03:  # an earlier, cancelled booking of the same chair time
                        other = rng.choice(adults)
                        sr_no = str(next_sr + len(result))
                        result.append(
                            _make_appt(rng, spec, other, by_id, *visit, fees, today, sr_no, force="Cancelled")
                        )
        day += dt.timedelta(days=1)
    return result


def _make_appt(
    rng: random.Random,
    spec: PracticeSpec,
    patient: PatientRecord,
    by_id: dict[str, PatientRecord],
    provider: ProviderRecord,
    op: str,
    start: dt.datetime,
    length: int,
    desc: str,
    kind: str,
    codes: tuple[str, ...],
    fees: dict[str, Decimal],
    today: dt.date,
    sr_no: str,
    force: str = "",
) -> AppointmentRecord:
    day = start.date()
    made = day - dt.timedelta(days=rng.randint(1, 120))
    past = day < today
    roll = rng.random()
    if force:
        status = force
    elif past:
        status = "Complete" if roll < 0.86 else ("Broken" if roll < 0.94 else "Cancelled")
    else:
        confirm_chance = 0.7 if (day - today).days <= 3 else 0.25
        status = "Cancelled" if roll < 0.05 else ("Confirmed" if roll < 0.05 + confirm_chance else "Scheduled")
    confirmed = day - dt.timedelta(days=rng.randint(1, 3)) if status in ("Confirmed", "Complete") else None
    cancelled = (
        min(day, made + dt.timedelta(days=rng.randint(0, 30))) if status in ("Cancelled", "Broken") else None
    )
    changed_day = max(d for d in (made, confirmed, cancelled) if d is not None)
    if past and status == "Complete":
        changed_day = day
    guarantor = by_id.get(patient.guarantor_id, patient)
    hygienist = provider.provider_id if provider.provider_type == "Hygienist" else ""
    return AppointmentRecord(
        practice_id=spec.practice.practice_id,
        appointment_sr_no=sr_no,
        patient_id=patient.patient_id,
        guarantor_id=patient.guarantor_id,
        provider_id=provider.provider_id,
        hygienist=hygienist,
        operatory=op,
        start=start,
        length=length,
        status=status,
        description=desc,
        type=kind,
        note="" if rng.random() < 0.8 else rng.choice(("Prefers mornings", "Anxious patient", "Call before")),
        procedure_codes=codes,
        procedure_amounts=tuple(fees[c] for c in codes),
        appointment_made_date=made,
        confirmed_on_date=confirmed,
        cancelled_date=cancelled,
        last_changed=dt.datetime.combine(min(changed_day, today), dt.time(rng.randint(7, 18), rng.randint(0, 59))),
        patient_name=f"{patient.lastname}, {patient.firstname}",
        guarantor_name=f"{guarantor.lastname}, {guarantor.firstname}",
    )


def _transactions(
    rng: random.Random,
    spec: PracticeSpec,
    appointments: list[AppointmentRecord],
    insured: set[str],
    today: dt.date,
    next_sr: int,
) -> list[TransactionRecord]:
    result: list[TransactionRecord] = []
    pay_types = [t for t in PAYMENT_TYPES if t[2] == "payment"]

    def add(
        kind: str, when: dt.date, appt: AppointmentRecord, code: str, desc: str, amount: Decimal, pay: str
    ) -> None:
        sr = str(next_sr + len(result))
        result.append(
            TransactionRecord(
                spec.practice.practice_id,
                sr,
                kind,
                when,
                when,
                appt.patient_id,
                appt.guarantor_id,
                appt.provider_id,
                code,
                desc,
                amount,
                pay,
                "",
                appt.appointment_sr_no,
                dt.datetime.combine(when, dt.time(17, 30)),
            )
        )

    for appt in appointments:
        if appt.status != "Complete":
            continue
        day = appt.start.date()
        for code, fee in zip(appt.procedure_codes, appt.procedure_amounts, strict=True):
            add("Procedure", day, appt, code, PROCEDURES[code][0], fee, "")
        total = appt.amount
        if appt.patient_id in insured:
            ins_day = min(today, day + dt.timedelta(days=rng.randint(10, 40)))
            if ins_day < today:
                ins = (total * Decimal("0.8")).quantize(Decimal("0.0001"))
                add("Insurance Payment", ins_day, appt, "5", "Dental Insurance Payment", -ins, "5")
                total -= ins
        if rng.random() < 0.8 and total > 0:
            code, desc, _ = rng.choice(pay_types)
            pay_day = min(today, day + dt.timedelta(days=rng.choice((0, 0, 0, 3, 12))))
            add("Payment", pay_day, appt, code, desc, -total.quantize(Decimal("0.0001")), code)
    return result


def _visits(
    patients: list[PatientRecord], appointments: list[AppointmentRecord], today: dt.date, rng: random.Random
) -> list[PatientRecord]:
    seen: dict[str, list[dt.date]] = {}
    for appt in appointments:
        if appt.status == "Complete":
            seen.setdefault(appt.patient_id, []).append(appt.start.date())
    out = []
    for p in patients:
        dates = seen.get(p.patient_id)
        first_visit: dt.date | None
        last_visit: dt.date | None
        if dates:
            first_visit = min(min(dates), p.created_date)
            last_visit = max(dates)
        elif p.status == "Non Patient":
            first_visit, last_visit = None, None
        else:
            first_visit = p.created_date
            last_visit = min(
                today - dt.timedelta(days=61), p.created_date + dt.timedelta(days=rng.randint(0, 900))
            )
        changed = max(p.last_changed, dt.datetime.combine(last_visit or p.created_date, dt.time(18, 0)))
        out.append(replace(p, first_visit=first_visit, last_visit=last_visit, last_changed=changed))
    return out


@dataclass(frozen=True)
class _Snapshot:
    practices: tuple[PracticeRecord, ...]
    providers: tuple[ProviderRecord, ...]
    operatories: tuple[OperatoryRecord, ...]
    schedules: tuple[Schedule, ...]
    patients: tuple[PatientRecord, ...]
    appointments: tuple[AppointmentRecord, ...]
    carriers: tuple[InsuranceCompany, ...]
    subscribers: tuple[Subscriber, ...]
    transactions: tuple[TransactionRecord, ...]
    payment_types: tuple[PaymentType, ...]


def _closures(today: dt.date) -> set[dt.date]:
    """One practice-wide closure day about three weeks ahead (a Monday), marked as a holiday."""
    day = today + dt.timedelta(days=21)
    while day.weekday() != 0:
        day += dt.timedelta(days=1)
    return {day}


@functools.lru_cache(maxsize=8)
def _snapshot(seed: int, today: dt.date, pms_name: str) -> _Snapshot:
    rng = random.Random(seed)
    first = today - dt.timedelta(days=60)
    last = today + dt.timedelta(days=45)
    closures = _closures(today)
    practices: list[PracticeRecord] = []
    providers: list[ProviderRecord] = []
    operatories: list[OperatoryRecord] = []
    schedules: list[Schedule] = []
    patients: list[PatientRecord] = []
    appointments: list[AppointmentRecord] = []
    carriers: list[InsuranceCompany] = []
    subscribers: list[Subscriber] = []
    transactions: list[TransactionRecord] = []
    payment_types: list[PaymentType] = []
    next_sr = 70001
    next_tx = 31001
    for spec in practice_specs(pms_name):
        practice_carriers = _carriers(rng, spec)
        practice_patients, practice_subscribers = _patients(rng, spec, today, practice_carriers)
        practice_appts = _appointments(rng, spec, practice_patients, first, last, today, closures, next_sr)
        next_sr += len(practice_appts) + 50
        insured = {s.patient_id for s in practice_subscribers}
        practice_tx = _transactions(rng, spec, practice_appts, insured, today, next_tx)
        next_tx += len(practice_tx) + 50
        practices.append(spec.practice)
        providers.extend(p.provider for p in spec.providers)
        operatories.extend(spec.operatories)
        schedules.extend(_schedules(spec, first, last, closures))
        patients.extend(_visits(practice_patients, practice_appts, today, rng))
        appointments.extend(practice_appts)
        carriers.extend(practice_carriers)
        subscribers.extend(practice_subscribers)
        transactions.extend(practice_tx)
        payment_types.extend(PaymentType(spec.practice.practice_id, c, d, k) for c, d, k in PAYMENT_TYPES)
    return _Snapshot(
        tuple(practices),
        tuple(providers),
        tuple(operatories),
        tuple(schedules),
        tuple(patients),
        tuple(appointments),
        tuple(carriers),
        tuple(subscribers),
        tuple(transactions),
        tuple(payment_types),
    )


def build_world(seed: int, today: dt.date, pms_name: str) -> World:
    """A fresh world over cached, immutable records: mutating it never leaks into another sandbox."""
    snap = _snapshot(seed, today, pms_name)
    supported = list(SUPPORTED_PMSES)
    if not any(r.practice_management_system.lower() == pms_name.lower() for r in supported):
        supported.append(PmsSupport(pms_name, "1.0", True, True, True, True))
    offices = {
        DEMO_OFFICE_ID: Office(DEMO_OFFICE_ID, token("office-secret"), ("1", "2"), (DEMO_APP.app_id,)),
        OTHER_OFFICE_ID: Office(OTHER_OFFICE_ID, token("other-office-secret"), ("1",), (OTHER_APP.app_id,)),
    }
    practices = {p.practice_id: p for p in snap.practices}
    return World(
        today=today,
        apps={DEMO_APP.app_id: DEMO_APP, OTHER_APP.app_id: OTHER_APP},
        offices=offices,
        practices=practices,
        providers=list(snap.providers),
        operatories=list(snap.operatories),
        schedules=list(snap.schedules),
        patients={p.patient_id: p for p in snap.patients},
        appointments={a.appointment_sr_no: a for a in snap.appointments},
        carriers={c.insurance_company_id: c for c in snap.carriers},
        subscribers=list(snap.subscribers),
        transactions={t.transaction_sr_no: t for t in snap.transactions},
        payment_types=list(snap.payment_types),
        appointment_statuses=APPOINTMENT_STATUSES,
        supported_pmses=supported,
    )
