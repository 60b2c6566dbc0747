"""Every Open Dental write on the wire, from the docs' own example requests and answers: the exact request, the
answer settling the handle at once, refusals, and an ambiguous failure that is read back, never re-sent.

The FakeClock starts at 2020-07-30 14:00 UTC (09:00 in Chicago, the practice's zone), the day before the
appointment examples' 2020-07-31; the payment examples run on a clock of their own day, 2021-07-05.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from pms_connect.errors import PermissionDeniedError, PmsConnectionError
from pms_connect.models import BookingRequest, NewPatient, PaymentRequest, Writeback, WritebackState
from pms_connect.opendental import OpenDentalProvider
from pms_connect.stores import JournalEntry, JournalState
from pms_connect.testing.clock import FakeClock

from .conftest import (
    APPOINTMENT_18,
    CONFIRMATIONS,
    OPERATORIES,
    PATIENT_48,
    PROVIDERS,
    SCHEDULES,
    FakeOpenDental,
    assert_od_request,
    preference,
)

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
RECONCILE_WINDOW = timedelta(minutes=5)

# -- Open Dental's example answers of the writes (the pages' samples, repaired where they are not JSON) --------

# Appointments POST (create): the page's answer lacks a comma after "IsHygiene": "false".
APPOINTMENT_CREATED = json.loads("""
{"AptNum": 3,"PatNum": 21,"AptStatus": "Scheduled","Pattern": "/XX/","Confirmed": 19,"confirmed": "Not Called",
"TimeLocked": "false","Op": 6,"Note": "","ProvNum": 3,"provAbbr": "DOC2","ProvHyg": 0,
"AptDateTime": "2020-07-31 09:00:00","NextAptNum": 0,"UnschedStatus": 0,"unschedStatus": "",
"IsNewPatient": "false","ProcDescript": "","ClinicNum": 0,"IsHygiene": "false","DateTStamp": "2020-07-26 07:43:29",
"DateTimeArrived": "0001-01-01 00:00:00","DateTimeSeated": "0001-01-01 00:00:00",
"DateTimeDismissed": "0001-01-01 00:00:00","InsPlan1": 3,"InsPlan2": 0,
"DateTimeAskedToArrive": "0001-01-01 00:00:00","colorOverride": "100,0,255","AppointmentTypeNum": 0,
"SecDateTEntry":"2020-07-04 09:12:05","Priority": "Normal","PatternSecondary": "////","ItemOrderPlanned": 0}
""")
APPOINTMENT_LOCATION = "https://api.opendental.com/api/v1/appointments/3"

# Patients POST (create): the page's answer, 201 with "location": .../patients/48.
PATIENT_CREATED = json.loads("""
{"PatNum": 48,"LName": "Smith","FName": "Jane","MiddleI": "","Preferred": "","PatStatus": "Patient",
"Gender": "Female","Position": "Single","Birthdate": "1976-05-24","SSN": "","Address": "125 Satin Heights",
"Address2": "","City": "San Jose","State": "CA","Zip": "97301","HmPhone": "(536)624-5871",
"WkPhone": "(536)987-4822","WirelessPhone": "","Guarantor": 48,"Email": "smithfam@yahoo.com","EstBalance": 0.0,
"PriProv": 1,"priProvAbbr": "DOC","SecProv": 0,"secProvAbbr": "","BillingType": "Standard Account",
"FamFinUrgNote": "CC on file expiring soon","ImageFolder": "SmithJane48","ChartNumber": "","MedicaidID": "",
"BalTotal": 0.0,"EmployerNum": 0,"DateFirstVisit": "0001-01-01","ClinicNum": 0,"clinicAbbr": "","Ward": "",
"PreferConfirmMethod": "HmPhone","PreferContactMethod": "None","PreferRecallMethod": "None","Language": "spa",
"AdmitDate": "0001-01-01","siteDesc": "","DateTStamp": "2021-10-20 09:05:48","SuperFamily": 0,
"TxtMsgOk": "Unknown","SecDateEntry":"2020-12-04"}
""")
PATIENT_LOCATION = "https://api.opendental.com/api/v1/patients/48"

# Payments POST: the page's answer (201, no location header in the example).
PAYMENT_CREATED = json.loads("""
{"PayNum": 56734,"PayType": 383,"payType": "Check","PayDate": "2021-07-05","PayAmt": "129.99","CheckNum": "2058",
"BankBranch": "19-7076","PayNote": "Check payment through website","PatNum": 1568,"ClinicNum": "3",
"DateEntry": "2021-07-05","DepositNum": 0,"Receipt": "","IsRecurringCC": "true","SecUserNumEntry": 0,
"SecDateTEdit": "2021-07-05 07:34:31","PaymentSource": "API","ProcessStatus": "OfficeProcessed",
"RecurringChargeDate": "0001-01-01","IsCcCompleted": "false","serverDateTime": ""}
""")

# Definitions GET ?Category=10 (the page's row shape): the payment types; 383 is the answer's "Check".
PAYMENT_TYPES = [
    {"DefNum": 383, "ItemName": "Check", "ItemValue": "", "Category": 10, "category": "PaymentTypes",
     "isHidden": "false"},
    {"DefNum": 384, "ItemName": "Cash", "ItemValue": "", "Category": 10, "category": "PaymentTypes",
     "isHidden": "false"},
]  # fmt: skip

DOC2 = {**PROVIDERS[0], "ProvNum": 3, "Abbr": "DOC2", "FName": "Sarah", "LName": "Lexington"}
CHAIRS = [
    *OPERATORIES,
    {**OPERATORIES[1], "OperatoryNum": 3, "OpName": "Dr. Brian Albert 2", "Abbrev": "OP-3", "ItemOrder": 2},
    {**OPERATORIES[1], "OperatoryNum": 6, "OpName": "Dr. Sarah Lexington 2", "Abbrev": "OP-6", "ItemOrder": 3},
]
# The Schedules page's Provider row, moved to the appointment examples' day: DOC2 works 08:00-17:00 in chair 6.
DOC2_IN_CHAIR_6 = {
    **SCHEDULES[2],
    "ScheduleNum": "30001",
    "SchedDate": "2020-07-31",
    "StartTime": "08:00:00",
    "StopTime": "17:00:00",
    "operatories": "6",
}

APPOINTMENT_DAY = datetime(2020, 7, 31, 9, 0, tzinfo=CHICAGO)  # the example's "2020-07-31 09:00:00"
PAYMENT_CLOCK = datetime(2021, 7, 5, 14, 0, tzinfo=UTC)  # 09:00 on the payment example's PayDate


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2020, 7, 30, 14, 0, tzinfo=UTC))


@dataclass
class Office:
    """The reads every write makes first, answered with the docs' example rows."""

    od: FakeOpenDental
    book: list[dict[str, Any]]
    """What ``GET /appointments`` (a list) answers: the book, and the read-back of a lost booking."""
    appointment: dict[str, Any]
    """What ``GET /appointments/18`` answers."""
    payments: list[dict[str, Any]]
    patients_changed: list[dict[str, Any]]
    confirmations: list[dict[str, Any]]
    """What ``GET /definitions?Category=2`` answers (any other category: the payment types)."""

    def definitions(self, request: httpx.Request) -> httpx.Response:
        category = request.url.params.get("Category")
        return httpx.Response(200, json=self.confirmations if category == "2" else PAYMENT_TYPES)


