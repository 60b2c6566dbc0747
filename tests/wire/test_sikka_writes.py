"""Every Sikka write on the wire: the exact JSON body, the writeback id read from the answer, validation before
anything is sent, and reconciliation instead of blind retries after an ambiguous failure.

The FakeClock starts at 2026-12-01 14:00 UTC, 08:00 in the practice's zone (America/Chicago, UTC-6).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pms_connect.errors import (
    BadRequestError,
    InvalidArgumentError,
    PmsConnectionError,
    PmsStatusError,
    PreconditionFailedError,
    SlotUnavailableError,
    UnsupportedOperationError,
)
from pms_connect.models import (
    BookingRequest,
    NewPatient,
    PaymentRequest,
    Writeback,
    WritebackKind,
    WritebackState,
)
from pms_connect.sikka import SikkaProvider, SikkaWriteOptions
from pms_connect.stores import JournalEntry, JournalState

from .conftest import FakeSikka, sikka_list

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
STATUS_URL = "https://api.sikkasoft.com/v4/writeback_status"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MASKED_KEY = "request-ke***********-key-1"

# 10:30 on Thursday 2026-12-03 in Chicago.
START = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)


# -- Sikka-shaped rows and answers ---------------------------------------------------------------------------


def provider_row(provider_id: str, provider_type: str = "Dentist", status: str = "Active") -> dict[str, str]:
    return {
        "href": f"https://api.sikkasoft.com/v4/practices/1/providers/{provider_id}",
        "provider_id": provider_id,
        "firstname": f"First{provider_id}",
        "lastname": f"Last{provider_id}",
        "provider_type": provider_type,
        "specialty": "General",
        "practice_id": "1",
        "status": status,
        "is_hidden": "False",
    }


def operatory_row(operatory: str, hidden: str = "F") -> dict[str, str]:
    return {
        "href": f"https://api.sikkasoft.com/v4/operatories/{operatory}",
        "operatory": operatory,
        "practice_id": "1",
        "cust_id": "7",
        "is_hidden": hidden,
        "abbreviation": operatory,
        "provider_id": "",
    }


def patient_row(patient_id: str, **over: str) -> dict[str, str]:
    row = {
        "href": f"https://api.sikkasoft.com/v4/practices/1/patients/{patient_id}",
        "patient_id": patient_id,
        "guarantor_id": "67",
        "firstname": "Carlene",
        "lastname": "Victoria",
        "birthdate": "1984-12-10T00:00:00",
        "status": "Active",
        "cell": "408-555-0101",
        "email": "carlene@example.com",
        "provider_id": "DMD1",
        "practice_id": "1",
    }
    row.update(over)
    return row


def appointment_row(sr_no: str, day: str, at: str, length: str, **over: str) -> dict[str, str]:
    row = {
        "href": f"https://api.sikkasoft.com/v4/practices/1/appointments/{sr_no}",
        "appointment_sr_no": sr_no,
        "patient_id": "5383",
        "guarantor_id": "",
        "provider_id": "DMD1",
        "practice_id": "1",
        "operatory": "OP1",
        "hygienist": "",
        "date": f"{day}T00:00:00",
        "time": at,
        "length": length,
        "status": "Scheduled",
        "description": "Seat Br-UR",
        "type": "General",
        "cancelled": "False",
        "is_confirmed": "F",
        "last_changed_date": "2026-11-20T00:00:00",
    }
    row.update(over)
    return row


def supported_row(pms: str = "Dentrix", **over: str) -> dict[str, str]:
    row = {
        "practice_management_system": pms,
        "practice_management_system_version": "G7",
        "domain": "Dental",
        "appointment_status_writeback": "Available",
        "payment_writeback": "Available",
        "new_appointment_writeback": "Available",
        "new_patient_writeback": "Available",
    }
    row.update(over)
    return row


def write_answer(writeback_id: str, *, status: int = 201) -> httpx.Response:
    """Sikka's answer to a logged write: the id only inside strings."""
    if status == 201:
        code, desc, short = "API2016", "Created", "New resource created successfully"
    else:
        code, desc, short = "API0007", "OK", "Appointment status logged successfully"
    return httpx.Response(
        status,
        json={
            "http_code": str(status),
            "http_code_desc": desc,
            "error_code": code,
            "short_message": short,
            "long_message": f"Id:{writeback_id}",
            "more_information": f"{STATUS_URL}?id={writeback_id}",
        },
    )


def logged_row(
    writeback_id: str,
    method: str,
    api_name: str,
    fields: Mapping[str, str],
    *,
    apiname: str | None = None,
    command_time: str = "2026-12-01T14:00:03",
    office_id: str = "D20006",
    target_id: str = "",
    result: str = "pending",
) -> dict[str, str]:
    """One item of the app-level ``GET writebacks``: the request body form-encoded, key masked, as documented."""
    pairs = [f"request_key={MASKED_KEY}", *(f"{k}={v}" for k, v in fields.items())]
    pairs.append(f"apiname={apiname or f'{method} {api_name}'}")
    if target_id:
        pairs.append(f"id={target_id}")
    return {
        "href": f"https://api.sikkasoft.com/v4/writebacks/{writeback_id}",
        "description": "",
        "id": writeback_id,
        "result": result,
        "office_id": office_id,
        "method": method,
        "completed_time": "",
        "api_name": api_name,
        "api_request_body": "&".join(pairs),
        "command_time": command_time,
        "duration_in_second": "",
    }


# -- the mocked practice ---------------------------------------------------------------------------------------


