"""The Open Dental client on the wire: auth, pages, the error table (with PHI canaries), retries, pacing on a
virtual clock, the modes and the waterfall, and arguments that cannot all apply."""

from __future__ import annotations

import itertools
import logging
import traceback
from typing import Any

import httpx
import pytest

from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PmsConnectionError,
    PmsError,
    PmsStatusError,
    PmsTimeoutError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
    UnsupportedOperationError,
)
from pms_connect.http import RetryPolicy
from pms_connect.opendental import OpenDentalCredentials, OpenDentalProvider
from pms_connect.opendental._client import read_json
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.stores import MemoryStore
from pms_connect.testing.clock import FakeClock

from .conftest import (
    AUTHORIZATION,
    LOCAL,
    OPERATORIES,
    PATIENTS_SIMPLE,
    PROVIDERS,
    REMOTE,
    SERVICE,
    ZONE,
    FakeOpenDental,
    assert_od_request,
    preference,
    rows_of,
)

FIRST = "Zqxcanaryfirst"
LAST = "Vwkcanarylast"
PHONE = "555-867-5309"
EMAIL = "canary.patient@phi.invalid"
BIRTHDATE = "1984-12-10"
CANARIES = [FIRST, LAST, PHONE, "8675309", EMAIL, "canary", BIRTHDATE, "48123"]


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary.lower() in text.lower()]


# -- auth and headers ---------------------------------------------------------------------------------------


async def test_every_request_carries_the_odfhir_key_and_json_content_type(
    od: FakeOpenDental, provider: Any
) -> None:
    od.get("providers").mock(side_effect=od.answer(PROVIDERS))
    od.route("POST", "commlogs").mock(side_effect=od.answer({"CommlogNum": 1}, status=201))
    await provider.providers.list().all()
    response = await provider.client.request("POST", "commlogs", json_body={"PatNum": 1}, idempotent=False)
    assert response.status_code == 201
    for _, request in od.arrivals:
        assert request.headers["Authorization"] == AUTHORIZATION
        assert request.headers["Content-Type"] == "application/json"
    assert od.arrivals[1][1].content == b'{"PatNum":1}'


def test_no_key_in_reprs(provider: Any) -> None:
    for text in (repr(provider), repr(provider.client), repr(provider.credentials), str(provider.credentials)):
        assert "VzkmZEaUWOjnQX2z" not in text
        assert "NFF6i0KrXrxDkZHt" not in text


def test_summaries_name_no_ids(provider: Any) -> None:
    assert provider.client.summary("POST", "appointments") == "POST /appointments"
    assert provider.client.summary("PUT", "appointments/18/Break") == "PUT /appointments/{id}/Break"
    assert provider.client.summary("get", "/patients/48") == "GET /patients/{id}"


# -- pages --------------------------------------------------------------------------------------------------


