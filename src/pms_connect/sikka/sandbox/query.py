"""Query semantics shared by every list endpoint: equality filters, date ranges, ``find=`` (RQL), sorting,
page-index pagination and field projection.

String filters compare like the PMS database would: whole-value equality, case-insensitive (SQL Server's
default collation), no normalisation. So ``cell=5550102030`` does not find ``555-010-2030``; callers must try
the formats a practice stores.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from starlette.responses import Response

from pms_connect.sikka.sandbox.wire import (
    SikkaError,
    envelope,
    json_response,
    no_content,
    page_window,
    project,
)

__all__ = [
    "eq",
    "listing",
    "parse_date",
    "within",
]

T = TypeVar("T")

_RQL = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(eq|neq|like|gte|gt|lte|lt)_(.*)$", re.DOTALL)


def eq(stored: str, wanted: str) -> bool:
    return stored.strip().lower() == wanted.strip().lower()


def parse_date(params: Mapping[str, str], name: str) -> dt.date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise SikkaError("API1026", f"{name} must be a date in yyyy-mm-dd format.") from None


def within(
    value: dt.date | dt.datetime | None, lo: dt.date | dt.datetime | None, hi: dt.date | dt.datetime | None
) -> bool:
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _sort_key(value: str) -> tuple[int, float, str]:
    text = value.strip()
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def _compare(stored: str, op: str, wanted: str) -> bool:
    if op == "eq":
        return eq(stored, wanted)
    if op == "neq":
        return not eq(stored, wanted)
    if op == "like":
        return stored.lower().startswith(wanted.strip().lower())
    left, right = _sort_key(stored), _sort_key(wanted)
    if left[0] != right[0]:  # a number against a date or text: compare as text (ISO dates sort as text)
        left, right = (1, 0.0, stored.strip()[: len(wanted.strip())]), (1, 0.0, wanted.strip())
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _find(expression: str) -> Callable[[Mapping[str, str]], bool]:
    """Parse ``find=`` RQL: conditions ``field=op_value`` joined by ``::AND::`` (binds first) and ``::OR::``."""
    groups: list[list[tuple[str, str, str]]] = []
    for group in expression.split("::OR::"):
        conditions = []
        for part in group.split("::AND::"):
            match = _RQL.match(part)
            if not match:
                raise SikkaError("API1026", f"find: cannot parse condition {part!r}.")
            conditions.append((match.group(1).lower(), match.group(2), match.group(3)))
        groups.append(conditions)

    def test(item: Mapping[str, str]) -> bool:
        return any(all(_compare(item.get(f, ""), op, v) for f, op, v in group) for group in groups)

    return test


def listing(
    params: Mapping[str, str],
    *,
    base_url: str,
    api: str,
    records: Sequence[T],
    render: Callable[[T], dict[str, str]],
    defaults: frozenset[str] | None = None,
    sort_aliases: Mapping[str, str] | None = None,
    default_limit: int = 50,
) -> Response:
    """Paginate already-filtered records and answer with the envelope, or 204 when the page is empty."""
    offset, limit = page_window(params, default_limit=default_limit)
    rendered: list[dict[str, str]] | None = None
    find = params.get("find", "").strip()
    sort_by = params.get("sort_by", "").strip().lower()
    order = params.get("sort_order", "asc").strip().lower()
    if order not in ("asc", "desc"):
        raise SikkaError("API1026", "sort_order must be asc or desc.")
    if find or sort_by:
        rendered = [render(r) for r in records]
        if find:
            test = _find(find)
            rendered = [item for item in rendered if test(item)]
        if sort_by:
            field = (sort_aliases or {}).get(sort_by, sort_by)
            keys = field.split("+")
            if rendered and any(k not in rendered[0] for k in keys):
                raise SikkaError("API1026", f"sort_by: unknown field {sort_by!r}.")
            rendered.sort(key=lambda item: [_sort_key(item[k]) for k in keys], reverse=order == "desc")
        total = len(rendered)
        page_items = rendered[offset * limit : (offset + 1) * limit]
    else:
        total = len(records)
        page_items = [render(r) for r in records[offset * limit : (offset + 1) * limit]]
    if not page_items:
        return no_content()
    all_fields = frozenset(page_items[0])
    items = [project(item, defaults if defaults is not None else all_fields, params) for item in page_items]
    body = envelope(base_url, api, items, total=total, offset=offset, limit=limit, elapsed_ms=4 + total // 250)
    return json_response(body)
