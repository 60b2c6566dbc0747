"""The input checks every write runs before sending: tables of odd values, and properties over any text."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms_connect import validation as v
from pms_connect.errors import InvalidArgumentError

CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc


@pytest.mark.parametrize("value", ["79", "DMD1", "1-1", "OP 3", "x" * 64, "Ünïcode"])
def test_ids_pass_as_given(value: str) -> None:
    assert v.check_id(value, "patient_id") == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        (" 79", "whitespace"),
        ("79 ", "whitespace"),
        ("7\t9", "control"),
        ("79\x00", "control"),
        ("79\u200b", "control"),  # a zero-width space is a format character
        ("79\ud800", "control"),  # a lone surrogate cannot be encoded
        ("x" * 65, "longer than 64"),
        (79, "string"),
        (None, "string"),
    ],
)
def test_bad_ids_are_refused_naming_the_argument_not_the_value(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason) as caught:
        v.check_id(value, "patient_id")
    assert "patient_id" in str(caught.value)
    if isinstance(value, str) and value.strip():
        assert value.strip() not in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [("Ada", "Ada"), ("  Ada  ", "Ada"), ("Mary  Ann", "Mary Ann")])
def test_names_are_trimmed(value: str, expected: str) -> None:
    assert v.check_name(value, "first_name") == expected


@pytest.mark.parametrize("value", ["", "   ", "\t", "A\x00da", "x" * 101, "Ad\ud83da"])
def test_bad_names_are_refused(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match="first_name"):
        v.check_name(value, "first_name")


@pytest.mark.parametrize(
    "value",
    ["(312) 555-0147", "312-555-0147", "3125550147", "+1 312 555 0199", "(536)987-4822", "+44 20 7946 0958"],
)
def test_possible_north_american_shaped_phones_pass(value: str) -> None:
    assert v.check_phone(value, "cell_phone") == value


@pytest.mark.parametrize(
    "value", ["12345", "call me", "555-010-20301234", "", "555\x00-010-2030", "+1 000 000 0000", "555-010-2030"]
)
def test_invalid_phones_are_refused(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match="cell_phone"):
        v.check_phone(value, "cell_phone")


@pytest.mark.parametrize("value", ["ada@example.com", " ada@example.com ", "a.b+c@sub.example.org"])
def test_valid_emails_pass(value: str) -> None:
    assert v.check_email(value) == value.strip()


@pytest.mark.parametrize("value", ["ada@", "@example.com", "ada", "ada@example", "a da@example.com", ""])
def test_invalid_emails_are_refused(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match="email"):
        v.check_email(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("25"), Decimal("25")),
        (Decimal("0.01"), Decimal("0.01")),
        ("80.10", Decimal("80.10")),
        (Decimal("999999.99"), Decimal("999999.99")),
    ],
)
def test_amounts(value: object, expected: Decimal) -> None:
    assert v.check_amount(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("0"), "greater than zero"),
        (Decimal("-5"), "greater than zero"),
        (Decimal("25.005"), "two decimal"),
        (Decimal("1E+26"), "above"),
        (Decimal("1000000"), "above"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        ("abc", "not a number"),
        (25.5, "Decimal"),
        (True, "Decimal"),
    ],
)
def test_bad_amounts(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason):
        v.check_amount(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (datetime(2027, 3, 14, 2, 30, tzinfo=CHICAGO), "does not exist"),  # spring forward: skipped
        (datetime(2027, 11, 7, 1, 30, tzinfo=CHICAGO), "repeats"),  # fall back: twice
        (datetime(2027, 11, 7, 1, 30, fold=1, tzinfo=CHICAGO), "repeats"),
        (datetime(2027, 11, 7, 7, 30, tzinfo=UTC), "repeats"),  # an exact instant, but 01:30 twice at the PMS
        (datetime(2027, 1, 5, 10, 0), "naive"),
        (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))), "out of range"),
        ("2027-01-05T10:00", "datetime"),
    ],
)
def test_practice_times_a_pms_cannot_hold_are_refused(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason):
        v.check_local_time(value, "start", CHICAGO)


@pytest.mark.parametrize(
    ("value", "local"),
    [
        (datetime(2027, 1, 5, 16, 0, tzinfo=UTC), datetime(2027, 1, 5, 10, 0)),
        (datetime(2027, 3, 14, 3, 30, tzinfo=CHICAGO), datetime(2027, 3, 14, 3, 30)),
        (datetime(2027, 11, 7, 2, 30, tzinfo=CHICAGO), datetime(2027, 11, 7, 2, 30)),
        (datetime(2027, 1, 5, 11, 0, tzinfo=ZoneInfo("America/New_York")), datetime(2027, 1, 5, 10, 0)),
    ],
)
def test_good_times_become_practice_wall_clock_times(value: datetime, local: datetime) -> None:
    result = v.check_local_time(value, "start", CHICAGO)
    assert result.tzinfo is CHICAGO
    assert result.replace(tzinfo=None) == local


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (timedelta(0), "positive"),
        (timedelta(minutes=-30), "positive"),
        (timedelta(seconds=90), "whole number"),
        (timedelta(hours=13), "longer"),
        (30, "timedelta"),
    ],
)
def test_bad_durations(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=reason):
        v.check_duration(value)


def test_dates_within_bounds() -> None:
    bounds = {"earliest": date(1900, 1, 1), "latest": date(2026, 12, 1)}
    assert v.check_date(date(1990, 5, 17), "birthdate", **bounds) == date(1990, 5, 17)
    for bad in (date(1850, 1, 1), date(2026, 12, 2), datetime(1990, 5, 17), "1990-05-17"):
        with pytest.raises(InvalidArgumentError, match="birthdate"):
            v.check_date(bad, "birthdate", **bounds)


@given(st.text(max_size=80))
def test_any_text_as_an_id_is_accepted_unchanged_or_refused_typed(text: str) -> None:
    try:
        assert v.check_id(text, "id") == text
    except InvalidArgumentError:
        return
    assert text
    assert text == text.strip()
    text.encode("utf-8")  # whatever passes can be sent


@given(st.text(max_size=120))
def test_any_text_as_a_name_phone_or_email_is_accepted_or_refused_typed(text: str) -> None:
    for check in (
        lambda t: v.check_name(t, "first_name"),
        lambda t: v.check_phone(t, "cell_phone"),
        lambda t: v.check_email(t),
        lambda t: v.check_text(t, "reason", max_length=100),
    ):
        try:
            result = check(text)
        except InvalidArgumentError:
            continue
        result.encode("utf-8")


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_any_decimal_amount_is_accepted_or_refused_typed(amount: Decimal) -> None:
    try:
        result = v.check_amount(amount)
    except InvalidArgumentError:
        return
    assert Decimal(0) < result <= v.MAX_AMOUNT


@given(st.datetimes(timezones=st.sampled_from([UTC, CHICAGO, ZoneInfo("Australia/Lord_Howe")])))
def test_any_aware_datetime_is_a_wall_clock_time_or_refused_typed(value: datetime) -> None:
    try:
        local = v.check_local_time(value, "start", CHICAGO)
    except InvalidArgumentError:
        return
    # What passes maps to exactly one wall-clock time and back to the same instant.
    assert local.replace(tzinfo=None).replace(tzinfo=CHICAGO).astimezone(UTC) == value.astimezone(UTC)
