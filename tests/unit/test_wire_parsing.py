"""Sikka's string scalars, parsed: tables of ordinary and odd wire values for every parser in sikka/_wire.py."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms_connect.sikka._wire import (
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
    parse_seconds,
    parse_time,
)

BLANKS = ["", "   ", "\t", None]


# -- parse_bool ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("True", True),
        ("true", True),
        ("TRUE", True),
        ("T", True),
        ("t", True),
        ("Y", True),
        ("yes", True),
        ("1", True),
        (" True ", True),
        (True, True),
        ("False", False),
        ("false", False),
        ("F", False),
        ("f", False),
        ("N", False),
        ("no", False),
        ("0", False),
        (False, False),
    ],
)
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_bool_blank_is_none(raw):
    assert parse_bool(raw) is None


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "on", "off", "-1", "TF"])
def test_parse_bool_refuses_other_text(raw):
    with pytest.raises(ValueError, match="not a Sikka boolean"):
        parse_bool(raw)


# -- parse_int ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("60", 60), (" 60 ", 60), ("0", 0), ("-5", -5), ("60.0", 60), ("60.0000", 60), ("007", 7), (45, 45)],
)
def test_parse_int(raw, expected):
    assert parse_int(raw) == expected
    assert type(parse_int(raw)) is int


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_int_blank_is_none(raw):
    assert parse_int(raw) is None


@pytest.mark.parametrize("raw", ["60.5", "abc", "NaN", "1/2", "6O", "--1"])
def test_parse_int_refuses_non_integers(raw):
    with pytest.raises(ValueError, match=r"not a Sikka integer|not a whole number|not a finite number"):
        parse_int(raw)


@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "sNaN"])
def test_parse_int_refuses_infinities_and_signalling_nan_with_value_error(raw):
    with pytest.raises(ValueError, match=r"Sikka|whole|finite"):
        parse_int(raw)


# -- parse_decimal ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("24.0000", "24.0000"),
        ("0.0000", "0.0000"),
        ("-65.5000", "-65.5000"),
        ("1500.00", "1500.00"),
        ("1,234.50", "1234.50"),
        (" 3.10 ", "3.10"),
        ("0", "0"),
        (24, "24"),
        (Decimal("1.5"), "1.5"),
    ],
)
def test_parse_decimal_keeps_the_exact_value_and_scale(raw, expected):
    parsed = parse_decimal(raw)

    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_decimal_blank_is_none(raw):
    assert parse_decimal(raw) is None


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "-Infinity", "sNaN", "$5.00", "1.2.3", "5-"])
def test_parse_decimal_refuses_non_finite_or_non_numbers(raw):
    with pytest.raises(ValueError, match=r"not a Sikka amount|not a finite amount"):
        parse_decimal(raw)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_parse_decimal_round_trips_str_of_any_finite_decimal(value):
    parsed = parse_decimal(str(value))

    assert parsed == value
    assert parsed.as_tuple() == value.as_tuple()


@given(st.integers())
def test_parse_int_round_trips_str_of_any_integer(value):
    assert parse_int(str(value)) == value


@given(st.text(max_size=30))
def test_parsers_fail_only_with_value_error_on_arbitrary_text(text):
    for parser in (parse_bool, parse_datetime, parse_date, parse_time, parse_seconds, parse_decimal):
        with contextlib.suppress(ValueError):
            parser(text)


# -- parse_datetime / parse_date ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-09-29T00:00:00", datetime(2020, 9, 29)),
        ("2020-09-29T10:30:00", datetime(2020, 9, 29, 10, 30)),
        ("2020-09-29 10:30:00", datetime(2020, 9, 29, 10, 30)),
        ("2020-09-29T10:30:00.123000", datetime(2020, 9, 29, 10, 30, 0, 123000)),
        ("2020-09-29", datetime(2020, 9, 29)),
        ("09/29/2020", datetime(2020, 9, 29)),
        (" 2020-09-29T00:00:00 ", datetime(2020, 9, 29)),
    ],
)
def test_parse_datetime_gives_practice_local_naive_datetimes(raw, expected):
    parsed = parse_datetime(raw)

    assert parsed == expected
    assert parsed.tzinfo is None


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_datetime_blank_is_none(raw):
    assert parse_datetime(raw) is None


@pytest.mark.parametrize(
    "raw", ["29/09/2020", "2020-13-01T00:00:00", "2020-09-29T25:00:00", "yesterday", "2020-02-30", "20200929"]
)
def test_parse_datetime_refuses_other_text(raw):
    with pytest.raises(ValueError, match="not a Sikka date"):
        parse_datetime(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1984-12-10T00:00:00", date(1984, 12, 10)),
        ("2024-02-29", date(2024, 2, 29)),
        ("1901-01-01T00:00:00", date(1901, 1, 1)),
        ("1900-01-01T00:00:00", None),  # a PMS placeholder for "unknown"
        ("1899-12-30T00:00:00", None),
        ("0001-01-01T00:00:00", None),
        ("", None),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


# -- parse_time ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10:30", time(10, 30)),
        ("9:05", time(9, 5)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("10:30:15", time(10, 30, 15)),
        ("10:30 AM", time(10, 30)),
        ("10:30 pm", time(22, 30)),
        ("10:30PM", time(22, 30)),
        ("12:00 AM", time(0, 0)),
        ("12:15 PM", time(12, 15)),
        ("10:30:00 pm", time(22, 30)),
    ],
)
def test_parse_time(raw, expected):
    assert parse_time(raw) == expected


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_time_blank_is_none(raw):
    assert parse_time(raw) is None


@pytest.mark.parametrize("raw", ["24:00", "1030", "10.30", "noon", "13:00 PM", "10:60"])
def test_parse_time_refuses_other_text(raw):
    with pytest.raises(ValueError, match="not a Sikka time"):
        parse_time(raw)


# -- parse_seconds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("85603 second(s)", 85603),
        ("85603 second", 85603),
        ("60 seconds", 60),
        ("60 sec", 60),
        ("5s", 5),
        ("60", 60),
        ("0 second(s)", 0),
        (3600, 3600),
    ],
)
def test_parse_seconds(raw, expected):
    assert parse_seconds(raw) == expected


@pytest.mark.parametrize("raw", BLANKS)
def test_parse_seconds_blank_is_none(raw):
    assert parse_seconds(raw) is None


@pytest.mark.parametrize("raw", ["forever", "-5 second(s)", "second(s)", "expires in"])
def test_parse_seconds_refuses_text_without_a_count(raw):
    with pytest.raises(ValueError, match="not a Sikka duration"):
        parse_seconds(raw)


@pytest.mark.parametrize(("raw", "seconds"), [("2 hour(s)", 7200), ("10 minute(s)", 600), ("45 secs", 45)])
def test_parse_seconds_converts_minutes_and_hours(raw, seconds):
    assert parse_seconds(raw) == seconds


@pytest.mark.parametrize("raw", ["1 day(s)", "1,000 second(s)", "0x10", "5 seconds later"])
def test_parse_seconds_refuses_other_units_and_trailing_garbage(raw):
    with pytest.raises(ValueError, match=r"Sikka|unit"):
        parse_seconds(raw)
