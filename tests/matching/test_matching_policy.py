"""The matching policy on hand-made charts: households, look-alikes, nicknames, missing fields."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pms_connect.errors import InvalidArgumentError
from pms_connect.matching import match_patients, patient_matches
from pms_connect.models import MatchStatus, Patient

PHONE = "555-010-2030"


def chart(pid: str, first: str, last: str = "Smith", born: date | None = None, **kw: object) -> Patient:
    fields: dict[str, object] = {"cell_phone": PHONE, **kw}
    return Patient(id=pid, first_name=first, last_name=last, birthdate=born, **fields)  # type: ignore[arg-type]


HOUSEHOLD = [
    chart("1", "William", born=date(1980, 4, 2), preferred_name="Bill"),
    chart("2", "Katherine", born=date(1982, 9, 14), cell_phone=None, home_phone="(555) 010-2030"),
    chart("3", "Jon", born=date(2012, 1, 30), cell_phone=None, work_phone="555.010.2030 x12"),
    chart("4", "John", born=date(2015, 6, 1), cell_phone="5550102030"),
]


def ids(result: object) -> list[str]:
    return [p.id for p in getattr(result, "candidates", ())]


def test_a_household_phone_alone_is_ambiguous_never_a_guess() -> None:
    result = match_patients(HOUSEHOLD, phone="+1 (555) 010-2030")
    assert result.status is MatchStatus.AMBIGUOUS
    assert result.patient is None
    assert sorted(ids(result)) == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"birthdate": date(1982, 9, 14)}, "2"),
        ({"first_name": "Bill"}, "1"),  # preferred name
        ({"first_name": "william"}, "1"),
        ({"first_name": "Kate"}, "2"),  # nickname of Katherine
        ({"first_name": "Jon"}, "3"),  # not John
        ({"first_name": "John"}, "4"),  # not Jon
        ({"first_name": "John", "birthdate": date(2015, 6, 1)}, "4"),
    ],
)
def test_birthdate_and_names_break_ties(kwargs: dict[str, object], expected: str) -> None:
    result = match_patients(HOUSEHOLD, phone="1-555-010-2030", **kwargs)  # type: ignore[arg-type]
    assert result.status is MatchStatus.EXACT
    assert result.patient is not None
    assert result.patient.id == expected
    assert result.candidates == ()


def test_a_birthdate_that_disagrees_rules_a_chart_out() -> None:
    result = match_patients(HOUSEHOLD, phone=PHONE, first_name="John", birthdate=date(2012, 1, 30))
    # John's birthdate disagrees: he is out; Jon has the birthdate but not the name
    assert result.status is MatchStatus.AMBIGUOUS
    assert ids(result) == ["3"]
    assert match_patients(HOUSEHOLD, phone=PHONE, birthdate=date(1999, 1, 1)).status is MatchStatus.NONE


def test_same_name_same_phone_needs_the_birthdate() -> None:
    senior = chart("10", "Robert", born=date(1960, 3, 3))
    junior = chart("11", "Robert", born=date(1995, 8, 8))
    assert match_patients([senior, junior], phone=PHONE, first_name="Bob").status is MatchStatus.AMBIGUOUS
    result = match_patients([senior, junior], phone=PHONE, first_name="Bob", birthdate=date(1995, 8, 8))
    assert result.patient == junior


def test_duplicate_charts_are_ambiguous() -> None:
    a = chart("20", "Liz", born=date(1970, 1, 1))
    b = chart("21", "Elizabeth", born=date(1970, 1, 1))
    result = match_patients([a, b], phone=PHONE, first_name="Liz", birthdate=date(1970, 1, 1))
    assert result.status is MatchStatus.AMBIGUOUS
    assert sorted(ids(result)) == ["20", "21"]


def test_a_single_chart_that_contradicts_the_name_is_not_exact() -> None:
    result = match_patients([chart("30", "John")], phone=PHONE, first_name="Mary")
    assert result.status is MatchStatus.AMBIGUOUS
    assert ids(result) == ["30"]
    assert match_patients([chart("30", "John")], phone=PHONE, last_name="Smyth").status is MatchStatus.AMBIGUOUS


def test_a_single_chart_on_the_phone_is_exact() -> None:
    result = match_patients([chart("40", "Ana", born=date(1990, 4, 2))], phone=PHONE)
    assert result.status is MatchStatus.EXACT


def test_missing_fields_neither_confirm_nor_rule_out() -> None:
    unknown = chart("50", "", last="", born=None)
    known = chart("51", "Omar", born=date(1988, 2, 2))
    result = match_patients([unknown, known], phone=PHONE, first_name="Omar", birthdate=date(1988, 2, 2))
    assert result.patient == known
    only_unknown = match_patients([unknown], phone=PHONE, first_name="Omar", birthdate=date(1988, 2, 2))
    assert only_unknown.status is MatchStatus.EXACT  # nothing on the chart contradicts the caller


def test_charts_without_the_phone_are_not_candidates() -> None:
    other = chart("60", "Zed", cell_phone="555-010-2031")
    no_phones = chart("61", "Zed", cell_phone=None)
    assert match_patients([other, no_phones], phone=PHONE).status is MatchStatus.NONE


@pytest.mark.parametrize("phone", ["", "010-2030", "not a phone"])
def test_an_unusable_phone_is_refused_without_echoing_it(phone: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        match_patients(HOUSEHOLD, phone=phone)
    assert phone not in str(caught.value) or not phone


@given(
    births=st.lists(
        st.dates(min_value=date(1930, 1, 1), max_value=date(2025, 1, 1)) | st.none(), min_size=1, max_size=5
    ),
    given_birth=st.dates(min_value=date(1930, 1, 1), max_value=date(2025, 1, 1)) | st.none(),
    first=st.sampled_from(["Bill", "William", "Kate", "Jon", "John", None]),
)
def test_policy_properties(births: list[date | None], given_birth: date | None, first: str | None) -> None:
    names = ["William", "Katherine", "Jon", "John", "Catherine"]
    charts = [chart(str(i), names[i % len(names)], born=b) for i, b in enumerate(births)]
    result = match_patients(charts, phone=PHONE, first_name=first, birthdate=given_birth)
    if result.status is MatchStatus.EXACT:
        assert result.patient is not None
        assert not result.candidates
        assert given_birth is None or result.patient.birthdate in (None, given_birth)
        # a twin chart (same data, another id) makes it ambiguous: never a guess
        twin = result.patient.model_copy(update={"id": "twin"})
        assert match_patients([*charts, twin], phone=PHONE, first_name=first, birthdate=given_birth).status is (
            MatchStatus.AMBIGUOUS
        )
    elif result.status is MatchStatus.AMBIGUOUS:
        assert result.patient is None
        assert result.candidates
        assert all(given_birth is None or c.birthdate in (None, given_birth) for c in result.candidates)
    else:
        assert given_birth is not None
        assert all(c.birthdate not in (None, given_birth) for c in charts)


@pytest.mark.parametrize(
    ("criteria", "matches"),
    [
        ({"name": "Bill Smith"}, True),
        ({"name": "Smith, William"}, True),
        ({"name": "smith"}, True),
        ({"name": "Bill Smyth"}, False),
        ({"name": "Robert"}, False),
        ({"phone_digits": "5550102030", "birthdate": date(1980, 4, 2)}, True),
        ({"phone_digits": "5550102030", "birthdate": date(1980, 4, 3)}, False),
        ({"email": " Bill@Example.com "}, True),
        ({"email": "bill@example.org"}, False),
    ],
)
def test_search_criteria_must_all_hold(criteria: dict[str, object], matches: bool) -> None:
    patient = chart("1", "William", born=date(1980, 4, 2), preferred_name="Bill", email="bill@example.com")
    assert patient_matches(patient, **criteria) is matches  # type: ignore[arg-type]
