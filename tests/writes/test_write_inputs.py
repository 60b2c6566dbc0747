"""Any input to any public write: a typed refusal before anything is sent, or a write sent once.

Hypothesis builds requests without the models' own checks (``model_construct``, as a careless caller or a
deserialiser might) from odd text, ids, times and amounts. Against the sandbox, every outcome must be a
``PmsError``; an ``InvalidArgumentError`` must come with no write request at the sandbox, and any write that
is sent must be one the sandbox accepts (it refuses invalid fields with Sikka's API1020/API2019).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pms_connect import BookingRequest, InvalidArgumentError, NewPatient, PaymentRequest, PmsError
from pms_connect.sikka import SikkaProvider
from pms_connect.testing import FakeClock, SikkaSandbox

WRITE_PATHS = ("/v4/appointment", "/v4/appointments", "/v4/patient", "/v4/transaction")
CHICAGO = ZoneInfo("America/Chicago")


class Harness:
    """One sandbox and provider for every example of a test (building a world per example is slow)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sandbox = SikkaSandbox(seed=21, clock=FakeClock())
        self.pms: SikkaProvider = self.sandbox.provider(reference_ttl=timedelta(days=365))
        self.patient = self.run(self._warm())

    async def _warm(self) -> str:
        await self.pms.features()
        await self.pms.known_providers()
        await self.pms.known_operatories()
        await self.pms.payment_types()
        return (await self.pms.patients.list()).items[0].id

    def run(self, work: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(work)

    def writes_sent(self) -> list[Any]:
        return [
            r
            for r in self.sandbox.requests
            if r.method in ("POST", "PUT", "PATCH") and r.path.startswith(WRITE_PATHS)
        ]

    def attempt(self, write: Callable[[SikkaProvider], Awaitable[Any]]) -> None:
        """The oracle: invalid input is refused before any write request, and whatever the SDK does send,
        the PMS accepts (a refusal at the sandbox means invalid input got through); never sent twice."""
        before = len(self.writes_sent())
        try:
            self.run(write(self.pms))
        except InvalidArgumentError:
            assert len(self.writes_sent()) == before, "refused, yet a write reached the PMS"
        except PmsError:
            pass  # a typed outcome decided by the PMS's data (a taken slot, an unknown appointment): allowed
        sent = self.writes_sent()[before:]
        assert len(sent) <= 1, "sent more than once"
        refused = [r.status for r in sent if r.status is not None and r.status >= 400]
        assert not refused, f"the SDK let through a write the PMS refused ({refused})"

    def close(self) -> None:
        self.run(self.pms.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    made = Harness()
    yield made
    made.close()


odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", " 79", "79 ", "DMD\x00", "\ud800", "x" * 70, "DMD1", "OP1", "CA", "PMSC"]),
)
ids = st.one_of(odd_text, st.integers(), st.none())
times = st.one_of(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(9999, 12, 31),
        timezones=st.sampled_from([timezone.utc, CHICAGO, ZoneInfo("Asia/Kolkata")]),
    ),
    st.datetimes(min_value=datetime(2026, 12, 2), max_value=datetime(2027, 12, 31)),  # naive
    st.sampled_from(
        [
            datetime(2027, 3, 14, 2, 30, tzinfo=CHICAGO),
            datetime(2027, 11, 7, 1, 30, tzinfo=CHICAGO),
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
        ]
    ),
)
durations = st.one_of(st.timedeltas(min_value=timedelta(hours=-2), max_value=timedelta(days=2)), st.integers())
amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1E+26"), Decimal("-0.01"), Decimal("25.005"), Decimal("25.00")]),
    st.floats(),
)
dates = st.one_of(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), st.none())

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)


@FUZZ
@given(
    patient_id=ids, provider_id=ids, start=times, duration=durations, operatory=ids, reason=st.none() | odd_text
)
def test_any_booking(harness: Harness, **fields: Any) -> None:
    harness.attempt(lambda pms: pms.appointments.book(BookingRequest.model_construct(**fields)))


@FUZZ
@given(appointment_id=ids, start=st.none() | times, duration=st.none() | durations, operatory=ids)
def test_any_reschedule_cancel_and_confirm(harness: Harness, appointment_id: Any, **changes: Any) -> None:
    harness.attempt(lambda pms: pms.appointments.reschedule(appointment_id, **changes))
    harness.attempt(lambda pms: pms.appointments.cancel(appointment_id, reason="x"))
    harness.attempt(lambda pms: pms.appointments.confirm(appointment_id))


@FUZZ
@given(
    first_name=odd_text,
    last_name=odd_text,
    birthdate=dates,
    cell_phone=st.none() | odd_text | st.sampled_from(["312-555-0147", "555-010-2030", "12345"]),
    email=st.none() | odd_text | st.sampled_from(["ada@example.com", "ada@"]),
    provider_id=ids,
)
def test_any_new_patient(harness: Harness, **fields: Any) -> None:
    harness.attempt(lambda pms: pms.patients.create(NewPatient.model_construct(**fields)))


@FUZZ
@given(
    patient_id=ids,
    amount=amounts,
    payment_type=ids,
    provider_id=ids,
    guarantor_id=ids,
    date=dates,
    note=st.none() | odd_text,
    real_patient=st.booleans(),
)
def test_any_payment(harness: Harness, real_patient: bool, **fields: Any) -> None:
    if real_patient:
        fields["patient_id"] = harness.patient
    harness.attempt(lambda pms: pms.payments.post(PaymentRequest.model_construct(**fields)))


@FUZZ
@given(value=ids)
def test_any_id_to_a_read_is_sent_as_given_or_refused_typed(harness: Harness, value: Any) -> None:
    for read in (
        lambda pms: pms.appointments.get(value),
        lambda pms: pms.patients.get(value),
        lambda pms: pms.insurance.coverage(value),
        lambda pms: pms.appointments.list(start=date(2027, 1, 4), end=date(2027, 1, 4), provider_id=value).all(),
    ):
        with contextlib.suppress(PmsError):  # found, not found, or refused: anything else escapes and fails
            harness.run(read(harness.pms))
