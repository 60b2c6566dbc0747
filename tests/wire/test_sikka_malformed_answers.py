"""Answers Sikka should not send but a proxy, an outage page or an odd PMS row can produce: every failure must
surface as a PmsError (the hierarchy's promise), naming fields rather than echoing values."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from pms_connect.errors import PmsError, PmsStatusError

DAY = date(2026, 12, 2)


async def test_a_row_missing_its_id_raises_a_status_error_naming_the_field(sikka, provider):
    sikka.get("patients").mock(return_value=sikka.page([{"firstname": "Ann"}], api="patients"))

    with pytest.raises(PmsStatusError, match="patient_id"):
        await provider.patients.list().all()


async def test_an_unparsable_boolean_raises_a_status_error_naming_the_field(sikka, make_provider):
    pms = make_provider()
    sikka.get("practices").mock(return_value=sikka.page([{"practice_id": "1", "cust_id": "9"}], api="practices"))
    sikka.get("authorized_practices").mock(return_value=httpx.Response(204))
    row = {"operatory": "OP1", "is_hidden": "sometimes"}
    sikka.get("operatories").mock(return_value=sikka.page([row], api="operatories"))

    with pytest.raises(PmsStatusError, match="is_hidden"):
        await pms.operatories.list().all()


async def test_a_200_that_is_not_json_raises_a_pms_error(sikka, provider):
    sikka.get("patients").mock(return_value=httpx.Response(200, text="<html>captive portal</html>"))

    with pytest.raises(PmsError):
        await provider.patients.list().all()


async def test_an_infinite_length_raises_a_status_error_naming_the_field(sikka, provider):
    row = {"appointment_sr_no": "1", "date": "2026-12-02T00:00:00", "time": "10:00", "length": "Infinity"}
    sikka.get("appointments").mock(return_value=sikka.page([row], api="appointments"))

    with pytest.raises(PmsStatusError, match="length"):
        await provider.appointments.get("1")


async def test_a_dateless_appointment_row_is_skipped_or_raises_a_pms_error(sikka, provider):
    rows = [
        {"appointment_sr_no": "1", "date": "", "time": "", "length": "30"},
        {"appointment_sr_no": "2", "date": "2026-12-02T00:00:00", "time": "10:00", "length": "30"},
    ]
    sikka.get("appointments").mock(return_value=sikka.page(rows, api="appointments"))

    try:
        appointments = await provider.appointments.list(start=DAY, end=DAY).all()
    except PmsError:
        return
    assert [a.id for a in appointments] == ["2"]


async def test_a_grant_answer_without_a_request_key_raises_a_pms_error_without_the_body(sikka, provider):
    body = {"status": "active", "refresh_key": "SECRET-REFRESH-abc", "expires_in": "85603 second(s)"}
    sikka.grant_route.mock(side_effect=None, return_value=httpx.Response(200, json=body))

    with pytest.raises(PmsError) as caught:
        await provider.practices.list().all()

    assert "SECRET-REFRESH" not in str(caught.value)
