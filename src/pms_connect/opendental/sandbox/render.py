"""Records to Open Dental's wire shapes, key for key and in the order of the docs' example answers.

The number/string quirks are the examples' own: Schedules send every number as a string [OD-sched]; Payments
send ``PayAmt`` and ``ClinicNum`` as strings [OD-pay]; Patients GET (multiple) sends a digits-only ``Zip`` as a
number [OD-pats]; Appointments, Providers, Operatories and the rest send numbers as numbers. Lower-case fields
are the derived, read-only strings (``confirmed``, ``provAbbr``, ``clinicAbbr``, ``payType``, ...) [OD-impl].
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pms_connect.opendental.sandbox.records import (
    CATEGORY_NAMES,
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
from pms_connect.opendental.sandbox.wire import fmt_amount, fmt_bool, fmt_clock_time, fmt_day, fmt_moment

__all__ = [
    "appointment_json",
    "appointment_type_json",
    "carrier_json",
    "clinic_json",
    "definition_json",
    "family_insurance_json",
    "insplan_json",
    "inssub_json",
    "operatory_json",
    "patient_json",
    "patient_search_json",
    "patplan_json",
    "payment_json",
    "provider_json",
    "schedule_json",
    "slot_json",
]

_PLAN_TYPES = {"": "Category Percentage", "p": "PPO Percentage", "f": "Flat Co-pay", "c": "Capitation"}
_ORDINALS = {1: "Primary", 2: "Secondary", 3: "Tertiary"}


def _money(amount: Decimal) -> float:
    """A balance as a JSON number (``0.0``, ``111.9``), as the Patients examples show them."""
    return float(amount)


def clinic_json(row: DbClinic) -> dict[str, Any]:
    return {
        "ClinicNum": row.clinic_num,
        "Description": row.description,
        "Address": row.address,
        "Address2": "",
        "City": row.city,
        "State": row.state,
        "Zip": row.zip,
        "BillingAddress": row.address,
        "BillingAddress2": "",
        "BillingCity": row.city,
        "BillingState": row.state,
        "BillingZip": row.zip,
        "PayToAddress": "",
        "PayToAddress2": "",
        "PayToCity": "",
        "PayToState": "",
        "PayToZip": "",
        "Phone": row.phone,
        "Abbr": row.abbr,
        "IsHidden": fmt_bool(row.is_hidden),
    }


def provider_json(row: DbProvider, server_time: str) -> dict[str, Any]:
    """``server_time`` is ``serverDateTime``: the server's clock, or ``""`` where the docs show it empty."""
    return {
        "ProvNum": row.prov_num,
        "Abbr": row.abbr,
        "LName": row.lname,
        "FName": row.fname,
        "MI": row.mi,
        "Suffix": row.suffix,
        "FeeSched": row.fee_sched,
        "Specialty": row.specialty,
        "SSN": row.ssn,
        "StateLicense": row.state_license,
        "IsSecondary": fmt_bool(row.is_secondary),
        "provColor": row.color,
        "IsHidden": fmt_bool(row.is_hidden),
        "UsingTIN": fmt_bool(row.using_tin),
        "SigOnFile": fmt_bool(row.sig_on_file),
        "NationalProvID": row.npi,
        "DateTStamp": fmt_moment(row.stamp),
        "IsNotPerson": fmt_bool(row.is_not_person),
        "ProvStatus": row.status,
        "IsHiddenReport": fmt_bool(row.is_hidden_report),
        "Birthdate": fmt_day(row.birthdate),
        "SchedNote": row.sched_note,
        "PreferredName": row.preferred_name,
        "serverDateTime": server_time,
    }


def operatory_json(row: DbOperatory) -> dict[str, Any]:
    return {
        "OperatoryNum": row.op_num,
        "OpName": row.name,
        "Abbrev": row.abbrev,
        "ItemOrder": row.item_order,
        "IsHidden": fmt_bool(row.is_hidden),
        "ProvDentist": row.prov_dentist,
        "ProvHygienist": row.prov_hygienist,
        "IsHygiene": fmt_bool(row.is_hygiene),
        "ClinicNum": row.clinic_num,
        "SetProspective": fmt_bool(row.set_prospective),
        "IsWebSched": fmt_bool(row.is_web_sched),
        "OperatoryType": 0,
        "operatoryType": "",
    }


