"""The Vapi function tools the assistant is configured with, generated from the tools' argument models.

``python -m examples.fastapi_receptionist tools`` prints them as JSON (one list of four tools), so the
assistant and the service never drift apart: each tool's ``parameters`` is the JSON Schema of its argument
model in ``tools.py`` (camelCase names, the same limits and choices), its description is the model's
docstring, and its ``server`` is this service's ``/vapi/webhook``.
"""

from __future__ import annotations

import inspect
from typing import Any

from .tools import ARGUMENTS, TOOL_NAMES

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "parameters_schema", "tool_definitions"]

DEFAULT_TIMEOUT_SECONDS = 20
"""Vapi's own default; a tool answers within about a second, a booking included."""

_REQUEST_START = "One moment, please."


def parameters_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of tool ``name``'s arguments, as Vapi's function tools take it: an object of plain
    properties (an optional value is its type, not ``anyOf`` with null; no titles)."""
    schema = ARGUMENTS[name].model_json_schema(by_alias=True, mode="validation")
    properties: dict[str, Any] = {}
    for field, spec in schema.get("properties", {}).items():
        options = [o for o in spec.get("anyOf", [spec]) if o.get("type") != "null"]
        plain = {k: v for k, v in (options[0] if len(options) == 1 else spec).items() if k not in ("title",)}
        plain.pop("default", None)
        if plain.get("format") == "date-time":  # the practice's wall clock, without an offset
            plain.pop("format")
        if "description" in spec:
            plain["description"] = spec["description"]
        properties[field] = plain
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        result["required"] = list(schema["required"])
    return result


def tool_definitions(
    server_url: str, *, timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS, credential_id: str | None = None
) -> list[dict[str, Any]]:
    """The four function tools, each pointing at ``server_url`` (``https://<host>/vapi/webhook``); with
    ``credential_id``, Vapi authenticates its requests with that server credential."""
    if not 1 <= timeout_seconds <= 300:
        raise ValueError("Vapi's tool timeout is 1 to 300 seconds")
    server: dict[str, Any] = {"url": server_url, "timeoutSeconds": timeout_seconds}
    if credential_id:
        server["credentialId"] = credential_id
    return [
        {
            "type": "function",
            "async": False,
            "function": {
                "name": name,
                "description": " ".join(inspect.cleandoc(ARGUMENTS[name].__doc__ or "").split()),
                "parameters": parameters_schema(name),
                "strict": False,
            },
            "server": dict(server),
            "messages": [{"type": "request-start", "content": _REQUEST_START}],
        }
        for name in TOOL_NAMES
    ]