@pytest.fixture
def office(od: FakeOpenDental) -> Office:
    office = Office(
        od=od,
        book=[APPOINTMENT_18],
        appointment=dict(APPOINTMENT_18),
        payments=[],
        patients_changed=[],
        confirmations=CONFIRMATIONS,
    )
    od.get("preferences").mock(side_effect=od.answer(preference("PracticeTitle", "Cedar Mountain Dental")))
    od.get("providers").mock(side_effect=od.answer([*PROVIDERS, DOC2]))
    od.get("operatories").mock(side_effect=od.answer(CHAIRS))
    od.get("schedules").mock(side_effect=od.answer([DOC2_IN_CHAIR_6]))
    od.get("definitions").mock(side_effect=office.definitions)
    od.get("patients/21").mock(side_effect=od.answer({**PATIENT_48, "PatNum": 21, "Guarantor": 21}))
    od.get("patients/1568").mock(side_effect=od.answer({**PATIENT_48, "PatNum": 1568, "Guarantor": 1568}))
    od.get("appointments").mock(side_effect=lambda request: httpx.Response(200, json=office.book))
    od.get("appointments/18").mock(side_effect=lambda request: httpx.Response(200, json=office.appointment))
    od.get("payments").mock(side_effect=lambda request: httpx.Response(200, json=office.payments))
    od.get("patients/Simple").mock(side_effect=lambda request: httpx.Response(200, json=office.patients_changed))
    return office