def schedule_json(row: DbSchedule, data: PracticeData) -> dict[str, Any]:
    """Every number as a string, as the Schedules examples send them."""
    return {
        "ScheduleNum": str(row.schedule_num),
        "SchedDate": fmt_day(row.day),
        "StartTime": fmt_clock_time(row.start),
        "StopTime": fmt_clock_time(row.stop),
        "SchedType": row.sched_type,
        "ProvNum": str(row.prov_num),
        "BlockoutType": str(row.blockout_type),
        "blockoutType": data.def_name(row.blockout_type) if row.blockout_type else "",
        "Note": row.note,
        "operatories": ",".join(str(op) for op in row.ops),
        "EmployeeNum": str(row.employee_num),
    }


def definition_json(row: DbDefinition) -> dict[str, Any]:
    return {
        "DefNum": row.def_num,
        "ItemName": row.item_name,
        "ItemValue": row.item_value,
        "Category": row.category,
        "category": CATEGORY_NAMES.get(row.category, str(row.category)),
        "isHidden": fmt_bool(row.is_hidden),
    }


def appointment_type_json(row: DbAppointmentType) -> dict[str, Any]:
    return {
        "AppointmentTypeNum": row.num,
        "AppointmentTypeName": row.name,
        "appointmentTypeColor": row.color,
        "IsHidden": fmt_bool(row.is_hidden),
        "Pattern": row.pattern,
        "CodeStr": row.code_str,
        "CodeStrRequired": row.code_str_required,
        # the examples show 0 when no codes are required and the enum's name otherwise [OD-appttypes]
        "RequiredProcCodesNeeded": row.required_needed if row.code_str_required else 0,
        "BlockoutTypes": row.blockout_types,
    }


def appointment_json(row: DbAppointment, data: PracticeData, server_time: str | None) -> dict[str, Any]:
    """The full appointment; GETs lead with ``serverDateTime``, POST and PUT answers have none."""
    body: dict[str, Any] = {} if server_time is None else {"serverDateTime": server_time}
    body |= {
        "AptNum": row.apt_num,
        "PatNum": row.pat_num,
        "AptStatus": row.status,
        "Pattern": row.pattern,
        "Confirmed": row.confirmed,
        "confirmed": data.def_name(row.confirmed),
        "TimeLocked": fmt_bool(row.time_locked),
        "Op": row.op,
        "Note": row.note,
        "ProvNum": row.prov_num,
        "provAbbr": data.prov_abbr(row.prov_num),
        "ProvHyg": row.prov_hyg,
        "AptDateTime": fmt_moment(row.start),
        "NextAptNum": row.next_apt_num,
        "UnschedStatus": row.unsched_status,
        "unschedStatus": data.def_name(row.unsched_status) if row.unsched_status else "",
        "IsNewPatient": fmt_bool(row.is_new_patient),
        "ProcDescript": row.proc_descript,
        "ClinicNum": row.clinic_num,
        "IsHygiene": fmt_bool(row.is_hygiene),
        "DateTStamp": fmt_moment(row.stamp),
        "DateTimeArrived": fmt_moment(row.arrived),
        "DateTimeSeated": fmt_moment(row.seated),
        "DateTimeDismissed": fmt_moment(row.dismissed),
        "InsPlan1": row.ins_plan1,
        "InsPlan2": row.ins_plan2,
        "DateTimeAskedToArrive": fmt_moment(row.asked_to_arrive),
        "colorOverride": row.color_override,
        "AppointmentTypeNum": row.appointment_type_num,
        "SecDateTEntry": fmt_moment(row.entered),
        "Priority": row.priority,
        "PatternSecondary": row.pattern_secondary,
        "ItemOrderPlanned": row.item_order_planned,
    }
    return body


def _balance_total(row: DbPatient, data: PracticeData) -> float:
    """BalTotal: the family's total, 0 unless the patient is the guarantor [OD-pats]."""
    if row.guarantor != row.pat_num:
        return 0.0
    return _money(sum((p.est_balance for p in data.family(row.pat_num)), Decimal(0)))


