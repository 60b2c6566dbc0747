"""Odd input gets a spoken answer and leaves no mark: far-future and malformed dates, huge or control-laden
ids and names (echoed and logged bounded, never forging a log line)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from examples.fastapi_receptionist.vapi import bounded
from hypothesis import given
from hypothesis import strategies as st

from .test_vapi_tools import free_slot, local_iso


async def test_far_future_dates_are_answered_in_words(
    connected: Any, people: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """9999-12-31 raised OverflowError: an internal-error answer, logged at ERROR."""
    h = connected
    for args in (
        {"date": "9999-12-31"},
        {"startDate": "9999-12-01", "endDate": "9999-12-31"},
        {"startDate": "9999-12-31"},
    ):
        result = await h.tool("check_availability", args, caller=people.known_phone)
        assert result["result"].startswith("That date is too far ahead: the practice books up to "), args
    for start in ("9999-12-31T23:30", "9999-12-31T23:30:00-12:00", "3000-01-01T09:00"):
        result = await h.tool("book_appointment", {"start": start, **people.details()}, caller=people.known_phone)
        assert result["result"].startswith("Not booked. That date is too far ahead"), start
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert h.sandbox.writebacks == []


async def test_the_last_day_within_the_horizon_is_searched(connected: Any, people: Any) -> None:
    h = connected
    horizon = h.sandbox.today.toordinal() + h.settings.booking_horizon_days
    last = type(h.sandbox.today).fromordinal(horizon).isoformat()
    result = await h.tool(
        "check_availability", {"startDate": last, "endDate": "9999-12-31"}, caller=people.known_phone
    )
    assert "result" in result
    assert not result["result"].startswith("That date is too far ahead")


async def test_a_malformed_date_asks_again(connected: Any, people: Any) -> None:
    for value in ("2024-13-45", "31/12/2025", "next tuesday", "0000-01-01"):
        result = await connected.tool("check_availability", {"date": value}, caller=people.known_phone)
        assert (
            result["error"] == "I could not read date as a date: ask the caller again, and pass it as YYYY-MM-DD."
        )
        assert value not in result["error"]


async def test_a_newline_in_the_call_id_forges_no_log_line(
    connected: Any, people: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = connected
    caplog.set_level(logging.DEBUG, logger="examples.fastapi_receptionist")
    h.call_id = "call-1\nERROR examples.fastapi_receptionist forged line\x1b[2J"
    slot = await free_slot(h)
    result = await h.tool("book_appointment", {"start": local_iso(slot.start)}, caller=people.known_phone)
    assert result["result"].startswith("Not booked yet")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("examples.fastapi_receptionist")]
    assert any("call-1 ERROR examples" in line for line in ours)  # the id is logged, made harmless
    assert not any("\n" in line or "\x1b" in line for line in ours)
    row = await h.services.db.get_call("call-1 ERROR examples.fastapi_receptionist forged line[2J")
    assert row is not None


async def test_huge_ids_and_names_are_echoed_bounded(connected: Any, people: Any) -> None:
    h = connected
    huge_id = "toolu_" + "x" * 1_000_000
    call = {**h.call(people.known_phone), "id": "c" * 1_000_000}
    message = {
        "message": {
            "type": "tool-calls",
            "call": call,
            "toolCallList": [
                {"id": huge_id, "type": "function", "function": {"name": "n" * 1_000_000, "arguments": {}}},
                {
                    "id": "t\r\n2\x00",
                    "type": "function",
                    "function": {"name": "get_patient_info\n", "arguments": {}},
                },
            ],
        }
    }
    response = await h.vapi(message)
    assert response.status_code == 413  # over the webhook's body limit: not even read
    # Just under the limit: answered, with the ids and names echoed bounded.
    message["message"]["call"]["id"] = "c" * 100_000
    message["message"]["toolCallList"][0]["id"] = "toolu_" + "x" * 100_000
    message["message"]["toolCallList"][0]["function"]["name"] = "n" * 50_000
    response = await h.vapi(message)
    assert response.status_code == 200
    assert len(response.content) < 2_000
    first, second = response.json()["results"]
    assert len(first["toolCallId"]) == 128
    assert first["error"].startswith("unknown tool 'nnnn")
    assert len(first["error"]) < 200
    assert second["toolCallId"] == "t 2"
    assert second["name"] == "get_patient_info"
    assert "result" in second


@given(st.text(max_size=300))
def test_bounded_text_has_no_control_characters_and_a_bound(text: str) -> None:
    cleaned = bounded(text, 50)
    if cleaned is None:
        return
    assert len(cleaned) <= 50
    assert cleaned == cleaned.strip()
    assert not any(ch in cleaned for ch in "\n\r\x00\x1b\u2028\u2029\x85")