@dataclass
class Office:
    """The practice behind the mocked Sikka: every read the writes need, answered from mutable state."""

    sikka: FakeSikka
    pms_name: str = "Dentrix"
    supported: list[dict[str, str]] = field(default_factory=lambda: [supported_row(), supported_row("Eaglesoft")])
    providers: list[dict[str, str]] = field(
        default_factory=lambda: [
            provider_row("HYG1", "Hygienist"),
            provider_row("DMD0", status="Inactive"),
            provider_row("DMD1"),
            provider_row("DMD2"),
        ]
    )
    operatories: list[dict[str, str]] = field(default_factory=lambda: [operatory_row("OP1"), operatory_row("OP2")])
    patients: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"79": patient_row("79"), "80": patient_row("80", firstname="Ada")}
    )
    appointments: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"374": appointment_row("374", "2026-12-03", "10:30", "60", patient_id="79")}
    )
    busy: list[dict[str, str]] = field(default_factory=list)
    statuses: list[str] = field(
        default_factory=lambda: ["open.unconfirm", "Unconfirmed", "Confirmed", "Cancelled"]
    )
    payment_types: list[dict[str, str]] = field(
        default_factory=lambda: [
            {"code": "CA", "description": "Cash Payment"},
            {"code": "CC", "description": "Credit Card Payment"},
        ]
    )
    logged: list[dict[str, str]] = field(default_factory=list)
    status_rows: dict[str, dict[str, str]] = field(default_factory=dict)

    def install(self) -> None:
        s = self.sikka
        s.get("practices").mock(
            side_effect=lambda _: s.page(
                [{"practice_id": "1", "name": "Cedar Mountain Dental", "cust_id": "7", "phone": "8606672600"}],
                api="practices",
            )
        )
        s.get("authorized_practices").mock(side_effect=self._authorized)
        s.get("supported_pmses").mock(side_effect=lambda _: self._page(self.supported, "supported_pmses"))
        s.get("providers").mock(side_effect=lambda _: self._page(self.providers, "providers"))
        s.get("operatories").mock(side_effect=self._operatories)
        s.get("patients").mock(side_effect=self._patients)
        s.get("appointments").mock(side_effect=self._appointments)
        s.get("practice_variables").mock(side_effect=self._practice_variables)
        s.get("payment_types").mock(side_effect=lambda _: self._page(self.payment_types, "payment_types"))
        s.get("writebacks").mock(side_effect=lambda _: self._page(self.logged, "writebacks"))
        # The poller may look at its handles while a test runs: pending unless a test gave a status row.
        s.get("writeback_status").mock(side_effect=self._writeback_status)
        s.route("DELETE", "writebacks").mock(return_value=httpx.Response(200, json={"error_code": "API4006"}))

    def _writeback_status(self, request: httpx.Request) -> httpx.Response:
        row = self.status_rows.get(request.url.params["id"])
        if row is None:
            return httpx.Response(204)
        return httpx.Response(200, json=[sikka_list([row], api="writeback_status")])

    def _page(self, rows: list[dict[str, str]], api: str) -> httpx.Response:
        return self.sikka.page(rows, api=api) if rows else httpx.Response(204)

    def _authorized(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["App-Id"] == "app-1"
        row = {
            "office_id": "D20006",
            "secret_key": "secret-key-1",
            "practice_id": "1",
            "practice_name": "Cedar Mountain Dental",
            "practice_management_system": self.pms_name,
            "practice_management_system_version": "G7",
            "domain": "Dental",
        }
        return self.sikka.page([row], api="authorized_practices")

    def _operatories(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["cust_id"] == "7", "operatories are asked with the practice's cust_id"
        assert request.url.params["is_hidden"] == "F"
        return self._page(self.operatories, "operatories")

    def _patients(self, request: httpx.Request) -> httpx.Response:
        row = self.patients.get(request.url.params.get("patient_id", ""))
        return self._page([row] if row else [], "patients")

    def _appointments(self, request: httpx.Request) -> httpx.Response:
        sr_no = request.url.params.get("appointment_sr_no")
        if sr_no is not None:
            row = self.appointments.get(sr_no)
            return self._page([row] if row else [], "appointments")
        return self._page(self.busy, "appointments")  # the slot re-check: 204 when the slot is free

    def _practice_variables(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["service_name"] == "Appointment Status"
        rows = [
            {"practice_id": "1", "service_name": "Appointment Status", "value": v, "description": v}
            for v in self.statuses
        ]
        return self._page(rows, "practice_variables")


@pytest.fixture
def office(sikka: FakeSikka) -> Office:
    office = Office(sikka)
    office.install()
    return office


@pytest.fixture
def pms(office: Office, make_provider: Callable[..., SikkaProvider]) -> SikkaProvider:
    return make_provider()


def sent(sikka: FakeSikka, method: str, path: str) -> list[httpx.Request]:
    """The requests sent to ``method /v4/path`` (those that raised included)."""
    return [
        c.request for c in sikka.router.calls if c.request.method == method and c.request.url.path == f"/v4/{path}"
    ]


def writes(sikka: FakeSikka) -> list[httpx.Request]:
    """Every write sent (the request_key grant is not a write)."""
    return [
        c.request
        for c in sikka.router.calls
        if c.request.method in WRITE_METHODS and c.request.url.path not in {"/v4/request_key", "/v4/writebacks"}
    ]


def body_of(request: httpx.Request) -> dict[str, str]:
    """The JSON body of a write, checked to be Sikka-shaped: an object of strings."""
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Request-Key"] == "request-key-1"
    assert "App-Key" not in request.headers
    body = json.loads(request.content)
    assert isinstance(body, dict)
    for name, value in body.items():
        assert isinstance(value, str), f"Sikka takes strings only; {name}={value!r}"
    return body


def booking(**over: Any) -> BookingRequest:
    values: dict[str, Any] = {
        "patient_id": "79",
        "provider_id": "DMD1",
        "start": START,
        "duration": timedelta(minutes=45),
        "operatory": "OP1",
        "reason": "Crown #14 (upper-left) & consult!",
    }
    values.update(over)
    return BookingRequest.model_validate(values)


BOOK_BODY = {
    "patient_id": "79",
    "provider_id": "DMD1",
    "practice_id": "1",
    "operatory": "OP1",
    "date": "2026-12-03",
    "time": "10:30",
    "length": "45",
    "description": "Crown 14 upper-left consult",
}


def book_logged(writeback_id: str, **over: Any) -> dict[str, str]:
    """The writebacks-list row of the booking in BOOK_BODY (``fields`` overrides body values)."""
    fields = {**BOOK_BODY, **over.pop("fields", {})}
    return logged_row(writeback_id, "POST", "appointment", fields, **over)


def payment(**over: Any) -> PaymentRequest:
    values: dict[str, Any] = {"patient_id": "79", "amount": Decimal("25"), "payment_type": "CC"}
    values.update(over)
    return PaymentRequest.model_validate(values)


# -- book ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "day", "at"),
    [
        (START, "2026-12-03", "10:30"),
        # 03:15 UTC on the 4th is still the evening of the 3rd in Chicago.
        (datetime(2026, 12, 4, 3, 15, tzinfo=UTC), "2026-12-03", "21:15"),
        (datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("America/New_York")), "2026-12-03", "08:00"),
        # After the spring change (2027-03-14) Chicago is UTC-5: the offset of the day, not of today.
        (datetime(2027, 3, 15, 15, 0, tzinfo=UTC), "2027-03-15", "10:00"),
        (datetime(2026, 12, 3, 10, 30, tzinfo=CHICAGO), "2026-12-03", "10:30"),
    ],
)
async def test_book_sends_practice_local_date_and_time(sikka, office, pms, clock, start, day, at):
    office.sikka.route("POST", "appointment").mock(return_value=write_answer("275495"))

    handle = await pms.appointments.book(booking(start=start))

    [request] = writes(sikka)
    assert request.method == "POST"
    assert request.url.path == "/v4/appointment"
    assert body_of(request) == {**BOOK_BODY, "date": day, "time": at, "note": handle.id}
    assert handle == Writeback(
        id=handle.id,
        kind=WritebackKind.BOOK_APPOINTMENT,
        practice_id="1",
        submitted_at=clock.now(),
        deadline=start,
        appointment_id=None,
        writeback_id="275495",
        acknowledged=True,
    )
    assert handle.id.startswith("PMSC")
    assert handle.deadline == start
    assert handle.kind is WritebackKind.BOOK_APPOINTMENT


async def test_book_reads_the_slot_with_its_checks_and_sends_last(sikka, office, pms):
    sikka.route("POST", "appointment").mock(return_value=write_answer("275495"))

    await pms.appointments.book(booking())

    paths = [c.request.url.path for c in sikka.router.calls]
    assert paths.index("/v4/appointment") == len(paths) - 1
    [slot_read] = [c.request for c in sikka.router.calls if c.request.url.path == "/v4/appointments"]
    params = slot_read.url.params
    assert params["practice_id"] == "1"
    assert params["startdate"] == "2026-12-02"  # the day before: an appointment running over midnight
    assert params["enddate"] == "2026-12-03"
    assert "appointment_sr_no" not in params


@pytest.mark.parametrize(
    ("length", "reason", "description"),
    [
        (timedelta(minutes=90), "Cleaning", "Cleaning"),
        (timedelta(minutes=10), "Pt's 6-mo. recall, x-rays/BWX", "Pt s 6-mo. recall, x-rays/BWX"),
        (timedelta(hours=2), "<script>alert(1)</script>", "script alert 1 /script"),
        (timedelta(minutes=30), None, "Appointment"),
        (timedelta(minutes=30), "&&&", "Appointment"),
        (timedelta(minutes=30), "Émergence — dolor", "mergence dolor"),
        (timedelta(minutes=30), "x" * 80, "x" * 60),
    ],
)
async def test_book_length_in_minutes_and_description_without_special_characters(
    sikka, office, pms, length, reason, description
):
    sikka.route("POST", "appointment").mock(return_value=write_answer("275495"))

    await pms.appointments.book(booking(duration=length, reason=reason))

    body = body_of(writes(sikka)[0])
    assert body["length"] == str(int(length.total_seconds() // 60))
    assert body["description"] == description


async def test_book_without_an_operatory_takes_the_first_free_one(sikka, office, pms):
    # Another provider's appointment holds OP1 at that time; OP3 is hidden.
    office.operatories = [operatory_row("OP3", hidden="T"), operatory_row("OP1"), operatory_row("OP2")]
    office.busy = [appointment_row("900", "2026-12-03", "10:00", "60", provider_id="DMD2", operatory="OP1")]
    sikka.route("POST", "appointment").mock(return_value=write_answer("275495"))

    await pms.appointments.book(booking(operatory=None))

    assert body_of(writes(sikka)[0])["operatory"] == "OP2"


async def test_a_cancelled_appointment_does_not_block_the_slot(sikka, office, pms):
    office.busy = [appointment_row("900", "2026-12-03", "10:30", "60", cancelled="True")]
    sikka.route("POST", "appointment").mock(return_value=write_answer("275495"))

    handle = await pms.appointments.book(booking())

    assert handle.writeback_id == "275495"
    assert body_of(writes(sikka)[0])["operatory"] == "OP1"


async def test_a_pending_booking_holds_its_slot_in_this_process(sikka, office, pms):
    """The PMS still shows the slot free while the first booking is queued: the second is refused here."""
    sikka.route("POST", "appointment").mock(side_effect=[write_answer("275495"), write_answer("275496")])

    first = await pms.appointments.book(booking())
    with pytest.raises(SlotUnavailableError):
        await pms.appointments.book(booking(patient_id="80", operatory="OP2", start=START + timedelta(minutes=15)))
    with pytest.raises(SlotUnavailableError):  # another provider, the same operatory
        await pms.appointments.book(booking(provider_id="DMD2", start=START + timedelta(minutes=30)))
    other = await pms.appointments.book(booking(provider_id="DMD2", operatory="OP2"))

    assert first.writeback_id == "275495"
    assert other.writeback_id == "275496"
    assert len(sent(sikka, "POST", "appointment")) == 2


async def test_concurrent_bookings_of_one_slot_send_one_write(sikka, office, pms):
    sikka.route("POST", "appointment").mock(side_effect=[write_answer("275495"), write_answer("275496")])

    outcomes = await asyncio.gather(
        pms.appointments.book(booking()),
        pms.appointments.book(booking(patient_id="80", operatory="OP2")),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["SlotUnavailableError", "Writeback"]
    assert len(sent(sikka, "POST", "appointment")) == 1


# -- reschedule ----------------------------------------------------------------------------------------------


async def test_reschedule_sends_put_with_the_new_time(sikka, office, pms, clock):
    # The appointment is itself in the re-check answer (its old time overlaps the new one): not a clash.
    office.busy = [office.appointments["374"]]
    route = sikka.route("PUT", "appointments/374").mock(return_value=write_answer("159357", status=200))
    new_start = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 10:00 in Chicago

    handle = await pms.appointments.reschedule("374", start=new_start, duration=timedelta(minutes=30))

    assert route.call_count == 1
    [request] = writes(sikka)
    assert (request.method, request.url.path) == ("PUT", "/v4/appointments/374")
    assert body_of(request) == {
        "practice_id": "1",
        "date": "2026-12-03",
        "time": "10:00",
        "length": "30",
        "operatory": "OP1",
        "provider_id": "DMD1",
    }
    assert handle == Writeback(
        id=handle.id,
        kind=WritebackKind.RESCHEDULE_APPOINTMENT,
        practice_id="1",
        submitted_at=clock.now(),
        deadline=new_start,
        appointment_id="374",
        writeback_id="159357",
    )


async def test_reschedule_keeps_what_is_not_changed(sikka, office, pms):
    sikka.route("PUT", "appointments/374").mock(return_value=write_answer("159357", status=200))

    handle = await pms.appointments.reschedule("374", provider_id="DMD2", operatory="OP2")

    assert body_of(writes(sikka)[0]) == {
        "practice_id": "1",
        "date": "2026-12-03",
        "time": "10:30",
        "length": "60",
        "operatory": "OP2",
        "provider_id": "DMD2",
    }
    assert handle.deadline == datetime(2026, 12, 3, 10, 30, tzinfo=CHICAGO)


async def test_reschedule_into_a_taken_slot_sends_nothing(sikka, office, pms):
    office.busy = [appointment_row("900", "2026-12-04", "09:00", "60", provider_id="DMD1", operatory="OP2")]
    sikka.route("PUT", "appointments/374").mock(return_value=write_answer("159357", status=200))

    with pytest.raises(SlotUnavailableError):
        await pms.appointments.reschedule("374", start=datetime(2026, 12, 4, 9, 30, tzinfo=CHICAGO))

    assert writes(sikka) == []


# -- cancel / confirm ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "cancel_value", "confirm_value"),
    [
        (["open.unconfirm", "Unconfirmed", "Confirmed", "Cancelled"], "Cancelled", "Confirmed"),
        (["Scheduled", "Left Msg", "Pt Confirmed", "Broken"], "Broken", "Pt Confirmed"),
        (["unconfirmed", "Confirmed by text", "Cancel - Pt"], "Cancel - Pt", "Confirmed by text"),
    ],
)
async def test_cancel_and_confirm_send_the_practices_own_status(
    sikka, office, pms, statuses, cancel_value, confirm_value
):
    office.statuses = statuses
    route = sikka.route("PATCH", "appointments/374").mock(
        side_effect=[write_answer("252550", status=200), write_answer("252551", status=200)]
    )

    cancelled = await pms.appointments.cancel("374")
    confirmed = await pms.appointments.confirm("374")

    assert route.call_count == 2
    bodies = [body_of(r) for r in writes(sikka)]
    assert all(r.url.path == "/v4/appointments/374" for r in writes(sikka))
    base = {"op": "replace", "path": "/appointment_status", "practice_id": "1", "appointment_sr_no": "374"}
    assert bodies == [{**base, "value": cancel_value}, {**base, "value": confirm_value}]
    assert (cancelled.writeback_id, confirmed.writeback_id) == ("252550", "252551")
    for handle in (cancelled, confirmed):
        assert handle.kind is WritebackKind.CHANGE_APPOINTMENT_STATUS
        assert handle.appointment_id == "374"
        assert handle.deadline is None
    [variables] = sent(sikka, "GET", "practice_variables")
    assert dict(variables.url.params) == {
        "practice_id": "1",
        "service_name": "Appointment Status",
        "offset": "0",
        "limit": "500",
    }


@pytest.mark.parametrize(
    ("pms_name", "note"), [("Planet DDS", {"cancellation_note": "Pt sick flu"}), ("Dentrix", {})]
)
async def test_a_cancellation_note_is_sent_only_where_the_pms_has_the_field(sikka, office, pms, pms_name, note):
    """writeback.txt: ``cancellation_note`` "is available only for Planet DDS WebV3.0"."""
    office.pms_name = pms_name
    office.supported = [supported_row(pms_name)]
    sikka.route("PATCH", "appointments/374").mock(return_value=write_answer("252550", status=200))

    await pms.appointments.cancel("374", reason="Pt sick (flu)!")

    assert body_of(writes(sikka)[0]) == {
        "op": "replace",
        "path": "/appointment_status",
        "value": "Cancelled",
        "practice_id": "1",
        "appointment_sr_no": "374",
        **note,
    }


async def test_a_status_change_sikka_did_not_log_api0008_is_a_refusal_not_a_lost_answer(sikka, office, pms):
    """gs.txt: API0008 "Appointment status not logged", answered with HTTP 200."""
    body = {"http_code": "200", "http_code_desc": "OK", "error_code": "API0008", "short_message": "not logged"}
    sikka.route("PATCH", "appointments/374").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(BadRequestError) as caught:
        await pms.appointments.cancel("374")

    assert caught.value.code == "API0008"
    assert await pms.store.journal.open_entries() == []
    assert sent(sikka, "GET", "writebacks") == []


async def test_a_practice_without_a_confirm_status_cannot_confirm(sikka, office, pms):
    office.statuses = ["open.unconfirm", "Unconfirmed", "Cancelled"]

    with pytest.raises(UnsupportedOperationError):
        await pms.appointments.confirm("374")

    assert writes(sikka) == []


# -- patients.create -------------------------------------------------------------------------------------------


async def test_create_patient_sends_every_field(sikka, office, pms, clock):
    sikka.route("POST", "patient").mock(return_value=write_answer("490481"))
    new = NewPatient(
        first_name=" Ada ",
        last_name="Lovelace ",
        birthdate=date(1990, 5, 17),
        cell_phone="312-555-0199",
        email="ada@example.com",
        provider_id="DMD2",
    )

    handle = await pms.patients.create(new)

    [request] = writes(sikka)
    assert (request.method, request.url.path) == ("POST", "/v4/patient")
    assert body_of(request) == {
        "firstname": "Ada",
        "lastname": "Lovelace",
        "provider_id": "DMD2",
        "practice_id": "1",
        "birthdate": "1990-05-17",
        "cell": "312-555-0199",
        "email": "ada@example.com",
    }
    assert handle == Writeback(
        id=handle.id,
        kind=WritebackKind.CREATE_PATIENT,
        practice_id="1",
        submitted_at=clock.now(),
        writeback_id="490481",
    )


async def test_create_patient_defaults_to_the_first_active_dentist_and_omits_blank_fields(sikka, office, pms):
    sikka.route("POST", "patient").mock(return_value=write_answer("490481"))

    await pms.patients.create(NewPatient(first_name="Ada", last_name="Lovelace"))

    assert body_of(writes(sikka)[0]) == {
        "firstname": "Ada",
        "lastname": "Lovelace",
        "provider_id": "DMD1",  # HYG1 is a hygienist, DMD0 inactive
        "practice_id": "1",
    }


# -- payments.post ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Decimal("25"), "-25.00"),
        (Decimal("25.5"), "-25.50"),
        (Decimal("1234.56"), "-1234.56"),
        (Decimal("0.01"), "-0.01"),
    ],
)
async def test_post_payment_sends_the_transaction(sikka, office, pms, clock, amount, wire):
    sikka.route("POST", "transaction").mock(return_value=write_answer("512000"))

    handle = await pms.payments.post(payment(amount=amount))

    [request] = writes(sikka)
    assert (request.method, request.url.path) == ("POST", "/v4/transaction")
    assert body_of(request) == {
        "patient_id": "79",
        "guarantor_id": "67",
        "provider_id": "DMD1",
        "procedure_code": "CC",
        "procedure_description": "Credit Card Payment",
        "amount": wire,
        "transaction_date": "2026-12-01",
        "practice_id": "1",
        "note": handle.id,  # the journal entry's marker: how the write is found if its answer is lost
    }
    assert handle == Writeback(
        id=handle.id,
        kind=WritebackKind.POST_PAYMENT,
        practice_id="1",
        submitted_at=clock.now(),
        writeback_id="512000",
    )


async def test_the_payment_sign_is_one_switch(sikka, office, make_provider):
    """Sikka's one documented POST transaction posts a cash payment as "-39.30": negative by default."""
    sikka.route("POST", "transaction").mock(return_value=write_answer("512000"))

    await make_provider(writes=SikkaWriteOptions(negative_payments=False)).payments.post(
        payment(amount=Decimal("39.30"))
    )

    assert body_of(writes(sikka)[0])["amount"] == "39.30"


async def test_post_payment_dates_by_the_practices_day_and_takes_overrides(sikka, office, pms, clock):
    clock.set(datetime(2026, 12, 2, 3, 30, tzinfo=UTC))  # 21:30 on the 1st in Chicago
    sikka.route("POST", "transaction").mock(return_value=write_answer("512000"))

    handle = await pms.payments.post(
        payment(
            amount=Decimal("80.10"), payment_type="CA", provider_id="DMD2", guarantor_id="67", note="Paid @ desk"
        )
    )

    assert body_of(writes(sikka)[0]) == {
        "patient_id": "79",
        "guarantor_id": "67",
        "provider_id": "DMD2",
        "procedure_code": "CA",
        "procedure_description": "Cash Payment",
        "amount": "-80.10",
        "transaction_date": "2026-12-01",
        "practice_id": "1",
        "note": f"Paid desk {handle.id}",
    }


async def test_a_patient_without_a_guarantor_is_their_own(sikka, office, pms):
    office.patients["79"] = patient_row("79", guarantor_id="")
    sikka.route("POST", "transaction").mock(return_value=write_answer("512000"))

    await pms.payments.post(payment(date=date(2026, 11, 28)))

    body = body_of(writes(sikka)[0])
    assert body["guarantor_id"] == "79"
    assert body["transaction_date"] == "2026-11-28"


# -- validation before any write -------------------------------------------------------------------------------


def no_booking(office: Office) -> None:
    office.supported = [supported_row(new_appointment_writeback=""), supported_row("Eaglesoft")]


def no_payments(office: Office) -> None:
    office.supported = [supported_row(payment_writeback="Not Available")]


def no_new_patients(office: Office) -> None:
    office.supported = [supported_row(new_patient_writeback="N")]


def other_pms(office: Office) -> None:
    office.pms_name = "Curve Hero"  # Sikka lists nothing for it


def slot_taken(office: Office) -> None:
    office.busy = [appointment_row("900", "2026-12-03", "10:00", "60", provider_id="DMD1", operatory="OP2")]


def operatory_taken(office: Office) -> None:
    office.busy = [appointment_row("900", "2026-12-03", "10:45", "30", provider_id="DMD2", operatory="OP1")]


def all_operatories_taken(office: Office) -> None:
    office.busy = [
        appointment_row("900", "2026-12-03", "10:00", "60", provider_id="DMD2", operatory="OP1"),
        appointment_row("901", "2026-12-03", "11:00", "30", provider_id="HYG1", operatory="OP2"),
    ]


def appointment_cancelled(office: Office) -> None:
    office.appointments["374"] = appointment_row("374", "2026-12-03", "10:30", "60", cancelled="True")


def appointment_in_the_past(office: Office) -> None:
    office.appointments["374"] = appointment_row("374", "2026-11-30", "10:30", "60")


def nothing(office: Office) -> None:
    pass


NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def book_with(**kw: Any) -> Callable[[SikkaProvider], Any]:
    return lambda p: p.appointments.book(booking(**kw))


def raw_book(**kw: Any) -> Callable[[SikkaProvider], Any]:
    """A booking built without the model's checks (as ``model_construct`` or a careless caller would)."""
    values: dict[str, Any] = {**booking().model_dump(), **kw}
    return lambda p: p.appointments.book(BookingRequest.model_construct(**values))


def raw_pay(**kw: Any) -> Callable[[SikkaProvider], Any]:
    values: dict[str, Any] = {**payment().model_dump(), **kw}
    return lambda p: p.payments.post(PaymentRequest.model_construct(**values))


def raw_create(**kw: Any) -> Callable[[SikkaProvider], Any]:
    values: dict[str, Any] = {**NewPatient(first_name="A", last_name="B").model_dump(), **kw}
    return lambda p: p.patients.create(NewPatient.model_construct(**values))


def reschedule_with(**kw: Any) -> Callable[[SikkaProvider], Any]:
    return lambda p: p.appointments.reschedule("374", **kw)


def pay_with(**kw: Any) -> Callable[[SikkaProvider], Any]:
    return lambda p: p.payments.post(payment(**kw))


def create_with(**kw: Any) -> Callable[[SikkaProvider], Any]:
    return lambda p: p.patients.create(NewPatient(first_name="A", last_name="B", **kw))


HALF_HOUR = timedelta(minutes=30)
E_ARG, E_SLOT, E_UNSUPPORTED = InvalidArgumentError, SlotUnavailableError, UnsupportedOperationError

# (case, setup, operation, error, whether reads may happen: False means refused from the arguments alone)
INVALID = [
    ("past start", nothing, book_with(start=NOW - timedelta(hours=1)), E_ARG, False),
    ("start is now", nothing, book_with(start=NOW), E_ARG, False),
    ("unknown provider", nothing, book_with(provider_id="DMD9"), E_ARG, True),
    ("inactive provider", nothing, book_with(provider_id="DMD0"), E_ARG, True),
    ("unknown patient", nothing, book_with(patient_id="404"), E_ARG, True),
    ("unknown operatory", nothing, book_with(operatory="OP9"), E_ARG, True),
    ("provider busy", slot_taken, book_with(), E_SLOT, True),
    ("operatory busy", operatory_taken, book_with(), E_SLOT, True),
    ("no operatory free", all_operatories_taken, book_with(operatory=None), E_SLOT, True),
    ("booking unsupported", no_booking, book_with(), E_UNSUPPORTED, True),
    ("PMS not listed", other_pms, book_with(), E_UNSUPPORTED, True),
    ("reschedule unsupported", no_booking, reschedule_with(duration=HALF_HOUR), E_UNSUPPORTED, True),
    ("reschedule nothing", nothing, reschedule_with(), E_ARG, False),
    ("reschedule naive start", nothing, reschedule_with(start=datetime(2026, 12, 4, 9, 0)), E_ARG, False),
    ("reschedule odd duration", nothing, reschedule_with(duration=timedelta(seconds=90)), E_ARG, False),
    ("reschedule into the past", nothing, reschedule_with(start=NOW - timedelta(days=1)), E_ARG, True),
    ("reschedule a past appointment", appointment_in_the_past, reschedule_with(duration=HALF_HOUR), E_ARG, True),
    ("reschedule a cancelled one", appointment_cancelled, reschedule_with(duration=HALF_HOUR), E_ARG, True),
    ("reschedule to unknown provider", nothing, reschedule_with(provider_id="DMD9"), E_ARG, True),
    ("zero payment", nothing, pay_with(amount=Decimal("0")), E_ARG, False),
    ("three decimals", nothing, pay_with(amount=Decimal("25.005")), E_ARG, False),
    ("payment dated tomorrow", nothing, pay_with(date=date(2026, 12, 2)), E_ARG, False),
    ("unknown payment type", nothing, pay_with(payment_type="ZZ"), E_ARG, True),
    ("payment for unknown patient", nothing, pay_with(patient_id="404"), E_ARG, True),
    ("payments unsupported", no_payments, pay_with(), E_UNSUPPORTED, True),
    ("patients unsupported", no_new_patients, create_with(), E_UNSUPPORTED, True),
    ("birthdate tomorrow", nothing, create_with(birthdate=date(2026, 12, 2)), E_ARG, False),
    ("new patient, unknown provider", nothing, create_with(provider_id="X"), E_ARG, True),
    # Ids are checked as given and sent as checked: never trimmed, never over-long, never control characters.
    ("patient id with spaces", nothing, book_with(patient_id=" 79"), E_ARG, False),
    ("provider id with a NUL", nothing, book_with(provider_id="DMD\x001"), E_ARG, False),
    ("a 100,000-character id", nothing, book_with(patient_id="7" * 100_000), E_ARG, False),
    ("operatory with a newline", nothing, book_with(operatory="OP1\n"), E_ARG, False),
    ("a lone surrogate in the reason", nothing, book_with(reason="pain \ud800"), E_ARG, False),
    ("a NUL in the reason", nothing, book_with(reason="pain\x00"), E_ARG, False),
    ("year 9999", nothing, book_with(start=datetime(9999, 12, 31, 10, 0, tzinfo=UTC)), E_ARG, False),
    ("four years ahead", nothing, book_with(start=datetime(2030, 12, 3, 10, 0, tzinfo=CHICAGO)), E_ARG, False),
    (
        "02:30 on spring-forward day",
        nothing,
        book_with(start=datetime(2027, 3, 14, 2, 30, tzinfo=CHICAGO)),
        E_ARG,
        False,
    ),
    (
        "01:30 on fall-back day",
        nothing,
        book_with(start=datetime(2027, 11, 7, 1, 30, tzinfo=CHICAGO)),
        E_ARG,
        False,
    ),
    (
        "01:30 fall-back, given in UTC",
        nothing,
        book_with(start=datetime(2027, 11, 7, 6, 30, tzinfo=UTC)),
        E_ARG,
        False,
    ),
    ("naive start", nothing, raw_book(start=datetime(2026, 12, 3, 10, 30)), E_ARG, False),
    ("13-hour appointment", nothing, book_with(duration=timedelta(hours=13)), E_ARG, False),
    ("negative duration", nothing, raw_book(duration=timedelta(minutes=-30)), E_ARG, False),
    ("start that is not a datetime", nothing, raw_book(start="tomorrow"), E_ARG, False),
    (
        "reschedule an id with spaces",
        nothing,
        lambda p: p.appointments.reschedule("374 ", duration=HALF_HOUR),
        E_ARG,
        False,
    ),
    ("cancel an over-long id", nothing, lambda p: p.appointments.cancel("3" * 65), E_ARG, False),
    ("confirm a non-string id", nothing, lambda p: p.appointments.confirm(374), E_ARG, False),
    ("amount 1E+26", nothing, raw_pay(amount=Decimal("1E+26")), E_ARG, False),
    ("amount NaN", nothing, raw_pay(amount=Decimal("NaN")), E_ARG, False),
    ("negative amount", nothing, raw_pay(amount=Decimal("-5")), E_ARG, False),
    ("amount above the cap", nothing, pay_with(amount=Decimal("1000000")), E_ARG, False),
    ("payment dated two years ago", nothing, pay_with(date=date(2024, 11, 30)), E_ARG, False),
    ("payment by an unknown provider", nothing, pay_with(provider_id="DMD9"), E_ARG, True),
    ("payment for another guarantor", nothing, pay_with(guarantor_id="12"), E_ARG, True),
    ("blank first name", nothing, raw_create(first_name="   "), E_ARG, False),
    ("last name with a control character", nothing, raw_create(last_name="B\x07"), E_ARG, False),
    ("invalid phone", nothing, create_with(cell_phone="12345"), E_ARG, False),
    ("phone in no number range", nothing, create_with(cell_phone="+1 000 000 0000"), E_ARG, False),
    ("phone of letters", nothing, create_with(cell_phone="call me"), E_ARG, False),
    ("invalid email", nothing, create_with(email="ada@"), E_ARG, False),
    ("born in 1850", nothing, create_with(birthdate=date(1850, 1, 1)), E_ARG, False),
]


@pytest.mark.parametrize(
    ("setup", "operation", "error", "reads"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
async def test_invalid_writes_are_refused_before_anything_is_written(
    sikka, office, pms, setup, operation, error, reads
):
    setup(office)
    for method, path in [
        ("POST", "appointment"),
        ("PUT", "appointments/374"),
        ("PATCH", "appointments/374"),
        ("POST", "patient"),
        ("POST", "transaction"),
    ]:
        sikka.route(method, path).mock(return_value=write_answer("999999"))

    with pytest.raises(error):
        await operation(pms)

    assert writes(sikka) == []
    if not reads:
        assert sikka.router.calls.call_count == 0, "refused from the arguments alone, before any request"


async def test_unsupported_booking_is_decided_from_the_practices_pms(sikka, office, pms):
    no_booking(office)

    with pytest.raises(UnsupportedOperationError, match="Dentrix"):
        await pms.appointments.book(booking())

    [request] = sent(sikka, "GET", "supported_pmses")
    assert request.url.params["practice_management_system"] == "Dentrix"
    assert request.headers["App-Id"] == "app-1"
    assert request.headers["App-Key"] == "app-key-1"


# -- never a blind retry ---------------------------------------------------------------------------------------


def assert_writebacks_lookup(request: httpx.Request) -> None:
    """The reconciliation read: app-level, a window around the write, never the request key."""
    assert request.headers["App-Id"] == "app-1"
    assert request.headers["App-Key"] == "app-key-1"
    assert "Request-Key" not in request.headers
    start, end = (
        date.fromisoformat(request.url.params["startdate"]),
        date.fromisoformat(request.url.params["enddate"]),
    )
    assert start <= date(2026, 11, 30)
    assert end >= date(2026, 12, 2)
    assert timedelta(0) <= end - start <= timedelta(days=7)


AMBIGUOUS = [
    ("read timeout", httpx.ReadTimeout("timed out")),
    ("write timeout", httpx.WriteTimeout("timed out")),
    ("connection dropped", httpx.RemoteProtocolError("peer closed connection")),
    ("500", httpx.Response(500, json={"http_code": "500", "error_code": "API2001", "long_message": ""})),
    ("503", httpx.Response(503, json={"http_code": "503", "error_code": "API2002", "long_message": ""})),
    ("504 without a body", httpx.Response(504)),
    (
        "201 without an id",
        httpx.Response(201, json={"http_code": "201", "error_code": "API2016", "long_message": ""}),
    ),
    ("200 that is not JSON", httpx.Response(200, text="<html>proxy</html>")),
]


def logged_booking(
    handle: Writeback, writeback_id: str, *, result: str = "success", **over: Any
) -> dict[str, str]:
    """The log row of ``handle``'s booking as Sikka lists it: BOOK_BODY with the handle's marker in ``note``."""
    row = book_logged(writeback_id, fields={"note": handle.id, **over.pop("fields", {})}, **over)
    row["result"] = result
    return row


def created(writeback_id: str, created_id: str) -> dict[str, str]:
    """A ``writeback_status`` row of a completed create, with the id of what it created."""
    return {
        "id": writeback_id,
        "status": "Completed",
        "is_completed": "true",
        "has_error": "false",
        "result": "Success",
        "created_id": created_id,
        "completed_time": "2026-12-01T08:01:30",
    }


@pytest.mark.parametrize("failure", [a[1] for a in AMBIGUOUS], ids=[a[0] for a in AMBIGUOUS])
async def test_an_ambiguous_failure_returns_an_unacknowledged_handle_and_sends_nothing_more(
    sikka, office, pms, failure
):
    post = sikka.route("POST", "appointment").mock(side_effect=[failure, write_answer("999999")])

    handle = await pms.appointments.book(booking())

    assert handle.acknowledged is False
    assert handle.writeback_id is None
    assert handle.deadline == START
    assert post.call_count == 1
    stored = await pms.store.journal.get(handle.id)
    assert stored is not None
    assert stored.state is JournalState.SENT
    assert stored.body == {**BOOK_BODY, "note": handle.id}
    # The write may be in the PMS: its slot stays claimed for everyone.
    with pytest.raises(SlotUnavailableError):
        await pms.appointments.book(booking(patient_id="80", operatory="OP2"))
    assert post.call_count == 1


async def test_the_intent_is_journaled_before_the_request_leaves(sikka, office, pms):
    seen: list[JournalEntry | None] = []

    async def at_send(request: httpx.Request) -> httpx.Response:
        note = json.loads(request.content)["note"]
        seen.append(await pms.store.journal.get(note))
        return write_answer("275495")

    sikka.route("POST", "appointment").mock(side_effect=at_send)

    handle = await pms.appointments.book(booking())

    [entry] = seen
    assert entry is not None
    assert entry.id == handle.id
    assert entry.state is JournalState.PREPARED
    assert entry.body == {**BOOK_BODY, "note": handle.id}
    assert entry.slot is not None
    assert (entry.slot.provider_id, entry.slot.operatory) == ("DMD1", "OP1")
    after = await pms.store.journal.get(handle.id)
    assert after is not None
    assert (after.state, after.writeback_id) == (JournalState.ACKNOWLEDGED, "275495")


@pytest.mark.parametrize(
    "delay", [timedelta(0), timedelta(seconds=2), timedelta(seconds=30), timedelta(minutes=4)]
)
async def test_a_lost_booking_is_found_in_the_log_by_its_marker_and_ends_written(sikka, office, pms, clock, delay):
    sikka.route("POST", "appointment").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.appointments.book(booking())
    # Other writes of the app are in the log too, among them the same booking sent by another client.
    office.logged = [book_logged("275400", fields={"note": "PMSCSOMEONEELSE00000"}, result="success")]
    office.status_rows["275495"] = created("275495", "90210")
    logged_at = clock.now() + delay

    def log_lookup(request: httpx.Request) -> httpx.Response:
        rows = list(office.logged)
        if clock.now() >= logged_at:
            rows.append(logged_booking(handle, "275495"))
        return FakeSikka.page(rows, api="writebacks")

    sikka.get("writebacks").mock(side_effect=log_lookup)

    result = await pms.writebacks.wait(handle)

    assert (result.status, result.writeback_id, result.created_id) == (WritebackState.WRITTEN, "275495", "90210")
    assert result.handle_id == handle.id
    assert len(sent(sikka, "POST", "appointment")) == 1
    assert_writebacks_lookup(sent(sikka, "GET", "writebacks")[0])


async def test_a_lost_write_never_logged_ends_not_applied_and_is_not_sent_again(sikka, office, pms, clock):
    post = sikka.route("POST", "appointment").mock(side_effect=[httpx.ReadTimeout("timed out"), write_answer("1")])
    handle = await pms.appointments.book(booking())
    sent_at = clock.now()

    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED
    assert "safe" in (result.message or "")
    assert clock.now() - sent_at == timedelta(minutes=10)  # the reconcile window, looked at to its very end
    assert post.call_count == 1
    assert len(sent(sikka, "GET", "writebacks")) > 10
    # Not applied: the slot is free again, and sending it again is the caller's decision.
    again = await pms.appointments.book(booking())
    assert again.writeback_id == "1"


async def test_a_logged_write_is_found_in_a_json_request_body_too(sikka, office, pms):
    sikka.route("POST", "appointment").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.appointments.book(booking())
    row = logged_booking(handle, "275495")
    row["api_request_body"] = json.dumps({**BOOK_BODY, "note": handle.id, "request_key": MASKED_KEY})
    office.logged = [row]
    office.status_rows["275495"] = created("275495", "90210")

    result = await pms.writebacks.wait(handle)

    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "90210")


async def test_a_logged_row_with_our_marker_but_another_field_is_never_adopted(sikka, office, pms):
    sikka.route("POST", "appointment").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.appointments.book(booking())
    office.logged = [logged_booking(handle, "275495", fields={"time": "11:30"})]

    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED


async def test_a_post_that_never_left_is_retried_by_the_pipeline(sikka, office, pms):
    post = sikka.route("POST", "appointment").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ConnectTimeout("no route"), write_answer("275495")]
    )

    handle = await pms.appointments.book(booking())

    assert handle.writeback_id == "275495"
    assert post.call_count == 3
    assert pms.client.pipeline.retries == 2
    first, *_, last = sent(sikka, "POST", "appointment")
    assert body_of(first) == body_of(last) == {**BOOK_BODY, "note": handle.id}