def patient_json(row: DbPatient, data: PracticeData, server_time: str | None = None) -> dict[str, Any]:
    """The full patient (GET single, POST, PUT); ``patients/Simple`` leads with ``serverDateTime``."""
    body: dict[str, Any] = {} if server_time is None else {"serverDateTime": server_time}
    body |= {
        "PatNum": row.pat_num,
        "LName": row.lname,
        "FName": row.fname,
        "MiddleI": row.middle_i,
        "Preferred": row.preferred,
        "PatStatus": row.status,
        "Gender": row.gender,
        "Position": row.position,
        "Birthdate": fmt_day(row.birthdate),
        "SSN": row.ssn,
        "Address": row.address,
        "Address2": row.address2,
        "City": row.city,
        "State": row.state,
        "Zip": row.zip,
        "HmPhone": row.hm_phone,
        "WkPhone": row.wk_phone,
        "WirelessPhone": row.wireless_phone,
        "Guarantor": row.guarantor,
        "Email": row.email,
        "EstBalance": _money(row.est_balance),
        "PriProv": row.pri_prov,
        "priProvAbbr": data.prov_abbr(row.pri_prov),
        "SecProv": row.sec_prov,
        "secProvAbbr": data.prov_abbr(row.sec_prov),
        "BillingType": row.billing_type,
        "ImageFolder": f"{row.lname}{row.fname}{row.pat_num}".replace(" ", ""),
        "FamFinUrgNote": row.fam_fin_urg_note,
        "ChartNumber": row.chart_number,
        "MedicaidID": row.medicaid_id,
        "BalTotal": _balance_total(row, data),
        "EmployerNum": row.employer_num,
        "DateFirstVisit": fmt_day(row.date_first_visit),
        "ClinicNum": row.clinic_num,
        "clinicAbbr": data.clinic_abbr(row.clinic_num),
        "Ward": row.ward,
        "PreferConfirmMethod": row.prefer_confirm,
        "PreferContactMethod": row.prefer_contact,
        "PreferRecallMethod": row.prefer_recall,
        "Language": row.language,
        "AdmitDate": fmt_day(row.admit_date),
        "siteDesc": row.site_desc,
        "DateTStamp": fmt_moment(row.stamp),
        "SuperFamily": row.super_family,
        "TxtMsgOk": row.txt_msg_ok,
        "SecDateEntry": fmt_day(row.sec_date_entry),
    }
    return body


def patient_search_json(row: DbPatient, data: PracticeData) -> dict[str, Any]:
    """Patients GET (multiple): the Patient Select window's fields; a digits-only ``Zip`` is a number."""
    return {
        "PatNum": row.pat_num,
        "LName": row.lname,
        "FName": row.fname,
        "MiddleI": row.middle_i,
        "Preferred": row.preferred,
        "PatStatus": row.status,
        "Birthdate": fmt_day(row.birthdate),
        "SSN": row.ssn,
        "Address": row.address,
        "Address2": row.address2,
        "City": row.city,
        "State": row.state,
        "Zip": int(row.zip) if row.zip.isdigit() else row.zip,
        "HmPhone": row.hm_phone,
        "WkPhone": row.wk_phone,
        "WirelessPhone": row.wireless_phone,
        "Email": row.email,
        "priProvAbbr": data.prov_abbr(row.pri_prov),
        "secProvAbbr": data.prov_abbr(row.sec_prov),
        "BillingType": row.billing_type,
        "ChartNumber": row.chart_number,
        "ClinicNum": row.clinic_num,
        "clinicAbbr": data.clinic_abbr(row.clinic_num),
        "siteDesc": row.site_desc,
        "TxtMsgOk": row.txt_msg_ok,
    }


def carrier_json(row: DbCarrier) -> dict[str, Any]:
    return {
        "CarrierNum": row.carrier_num,
        "CarrierName": row.name,
        "Address": row.address,
        "Address2": row.address2,
        "City": row.city,
        "State": row.state,
        "Zip": row.zip,
        "Phone": row.phone,
        "ElectID": row.elect_id,
        "NoSendElect": row.no_send_elect,
        "IsHidden": fmt_bool(row.is_hidden),
    }


def insplan_json(row: DbInsPlan) -> dict[str, Any]:
    return {
        "PlanNum": row.plan_num,
        "GroupName": row.group_name,
        "GroupNum": row.group_num,
        "PlanNote": row.plan_note,
        "FeeSched": row.fee_sched,
        "PlanType": row.plan_type,
        "ClaimFormNum": row.claim_form_num,
        "CopayFeeSched": row.copay_fee_sched,
        "EmployerNum": row.employer_num,
        "CarrierNum": row.carrier_num,
        "IsMedical": fmt_bool(row.is_medical),
        "CodeSubstNone": fmt_bool(row.code_subst_none),
        "IsHidden": fmt_bool(row.is_hidden),
        "MonthRenew": row.month_renew,
        "SecUserNumEntry": row.sec_user_num_entry,
        "SecDateEntry": fmt_day(row.entered),
        "SecDateTEdit": fmt_moment(row.edited),
        "IsBlueBookEnabled": fmt_bool(row.is_blue_book_enabled),
    }


