"""Sikka's error codes and bare HTTP statuses, mapped onto pms_connect.errors with code, status and request."""

from __future__ import annotations

import httpx
import pytest

from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    KeyExpiredError,
    NotFoundError,
    PermissionDeniedError,
    PmsStatusError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
)
from pms_connect.http import RetryPolicy
from pms_connect.sikka._client import classify_sikka_response

SIKKA_CODES = [
    ("API1004", 400, AuthenticationError),
    ("API1025", 400, KeyExpiredError),
    ("API2003", 401, AuthenticationError),
    ("API2004", 401, PermissionDeniedError),
    ("API2007", 401, PermissionDeniedError),
    ("API2009", 404, NotFoundError),
    ("API2011", 429, RateLimitError),
    ("API2012", 429, RateLimitError),
    ("API2013", 409, ConflictError),
    ("API2015", 409, ConflictError),
    ("API2017", 412, PreconditionFailedError),
    ("API2019", 422, BadRequestError),
    ("API2001", 500, ServerError),
    ("API2002", 503, ServerError),
    ("API2022", 504, ServerError),
]

BARE_STATUSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (412, PreconditionFailedError),
    (418, PmsStatusError),
    (422, BadRequestError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.fixture
def no_retry_provider(make_provider):
    return make_provider(retry=RetryPolicy(max_attempts=1))


@pytest.mark.parametrize(("code", "status", "error_class"), SIKKA_CODES, ids=[c for c, _, _ in SIKKA_CODES])
async def test_sikka_error_code_maps_to_its_error_class(sikka, no_retry_provider, code, status, error_class):
    sikka.get("practices").mock(return_value=sikka.error(code, status))

    with pytest.raises(PmsStatusError) as caught:
        await no_retry_provider.practices.list().all()

    error = caught.value
    assert type(error) is error_class
    assert (error.code, error.status_code, error.request) == (code, status, "GET /v4/practices")
    assert error.body["error_code"] == code


@pytest.mark.parametrize(("status", "error_class"), BARE_STATUSES, ids=[str(s) for s, _ in BARE_STATUSES])
async def test_bare_http_status_maps_to_its_error_class(sikka, no_retry_provider, status, error_class):
    sikka.get("practices").mock(return_value=httpx.Response(status, text="<html>upstream trouble</html>"))

    with pytest.raises(PmsStatusError) as caught:
        await no_retry_provider.practices.list().all()

    error = caught.value
    assert type(error) is error_class
    assert (error.code, error.status_code, error.request) == (None, status, "GET /v4/practices")
    assert error.body == {}


async def test_unknown_sikka_code_falls_back_to_the_status_class_and_keeps_the_code(sikka, no_retry_provider):
    sikka.get("practices").mock(return_value=sikka.error("API1026", 400))

    with pytest.raises(BadRequestError) as caught:
        await no_retry_provider.practices.list().all()

    assert (caught.value.code, caught.value.status_code) == ("API1026", 400)


async def test_error_body_wrapped_in_a_one_element_array_is_read(sikka, no_retry_provider):
    body = [{"http_code": "404", "error_code": "API2009", "short_message": "Not found", "long_message": ""}]
    sikka.get("practices").mock(return_value=httpx.Response(404, json=body))

    with pytest.raises(NotFoundError) as caught:
        await no_retry_provider.practices.list().all()

    assert caught.value.code == "API2009"


async def test_error_keeps_the_raw_sikka_body_but_not_in_its_message(sikka, no_retry_provider):
    sikka.get("practices").mock(return_value=sikka.error("API2019", 422, long_message="Invalid practice_id x9"))

    with pytest.raises(BadRequestError) as caught:
        await no_retry_provider.practices.list().all()

    assert caught.value.body["long_message"] == "Invalid practice_id x9"
    assert "x9" not in str(caught.value)


async def test_error_str_names_request_code_and_status(sikka, no_retry_provider):
    sikka.get("practices").mock(return_value=sikka.error("API2009", 404))

    with pytest.raises(NotFoundError) as caught:
        await no_retry_provider.practices.list().all()

    assert str(caught.value) == "Sikka found no such resource (GET /v4/practices, API2009, HTTP 404)"


async def test_rate_limit_error_carries_the_reset_header_as_retry_after(sikka, no_retry_provider):
    headers = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "42"}
    sikka.get("practices").mock(return_value=sikka.error("API2012", 429, headers=headers))

    with pytest.raises(RateLimitError) as caught:
        await no_retry_provider.practices.list().all()

    assert caught.value.retry_after == 42.0


