"""The GET endpoints (permission ``ReadAll``): every list paged, filters as the docs list them.

Lists come in primary-key order except where the docs say otherwise: Schedules "sorted by StartTime" (the time
of day, whatever the date, as the example shows) [OD-sched], and Patients GET (multiple) in the Patient Select
window's order (last name, first name) [OD-pats].
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from starlette.responses import Response

from pms_connect.opendental.sandbox.records import DbAppointment, DbPatient, PracticeData
from pms_connect.opendental.sandbox.render import (
    appointment_json,
    appointment_type_json,
    carrier_json,
    clinic_json,
    definition_json,
    family_insurance_json,
    insplan_json,
    inssub_json,
    operatory_json,
    patient_json,
    patient_search_json,
    patplan_json,
    payment_json,
    provider_json,
    schedule_json,
)
from pms_connect.opendental.sandbox.slots import open_slots
from pms_connect.opendental.sandbox.state import Call
from pms_connect.opendental.sandbox.wire import OdRefusal, QueryArgs, json_answer, page_of

__all__ = ["READ_ROUTES", "digits"]

T = TypeVar("T")

APPOINTMENT_STATUSES = (
    "Scheduled",
    "Complete",
    "UnschedList",
    "ASAP",
    "Broken",
    "Planned",
    "PtNote",
    "PtNoteCompleted",
)
PAT_STATUSES = ("Patient", "NonPatient", "Inactive", "Archived", "Deceased", "Prospective")


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _listing(call: Call, rows: Sequence[T], render: Callable[[T], dict[str, Any]]) -> Response:
    return json_answer([render(row) for row in page_of(rows, call.query, call.cap)])


def _sorted(table: dict[int, T]) -> list[T]:
    return [table[key] for key in sorted(table)]


def _date_range(query: QueryArgs) -> tuple[dt.date | None, dt.date | None]:
    """``date`` (one day) or ``dateStart``/``dateEnd`` (inclusive); either end may be left open."""
    day = query.day("date")
    if day is not None:
        return day, day
    return query.day("dateStart"), query.day("dateEnd")


def _within(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _found(row: T | None, what: str) -> T:
    if row is None:
        raise OdRefusal(404, f"{what} not found")
    return row


# -------------------------------------------------------------------------------------- practice set-up
def get_clinics(call: Call) -> Response:
    rows = [c for c in _sorted(call.data.clinics) if not c.is_hidden]
    return _listing(call, rows, clinic_json)


def get_providers(call: Call) -> Response:
    data = call.data
    clinic = call.query.number("ClinicNum")
    if clinic is not None:
        if clinic != 0 and clinic not in data.clinics:
            raise OdRefusal(404, "Clinic not found")
        rows = [p for p in _sorted(data.providers) if not p.is_hidden and (not p.clinics or clinic in p.clinics)]
        return _listing(call, rows, lambda p: provider_json(p, ""))  # no serverDateTime with ClinicNum
    since = call.query.stamp()
    rows = [p for p in _sorted(data.providers) if since is None or p.stamp > since]
    now = call.state.server_time()
    return _listing(call, rows, lambda p: provider_json(p, now))


def get_provider(call: Call) -> Response:
    num = call.path_num("ProvNum")
    row = _found(call.data.providers.get(num) if num is not None else None, "Provider")
    return json_answer(provider_json(row, call.state.server_time()))


def get_operatories(call: Call) -> Response:
    clinic = call.query.number("ClinicNum")
    rows = [o for o in _sorted(call.data.operatories) if clinic is None or o.clinic_num == clinic]
    return _listing(call, rows, operatory_json)


def get_operatory(call: Call) -> Response:
    num = call.path_num("OperatoryNum")
    row = _found(call.data.operatories.get(num) if num is not None else None, "Operatory")
    return json_answer(operatory_json(row))


def get_schedules(call: Call) -> Response:
    query, data = call.query, call.data
    start, end = _date_range(query)
    if start is None and end is None:
        start = end = call.state.today()  # "Today's date by default"
    kind = query.choice("SchedType", ("Practice", "Provider", "Blockout", "Employee", "WebSchedASAP"))
    blockout = query.number("BlockoutDefNum")
    prov = query.number("ProvNum")
    employee = query.number("EmployeeNum")
    rows = [
        s
        for s in data.schedules.values()
        if _within(s.day, start, end)
        and (kind is None or s.sched_type == kind)
        and (blockout is None or s.blockout_type == blockout)
        and (prov is None or s.prov_num == prov)
        and (employee is None or s.employee_num == employee)
    ]
    rows.sort(key=lambda s: (s.start, s.day, s.schedule_num))  # "sorted by StartTime"
    return _listing(call, rows, lambda s: schedule_json(s, data))


def get_schedule(call: Call) -> Response:
    num = call.path_num("ScheduleNum")
    row = _found(call.data.schedules.get(num) if num is not None else None, "Schedule")
    return json_answer(schedule_json(row, call.data))


def get_schedule_ops(call: Call) -> Response:
    schedule = call.query.number("ScheduleNum")
    op = call.query.number("OperatoryNum")
    rows = [
        r
        for r in call.data.schedule_ops()
        if (schedule is None or r[1] == schedule) and (op is None or r[2] == op)
    ]
    return _listing(call, rows, lambda r: {"ScheduleOpNum": r[0], "ScheduleNum": r[1], "OperatoryNum": r[2]})


def get_definitions(call: Call) -> Response:
    category = call.query.number("Category")
    hidden = call.query.flag("includeHidden")
    rows = sorted(
        (
            d
            for d in call.data.definitions.values()
            if (category is None or d.category == category) and (hidden or not d.is_hidden)
        ),
        key=lambda d: (d.category, d.item_order, d.def_num),
    )
    return _listing(call, rows, definition_json)


def get_appointment_types(call: Call) -> Response:
    return _listing(call, _sorted(call.data.appointment_types), appointment_type_json)


def get_preferences(call: Call) -> Response:
    name = call.query.text("PrefName")
    rows = [
        (number, key, value)
        for number, (key, value) in enumerate(call.data.preferences.items(), start=11)
        if name is None or key.lower() == name.lower()
    ]
    return _listing(call, rows, lambda r: {"PrefNum": r[0], "PrefName": r[1], "ValueString": r[2]})


# -------------------------------------------------------------------------------------------- appointments
def _appointments(call: Call) -> list[DbAppointment]:
    query = call.query
    pat = query.number("PatNum")
    status = query.choice("AptStatus", APPOINTMENT_STATUSES)
    op = query.number("Op")
    start, end = _date_range(query)
    clinic = query.number("ClinicNum")
    since = query.stamp()
    type_num = query.number("AppointmentTypeNum")
    return [
        a
        for a in _sorted(call.data.appointments)
        if (pat is None or a.pat_num == pat)
        and (status is None or a.status == status)
        and (op is None or a.op == op)
        and _within(a.start.date(), start, end)
        and (clinic is None or a.clinic_num == clinic)
        and (since is None or a.stamp > since)
        and (type_num is None or a.appointment_type_num == type_num)
    ]


def get_appointments(call: Call) -> Response:
    now = call.state.server_time()
    return _listing(call, _appointments(call), lambda a: appointment_json(a, call.data, now))


def get_appointment(call: Call) -> Response:
    num = call.path_num("AptNum")
    row = _found(call.data.appointments.get(num) if num is not None else None, "Appointment")
    return json_answer(appointment_json(row, call.data, call.state.server_time()))


def get_asap(call: Call) -> Response:
    data = call.data
    clinic = call.query.number("ClinicNum")
    if clinic is None and data.uses_clinics:
        raise OdRefusal(400, "ClinicNum is required when clinics are enabled.")
    prov = call.query.number("ProvNum")
    rows = [
        a
        for a in _sorted(data.appointments)
        if a.priority == "ASAP"
        and (clinic is None or a.clinic_num == clinic)
        and (prov is None or a.prov_num == prov)
    ]
    now = call.state.server_time()
    return _listing(call, rows, lambda a: appointment_json(a, data, now))


def get_slots(call: Call) -> Response:
    return _listing(call, open_slots(call.state, call.query), lambda row: row)


# ------------------------------------------------------------------------------------------------ patients
def _contains(value: str, wanted: str | None) -> bool:
    return wanted is None or wanted.lower() in value.lower()


def _starts(value: str, wanted: str | None) -> bool:
    return wanted is None or value.lower().startswith(wanted.lower())


def _subscriber_ids(data: PracticeData, pat_num: int) -> Iterable[str]:
    for patplan in data.coverage(pat_num):
        sub = data.subs.get(patplan.ins_sub_num)
        if sub is not None:
            yield sub.subscriber_id


def _matches_search(p: DbPatient, query: QueryArgs, data: PracticeData) -> bool:
    """The Patient Select window's filters: names from their start, the rest anywhere in the field, phones by
    their digits in any of the three phone fields, case never mattering."""
    phone = digits(query.text("Phone") or "")
    birthdate = query.day("Birthdate")
    clinic_nums = query.text("clinicNums")
    wanted_clinics = {int(n) for n in re.findall(r"\d+", clinic_nums)} if clinic_nums else None
    subscriber = query.text("SubscriberId")
    clinic_abbr = query.text("clinicAbbr")
    return (
        _starts(p.lname, query.text("LName"))
        and _starts(p.fname, query.text("FName"))
        and (not phone or any(phone in digits(number) for number in p.phones))
        and _contains(f"{p.address} {p.address2}", query.text("Address"))
        and _starts(p.city, query.text("City"))
        and _starts(p.state, query.text("State"))
        and _contains(p.ssn, query.text("SSN"))
        and _starts(p.chart_number, query.text("ChartNumber"))
        and _contains(p.email, query.text("Email"))
        and (birthdate is None or p.birthdate == birthdate)
        and (wanted_clinics is None or p.clinic_num in wanted_clinics)
        and (clinic_abbr is None or data.clinic_abbr(p.clinic_num).lower() == clinic_abbr.lower())
        and (subscriber is None or any(subscriber.lower() in s.lower() for s in _subscriber_ids(data, p.pat_num)))
        and not (query.flag("hideInactive") and p.status == "Inactive")
        and not (query.flag("guarOnly") and p.guarantor != p.pat_num)
        and (query.flag("showArchived") or p.status not in ("Archived", "Deceased"))
    )


def search_patients(call: Call) -> Response:
    data = call.data
    rows = [p for p in data.patients.values() if _matches_search(p, call.query, data)]
    rows.sort(key=lambda p: (p.lname.lower(), p.fname.lower(), p.pat_num))
    return _listing(call, rows, lambda p: patient_search_json(p, data))


def get_patients_simple(call: Call) -> Response:
    query, data = call.query, call.data
    birthdate = query.day("Birthdate")
    clinic = query.number("ClinicNum")
    status = query.choice("PatStatus", PAT_STATUSES)
    since = query.stamp()
    pri_prov = query.number("PriProv")
    gender = query.choice("Gender", ("Male", "Female", "Unknown", "Other"))
    position = query.choice("Position", ("Single", "Married", "Child", "Widowed", "Divorced"))
    guarantor = query.number("Guarantor")
    super_family = query.number("SuperFamily")
    employer = query.number("EmployerNum")
    rows = [
        p
        for p in _sorted(data.patients)
        if _contains(p.lname, query.text("LName"))
        and _contains(p.fname, query.text("FName"))
        and (birthdate is None or p.birthdate == birthdate)
        and (clinic is None or p.clinic_num == clinic)
        and (status is None or p.status == status)
        and (since is None or p.stamp > since)
        and (pri_prov is None or p.pri_prov == pri_prov)
        and (gender is None or p.gender == gender)
        and (position is None or p.position == position)
        and (guarantor is None or p.guarantor == guarantor)
        and (super_family is None or p.super_family == super_family)
        and (employer is None or p.employer_num == employer)
    ]
    now = call.state.server_time()
    return _listing(call, rows, lambda p: patient_json(p, data, now))


def get_patient(call: Call) -> Response:
    num = call.path_num("PatNum")
    row = _found(call.data.patients.get(num) if num is not None else None, "Patient")
    return json_answer(patient_json(row, call.data))


# ----------------------------------------------------------------------------------------------- insurance
def get_carriers(call: Call) -> Response:
    return _listing(call, _sorted(call.data.carriers), carrier_json)


def get_carrier(call: Call) -> Response:
    num = call.path_num("CarrierNum")
    return json_answer(carrier_json(_found(call.data.carriers.get(num) if num is not None else None, "Carrier")))


def get_insplans(call: Call) -> Response:
    raw_type = call.query.choice("PlanType", ("percentage", "p", "f", "c"))
    plan_type = "" if raw_type == "percentage" else raw_type
    carrier = call.query.number("CarrierNum")
    rows = [
        p
        for p in _sorted(call.data.plans)
        if (plan_type is None or p.plan_type == plan_type) and (carrier is None or p.carrier_num == carrier)
    ]
    return _listing(call, rows, insplan_json)


def get_insplan(call: Call) -> Response:
    num = call.path_num("PlanNum")
    return json_answer(insplan_json(_found(call.data.plans.get(num) if num is not None else None, "InsPlan")))


def get_inssubs(call: Call) -> Response:
    plan = call.query.number("PlanNum")
    subscriber = call.query.number("Subscriber")
    since = call.query.stamp("SecDateTEdit")
    rows = [
        s
        for s in _sorted(call.data.subs)
        if (plan is None or s.plan_num == plan)
        and (subscriber is None or s.subscriber == subscriber)
        and (since is None or s.edited >= since)  # "on or after this date"
    ]
    return _listing(call, rows, inssub_json)


def get_inssub(call: Call) -> Response:
    num = call.path_num("InsSubNum")
    return json_answer(inssub_json(_found(call.data.subs.get(num) if num is not None else None, "InsSub")))


def get_patplans(call: Call) -> Response:
    pat = call.query.number("PatNum")
    if pat is not None and pat not in call.data.patients:
        raise OdRefusal(404, "Patient does not exist")
    sub = call.query.number("InsSubNum")
    rows = [
        p
        for p in _sorted(call.data.patplans)
        if (pat is None or p.pat_num == pat) and (sub is None or p.ins_sub_num == sub)
    ]
    return _listing(call, rows, patplan_json)


def get_family_insurance(call: Call) -> Response:
    num = call.path_num("PatNum")
    _found(call.data.patients.get(num) if num is not None else None, "Patient")
    assert num is not None
    rows = [r for r in (family_insurance_json(p, call.data) for p in call.data.coverage(num)) if r is not None]
    return json_answer(rows)


# ------------------------------------------------------------------------------------------------ payments
def get_payments(call: Call) -> Response:
    data = call.data
    pat = call.query.number("PatNum")
    if pat is not None and pat not in data.patients:
        raise OdRefusal(404, "Patient not found")
    pay_type = call.query.number("PayType")
    since = call.query.day("DateEntry")
    rows = [
        p
        for p in _sorted(data.payments)
        if (pat is None or p.pat_num == pat)
        and (pay_type is None or p.pay_type == pay_type)
        and (since is None or p.date_entry >= since)  # "on or after a certain date"
    ]
    now = call.state.server_time()
    return _listing(call, rows, lambda p: payment_json(p, data, now))


READ_ROUTES: list[tuple[str, Callable[[Call], Response]]] = [
    ("/clinics", get_clinics),
    ("/providers", get_providers),
    ("/providers/{ProvNum}", get_provider),
    ("/operatories", get_operatories),
    ("/operatories/{OperatoryNum}", get_operatory),
    ("/schedules", get_schedules),
    ("/schedules/{ScheduleNum}", get_schedule),
    ("/scheduleops", get_schedule_ops),
    ("/definitions", get_definitions),
    ("/appointmenttypes", get_appointment_types),
    ("/preferences", get_preferences),
    ("/appointments", get_appointments),
    ("/appointments/Slots", get_slots),
    ("/appointments/ASAP", get_asap),
    ("/appointments/{AptNum}", get_appointment),
    ("/patients", search_patients),
    ("/patients/Simple", get_patients_simple),
    ("/patients/{PatNum}", get_patient),
    ("/carriers", get_carriers),
    ("/carriers/{CarrierNum}", get_carrier),
    ("/insplans", get_insplans),
    ("/insplans/{PlanNum}", get_insplan),
    ("/inssubs", get_inssubs),
    ("/inssubs/{InsSubNum}", get_inssub),
    ("/patplans", get_patplans),
    ("/familymodules/{PatNum}/Insurance", get_family_insurance),
    ("/payments", get_payments),
]
"""``(path, handler)`` of every GET, literal paths before the ``{Num}`` ones they would otherwise match."""