def inssub_json(row: DbInsSub) -> dict[str, Any]:
    return {
        "InsSubNum": row.ins_sub_num,
        "PlanNum": row.plan_num,
        "Subscriber": row.subscriber,
        "DateEffective": fmt_day(row.date_effective),
        "DateTerm": fmt_day(row.date_term),
        "SubscriberID": row.subscriber_id,
        "BenefitNotes": row.benefit_notes,
        "ReleaseInfo": fmt_bool(row.release_info),
        "AssignBen": fmt_bool(row.assign_ben),
        "SubscNote": row.subsc_note,
        "SecDateTEdit": fmt_moment(row.edited),
    }


def patplan_json(row: DbPatPlan) -> dict[str, Any]:
    return {
        "PatPlanNum": row.pat_plan_num,
        "PatNum": row.pat_num,
        "Ordinal": row.ordinal,
        "IsPending": fmt_bool(row.is_pending),
        "Relationship": row.relationship,
        "PatID": row.pat_id,
        "InsSubNum": row.ins_sub_num,
        "OrthoAutoFeeBilledOverride": -1.0,
        "OrthoAutoNextClaimDate": "0001-01-01",
        "SecDateTEntry": fmt_moment(row.entered),
        "SecDateTEdit": fmt_moment(row.edited),
    }


def family_insurance_json(patplan: DbPatPlan, data: PracticeData) -> dict[str, Any] | None:
    """One row of ``familymodules/{PatNum}/Insurance``: patplan, inssub, insplan and carrier joined [OD-famins]."""
    sub = data.subs.get(patplan.ins_sub_num)
    plan = data.plans.get(sub.plan_num) if sub else None
    carrier = data.carriers.get(plan.carrier_num) if plan else None
    if sub is None or plan is None or carrier is None:
        return None
    subscriber = data.patients.get(sub.subscriber)
    return {
        "PatNum": patplan.pat_num,
        "InsSubNum": sub.ins_sub_num,
        "Subscriber": sub.subscriber,
        "subscriber": f"{subscriber.fname} {subscriber.lname}" if subscriber else "",
        "SubscriberID": sub.subscriber_id,
        "SubscNote": sub.subsc_note,
        "PatPlanNum": patplan.pat_plan_num,
        "Ordinal": patplan.ordinal,
        "ordinal": _ORDINALS.get(patplan.ordinal, "Other"),
        "IsPending": fmt_bool(patplan.is_pending),
        "Relationship": patplan.relationship,
        "PatID": patplan.pat_id,
        "CarrierNum": carrier.carrier_num,
        "CarrierName": carrier.name,
        "PlanNum": plan.plan_num,
        "GroupName": plan.group_name,
        "GroupNum": plan.group_num,
        "PlanNote": plan.plan_note,
        "FeeSched": plan.fee_sched,
        "feeSchedule": "Standard" if plan.fee_sched else "",
        "PlanType": plan.plan_type,
        "planType": _PLAN_TYPES.get(plan.plan_type, ""),
        "CopayFeeSched": plan.copay_fee_sched,
        "EmployerNum": plan.employer_num,
        "employer": plan.group_name if plan.employer_num else "",
        "IsMedical": fmt_bool(plan.is_medical),
    }


def payment_json(row: DbPayment, data: PracticeData, server_time: str) -> dict[str, Any]:
    """``PayAmt`` and ``ClinicNum`` as strings, as the Payments examples send them [OD-pay]."""
    return {
        "PayNum": row.pay_num,
        "PayType": row.pay_type,
        "payType": data.def_name(row.pay_type),
        "PayDate": fmt_day(row.pay_date),
        "PayAmt": fmt_amount(row.amount),
        "CheckNum": row.check_num,
        "BankBranch": row.bank_branch,
        "PayNote": row.note,
        "PatNum": row.pat_num,
        "ClinicNum": str(row.clinic_num),
        "DateEntry": fmt_day(row.date_entry),
        "DepositNum": row.deposit_num,
        "Receipt": row.receipt,
        "IsRecurringCC": fmt_bool(row.is_recurring_cc),
        "SecUserNumEntry": row.sec_user_num_entry,
        "SecDateTEdit": fmt_moment(row.edited),
        "PaymentSource": row.source,
        "ProcessStatus": row.process_status,
        "RecurringChargeDate": "0001-01-01",
        "IsCcCompleted": fmt_bool(row.is_cc_completed),
        "serverDateTime": server_time,
    }


def slot_json(start: dt.datetime, end: dt.datetime, prov_num: int, op_num: int) -> dict[str, Any]:
    return {
        "DateTimeStart": fmt_moment(start),
        "DateTimeEnd": fmt_moment(end),
        "ProvNum": prov_num,
        "OpNum": op_num,
    }
