"""describe_validation_error: what a pydantic ValidationError found wrong, by field and error type, never by
value. A canary planted as input (a value, a dict key, an extra field's name, a validator's message) never
reaches the description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_core.core_schema import ErrorType
from typing_extensions import TypedDict

from pms_connect.validation import describe_validation_error

CANARY = "Zqx-canary-4242"

Row = TypeVar("Row")


class Address(BaseModel):
    zip_code: int


class Person(BaseModel):
    name: int
    birth_year: int = Field(alias="birthYear")
    address: Address | None = None
    scores: dict[str, int] = Field(default_factory=dict)

    @field_validator("name", mode="before")
    @classmethod
    def _quote(cls, value: object) -> object:
        if value == CANARY:
            raise ValueError(f"bad name {value}")  # a validator that quotes its input
        return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    known: int = 0


class PatientRow(TypedDict, total=False):
    patient_id: str
    visits: int


class Envelope(BaseModel, Generic[Row]):
    total_count: int | None = None
    items: list[Row] = Field(default_factory=list)


@dataclass
class Slot:
    minutes: int


def error_of(tp: object, data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(tp).validate_python(data)
    assert CANARY in str(caught.value), "pydantic's own message quotes the canary: the test means something"
    return caught.value


def test_a_field_is_named_with_its_error_type_not_its_value() -> None:
    error = error_of(Person, {"name": 1, "birthYear": CANARY})
    assert describe_validation_error(error, Person) == "birthYear: int_parsing"


def test_a_validator_s_message_is_left_out() -> None:
    error = error_of(Person, {"name": CANARY, "birthYear": 1990})
    assert describe_validation_error(error, Person) == "name: value_error"


def test_nested_models_and_list_positions_are_named() -> None:
    error = error_of(
        list[Person], [{"name": 1, "birthYear": 1}, {"name": 1, "birthYear": 1, "address": {"zip_code": CANARY}}]
    )
    assert describe_validation_error(error, list[Person]) == "1.address.zip_code: int_parsing"


def test_a_dict_key_from_the_input_is_left_out() -> None:
    error = error_of(Person, {"name": 1, "birthYear": 1, "scores": {CANARY: "x"}})
    text = describe_validation_error(error, Person)
    assert CANARY not in text
    assert text == "scores: int_parsing"


def test_an_extra_field_s_name_is_left_out() -> None:
    error = error_of(Strict, {CANARY: 1})
    assert describe_validation_error(error, Strict) == "<root>: extra_forbidden"


def test_typed_dict_rows_in_a_generic_envelope_are_named() -> None:
    envelope = Envelope[PatientRow]
    error = error_of(envelope, {"items": [{"patient_id": "1", "visits": CANARY}]})
    assert describe_validation_error(error, envelope) == "items.0.visits: int_parsing"


def test_dataclass_fields_are_named() -> None:
    error = error_of(list[Slot], [{"minutes": CANARY}])
    assert describe_validation_error(error, Slot) == "0.minutes: int_parsing"


def test_without_types_only_positions_and_error_types_are_shown() -> None:
    error = error_of(list[Person], [{"name": 1, "birthYear": CANARY}])
    assert describe_validation_error(error) == "0: int_parsing"


def test_a_failed_union_alternative_at_the_root_gives_way_to_the_deeper_problem() -> None:
    tp = Envelope[PatientRow] | list[Envelope[PatientRow]]
    error = error_of(tp, {"items": [{"visits": CANARY}]})
    assert describe_validation_error(error, Envelope[PatientRow]) == "items.0.visits: int_parsing"


def test_many_problems_are_cut_to_five_and_counted() -> None:
    error = error_of(list[Address], [{"zip_code": CANARY}] * 8)
    text = describe_validation_error(error, Address)
    assert text.startswith("0.zip_code: int_parsing; 1.zip_code: int_parsing")
    assert text.endswith("; and 3 more")
    assert text.count("zip_code") == 5


ERROR_TYPES = set(get_args(ErrorType))
FIELD_NAMES = {"name", "birthYear", "address", "zip_code", "scores"}


@given(
    st.dictionaries(st.text(min_size=1, max_size=12), st.one_of(st.text(), st.integers(), st.none()), max_size=6)
)
def test_a_description_holds_only_field_names_positions_and_error_types(data: dict[str, object]) -> None:
    try:
        Person.model_validate({**data, "scores": data, "address": data})
    except ValidationError as error:
        text = describe_validation_error(error, Person)
    else:
        return
    for entry in text.split("; "):
        if entry.startswith("and ") and entry.endswith(" more"):
            continue
        where, _, kinds = entry.partition(": ")
        parts = where.split(".") if where != "<root>" else []
        assert all(part in FIELD_NAMES or part.isdigit() for part in parts), entry
        assert set(kinds.split(", ")) <= ERROR_TYPES, entry