async def test_pages_of_100_until_a_short_page(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/Simple").mock(side_effect=od.paged(rows_of(PATIENTS_SIMPLE[0], 250, "PatNum")))
    patients = await provider.patients.list().all()
    assert [p.id for p in patients] == [str(n) for n in range(1, 251)]
    sent = [(r.url.params["Offset"], r.url.params["Limit"]) for _, r in od.arrivals]
    assert sent == [("0", "100"), ("100", "100"), ("200", "100")]


async def test_a_full_last_page_costs_one_empty_page(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/Simple").mock(side_effect=od.paged(rows_of(PATIENTS_SIMPLE[0], 200, "PatNum")))
    assert len(await provider.patients.list().all()) == 200
    assert [r.url.params["Offset"] for _, r in od.arrivals] == ["0", "100", "200"]


async def test_page_size_within_the_cap(od: FakeOpenDental, make_provider: Any) -> None:
    od.get("patients/Simple").mock(side_effect=od.paged(rows_of(PATIENTS_SIMPLE[0], 90, "PatNum")))
    pms = make_provider(page_size=40)
    assert len(await pms.patients.list().all()) == 90
    assert [(r.url.params["Offset"], r.url.params["Limit"]) for _, r in od.arrivals] == [
        ("0", "40"),
        ("40", "40"),
        ("80", "40"),
    ]
    with pytest.raises(InvalidArgumentError, match="between 1 and 100"):
        make_provider(page_size=101)
    with pytest.raises(InvalidArgumentError):
        make_provider(page_size=0)


async def test_the_local_api_pages_by_1000(od: FakeOpenDental, make_provider: Any) -> None:
    od.get("patients/Simple", base=LOCAL).mock(side_effect=od.paged(rows_of(PATIENTS_SIMPLE[0], 1001, "PatNum")))
    pms = make_provider(mode="local")
    assert len(await pms.patients.list().all()) == 1001
    assert [(r.url.params["Offset"], r.url.params["Limit"]) for _, r in od.arrivals] == [
        ("0", "1000"),
        ("1000", "1000"),
    ]
    make_provider(mode="local", page_size=1000)
    make_provider(mode="service", permissions=["Enterprise"], page_size=10_000)
    with pytest.raises(InvalidArgumentError):
        make_provider(mode="local", page_size=1001)


# -- errors -------------------------------------------------------------------------------------------------

ECHO = f"Patient {FIRST} {LAST} born {BIRTHDATE} with phone {PHONE} or {EMAIL} already exists"


@pytest.mark.parametrize(
    ("status", "body", "error", "said"),
    [
        (400, ECHO, BadRequestError, "Patient … with phone … or … already exists"),
        (400, '"DateTStamp format must be yyyy-MM-dd HH:mm:ss"', BadRequestError, "DateTStamp format must be"),
        (400, "The eConnector is not running", PreconditionFailedError, "eConnector"),
        (400, "Versioning: the office is on version 21.4", UnsupportedOperationError, "too old"),
        (400, "Request timed out at the office", PmsTimeoutError, "could not reach the office"),
        (400, "Request throttled: too many requests", RateLimitError, "throttled"),
        (401, "Invalid Credentials", AuthenticationError, "refused the developer or customer key"),
        (401, f"Invalid Permissions for {FIRST}", PermissionDeniedError, "lacks the Patients API permission"),
        (404, f'"Patient {FIRST} not found"', NotFoundError, "Patient … not found"),
        (410, "Gone", UnsupportedOperationError, "retired"),
        (429, "", RateLimitError, "throttled"),
        (504, "Gateway Time-out", ServerError, "60-second"),
        (500, f"<html>{EMAIL}</html>", ServerError, "Open Dental failed"),
    ],
)
async def test_the_error_table_keeps_no_phi(
    od: FakeOpenDental,
    make_provider: Any,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: str,
    error: type[PmsError],
    said: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    pms = make_provider(retry=RetryPolicy(max_attempts=1))
    od.route("POST", "patients").mock(side_effect=od.answer(body, status=status))
    with pytest.raises(PmsError) as caught:
        await pms.client.request("POST", "patients", json_body={"LName": LAST, "FName": FIRST}, idempotent=False)
    exc = caught.value
    assert type(exc) is error
    assert said in exc.message
    assert exc.status_code == status
    assert exc.request == "POST /patients"
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    shown += [str(getattr(exc, "body", ""))]
    shown += [record.getMessage() for record in caplog.records]
    assert not [text for text in shown if leaks(text)], [leaks(text) for text in shown]


async def test_errors_of_reads_name_the_path_without_its_id(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/48123").mock(side_effect=od.answer("Patient not found", status=404))
    with pytest.raises(NotFoundError) as caught:
        await provider.patients.get("48123")
    assert "48123" not in str(caught.value)
    assert caught.value.request == "GET /patients/{id}"


async def test_an_answer_that_is_not_json(od: FakeOpenDental, provider: Any) -> None:
    od.get("carriers").mock(side_effect=od.answer("<html>proxy</html>"))
    with pytest.raises(PmsStatusError, match="not JSON"):
        await provider.insurance.carriers().all()
    with pytest.raises(PmsStatusError, match="not JSON"):
        read_json(httpx.Response(200, text="OK"), "PUT /appointments/{id}/Confirm")


async def test_a_row_that_cannot_be_read_names_the_field_not_the_value(od: FakeOpenDental, provider: Any) -> None:
    od.get("patients/Simple").mock(side_effect=od.answer([{**PATIENTS_SIMPLE[0], "Birthdate": f"{FIRST}"}]))
    with pytest.raises(PmsStatusError) as caught:
        await provider.patients.list().all()
    assert "Birthdate" in str(caught.value)
    assert not leaks(str(caught.value))


# -- retries ------------------------------------------------------------------------------------------------


async def test_reads_are_retried_writes_are_not(od: FakeOpenDental, provider: Any) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=PROVIDERS)])
    od.get("providers").mock(side_effect=lambda request: next(answers))
    assert len(await provider.providers.list().all()) == 2
    post = od.route("POST", "appointments").mock(return_value=httpx.Response(503))
    with pytest.raises(ServerError):
        await provider.client.request("POST", "appointments", json_body={"PatNum": 1}, idempotent=False)
    assert post.call_count == 1


async def test_a_write_that_never_left_says_so(od: FakeOpenDental, provider: Any) -> None:
    od.route("POST", "appointments").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PmsConnectionError) as caught:
        await provider.client.request("POST", "appointments", json_body={"PatNum": 1}, idempotent=False)
    assert caught.value.request_sent is False
    assert caught.value.request == "POST /appointments"
    od.route("PUT", "appointments/3").mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(PmsTimeoutError) as lost:
        await provider.client.request("PUT", "appointments/3", json_body={"Op": 2}, idempotent=False)
    assert lost.value.request_sent is True


