"""Phone normalisation and name comparison: tables of odd inputs and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms_connect.matching import normalize_name, normalize_phone, same_first_name, same_last_name


@pytest.mark.parametrize(
    "text",
    [
        "555-010-2030",
        "(555) 010-2030",
        "(555)010-2030",
        "5550102030",
        "555.010.2030",
        "555 010 2030",
        "+1 (555) 010-2030",
        "+15550102030",
        "1-555-010-2030",
        "1 555 010 2030",
        "15550102030",
        "555-010-2030 x123",
        "555-010-2030 X 123",
        "5550102030x12",
        "555-010-2030 ext. 45",
        "555-010-2030 ext 45",
        "555-010-2030 extension 9",
        "555-010-2030 #12",
        "tel:+1-555-010-2030;ext=12",
        "  555-010-2030  ",
    ],
)
def test_north_american_formats_compare_on_ten_digits(text: str) -> None:
    assert normalize_phone(text) == "5550102030"


@pytest.mark.parametrize(
    "text", [None, "", "   ", "010-2030", "911", "x123", "ext. 5550", "call me", "555-010-20"]
)
def test_too_few_digits_is_none(text: str | None) -> None:
    assert normalize_phone(text) is None


def test_international_numbers_keep_their_digits() -> None:
    assert normalize_phone("+44 20 7946 0958") == "442079460958"
    assert normalize_phone("+52 55 1234 5678") == "525512345678"


FORMATS = [
    "{a}-{e}-{l}",
    "({a}) {e}-{l}",
    "({a}){e}-{l}",
    "{a}{e}{l}",
    "{a}.{e}.{l}",
    "{a} {e} {l}",
    "+1 ({a}) {e}-{l}",
    "1-{a}-{e}-{l}",
    "+1{a}{e}{l}",
]
EXTENSIONS = ["", " x{x}", " X{x}", "x{x}", " ext. {x}", " ext {x}", " #{x}", ";ext={x}"]


@given(
    area=st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    exchange=st.from_regex(r"[0-9]{3}", fullmatch=True),
    line=st.from_regex(r"[0-9]{4}", fullmatch=True),
    fmt=st.sampled_from(FORMATS),
    ext=st.sampled_from(EXTENSIONS),
    extension=st.integers(0, 99999),
)
def test_any_format_of_a_number_normalizes_to_its_ten_digits(
    area: str, exchange: str, line: str, fmt: str, ext: str, extension: int
) -> None:
    text = fmt.format(a=area, e=exchange, l=line) + ext.format(x=extension)
    assert normalize_phone(text) == area + exchange + line


@given(st.text())
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    digits = normalize_phone(text)
    assert digits is None or (digits.isdigit() and digits.isascii() and len(digits) >= 10)
    if digits is not None:
        assert normalize_phone(digits) == digits


@pytest.mark.parametrize(
    ("given", "stored", "same"),
    [
        ("Bill", "William", True),
        ("WILLIAM", "bill", True),
        ("Bob", "Robert", True),
        ("Liz", "Elizabeth", True),
        ("Kate", "Katherine", True),
        ("Kate", "Catherine", True),
        ("Jon", "Jonathan", True),
        ("Mike", "Michael", True),
        ("Peggy", "Margaret", True),
        ("José", "jose", True),
        ("Zoë", "Zoe", True),
        ("Mary Ann", "Maryann", True),
        ("Mary", "Mary Ann", True),
        # look-alikes that are different people
        ("Jon", "John", False),
        ("John", "Jonathan", False),
        ("Katherine", "Catherine", False),
        ("Sarah", "Sara", False),
        ("Steven", "Stephen", False),
        ("Bill", "Robert", False),
        ("", "John", False),
        ("John", None, False),
    ],
)
def test_first_names(given: str, stored: str | None, same: bool) -> None:
    assert same_first_name(given, stored) is same
    if stored:
        assert same_first_name(stored, given) is same, "symmetric"


@pytest.mark.parametrize(
    ("given", "stored", "same"),
    [
        ("Smith", "SMITH", True),
        ("O'Brien", "OBrien", True),
        ("Smith-Jones", "Smith Jones", True),
        ("Garcia", "Garcia Lopez", True),
        ("Müller", "Muller", True),
        ("Smith", "Smyth", False),
        ("Thompson", "Thomson", False),
        ("Reid", "Reed", False),
        ("de", "de la Cruz", False),
        ("", "Smith", False),
    ],
)
def test_last_names(given: str, stored: str, same: bool) -> None:
    assert same_last_name(given, stored) is same


def test_normalize_name() -> None:
    assert normalize_name("  José-Luis  O'Brien ") == "jose luis obrien"
    assert normalize_name(None) == ""
