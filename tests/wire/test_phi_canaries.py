"""PHI and secret canaries: distinctive values planted as patient data and credentials must never show up in log
records, in str()/repr() of raised errors, or in the reprs of models, credentials, providers and tokens."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from pms_connect.errors import PmsError
from pms_connect.http import RetryPolicy
from pms_connect.models import (
    BookingRequest,
    MatchStatus,
    NewPatient,
    PatientMatch,
    PaymentRequest,
)
from pms_connect.sikka import SikkaCredentials

FIRST = "Zqxcanaryfirst"
LAST = "Vwkcanarylast"
PREFERRED = "Jjcanarypreferred"
CELL = "555-867-5309-canary"
HOME = "555-000-1111-canary"
EMAIL = "canary.patient@phi.invalid"
NOTE = "canary-appointment-note-tooth-14"
SUBSCRIBER = "CANARY-SUBSCRIBER-7781"
PROCEDURE = "canary-procedure-description"
APP_KEY = "CANARY-APP-KEY-7f3a9c"
SECRET_KEY = "CANARY-SECRET-KEY-91bd02"
REQUEST_KEY = "CANARY-REQUEST-KEY-"
REFRESH_KEY = "CANARY-REFRESH-KEY-"

CANARIES = [FIRST, LAST, PREFERRED, CELL, HOME, EMAIL, NOTE, SUBSCRIBER, PROCEDURE, APP_KEY, SECRET_KEY]
CANARIES += [REQUEST_KEY, REFRESH_KEY]  # prefixes of every key handed out


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary.lower() in text.lower()]


def patient_row(**over: str) -> dict[str, str]:
    row = {
        "patient_id": "4242",
        "guarantor_id": "4241",
        "firstname": FIRST,
        "middlename": "",
        "lastname": LAST,
        "preferred_name": PREFERRED,
        "birthdate": "1984-12-10T00:00:00",
        "status": "Active",
        "cell": CELL,
        "homephone": HOME,
        "workphone": "",
        "email": EMAIL,
        "provider_id": "DMD2",
        "practice_id": "1",
    }
    row.update(over)
    return row


@pytest.fixture
def canary_credentials() -> SikkaCredentials:
    return SikkaCredentials(app_id="app-1", app_key=APP_KEY, office_id="D20006", secret_key=SECRET_KEY)


@pytest.fixture
def pms(sikka, make_provider, canary_credentials):
    sikka.key_prefix = REQUEST_KEY
    sikka.refresh_prefix = REFRESH_KEY
    return make_provider(credentials=canary_credentials, retry=RetryPolicy(max_attempts=2))


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger="pms_connect")
    return caplog


def assert_no_canary_in_logs(caplog) -> None:
    assert caplog.records, "expected the SDK to log something at DEBUG"
    for record in caplog.records:
        assert leaks(record.getMessage()) == [], record.getMessage()
        assert leaks(repr(record.args)) == []


def assert_no_canary_in_error(error: BaseException) -> None:
    assert leaks(str(error)) == []
    assert leaks(repr(error)) == []
    assert leaks("".join(traceback.format_exception(error))) == []


def mock_reads(sikka) -> None:
    sikka.hours()
    sikka.get("practices").mock(
        return_value=sikka.page([{"practice_id": "1", "name": "Clinic", "cust_id": "1"}], api="practices")
    )
    sikka.get("patients").mock(return_value=sikka.page([patient_row()], api="patients"))
    appointment = {
        "appointment_sr_no": "9",
        "patient_id": "4242",
        "provider_id": "DMD2",
        "date": "2026-12-02T00:00:00",
        "time": "10:30",
        "length": "60",
        "description": NOTE,
        "patient_name": f"{FIRST} {LAST}",
    }
    sikka.get("appointments").mock(return_value=sikka.page([appointment], api="appointments"))
    subscriber = {"patient_id": "4242", "subscriber_id": SUBSCRIBER, "firstname": FIRST, "lastname": LAST}
    sikka.get("subscribers").mock(return_value=sikka.page([subscriber], api="subscribers"))
    transaction = {
        "transaction_sr_no": "77",
        "patient_id": "4242",
        "transaction_type": "Payment",
        "transaction_date": "2026-11-30T00:00:00",
        "amount": "24.0000",
        "procedure_description": PROCEDURE,
    }
    sikka.get("transactions").mock(return_value=sikka.page([transaction], api="transactions"))


async def test_reads_log_no_phi_or_secret(sikka, pms, logs):
    mock_reads(sikka)

    await pms.practices.list().all()
    await pms.patients.list().all()
    await pms.patients.get("4242")
    await pms.patients.query({"cell": CELL, "firstname": FIRST, "email": EMAIL}).all()
    await pms.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all()
    await pms.insurance.coverage("4242")
    await pms.payments.list(start=date(2026, 11, 1), end=date(2026, 11, 30)).all()

    assert_no_canary_in_logs(logs)


async def test_reads_really_carried_the_canaries(sikka, pms):
    """Guards the other canary tests: the values did go over the wire and into the models."""
    mock_reads(sikka)

    [patient] = await pms.patients.query({"cell": CELL}).all()

    assert (patient.first_name, patient.cell_phone, patient.email) == (FIRST, CELL, EMAIL)
    grant = sikka.grant_route.calls.last.request
    assert json.loads(grant.content)["secret_key"] == SECRET_KEY
    assert sikka.router.calls.last.request.url.params["cell"] == CELL


async def test_failing_status_calls_log_and_raise_no_phi(sikka, pms, logs):
    echo = f"patient {FIRST} {LAST} {CELL} {EMAIL} not found"
    sikka.get("patients").mock(return_value=sikka.error("API2001", 500, long_message=echo))
    sikka.get("appointments").mock(return_value=sikka.error("API2009", 404, long_message=echo))

    errors = []
    for call in (
        pms.patients.query({"cell": CELL, "email": EMAIL}).all(),
        pms.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2), patient_id="4242").all(),
    ):
        with pytest.raises(PmsError) as caught:
            await call
        errors.append(caught.value)

    for error in errors:
        assert_no_canary_in_error(error)
    assert_no_canary_in_logs(logs)


async def test_connection_failures_log_and_raise_no_phi(sikka, pms, logs):
    sikka.get("patients").mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(PmsError) as caught:
        await pms.patients.query({"cell": CELL, "lastname": LAST}).all()

    assert_no_canary_in_error(caught.value)
    assert_no_canary_in_logs(logs)


async def test_an_unreadable_row_raises_naming_fields_not_values(sikka, pms, logs):
    sikka.get("patients").mock(return_value=sikka.page([patient_row(birthdate=f"{FIRST}-{CELL}")], api="patients"))

    with pytest.raises(PmsError) as caught:
        await pms.patients.list().all()

    assert "birthdate" in str(caught.value)
    assert_no_canary_in_error(caught.value)
    assert_no_canary_in_logs(logs)


async def test_key_refresh_paths_log_no_secret(sikka, pms, logs, clock):
    normal = sikka.grant_route.side_effect

    def refuse_refresh(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["grant_type"] == "refresh_key":
            sikka.grant_bodies.append(json.loads(request.content))
            return sikka.error("API2003", 401, long_message=f"refresh key {REFRESH_KEY}1 refused")
        return normal(request)

    sikka.grant_route.mock(side_effect=refuse_refresh)
    expired = {"n": 0}

    def patients(request: httpx.Request) -> httpx.Response:
        expired["n"] += 1
        if expired["n"] == 1:
            return sikka.error("API1025", 400, long_message=f"key {request.headers['Request-Key']} expired")
        return sikka.page([patient_row()], api="patients")

    sikka.get("patients").mock(side_effect=patients)

    await pms.patients.list().all()  # grant, API1025, refresh refused, full grant, replay
    clock.advance(timedelta(hours=24))
    await pms.patients.list().all()

    assert [b["grant_type"] for b in sikka.grant_bodies][:3] == ["request_key", "refresh_key", "request_key"]
    assert_no_canary_in_logs(logs)


async def test_a_refused_grant_raises_no_secret(sikka, pms, logs):
    sikka.grant_route.mock(
        side_effect=None, return_value=sikka.error("API2003", 401, long_message=f"bad key {SECRET_KEY}")
    )

    with pytest.raises(PmsError) as caught:
        await pms.practices.list().all()

    assert_no_canary_in_error(caught.value)
    assert_no_canary_in_logs(logs)


async def test_model_reprs_show_no_phi(sikka, pms):
    mock_reads(sikka)

    models = [
        *await pms.patients.list().all(),
        *await pms.appointments.list(start=date(2026, 12, 2), end=date(2026, 12, 2)).all(),
        *await pms.insurance.coverage("4242"),
        *await pms.payments.list(start=date(2026, 11, 1), end=date(2026, 11, 30)).all(),
    ]
    patient = models[0]
    models.append(PatientMatch(status=MatchStatus.EXACT, patient=patient, candidates=(patient,)))

    assert len(models) == 5
    for model in models:
        assert leaks(repr(model)) == [], type(model).__name__
        assert leaks(str(model)) == [], type(model).__name__


def test_request_model_reprs_show_no_phi():
    requests = [
        NewPatient(first_name=FIRST, last_name=LAST, cell_phone=CELL, email=EMAIL, birthdate=date(1984, 12, 10)),
        BookingRequest(
            patient_id="4242",
            provider_id="DMD2",
            start=datetime(2026, 12, 2, 16, 30, tzinfo=timezone.utc),
            duration=timedelta(minutes=60),
            reason=NOTE,
        ),
        PaymentRequest(patient_id="4242", amount=Decimal("24.00"), payment_type="Visa", note=NOTE),
    ]

    for request in requests:
        assert leaks(repr(request)) == [], type(request).__name__
        assert leaks(str(request)) == [], type(request).__name__


async def test_credentials_provider_client_token_and_manager_reprs_show_no_secret(sikka, pms, canary_credentials):
    token = await pms.client.tokens.get()
    assert token.access.get_secret_value().startswith(REQUEST_KEY)

    for obj in (canary_credentials, pms, pms.client, token, pms.client.tokens, pms.client.tokens.store):
        assert leaks(repr(obj)) == [], type(obj).__name__
        assert leaks(str(obj)) == [], type(obj).__name__