@pytest.fixture
def pms(make_provider: Callable[..., OpenDentalProvider]) -> OpenDentalProvider:
    return make_provider()


@pytest.fixture
def payer(make_provider: Callable[..., OpenDentalProvider]) -> OpenDentalProvider:
    """A provider on the payment example's day."""
    return make_provider(clock=FakeClock(PAYMENT_CLOCK))


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def sent(route: respx.Route) -> list[httpx.Request]:
    return [call.request for call in route.calls]


def created(body: Any, location: str | None = None, status: int = 201) -> httpx.Response:
    headers = {"location": location} if location else {}
    return httpx.Response(status, json=body, headers=headers)


def journaled(pms: OpenDentalProvider) -> list[JournalEntry]:
    """Every entry the provider journals from now on, as recorded (before it is sent)."""
    seen: list[JournalEntry] = []
    journal = pms.store.journal
    record = journal.record

    async def spy(entry: JournalEntry) -> None:
        seen.append(entry)
        await record(entry)

    journal.record = spy  # type: ignore[method-assign]
    return seen


def booking(**over: Any) -> BookingRequest:
    fields: dict[str, Any] = {
        "patient_id": "21",
        "provider_id": "3",
        "start": APPOINTMENT_DAY.astimezone(UTC),  # the wire's time is the practice's, whatever the zone given
        "duration": timedelta(minutes=20),
    }
    fields.update(over)
    return BookingRequest(**fields)


def new_patient(**over: Any) -> NewPatient:
    fields: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Smith",
        "birthdate": date(1976, 5, 24),
        "cell_phone": "(536)987-4822",
        "email": "smithfam@yahoo.com",
        "provider_id": "1",
    }
    fields.update(over)
    return NewPatient(**fields)


def payment(**over: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "patient_id": "1568",
        "amount": Decimal("129.99"),
        "payment_type": "383",
        "date": date(2021, 7, 5),
        "note": "Check payment through website",
    }
    fields.update(over)
    return PaymentRequest(**fields)


# -- the writes as Open Dental's examples send them -------------------------------------------------------------


async def test_book_posts_the_example_appointment_and_its_201_settles_it_at_once(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "appointments").mock(return_value=created(APPOINTMENT_CREATED, APPOINTMENT_LOCATION))

    handle = await pms.appointments.book(booking())

    [request] = sent(post)
    assert_od_request(request, "POST", "appointments", {})
    body = body_of(request)
    assert body == {
        "PatNum": 21,
        "Op": 6,  # the chair DOC2's schedule names for the visit, not the first free one (chair 1)
        "ProvNum": 3,
        "AptDateTime": "2020-07-31 09:00:00",  # Chicago's wall clock, from 14:00 UTC
        "Pattern": "XXXX",  # 20 minutes: one X per 5 minutes
        "Note": handle.id,  # the journal entry's marker
    }
    assert all(type(body[k]) is int for k in ("PatNum", "Op", "ProvNum"))
    assert (handle.acknowledged, handle.writeback_id, handle.deadline) == (True, "appointments:3", APPOINTMENT_DAY)
    calls = len(od.router.calls)
    result = await pms.writebacks.wait(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "3")
    assert len(od.router.calls) == calls, "written at once: nothing is polled"
    entry = await pms.store.journal.get(handle.id)
    assert entry is not None
    assert (entry.state, entry.marker, entry.writeback_id) == (JournalState.SETTLED, handle.id, "appointments:3")


async def test_a_booking_note_is_the_reason_with_the_marker_last(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "appointments").mock(return_value=created(APPOINTMENT_CREATED, APPOINTMENT_LOCATION))

    handle = await pms.appointments.book(booking(reason="Seal,\tSeal\r\n upper left", operatory="1"))

    body = body_of(sent(post)[0])
    assert body["Note"] == f"Seal, Seal upper left {handle.id}"
    assert body["Op"] == 1  # a chair asked for is the chair booked


