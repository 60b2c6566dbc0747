"""Sikka's own example answers (gs.txt, oneapi.txt) read the way the docs mean them."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
import pytest

from pms_connect.models import Capability, Writeback, WritebackKind, WritebackState
from pms_connect.sikka import _wire as w
from pms_connect.sikka._slots import read_schedules

from .conftest import key_grant

# gs.txt's "Generate request_key" answer: the scope of a full plan, verbatim.
DOC_SCOPE = (
    "start,end,appointment_statuses,appointments,claims,clinical_conditions,contact_details,data_check,"
    "dental_patients,drugs,employee,fee_schedules,guarantors,insurance_accounts,insurance_accounts_receivables,"
    "insurance_companies,insurance_company_details,insurance_estimate,insurance_plan_coverage,lab_panels,"
    "lab_results,medical_notes,patient_charts,patient_conditions,patient_statuses,patients,payment_plans,"
    "payment_types,practices,procedure_codes,providers,request_keys,transactions,treatment_plan_statuses,"
    "treatment_plans,applications,authorized_practices,pms_list,request_keys,request_keys_details,"
    "POST practice_query"
)


async def test_the_docs_own_full_scope_grants_every_read(sikka, provider):
    """The docs' scope example leaves out operatories, subscribers and practice_schedule; it is a full plan,
    so their absence from a scope proves nothing."""
    grant = key_grant("request-key-1", "refresh-key-1", scope=DOC_SCOPE)
    sikka.grant_route.mock(side_effect=None, return_value=httpx.Response(200, json=grant))
    sikka.get("practices").mock(
        return_value=sikka.page([{"practice_id": "1", "name": "Cedar", "cust_id": "7"}], api="practices")
    )
    sikka.get("authorized_practices").mock(return_value=httpx.Response(204))

    features = await provider.get_features()

    reads = {c for c in Capability if c.value.startswith("read_")}
    assert reads <= features.capabilities


async def test_a_status_answer_without_the_asked_id_is_pending_never_another_writes_outcome(sikka, provider):
    other = {"id": "111", "status": "Completed", "is_completed": "true", "has_error": "true", "result": "Failed"}
    sikka.get("writeback_status").mock(
        return_value=httpx.Response(
            200, json=[{"offset": "0", "limit": "50", "total_count": "1", "items": [other]}]
        )
    )
    handle = Writeback(
        id="PMSCAAAAAAAAAAAAAAAA",
        kind=WritebackKind.CREATE_PATIENT,
        submitted_at=datetime(2026, 12, 1, 14, tzinfo=timezone.utc),
        writeback_id="275495",
    )

    result = await provider.writeback_source.check(handle)

    assert (result.status, result.writeback_id) == (WritebackState.PENDING, "275495")


def test_an_unknown_schedule_resource_type_is_left_out_loudly(caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        w.ScheduleRow.model_validate({"practice_id": "1", "resource_type": "Practice", "resource_id": "1"}),
        w.ScheduleRow.model_validate({"practice_id": "1", "resource_type": "Hygiene Room", "resource_id": "HR1"}),
    ]
    with caplog.at_level(logging.WARNING, logger="pms_connect"):
        schedules = read_schedules(rows, "1")
    assert schedules.practice is not None
    assert "hygiene room" in caplog.text
