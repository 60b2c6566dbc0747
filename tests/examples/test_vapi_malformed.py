"""Malformed Vapi payloads: never a 500, never a stack trace; a 400 when the body is not a Vapi message at
all, else a 200 whose result for the broken call says what is wrong (without echoing what was sent)."""

from __future__ import annotations

import json
from typing import Any

import pytest

CALL = {"id": "call-0001", "phoneNumberId": "vapi-number-1", "customer": {"number": "+15550847474"}}


def tool_calls(*items: Any) -> dict[str, Any]:
    return {"message": {"type": "tool-calls", "call": CALL, "toolCallList": list(items)}}


def call(arguments: Any, *, name: str = "check_availability", call_id: str = "t1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


NOT_A_MESSAGE = [
    pytest.param(b"", "the body is not JSON", id="empty body"),
    pytest.param(b"hello", "the body is not JSON", id="not JSON"),
    pytest.param(b"\xff\xfe\x00", "the body is not JSON", id="not UTF-8"),
    pytest.param(b"[" * 100_000, "the body is not JSON", id="nested too deep"),
    pytest.param(b"[]", 'the body must be a JSON object {"message": {...}}', id="a list"),
    pytest.param(b'"tool-calls"', 'the body must be a JSON object {"message": {...}}', id="a string"),
    pytest.param(b'{"type": "tool-calls"}', 'the body has no "message" object', id="no message"),
    pytest.param(b'{"message": "tool-calls"}', 'the body has no "message" object', id="message not an object"),
    pytest.param(b'{"message": {}}', "the message is malformed: message.type: Field required", id="no type"),
    pytest.param(
        b'{"message": {"type": 7}}',
        "the message is malformed: message.type: Input should be a valid string",
        id="type",
    ),
    pytest.param(
        json.dumps({"message": {"type": "tool-calls", "call": "call-1"}}).encode(),
        "the message is malformed: message.call: Input should be",
        id="call not an object",
    ),
    pytest.param(
        json.dumps({"message": {"type": "tool-calls", "call": CALL}}).encode(),
        "the tool-calls message lists no tool calls",
        id="no tool call list",
    ),
    pytest.param(
        json.dumps({"message": {"type": "tool-calls", "call": CALL, "toolCallList": []}}).encode(),
        "the tool-calls message lists no tool calls",
        id="empty tool call list",
    ),
    pytest.param(
        json.dumps({"message": {"type": "tool-calls", "call": CALL, "toolCallList": {"id": "t1"}}}).encode(),
        "the message is malformed: message.toolCallList: Input should be a valid list",
        id="tool call list not a list",
    ),
    pytest.param(
        json.dumps({"message": {"type": "function-call", "call": CALL}}).encode(),
        "the function-call message has no functionCall object",
        id="legacy without functionCall",
    ),
]


@pytest.mark.parametrize(("body", "error"), NOT_A_MESSAGE)
async def test_a_body_that_is_not_a_vapi_message_is_a_400(harness: Any, body: bytes, error: str) -> None:
    response = await harness.vapi(body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith(error)
    assert "Traceback" not in response.text


BROKEN_CALLS = [
    pytest.param(
        call("{not json"), "t1", "check_availability", "the arguments are not valid JSON", id="args invalid JSON"
    ),
    pytest.param(
        call("[1, 2]"), "t1", "check_availability", "the arguments must be a JSON object", id="args JSON list"
    ),
    pytest.param(call(42), "t1", "check_availability", "the arguments must be a JSON object", id="args a number"),
    pytest.param(call(["x"]), "t1", "check_availability", "the arguments must be a JSON object", id="args a list"),
    pytest.param(
        {"type": "function", "function": {"name": "check_availability", "arguments": {}}},
        "",
        "check_availability",
        "the tool call has no id",
        id="no id",
    ),
    pytest.param({"id": "t1", "type": "function"}, "t1", "", "the tool call names no function", id="no name"),
    pytest.param("check_availability", "", "", "the tool call is not a JSON object", id="item a string"),
    pytest.param(
        {"id": "t1", "function": "check_availability"},
        "t1",
        "",
        "the tool call is malformed: function: Input should be",
        id="function a string",
    ),
    pytest.param(
        call({}, name="order_pizza"), "t1", "order_pizza", "unknown tool 'order_pizza'", id="unknown tool"
    ),
    pytest.param(
        call({"date": "next tuesday"}),
        "t1",
        "check_availability",
        "I could not read date as a date: ask the caller again, and pass it as YYYY-MM-DD.",
        id="date not a date",
    ),
    pytest.param(
        call({"providerKind": "surgeon"}),
        "t1",
        "check_availability",
        "invalid arguments: providerKind: Input should be 'dentist', 'hygienist' or 'any'",
        id="unknown provider kind",
    ),
    pytest.param(
        call({"start": "tomorrow at nine"}, name="book_appointment"),
        "t1",
        "book_appointment",
        "I could not read start as a date: ask the caller again, and pass it as YYYY-MM-DDTHH:MM.",
        id="start not a datetime",
    ),
    pytest.param(
        call({}, name="book_appointment"),
        "t1",
        "book_appointment",
        "invalid arguments: start: Field required",
        id="booking without start",
    ),
    pytest.param(
        call({"durationMinutes": 100_000}),
        "t1",
        "check_availability",
        "invalid arguments: durationMinutes: Input should be less than or equal to 480",
        id="absurd duration",
    ),
    pytest.param(
        call({"providerId": "DMD99"}),
        "t1",
        "check_availability",
        "provider_id is not an active provider of this practice",
        id="unknown provider (the SDK refuses)",
    ),
]


@pytest.mark.parametrize(("item", "call_id", "name", "error"), BROKEN_CALLS)
async def test_a_broken_call_gets_an_error_result_in_its_place(
    connected: Any, item: Any, call_id: str, name: str, error: str
) -> None:
    fine = call({"reason": "question"}, name="transfer_to_human", call_id="t0")  # answered without the PMS
    response = await connected.vapi(tool_calls(fine, item, {**fine, "id": "t2"}))
    assert response.status_code == 200
    first, broken, last = response.json()["results"]
    assert (first["toolCallId"], last["toolCallId"]) == ("t0", "t2")
    assert "result" in first
    assert "result" in last
    assert broken["toolCallId"] == call_id
    assert broken["name"] == name
    assert set(broken) == {"toolCallId", "name", "error"}
    assert broken["error"].startswith(error) or error in broken["error"], broken["error"]
    assert "\n" not in broken["error"]
    for echoed in ("next tuesday", "tomorrow at nine", "surgeon", "100000"):
        assert echoed not in broken["error"]  # where and what, never the value sent


async def test_unknown_message_types_are_acknowledged(harness: Any) -> None:
    response = await harness.vapi({"message": {"type": "something-new", "call": CALL}})
    assert (response.status_code, response.json()) == (200, {})


async def test_a_message_without_a_call_still_gets_answers(harness: Any) -> None:
    response = await harness.vapi({"message": {"type": "tool-calls", "toolCallList": [call({})]}})
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["error"].startswith("this call's phone number is not set up with a practice")


async def test_extra_fields_are_ignored(connected: Any) -> None:
    message = tool_calls(call({"date": None, "unexpected": {"deep": [1, 2, 3]}}))
    message["message"]["artifact"] = {"messages": [{"role": "user", "message": "hi"}]}
    message["extra"] = True
    response = await connected.vapi(message)
    assert response.status_code == 200
    assert response.json()["results"][0]["result"].startswith("Open times: ")


async def test_a_result_never_spans_lines(harness: Any) -> None:
    """An error that quotes a name with line breaks is still one line."""
    response = await harness.vapi(tool_calls(call({}, name="line\none\u2028two")))
    [result] = response.json()["results"]
    known = "check_availability, get_patient_info, book_appointment, transfer_to_human"
    assert result["error"] == f"unknown tool 'line one two'; this server handles {known}"


async def test_an_internal_failure_still_answers_every_call(
    connected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(type(connected.services.db), "find_phone_number", down)
    response = await connected.vapi(tool_calls(call({}, call_id="a"), call({}, call_id="b")))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["toolCallId"] for r in results] == ["a", "b"]
    assert all(r["error"].startswith("internal error in the receptionist server") for r in results)
    legacy = {"message": {"type": "function-call", "call": CALL, "functionCall": {"name": "x", "parameters": {}}}}
    assert (await connected.vapi(legacy)).json() == {
        "result": "internal error in the receptionist server; offer to transfer to the front desk"
    }
    notice = await connected.vapi({"message": {"type": "end-of-call-report", "call": CALL}})
    assert notice.status_code == 200
