"""Write endpoints (writebacks) and the endpoints that report on them.

A write is validated the way Sikka documents it (required fields, formats, that referenced records exist),
then queued; the answer only says "logged" and carries the writeback id inside a string. Validation that
depends on the PMS's state at the time the utility runs (a double-booked chair, a duplicate patient) happens
at completion, in the queue.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from starlette.responses import Response

from pms_connect.sikka.sandbox.query import listing, parse_date
from pms_connect.sikka.sandbox.state import Ctx
from pms_connect.sikka.sandbox.wire import SikkaError, json_response, no_content

__all__ = ["APP_WRITEBACK_ROUTES", "WRITES", "writeback_status"]

Handler = Callable[[Ctx], Awaitable[Response]]

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-]{10,20}(\s*(x|ext\.?|-)\s*\d{1,6})?$", re.IGNORECASE)

#: writeback kind -> the ``supported_pmses`` flag that allows it
_SUPPORT = {
    "new_appointment": "new_appointment_writeback",
    "update_appointment": "new_appointment_writeback",
    "appointment_status": "appointment_status_writeback",
    "new_patient": "new_patient_writeback",
    "payment": "payment_writeback",
}


def _body(ctx: Ctx) -> dict[str, str]:
    media = ctx.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise SikkaError("API1006", "Content-Type must be application/json.")
    try:
        data = json.loads(ctx.body or b"null")
    except ValueError:
        raise SikkaError("API1026", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise SikkaError("API1026", "The request body must be a JSON object.")
    for name, value in data.items():
        if not isinstance(value, str):
            raise SikkaError("API1026", f"{name} must be a string (Sikka request bodies are strings only).")
    return {str(k).lower(): v for k, v in data.items()}


def _require(body: dict[str, str], *names: str) -> None:
    missing = [n for n in names if not body.get(n, "").strip()]
    if missing:
        raise SikkaError("API1020", f"Missing required parameter(s): {', '.join(missing)}.")


def _invalid(message: str) -> SikkaError:
    return SikkaError("API2019", f"The request was unable to be processed due to invalid parameters: {message}")


def _date(body: dict[str, str], name: str, *, not_after: dt.date | None = None) -> dt.date | None:
    raw = body.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise _invalid(f"{name} must be a date in yyyy-mm-dd format.") from None
    if not_after is not None and value > not_after:
        raise _invalid(f"{name} must be less than or equal to today.")
    return value


def _practice(ctx: Ctx, body: dict[str, str]) -> str:
    practice_id = body["practice_id"].strip()
    if practice_id not in ctx.office_practices():
        raise SikkaError("API2007")
    return practice_id


def _supported(ctx: Ctx, kind: str) -> None:
    row = ctx.world.pms_support(ctx.state.pms_name)
    if row is None or not getattr(row, _SUPPORT[kind]):
        raise SikkaError(
            "API2014", f"{_SUPPORT[kind]} is not available for {ctx.state.pms_name}.", more="See supported_pmses."
        )


def _check_spu(ctx: Ctx, body: dict[str, str]) -> Response | None:
    """``check_spu: "true"`` refuses at once (412) while the practice utility is offline; body as documented."""
    if body.get("check_spu", "").strip().lower() == "true" and not ctx.state.utility.online:
        return json_response(
            {
                "http_code": "412",
                "http_code_desc": "Preconditon Failed",
                "error_code": "API2017",
                "short_message": (
                    "The server does not meet one of the preconditions that the requester put on the request."
                ),
                "log_message": "Sikka platform utility is offline",
                "more_information": "--",
            },
            412,
        )
    return None


def _provider(ctx: Ctx, practice_id: str, provider_id: str, *, active: bool) -> None:
    provider = ctx.world.provider(practice_id, provider_id.strip())
    if provider is None:
        raise _invalid(f"provider_id {provider_id!r} does not exist in the practice management system.")
    if active and not provider.active:
        raise _invalid(f"provider_id {provider_id!r} is not an active provider.")


def _operatory(ctx: Ctx, practice_id: str, name: str) -> None:
    operatory = ctx.world.operatory(practice_id, name.strip())
    if operatory is None or operatory.is_hidden:
        raise _invalid(f"operatory {name!r} is not a valid operatory (use operatories with is_hidden=F).")


def _patient_exists(ctx: Ctx, practice_id: str, patient_id: str) -> None:
    if ctx.world.patient(practice_id, patient_id.strip()) is None:
        raise _invalid(f"patient_id {patient_id!r} does not exist in the practice management system.")


def _length(body: dict[str, str]) -> None:
    raw = body.get("length", "").strip()
    if raw and (not raw.isdigit() or int(raw) <= 0):
        raise _invalid("length must be a positive integer (minutes).")


def _time(body: dict[str, str]) -> None:
    raw = body.get("time", "").strip()
    if raw and not _TIME.match(raw):
        raise _invalid("time must be HH:mm (24-hour).")


def _status(ctx: Ctx, value: str, name: str) -> None:
    if ctx.world.legal_status(value) is None:
        raise _invalid(
            f"{name} {value!r} is not an appointment status of this practice "
            "(see practice_variables?service_name=Appointment Status)."
        )


#: What some PMSs require beyond Sikka's common body (writeback.txt's notes on POST appointment and POST
#: patient). Sikka queues the write anyway; the PMS refuses it when the utility applies it, minutes later.
_PMS_REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "orthotrac": {
        "new_appointment": ("staff", "type"),
        "new_patient": ("gender", "staff", "status", "type", "primary_relationship"),
    },
    "dolphin": {"new_appointment": ("user", "status", "type"), "new_patient": ("user",)},
    "planet dds": {"new_appointment": ("production_type", "is_new_patient", "has_insurance")},
    "cleardent": {"new_appointment": ("status", "type", "user")},
}


def _pms_refusal(ctx: Ctx, kind: str, body: dict[str, str]) -> str:
    name = ctx.state.pms_name.lower()
    for pms, kinds in _PMS_REQUIRED.items():
        if pms in name:
            missing = [f for f in kinds.get(kind, ()) if not body.get(f, "").strip()]
            if missing:
                return f"Required parameter(s) missing for {ctx.state.pms_name}: {', '.join(missing)}."
    return ""


def _queued(ctx: Ctx, *, kind: str, method: str, body: dict[str, str], target: str, patient_id: str) -> Response:
    assert ctx.app is not None
    assert ctx.office is not None
    assert ctx.key is not None
    record = ctx.state.queue.submit(
        app_id=ctx.app.app_id,
        office_id=ctx.office.office_id,
        practice_id=body["practice_id"].strip(),
        method=method,
        kind=kind,
        body=body,
        target_id=target,
        patient_id=patient_id,
        request_key=ctx.key.key,
    )
    record.refusal = _pms_refusal(ctx, kind, body)
    more = f"{ctx.base}/writeback_status?id={record.id}"
    if method == "POST":
        answer = {
            "http_code": "201",
            "http_code_desc": "Created",
            "error_code": "API2016",
            "short_message": "New resource created successfully",
            "long_message": f"Id:{record.id}",
            "more_information": more,
        }
        return json_response(answer, 201)
    answer = {
        "error_code": "API0007",
        "http_code": "200",
        "http_code_desc": "OK",
        "long_message": f"Id:{record.id}",
        "short_message": "Appointment status logged successfully",
        "more_information": more,
    }
    return json_response(answer, 200)


async def post_appointment(ctx: Ctx) -> Response:
    body = _body(ctx)
    name = ctx.state.pms_name.lower()
    # description: required, but optional for OrthoTrac, ClearDent, CornerStone and not a field of Dolphin or
    # Planet DDS (writeback.txt, POST appointment).
    optional = any(pms in name for pms in ("orthotrac", "cleardent", "cornerstone", "dolphin", "planet dds"))
    _require(body, "patient_id", "date", "time", "provider_id", "length", "operatory", "practice_id")
    if not optional:
        _require(body, "description")
    practice_id = _practice(ctx, body)
    _supported(ctx, "new_appointment")
    _date(body, "date")
    _time(body)
    _length(body)
    _patient_exists(ctx, practice_id, body["patient_id"])
    _provider(ctx, practice_id, body["provider_id"], active=True)
    _operatory(ctx, practice_id, body["operatory"])
    if body.get("status", "").strip():
        _status(ctx, body["status"], "status")
    if "orthotrac" in name or "dolphin" in name or "planet dds" in name:
        await _must_match_slot(ctx, body)
    refused = _check_spu(ctx, body)
    if refused is not None:
        return refused
    return _queued(ctx, kind="new_appointment", method="POST", body=body, target="", patient_id=body["patient_id"])


async def _must_match_slot(ctx: Ctx, body: dict[str, str]) -> None:
    """OrthoTrac and Dolphin validate a booking against ``appointments_available_slots``."""
    from pms_connect.sikka.sandbox.reads import available_slots

    probe = Ctx(
        state=ctx.state,
        method="GET",
        params={
            "practice_id": body["practice_id"],
            "provider_id": body["provider_id"],
            "startdate": body["date"],
            "enddate": body["date"],
            "limit": "5000",
            "fields": "get_all",
        },
        headers={},
        body=b"",
        path_params={},
        office=ctx.office,
    )
    answer = await available_slots(probe)
    slots = json.loads(bytes(answer.body))["items"] if answer.status_code == 200 else []
    if not any(s["time"] == body["time"] and s["operatory"] == body["operatory"] for s in slots):
        raise _invalid("date, time, provider_id and operatory must match an appointments_available_slots entry.")


def _appointment(ctx: Ctx, practice_id: str) -> str:
    sr_no = ctx.path_params["appointment_sr_no"]
    appt = ctx.world.appointments.get(sr_no)
    if appt is None or appt.practice_id != practice_id:
        raise SikkaError("API2009", f"Appointment {sr_no} does not exist in practice {practice_id}.")
    return sr_no


async def put_appointment(ctx: Ctx) -> Response:
    body = _body(ctx)
    _require(body, "practice_id", "provider_id")
    practice_id = _practice(ctx, body)
    _supported(ctx, "update_appointment")
    sr_no = _appointment(ctx, practice_id)
    _date(body, "date")
    _time(body)
    _length(body)
    _provider(ctx, practice_id, body["provider_id"], active=True)
    if body.get("operatory", "").strip():
        _operatory(ctx, practice_id, body["operatory"])
    if body.get("status", "").strip():
        _status(ctx, body["status"], "status")
    refused = _check_spu(ctx, body)
    if refused is not None:
        return refused
    patient_id = ctx.world.appointments[sr_no].patient_id
    return _queued(ctx, kind="update_appointment", method="PUT", body=body, target=sr_no, patient_id=patient_id)


async def patch_appointment(ctx: Ctx) -> Response:
    body = _body(ctx)
    _require(body, "op", "path", "value", "practice_id")
    practice_id = _practice(ctx, body)
    _supported(ctx, "appointment_status")
    sr_no = _appointment(ctx, practice_id)
    if body["op"].strip().lower() != "replace":
        raise _invalid("op must be replace.")
    if body["path"].strip() != "/appointment_status":
        raise _invalid("path must be /appointment_status.")
    _status(ctx, body["value"], "value")
    refused = _check_spu(ctx, body)
    if refused is not None:
        return refused
    patient_id = ctx.world.appointments[sr_no].patient_id
    return _queued(ctx, kind="appointment_status", method="PATCH", body=body, target=sr_no, patient_id=patient_id)


async def post_patient(ctx: Ctx) -> Response:
    body = _body(ctx)
    _require(body, "firstname", "lastname", "provider_id", "practice_id")
    practice_id = _practice(ctx, body)
    _supported(ctx, "new_patient")
    _provider(ctx, practice_id, body["provider_id"], active=False)
    _date(body, "birthdate", not_after=ctx.state.today())
    email = body.get("email", "").strip()
    if email and not _EMAIL.match(email):
        raise _invalid("email must be a valid email address.")
    gender = body.get("gender", "").strip().lower()
    if gender and gender not in ("male", "female", "unknown"):
        raise _invalid("gender must be male, female or unknown.")
    for name in ("cell", "homephone", "workphone", "other_phone"):
        value = body.get(name, "").strip()
        if value and (not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 10):
            raise _invalid(f"{name} must be a valid phone number.")
    guarantor = body.get("guarantor_id", "").strip()
    if guarantor and ctx.world.patient(practice_id, guarantor) is None:
        raise _invalid(f"guarantor_id {guarantor!r} does not exist in the practice management system.")
    refused = _check_spu(ctx, body)
    if refused is not None:
        return refused
    return _queued(ctx, kind="new_patient", method="POST", body=body, target="", patient_id="")


async def post_transaction(ctx: Ctx) -> Response:
    body = _body(ctx)
    _require(
        body,
        "patient_id",
        "guarantor_id",
        "procedure_code",
        "provider_id",
        "amount",
        "practice_id",
        "procedure_description",
        "transaction_date",
    )
    practice_id = _practice(ctx, body)
    _supported(ctx, "payment")
    _patient_exists(ctx, practice_id, body["patient_id"])
    patient = ctx.world.patient(practice_id, body["patient_id"].strip())
    if patient is None or patient.guarantor_id != body["guarantor_id"].strip():
        raise _invalid("guarantor_id is not the guarantor of patient_id.")
    _provider(ctx, practice_id, body["provider_id"], active=False)
    try:
        amount = Decimal(body["amount"].strip())
    except InvalidOperation:
        raise _invalid("amount must be a number.") from None
    if not amount.is_finite() or amount == 0:
        raise _invalid("Enter a valid, non-zero payment amount.")
    code = body["procedure_code"].strip()
    kind = next((t for t in ctx.world.payment_types if t.practice_id == practice_id and t.code == code), None)
    if kind is None or kind.kind == "insurance":
        raise _invalid(f"procedure_code {code!r} is not a (non-insurance) payment type of this practice.")
    if kind.description.strip().lower() != body["procedure_description"].strip().lower():
        raise _invalid("procedure_description must match the description of procedure_code in payment_types.")
    _date(body, "transaction_date")
    _date(body, "transaction_entry_date")
    refused = _check_spu(ctx, body)
    if refused is not None:
        return refused
    return _queued(ctx, kind="payment", method="POST", body=body, target="", patient_id=body["patient_id"])


async def writeback_status(ctx: Ctx) -> Response:
    """One writeback's status: the list envelope wrapped in a one-element array, as documented."""
    raw = ctx.params.get("id", "").strip()
    if not raw:
        raise SikkaError("API1020", "id is required.")
    record = ctx.state.queue.records.get(raw)
    if (
        record is None
        or not ctx.state.queue.is_visible(record)  # deleted, or not in the log yet (``log_delay``)
        or ctx.office is None
        or ctx.app is None
        or record.office_id != ctx.office.office_id
        or record.app_id != ctx.app.app_id
    ):
        return no_content()
    answer = listing(
        ctx.params,
        base_url=ctx.base,
        api="writeback_status",
        records=[record],
        render=lambda r: r.status_item(),
        default_limit=500,
    )
    if answer.status_code != 200:
        return answer
    return json_response([json.loads(bytes(answer.body))])


