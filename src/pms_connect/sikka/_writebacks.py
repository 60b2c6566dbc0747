"""Sikka's side of writeback tracking: handle ids from write answers, and the status source for the poller.

* ``GET /writebacks?startdate&enddate`` (App-Id/App-Key, at most 7 days a request) lists every writeback of
  the app: one request reports on many handles. A row whose ``result`` is no longer ``pending`` is then read
  in detail with ``GET /writeback_status?id=N`` (created id, error flag, reason).
* ``DELETE /writebacks?id=N`` withdraws a pending one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from pms_connect.errors import PmsStatusError
from pms_connect.models import Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.ratelimit import Priority
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import parse_rows, read_envelope

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

__all__ = ["SikkaWritebackSource", "parse_writeback_id", "row_to_result"]

_ID_IN_TEXT = re.compile(r"\bId\s*:\s*(\d+)", re.IGNORECASE)
MAX_WINDOW = timedelta(days=7)
_SETTLED_BY_LIST = frozenset({WritebackKind.RESCHEDULE_APPOINTMENT, WritebackKind.CHANGE_APPOINTMENT_STATUS})


def parse_writeback_id(answer: w.WriteAnswer) -> str:
    """The tracking id Sikka hides in ``long_message`` (``"Id:275495"``) or ``more_information`` (a URL)."""
    match = _ID_IN_TEXT.search(answer.long_message or "")
    if match:
        return match.group(1)
    if answer.more_information:
        ids = parse_qs(urlparse(answer.more_information).query).get("id")
        if ids and ids[0].strip().isdigit():
            return ids[0].strip()
    raise PmsStatusError("Sikka accepted the write but its answer holds no writeback id", code=answer.error_code)


def row_to_result(row: w.WritebackStatusRow, zone: Any) -> WritebackResult:
    """Sikka's failure shape is not documented exactly: completed with an error flag, or a completed status
    other than Success, is a failure with ``result`` as the reason."""
    completed = bool(row.is_completed) or (row.status or "").lower() in {"success", "failed", "failure", "error"}
    completed_at = row.completed_time.replace(tzinfo=zone) if row.completed_time else None
    if not completed:
        return WritebackResult(writeback_id=row.id, status=WritebackState.PENDING)
    status = (row.status or "").strip().lower()
    failed = bool(row.has_error) or (status != "" and status != "success")
    if failed:
        return WritebackResult(
            writeback_id=row.id,
            status=WritebackState.FAILED,
            message=row.result or "the PMS refused the write",
            completed_at=completed_at,
        )
    return WritebackResult(
        writeback_id=row.id,
        status=WritebackState.WRITTEN,
        created_id=row.created_id or row.appointment_sr_no,
        message=row.result,
        completed_at=completed_at,
    )


def _windows(days: Sequence[date]) -> list[tuple[date, date]]:
    """Cover the given days with as few windows of at most seven days as possible."""
    spans: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if spans and day - spans[-1][0] < MAX_WINDOW - timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


class SikkaWritebackSource:
    """Reports on this provider's writebacks, in the background lane of the rate limiter."""

    def __init__(self, pms: SikkaProvider) -> None:
        self._pms = pms

    @property
    def batch_key(self) -> str:
        """Every practice of one app: the app-level writebacks list reports on all of them."""
        return f"sikka:{self._pms.client.base_url}:{self._pms.credentials.app_id}"

    async def poll(self, handles: Sequence[Writeback]) -> dict[str, WritebackResult | None]:
        wanted = {h.id: h for h in handles}
        if not wanted:
            return {}
        zone = self._pms.timezone
        days = [h.submitted_at.astimezone(zone).date() for h in handles]
        results: dict[str, WritebackResult | None] = {}
        for start, end in _windows(days):
            end = end + timedelta(days=1)  # a write logged late in the practice's evening may be dated tomorrow
            for row in await self._list(start, end):
                handle = wanted.get(row.id)
                if handle is None:
                    continue
                outcome = (row.result or "pending").strip().lower()
                if outcome == "pending":
                    results[row.id] = WritebackResult(writeback_id=row.id, status=WritebackState.PENDING)
                elif outcome == "success" and handle.kind in _SETTLED_BY_LIST:
                    # An update's "created id" is the appointment it changed: no detail request needed.
                    results[row.id] = WritebackResult(
                        writeback_id=row.id,
                        status=WritebackState.WRITTEN,
                        created_id=handle.appointment_id,
                        completed_at=row.completed_time.replace(tzinfo=zone) if row.completed_time else None,
                    )
                else:
                    results[row.id] = None  # a create (its new id) or a failure (its reason): read the detail
        return results

    async def _list(self, start: date, end: date) -> list[w.WritebackListRow]:
        summary = self._pms.client.summary("GET", "writebacks")
        return parse_rows(await self._list_raw(start, end), w.WritebackListRow, summary)

    async def check(self, handle: Writeback) -> WritebackResult:
        response = await self._pms.client.practice_call(
            "GET", "writeback_status", params={"id": handle.id}, priority=Priority.BACKGROUND
        )
        summary = self._pms.client.summary("GET", "writeback_status")
        envelope = read_envelope(response, summary)
        if envelope is None:
            return WritebackResult(writeback_id=handle.id, status=WritebackState.PENDING)
        rows = parse_rows(envelope.items, w.WritebackStatusRow, summary)
        row = next((r for r in rows if r.id == handle.id), rows[0] if rows else None)
        if row is None:
            return WritebackResult(writeback_id=handle.id, status=WritebackState.PENDING)
        return row_to_result(row, self._pms.timezone)

    async def withdraw(self, handle: Writeback) -> bool:
        try:
            await self._pms.client.app_call(
                "DELETE", "writebacks", params={"id": handle.id}, idempotent=True, priority=Priority.BACKGROUND
            )
        except PmsStatusError as exc:
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                return False  # no longer pending: it completed (or never existed)
            raise
        return True

    async def find_logged(
        self,
        *,
        method: str,
        api_name: str,
        since: datetime,
        matches: dict[str, str],
        target_id: str | None = None,
    ) -> str | None:
        """The id of a writeback this office logged since ``since`` with the same method, resource, target
        and request fields: used to reconcile after an ambiguous failure of a write, never to guess."""
        zone = self._pms.timezone
        end = self._pms.today() + timedelta(days=1)
        start = max(since.astimezone(zone).date() - timedelta(days=1), end - MAX_WINDOW + timedelta(days=1))
        office = self._pms.credentials.office_id
        for row in reversed(await self._list_raw(start, end)):  # the latest first
            if (row.get("method") or "").upper() != method.upper():
                continue
            if _resource(row.get("api_name") or "") != _resource(api_name):
                continue
            if row.get("office_id") and row.get("office_id") != office:
                continue  # the list covers every office of the app
            if not _logged_since(row.get("command_time"), since, zone):
                continue
            body = _request_fields(row.get("api_request_body") or "")
            if body.get("practice_id", self._pms.practice_id) != self._pms.practice_id:
                continue
            if target_id is not None and target_id not in (body.get("id"), body.get("appointment_sr_no")):
                continue
            if all(body.get(key) == value for key, value in matches.items()):
                return str(row.get("id"))
        return None

    async def _list_raw(self, start: date, end: date) -> list[dict[str, Any]]:
        """Every writeback of the app from ``start`` to ``end`` (one window: at most seven days)."""
        params = {"startdate": start.isoformat(), "enddate": end.isoformat()}
        pager = self._pms.client.pager(
            "writebacks",
            params,
            w.RawRow,
            lambda row: row.model_dump(),
            app_level=True,
            priority=Priority.BACKGROUND,
        )
        return await pager.all()


def _resource(api_name: str) -> str:
    """``appointments`` and ``appointment`` name the same resource in Sikka's writeback rows."""
    return api_name.strip().lower().removesuffix("s")


_CLOCK_SLACK = timedelta(minutes=5)


def _logged_since(command_time: Any, since: datetime, zone: ZoneInfo) -> bool:
    """Whether a row's ``command_time`` is not before ``since``. Sikka does not say which zone the time is
    in, so it is read both as UTC and as practice-local time, with a few minutes of slack for clocks."""
    try:
        logged = w.parse_datetime(command_time)
    except ValueError:
        return True  # unreadable: let the request fields decide
    if logged is None:
        return True
    earliest = since - _CLOCK_SLACK
    return logged.replace(tzinfo=timezone.utc) >= earliest or logged.replace(tzinfo=zone) >= earliest


def _request_fields(body: str) -> dict[str, str]:
    """``api_request_body`` is form-encoded in Sikka's docs (``a=1&b=2``); accept JSON too."""
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