async def test_a_post_that_can_never_connect_is_not_applied_and_frees_its_slot(sikka, office, pms):
    post = sikka.route("POST", "appointment").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(PmsConnectionError) as caught:
        await pms.appointments.book(booking())

    assert caught.value.request_sent is False
    assert post.call_count == pms.client.pipeline.retry.max_attempts
    assert sent(sikka, "GET", "writebacks") == []
    [entry] = await pms.store.journal.slot_entries(pms.practice_key, settled_since=START - timedelta(days=9))
    assert entry.result is not None
    assert entry.result.status is WritebackState.NOT_APPLIED
    post.mock(side_effect=None, return_value=write_answer("275497"))
    assert (await pms.appointments.book(booking())).writeback_id == "275497"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (FakeSikka.error("API2017", 412), PreconditionFailedError),
        (FakeSikka.error("API2019", 422), BadRequestError),
        (FakeSikka.error("API2009", 404), PmsStatusError),
    ],
    ids=["utility offline", "unprocessable", "not found"],
)
async def test_a_definite_refusal_is_raised_journaled_and_frees_the_slot(sikka, office, pms, answer, error):
    post = sikka.route("POST", "appointment").mock(side_effect=[answer, write_answer("999999")])

    with pytest.raises(error):
        await pms.appointments.book(booking())

    assert post.call_count == 1
    assert sent(sikka, "GET", "writebacks") == []
    assert await pms.store.journal.open_entries() == []
    assert (await pms.appointments.book(booking())).writeback_id == "999999"


