"""Sikka's side of writeback tracking: ids from write answers, statuses, and finding lost writes in the log.

* ``GET /writebacks?startdate&enddate`` (App-Id/App-Key, at most 7 days a request) lists every writeback of
  the app: one request reports on many handles. A row whose ``result`` is no longer ``pending`` is then read
  in detail with ``GET /writeback_status?id=N`` (created id, error flag, reason) where the row cannot say.
* The same list is Sikka's log of every write it received, with the request body (``api_request_body``): a
  write whose answer was lost is found there by its marker (the journal entry's id, carried in the
  appointment's or transaction's ``note``), or, for writes without a free-text field, by every field sent,
  logged after it was sent. A row that differs in any field sent is never taken for the write.
* ``DELETE /writebacks?id=N`` withdraws a pending one.

``command_time`` is read as UTC: Sikka's docs give no zone, and the only clue (``Request-Key-Expires``, an
HTTP date in GMT, is documented as the key's ``start_time`` plus 24 hours) points to UTC server time. Only
writes without a marker depend on it, with two minutes allowed for clock skew.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from pms_connect.errors import PmsStatusError
from pms_connect.models import Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.ratelimit import Priority
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import read_page
from pms_connect.stores import JournalEntry

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

#: A row type of the app's writeback log: its outcome alone (a poll round) or all of it (reconciling).
LogRow = TypeVar("LogRow", w.WritebackOutcome, w.WritebackListRow)

__all__ = ["CLOCK_SKEW", "SikkaWritebackSource", "parse_writeback_id", "row_to_result"]

_ID_IN_TEXT = re.compile(r"\bId\s*:\s*(\d+)", re.IGNORECASE)
MAX_WINDOW = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=2)
_SETTLED_BY_LIST = frozenset({WritebackKind.RESCHEDULE_APPOINTMENT, WritebackKind.CHANGE_APPOINTMENT_STATUS})
#: Status or result words that mean the write ended without being applied, whatever the flags say.
_FAILED_WORDS = frozenset({"failed", "failure", "fail", "error", "rejected", "refused", "declined"})
#: Control fields that a log row may leave out; every other field sent must be in the row to match.
_OPTIONAL_IN_LOG = frozenset({"check_spu", "appointment_sr_no"})
#: Fields Sikka adds to a logged request body itself (``writeback.txt``: ``request_key=...&...&apiname=PATCH
#: appointments&id=374``). Any other filled field in a row that we did not send means another client's write.
_ADDED_BY_LOG = frozenset({"request_key", "apiname", "id"})


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


def row_to_result(row: w.WritebackStatusRow, handle: Writeback, zone: ZoneInfo) -> WritebackResult:
    """A ``writeback_status`` row as a result. Sikka documents the flags, not the status words: a row is
    done when ``is_completed`` is true (or its status says it ended), failed when ``has_error`` is true or its
    status or result says it failed; ``"Completed"`` with ``result: "Success"`` is a success."""
    status = (row.status or "").strip().lower()
    result_text = (row.result or "").strip().lower()
    completed = bool(row.is_completed) or status in {"success", "completed", "complete"} | _FAILED_WORDS
    completed_at = row.completed_time.replace(tzinfo=zone) if row.completed_time else None
    if not completed:
        return WritebackResult(handle_id=handle.id, writeback_id=row.id, status=WritebackState.PENDING)
    failed = bool(row.has_error) or status in _FAILED_WORDS or result_text in _FAILED_WORDS
    if failed:
        return WritebackResult(
            handle_id=handle.id,
            writeback_id=row.id,
            status=WritebackState.FAILED,
            message=row.result or "the PMS refused the write",
            completed_at=completed_at,
        )
    return WritebackResult(
        handle_id=handle.id,
        writeback_id=row.id,
        status=WritebackState.WRITTEN,
        created_id=row.created_id or row.appointment_sr_no or handle.appointment_id,
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

    def __init__(self, pms: SikkaProvider, *, reconcile_window: timedelta) -> None:
        self._pms = pms
        self._reconcile_window = reconcile_window

    @property
    def batch_key(self) -> str:
        """Every practice of one app: the app-level writebacks list reports on all of them."""
        return f"sikka:{self._pms.client.base_url}:{self._pms.credentials.app_id}"

    @property
    def reconcile_window(self) -> timedelta:
        return self._reconcile_window

    # -- following acknowledged writes --------------------------------------------------------------------

    async def poll(self, handles: Sequence[Writeback]) -> dict[str, WritebackResult | None]:
        wanted = {h.writeback_id: h for h in handles if h.writeback_id is not None}
        if not wanted:
            return {}
        zone = self._pms.timezone
        results: dict[str, WritebackResult | None] = {}
        for listed in await self._rows([h.submitted_at for h in wanted.values()], w.WritebackOutcome):
            handle = wanted.get(listed.id or "")
            if handle is None:
                continue
            outcome = (listed.result or "pending").strip().lower()
            if outcome == "pending":
                results[handle.id] = WritebackResult(
                    handle_id=handle.id, writeback_id=listed.id, status=WritebackState.PENDING
                )
            elif outcome == "success" and handle.kind in _SETTLED_BY_LIST:
                # An update's "created id" is the appointment it changed: no detail request needed.
                results[handle.id] = WritebackResult(
                    handle_id=handle.id,
                    writeback_id=handle.writeback_id,
                    status=WritebackState.WRITTEN,
                    created_id=handle.appointment_id,
                    completed_at=_local_time(listed.completed_time, zone),
                )
            else:
                results[handle.id] = None  # a create (its new id) or a failure (its reason): read the detail
        return results

    async def check(self, handle: Writeback) -> WritebackResult:
        if handle.writeback_id is None:
            return WritebackResult(handle_id=handle.id, status=WritebackState.PENDING)
        response = await self._pms.client.practice_call(
            "GET", "writeback_status", params={"id": handle.writeback_id}, priority=Priority.BACKGROUND
        )
        summary = self._pms.client.summary("GET", "writeback_status")
        envelope = read_page(response, w.WritebackStatusRow, summary)
        rows = envelope.items if envelope is not None else []
        row = next((r for r in rows if r.id == handle.writeback_id), None)  # never another write's row
        if row is None:
            return WritebackResult(
                handle_id=handle.id, writeback_id=handle.writeback_id, status=WritebackState.PENDING
            )
        return row_to_result(row, handle, self._pms.timezone)

    async def withdraw(self, handle: Writeback) -> bool:
        if handle.writeback_id is None:
            return False
        try:
            await self._pms.client.app_call(
                "DELETE",
                "writebacks",
                params={"id": handle.writeback_id},
                idempotent=True,
                priority=Priority.BACKGROUND,
            )
        except PmsStatusError as exc:
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                return False  # no longer pending: it completed (or never existed)
            raise
        return True

    # -- finding writes whose answer was lost -----------------------------------------------------------------

    async def find_logged(self, entries: Sequence[JournalEntry]) -> Mapping[str, Sequence[str]]:
        if not entries:
            return {}
        rows = await self._rows([e.created_at for e in entries], w.WritebackListRow)
        found: dict[str, list[str]] = {}
        for entry in entries:
            matches = sorted(
                (row.id for row in rows if row.id and self._is_this_write(entry, row)),
                key=lambda i: (len(i), i),  # numeric order: the earliest logged first
            )
            if matches:
                found[entry.id] = matches
        return found

    def _is_this_write(self, entry: JournalEntry, row: w.WritebackListRow) -> bool:
        """Whether a log row is exactly ``entry``'s write: same office, method, resource, target and practice;
        no field sent differs; the marker present (or, without one, every field sent present and the row
        logged after the write was sent)."""
        if (row.method or "").upper() != entry.method.upper():
            return False
        if _resource(row.api_name or "") != _resource(entry.path.split("/")[0]):
            return False
        if row.office_id and row.office_id != self._pms.credentials.office_id:
            return False  # the list covers every office of the app
        logged = _request_fields(row.api_request_body or "")
        target = entry.path.split("/")[1] if "/" in entry.path else None
        if target is not None and target not in (logged.get("id"), logged.get("appointment_sr_no")):
            return False
        for key, value in entry.body.items():
            if key in logged and logged[key].strip() != value.strip():
                return False
        if entry.marker is not None:
            field = next((k for k, val in entry.body.items() if entry.marker in val), None)
            return field is not None and entry.marker in logged.get(field, "")
        if any(key not in logged for key in entry.body if key not in _OPTIONAL_IN_LOG):
            return False
        if any(
            value.strip() and key not in entry.body and key not in _ADDED_BY_LOG for key, value in logged.items()
        ):
            return False  # a field we never sent (another "Maria Garcia", with an email): not this write
        return self._logged_after_sending(row.command_time, entry)

    def _logged_after_sending(self, command_time: str | None, entry: JournalEntry) -> bool:
        """Whether the row was logged while this write could have been: from just before it was journaled
        (it is journaled right before it is sent) to the reconcile window after its answer was lost (which
        may come long after sending: a slow answer, a long timeout)."""
        at = _local_time(command_time, timezone.utc)
        if at is None:
            return False  # absent or unreadable: without a marker, nothing proves it is this write
        earliest = entry.created_at - CLOCK_SKEW
        latest = entry.sent_or_created() + self._reconcile_window + CLOCK_SKEW
        return earliest <= at <= latest

    # -- the app's writeback list -----------------------------------------------------------------------------

    async def _rows(self, times: Sequence[datetime], row_type: type[LogRow]) -> list[LogRow]:
        """Every writeback of the app on the days of ``times`` (practice-local, a day either side) through
        today, each row once."""
        if not times:
            return []
        today = self._pms.today()
        # From the day before each time through tomorrow: one span from the earliest, built once rather than
        # per handle (a round may follow thousands).
        zone = self._pms.timezone
        firsts = {when.astimezone(zone).date() - timedelta(days=1) for when in times}
        start = min(firsts)
        days = {start + timedelta(days=n) for n in range(max(1, (today - start).days + 2))} | firsts
        rows: dict[str, LogRow] = {}
        for start, end in _windows(sorted(days)):
            for row in await self._list(start, end, row_type):
                if row.id:
                    rows[row.id] = row
        return list(rows.values())

    async def _list(self, start: date, end: date, row_type: type[LogRow]) -> list[LogRow]:
        """Every writeback of the app from ``start`` to ``end`` (one window: at most seven days)."""
        params = {"startdate": start.isoformat(), "enddate": end.isoformat()}
        pager = self._pms.client.pager(
            "writebacks",
            params,
            row_type,
            _same,
            app_level=True,
            priority=Priority.BACKGROUND,
        )
        return await pager.all()


def _same(row: LogRow) -> LogRow:
    return row


def _local_time(text: str | None, zone: tzinfo) -> datetime | None:
    """A time of the writeback log (wall clock in ``zone``), None when absent or unreadable."""
    try:
        parsed = w.parse_datetime(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=zone) if parsed is not None else None


def _resource(api_name: str) -> str:
    """``appointments`` and ``appointment`` name the same resource in Sikka's writeback rows."""
    return api_name.strip().lower().removesuffix("s")


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
