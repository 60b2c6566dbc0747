"""Writeback ids hidden in Sikka's write answers, and writeback_status rows turned into results (tables)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pms_connect.errors import PmsStatusError
from pms_connect.models import Writeback, WritebackKind, WritebackState
from pms_connect.sikka._wire import WriteAnswer, WritebackStatusRow
from pms_connect.sikka._writebacks import parse_writeback_id, row_to_result

CHICAGO = ZoneInfo("America/Chicago")
STATUS_URL = "https://api.sikkasoft.com/v4/writeback_status"


def answer(long_message: str | None = "", more_information: str | None = "", **over: str) -> WriteAnswer:
    """A write answer as Sikka sends it (strings throughout, unknown fields ignored)."""
    data: dict[str, Any] = {
        "http_code": "201",
        "http_code_desc": "Created",
        "error_code": "API2016",
        "short_message": "New resource created successfully",
        "long_message": long_message,
        "more_information": more_information,
    }
    data.update(over)
    return WriteAnswer.model_validate(data)


# -- parse_writeback_id -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "long_message",
    [
        "Id:275495",
        "id:275495",
        "ID:275495",
        "id: 275495",
        "Id : 275495",
        "Id:\t275495",
        " Id:275495 ",
        "Id:275495.",
        "Writeback logged. Id: 275495",
    ],
)
def test_the_id_is_read_from_long_message(long_message):
    assert parse_writeback_id(answer(long_message, "")) == "275495"


@pytest.mark.parametrize(
    "long_message",
    ["", None, "   ", "New resource created successfully", "Appointment status logged successfully", "Id:"],
)
@pytest.mark.parametrize(
    "more_information",
    [
        f"{STATUS_URL}?id=275495",
        f"{STATUS_URL}?offset=0&id=275495",
        f"{STATUS_URL}?id=275495&limit=50",
        "http://api.sikkasoft.com/v4/writeback_status?id=275495",
    ],
)
def test_the_id_is_read_from_more_information_when_long_message_has_none(long_message, more_information):
    assert parse_writeback_id(answer(long_message, more_information)) == "275495"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Sikka's documented answers: book (201), change status (200), reschedule (200).
        (
            {
                "http_code": "201",
                "http_code_desc": "Created",
                "error_code": "API2016",
                "short_message": "New resource created successfully",
                "long_message": "Id:275495",
                "more_information": f"{STATUS_URL}?id=275495",
            },
            "275495",
        ),
        (
            {
                "error_code": "API0007",
                "http_code": "200",
                "http_code_desc": "OK",
                "long_message": "Id:252550",
                "short_message": "Appointment status logged successfully",
                "more_information": f"{STATUS_URL}?id=252550",
            },
            "252550",
        ),
        (
            {
                "error_code": "API0007",
                "http_code": "200",
                "http_code_desc": "OK",
                "long_message": "Id:159357",
                "short_message": "Appointment status logged successfully",
                "more_information": f"{STATUS_URL}?id=159357",
            },
            "159357",
        ),
    ],
)
def test_sikkas_documented_answers(data, expected):
    assert parse_writeback_id(WriteAnswer.model_validate(data)) == expected


@pytest.mark.parametrize(
    ("long_message", "more_information"),
    [
        ("", ""),
        (None, None),
        ("New resource created successfully", ""),
        ("Id:", ""),
        ("Id: none", STATUS_URL),
        ("", f"{STATUS_URL}?id="),
        ("", f"{STATUS_URL}?id=abc"),
        ("", f"{STATUS_URL}?writeback=275495"),
        ("275495", "275495"),
    ],
)
def test_an_answer_without_an_id_is_a_status_error(long_message, more_information):
    with pytest.raises(PmsStatusError, match="no writeback id") as caught:
        parse_writeback_id(answer(long_message, more_information))
    assert caught.value.code == "API2016"


# -- row_to_result ------------------------------------------------------------------------------------------


def status_row(**over: str) -> WritebackStatusRow:
    """One item of ``GET writeback_status`` as documented (strings throughout)."""
    data = {
        "id": "490481",
        "office_id": "D20006",
        "method": "POST",
        "api": "appointment",
        "payload_body": "",
        "appointment_sr_no": "",
        "request_time": "2026-12-01 08:00:05",
        "is_completed": "",
        "has_error": "False",
        "completed_time": "",
        "result": "",
        "practice_id": "1",
        "status": "Pending",
        "patient_id": "",
        "created_id": "",
    }
    data.update(over)
    return WritebackStatusRow.model_validate(data)


DONE_AT = datetime(2026, 12, 1, 8, 2, 41, tzinfo=CHICAGO)
HANDLE = Writeback(
    id="PMSCAAAAAAAAAAAAAAAA",
    kind=WritebackKind.BOOK_APPOINTMENT,
    submitted_at=datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc),
    writeback_id="490481",
)
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "sikka"  # copied from shared/reference/sikka
DONE = {"is_completed": "True", "completed_time": "2026-12-01 08:02:41"}

# (case, row fields, state, created_id, message, completed_at)
ROWS = [
    ("pending, is_completed empty", {}, WritebackState.PENDING, None, None, None),
    ("pending, is_completed False", {"is_completed": "False"}, WritebackState.PENDING, None, None, None),
    ("pending, lower case", {"status": "pending", "is_completed": "F"}, WritebackState.PENDING, None, None, None),
    ("pending, no status at all", {"status": ""}, WritebackState.PENDING, None, None, None),
    (
        "success with created_id",
        {**DONE, "status": "Success", "created_id": "5551", "result": "New Appointment inserted successfully"},
        WritebackState.WRITTEN,
        "5551",
        "New Appointment inserted successfully",
        DONE_AT,
    ),
    (
        "success, created_id falls back to appointment_sr_no",
        {**DONE, "status": "Success", "appointment_sr_no": "374", "result": "Appointment updated successfully"},
        WritebackState.WRITTEN,
        "374",
        "Appointment updated successfully",
        DONE_AT,
    ),
    (
        "success, upper case, is_completed T",
        {"is_completed": "T", "status": "SUCCESS", "created_id": "88"},
        WritebackState.WRITTEN,
        "88",
        None,
        None,
    ),
    (
        "success known from the status while is_completed is still empty",
        {"status": "Success", "created_id": "77", "completed_time": "2026-12-01 08:02:41"},
        WritebackState.WRITTEN,
        "77",
        None,
        DONE_AT,
    ),
    (
        "has_error True although the status says Success",
        {**DONE, "status": "Success", "has_error": "True", "result": "Operatory is not valid"},
        WritebackState.FAILED,
        None,
        "Operatory is not valid",
        DONE_AT,
    ),
    (
        "has_error True, status Failed",
        {**DONE, "status": "Failed", "has_error": "True", "result": "Provider does not exist"},
        WritebackState.FAILED,
        None,
        "Provider does not exist",
        DONE_AT,
    ),
    (
        "completed with a status other than Success, no error flag",
        {**DONE, "status": "Rejected", "has_error": "False", "result": "Time slot is not available"},
        WritebackState.FAILED,
        None,
        "Time slot is not available",
        DONE_AT,
    ),
    (
        "status Error while is_completed is still empty",
        {"status": "Error", "result": "Patient not found"},
        WritebackState.FAILED,
        None,
        "Patient not found",
        None,
    ),
    (
        "failure without a reason gets one",
        {**DONE, "status": "Failed", "has_error": "True", "result": ""},
        WritebackState.FAILED,
        None,
        "the PMS refused the write",
        DONE_AT,
    ),
    (
        "a failure carries no created id even when Sikka fills one",
        {**DONE, "status": "Failed", "has_error": "True", "created_id": "5551", "result": "Duplicate"},
        WritebackState.FAILED,
        None,
        "Duplicate",
        DONE_AT,
    ),
]


@pytest.mark.parametrize(
    ("fields", "state", "created_id", "message", "completed_at"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_row_to_result(fields, state, created_id, message, completed_at):
    result = row_to_result(status_row(**fields), HANDLE, CHICAGO)
    assert result.writeback_id == "490481"
    assert result.status is state
    assert result.created_id == created_id
    assert result.message == message
    assert result.completed_at == completed_at
    if completed_at is not None:
        assert result.completed_at.utcoffset() == completed_at.utcoffset()  # the practice's zone, not UTC


def test_row_to_result_from_the_documented_answer():
    """The item of Sikka's documented writeback_status answer (a new patient)."""
    row = WritebackStatusRow.model_validate(
        {
            "id": "490481",
            "office_id": "D37509",
            "method": "POST",
            "api": "patients",
            "payload_body": "<your wirteback request parameters>",
            "appointment_sr_no": "",
            "request_time": "2020-12-04 13:51:34",
            "is_completed": "True",
            "has_error": "False",
            "completed_time": "2020-12-04 13:54:16",
            "result": "New Patient inserted successfully",
            "practice_id": "1",
            "status": "Success",
            "patient_id": "",
            "created_id": "812",
        }
    )
    result = row_to_result(row, HANDLE, CHICAGO)
    assert result.status is WritebackState.WRITTEN
    assert result.created_id == "812"
    assert result.completed_at == datetime(2020, 12, 4, 13, 54, 16, tzinfo=CHICAGO)