async def test_server_error_on_a_write_is_not_retried_by_the_pipeline(sikka, office, pms):
    post = sikka.route("POST", "appointment").mock(
        side_effect=[FakeSikka.error("API2001", 500), FakeSikka.error("API2001", 500), write_answer("1")]
    )

    handle = await pms.appointments.book(booking())

    assert handle.acknowledged is False
    assert post.call_count == 1
    assert pms.client.pipeline.retries == 0


PATIENT_FIELDS = {
    "firstname": "Maria",
    "lastname": "Garcia",
    "provider_id": "DMD1",
    "practice_id": "1",
    "birthdate": "1990-05-17",
    "cell": "312-555-0199",
    "email": "maria@example.com",
}


def maria(**over: Any) -> NewPatient:
    values: dict[str, Any] = {
        "first_name": "Maria",
        "last_name": "Garcia",
        "birthdate": date(1990, 5, 17),
        "cell_phone": "312-555-0199",
        "email": "maria@example.com",
    }
    values.update(over)
    return NewPatient.model_validate(values)


@pytest.mark.parametrize(
    ("case", "fields", "command_time", "adopted"),
    [
        ("every field, logged after sending", PATIENT_FIELDS, "2026-12-01T14:00:04", True),
        ("within the clock-skew allowance", PATIENT_FIELDS, "2026-12-01T13:58:30", True),
        (
            "another Maria Garcia (phone and email)",
            {**PATIENT_FIELDS, "cell": "312-555-0100", "email": "m@x.org"},
            "2026-12-01T14:00:04",
            False,
        ),
        (
            "a field missing from the row",
            {k: v for k, v in PATIENT_FIELDS.items() if k != "email"},
            "2026-12-01T14:00:04",
            False,
        ),
        ("logged before this write was sent", PATIENT_FIELDS, "2026-12-01T13:50:00", False),
        ("logged hours before (another reading of the zone)", PATIENT_FIELDS, "2026-12-01T08:00:04", False),
        ("no command time", PATIENT_FIELDS, "", False),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else None,
)
async def test_a_new_patient_is_adopted_only_when_every_field_sent_matches(
    sikka, office, pms, case, fields, command_time, adopted
):
    sikka.route("POST", "patient").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.patients.create(maria())
    row = logged_row("600100", "POST", "patients", fields, command_time=command_time)
    row["result"] = "success"
    office.logged = [row]
    office.status_rows["600100"] = created("600100", "5555")

    result = await pms.writebacks.wait(handle)

    if adopted:
        assert (result.status, result.created_id) == (WritebackState.WRITTEN, "5555"), case
    else:
        assert result.status is WritebackState.NOT_APPLIED, case
        assert result.created_id is None


PAYMENT_FIELDS = {
    "patient_id": "79",
    "guarantor_id": "67",
    "provider_id": "DMD1",
    "procedure_code": "CC",
    "procedure_description": "Credit Card Payment",
    "amount": "-50.00",
    "transaction_date": "2026-12-01",
    "practice_id": "1",
}


@pytest.mark.parametrize("gap", ["2026-12-01T13:59:00", "2026-12-01T12:00:00", "2026-12-01T08:10:00"])
async def test_a_second_identical_payment_is_never_taken_for_the_first(sikka, office, pms, gap):
    """The first $50 payment is in the log (1 min, 2 h or 5 h 50 min earlier); the second one's request got a
    5xx before reaching the PMS. Same fields, another marker: the second ends not_applied, never written."""
    first = logged_row(
        "600001", "POST", "transaction", {**PAYMENT_FIELDS, "note": "PMSCFIRSTPAYMENT0000"}, command_time=gap
    )
    first["result"] = "success"
    office.logged = [first]
    office.status_rows["600001"] = created("600001", "T1")
    post = sikka.route("POST", "transaction").mock(side_effect=[FakeSikka.error("API2001", 500)])

    handle = await pms.payments.post(payment(amount=Decimal("50")))
    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED
    assert result.writeback_id is None
    assert post.call_count == 1


async def test_a_logged_payment_with_our_marker_is_ours(sikka, office, pms):
    sikka.route("POST", "transaction").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.payments.post(payment(amount=Decimal("50")))
    row = logged_row("600100", "POST", "transaction", {**PAYMENT_FIELDS, "note": handle.id}, command_time="")
    row["result"] = "success"
    office.logged = [row]
    office.status_rows["600100"] = created("600100", "T9")

    result = await pms.writebacks.wait(handle)

    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "T9")