async def test_a_201_naming_the_record_only_in_its_location_header_is_written(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    od.route("POST", "appointments").mock(
        return_value=httpx.Response(201, headers={"location": APPOINTMENT_LOCATION})
    )

    handle = await pms.appointments.book(booking())

    assert (await pms.writebacks.wait(handle)).created_id == "3"


async def test_a_201_that_names_no_record_is_read_back_not_sent_again(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "appointments").mock(return_value=httpx.Response(201, text="Created"))

    handle = await pms.appointments.book(booking())

    assert handle.acknowledged is False
    office.book = [APPOINTMENT_18, {**APPOINTMENT_CREATED, "Note": handle.id}]
    result = await pms.writebacks.wait(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "3")
    assert post.call_count == 1


async def test_reschedule_puts_the_new_time_length_provider_and_chair(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    moved = {**APPOINTMENT_18, "AptDateTime": "2020-07-31 10:00:00", "Pattern": "XXXXXXXX"}
    put = od.route("PUT", "appointments/18").mock(return_value=httpx.Response(200, json=moved))

    handle = await pms.appointments.reschedule("18", start=datetime(2020, 7, 31, 10, 0, tzinfo=CHICAGO))

    [request] = sent(put)
    assert_od_request(request, "PUT", "appointments/18", {})
    assert body_of(request) == {"AptDateTime": "2020-07-31 10:00:00", "Pattern": "XXXXXXXX", "ProvNum": 1, "Op": 3}
    assert handle.writeback_id == f"appointments:18:{handle.id}"
    result = await pms.writebacks.wait(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "18")


async def test_cancel_breaks_the_appointment_onto_the_unscheduled_list(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    put = od.route("PUT", "appointments/18/Break").mock(return_value=httpx.Response(200))  # a bare 200 OK

    handle = await pms.appointments.cancel("18", reason="Patient called")

    [request] = sent(put)
    assert_od_request(request, "PUT", "appointments/18/Break", {})
    assert body_of(request) == {"sendToUnscheduledList": "true"}  # the reason is not sent: Break takes none
    calls = len(od.router.calls)
    result = await pms.writebacks.wait(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "18")
    assert len(od.router.calls) == calls


async def test_confirm_sends_exactly_the_practices_confirmed_definition(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    put = od.route("PUT", "appointments/18/Confirm").mock(return_value=httpx.Response(200))

    handle = await pms.appointments.confirm("18")

    [request] = sent(put)
    assert_od_request(request, "PUT", "appointments/18/Confirm", {})
    body = body_of(request)
    assert body == {"defNum": 21}  # exactly one field: DefNum 21, "Confirmed" of Category 2
    assert type(body["defNum"]) is int
    assert (await pms.writebacks.wait(handle)).status is WritebackState.WRITTEN


async def test_confirm_never_sends_a_confirmation_the_office_hid(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    hidden = {**CONFIRMATIONS[1], "DefNum": 23, "ItemName": "Confirmed (old)", "isHidden": "true"}
    office.confirmations = [CONFIRMATIONS[0], hidden, *CONFIRMATIONS[1:]]
    put = od.route("PUT", "appointments/18/Confirm").mock(return_value=httpx.Response(200))

    await pms.appointments.confirm("18")

    assert body_of(sent(put)[0]) == {"defNum": 21}


async def test_create_patient_posts_the_example_patient(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "patients").mock(return_value=created(PATIENT_CREATED, PATIENT_LOCATION))

    handle = await pms.patients.create(new_patient())

    [request] = sent(post)
    assert_od_request(request, "POST", "patients", {})
    assert body_of(request) == {
        "LName": "Smith",
        "FName": "Jane",
        "Birthdate": "1976-05-24",
        "WirelessPhone": "(536)987-4822",
        "Email": "smithfam@yahoo.com",
        "PriProv": 1,
    }
    assert (handle.acknowledged, handle.writeback_id) == (True, "patients:48")
    assert (await pms.writebacks.wait(handle)).created_id == "48"


async def test_a_new_patient_without_a_provider_gets_the_first_active_dentist_and_no_blank_fields(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "patients").mock(return_value=created(PATIENT_CREATED, PATIENT_LOCATION))

    await pms.patients.create(NewPatient(first_name="Jane", last_name="Smith"))

    assert body_of(sent(post)[0]) == {"LName": "Smith", "FName": "Jane", "PriProv": 1}


async def test_post_payment_sends_the_example_payment(
    od: FakeOpenDental, office: Office, payer: OpenDentalProvider
) -> None:
    post = od.route("POST", "payments").mock(return_value=created(PAYMENT_CREATED))

    handle = await payer.payments.post(payment())

    [request] = sent(post)
    assert_od_request(request, "POST", "payments", {})
    body = body_of(request)
    assert body == {
        "PayAmt": "129.99",  # a string, as the docs send it
        "PatNum": 1568,
        "PayType": 383,
        "PayDate": "2021-07-05",
        "PayNote": f"Check payment through website {handle.id}",
    }
    assert type(body["PayType"]) is int
    calls = len(od.router.calls)
    result = await payer.writebacks.wait(handle)
    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "56734")
    assert len(od.router.calls) == calls


# -- refusals ---------------------------------------------------------------------------------------------------

CANARIES = {"first": "Zebulonia", "last": "Quixotepants", "email": "zebq@example.org", "cell": "312-555-0147"}
CANARY_REFUSAL = (
    f"Patient {CANARIES['first']} {CANARIES['last']} already exists (PatNum 48): same LName, FName, Birthdate and "
    f"email {CANARIES['email']} or phone {CANARIES['cell']}."
)


@pytest.mark.parametrize("shape", ["text", "json"])
async def test_a_400_ends_failed_with_open_dentals_explanation_and_no_phi(
    od: FakeOpenDental,
    office: Office,
    pms: OpenDentalProvider,
    caplog: pytest.LogCaptureFixture,
    shape: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = (
        httpx.Response(400, text=CANARY_REFUSAL)
        if shape == "text"
        else httpx.Response(400, json=CANARY_REFUSAL)  # the explanation as a JSON string
    )
    post = od.route("POST", "patients").mock(return_value=answer)
    patient = new_patient(
        first_name=CANARIES["first"],
        last_name=CANARIES["last"],
        email=CANARIES["email"],
        cell_phone=CANARIES["cell"],
    )

    handle = await pms.patients.create(patient)
    result = await pms.writebacks.wait(handle)

    assert post.call_count == 1
    assert result.status is WritebackState.FAILED
    assert result.message == (
        "refused by Open Dental: Open Dental refused the request: Patient … already exists (PatNum …): same "
        "LName, FName, Birthdate and email … or phone …."
    )
    entry = await pms.store.journal.get(handle.id)
    assert entry is not None
    seen = "\n".join([result.message or "", caplog.text, repr(handle), repr(result), repr(entry), str(result)])
    for canary in CANARIES.values():
        assert canary not in seen


async def test_a_refused_booking_ends_failed_and_frees_its_slot(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "appointments").mock(
        side_effect=[
            httpx.Response(400, text="Op is invalid."),
            created(APPOINTMENT_CREATED, APPOINTMENT_LOCATION),
        ]
    )

    refused = await pms.appointments.book(booking())

    result = await pms.writebacks.wait(refused)
    assert (result.status, result.message) == (
        WritebackState.FAILED,
        "refused by Open Dental: Open Dental refused the request: Op is invalid.",
    )
    assert (await pms.appointments.book(booking())).writeback_id == "appointments:3"
    assert post.call_count == 2


@dataclass(frozen=True)
class Write:
    """One write of each kind: its route and how the SDK makes it."""

    method: str
    path: str
    make: Callable[[OpenDentalProvider], Awaitable[Writeback]]


WRITES = {
    "book": Write("POST", "appointments", lambda pms: pms.appointments.book(booking())),
    "reschedule": Write(
        "PUT",
        "appointments/18",
        lambda pms: pms.appointments.reschedule("18", start=datetime(2020, 7, 31, 10, 0, tzinfo=CHICAGO)),
    ),
    "cancel": Write("PUT", "appointments/18/Break", lambda pms: pms.appointments.cancel("18")),
    "confirm": Write("PUT", "appointments/18/Confirm", lambda pms: pms.appointments.confirm("18")),
    "create patient": Write("POST", "patients", lambda pms: pms.patients.create(new_patient())),
    "post payment": Write("POST", "payments", lambda pms: pms.payments.post(payment(date=None))),
}


@pytest.mark.parametrize("kind", list(WRITES))
async def test_a_401_invalid_permissions_raises_and_nothing_is_left_open(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider, kind: str
) -> None:
    write = WRITES[kind]
    route = od.route(write.method, write.path).mock(return_value=httpx.Response(401, text="Invalid Permissions"))
    entries = journaled(pms)

    with pytest.raises(PermissionDeniedError):
        await write.make(pms)

    assert route.call_count == 1
    [entry] = entries
    stored = await pms.store.journal.get(entry.id)
    assert stored is not None
    assert stored.result is not None
    assert stored.result.status is WritebackState.NOT_APPLIED
    assert await pms.store.journal.open_entries() == []


@pytest.mark.parametrize("kind", list(WRITES))
async def test_a_write_that_could_never_connect_ends_not_applied_and_raises(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider, kind: str
) -> None:
    write = WRITES[kind]
    route = od.route(write.method, write.path).mock(side_effect=httpx.ConnectError("connection refused"))
    entries = journaled(pms)

    with pytest.raises(PmsConnectionError) as caught:
        await write.make(pms)

    assert caught.value.request_sent is False
    pipeline = pms.client.pipelines[0]
    assert route.call_count == pipeline.retry.max_attempts  # it never left: the pipeline tried to connect again
    [entry] = entries
    stored = await pms.store.journal.get(entry.id)
    assert stored is not None
    assert stored.result is not None
    assert stored.result.status is WritebackState.NOT_APPLIED


# -- ambiguous failures: never sent again ---------------------------------------------------------------------

AMBIGUOUS: dict[str, Callable[[], httpx.Response | Exception]] = {
    "timeout": lambda: httpx.ReadTimeout("timed out"),
    "dropped answer": lambda: httpx.RemoteProtocolError("Server disconnected without sending a response."),
    "504": lambda: httpx.Response(504, text="Gateway Time-out"),
    "500": lambda: httpx.Response(500, text="Internal Server Error"),
    "office timed out (400)": lambda: httpx.Response(400, text="The request to the dental office timed out."),
}


@pytest.mark.parametrize("failure", list(AMBIGUOUS))
@pytest.mark.parametrize("kind", list(WRITES))
async def test_an_ambiguous_failure_is_read_back_and_never_sent_again(
    od: FakeOpenDental,
    office: Office,
    pms: OpenDentalProvider,
    clock: FakeClock,
    kind: str,
    failure: str,
) -> None:
    write = WRITES[kind]
    route = od.route(write.method, write.path).mock(side_effect=[AMBIGUOUS[failure](), httpx.Response(200)])

    handle = await write.make(pms)
    sent_at = clock.now()

    assert (handle.acknowledged, handle.writeback_id) == (False, None)
    entry = await pms.store.journal.get(handle.id)
    assert entry is not None
    assert entry.state is JournalState.SENT
    result = await pms.writebacks.wait(handle)  # the poller reads it back until the reconcile window closes
    assert result.status is WritebackState.NOT_APPLIED  # the office's data does not show it
    assert clock.now() - sent_at >= RECONCILE_WINDOW
    await clock.sleep(3600)
    assert route.call_count == 1, "a write that may have been applied is never sent again"


async def test_a_lost_booking_is_found_by_its_marker_among_the_patients_appointments(
    od: FakeOpenDental, office: Office, pms: OpenDentalProvider
) -> None:
    post = od.route("POST", "appointments").mock(side_effect=[httpx.ReadTimeout("timed out")])
    handle = await pms.appointments.book(booking())
    someone_elses = {**APPOINTMENT_CREATED, "AptNum": 2, "Note": "Booked online PMSCSOMEONEELSE00000"}
    office.book = [APPOINTMENT_18, someone_elses, {**APPOINTMENT_CREATED, "Note": handle.id}]

    result = await pms.writebacks.wait(handle)

    assert (result.status, result.created_id) == (WritebackState.WRITTEN, "3")
    assert post.call_count == 1
    lookups = [c.request for c in od.router.calls if c.request.url.path == "/api/v1/appointments"]
    assert dict(lookups[-1].url.params) == {"PatNum": "21", "date": "2020-07-31", "Offset": "0", "Limit": "100"}
