"""Sikka's wire conventions: string-only values, the list envelope, error bodies, page-index pagination.

Kept apart from the routes so every endpoint answers in exactly one shape. Texts of error bodies are copied
from Sikka's getting-started error table; where a message is generic, ``long_message`` carries the detail.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

from starlette.responses import Response

__all__ = [
    "SikkaError",
    "envelope",
    "error_body",
    "error_response",
    "fmt_bool",
    "fmt_date",
    "fmt_datetime",
    "fmt_money",
    "fmt_time",
    "http_date",
    "json_response",
    "no_content",
    "page_window",
    "project",
]

# code -> (http status, http_code_desc, short_message, long_message, more_information)
_ERRORS: dict[str, tuple[int, str, str, str, str]] = {
    "API0002": (200, "OK", "OK", "Request Session terminated successfully.", ""),
    "API1001": (
        400,
        "BadRequest",
        "Missing Parameter",
        "ApplicationID is missing.",
        "Please provide the applicationid.",
    ),
    "API1002": (
        400,
        "BadRequest",
        "Missing Parameter",
        "ApplicationKey is missing.",
        "Please provide the applicationkey.",
    ),
    "API1003": (400, "BadRequest", "Missing Parameter", "MID is missing.", "Please provide the mid."),
    "API1004": (
        400,
        "BadRequest",
        "Missing Parameter",
        "Requestkey is missing.",
        "Please provide the requestkey.",
    ),
    "API1005": (400, "BadRequest", "Missing Parameter", "SecretKey is missing.", "Please provide the secretkey."),
    "API1006": (
        415,
        "UnsupportedMediaType",
        "Sikka API supports json/xml",
        "Sikka API does not support response format.",
        "Please request with json/xml.",
    ),
    "API1020": (
        400,
        "BadRequest",
        "Missing Parameter",
        "One of the parameter is missing.",
        "Please provide all the parameters in syntax of service.",
    ),
    "API1025": (
        400,
        "BadRequest",
        "Request key expired",
        "Request key is not valid, it is expired.",
        "Please generate new request key and make new request.",
    ),
    "API1026": (400, "BadRequest", "Missing/Invalid Parameter", "One of the parameter is missing or invalid.", ""),
    "API2001": (
        500,
        "InternalServerError",
        "Internal Error",
        "Internal Error.",
        "Please contact Sikka API Support.",
    ),
    "API2002": (
        503,
        "ServiceUnavailable",
        "Try again later.",
        "The Sikka APIs are up, but overloaded with requests. Try again later.",
        "",
    ),
    "API2003": (
        401,
        "Unauthorized",
        "Authentication/Authorization Failed",
        "ID or key is incorrect.",
        (
            "This error can be caused by an incorrect application id , application key. In case of "
            "provider_accounts & patient_accounts this error can be caused by incorrect username or "
            "password."
        ),
    ),
    "API2004": (
        401,
        "Unauthorized",
        "Authentication/Authorization Failed",
        "You are not authorized to use this API.",
        (
            "This error can be caused when you try to access API not accessible by you, if you want to use "
            "this API contact SIKKA API SUPPORT."
        ),
    ),
    "API2007": (
        401,
        "Unauthorized",
        "Authentication/Authorization Failed",
        "You are not authorized to access practice details with Sikka API.",
        (
            "This error can be caused when you try to access practice details not accessible by you. If you "
            "want to access this practice's details with Sikka API contact practice and ask to allow access."
        ),
    ),
    "API2009": (
        404,
        "NotFound",
        "Resource not found",
        "The resource you requested does not exist.",
        "The resource you requested does not exist.",
    ),
    "API2011": (
        429,
        "Too Many Requests",
        "Data limit exceeded",
        "Data size per practice per day exceeded",
        "Please make request to the datalimit API for more information.",
    ),
    "API2012": (
        429,
        "Too Many Requests",
        "Request limit exceeded",
        "Requests per practice per day exceeded",
        "Please make request to the datalimit API for more information.",
    ),
    "API2013": (
        409,
        "Conflict",
        "Resource already exists",
        (
            "You attempted to do something which would leave a resource in an inconsistent state, such as "
            "create a resource with an already taken name or id."
        ),
        "Please check name or id and resubmit the request again.",
    ),
    "API2014": (
        405,
        "Method Not Allowed",
        "Method not allowed for the resource",
        "Requested method not allowed for the resource",
        "Please contact Sikka API support",
    ),
    "API2019": (
        422,
        "Unprocessable",
        "",
        "The request was unable to be processed due to it containing invalid parameters.",
        "",
    ),
    "API2022": (
        504,
        "Gateway Timeout",
        "Gateway Timeout occurred",
        (
            "API server did not get a response in time from the upstream server that it needed in order to "
            "complete the request"
        ),
        "Please retry after sometime",
    ),
}


class SikkaError(Exception):
    """Raised inside a handler to answer with a Sikka error body; ``detail`` replaces the long message."""

    def __init__(self, code: str, detail: str | None = None, *, more: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.more = more

    @property
    def status(self) -> int:
        return _ERRORS[self.code][0]


def error_body(code: str, detail: str | None = None, *, more: str | None = None) -> dict[str, str]:
    status, desc, short, long, info = _ERRORS[code]
    return {
        "http_code": str(status),
        "http_code_desc": desc,
        "error_code": code,
        "short_message": short,
        "long_message": detail if detail is not None else long,
        "more_information": more if more is not None else info,
    }


def json_response(body: Any, status: int = 200) -> Response:
    """JSON exactly as given (key order kept, no escaping surprises), as Sikka's ``application/json``."""
    return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8")