async def test_204_with_api2005_is_not_an_error(sikka, provider):
    sikka.get("practices").mock(return_value=httpx.Response(204))

    assert await provider.practices.list().all() == []


async def test_a_failed_request_key_grant_raises_authentication_error_for_the_grant(sikka, provider):
    sikka.grant_route.mock(side_effect=None, return_value=sikka.error("API2003", 401))
    route = sikka.get("practices").mock(return_value=httpx.Response(204))

    with pytest.raises(AuthenticationError) as caught:
        await provider.practices.list().all()

    assert (caught.value.code, caught.value.request) == ("API2003", "POST /v4/request_key")
    assert route.call_count == 0


@pytest.mark.parametrize("status", [200, 201, 204, 302])
def test_classify_treats_non_error_statuses_as_success(status):
    response = httpx.Response(status, request=httpx.Request("GET", "https://api.sikkasoft.com/v4/practices"))

    assert classify_sikka_response(response, "GET /v4/practices") is None


async def test_not_found_on_204_names_the_request_as_the_pipeline_does(sikka, provider):
    sikka.get("patients").mock(return_value=httpx.Response(204))

    with pytest.raises(NotFoundError) as caught:
        await provider.patients.get("1")

    assert caught.value.request == "GET /v4/patients"


# Errors gs.txt documents with HTTP 200: the table's own rows (code, status 200, short message).
ERRORS_WITH_200 = [
    ("API0005", "Email/Text message not sent."),
    ("API0008", "Appointment status not logged."),
    ("API4002", "Error while decrypting string"),
    ("API4003", "Error while decrypting password"),
    ("API4004", "Error while decrypting email or username"),
    ("API4005", "Error while decrypting verification code"),
]


@pytest.mark.parametrize(("code", "short"), ERRORS_WITH_200)
def test_errors_sikka_answers_with_200_are_errors(code: str, short: str) -> None:
    body = {"http_code": "200", "http_code_desc": "OK", "error_code": code, "short_message": short}
    request = httpx.Request("GET", "https://api.sikkasoft.com/v4/appointments")
    error = classify_sikka_response(httpx.Response(200, json=body, request=request), "GET /v4/appointments")
    assert isinstance(error, BadRequestError)
    assert (error.code, error.status_code) == (code, 200)


@pytest.mark.parametrize(
    "body",
    [
        {"error_code": "API0007", "http_code": "200", "long_message": "Id:159357"},  # a logged write
        {"error_code": "API4006", "http_code": "200", "long_message": "Writeback request deleted successfully."},
        {"offset": "0", "limit": "50", "total_count": "1", "items": [{"error_code": "API0008"}]},  # a row's field
    ],
)
def test_successes_with_an_error_code_field_are_not_errors(body: dict[str, object]) -> None:
    request = httpx.Request("GET", "https://api.sikkasoft.com/v4/appointments")
    assert classify_sikka_response(httpx.Response(200, json=body, request=request), "GET /v4/x") is None


async def test_a_200_error_body_on_a_list_raises_instead_of_reading_as_no_rows(sikka, provider):
    body = {"http_code": "200", "http_code_desc": "OK", "error_code": "API4002", "short_message": "decrypt"}
    sikka.get("patients").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(BadRequestError) as caught:
        await provider.patients.list().all()

    assert caught.value.code == "API4002"