# -- pacing -------------------------------------------------------------------------------------------------


def gaps(od: FakeOpenDental) -> list[float]:
    times = [t for t, _ in od.arrivals]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize(
    ("permissions", "period"),
    [(None, 1.0), (["ReadAll", "Appointments"], 1.0), (["ReadAll"], 5.0), (["Read All", "Enterprise"], 0.5)],
)
async def test_the_remote_api_is_paced_ahead_of_time(
    od: FakeOpenDental, make_provider: Any, clock: FakeClock, permissions: list[str] | None, period: float
) -> None:
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(permissions=permissions)
    for _ in range(4):
        await pms.operatories.list().all()
    assert len(gaps(od)) == 3
    assert all(period <= gap <= period + 0.5 for gap in gaps(od)), gaps(od)


@pytest.mark.parametrize(("mode", "base"), [("service", SERVICE), ("local", LOCAL)])
async def test_the_service_and_local_api_are_not_paced(
    od: FakeOpenDental, make_provider: Any, mode: str, base: str
) -> None:
    od.get("operatories", base=base).mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(mode=mode, permissions=["ReadAll"])
    for _ in range(4):
        await pms.operatories.list().all()
    assert gaps(od) == [0.0, 0.0, 0.0]


async def test_workers_sharing_a_store_share_the_customer_key_s_budget(
    od: FakeOpenDental, make_provider: Any
) -> None:
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    store = MemoryStore()
    one, two = make_provider(store=store), make_provider(store=store)
    for pms in (one, two, one, two):
        await pms.operatories.list().all()
    assert all(gap >= 1.0 for gap in gaps(od))


async def test_rate_limit_replaces_the_pacing(od: FakeOpenDental, make_provider: Any, clock: FakeClock) -> None:
    od.get("operatories", base=SERVICE).mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(mode="service", rate_limit=RateLimit(requests=1, per_seconds=2, margin_seconds=0))
    for _ in range(3):
        await pms.operatories.list().all()
    assert all(gap >= 2.0 for gap in gaps(od))
    shared = RateLimiter(RateLimit(requests=1, per_seconds=3, margin_seconds=0), clock=clock)
    assert make_provider(rate_limit=shared).client.pipelines[0].limiter is shared


async def test_a_throttled_answer_waits_the_period_and_is_retried(
    od: FakeOpenDental, provider: Any, clock: FakeClock
) -> None:
    answers = iter(
        [httpx.Response(400, text="Too many requests: throttled"), httpx.Response(200, json=OPERATORIES)]
    )

    def respond(request: httpx.Request) -> httpx.Response:
        od.arrivals.append((clock.monotonic(), request))
        return next(answers)

    od.get("operatories").mock(side_effect=respond)
    assert len(await provider.operatories.list().all()) == 2
    assert gaps(od)[0] >= 1.0


# -- modes and the waterfall --------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "base"), [("remote", REMOTE), ("service", SERVICE), ("local", LOCAL)])
async def test_each_mode_s_server(od: FakeOpenDental, make_provider: Any, mode: str, base: str) -> None:
    od.get("providers", base=base).mock(side_effect=od.answer(PROVIDERS))
    await make_provider(mode=mode).providers.list().all()
    assert_od_request(od.arrivals[0][1], "GET", "providers", base=base)


async def test_base_url_replaces_the_mode_s(od: FakeOpenDental, make_provider: Any) -> None:
    od.get("providers", base="http://10.0.0.5:30223/api/v1").mock(side_effect=od.answer(PROVIDERS))
    await make_provider(mode="service", base_url="http://10.0.0.5:30223/api/v1/").providers.list().all()
    assert od.arrivals[0][1].url.host == "10.0.0.5"


def probe(od: FakeOpenDental, *, up: bool) -> Any:
    route = od.get("preferences", base=SERVICE)
    if up:
        return route.mock(side_effect=od.answer(preference("PracticeTitle", "Cedar")))
    return route.mock(side_effect=httpx.ConnectError("refused"))


async def test_the_waterfall_uses_the_service_when_it_answers(od: FakeOpenDental, make_provider: Any) -> None:
    probed = probe(od, up=True)
    od.get("operatories", base=SERVICE).mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(mode="waterfall", permissions=["ReadAll"])
    assert pms.client.active_route is None
    for _ in range(3):
        await pms.operatories.list().all()
    assert pms.client.active_route == "service"
    assert probed.call_count == 1
    assert gaps(od) == [0.0, 0.0, 0.0]  # the probe, then three reads: not throttled
    assert probed.calls[0].request.headers["Authorization"] == AUTHORIZATION