STATUS_BODY = {
    "op": "replace",
    "path": "/appointment_status",
    "value": "Cancelled",
    "practice_id": "1",
    "appointment_sr_no": "374",
}
RESCHEDULE_BODY = {
    "practice_id": "1",
    "date": "2026-12-04",
    "time": "09:00",
    "length": "60",
    "operatory": "OP1",
    "provider_id": "DMD1",
}


@pytest.mark.parametrize(
    ("method", "operation", "fields"),
    [
        ("PATCH", lambda p: p.appointments.cancel("374"), STATUS_BODY),
        (
            "PUT",
            lambda p: p.appointments.reschedule("374", start=datetime(2026, 12, 4, 9, 0, tzinfo=CHICAGO)),
            RESCHEDULE_BODY,
        ),
    ],
    ids=["cancel", "reschedule"],
)
async def test_a_lost_update_is_found_with_sikkas_api_name(sikka, office, pms, method, operation, fields):
    route = sikka.route(method, "appointments/374").mock(
        side_effect=[httpx.ReadTimeout("timed out"), write_answer("999999", status=200)]
    )
    handle = await operation(pms)
    row = logged_row("252550", method, "appointment", fields, apiname=f"{method} appointments", target_id="374")
    row["result"] = "success"
    office.logged = [row]

    result = await pms.writebacks.wait(handle)

    assert route.call_count == 1, "the logged write was sent a second time"
    assert (result.status, result.writeback_id, result.created_id) == (WritebackState.WRITTEN, "252550", "374")


