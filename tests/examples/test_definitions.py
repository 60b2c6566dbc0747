"""The assistant's tool definitions come from the code: ``python -m examples.fastapi_receptionist tools``
prints the four function tools whose parameters are the tools' own argument models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from examples.fastapi_receptionist.__main__ import main
from examples.fastapi_receptionist.definitions import tool_definitions
from examples.fastapi_receptionist.tools import ARGUMENTS, TOOL_NAMES

URL = "https://receptionist.example.com/vapi/webhook"


def test_the_four_tools_point_at_the_webhook() -> None:
    tools = tool_definitions(URL, timeout_seconds=15, credential_id="cred-1")
    assert [t["function"]["name"] for t in tools] == list(TOOL_NAMES)
    for tool in tools:
        assert tool["type"] == "function"
        assert tool["server"] == {"url": URL, "timeoutSeconds": 15, "credentialId": "cred-1"}
        assert tool["function"]["description"]
        assert "\n" not in tool["function"]["description"]
        assert tool["function"]["parameters"]["type"] == "object"


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_the_parameters_are_the_argument_models(name: str) -> None:
    """Every field the tool reads is offered to the assistant, under the name it is read by, and no other."""
    [tool] = [t for t in tool_definitions(URL) if t["function"]["name"] == name]
    parameters = tool["function"]["parameters"]
    model = ARGUMENTS[name]
    aliases = {field.alias or key for key, field in model.model_fields.items()}
    assert set(parameters["properties"]) == aliases
    required = {field.alias or key for key, field in model.model_fields.items() if field.is_required()}
    assert set(parameters.get("required", [])) == required
    for spec in parameters["properties"].values():
        assert "anyOf" not in spec
        assert "title" not in spec
        assert spec["type"] in ("string", "integer")
        assert spec["description"]


def test_the_choices_and_limits_are_the_models() -> None:
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in tool_definitions(URL)}
    assert tools["check_availability"]["properties"]["providerKind"]["enum"] == ["dentist", "hygienist", "any"]
    assert tools["book_appointment"]["required"] == ["start"]
    assert tools["check_availability"]["properties"]["durationMinutes"] == {
        "type": "integer",
        "minimum": 5,
        "maximum": 480,
        "description": "Length of the visit.",
    }
    assert "format" not in tools["book_appointment"]["properties"]["start"]  # local time, no offset


def test_the_command_prints_them(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTIONIST_PUBLIC_BASE_URL", "https://r.example.com/")
    main(["tools", "--timeout-seconds", "12"])
    printed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert printed == tool_definitions("https://r.example.com/vapi/webhook", timeout_seconds=12)
    with pytest.raises(SystemExit):
        main(["tools", "--timeout-seconds", "0"])