def error_response(exc: SikkaError) -> Response:
    return json_response(error_body(exc.code, exc.detail, more=exc.more), exc.status)


def no_content() -> Response:
    """Sikka's empty result (API2005): 204 and no body at all."""
    return Response(status_code=204)


def http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.timezone.utc), usegmt=True)


def fmt_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat()
    return f"{value.isoformat()}T00:00:00"


def fmt_datetime(value: dt.datetime | None) -> str:
    return "" if value is None else value.replace(microsecond=0, tzinfo=None).isoformat()


def fmt_time(value: dt.time | dt.datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def fmt_money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.0001'))}"


def fmt_bool(value: bool) -> str:
    return "True" if value else "False"


def page_window(params: Mapping[str, str], *, default_limit: int = 50, max_limit: int = 5000) -> tuple[int, int]:
    """Parse ``offset`` (a page index) and ``limit`` (the page size); refuse what Sikka's plan does not allow."""
    raw_limit = params.get("limit", "").strip()
    raw_offset = params.get("offset", "").strip()
    try:
        limit = int(raw_limit) if raw_limit else default_limit
        offset = int(raw_offset) if raw_offset else 0
    except ValueError:
        raise SikkaError("API1026", "offset and limit must be integers.") from None
    if limit < 1 or limit > max_limit:
        raise SikkaError("API1026", f"limit must be between 1 and {max_limit} (maximum records per request).")
    if offset < 0:
        raise SikkaError("API1026", "offset must be zero or a positive page index.")
    return offset, limit


def envelope(
    base_url: str,
    api: str,
    items: Sequence[Mapping[str, str]],
    *,
    total: int,
    offset: int,
    limit: int,
    elapsed_ms: int,
) -> dict[str, Any]:
    """The list envelope; links carry only ``offset`` and ``limit`` (filters are not repeated in them)."""
    last = max(0, math.ceil(total / limit) - 1)

    def link(page: int) -> str:
        return f"{base_url}/{api}?offset={page}&limit={limit}"

    return {
        "offset": str(offset),
        "limit": str(limit),
        "total_count": str(total),
        "execution_time": str(elapsed_ms),
        "pagination": {
            "first": link(0),
            "previous": link(offset - 1) if offset > 0 else "",
            "current": link(offset),
            "next": link(offset + 1) if offset < last else "",
            "last": link(last),
        },
        "items": list(items),
    }


def project(item: Mapping[str, str], defaults: frozenset[str], params: Mapping[str, str]) -> dict[str, str]:
    """Apply ``fields`` / ``lightweight``: default fields plus the named ones, ``get_all`` for everything."""
    raw = params.get("fields", "")
    wanted = {f.strip().lower() for f in raw.split(",") if f.strip()}
    if "get_all" in wanted:
        return dict(item)
    lightweight = params.get("lightweight", "").strip().lower() == "true" and bool(wanted)
    keep = wanted if lightweight else defaults | wanted
    return {k: v for k, v in item.items() if k in keep}
