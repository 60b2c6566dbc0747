"""The shared modules every provider builds on, tested without any provider."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pms_connect.errors import InvalidArgumentError, UnsupportedOperationError
from pms_connect.matching import keep_matching, match_caller, search_criteria
from pms_connect.models import (
    Appointment,
    BookingRequest,
    Capability,
    FeatureSet,
    MatchStatus,
    Operatory,
    Patient,
    PaymentRequest,
    Provider,
    ProviderKind,
)
from pms_connect.reference import ReferenceCache
from pms_connect.slot_search import candidates, chair_preferences, check_kinds, slot_query
from pms_connect.statuses import means_cancelled, means_confirmed, practice_status
from pms_connect.testing import FakeClock
from pms_connect.write_checks import (
    check_booking,
    check_payment,
    check_reschedule,
    default_provider,
    gather_checks,
    require_active_provider,
    require_capability,
)

ZONE = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)

# -- the reference cache ----------------------------------------------------------------------------------


class Loads:
    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> int:
        self.count += 1
        await self.gate.wait()
        return self.count


async def test_a_value_is_loaded_once_per_ttl() -> None:
    clock = FakeClock(NOW)
    cache, load = ReferenceCache(clock, timedelta(minutes=5)), Loads()
    assert [await cache.get("providers", load) for _ in range(3)] == [1, 1, 1]
    clock.advance(timedelta(minutes=5))
    assert await cache.get("providers", load) == 2
    assert await cache.get("providers", load, refresh=True) == 3
    cache.clear()
    assert await cache.get("providers", load) == 4


async def test_callers_arriving_together_share_one_load_and_one_giving_up_cancels_nothing() -> None:
    cache, load = ReferenceCache(FakeClock(NOW)), Loads()
    load.gate.clear()
    first = asyncio.ensure_future(cache.get("hours", load))
    second = asyncio.ensure_future(cache.get("hours", load))
    await asyncio.sleep(0)
    first.cancel()
    load.gate.set()
    assert await second == 1
    assert load.count == 1
    assert await cache.get("hours", load) == 1


async def test_a_failed_load_is_not_cached() -> None:
    cache = ReferenceCache(FakeClock(NOW))
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("down")
        return "ok"

    with pytest.raises(RuntimeError):
        await cache.get("features", flaky)
    assert await cache.get("features", flaky) == "ok"


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        ReferenceCache(FakeClock(NOW), timedelta(seconds=-1))


# -- the status vocabulary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cancelled", "confirmed"),
    [
        ("Cancelled", True, False),
        ("Broken Appt", True, False),
        ("Confirmed", False, True),
        ("Unconfirmed", False, False),
        ("Scheduled", False, False),
        (None, False, False),
    ],
)
def test_status_names_say_what_they_mean(status: str | None, cancelled: bool, confirmed: bool) -> None:
    assert (means_cancelled(status), means_confirmed(status)) == (cancelled, confirmed)


def test_the_practice_status_is_chosen_by_meaning_or_named() -> None:
    values = ["Unconfirmed", "Broken", "Cancelled", "Confirmed"]
    assert practice_status("cancel", values) == "Cancelled"  # a "cancel" name before a "broken" one
    assert practice_status("cancel", ["Broken", "Scheduled"]) == "Broken"
    assert practice_status("confirm", values) == "Confirmed"
    assert practice_status("confirm", values, named={"confirm": "Unconfirmed"}) == "Unconfirmed"
    with pytest.raises(InvalidArgumentError):
        practice_status("confirm", values, named={"confirm": "CONF-TEXT"})
    with pytest.raises(UnsupportedOperationError):
        practice_status("confirm", ["Scheduled", "Unconfirmed"])
    with pytest.raises(InvalidArgumentError):
        practice_status("reschedule", values)


# -- the slot search --------------------------------------------------------------------------------------

PROVIDERS = [
    Provider(id="DMD2", kind=ProviderKind.DENTIST),
    Provider(id="HYG1", kind=ProviderKind.HYGIENIST),
    Provider(id="DMD10", kind=ProviderKind.DENTIST),
    Provider(id="OLD", kind=ProviderKind.DENTIST, active=False),
]
CHAIRS = [
    Operatory(id="OP10", name="10"),
    Operatory(id="OP2", name="2"),
    Operatory(id="HID", name="h", hidden=True),
]


def _query(**given: object) -> object:
    return slot_query(
        start=date(2026, 12, 7), end=date(2026, 12, 7), duration=timedelta(minutes=30), zone=ZONE, **given
    )  # type: ignore[arg-type]


def test_candidates_are_active_providers_and_visible_chairs_in_natural_order() -> None:
    assert candidates(_query(), PROVIDERS, CHAIRS) == (["DMD2", "DMD10", "HYG1"], ["OP2", "OP10"])  # type: ignore[arg-type]
    assert candidates(_query(kinds=[ProviderKind.HYGIENIST]), PROVIDERS, CHAIRS) == (["HYG1"], ["OP2", "OP10"])  # type: ignore[arg-type]
    assert candidates(_query(operatory="OP10"), PROVIDERS, CHAIRS)[1] == ["OP10"]  # type: ignore[arg-type]
    for bad in ({"provider_id": "OLD"}, {"provider_id": "NOPE"}, {"operatory": "HID"}):
        with pytest.raises(InvalidArgumentError):
            candidates(_query(**bad), PROVIDERS, CHAIRS)  # type: ignore[arg-type]


def test_slot_arguments_are_checked_before_any_request() -> None:
    for bad in (
        {"kinds": []},
        {"kinds": ["surgeon"]},
        {"limit": 0},
        {"provider_id": " "},
    ):
        with pytest.raises(InvalidArgumentError):
            _query(**bad)
    with pytest.raises(InvalidArgumentError):
        slot_query(
            start=datetime(2026, 12, 7, 9), end=date(2026, 12, 7), duration=timedelta(minutes=30), zone=ZONE
        )
    assert check_kinds("dentist") == frozenset({ProviderKind.DENTIST})


def test_chair_preferences_put_the_usual_chair_first() -> None:
    start = datetime(2026, 12, 7, 9, tzinfo=ZONE)
    booked = [
        Appointment(id=str(n), provider_id="DMD2", operatory=op, start=start, duration=timedelta(minutes=30))
        for n, op in enumerate(["OP10", "OP2", "OP10"])
    ]
    assert chair_preferences(booked) == {"DMD2": ["OP10", "OP2"]}


# -- write checks -----------------------------------------------------------------------------------------


def _booking(**changes: object) -> BookingRequest:
    values: dict[str, object] = {
        "patient_id": "P1",
        "provider_id": "DMD2",
        "start": datetime(2026, 12, 7, 9, tzinfo=ZONE),
        "duration": timedelta(minutes=30),
    }
    return BookingRequest.model_construct(**{**values, **changes})


def test_a_booking_is_checked_whole() -> None:
    checked = check_booking(_booking(), zone=ZONE, now=NOW)
    assert (checked.patient_id, checked.provider_id, checked.operatory) == ("P1", "DMD2", None)
    assert checked.end - checked.start == timedelta(minutes=30)
    for bad in (
        {"start": datetime(2026, 12, 1, 9, tzinfo=ZONE)},  # past
        {"start": datetime(2030, 12, 7, 9, tzinfo=ZONE)},  # beyond the horizon
        {"start": datetime(2026, 12, 7, 9)},  # naive
        {"provider_id": ""},
        {"patient_id": " P1 "},  # ids are sent exactly as given
        {"reason": "x" * 501},
    ):
        with pytest.raises(InvalidArgumentError):
            check_booking(_booking(**bad), zone=ZONE, now=NOW)


def test_a_reschedule_asks_for_a_change_and_a_payment_a_date_within_a_year() -> None:
    with pytest.raises(InvalidArgumentError):
        check_reschedule("A1", start=None, duration=None, provider_id=None, operatory=None, zone=ZONE, now=NOW)
    today = date(2026, 12, 2)
    payment = PaymentRequest.model_construct(patient_id="P1", amount=Decimal("10.00"), payment_type="CASH")
    assert check_payment(payment, today=today).date == today
    for day in (today + timedelta(days=1), today - timedelta(days=367)):
        with pytest.raises(InvalidArgumentError):
            check_payment(payment.model_copy(update={"date": day}), today=today)


def test_providers_and_capabilities_are_required() -> None:
    require_active_provider(PROVIDERS, "DMD2")
    for provider_id in ("OLD", "NOPE"):
        with pytest.raises(InvalidArgumentError):
            require_active_provider(PROVIDERS, provider_id)
    assert default_provider([PROVIDERS[1], *PROVIDERS]) == "DMD2"
    with pytest.raises(InvalidArgumentError):
        default_provider([PROVIDERS[3]])
    require_capability(
        FeatureSet(capabilities=frozenset({Capability.BOOK_APPOINTMENT})), Capability.BOOK_APPOINTMENT
    )
    with pytest.raises(UnsupportedOperationError):
        require_capability(FeatureSet(pms_name="Dentrix"), Capability.POST_PAYMENT)


async def test_checks_run_together_and_the_first_failure_is_raised_after_all_finish() -> None:
    finished: list[str] = []

    async def step(name: str, fail: bool = False) -> str:
        await asyncio.sleep(0)
        finished.append(name)
        if fail:
            raise InvalidArgumentError(name)
        return name

    assert await gather_checks(step("a"), step("b")) == ["a", "b"]
    with pytest.raises(InvalidArgumentError, match="first"):
        await gather_checks(step("first", fail=True), step("second", fail=True), step("third"))
    assert set(finished) >= {"first", "second", "third"}


# -- matching ---------------------------------------------------------------------------------------------


def test_search_criteria_are_checked_and_the_local_filter_decides() -> None:
    for bad in ({}, {"phone": "555"}, {"name": "123"}, {"email": " "}, {"birthdate": datetime(1990, 1, 1)}):
        with pytest.raises(InvalidArgumentError):
            search_criteria(**bad)
    ana = Patient(id="1", first_name="Ana", last_name="Ruiz", cell_phone="(555) 010-2030")
    bob = Patient(id="2", first_name="Bob", last_name="Ruiz", cell_phone="555-010-2030")
    criteria = search_criteria(phone="+1 555 010 2030", name="ana")
    assert keep_matching([ana, bob, ana], criteria) == [ana]


async def test_the_caller_match_checks_its_input_before_the_query() -> None:
    asked: list[str] = []
    ana = Patient(id="1", first_name="Ana", last_name="Ruiz", cell_phone="5550102030")

    async def on_phone(digits: str) -> list[Patient]:
        asked.append(digits)
        return [ana]

    with pytest.raises(InvalidArgumentError):
        await match_caller(on_phone, phone="5550102030", first_name=7)
    assert asked == []
    found = await match_caller(on_phone, phone="(555) 010-2030")
    assert (found.status, found.patient, asked) == (MatchStatus.EXACT, ana, ["5550102030"])
