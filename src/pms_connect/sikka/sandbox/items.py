"""Records rendered as Sikka items: every documented field, all strings, and which fields are defaults.

Field names and the split between default fields and ``fields=``-only fields follow the example responses in
Sikka's One API documentation; a documented field the sandbox does not model is present as ``""``.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from pms_connect.sikka.sandbox.data import (
    WEEKDAYS,
    AppointmentRecord,
    InsuranceCompany,
    OperatoryRecord,
    PatientRecord,
    PaymentType,
    PracticeRecord,
    ProviderRecord,
    Schedule,
    Subscriber,
    TransactionRecord,
    World,
)
from pms_connect.sikka.sandbox.wire import fmt_bool, fmt_date, fmt_datetime, fmt_money, fmt_time

__all__ = [
    "APPOINTMENT_DEFAULTS",
    "INSURANCE_DEFAULTS",
    "PATIENT_DEFAULTS",
    "PRACTICE_DEFAULTS",
    "PROVIDER_DEFAULTS",
    "SCHEDULE_DEFAULTS",
    "TRANSACTION_DEFAULTS",
    "appointment_item",
    "insurance_item",
    "operatory_item",
    "patient_item",
    "payment_type_item",
    "practice_item",
    "provider_item",
    "schedule_item",
    "subscriber_item",
    "transaction_item",
]


def _fields(text: str) -> frozenset[str]:
    return frozenset(text.split())


APPOINTMENT_DEFAULTS = _fields(
    """href patient_href patient_id guarantor_id provider_id provider_href practice_id practice_href
    guarantor_href amount status note surface_quadrant_type appointment_sr_no date time length description
    appointment_made_date type procedure_code1 procedure_code1_amount procedure_code2 procedure_code2_amount
    procedure_code3 procedure_code3_amount patient_name guarantor_name procedure_code1_time procedure_code2_time
    procedure_code3_time surface_quadrant"""
)
PATIENT_DEFAULTS = _fields(
    """href patient_id guarantor_id firstname middlename lastname preferred_name salutation birthdate status
    address_line1 address_line2 city state zipcode cell email first_visit last_visit provider_id provider_href
    practice_id practice_href appointment_href guarantor_href primary_insurance_company_id
    primary_insurance_company_href primary_relationship primary_medical_insurance primary_medical_insurance_id
    primary_medical_relationship primary_medical_subscriber_id subscriber_id other_referral patient_referral
    referred_out fee_no guarantor_first_name guarantor_last_name created_date preferred_contact
    preferred_communication_method"""
)
PROVIDER_DEFAULTS = _fields(
    """href provider_id firstname lastname address_line1 address_line2 city state zipcode country phone
    provider_type specialty practice_id practice_href patient_href appointment_href status provider_account_id
    state_id tax_identification_number medicaid_id drug_id national_provider_identifier email birthdate
    hire_date graduated_date initials ssn other_id bluecross_id medicare_id fee_schedule_id federal_id_no
    federal_id_sub_no gl_sub_account_number is_hidden cust_id specialty_code"""
)
PRACTICE_DEFAULTS = _fields(
    """href patient_href address_line1 address_line2 city state zipcode email provider_href practice_id
    appointment_href guarantor_href transaction_href description name cust_id phone"""
)
SCHEDULE_DEFAULTS = _fields("href practice_id practice_href date cust_id resource_type resource_id")
INSURANCE_DEFAULTS = _fields(
    """href address_line1 address_line2 city state zipcode employer_id employer_href practice_id practice_href
    country fee_no phone insurance_company_id payer_id maximum_yearly_benefit group_plan_number renew_month
    maximum_family_benefit insurance_type plan_type sub_type is_maximum_coverage maximum_coverage_amount
    family_deductible_limit individual_deductible_limit individual_ortho_maximum_limit charge_per_visit notes
    insurance_plan_status mail_to_insurance_company_id pre_authorization_mail_to_insurance_company_id
    eligibility fax default_employer"""
)
TRANSACTION_DEFAULTS = _fields(
    """href patient_href patient_id guarantor_id provider_id provider_href practice_id practice_href
    guarantor_href transaction_sr_no transaction_type transaction_date procedure_code procedure_description
    amount transaction_entry_date estimated_insurance_payment tooth_from tooth_to quantity claim_sr_no claim_href
    payment_type surface note created_by last_updated_by primary_insurance_estimate"""
)


def _rowhash(*parts: object) -> str:
    """A stable change marker (Python's ``hash`` of strings differs between processes)."""
    return hashlib.md5("|".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _blank(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, "")


def appointment_item(a: AppointmentRecord, base: str) -> dict[str, str]:
    p = f"{base}/practices/{a.practice_id}"
    codes = [*a.procedure_codes[:7], *([""] * (7 - min(7, len(a.procedure_codes))))]
    amounts = [*a.procedure_amounts[:7], *([Decimal(0)] * (7 - min(7, len(a.procedure_amounts))))]
    item = {
        "href": f"{p}/appointments/{a.appointment_sr_no}",
        "patient_href": f"{p}/patients/{a.patient_id}",
        "patient_id": a.patient_id,
        "guarantor_id": a.guarantor_id,
        "status": a.status,
        "provider_id": a.provider_id,
        "provider_href": f"{p}/providers/{a.provider_id}",
        "practice_id": a.practice_id,
        "practice_href": p,
        "guarantor_href": f"{p}/guarantors/{a.guarantor_id}" if a.guarantor_id else "",
        "hygienist": a.hygienist,
        "amount": fmt_money(a.amount),
        "note": a.note,
        "surface_quadrant_type": "",
        "appointment_sr_no": a.appointment_sr_no,
        "operatory": a.operatory,
        "date": fmt_date(a.start.date()),
        "time": fmt_time(a.start),
        "length": str(a.length),
        "description": a.description,
        "last_changed_date": fmt_datetime(a.last_changed),
        "appointment_made_date": fmt_date(a.appointment_made_date),
        "type": a.type,
    }
    for i in range(7):
        item[f"procedure_code{i + 1}"] = codes[i]
        item[f"procedure_code{i + 1}_amount"] = fmt_money(amounts[i]) if codes[i] else "0"
    item |= _blank("is_companion", "sooner_if_possible")
    item["confirmed_on_date"] = fmt_date(a.confirmed_on_date)
    item["patient_name"] = a.patient_name
    item["guarantor_name"] = a.guarantor_name
    for i in range(7):
        item[f"procedure_code{i + 1}_time"] = "0"
    item |= {
        "tooth_number": "",
        "surface_quadrant": "",
        "schedule": "",
        "treatment_class": "",
        "cancelled": fmt_bool(a.cancelled),
        "location": "",
        "procedure_codes": ",".join(a.procedure_codes),
        "cust_id": "1",
        "is_confirmed": fmt_bool(a.is_confirmed),
        "rowhash": _rowhash(a),
        "original_provider": "",
        "status_in_office": "",
        "multiple_statuses": "",
        "performed": fmt_bool(a.status == "Complete"),
        "cancelled_date": fmt_date(a.cancelled_date),
        "arrival_status": "",
        "arrival_time": "",
        "in_chair_time": "",
        "walkout_time": "",
        "service_category": "",
    }
    return item


def patient_item(pt: PatientRecord, base: str, world: World) -> dict[str, str]:
    p = f"{base}/practices/{pt.practice_id}"
    guarantor = world.patients.get(pt.guarantor_id)
    return {
        "href": f"{p}/patients/{pt.patient_id}",
        "patient_id": pt.patient_id,
        "guarantor_id": pt.guarantor_id,
        "firstname": pt.firstname,
        "middlename": pt.middlename,
        "lastname": pt.lastname,
        "preferred_name": pt.preferred_name,
        "salutation": pt.salutation,
        "birthdate": fmt_date(pt.birthdate),
        "status": pt.status,
        **_blank("patient_note", "medical_note", "alert_note", "other_note"),
        "gender": pt.gender,
        "address_line1": pt.address_line1,
        "address_line2": pt.address_line2,
        "city": pt.city,
        "state": pt.state,
        "zipcode": pt.zipcode,
        "homephone": pt.homephone,
        "workphone": pt.workphone,
        "cell": pt.cell,
        "email": pt.email,
        **_blank("employer_id", "employer_href", "billing_type"),
        "first_visit": fmt_date(pt.first_visit),
        "last_visit": fmt_date(pt.last_visit),
        "provider_id": pt.provider_id,
        "provider_href": f"{p}/providers/{pt.provider_id}",
        "practice_id": pt.practice_id,
        "practice_href": p,
        "appointment_href": f"{p}/appointments?patient_id={pt.patient_id}",
        "guarantor_href": f"{p}/guarantors/{pt.guarantor_id}",
        "primary_insurance_company_id": pt.primary_insurance_company_id,
        "primary_insurance_company_href": f"{p}/insurance_companies/{pt.primary_insurance_company_id}",
        **_blank("secondary_insurance_company_id", "secondary_insurance_company_href"),
        "primary_relationship": pt.primary_relationship,
        "country": "USA",
        **_blank(
            "primary_medical_insurance",
            "primary_medical_insurance_id",
            "primary_medical_relationship",
            "primary_medical_subscriber_id",
            "secondary_medical_insurance",
            "secondary_medical_insurance_id",
            "secondary_medical_relationship",
            "secondary_medical_subscriber_id",
            "secondary_relationship",
        ),
        "subscriber_id": pt.subscriber_id,
        **_blank(
            "patient_account_id",
            "other_referral",
            "patient_referral",
            "referred_out",
            "referred_by_provider_id",
            "referred_by_patient_id",
            "image",
            "thumb_image",
        ),
        "fee_no": "0",
        "guarantor_first_name": guarantor.firstname if guarantor else "",
        "guarantor_last_name": guarantor.lastname if guarantor else "",
        "created_date": fmt_date(pt.created_date),
        "preferred_contact": "",
        "hygienist": "",
        **_blank("integration_ids", "patient_codes", "primary_insurance", "secondary_insurance", "other_phone"),
        "preferred_communication_method": "",
        "ui_patient_id": pt.patient_id,
        "marital_status": "",
        "cust_id": "1",
        **_blank(
            "secondary_subscriber_id",
            "secondary_fee_schedule",
            "email_alert",
            "text_alert",
            "voice_alert",
            "primary_subscriber_patient_id",
            "secondary_subscriber_patient_id",
            "guarantor_bill_type",
            "guarantor_bill_type_description",
            "bill_type",
        ),
        "guarantor_patient_id": pt.guarantor_id,
        "rowhash": _rowhash(pt),
        "chart_number": f"CH{pt.patient_id}",
        **_blank(
            "preferred_recall_method",
            "exclude_message",
            "extension",
            "guarantor_is_send_statements",
            "guarantor_no_email_statements",
            "suppress_billing",
            "profile_status",
        ),
    }


def provider_item(pr: ProviderRecord, base: str) -> dict[str, str]:
    p = f"{base}/practices/{pr.practice_id}"
    return {
        "href": f"{p}/providers/{pr.provider_id}",
        "provider_id": pr.provider_id,
        "firstname": pr.firstname,
        "lastname": pr.lastname,
        "address_line1": "100 Sandbox Way",
        "address_line2": "",
        "city": "Maplewood",
        "state": "IL",
        "zipcode": "60101",
        "country": "",
        "phone": pr.phone,
        "provider_type": pr.provider_type,
        "specialty": pr.specialty,
        "practice_id": pr.practice_id,
        "practice_href": p,
        "patient_href": f"{p}/patients?provider_id={pr.provider_id}",
        "appointment_href": f"{p}/appointments?provider_id={pr.provider_id}",
        "status": pr.status,
        **_blank("provider_account_id", "state_id", "tax_identification_number", "medicaid_id", "drug_id"),
        "national_provider_identifier": pr.national_provider_identifier,
        "email": pr.email,
        **_blank("birthdate", "hire_date", "graduated_date"),
        "initials": pr.firstname[:1] + pr.lastname[:1],
        **_blank("ssn", "other_id", "bluecross_id", "medicare_id", "fee_schedule_id", "federal_id_no"),
        **_blank("federal_id_sub_no", "gl_sub_account_number"),
        "is_hidden": fmt_bool(pr.is_hidden),
        "cust_id": "1",
        "specialty_code": "1223G0001X" if pr.provider_type == "Dentist" else "",
        "is_organization": "False",
        "external_id": "",
        "is_user": "False",
    }


def practice_item(pr: PracticeRecord, base: str) -> dict[str, str]:
    p = f"{base}/practices/{pr.practice_id}"
    return {
        "href": p,
        "patient_href": f"{p}/patients",
        "address_line1": pr.address_line1,
        "address_line2": pr.address_line2,
        "city": pr.city,
        "state": pr.state,
        "zipcode": pr.zipcode,
        "email": pr.email,
        "provider_href": f"{p}/providers",
        "practice_id": pr.practice_id,
        "appointment_href": f"{p}/appointments",
        "guarantor_href": f"{p}/guarantors",
        "country": "USA",
        "transaction_href": f"{p}/transactions",
        "description": "",
        "name": pr.name,
        "cust_id": pr.cust_id,
        "national_provider_identifier": "",
        "phone": pr.phone,
        "website": pr.website,
        "is_main_office": fmt_bool(pr.is_main_office),
    }


def operatory_item(op: OperatoryRecord) -> dict[str, str]:
    return {
        "provider_id": "",
        "practice_id": op.practice_id,
        "operatory": op.operatory,
        "cust_id": op.cust_id,
        "is_hidden": "T" if op.is_hidden else "F",
        "abbreviation": op.abbreviation,
    }


def schedule_item(s: Schedule, base: str) -> dict[str, str]:
    p = f"{base}/practices/{s.practice_id}"
    item = {
        "href": f"{p}/practice_schedule/{s.resource_id}",
        "practice_id": s.practice_id,
        "practice_href": p,
        "date": fmt_date(s.week_start),
        "cust_id": s.cust_id,
        "resource_type": s.resource_type,
        "resource_id": s.resource_id,
    }
    for index, day in enumerate(WEEKDAYS):
        blocks = s.hours[index]
        for slot in range(3):
            start, end = blocks[slot] if slot < len(blocks) else (None, None)
            item[f"{day}_start_{slot + 1}"] = fmt_time(start) if start else ""
            item[f"{day}_end_{slot + 1}"] = fmt_time(end) if end else ""
    for index, day in enumerate(WEEKDAYS):
        item[f"{day}_holiday"] = fmt_bool(s.holidays[index])
    return item


def insurance_item(c: InsuranceCompany, base: str) -> dict[str, str]:
    p = f"{base}/practices/{c.practice_id}"
    return {
        "href": f"{p}/insurance_companies/{c.insurance_company_id}",
        "address_line1": c.address_line1,
        "address_line2": "",
        "city": c.city,
        "state": c.state,
        "zipcode": c.zipcode,
        "employer_id": "",
        "employer_href": "",
        "practice_id": c.practice_id,
        "practice_href": p,
        "country": "USA",
        "fee_no": "",
        "cust_id": "1",
        "phone": c.phone,
        "insurance_company_id": c.insurance_company_id,
        "insurance_company_name": c.name,
        "payer_id": c.payer_id,
        "group_plan_name": c.group_plan_name,
        "maximum_yearly_benefit": fmt_money(c.maximum_yearly_benefit),
        "group_plan_number": c.group_plan_number,
        "renew_month": c.renew_month,
        "maximum_family_benefit": "",
        "insurance_type": "Dental",
        "plan_type": c.plan_type,
        **_blank("sub_type", "is_maximum_coverage", "maximum_coverage_amount"),
        "family_deductible_limit": fmt_money(c.family_deductible_limit),
        "individual_deductible_limit": fmt_money(c.individual_deductible_limit),
        **_blank("individual_ortho_maximum_limit", "charge_per_visit", "notes"),
        "insurance_plan_status": "Active",
        **_blank("mail_to_insurance_company_id", "pre_authorization_mail_to_insurance_company_id", "eligibility"),
        **_blank("fax", "default_employer"),
        "carrier_id": c.insurance_company_id,
        "rendering_provider_address": "",
    }


def subscriber_item(s: Subscriber, base: str, world: World) -> dict[str, str]:
    p = f"{base}/practices/{s.practice_id}"
    pt = world.patients.get(s.patient_id)
    return {
        "href": f"{p}/subscribers/{s.patient_id}",
        "patient_href": f"{p}/patients/{s.patient_id}",
        "patient_id": s.patient_id,
        "firstname": pt.firstname if pt else "",
        "middlename": pt.middlename if pt else "",
        "lastname": pt.lastname if pt else "",
        "salutation": "",
        "birthdate": fmt_date(pt.birthdate) if pt else "",
        "gender": pt.gender if pt else "",
        "address_line1": pt.address_line1 if pt else "",
        "address_line2": pt.address_line2 if pt else "",
        "city": pt.city if pt else "",
        "state": pt.state if pt else "",
        "zipcode": pt.zipcode if pt else "",
        "practice_id": s.practice_id,
        "practice_href": p,
        "subscriber_id": s.subscriber_id,
        "type": s.type,
        "insurance_company_id": s.insurance_company_id,
        "insurance_company_href": f"{p}/insurance_companies/{s.insurance_company_id}",
        "employer_name": s.employer_name,
        "patient_relation": s.patient_relation,
        "identification_type": "Pat_Insd",
        "individual_used": fmt_money(s.individual_used),
        "individual_used_treatment_plan": "",
        "individual_deductible_remaining": fmt_money(s.individual_deductible_remaining),
        "ortho_used": "",
        "ortho_used_treatment_plan": "",
        "insurance_effective_date": fmt_date(s.insurance_effective_date),
        "family_deductible_reamining": "",
    }


def transaction_item(t: TransactionRecord, base: str) -> dict[str, str]:
    p = f"{base}/practices/{t.practice_id}"
    return {
        "href": f"{p}/transactions/{t.transaction_sr_no}",
        "patient_href": f"{p}/patients/{t.patient_id}",
        "patient_id": t.patient_id,
        "guarantor_id": t.guarantor_id,
        "provider_id": t.provider_id,
        "provider_href": f"{p}/providers/{t.provider_id}",
        "practice_id": t.practice_id,
        "practice_href": p,
        "guarantor_href": f"{p}/guarantors/{t.guarantor_id}",
        "transaction_sr_no": t.transaction_sr_no,
        "transaction_type": t.transaction_type,
        "transaction_date": fmt_date(t.transaction_date),
        "procedure_code": t.procedure_code,
        "procedure_description": t.procedure_description,
        "amount": fmt_money(t.amount),
        "transaction_entry_date": fmt_date(t.entry_date),
        "estimated_insurance_payment": "0",
        **_blank("tooth_from", "tooth_to", "invoice_number", "invoice_status", "invoice_item", "quantity"),
        "claim_sr_no": "",
        "claim_href": f"{p}/claims/",
        "pre_authorization_id": "",
        "payment_type": t.payment_type,
        **_blank("surface"),
        "note": t.note,
        **_blank("is_group_transaction", "cheque_no", "clinical_condition_id", "collection_provider_id"),
        **_blank("created_by", "last_updated_by"),
        "primary_insurance_estimate": "0.0000",
        **_blank("secondary_insurance_estimate", "surface_quadrant_type"),
        "appointment_sr_no": t.appointment_sr_no,
        "cust_id": "1",
        **_blank("prosthesis", "billed_to_insurance", "insurance_payment_date", "secondary_billed_to_insurance"),
        **_blank("original_prosthesis_date"),
        "rowhash": _rowhash(t),
        **_blank("amount_paid", "transaction_code", "transaction_description", "payment_procedure_link_id"),
        **_blank("payment_method", "transaction_time"),
    }


def payment_type_item(t: PaymentType, base: str) -> dict[str, str]:
    p = f"{base}/practices/{t.practice_id}"
    return {
        "href": f"{p}/payment_types/{t.code}",
        "practice_id": t.practice_id,
        "practice_href": p,
        "description": t.description,
        "code": t.code,
    }
