"""How the writeback poller learns the fate of an Open Dental write whose answer was lost.

Open Dental has no write queue and no log of API writes: a write is applied while its request runs, or not at
all. So a write with a definite answer is settled when it is sent (see [pms_connect.opendental._writes][]),
and one whose answer was lost is read back from the data itself, never sent again:

* a booking or a payment by its marker (the journal entry's id in ``Note`` / ``PayNote``, wherever an
  office's later note leaves it), on the patient's appointments of that day or payments entered since the
  day it was sent;
* a new patient by last name, first name and birthdate among the charts changed since it was sent
  (``patients/Simple`` with ``DateTStamp``), and the phone or email sent;
* a reschedule, a cancellation (Break) or a confirmation by the appointment's state: the time, chair,
  provider and length sent; Broken or on the Unscheduled List; the confirmation sent.

Not found within ``reconcile_window`` of sending, the write ends ``not_applied`` and sending it again is safe.
Open Dental answers 504 when a call runs past 60 s at the office, so the window (5 minutes by default) leaves
such a call time to finish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pms_connect.matching import normalize_phone
from pms_connect.models import Writeback, WritebackKind, WritebackResult, WritebackState
from pms_connect.stores import JournalEntry

if TYPE_CHECKING:
    from pms_connect.opendental.provider import OpenDentalProvider

__all__ = ["OpenDentalWritebackSource", "writeback_id_for"]

#: Allowed difference between this host's clock and the office server's (``DateTStamp`` is the server's).
CLOCK_SKEW = timedelta(minutes=2)
_BROKEN = frozenset({"broken", "unschedlist"})


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def writeback_id_for(entry: JournalEntry, number: str | None) -> str:
    """The journal's tracking id of a write: a created record's own (``appointments:18``), so that two lost
    writes can never adopt one record, or the updated record's with the entry (an update of one appointment
    may be written many times)."""
    resource = entry.path.split("/")[0]
    if entry.method == "POST":
        return f"{resource}:{number}"
    return f"{resource}:{number}:{entry.id}"


def _created(writeback_id: str) -> str:
    """The record number inside a tracking id (``appointments:18`` or ``appointments:18:<entry>``)."""
    parts = writeback_id.split(":")
    return parts[1] if len(parts) > 1 else writeback_id


#: How Open Dental writes a date left empty.
_NO_DATE = ("", "0001-01-01")


class OpenDentalWritebackSource:
    """The [WritebackSource][pms_connect.writeback.WritebackSource] of one Open Dental practice."""

    def __init__(self, pms: OpenDentalProvider, *, reconcile_window: timedelta = timedelta(minutes=5)) -> None:
        self._pms = pms
        self._reconcile_window = reconcile_window

    @property
    def batch_key(self) -> str:
        return self._pms.practice_key

    @property
    def reconcile_window(self) -> timedelta:
        return self._reconcile_window

    def _written(self, handle: Writeback) -> WritebackResult:
        return WritebackResult(
            handle_id=handle.id,
            status=WritebackState.WRITTEN,
            created_id=_created(handle.writeback_id or ""),
            completed_at=self._pms.now(),
        )

    async def poll(self, handles: Sequence[Writeback]) -> Mapping[str, WritebackResult | None]:
        """A handle with a tracking id was found applied: it is written (nothing is queued at Open Dental)."""
        return {h.id: self._written(h) for h in handles if h.writeback_id}

    async def check(self, handle: Writeback) -> WritebackResult:
        if not handle.writeback_id:
            return WritebackResult(handle_id=handle.id, status=WritebackState.PENDING)
        return self._written(handle)

    async def withdraw(self, handle: Writeback) -> bool:
        """Nothing waits at Open Dental to be withdrawn: a write is applied or it is not."""
        return False

    async def find_logged(self, entries: Sequence[JournalEntry]) -> Mapping[str, Sequence[str]]:
        found: dict[str, Sequence[str]] = {}
        for entry in entries:
            numbers = await self._read_back(entry)
            if numbers:
                found[entry.id] = [writeback_id_for(entry, n) for n in numbers]
        return found

    async def _read_back(self, entry: JournalEntry) -> list[str]:
        kind, body = entry.kind, entry.body
        if kind is WritebackKind.BOOK_APPOINTMENT:
            return await self._booking(entry)
        if kind is WritebackKind.POST_PAYMENT:
            return await self._payment(entry)
        if kind is WritebackKind.CREATE_PATIENT:
            return await self._new_patient(entry)
        appointment = entry.path.split("/")[1]
        row = await self._pms.client.get_json(f"appointments/{appointment}")
        if not isinstance(row, Mapping):
            return []
        if kind is WritebackKind.RESCHEDULE_APPOINTMENT:
            fields = ("AptDateTime", "Pattern", "ProvNum", "Op")
            same = all(_text(row, f) == body[f] for f in fields if f in body)
            return [appointment] if same else []
        if entry.path.endswith("/Break"):
            return [appointment] if _text(row, "AptStatus").lower() in _BROKEN else []
        if entry.path.endswith("/Confirm"):
            return [appointment] if _text(row, "Confirmed") == body.get("defNum") else []
        return []

    def _marked(self, rows: Sequence[Any], field: str, number: str, marker: str) -> list[str]:
        return [
            _text(row, number)
            for row in rows
            if isinstance(row, Mapping) and marker in _text(row, field) and _text(row, number).isdigit()
        ]

    async def _booking(self, entry: JournalEntry) -> list[str]:
        day = entry.body["AptDateTime"][:10]
        rows = await self._pms.client.get_all("appointments", {"PatNum": entry.body["PatNum"], "date": day})
        return self._marked(rows, "Note", "AptNum", entry.id)

    async def _payment(self, entry: JournalEntry) -> list[str]:
        since = self._server_day(entry)
        rows = await self._pms.client.get_all("payments", {"PatNum": entry.body["PatNum"], "DateEntry": since})
        return self._marked(rows, "PayNote", "PayNum", entry.id)

    async def _new_patient(self, entry: JournalEntry) -> list[str]:
        body = entry.body
        params = {"LName": body["LName"], "FName": body["FName"], "DateTStamp": self._server_time(entry)}
        if "Birthdate" in body:
            params["Birthdate"] = body["Birthdate"]
        rows = await self._pms.client.get_all("patients/Simple", params)
        phone = normalize_phone(body.get("WirelessPhone"))
        birthdates = {body["Birthdate"]} if "Birthdate" in body else set(_NO_DATE)  # none sent: none in the chart
        email = body.get("Email", "").casefold()
        found = []
        for row in rows:
            if not isinstance(row, Mapping) or not _text(row, "PatNum").isdigit():
                continue
            if _text(row, "LName").casefold() != body["LName"].casefold():
                continue
            if _text(row, "FName").casefold() != body["FName"].casefold():
                continue
            if _text(row, "Birthdate") not in birthdates:
                continue
            # A phone or email we did not send, filled in the chart, is another client's patient of that name.
            if normalize_phone(_text(row, "WirelessPhone")) != phone:
                continue
            if _text(row, "Email").casefold() != email:
                continue
            found.append(_text(row, "PatNum"))
        return found

    def _sent_local(self, entry: JournalEntry) -> datetime:
        # From when it was journaled, right before sending: its answer may have come (been lost) much later.
        return (entry.created_at - CLOCK_SKEW).astimezone(self._pms.timezone)

    def _server_time(self, entry: JournalEntry) -> str:
        """When the write was journaled (just before sending), less the allowed skew, as the office server's
        wall clock."""
        return self._sent_local(entry).strftime("%Y-%m-%d %H:%M:%S")

    def _server_day(self, entry: JournalEntry) -> str:
        return self._sent_local(entry).date().isoformat()