async def test_an_earlier_reschedule_to_the_same_time_is_not_taken_for_this_one(sikka, office, pms):
    """374 was moved to 09:00 an hour ago (logged), then elsewhere; moving it back to 09:00 now gets a 5xx
    before reaching the PMS. The old row has the same fields, but was logged before this write was sent."""
    earlier = logged_row(
        "252001",
        "PUT",
        "appointment",
        RESCHEDULE_BODY,
        apiname="PUT appointments",
        target_id="374",
        command_time="2026-12-01T13:00:00",
    )
    earlier["result"] = "success"
    office.logged = [earlier]
    sikka.route("PUT", "appointments/374").mock(side_effect=[FakeSikka.error("API2001", 500)])

    handle = await pms.appointments.reschedule("374", start=datetime(2026, 12, 4, 9, 0, tzinfo=CHICAGO))
    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED


async def test_a_log_row_another_write_already_holds_is_not_adopted(sikka, office, pms):
    """Two identical cancels: the first was acknowledged as 252550; the second's answer was lost and the log
    shows only the first's row. It is the first's, so the second ends not_applied."""
    route = sikka.route("PATCH", "appointments/374").mock(
        side_effect=[write_answer("252550", status=200), httpx.ReadTimeout("timed out")]
    )
    first = await pms.appointments.cancel("374")
    second = await pms.appointments.cancel("374")
    row = logged_row("252550", "PATCH", "appointment", STATUS_BODY, apiname="PATCH appointments", target_id="374")
    office.logged = [row]

    result = await pms.writebacks.wait(second)

    assert first.writeback_id == "252550"
    assert result.status is WritebackState.NOT_APPLIED
    assert route.call_count == 2


@pytest.mark.parametrize("api_name", ["appointment", "appointments"])
async def test_a_logged_cancel_of_another_appointment_is_not_adopted(sikka, office, pms, api_name):
    other = {**STATUS_BODY, "appointment_sr_no": "900"}
    office.logged = [logged_row("252549", "PATCH", api_name, other, apiname="PATCH appointments", target_id="900")]
    sikka.route("PATCH", "appointments/374").mock(side_effect=[httpx.ReadTimeout("timed out")])

    handle = await pms.appointments.cancel("374")
    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED


async def test_another_offices_write_is_not_adopted(sikka, office, pms):
    sikka.route("POST", "transaction").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.payments.post(payment())
    fields = {**PAYMENT_FIELDS, "amount": "-25.00", "note": handle.id}
    office.logged = [logged_row("600001", "POST", "transaction", fields, office_id="D99999")]

    result = await pms.writebacks.wait(handle)

    assert result.status is WritebackState.NOT_APPLIED