async def test_the_waterfall_falls_back_to_remote_and_probes_again_later(
    od: FakeOpenDental, make_provider: Any, clock: FakeClock
) -> None:
    probed = probe(od, up=False)
    od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(mode="waterfall")
    await pms.operatories.list().all()
    await pms.operatories.list().all()
    assert pms.client.active_route == "remote"
    assert probed.call_count == 1
    assert gaps(od)[0] >= 1.0  # the remote API's pace
    clock.advance(301)
    probe(od, up=True)
    od.get("operatories", base=SERVICE).mock(side_effect=od.answer(OPERATORIES))
    await pms.operatories.list().all()
    assert pms.client.active_route == "service"


async def test_a_read_the_service_fails_goes_to_remote(od: FakeOpenDental, make_provider: Any) -> None:
    probe(od, up=True)
    od.get("operatories", base=SERVICE).mock(side_effect=httpx.ReadTimeout("lost"))
    remote = od.get("operatories").mock(side_effect=od.answer(OPERATORIES))
    pms = make_provider(mode="waterfall")
    assert len(await pms.operatories.list().all()) == 2
    assert remote.call_count == 1
    assert pms.client.active_route == "remote"


async def test_a_write_is_never_sent_to_both_servers(od: FakeOpenDental, make_provider: Any) -> None:
    probe(od, up=True)
    service = od.route("POST", "appointments", base=SERVICE).mock(side_effect=httpx.ReadTimeout("lost"))
    remote = od.route("POST", "appointments").mock(side_effect=od.answer({"AptNum": 3}, status=201))
    pms = make_provider(mode="waterfall")
    with pytest.raises(PmsTimeoutError) as lost:
        await pms.client.request("POST", "appointments", json_body={"PatNum": 21}, idempotent=False)
    assert lost.value.request_sent is True
    assert service.call_count == 1
    assert remote.call_count == 0


async def test_a_write_the_service_never_took_goes_to_remote_once(od: FakeOpenDental, make_provider: Any) -> None:
    probe(od, up=True)
    service = od.route("POST", "appointments", base=SERVICE).mock(side_effect=httpx.ConnectError("refused"))
    remote = od.route("POST", "appointments").mock(side_effect=od.answer({"AptNum": 3}, status=201))
    pms = make_provider(mode="waterfall")
    response = await pms.client.request("POST", "appointments", json_body={"PatNum": 21}, idempotent=False)
    assert response.status_code == 201
    assert remote.call_count == 1
    assert service.call_count >= 1
    assert pms.client.active_route == "remote"


async def test_waterfall_base_url_is_the_service_s(od: FakeOpenDental, make_provider: Any) -> None:
    pms = make_provider(mode="waterfall", base_url="http://10.0.0.5:30223/api/v1")
    assert pms.client.routes == ("service", "remote")
    od.get("preferences", base="http://10.0.0.5:30223/api/v1").mock(side_effect=httpx.ConnectError("no"))
    od.get("providers").mock(side_effect=od.answer(PROVIDERS))
    await pms.providers.list().all()
    assert [r.url.host for _, r in od.arrivals] == ["api.opendental.com"]


# -- arguments ----------------------------------------------------------------------------------------------


def test_arguments_that_cannot_all_apply(credentials: OpenDentalCredentials) -> None:
    client = httpx.AsyncClient()
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    cases: list[dict[str, Any]] = [
        {"http_client": client, "transport": transport},
        {"http_client": client, "timeout": 5},
        {"mode": "cloud"},
        {"base_url": "ftp://example.com"},
        {"retry": 3},
        {"rate_limit": "fast"},
        {"permissions": ["ReadAll", "Everything"]},
        {"permissions": "ReadAll"},
        {"timezone": "Mars/Olympus"},
        {"reference_ttl": timedelta_minus()},
    ]
    for case in cases:
        kwargs = {"timezone": ZONE, **case}
        with pytest.raises(InvalidArgumentError):
            OpenDentalProvider(credentials, **kwargs)
    with pytest.raises(InvalidArgumentError):
        OpenDentalProvider("keys", timezone=ZONE)  # type: ignore[arg-type]
    OpenDentalProvider(credentials, timezone=ZONE, http_client=client)  # its own timeouts: fine alone


def timedelta_minus() -> Any:
    from datetime import timedelta

    return timedelta(seconds=-1)


async def test_an_http_client_you_pass_is_not_closed(
    od: FakeOpenDental, credentials: OpenDentalCredentials
) -> None:
    client = httpx.AsyncClient()
    pms = OpenDentalProvider(credentials, timezone=ZONE, http_client=client)
    await pms.aclose()
    assert not client.is_closed
    await client.aclose()
