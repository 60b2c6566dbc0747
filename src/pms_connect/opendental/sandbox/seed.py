"""The seeded practice: deterministic per seed, laid out around "today" in the practice's zone.

Everything is invented here; nothing is or resembles a real person's record (phone numbers use the fictional
555-01xx lines). What it holds:

* providers: two dentists (``DOC1``, ``DOC2``), two hygienists (``HYG1``, ``HYG2``: ``IsSecondary``), a hidden
  dentist (``DOC3``) and a deleted hygienist (``HYG3``, ``ProvStatus`` ``Deleted``);
* operatories ``OP-1``, ``OP-2`` (both DOC1's), ``OP-3`` (DOC2's), ``HYG-1``, ``HYG-2`` and a hidden ``OP-6``;
* provider schedules on weekdays from 60 days back to 45 ahead (DOC1's name two operatories, ``"1,2"``; lunch
  breaks split days into two rows), a weekly staff-meeting blockout, a one-off emergency blockout, a few
  employee rows, and one closure day (a Practice row 00:00-00:00 with a note) on which the provider rows
  stay, as they do when an office marks a holiday over its usual schedule;
* about 80 patients in households (a shared home phone, phones typed in mixed formats, one patient with no
  birthdate, a father and son with the same name and phone), a few inactive, archived or prospective;
* appointments over the window (completed, broken, on the unscheduled list, ASAP, planned ones with no
  operatory; hygiene visits carry the dentist as ``ProvNum`` and the hygienist as ``ProvHyg``), one that
  spans the window's DST change if it has one;
* definitions (confirmation labels, payment, billing, blockout and specialty types), appointment types,
  carriers, plans, subscribers, patplans for some families, payments, and the preferences the API reads.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

from pms_connect.opendental.sandbox.records import (
    DbAppointment,
    DbAppointmentType,
    DbCarrier,
    DbClinic,
    DbDefinition,
    DbInsPlan,
    DbInsSub,
    DbOperatory,
    DbPatient,
    DbPatPlan,
    DbPayment,
    DbProvider,
    DbSchedule,
    PracticeData,
)

__all__ = ["WINDOW_AHEAD", "WINDOW_BACK", "build_practice"]

WINDOW_BACK = 60
"""Days of schedules and appointments seeded before today."""
WINDOW_AHEAD = 45
"""Days of schedules and appointments seeded after today."""

_LAST = (
    "Carter", "Nguyen", "Okafor", "Lindqvist", "Moreno", "Patel", "Hughes", "Castillo", "Brennan", "Tanaka",
    "Whitfield", "Alvarez", "Kowalski", "Osei", "Dubois", "Haddad", "Fischer", "Ramirez", "Sato", "Murphy",
    "Delgado", "Novak", "Abernathy", "Quinn", "Yilmaz", "Sorensen",
)  # fmt: skip
_MALE = ("James", "Mateo", "Daniel", "Omar", "Lucas", "Ethan", "Samuel", "Victor", "Henry", "Isaac", "Leo")
_FEMALE = ("Maria", "Grace", "Aisha", "Elena", "Nora", "Chloe", "Priya", "Lucia", "Hannah", "Ivy", "Rosa")
_STREETS = ("Live Oak Dr", "Barton Springs Rd", "Pecan St", "Riverside Dr", "Cedar Ln", "Mesquite Trl")
_CITIES = (("Austin", "TX", "78704"), ("Austin", "TX", "78745"), ("Round Rock", "TX", "78664"))
_AREAS = ("512", "737", "214", "312")
_PRACTICES = ("Bluebonnet Family Dental", "Live Oak Dental Care", "Pecan Street Dentistry")


def _phone(rng: random.Random, used: set[str]) -> str:
    """A fictional 555-01xx number, typed the way an office might type it."""
    while True:
        digits = f"{rng.choice(_AREAS)}5550{rng.randint(100, 199)}"
        if digits not in used:
            used.add(digits)
            break
    a, b, c = digits[:3], digits[3:6], digits[6:]
    style = rng.random()
    if style < 0.4:
        return f"({a}){b}-{c}"  # Open Dental's own style in the docs: "(536)624-5871"
    if style < 0.65:
        return f"{a}-{b}-{c}"
    if style < 0.8:
        return digits
    if style < 0.92:
        return f"({a}) {b}-{c}"
    return f"{a}.{b}.{c}"


def _definitions(data: PracticeData) -> None:
    rows = [
        (293, 1, "Sales Tax", "+", False),
        (8, 1, "Professional Discount", "-", False),
        (9, 1, "Cash Discount", "-", False),
        (19, 2, "Not Called", "", False),
        (20, 2, "Unconfirmed", "", False),
        (21, 2, "Appointment Confirmed", "Conf", False),
        (22, 2, "Left Message", "LM", False),
        (209, 2, "eConfirm Sent", "Sent", False),
        (210, 2, "eConfirm Declined", "Decl", False),
        (211, 2, "eConfirm Failed", "Fail", False),
        (23, 2, "Texted (old)", "", True),
        (40, 4, "Standard Account", "", False),
        (41, 4, "Insurance Only", "", False),
        (69, 10, "Check", "", False),
        (70, 10, "Cash", "", False),
        (71, 10, "Credit Card", "", False),
        (72, 10, "Care Credit", "", False),
        (449, 10, "API Payment Processed", "", False),
        (73, 10, "Money Order", "", True),
        (92, 13, "Appointment Scheduled", "", False),
        (93, 13, "Call Back", "", False),
        (94, 13, "Patient Will Call", "", False),
        (248, 25, "Staff Meeting", "", False),
        (249, 25, "Emergency Only", "", False),
        (263, 35, "General", "", False),
        (264, 35, "Hygienist", "", False),
        (265, 35, "Endodontics", "", False),
    ]
    order: dict[int, int] = {}
    for def_num, category, name, value, hidden in rows:
        data.definitions[def_num] = DbDefinition(def_num, category, name, value, order.get(category, 0), hidden)
        order[category] = order.get(category, 0) + 1


def _providers(data: PracticeData, rng: random.Random, today: dt.date, clinics: bool) -> None:
    specs = [
        (1, "DOC1", "DDS", 263, False, "164,255,164", "", False, ()),
        (2, "DOC2", "DMD", 263, False, "255,183,183", "", False, (2,)),
        (3, "HYG1", "RDH", 264, True, "203,151,255", "", False, (1,)),
        (4, "HYG2", "RDH", 264, True, "164,164,255", "", False, (2,)),
        (5, "DOC3", "DDS", 265, False, "200,200,200", "", True, ()),
        (6, "HYG3", "RDH", 264, True, "180,180,180", "Deleted", False, ()),
    ]
    lasts = rng.sample(_LAST, len(specs))
    for spec, last in zip(specs, lasts, strict=True):
        num, abbr, suffix, specialty, hygienist, color, status, hidden, restrict = spec
        first = rng.choice(_FEMALE if rng.random() < 0.5 else _MALE)
        stamp = dt.datetime.combine(
            today - dt.timedelta(days=rng.randint(30, 900)), dt.time(8, rng.randint(0, 59))
        )
        data.providers[num] = DbProvider(
            prov_num=num,
            abbr=abbr,
            lname=last,
            fname=first,
            mi=rng.choice(("", "", "L", "M")),
            suffix=suffix,
            specialty=specialty,
            is_secondary=hygienist,
            color=color,
            stamp=stamp,
            state_license=f"{'H' if hygienist else 'D'}{rng.randint(1000, 9999)}",
            npi=f"1{rng.randint(100000000, 999999999)}",
            is_hidden=hidden,
            status=status or "Active",
            using_tin=not hygienist,
            sig_on_file=not hygienist,
            clinics=restrict if clinics else (),
        )


def _operatories(data: PracticeData, clinics: bool) -> None:
    doc1, doc2 = data.providers[1], data.providers[2]
    specs = [
        (1, f"Dr. {doc1.lname} 1", "OP-1", 1, 0, False, 1, False),
        (2, f"Dr. {doc1.lname} 2", "OP-2", 1, 0, False, 1, False),
        (3, f"Dr. {doc2.lname}", "OP-3", 2, 0, False, 2, False),
        (4, "Hygiene 1", "HYG-1", 0, 3, True, 1, False),
        (5, "Hygiene 2", "HYG-2", 0, 4, True, 2, False),
        (6, "Storage (old op)", "OP-6", 0, 0, False, 0, True),
    ]
    for order, (num, name, abbrev, dentist, hygienist, is_hygiene, clinic, hidden) in enumerate(specs):
        data.operatories[num] = DbOperatory(
            op_num=num,
            name=name,
            abbrev=abbrev,
            item_order=order,
            prov_dentist=dentist,
            prov_hygienist=hygienist,
            is_hygiene=is_hygiene,
            clinic_num=clinic if clinics else 0,
            is_hidden=hidden,
            is_web_sched=num == 4,
        )


_T = dt.time
#: provider -> weekday (0 = Monday) -> working blocks; and the operatories the provider's rows name
_WEEK: dict[int, tuple[dict[int, list[tuple[dt.time, dt.time]]], tuple[int, ...]]] = {
    1: (
        {d: [(_T(8), _T(12)), (_T(13), _T(17))] for d in range(4)} | {4: [(_T(8), _T(13))]},
        (1, 2),
    ),
    2: ({0: [(_T(9), _T(18))], 1: [(_T(9), _T(18))], 2: [(_T(7), _T(15))], 3: [(_T(9), _T(18))]}, (3,)),
    3: ({d: [(_T(8), _T(12)), (_T(13), _T(16))] for d in range(5)}, (4,)),
    4: ({d: [(_T(8), _T(12)), (_T(13), _T(17))] for d in (1, 2, 3)}, (5,)),
}


def _first_weekday_on_or_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def closure_day(today: dt.date) -> dt.date:
    """The seeded closure: the first Friday at least nine days ahead."""
    return _first_weekday_on_or_after(today + dt.timedelta(days=9), 4)


def _schedules(data: PracticeData, today: dt.date) -> None:
    number = 24000
    closure = closure_day(today)
    emergency = _first_weekday_on_or_after(today + dt.timedelta(days=3), 1)

    def add(row: DbSchedule) -> None:
        data.schedules[row.schedule_num] = row

    day = today - dt.timedelta(days=WINDOW_BACK)
    while day <= today + dt.timedelta(days=WINDOW_AHEAD):
        if day == closure:
            add(DbSchedule(number, day, _T(0), _T(0), "Practice", note="Office closed: staff training"))
            number += 1
        for prov_num, (week, ops) in _WEEK.items():
            for start, stop in week.get(day.weekday(), []):
                add(DbSchedule(number, day, start, stop, "Provider", prov_num=prov_num, ops=ops))
                number += 1
        if day.weekday() == 2:
            add(
                DbSchedule(
                    number, day, _T(13, 30), _T(14), "Blockout", blockout_type=248, note="Weekly Meet", ops=(3, 4)
                )
            )
            number += 1
        if day == emergency:
            add(DbSchedule(number, day, _T(10), _T(11), "Blockout", blockout_type=249, ops=(1,)))
            number += 1
        if day.weekday() == 0:
            add(DbSchedule(number, day, _T(8), _T(15, 30), "Employee", note="Leaving early", employee_num=2))
            number += 1
        day += dt.timedelta(days=1)


def _appointment_types(data: PracticeData) -> None:
    for row in (
        DbAppointmentType(1, "New Patient Exam", "93,54,220", "//XXXX//", "D0150,D0210"),
        DbAppointmentType(2, "Cleaning", "74,250,61", "//XXXXXX//", "D1110,D0120,D0274"),
        DbAppointmentType(3, "Crown Prep", "255,128,0", "//XXXXXXXXXX//", "D2740", "D2740", "AtLeastOne"),
        DbAppointmentType(4, "Emergency", "255,0,0", "/XXX/", "D0140"),
        DbAppointmentType(5, "Consult (old)", "128,128,128", "/XX/", is_hidden=True),
    ):
        data.appointment_types[row.num] = row


def _patients(data: PracticeData, rng: random.Random, today: dt.date, clinics: bool) -> None:
    used: set[str] = set()
    pat_num = 1
    household = 0
    while pat_num <= 80:
        last = rng.choice(_LAST)
        street = f"{rng.randint(100, 9899)} {rng.choice(_STREETS)}"
        city, state, zipcode = rng.choice(_CITIES)
        if household == 5:
            zipcode += "-1234"
        home = _phone(rng, used) if rng.random() < 0.7 else ""
        clinic = rng.choice((1, 2)) if clinics else 0
        shape = rng.random()
        adults = 2 if 0.35 < shape < 0.85 else 1
        kids = rng.randint(1, 3) if shape > 0.5 else 0
        if household == 2:
            kids = max(kids, 1)
        guarantor = pat_num
        head: DbPatient | None = None
        dentist = rng.choice((1, 1, 2))
        for index in range(adults + kids):
            if pat_num > 80:
                break
            adult = index < adults
            male = rng.random() < 0.5
            first = rng.choice(_MALE if male else _FEMALE)
            if adult:
                birth: dt.date | None = today - dt.timedelta(days=rng.randint(22 * 365, 80 * 365))
                cell = _phone(rng, used) if rng.random() < 0.9 else ""
                email = (
                    f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com" if rng.random() < 0.7 else ""
                )
                position = "Married" if adults == 2 else rng.choice(("Single", "Divorced", "Widowed", "Single"))
            else:
                birth = today - dt.timedelta(days=rng.randint(3 * 365, 17 * 365))
                cell = head.wireless_phone if head is not None and rng.random() < 0.4 else ""
                email = ""
                position = "Child"
            if household == 2 and index == adults and head is not None:
                # the ambiguity the matcher must see: a child with the parent's name and phone
                head.wireless_phone = head.wireless_phone or _phone(rng, used)
                first, male, cell = head.fname, head.gender == "Male", head.wireless_phone
            if pat_num == 17:
                birth = None  # "0001-01-01": no birthdate on file
            entered = today - dt.timedelta(days=rng.randint(120, 3000))
            roll = rng.random()
            status = "Patient"
            if roll > 0.97:
                status = "Inactive"
            elif roll > 0.95:
                status = "NonPatient"
            if pat_num in (33, 61):
                status = {33: "Archived", 61: "Prospective"}[pat_num]
            gender = "Male" if male else "Female"
            if pat_num == 44:
                gender = "Unknown"
            row = DbPatient(
                pat_num=pat_num,
                lname=last,
                fname=first,
                birthdate=birth,
                gender=gender,
                position=position,
                guarantor=guarantor,
                stamp=dt.datetime.combine(
                    today - dt.timedelta(days=rng.randint(1, 100)), dt.time(rng.randint(8, 17), rng.randint(0, 59))
                ),
                sec_date_entry=entered,
                middle_i=rng.choice(("", "", "", "A", "J", "M")),
                preferred=rng.choice(("", "", "", "", first[:3])),
                status=status,
                address=street,
                city=city,
                state=state,
                zip=zipcode,
                hm_phone=home,
                wk_phone=_phone(rng, used) if adult and rng.random() < 0.3 else "",
                wireless_phone=cell,
                email=email,
                est_balance=Decimal(rng.choice((0, 0, 0, 25, 40.11, 111.9, 260))).quantize(Decimal("0.01")),
                pri_prov=dentist if rng.random() < 0.9 else 0,
                sec_prov=rng.choice((0, 0, 0, 3)),
                date_first_visit=None
                if status == "Prospective"
                else entered + dt.timedelta(days=rng.randint(0, 20)),
                clinic_num=clinic,
                prefer_confirm=rng.choice(("None", "TextMessage", "Email", "HmPhone", "WirelessPh")),
                prefer_contact=rng.choice(("None", "WirelessPh", "HmPhone", "Email")),
                prefer_recall=rng.choice(("None", "TextMessage", "Email")),
                language=rng.choice(("", "", "", "eng", "spa")),
                txt_msg_ok=rng.choice(("Unknown", "Yes", "Yes", "No")),
                fam_fin_urg_note="CC on file expiring soon" if adult and index == 0 and rng.random() < 0.1 else "",
            )
            data.patients[pat_num] = row
            if head is None:
                head = row
            pat_num += 1
        household += 1


def _insurance(data: PracticeData, rng: random.Random, today: dt.date) -> None:
    for row in (
        DbCarrier(
            1, "Lone Star Dental Mutual", "100 Congress Ave", "Austin", "TX", "78701", "(512)555-0180", "60054"
        ),
        DbCarrier(2, "Guardian Shield Dental", "42 Harbor Way", "Dallas", "TX", "75201", "(214)555-0181", "64246"),
        DbCarrier(3, "Bluebonnet Benefits", "9 Prairie Rd", "Round Rock", "TX", "78664", "(737)555-0182", "81039"),
        DbCarrier(
            4, "Prairie Dental Plan", "1 Old Mill Rd", "Austin", "TX", "78745", "(512)555-0183", "", is_hidden=True
        ),
    ):
        data.carriers[row.carrier_num] = row
    for num, carrier, group, group_num, plan_type, employer in (
        (1, 1, "City of Austin", "G100233", "p", 1),
        (2, 1, "Riverside School District", "G100871", "", 2),
        (3, 2, "Harbor Logistics", "HL-4410", "p", 3),
        (4, 2, "Shield Individual", "", "f", 0),
        (5, 3, "Bluebonnet Tech", "BT-22", "p", 4),
        (6, 3, "Bluebonnet Capitation", "BC-01", "c", 4),
    ):
        data.plans[num] = DbInsPlan(
            plan_num=num,
            carrier_num=carrier,
            group_name=group,
            group_num=group_num,
            plan_type=plan_type,
            employer_num=employer,
            edited=dt.datetime.combine(today - dt.timedelta(days=200 + num * 13), dt.time(9, 15)),
            entered=today - dt.timedelta(days=400 + num * 17),
            fee_sched=54 if plan_type == "p" else 0,
            month_renew=rng.choice((0, 0, 1, 7)),
            plan_note="Waiting period on crowns." if num == 3 else "",
        )
    sub_num = 1
    patplan_num = 1
    heads = sorted({p.guarantor for p in data.patients.values()})
    for head in heads:
        if rng.random() > 0.6:
            continue
        members = data.family(head)
        subscribers = [(head, rng.randint(1, 6))]
        spouse = next((m for m in members if m.pat_num != head and m.position == "Married"), None)
        if spouse is not None and rng.random() < 0.3:
            subscribers.append((spouse.pat_num, rng.randint(1, 6)))
        for ordinal, (subscriber, plan_num) in enumerate(subscribers, start=1):
            data.subs[sub_num] = DbInsSub(
                ins_sub_num=sub_num,
                plan_num=plan_num,
                subscriber=subscriber,
                subscriber_id=f"{rng.randint(100000000, 999999999)}",
                date_effective=dt.date(today.year - rng.randint(0, 4), 1, 1),
                edited=dt.datetime.combine(today - dt.timedelta(days=rng.randint(20, 400)), dt.time(10, 5)),
                subsc_note="Verify annually" if rng.random() < 0.2 else "",
            )
            for member in members:
                if member.pat_num == subscriber:
                    relation = "Self"
                elif member.position == "Child":
                    relation = "Child"
                else:
                    relation = "Spouse"
                entered = dt.datetime.combine(member.sec_date_entry, dt.time(11, 0))
                data.patplans[patplan_num] = DbPatPlan(
                    pat_plan_num=patplan_num,
                    pat_num=member.pat_num,
                    ordinal=ordinal,
                    relationship=relation,
                    ins_sub_num=sub_num,
                    entered=entered,
                    edited=entered + dt.timedelta(days=3),
                )
                patplan_num += 1
            sub_num += 1


_DENTIST_VISITS = (
    ("Comp Ex, 4BW", "//XXXX//", 1),
    ("Crn, BU", "//XXXXXXXXXX//", 3),
    ("MO, DO", "/XXXXX/", 0),
    ("Ex, PA", "/XX/", 0),
    ("RCT-Molar", "//XXXXXXXXXXXX//", 0),
)
_HYGIENE_VISITS = (
    ("Pro, PerEx, 2BW", "//XXXXXX//", 2),
    ("Pro, Fl", "/XXXXXX/", 2),
    ("SRP UR, UL", "//XXXXXXXXX/", 0),
)


def _appointments(
    data: PracticeData, rng: random.Random, today: dt.date, now: dt.datetime, zone: ZoneInfo
) -> None:
    active = [p.pat_num for p in data.patients.values() if p.status == "Patient"]
    closure = closure_day(today)
    drafts: list[DbAppointment] = []
    for schedule in sorted(data.schedules.values(), key=lambda s: s.schedule_num):
        if schedule.sched_type != "Provider" or schedule.day == closure:
            continue
        ahead = (schedule.day - today).days
        fill = 0.35 if ahead < 0 else (0.3 if ahead < 14 else 0.12)
        hygienist = data.providers[schedule.prov_num].is_secondary
        visits = _HYGIENE_VISITS if hygienist else _DENTIST_VISITS
        t = dt.datetime.combine(schedule.day, schedule.start)
        stop = dt.datetime.combine(schedule.day, schedule.stop)
        while True:
            t += dt.timedelta(minutes=rng.choice((0, 0, 10, 20, 30, 60)))
            descript, pattern, type_num = rng.choice(visits)
            length = dt.timedelta(minutes=5 * len(pattern))
            if t + length > stop:
                break
            if rng.random() < fill:
                pat_num = rng.choice(active)
                patient = data.patients[pat_num]
                dentist = patient.pri_prov or data.default_provider
                drafts.append(
                    _draft(
                        rng,
                        now,
                        pat_num=pat_num,
                        op=rng.choice(schedule.ops),
                        prov_num=dentist if hygienist else schedule.prov_num,
                        prov_hyg=schedule.prov_num if hygienist else 0,
                        start=t,
                        pattern=pattern,
                        descript=descript,
                        type_num=type_num,
                        is_hygiene=hygienist,
                    )
                )
            t += length
    # planned appointments: no operatory, not on the appointment book
    for pat_num in rng.sample(active, 3):
        entered = dt.datetime.combine(today - dt.timedelta(days=rng.randint(5, 40)), dt.time(10, 30))
        prov = data.patients[pat_num].pri_prov or 1
        row = _draft(
            rng,
            now,
            pat_num=pat_num,
            op=0,
            prov_num=prov,
            prov_hyg=0,
            start=entered,
            pattern="//XXXXXX//",
            descript="Crn, BU",
            type_num=3,
            is_hygiene=False,
        )
        row.status = "Planned"
        row.item_order_planned = 1
        drafts.append(row)
    dst = _dst_change(today, zone)
    if dst is not None:
        drafts.append(
            _draft(
                rng,
                now,
                pat_num=active[0],
                op=1,
                prov_num=1,
                prov_hyg=0,
                start=dst,
                pattern="X" * 24,
                descript="Emergency: swelling",
                type_num=4,
                is_hygiene=False,
            )
        )
        drafts[-1].note = "After-hours emergency visit."
    drafts.sort(key=lambda a: (a.entered, a.start))
    for number, row in enumerate(drafts, start=1):
        row.apt_num = number
        row.ins_plan1, row.ins_plan2 = data.plans_of(row.pat_num)
        op = data.operatories.get(row.op)
        row.clinic_num = op.clinic_num if op else data.patients[row.pat_num].clinic_num
        data.appointments[number] = row


def _draft(
    rng: random.Random,
    now: dt.datetime,
    *,
    pat_num: int,
    op: int,
    prov_num: int,
    prov_hyg: int,
    start: dt.datetime,
    pattern: str,
    descript: str,
    type_num: int,
    is_hygiene: bool,
) -> DbAppointment:
    lead = dt.timedelta(days=rng.randint(1, 50), hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
    entered = min(start - lead, now - dt.timedelta(hours=rng.randint(2, 400)))
    entered = entered.replace(second=rng.randint(0, 59), microsecond=0)
    row = DbAppointment(
        apt_num=0,
        pat_num=pat_num,
        status="Scheduled",
        pattern=pattern,
        confirmed=19,
        op=op,
        prov_num=prov_num,
        prov_hyg=prov_hyg,
        start=start,
        stamp=entered,
        entered=entered,
        proc_descript=descript,
        is_hygiene=is_hygiene,
        appointment_type_num=type_num,
        pattern_secondary="/" * len(pattern),
    )
    roll = rng.random()
    if row.end <= now:
        if roll < 0.84:
            row.status = "Complete"
            row.confirmed = 21
            row.arrived = start - dt.timedelta(minutes=rng.randint(2, 15), seconds=rng.randint(0, 59))
            row.seated = start + dt.timedelta(minutes=rng.randint(0, 8), seconds=rng.randint(0, 59))
            row.dismissed = row.end + dt.timedelta(minutes=rng.randint(0, 10), seconds=rng.randint(0, 59))
            row.stamp = row.dismissed
        elif roll < 0.92:
            row.status = "Broken"
            row.stamp = start - dt.timedelta(hours=rng.randint(1, 30))
        elif roll < 0.96:
            row.status = "UnschedList"
            row.unsched_status = 93
            row.stamp = start - dt.timedelta(hours=rng.randint(1, 30))
        row.stamp = min(row.stamp, now)
    else:
        if roll < 0.04:
            row.status = "Broken"
        elif roll < 0.07:
            row.status = "UnschedList"
            row.unsched_status = 94
        elif roll < 0.11:
            row.priority = "ASAP"
        if start - now < dt.timedelta(days=3):
            row.confirmed = rng.choice((19, 21, 21, 22, 209))
        if row.status != "Scheduled" or row.confirmed != 19:
            row.stamp = max(entered, now - dt.timedelta(hours=rng.randint(1, 48)))
    row.stamp = row.stamp.replace(microsecond=0)
    return row


def _dst_change(today: dt.date, zone: ZoneInfo) -> dt.datetime | None:
    """Half an hour before the window's first DST change, local: an appointment from there spans it."""
    day = today - dt.timedelta(days=WINDOW_BACK)
    while day <= today + dt.timedelta(days=WINDOW_AHEAD):
        for hour in range(23):
            before = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).utcoffset()
            after = dt.datetime.combine(day, dt.time(hour + 1), tzinfo=zone).utcoffset()
            if before != after:
                return dt.datetime.combine(day, dt.time(hour)) - dt.timedelta(minutes=30)
        day += dt.timedelta(days=1)
    return None


