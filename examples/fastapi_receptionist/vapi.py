"""Vapi's server messages: authentication, parsing every shape Vapi sends, and the answer format.

Vapi's docs disagree with each other about where tool calls live and whether arguments are an object or a
JSON string, so this module accepts all of them (see ``docs/guides/receptionist.md``) and hands the rest
of the adapter one normalised ``ToolCall`` list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .settings import Settings

__all__ = [
    "ToolCall",
    "ToolResult",
    "VapiMessage",
    "VapiPayloadError",
    "bounded",
    "is_authentic",
    "one_line",
    "parse_message",
    "parse_tool_calls",
]

MAX_RESULT = 1000
"""Characters of a tool result: the model reads it in the middle of a phone call."""

MAX_ID = 128
"""Characters of an id (a call's, a tool call's, a phone number's) kept, echoed or logged; Vapi's are ~40."""

MAX_NAME = 64
"""Characters of a tool name echoed or logged."""


def bounded(value: str | None, limit: int = MAX_ID) -> str | None:
    """``value`` without control, format or line-separator characters (a newline in an id must not forge a
    log line, nor an escape sequence reach a terminal), at most ``limit`` characters; None when nothing is
    left."""
    if value is None:
        return None
    kept = "".join(
        ch if not unicodedata.category(ch).startswith(("C", "Zl", "Zp")) else " " if ch in _BREAKS else ""
        for ch in value[: limit * 4]
    )
    kept = _LINE_BREAKS.sub(" ", kept).strip()[:limit]
    return kept or None


_BREAKS = "\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029"


_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


def phone_or_none(value: str | None) -> str | None:
    """An E.164-like number (``+`` and 7 to 15 digits, separators dropped), else None."""
    if not value:
        return None
    compact = re.sub(r"[\s().-]", "", value[:64])
    return compact if _PHONE.match(compact) else None


class _Lenient(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class _Number(_Lenient):
    number: str | None = None


class VapiCall(_Lenient):
    id: str | None = None
    type: str | None = None
    status: str | None = None
    phone_number_id: str | None = None
    phone_call_provider_id: str | None = None
    customer: _Number | None = None
    phone_number: _Number | None = None

    @field_validator("id", "type", "status", "phone_number_id", "phone_call_provider_id")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        return bounded(value)


class VapiMessage(_Lenient):
    """``body.message``: the fields the adapter reads; everything else Vapi sends is ignored."""

    type: str
    call: VapiCall | None = None
    customer: _Number | None = None
    phone_number: _Number | None = None
    tool_call_list: list[Any] | None = None
    tool_with_tool_call_list: list[Any] | None = None
    tool_calls: list[Any] | None = None
    function_call: dict[str, Any] | None = None
    status: str | None = None
    ended_reason: str | None = None

    @field_validator("type")
    @classmethod
    def _bounded_type(cls, value: str) -> str:
        return bounded(value, MAX_NAME) or "unknown"

    @field_validator("status", "ended_reason")
    @classmethod
    def _bounded_text(cls, value: str | None) -> str | None:
        return bounded(value, 200)

    @property
    def call_id(self) -> str | None:
        return self.call.id if self.call else None

    @property
    def caller_number(self) -> str | None:
        """The caller, from ``call.customer`` or the message's own ``customer``."""
        for holder in (self.call.customer if self.call else None, self.customer):
            if holder is not None and holder.number:
                return phone_or_none(holder.number)
        return None

    @property
    def dialled_number(self) -> str | None:
        for holder in (self.phone_number, self.call.phone_number if self.call else None):
            if holder is not None and holder.number:
                return phone_or_none(holder.number)
        return None


class _Envelope(_Lenient):
    message: VapiMessage


class VapiPayloadError(ValueError):
    """The body is not a Vapi message. The text says what is wrong, never what was sent."""


def parse_message(body: bytes) -> VapiMessage:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep to parse
        raise VapiPayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise VapiPayloadError('the body must be a JSON object {"message": {...}}')
    if not isinstance(data.get("message"), dict):
        raise VapiPayloadError('the body has no "message" object')
    try:
        return _Envelope.model_validate(data).message
    except ValidationError as exc:
        raise VapiPayloadError(f"the message is malformed: {describe(exc)}") from None


def describe(exc: ValidationError, *, limit: int = 3) -> str:
    """Where and what is wrong, without the offending values (they may be PHI or secrets)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "value"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


# -- tool calls ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One call to answer. ``problem`` is set when the call itself is unusable (its answer is an error)."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class ToolResult:
    tool_call_id: str
    name: str
    result: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, str]:
        answer = {"toolCallId": bounded(self.tool_call_id) or "", "name": bounded(self.name, MAX_NAME) or ""}
        if self.error is not None:
            answer["error"] = one_line(self.error)
        else:
            answer["result"] = one_line(self.result or "")
        return answer


class _Function(_Lenient):
    name: str | None = None
    arguments: Any = None
    parameters: Any = None


class _CallItem(_Lenient):
    id: str | None = None
    name: str | None = None
    function: _Function | None = None
    arguments: Any = None
    parameters: Any = None


class _WithToolCall(_Lenient):
    name: str | None = None
    function: _Function | None = None
    tool_call: _CallItem | None = None


def parse_tool_calls(message: VapiMessage) -> list[ToolCall]:
    """The calls of a ``tool-calls`` message, in order, from whichever list Vapi filled.

    ``toolCallList`` items are ``{id, type, function: {name, arguments}}`` (or ``{id, name, parameters}``
    / ``{id, name, arguments}`` in some of Vapi's examples); ``toolWithToolCallList`` items wrap the same in
    ``toolCall``; some senders use ``toolCalls``. The lists repeat each other, so only the first non-empty
    one is read.
    """
    if message.tool_call_list:
        return [_plain_call(item) for item in message.tool_call_list]
    if message.tool_with_tool_call_list:
        return [_wrapped_call(item) for item in message.tool_with_tool_call_list]
    if message.tool_calls:
        return [_plain_call(item) for item in message.tool_calls]
    raise VapiPayloadError("the tool-calls message lists no tool calls (message.toolCallList is empty)")


def legacy_function_call(message: VapiMessage) -> ToolCall:
    """A ``function-call`` message of an old assistant: ``message.functionCall = {name, parameters}``, no id."""
    raw = message.function_call
    if raw is None:
        raise VapiPayloadError("the function-call message has no functionCall object")
    name = bounded(raw.get("name"), MAX_NAME) if isinstance(raw.get("name"), str) else None
    if not name:
        return ToolCall(id="", name="", problem="the function call names no function")
    arguments, problem = _arguments(_first_given(raw.get("parameters"), raw.get("arguments")))
    return ToolCall(id="", name=name, arguments=arguments, problem=problem)


def _plain_call(raw: object) -> ToolCall:
    if not isinstance(raw, dict):
        return ToolCall(id="", name="", problem="the tool call is not a JSON object")
    try:
        item = _CallItem.model_validate(raw)
    except ValidationError as exc:
        call_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
        return ToolCall(
            id=bounded(str(call_id)) or "", name="", problem=f"the tool call is malformed: {describe(exc)}"
        )
    function = item.function or _Function()
    name = function.name or item.name
    arguments = _first_given(function.arguments, function.parameters, item.arguments, item.parameters)
    return _call(item.id, name, arguments)


def _wrapped_call(raw: object) -> ToolCall:
    if not isinstance(raw, dict):
        return ToolCall(id="", name="", problem="the tool call is not a JSON object")
    try:
        item = _WithToolCall.model_validate(raw)
    except ValidationError as exc:
        return ToolCall(id="", name="", problem=f"the tool call is malformed: {describe(exc)}")
    inner = item.tool_call or _CallItem()
    inner_function = inner.function or _Function()
    outer_function = item.function or _Function()
    name = inner_function.name or inner.name or outer_function.name or item.name
    arguments = _first_given(
        inner_function.arguments, inner_function.parameters, inner.arguments, inner.parameters
    )
    return _call(inner.id, name, arguments)


def _first_given(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _call(call_id: str | None, name: str | None, arguments: Any) -> ToolCall:
    call_id, name = bounded(call_id), bounded(name, MAX_NAME)
    if not call_id:
        return ToolCall(id="", name=name or "", problem="the tool call has no id")
    if not name:
        return ToolCall(id=call_id, name="", problem="the tool call names no function")
    parsed, problem = _arguments(arguments)
    return ToolCall(id=call_id, name=name, arguments=parsed, problem=problem)


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Arguments arrive as an object (in practice) or as a JSON string (in Vapi's schema)."""
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return {}, "the arguments are not valid JSON"
    if not isinstance(raw, dict):
        return {}, "the arguments must be a JSON object"
    return raw, None


_LINE_BREAKS = re.compile(r"\s+")


def one_line(text: str, *, limit: int = MAX_RESULT) -> str:
    """Vapi wants results without line breaks; runs of whitespace (``\\n``, ``\\u2028``...) become one space."""
    flat = _LINE_BREAKS.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def compact_json(value: Any) -> str:
    """Structured results as compact one-line JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


# -- authentication -----------------------------------------------------------------------------------


def is_authentic(settings: Settings, headers: Mapping[str, str], body: bytes, *, now: float) -> bool:
    """True when the request carries the configured secret (``X-Vapi-Secret``, or a bearer token in
    ``settings.vapi_bearer_header``) or a valid HMAC signature. Every comparison is constant-time."""
    if settings.vapi_secret is not None and _has_secret(
        settings.vapi_secret.get_secret_value(), settings.vapi_bearer_header, headers
    ):
        return True
    return settings.vapi_hmac_secret is not None and _has_valid_signature(
        settings.vapi_hmac_secret.get_secret_value(), settings.vapi_hmac_max_age_seconds, headers, body, now=now
    )


def _has_secret(secret: str, bearer_header: str, headers: Mapping[str, str]) -> bool:
    offered = [headers.get("x-vapi-secret")]
    bearer = headers.get(bearer_header.lower())
    if bearer is not None:
        scheme, _, token = bearer.strip().partition(" ")
        # Vapi's bearer credential may be sent without the "Bearer " prefix (bearerPrefixEnabled: false).
        offered.append(token.strip() if scheme.lower() == "bearer" else bearer.strip())
    # Every candidate is compared (no short-circuit), each in constant time.
    matches = [hmac.compare_digest(candidate.encode(), secret.encode()) for candidate in offered if candidate]
    return any(matches)


def _has_valid_signature(
    secret: str, max_age: float | None, headers: Mapping[str, str], body: bytes, *, now: float
) -> bool:
    signature = headers.get("x-signature")
    timestamp = headers.get("x-timestamp")
    if not signature or not timestamp:
        return False
    if max_age is not None:
        sent = _epoch_seconds(timestamp)
        if sent is None or abs(now - sent) > max_age:  # a replayed request carries an old timestamp
            return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    offered = signature.strip().removeprefix("sha256=").lower()
    return hmac.compare_digest(offered.encode(), expected.encode())


def _epoch_seconds(timestamp: str) -> float | None:
    """Unix time in seconds or milliseconds (senders differ); None when it is not a number."""
    try:
        value = float(timestamp)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value / 1000 if value > 1e11 else value
