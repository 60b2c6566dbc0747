"""The writes, applied at once (synchronous, as Open Dental's are), with the docs' defaults and refusals.

``POST /appointments`` (201, ``location``, the full object), ``PUT /appointments/{AptNum}`` (partial, 200 and
the object), ``PUT .../Break``, ``.../Note``, ``.../Confirm`` (bare 200), ``POST /patients`` (201,
``location``), ``PUT /patients/{PatNum}`` (200 and the object), ``POST /payments`` (201 and the object)
[OD-appts][OD-pats][OD-pay]. Every explanation is plain text; none carries a patient's details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from starlette.responses import Response

from pms_connect.opendental.sandbox.reads import digits
from pms_connect.opendental.sandbox.records import DbAppointment, DbPatient, DbPayment, PracticeData
from pms_connect.opendental.sandbox.render import appointment_json, patient_json, payment_json
from pms_connect.opendental.sandbox.slots import OCCUPYING, overlapping
from pms_connect.opendental.sandbox.state import Call
from pms_connect.opendental.sandbox.wire import JsonBody, OdRefusal, json_answer

__all__ = ["WRITE_ROUTES"]

PATTERN_LIMIT = 108  # nine hours of five-minute characters: "Patterns exceeding 9 hours will be trimmed"
POST_STATUSES = ("Scheduled", "Complete", "UnschedList", "PtNote", "PtNoteCompleted")
PUT_STATUSES = ("Scheduled", "Complete", "UnschedList", "Broken", "Planned", "PtNote", "PtNoteCompleted")
CONFIRM_VALUES = ("None", "Sent", "Confirmed", "Not Accepted", "Failed")
_CONFIRM_PREFS = {
    "Sent": "ApptEConfirmStatusSent",
    "Confirmed": "ApptEConfirmStatusAccepted",
    "Not Accepted": "ApptEConfirmStatusDeclined",
    "Failed": "ApptEConfirmStatusSendFailed",
}
_COLOR = re.compile(r"^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$")
_ZIP = re.compile(r"^(\d{5}|\d{5}-\d{4}|\d{9}|[A-Za-z]\d[A-Za-z] \d[A-Za-z]\d)$")
CONTACT_METHODS = (
    "None",
    "DoNotCall",
    "HmPhone",
    "WkPhone",
    "WirelessPh",
    "Email",
    "SeeNotes",
    "Mail",
    "TextMessage",
)
PAT_STATUSES = ("Patient", "NonPatient", "Inactive", "Archived", "Deceased", "Prospective")
GENDERS = ("Male", "Female", "Unknown")
POSITIONS = ("Single", "Married", "Child", "Widowed", "Divorced")
TXT_MSG = ("Unknown", "Yes", "No")


def _location(call: Call, resource: str, num: int) -> dict[str, str]:
    return {"location": f"{call.base}/{resource}/{num}"}


def _appointment_or_404(call: Call) -> DbAppointment:
    num = call.path_num("AptNum")
    row = call.data.appointments.get(num) if num is not None else None
    if row is None:
        raise OdRefusal(404, "Appointment not found")
    return row


# ------------------------------------------------------------------------------------- appointment fields
def _pattern(body: JsonBody, name: str = "Pattern") -> str | None:
    value = body.text(name)
    if value is None:
        return None
    if not re.fullmatch(r"[X/]+", value):
        raise OdRefusal(400, f"{name} must consist of 'X' and '/' characters only.")
    return value[:PATTERN_LIMIT]


def _color(body: JsonBody) -> str | None:
    value = body.text("colorOverride")
    if value is None:
        return None
    match = _COLOR.match(value)
    if match is None or any(int(part) > 255 for part in match.groups()):
        raise OdRefusal(400, 'colorOverride must be a color in "R,G,B" format, each value from 0 to 255.')
    return ",".join(str(int(part)) for part in match.groups())


def _def_in(data: PracticeData, num: int, category: int, name: str) -> int:
    row = data.definitions.get(num)
    if row is None or row.category != category:
        raise OdRefusal(400, f"{name} must be a definition.DefNum where definition.Category={category}.")
    return num


def _provider(data: PracticeData, num: int | None, name: str) -> int | None:
    if num is None or num == 0:
        return num
    if num not in data.providers:
        raise OdRefusal(400, f"{name} is invalid: no provider {num}.")
    return num


def _clinic(data: PracticeData, num: int | None) -> int | None:
    if num is None or num == 0:
        return num
    if num not in data.clinics:
        raise OdRefusal(400, f"ClinicNum is invalid: no clinic {num}.")
    return num


def _operatory(data: PracticeData, num: int) -> int:
    if num not in data.operatories:
        raise OdRefusal(404, "Operatory not found")
    return num


def _check_overlap(call: Call, row: DbAppointment) -> None:
    rejecting = call.state.reject_overlaps and row.status in OCCUPYING and row.op
    if rejecting and overlapping(call.data, row.op, row.start, row.end, skip=row.apt_num):
        raise OdRefusal(400, f"Appointment overlaps another appointment in operatory {row.op}.")


def _apply_secondary(row: DbAppointment, body: JsonBody) -> None:
    secondary = _pattern(body, "PatternSecondary")
    if secondary is None:
        if len(row.pattern_secondary) != len(row.pattern):
            row.pattern_secondary = "/" * len(row.pattern)
        return
    if len(secondary) != len(row.pattern):
        raise OdRefusal(400, "PatternSecondary must match the length of Pattern.")
    row.pattern_secondary = secondary


def post_appointment(call: Call) -> Response:
    body, data, now = call.body, call.data, call.state.local_now()
    pat_num = body.required_number("PatNum")
    op = body.required_number("Op")
    start = body.moment("AptDateTime")
    if start is None:
        raise OdRefusal(400, "AptDateTime is required.")
    patient = data.patients.get(pat_num)
    if patient is None:
        raise OdRefusal(404, "Patient not found")
    _operatory(data, op)
    type_num = body.number("AppointmentTypeNum") or 0
    apt_type = data.appointment_types.get(type_num) if type_num else None
    if type_num and apt_type is None:
        raise OdRefusal(400, "AppointmentTypeNum is invalid.")
    pattern = _pattern(body) or (apt_type.pattern if apt_type else "/XX/")
    confirmed = body.number("Confirmed")
    prov = _provider(data, body.number("ProvNum"), "ProvNum")
    clinic = _clinic(data, body.number("ClinicNum"))
    color = _color(body) or (apt_type.color if apt_type else "0,0,0")
    row = DbAppointment(
        apt_num=data.next_num(data.appointments),
        pat_num=pat_num,
        status=body.choice("AptStatus", POST_STATUSES) or "Scheduled",
        pattern=pattern,
        confirmed=_def_in(data, confirmed, 2, "Confirmed")
        if confirmed is not None
        else data.category(2)[0].def_num,
        op=op,
        prov_num=prov or patient.pri_prov or data.default_provider,
        prov_hyg=_provider(data, body.number("ProvHyg"), "ProvHyg") or 0,
        start=start,
        stamp=now,
        entered=now,
        note=body.text("Note") or "",
        clinic_num=clinic if clinic is not None else (data.operatories[op].clinic_num or patient.clinic_num),
        is_hygiene=bool(body.flag("IsHygiene")),
        is_new_patient=bool(body.flag("IsNewPatient")),
        priority=body.choice("Priority", ("Normal", "ASAP")) or "Normal",
        appointment_type_num=type_num,
        color_override=color,
    )
    _apply_secondary(row, body)
    row.ins_plan1, row.ins_plan2 = data.plans_of(pat_num)
    _check_overlap(call, row)
    if row.is_new_patient and not any(
        a.pat_num == pat_num and a.status == "Complete" for a in data.appointments.values()
    ):
        patient.date_first_visit = start.date()
    data.appointments[row.apt_num] = row
    return json_answer(appointment_json(row, data, None), 201, _location(call, "appointments", row.apt_num))


def put_appointment(call: Call) -> Response:
    body, data = call.body, call.data
    row = _appointment_or_404(call)
    draft = DbAppointment(**vars(row))
    status = body.choice("AptStatus", PUT_STATUSES)
    if status is not None:
        draft.status = status
    type_num = body.number("AppointmentTypeNum")
    if type_num is not None:
        apt_type = data.appointment_types.get(type_num) if type_num else None
        if type_num and apt_type is None:
            raise OdRefusal(400, "AppointmentTypeNum is invalid.")
        draft.appointment_type_num = type_num
        if apt_type is not None:
            if "Pattern" not in body:
                draft.pattern = apt_type.pattern
            if "colorOverride" not in body:
                draft.color_override = apt_type.color
    pattern = _pattern(body)
    if pattern is not None:
        draft.pattern = pattern
    _apply_secondary(draft, body)
    confirmed = body.number("Confirmed")
    if confirmed is not None:
        draft.confirmed = _def_in(data, confirmed, 2, "Confirmed")
    op = body.number("Op")
    if op is not None:
        draft.op = _operatory(data, op)
    if "Note" in body:
        draft.note = body.text("Note") or ""  # overwrites [OD-appts]
    prov = _provider(data, body.number("ProvNum"), "ProvNum")
    if prov:
        draft.prov_num = prov
    hyg = _provider(data, body.number("ProvHyg"), "ProvHyg")
    if hyg is not None:
        draft.prov_hyg = hyg
    start = body.moment("AptDateTime")
    if start is not None:
        draft.start = start
    clinic = _clinic(data, body.number("ClinicNum"))
    if clinic is not None:
        draft.clinic_num = clinic
    for field, name in (("is_hygiene", "IsHygiene"), ("is_new_patient", "IsNewPatient")):
        flag = body.flag(name)
        if flag is not None:
            setattr(draft, field, flag)
    priority = body.choice("Priority", ("Normal", "ASAP"))
    if priority is not None:
        draft.priority = priority
    unsched = body.number("UnschedStatus")
    if unsched is not None:
        draft.unsched_status = _def_in(data, unsched, 13, "UnschedStatus") if unsched else 0
    color = _color(body)
    if color is not None:
        draft.color_override = color
    _check_overlap(call, draft)
    draft.stamp = call.state.local_now()
    data.appointments[row.apt_num] = draft
    return json_answer(appointment_json(draft, data, None))


def put_break(call: Call) -> Response:
    body = call.body
    row = _appointment_or_404(call)
    if "sendToUnscheduledList" not in body:
        raise OdRefusal(400, "sendToUnscheduledList is required.")
    to_list = body.flag("sendToUnscheduledList")
    break_type = body.choice("breakType", ("Missed", "Cancelled"))
    if break_type is not None and not call.state.broken_appointment_procedures:
        raise OdRefusal(
            400, 'breakType cannot be used: the office\'s broken appointment procedure type is "None".'
        )
    if row.status != "Scheduled":
        raise OdRefusal(400, "Only appointments with an AptStatus of Scheduled can be broken.")
    row.status = "UnschedList" if to_list else "Broken"
    row.stamp = call.state.local_now()
    return Response(status_code=200)


def put_note(call: Call) -> Response:
    row = _appointment_or_404(call)
    note = call.body.required_text("Note")
    row.note = f"{row.note}\r\n{note}" if row.note else note  # "a CR is included before the new note"
    row.stamp = call.state.local_now()
    return Response(status_code=200)


def put_confirm(call: Call) -> Response:
    body, data = call.body, call.data
    row = _appointment_or_404(call)
    if len(body) != 1 or ("confirmVal" in body) == ("defNum" in body):
        raise OdRefusal(400, "Only one field is allowed in the JSON object, either confirmVal or defNum.")
    if "defNum" in body:
        row.confirmed = _def_in(data, body.required_number("defNum"), 2, "defNum")
    else:
        value = body.choice("confirmVal", CONFIRM_VALUES)
        if value is None:
            raise OdRefusal(400, "confirmVal is required.")
        if value == "None":
            row.confirmed = data.category(2)[0].def_num
        else:
            row.confirmed = int(data.preferences[_CONFIRM_PREFS[value]])
    row.stamp = call.state.local_now()
    return Response(status_code=200)


# -------------------------------------------------------------------------------------------------- patients
_TEXT_FIELDS = {
    "MiddleI": "middle_i",
    "Preferred": "preferred",
    "SSN": "ssn",
    "Address": "address",
    "Address2": "address2",
    "City": "city",
    "State": "state",
    "HmPhone": "hm_phone",
    "WkPhone": "wk_phone",
    "WirelessPhone": "wireless_phone",
    "Email": "email",
    "FamFinUrgNote": "fam_fin_urg_note",
    "ChartNumber": "chart_number",
    "MedicaidID": "medicaid_id",
    "Ward": "ward",
    "Language": "language",
}
_CHOICE_FIELDS = {
    "PatStatus": ("status", PAT_STATUSES),
    "Gender": ("gender", GENDERS),
    "Position": ("position", POSITIONS),
    "PreferConfirmMethod": ("prefer_confirm", CONTACT_METHODS),
    "PreferContactMethod": ("prefer_contact", CONTACT_METHODS),
    "PreferRecallMethod": ("prefer_recall", CONTACT_METHODS),
    "TxtMsgOk": ("txt_msg_ok", TXT_MSG),
}
_DATE_FIELDS = {"Birthdate": "birthdate", "DateFirstVisit": "date_first_visit", "AdmitDate": "admit_date"}


def _apply_patient_fields(call: Call, row: DbPatient, body: JsonBody) -> None:
    """Every optional field present in ``body``, checked, onto ``row``; an empty string clears a text field."""
    data = call.data
    for name in ("LName", "FName"):
        if name in body:
            value = (body.text(name) or "").strip()
            if not value:
                raise OdRefusal(400, f"{name} cannot be blank.")
            setattr(row, name.lower(), value)
    for name, attr in _TEXT_FIELDS.items():
        if name in body:
            setattr(row, attr, body.text(name) or "")
    if len(row.chart_number) > 15:
        raise OdRefusal(400, "ChartNumber cannot be longer than 15 characters.")
    for name, (attr, allowed) in _CHOICE_FIELDS.items():
        choice = body.choice(name, allowed)
        if choice is not None:
            setattr(row, attr, choice)
    for name, attr in _DATE_FIELDS.items():
        if name in body:
            text = body.text(name) or ""
            setattr(row, attr, body.day(name) if text.strip() else None)
    if "Zip" in body:
        zipcode = (body.text("Zip") or "").strip()
        if zipcode and not _ZIP.match(zipcode):
            raise OdRefusal(400, "Zip must be in format 12345, 12345-1234, 123456789 or A0A 0A0.")
        row.zip = zipcode
    for name, attr in (("PriProv", "pri_prov"), ("SecProv", "sec_prov")):
        prov = _provider(data, body.number(name), name)
        if prov is not None:
            setattr(row, attr, prov)
    clinic = _clinic(data, body.number("ClinicNum"))
    if clinic is not None:
        row.clinic_num = clinic
    employer = body.number("EmployerNum")
    if employer is not None:
        row.employer_num = employer
    if "BillingType" in body:
        name = body.text("BillingType") or ""
        if not any(d.item_name == name for d in data.category(4)):
            raise OdRefusal(400, "BillingType must be a definition.ItemName where definition.Category=4.")
        row.billing_type = name
    if "Guarantor" in body and "SuperFamily" in body:
        raise OdRefusal(400, "Only Guarantor or SuperFamily can be set in a single request.")
    guarantor = body.number("Guarantor")
    if guarantor is not None and guarantor != row.pat_num:
        head = data.patients.get(guarantor)
        if head is None:
            raise OdRefusal(400, "Guarantor is invalid.")
        row.guarantor = head.guarantor
    super_family = body.number("SuperFamily")
    if super_family is not None:
        if super_family and super_family not in data.patients:
            raise OdRefusal(400, "SuperFamily is invalid.")
        row.super_family = super_family
    if row.fam_fin_urg_note and row.guarantor != row.pat_num:
        raise OdRefusal(400, "FamFinUrgNote can only be set for a guarantor.")


def _last10(phone: str) -> str:
    return digits(phone)[-10:]


def _duplicate_of(data: PracticeData, new: DbPatient) -> DbPatient | None:
    """The existing patient with the same LName, FName and Birthdate, and the same email or a phone number
    in common (by its last ten digits, in any of the three fields) [OD-pats]."""
    phones = {_last10(p) for p in new.phones if _last10(p)}
    for old in sorted(data.patients.values(), key=lambda p: p.pat_num):
        if (old.lname.lower(), old.fname.lower(), old.birthdate) != (
            new.lname.lower(),
            new.fname.lower(),
            new.birthdate,
        ):
            continue
        same_email = bool(new.email.strip()) and old.email.strip().lower() == new.email.strip().lower()
        if same_email or phones & {_last10(p) for p in old.phones if _last10(p)}:
            return old
    return None


def post_patient(call: Call) -> Response:
    body, data, state = call.body, call.data, call.state
    lname = body.required_text("LName").strip()
    fname = body.required_text("FName").strip()
    now = state.local_now()
    pat_num = data.next_num(data.patients)
    default_bill = data.def_name(int(data.preferences.get("PracticeDefaultBillType", "0") or 0))
    row = DbPatient(
        pat_num=pat_num,
        lname=lname,
        fname=fname,
        birthdate=None,
        gender="Unknown",
        position="Single",
        guarantor=pat_num,
        stamp=now,
        sec_date_entry=now.date(),
        pri_prov=data.default_provider,
        billing_type=default_bill or "Standard Account",
    )
    _apply_patient_fields(call, row, body)
    existing = _duplicate_of(data, row)
    if existing is not None and state.duplicate_patients == "reject":
        raise OdRefusal(
            400,
            f"Patient already exists (PatNum {existing.pat_num}): same LName, FName, Birthdate "
            "and email or phone number.",
        )
    if existing is not None and state.duplicate_patients == "existing":
        return json_answer(patient_json(existing, data))
    data.patients[pat_num] = row
    return json_answer(patient_json(row, data), 201, _location(call, "patients", pat_num))


def put_patient(call: Call) -> Response:
    data = call.data
    num = call.path_num("PatNum")
    row = data.patients.get(num) if num is not None else None
    if row is None:
        raise OdRefusal(404, "Patient not found")
    draft = DbPatient(**vars(row))
    _apply_patient_fields(call, draft, call.body)
    draft.stamp = call.state.local_now()
    data.patients[row.pat_num] = draft
    return json_answer(patient_json(draft, data))


# -------------------------------------------------------------------------------------------------- payments
def post_payment(call: Call) -> Response:
    body, data, state = call.body, call.data, call.state
    amount = body.amount("PayAmt")
    if amount is None:
        raise OdRefusal(400, "PayAmt is required.")
    pat_num = body.required_number("PatNum")
    patient = data.patients.get(pat_num)
    if patient is None:
        raise OdRefusal(404, "Patient not found")
    if amount <= 0:
        raise OdRefusal(400, "PayAmt must be greater than zero. Use Payments POST Refund for a refund.")
    pay_type = body.number("PayType")
    if pay_type is None:
        pay_type = int(data.preferences["ApiPaymentType"])  # "Defaults to the ApiPaymentType preference"
    row = data.definitions.get(pay_type)
    if row is None or row.category != 10 or row.is_hidden:
        raise OdRefusal(400, "PayType must be a definition.DefNum where definition.Category=10.")
    now = state.local_now()
    pay_date = body.day("PayDate") or now.date()
    if pay_date > now.date():
        raise OdRefusal(400, "PayDate cannot be in the future: the office does not allow future-dated payments.")
    clinic = _clinic(data, body.number("ClinicNum"))
    for flag in ("isPatientPreferred", "isPrepayment"):
        body.flag(flag)
    procs = body.raw("procNums")
    if procs is not None and (not isinstance(procs, list) or not all(isinstance(n, int) for n in procs)):
        raise OdRefusal(400, "procNums must be an array of ProcNums, in [1,2,3] format.")
    if body.number("payPlanNum"):
        raise OdRefusal(400, "payPlanNum is invalid: no such Dynamic Payment Plan.")
    payment = DbPayment(
        pay_num=data.next_num(data.payments),
        pay_type=pay_type,
        pay_date=pay_date,
        amount=amount.quantize(Decimal("0.01")),
        pat_num=pat_num,
        date_entry=now.date(),
        edited=now,
        check_num=body.text("CheckNum") or "",
        bank_branch=body.text("BankBranch") or "",
        note=body.text("PayNote") or "",
        clinic_num=clinic if clinic is not None else patient.clinic_num,
        source="API",
    )
    data.payments[payment.pay_num] = payment
    patient.est_balance -= payment.amount
    return json_answer(payment_json(payment, data, ""), 201)


def post_payplan(call: Call) -> Response:
    raise OdRefusal(410, "PayPlans POST has been deprecated (version 23.3). Use PayPlans POST Dynamic.")


WRITE_ROUTES: list[tuple[str, str, str, Callable[[Call], Response]]] = [
    ("POST", "/appointments", "Appointments", post_appointment),
    ("PUT", "/appointments/{AptNum}/Break", "Comm", put_break),
    ("PUT", "/appointments/{AptNum}/Note", "Comm", put_note),
    ("PUT", "/appointments/{AptNum}/Confirm", "Comm", put_confirm),
    ("PUT", "/appointments/{AptNum}", "Appointments", put_appointment),
    ("POST", "/patients", "Patients", post_patient),
    ("PUT", "/patients/{PatNum}", "Patients", put_patient),
    ("POST", "/payments", "Payments", post_payment),
    ("POST", "/payplans", "PayPlans", post_payplan),
]
"""``(method, path, permission, handler)`` of every write [OD-perms]."""