def test_a_completed_row_with_no_status_and_no_error_is_written() -> None:
    from zoneinfo import ZoneInfo

    from pms_connect.models import WritebackState
    from pms_connect.sikka import _wire as w
    from pms_connect.sikka._writebacks import row_to_result

    row = w.WritebackStatusRow(id="9", is_completed="True", has_error="False", status="", created_id="77")
    result = row_to_result(row, HANDLE, ZoneInfo("America/Chicago"))
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "77")


@pytest.mark.parametrize("name", ["writeback_status_completed", "writeback_status_pending"])
def test_the_payloads_another_sikka_client_recorded(name: str) -> None:
    """fincura-ai/sikka-sdk-js's recorded answers: ``status: "Completed"``, ``result: "Success"`` is written."""
    fixtures = json.loads((REFERENCE / "fincura_fixtures.json").read_text())
    [item] = fixtures[name]["body"]["items"]
    result = row_to_result(WritebackStatusRow.model_validate(item), HANDLE, CHICAGO)
    if name == "writeback_status_completed":
        assert (result.status, result.message) == (WritebackState.WRITTEN, "Success")
        assert result.completed_at == datetime(2026, 3, 4, 16, 53, tzinfo=CHICAGO)
    else:
        assert result.status is WritebackState.PENDING
    assert (result.handle_id, result.writeback_id) == (HANDLE.id, "3809955")
