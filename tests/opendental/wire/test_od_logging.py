"""No Open Dental record number reaches a log record: a PatNum is a chart number, and Open Dental puts record
numbers in its paths (``/patients/48``, ``/appointments/18/Break``). Every logger is captured at DEBUG, httpx's
own line per request included; a pipeline without a path template (Sikka's) logs its paths as before."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx

from pms_connect.http import HttpPipeline, RateLimitHeaders
from pms_connect.models import WritebackState
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.testing.clock import FakeClock

from .conftest import APPOINTMENT_18, CONFIRMATIONS, PATIENT_48, FakeOpenDental, preference

# A path segment that is one of the numbers used: /48, /18 (followed by /, a space, a quote or the end).
NUMBER_SEGMENT = re.compile(r"/(?:48|18)(?=[/\s\"?]|$)")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2020, 7, 30, 14, 0, tzinfo=timezone.utc))  # before the example's 2020-07-31


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records]


async def test_a_read_and_writes_by_number_leave_no_record_number_in_any_log_record(
    od: FakeOpenDental, provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "pms_connect"):
        caplog.set_level(logging.DEBUG, logger=name)
    od.get("patients/48").mock(
        side_effect=[httpx.Response(500, text="Internal Server Error"), httpx.Response(200, json=PATIENT_48)]
    )
    od.get("preferences").mock(return_value=httpx.Response(200, json=preference("PracticeTitle", "Cedar Dental")))
    od.get("definitions").mock(return_value=httpx.Response(200, json=CONFIRMATIONS))
    appointment = od.get("appointments/18").mock(return_value=httpx.Response(200, json=APPOINTMENT_18))
    od.route("PUT", "appointments/18/Confirm").mock(return_value=httpx.Response(200))
    od.route("PUT", "appointments/18/Break").mock(side_effect=httpx.ReadTimeout("timed out"))

    assert (await provider.patients.get("48")).id == "48"  # a read, retried once after a 500
    confirmed = await provider.appointments.confirm("18")  # a write by number, answered
    lost = await provider.appointments.cancel("18")  # a write by number, its answer lost
    appointment.mock(return_value=httpx.Response(200, json={**APPOINTMENT_18, "AptStatus": "UnschedList"}))
    assert (await provider.writebacks.wait(confirmed)).status is WritebackState.WRITTEN
    assert (await provider.writebacks.wait(lost)).status is WritebackState.WRITTEN  # read back, by number

    seen = messages(caplog)
    leaks = [m for m in seen if NUMBER_SEGMENT.search(m)]
    assert leaks == []
    # The lines are there, with the numbers replaced.
    base = "https://api.opendental.com/api/v1"
    for expected in (
        f'httpx: HTTP Request: GET {base}/patients/{{id}} "HTTP/1.1 500 Internal Server Error"',
        f'httpx: HTTP Request: GET {base}/patients/{{id}} "HTTP/1.1 200 OK"',
        f'httpx: HTTP Request: PUT {base}/appointments/{{id}}/Confirm "HTTP/1.1 200 OK"',
        "pms_connect.http: retrying GET /api/v1/patients/{id} after ServerError (attempt 2)",
        "pms_connect.http: PUT /api/v1/appointments/{id}/Break timed out: ReadTimeout",
        "pms_connect.opendental.writes: PUT /appointments/{id}/Break failed ambiguously (PmsTimeoutError); it is "
        "not sent again, it is read back from Open Dental",
    ):
        assert expected in seen
    assert any(m.startswith("pms_connect.http: GET /api/v1/appointments/{id} -> 200 in ") for m in seen)


async def test_an_id_in_the_query_string_or_a_path_without_numbers_is_logged_as_before(
    od: FakeOpenDental, provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    od.get("patients").mock(return_value=httpx.Response(200, json=[]))

    assert await provider.patients.search(phone="(536) 624-5871") == []

    seen = messages(caplog)
    assert 'httpx: HTTP Request: GET https://api.opendental.com/api/v1/patients "HTTP/1.1 200 OK"' in seen
    assert not any("5871" in m for m in seen)


async def test_a_pipeline_without_a_path_template_logs_its_paths_as_they_are(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Sikka's pipeline passes no template: its lines keep the path (without the query)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    with respx.mock(assert_all_mocked=True) as router:
        router.get("https://api.sikkasoft.com/v4/practices/1/patients/48").mock(
            return_value=httpx.Response(200, json={})
        )
        async with httpx.AsyncClient() as client:
            pipe = HttpPipeline(
                client=client,
                owns_client=False,
                limiter=RateLimiter(RateLimit(requests=1000), clock=clock),
                classify=lambda response, summary: None,
                rate_limit_headers=RateLimitHeaders(),
                clock=clock,
            )
            request = client.build_request(
                "GET", "https://api.sikkasoft.com/v4/practices/1/patients/48", params={"cell": "5871"}
            )
            await pipe.send(request, budget_key="k", idempotent=True)

    seen = messages(caplog)
    assert (
        'httpx: HTTP Request: GET https://api.sikkasoft.com/v4/practices/1/patients/48 "HTTP/1.1 200 OK"' in seen
    )
    assert any(m.startswith("pms_connect.http: GET /v4/practices/1/patients/48 -> 200 in ") for m in seen)
    assert not any("5871" in m for m in seen)