def _payments(data: PracticeData, rng: random.Random, today: dt.date) -> None:
    heads = sorted({p.guarantor for p in data.patients.values()})
    for number in range(1, 41):
        pat_num = rng.choice(heads)
        day = today - dt.timedelta(days=rng.randint(1, WINDOW_BACK))
        amount = Decimal(rng.choice((25, 40, 75, 120, 339, 239))) + (
            Decimal(rng.randint(1, 99)) / 100 if rng.random() < 0.4 else Decimal(0)
        )
        pay_type = rng.choice((69, 70, 71, 71, 72))
        data.payments[56700 + number] = DbPayment(
            pay_num=56700 + number,
            pay_type=pay_type,
            pay_date=day,
            amount=amount,
            pat_num=pat_num,
            date_entry=day,
            edited=dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59))),
            check_num=str(rng.randint(1000, 19999)) if pay_type == 69 else "",
            bank_branch="20-6" if pay_type == 69 else "",
            clinic_num=data.patients[pat_num].clinic_num,
            is_recurring_cc=pay_type == 71 and rng.random() < 0.3,
        )


def build_practice(seed: int, today: dt.date, now: dt.datetime, zone: str, *, clinics: bool) -> PracticeData:
    """The seeded practice for ``seed``; ``today`` and ``now`` (naive) are the practice's local date and time."""
    rng = random.Random(seed * 7907 + 11)  # noqa: S311 - fake data, not secrets
    data = PracticeData()
    data.preferences = {
        "PracticeTitle": rng.choice(_PRACTICES),
        "PracticeAddress": "2200 Live Oak Dr",
        "PracticeCity": "Austin",
        "PracticeST": "TX",
        "PracticeZip": "78704",
        "PracticePhone": "5125550100",
        "PracticeDefaultProv": "1",
        "PracticeDefaultBillType": "40",
        "ApiPaymentType": "449",
        "ApptEConfirmStatusSent": "209",
        "ApptEConfirmStatusAccepted": "21",
        "ApptEConfirmStatusDeclined": "210",
        "ApptEConfirmStatusSendFailed": "211",
        "RecallDaysPast": "365",
    }
    if clinics:
        data.clinics[1] = DbClinic(
            1, "Southside", "2200 Live Oak Dr", "Austin", "TX", "78704", "5125550100", "South"
        )
        data.clinics[2] = DbClinic(
            2, "Northside", "15 Pecan St", "Round Rock", "TX", "78664", "7375550101", "North"
        )
    _definitions(data)
    _providers(data, rng, today, clinics)
    _operatories(data, clinics)
    _schedules(data, today)
    _appointment_types(data)
    _patients(data, rng, today, clinics)
    _insurance(data, rng, today)
    _appointments(data, rng, today, now, ZoneInfo(zone))
    _payments(data, rng, today)
    return data