async def list_writebacks(ctx: Ctx) -> Response:
    """Every writeback of the app within a window of at most 7 days (app-level; one call, many ids)."""
    if not ctx.params.get("startdate", "").strip() or not ctx.params.get("enddate", "").strip():
        raise SikkaError("API1020", "startdate and enddate are required (yyyy-mm-dd).")
    start = parse_date(ctx.params, "startdate")
    end = parse_date(ctx.params, "enddate")
    assert start is not None
    assert end is not None
    assert ctx.app is not None
    if end < start:
        raise SikkaError("API1026", "enddate must not be before startdate.")
    if (end - start).days > 7:
        raise SikkaError("API1026", "Date range of startdate and enddate should not be greater than 7 days.")
    wanted = ctx.params.get("id", "").strip()
    rows = [
        r
        for r in ctx.state.queue.visible()
        if r.app_id == ctx.app.app_id and start <= r.submitted.date() <= end and (not wanted or r.id == wanted)
    ]
    rows.sort(key=lambda r: int(r.id))
    return listing(
        ctx.params, base_url=ctx.base, api="writebacks", records=rows, render=lambda r: r.list_item(ctx.base)
    )


async def delete_writeback(ctx: Ctx) -> Response:
    raw = ctx.params.get("id", "").strip()
    if not raw:
        raise SikkaError("API1020", "id is required.")
    record = ctx.state.queue.records.get(raw)
    if record is None or record.deleted or ctx.app is None or record.app_id != ctx.app.app_id:
        raise SikkaError("API2009", f"Writeback {raw} does not exist.")
    if record.state != "pending":
        raise SikkaError(
            "API2013", f"Writeback {raw} is already completed; only pending writebacks can be deleted."
        )
    record.deleted = True
    return json_response(
        {
            "http_code": "200",
            "http_code_desc": "OK",
            "error_code": "API4006",
            "short_message": "",
            "long_message": "Writeback request deleted successfully.",
            "more_information": "",
        }
    )


#: (method, path) -> (scope entry, handler) for writes with a request key
WRITES: dict[tuple[str, str], tuple[str, Handler]] = {
    ("POST", "/v4/appointment"): ("POST appointment", post_appointment),
    ("PUT", "/v4/appointments/{appointment_sr_no}"): ("PUT appointments", put_appointment),
    ("PATCH", "/v4/appointments/{appointment_sr_no}"): ("PATCH appointments", patch_appointment),
    ("POST", "/v4/patient"): ("POST patient", post_patient),
    ("POST", "/v4/transaction"): ("POST transaction", post_transaction),
}

#: app-level (App-Id / App-Key) writeback endpoints
APP_WRITEBACK_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/v4/writebacks"): list_writebacks,
    ("DELETE", "/v4/writebacks"): delete_writeback,
}
