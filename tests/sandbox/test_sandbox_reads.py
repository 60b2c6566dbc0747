"""Reads from the sandbox: envelopes, page-index pagination, 204s, fields, and every documented filter."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, SikkaSandbox

ENVELOPE_KEYS = ["offset", "limit", "total_count", "execution_time", "pagination", "items"]
LINK_KEYS = ["first", "previous", "current", "next", "last"]

LIST_ENDPOINTS = [
    ("practices", {}),
    ("providers", {}),
    ("operatories", {"cust_id": "1"}),
    ("practice_schedule", {"fields": "get_all"}),
    ("appointments", {"fields": "get_all"}),
    ("appointment_statuses", {}),
    ("practice_variables", {}),
    ("patients", {"fields": "get_all"}),
    ("insurance_companies", {"fields": "get_all"}),
    ("subscribers", {}),
    ("transactions", {"fields": "get_all"}),
    ("payment_types", {}),
]


async def get(wire: Any, headers: dict[str, str], api: str, **params: str) -> httpx.Response:
    response: httpx.Response = await wire.client.get(f"/{api}", params=params, headers=headers)
    return response


@pytest.mark.parametrize(("api", "params"), LIST_ENDPOINTS)
async def test_every_list_endpoint_answers_the_envelope_in_strings(
    wire: Any, headers: dict[str, str], api: str, params: dict[str, str]
) -> None:
    response = await get(wire, headers, api, **params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ENVELOPE_KEYS
    assert list(body["pagination"]) == LINK_KEYS
    wire.strings(body)
    assert body["offset"] == "0"
    assert body["limit"] == "50"
    assert 0 < len(body["items"]) <= 50
    assert int(body["total_count"]) >= len(body["items"])
    assert body["pagination"]["previous"] == ""
    assert body["pagination"]["first"] == f"{wire.sandbox.base_url}/{api}?offset=0&limit=50"
    assert "X-Rate-Limit-Remaining" in response.headers
    assert "Request-Key-Expires" in response.headers


async def test_offset_is_a_page_index(wire: Any, headers: dict[str, str]) -> None:
    whole = (await get(wire, headers, "patients", offset="0", limit="1000")).json()
    second = (await get(wire, headers, "patients", offset="1", limit="500")).json()
    assert [p["patient_id"] for p in second["items"]] == [p["patient_id"] for p in whole["items"][500:1000]]
    total = int(second["total_count"])
    assert total == len(wire.sandbox.world.patients)
    last_page = (total - 1) // 500
    links = second["pagination"]
    base = wire.sandbox.base_url
    assert links == {
        "first": f"{base}/patients?offset=0&limit=500",
        "previous": f"{base}/patients?offset=0&limit=500",
        "current": f"{base}/patients?offset=1&limit=500",
        "next": f"{base}/patients?offset=2&limit=500",
        "last": f"{base}/patients?offset={last_page}&limit=500",
    }
    final = (await get(wire, headers, "patients", offset=str(last_page), limit="500")).json()
    assert final["pagination"]["next"] == ""
    assert len(final["items"]) == total - last_page * 500
    beyond = await get(wire, headers, "patients", offset=str(last_page + 1), limit="500")
    assert beyond.status_code == 204
    assert beyond.content == b""


async def test_links_do_not_repeat_filters(wire: Any, headers: dict[str, str]) -> None:
    body = (await get(wire, headers, "appointments", provider_id="DMD1", limit="10")).json()
    assert body["pagination"]["next"] == f"{wire.sandbox.base_url}/appointments?offset=1&limit=10"


async def test_limit_bounds(wire: Any, headers: dict[str, str]) -> None:
    assert len((await get(wire, headers, "patients", limit="5000")).json()["items"]) == len(
        wire.sandbox.world.patients
    )
    wire.error(await get(wire, headers, "patients", limit="5001"), 400, "API1026")
    wire.error(await get(wire, headers, "patients", limit="0"), 400, "API1026")
    wire.error(await get(wire, headers, "patients", offset="-1"), 400, "API1026")
    wire.error(await get(wire, headers, "patients", limit="ten"), 400, "API1026")


async def test_empty_result_is_204_without_body(wire: Any, headers: dict[str, str]) -> None:
    for api, params in [
        ("patients", {"patient_id": "no-such"}),
        ("appointments", {"provider_id": "NOPE"}),
        ("providers", {"status": "Retired"}),
        ("transactions", {"transaction_type": "Refund"}),
    ]:
        response = await get(wire, headers, api, **params)
        assert response.status_code == 204
        assert response.content == b""
        assert "content-type" not in response.headers


async def test_appointment_fields_beyond_the_defaults(wire: Any, headers: dict[str, str]) -> None:
    plain = (await get(wire, headers, "appointments", limit="1")).json()["items"][0]
    for hidden in ("operatory", "hygienist", "cancelled", "is_confirmed", "last_changed_date"):
        assert hidden not in plain
    for shown in ("appointment_sr_no", "patient_id", "provider_id", "date", "time", "length", "status", "amount"):
        assert shown in plain
    assert plain["date"].endswith("T00:00:00")
    assert len(plain["time"]) == 5
    named = (await get(wire, headers, "appointments", limit="1", fields="operatory,cancelled")).json()["items"][0]
    assert set(named) == set(plain) | {"operatory", "cancelled"}
    assert named["cancelled"] in ("True", "False")
    everything = (await get(wire, headers, "appointments", limit="1", fields="get_all")).json()["items"][0]
    assert {"operatory", "hygienist", "is_confirmed", "last_changed_date", "procedure_code7"} <= set(everything)
    light = (await get(wire, headers, "appointments", limit="1", fields="date,time", lightweight="true")).json()
    assert set(light["items"][0]) == {"date", "time"}


async def test_appointment_filters(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    today = sandbox.today
    start, end = today, today + dt.timedelta(days=6)
    body = (
        await get(
            wire,
            headers,
            "appointments",
            startdate=start.isoformat(),
            enddate=end.isoformat(),
            provider_id="DMD1",
            practice_id="1",
            fields="operatory",
            limit="5000",
        )
    ).json()
    expected = {
        a.appointment_sr_no
        for a in sandbox.world.appointments.values()
        if a.provider_id == "DMD1" and start <= a.start.date() <= end
    }
    assert {i["appointment_sr_no"] for i in body["items"]} == expected
    assert all(start.isoformat() <= i["date"][:10] <= end.isoformat() for i in body["items"])
    one = body["items"][0]
    by_id = (await get(wire, headers, "appointments", appointment_sr_no=one["appointment_sr_no"])).json()
    assert [i["appointment_sr_no"] for i in by_id["items"]] == [one["appointment_sr_no"]]
    by_op = (await get(wire, headers, "appointments", operatory=one["operatory"], fields="operatory")).json()
    assert {i["operatory"] for i in by_op["items"]} == {one["operatory"]}
    cancelled = (await get(wire, headers, "appointments", status="cancelled", fields="cancelled")).json()
    assert {i["status"] for i in cancelled["items"]} == {"Cancelled"}
    assert {i["cancelled"] for i in cancelled["items"]} == {"True"}
    wire.error(await get(wire, headers, "appointments", startdate="12/01/2026"), 400, "API1026")
    wire.error(await get(wire, headers, "appointments", date_filter_on="created"), 400, "API1026")


async def test_appointment_date_filter_on_and_loaded_dates(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    day = sandbox.today - dt.timedelta(days=3)
    made = (
        await get(
            wire,
            headers,
            "appointments",
            startdate=day.isoformat(),
            enddate=day.isoformat(),
            date_filter_on="appointment_made_date",
            limit="5000",
        )
    ).json()
    assert {i["appointment_made_date"][:10] for i in made["items"]} == {day.isoformat()}
    changed = (
        await get(
            wire,
            headers,
            "appointments",
            startdate=day.isoformat(),
            enddate=sandbox.today.isoformat(),
            date_filter_on="last_changed_date",  # documented; loaded_startdate is not
            fields="last_changed_date",
            limit="5000",
        )
    ).json()
    expected = sum(1 for a in sandbox.world.appointments.values() if day <= a.last_changed.date() <= sandbox.today)
    assert int(changed["total_count"]) == expected
    assert all(i["last_changed_date"][:10] >= day.isoformat() for i in changed["items"])


async def test_patient_phone_filters_compare_stored_strings(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    patient = next(p for p in sandbox.world.patients.values() if p.cell.count("-") == 2 and "(" not in p.cell)
    digits = "".join(ch for ch in patient.cell if ch.isdigit())
    found = (await get(wire, headers, "patients", cell=patient.cell)).json()
    assert patient.patient_id in {i["patient_id"] for i in found["items"]}
    assert (await get(wire, headers, "patients", cell=digits)).status_code == 204
    assert (
        await get(wire, headers, "patients", cell=f"({digits[:3]}) {digits[3:6]}-{digits[6:]}")
    ).status_code == 204
    by_phone = (await get(wire, headers, "patients", phone=patient.cell)).json()
    assert patient.patient_id in {i["patient_id"] for i in by_phone["items"]}
    home_only = next(
        p
        for p in sandbox.world.patients.values()
        if p.homephone and all(q.cell != p.homephone for q in sandbox.world.patients.values())
    )
    assert (await get(wire, headers, "patients", phone=home_only.homephone)).status_code == 204
    home = (await get(wire, headers, "patients", homephone=home_only.homephone, fields="homephone")).json()
    assert {i["homephone"] for i in home["items"]} == {home_only.homephone}


async def test_patient_phone_formats_are_mixed(sandbox: SikkaSandbox) -> None:
    cells = [p.cell for p in sandbox.world.patients.values() if p.cell]
    dashed = sum(1 for c in cells if c.count("-") == 2 and not c.startswith("("))
    parens = sum(1 for c in cells if c.startswith("("))
    bare = sum(1 for c in cells if c.isdigit())
    assert dashed > len(cells) * 0.6
    assert parens > 50
    assert bare > 50


async def test_households_share_a_home_phone(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    counts = Counter(p.homephone for p in sandbox.world.patients.values() if p.homephone)
    shared, n = counts.most_common(1)[0]
    assert n >= 3
    body = (await get(wire, headers, "patients", homephone=shared)).json()
    assert int(body["total_count"]) == n
    assert len({i["guarantor_id"] for i in body["items"]}) == 1


async def test_patient_defaults_search_and_names(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    item = (await get(wire, headers, "patients", limit="1")).json()["items"][0]
    for hidden in ("homephone", "workphone", "gender"):
        assert hidden not in item
    assert {"cell", "email", "birthdate", "preferred_name", "guarantor_id"} <= set(item)
    full = (await get(wire, headers, "patients", limit="1", fields="homephone,workphone,gender")).json()["items"][
        0
    ]
    assert {"homephone", "workphone", "gender"} <= set(full)

    target = next(p for p in sandbox.world.patients.values() if p.lastname == "Smyth")
    found = (await get(wire, headers, "patients", search="SMYT", limit="5000")).json()
    assert target.patient_id in {i["patient_id"] for i in found["items"]}
    assert all("smyt" in (i["firstname"] + i["lastname"] + i["email"] + i["city"]).lower() for i in found["items"])
    by_name = (await get(wire, headers, "patients", firstname="jon", limit="5000")).json()
    assert {i["firstname"] for i in by_name["items"]} == {"Jon"}

    names = {(p.firstname, p.lastname) for p in sandbox.world.patients.values()}
    firsts = {f for f, _ in names}
    lasts = {last for _, last in names}
    assert {"Jon", "John", "Katherine", "Catherine"} <= firsts
    assert {"Smith", "Smyth"} <= lasts
    assert any(p.preferred_name for p in sandbox.world.patients.values())
    assert any(p.birthdate is None for p in sandbox.world.patients.values())
    assert any(not p.email for p in sandbox.world.patients.values())


async def test_undocumented_parameters_are_ignored_as_a_server_would(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    """``loaded_startdate`` is not in Sikka's patients parameter list: the sandbox, like a server, ignores it
    (and any other unknown parameter) and answers as without it."""
    plain = (await get(wire, headers, "patients", limit="5000")).json()
    since = sandbox.today - dt.timedelta(days=7)
    loaded = (
        await get(wire, headers, "patients", loaded_startdate=since.isoformat(), no_such_param="1", limit="5000")
    ).json()
    assert loaded["total_count"] == plain["total_count"]
    assert int(plain["total_count"]) > 0


async def test_operatories_need_cust_id(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    wire.error(await get(wire, headers, "operatories"), 400, "API1020")
    body = (await get(wire, headers, "operatories", cust_id="1", practice_id="1")).json()
    assert [i["operatory"] for i in body["items"]] == [f"OP{n}" for n in range(1, 8)]
    assert {i["is_hidden"] for i in body["items"]} == {"T", "F"}
    assert list(body["items"][0]) == [
        "provider_id",
        "practice_id",
        "operatory",
        "cust_id",
        "is_hidden",
        "abbreviation",
    ]
    visible = (await get(wire, headers, "operatories", cust_id="1", practice_id="1", is_hidden="F")).json()
    assert len(visible["items"]) == 6
    assert (await get(wire, headers, "operatories", cust_id="99")).status_code == 204


async def test_providers(wire: Any, headers: dict[str, str]) -> None:
    body = (await get(wire, headers, "providers", practice_id="1")).json()
    ids = {i["provider_id"]: i for i in body["items"]}
    assert {"DMD1", "DMD2", "DMD3", "DMD4", "HYG1", "HYG2", "HYG3"} <= set(ids)
    assert ids["DMD4"]["status"] == "Inactive"
    assert ids["HYG1"]["provider_type"] == "Hygienist"
    assert ids["STF1"]["is_hidden"] == "True"
    active = (await get(wire, headers, "providers", status="active", practice_id="1")).json()
    assert "DMD4" not in {i["provider_id"] for i in active["items"]}
    hygienists = (await get(wire, headers, "providers", provider_type="Hygienist")).json()
    assert {i["provider_type"] for i in hygienists["items"]} == {"Hygienist"}


async def test_practice_schedule(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    plain = (await get(wire, headers, "practice_schedule", resource_id="DMD1", resource_type="Provider")).json()
    item = plain["items"][0]
    assert set(item) == {"href", "practice_id", "practice_href", "date", "cust_id", "resource_type", "resource_id"}
    full = (
        await get(
            wire, headers, "practice_schedule", resource_id="DMD1", resource_type="Provider", fields="get_all"
        )
    ).json()["items"]
    week = full[0]
    for day in ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"):
        for n in (1, 2, 3):
            assert f"{day}_start_{n}" in week
            assert f"{day}_end_{n}" in week
        assert week[f"{day}_holiday"] in ("True", "False")
    assert (week["monday_start_1"], week["monday_end_1"]) == ("08:00", "12:00")  # a lunch break between blocks
    assert (week["monday_start_2"], week["monday_end_2"]) == ("13:00", "17:00")
    assert week["monday_start_3"] == ""
    assert week["friday_start_1"] == ""  # DMD1's day off
    assert week["saturday_start_1"] == week["sunday_start_1"] == ""
    assert dt.date.fromisoformat(week["date"][:10]).weekday() == 6  # weeks start on Sunday
    practice = (
        await get(
            wire,
            headers,
            "practice_schedule",
            resource_type="Practice",
            practice_id="1",
            fields="get_all",
            limit="100",
        )
    ).json()["items"]
    closed = [w for w in practice if w["monday_holiday"] == "True"]
    assert len(closed) == 1
    assert closed[0]["monday_start_1"] == ""
    assert all(w["saturday_holiday"] == "True" for w in practice)
    by_week = (await get(wire, headers, "practice_schedule", date=week["date"][:10], resource_id="DMD1")).json()
    assert int(by_week["total_count"]) == 1


async def test_available_slots_only_for_orthotrac_and_dolphin(
    wire: Any, headers: dict[str, str], clock: FakeClock, wire_for: Any
) -> None:
    assert (await get(wire, headers, "appointments_available_slots")).status_code == 204
    ortho = SikkaSandbox(clock=clock, pms_name="OrthoTrac")
    async with httpx.AsyncClient(transport=ortho.transport, base_url=ortho.base_url) as client:
        own = wire_for(ortho, client)
        response = await client.get(
            "/appointments_available_slots", params={"fields": "get_all"}, headers=await own.key_headers()
        )
        assert response.status_code == 200
        items = response.json()["items"]
        own.strings(response.json())
        assert {"provider_id", "date", "time", "end_time", "operatory"} <= set(items[0])
        assert all(i["date"][:10] >= ortho.today.isoformat() for i in items)


async def test_statuses_variables_and_payment_types(wire: Any, headers: dict[str, str]) -> None:
    variables = (
        await get(wire, headers, "practice_variables", service_name="Appointment Status", practice_id="1")
    ).json()
    values = [i["value"] for i in variables["items"]]
    assert {"Scheduled", "Confirmed", "Cancelled", "Broken", "Complete"} <= set(values)
    statuses = (await get(wire, headers, "appointment_statuses", practice_id="1")).json()
    assert [i["status"] for i in statuses["items"]] == values
    insurance = (await get(wire, headers, "payment_types", is_insurance_type="true", practice_id="1")).json()
    assert [i["description"] for i in insurance["items"]] == ["Dental Insurance Payment"]


async def test_insurance_carriers_and_subscribers(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox
) -> None:
    carrier = (await get(wire, headers, "insurance_companies", limit="1")).json()["items"][0]
    assert "insurance_company_name" not in carrier
    named = (await get(wire, headers, "insurance_companies", limit="1", fields="insurance_company_name")).json()
    assert named["items"][0]["insurance_company_name"]
    subscriber = sandbox.world.subscribers[0]
    body = (await get(wire, headers, "subscribers", patient_id=subscriber.patient_id)).json()
    item = body["items"][0]
    assert item["type"] == "Dental Primary"
    assert item["insurance_company_id"] == subscriber.insurance_company_id
    assert item["individual_deductible_remaining"].count(".") == 1


async def test_transactions_filters(wire: Any, headers: dict[str, str], sandbox: SikkaSandbox) -> None:
    start = sandbox.today - dt.timedelta(days=30)
    end = sandbox.today - dt.timedelta(days=1)
    body = (
        await get(
            wire,
            headers,
            "transactions",
            startdate=start.isoformat(),
            enddate=end.isoformat(),
            transaction_type="Payment",
            limit="5000",
        )
    ).json()
    assert {i["transaction_type"] for i in body["items"]} == {"Payment"}
    assert all(start.isoformat() <= i["transaction_date"][:10] <= end.isoformat() for i in body["items"])
    assert all(i["amount"].startswith("-") and len(i["amount"].split(".")[1]) == 4 for i in body["items"])
    patient = body["items"][0]["patient_id"]
    mine = (await get(wire, headers, "transactions", patient_id=patient)).json()
    assert {i["patient_id"] for i in mine["items"]} == {patient}
    assert {i["transaction_type"] for i in mine["items"]} >= {"Procedure", "Payment"}


async def test_find_and_sort(wire: Any, headers: dict[str, str]) -> None:
    body = (
        await get(wire, headers, "patients", find="lastname=eq_smith::OR::lastname=eq_smyth", limit="5000")
    ).json()
    assert {i["lastname"] for i in body["items"]} == {"Smith", "Smyth"}
    born = (await get(wire, headers, "patients", find="birthdate=gte_2015-01-01", limit="5000")).json()
    assert all(i["birthdate"] >= "2015-01-01" for i in born["items"])
    ordered = (await get(wire, headers, "patients", sort_by="lastname", sort_order="desc", limit="20")).json()
    names = [i["lastname"].lower() for i in ordered["items"]]
    assert names == sorted(names, reverse=True)
    wire.error(await get(wire, headers, "patients", find="lastname~smith"), 400, "API1026")
    by_date = (
        await get(wire, headers, "appointments", sort_by="appointment_date", sort_order="desc", limit="30")
    ).json()
    stamps = [(i["date"], i["time"]) for i in by_date["items"]]
    assert stamps == sorted(stamps, reverse=True)
    wire.error(await get(wire, headers, "appointments", sort_by="shoe_size"), 400, "API1026")


async def test_app_level_supported_pmses(wire: Any) -> None:
    wire.error(await wire.client.get("/supported_pmses"), 400, "API1001")
    body = (await wire.client.get("/supported_pmses", headers=wire.app_headers)).json()
    wire.strings(body)
    rows = {r["practice_management_system"]: r for r in body["items"]}
    assert rows["Dentrix"]["payment_writeback"] == "available"
    assert rows["Dentrix Enterprise"]["payment_writeback"] == ""
    assert rows["Practice-Web"]["new_appointment_writeback"] == ""
    for flag in ("new_appointment_writeback", "appointment_status_writeback", "new_patient_writeback"):
        assert rows["Dentrix"][flag] == "available"
    paying = (
        await wire.client.get(
            "/supported_pmses", params={"payment_writeback": "available"}, headers=wire.app_headers
        )
    ).json()
    assert all(r["payment_writeback"] == "available" for r in paying["items"])


def test_seeded_world_is_realistic(sandbox: SikkaSandbox) -> None:
    world = sandbox.world
    practice_one = [p for p in world.patients.values() if p.practice_id == "1"]
    assert len(practice_one) >= 2000
    assert len(world.practices) >= 2
    assert len([p for p in world.providers if p.practice_id == "1"]) >= 6
    ops = [o for o in world.operatories if o.practice_id == "1"]
    assert 5 <= len(ops) <= 8
    assert sum(o.is_hidden for o in ops) == 1
    appts = list(world.appointments.values())
    statuses = Counter(a.status for a in appts)
    assert {"Complete", "Scheduled", "Confirmed", "Cancelled", "Broken"} <= set(statuses)
    assert min(a.start.date() for a in appts) <= sandbox.today - dt.timedelta(days=55)
    assert max(a.start.date() for a in appts) >= sandbox.today + dt.timedelta(days=40)
    lengths = Counter(a.length for a in appts)
    assert lengths[30] + lengths[60] > len(appts) * 0.6
    for a in appts:
        assert a.start.minute % 10 == 0
        assert a.length % 10 == 0
        assert a.start.weekday() < 5
    # no double booking among non-cancelled appointments, per operatory and per provider
    for attr in ("operatory", "provider_id"):
        seen: dict[tuple[str, str, dt.date], list[tuple[dt.datetime, dt.datetime]]] = {}
        for a in appts:
            if not a.cancelled:
                seen.setdefault((a.practice_id, getattr(a, attr), a.start.date()), []).append((a.start, a.end))
        for spans in seen.values():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert end <= start
    # every appointment lies inside its provider's working hours that week
    hours = {
        (s.practice_id, s.resource_id, s.week_start): s for s in world.schedules if s.resource_type == "Provider"
    }
    for a in appts:
        week = a.start.date() - dt.timedelta(days=(a.start.weekday() + 1) % 7)
        blocks = hours[(a.practice_id, a.provider_id, week)].blocks_on(a.start.date())
        assert any(b0 <= a.start.time() and a.end.time() <= b1 for b0, b1 in blocks), a
        # ... and inside the practice's and the operatory's hours
        for kind, resource in (("Practice", a.practice_id), ("Operatory", a.operatory)):
            row = next(
                s
                for s in world.schedules
                if (s.practice_id, s.resource_type, s.resource_id, s.week_start)
                == (a.practice_id, kind, resource, week)
            )
            assert any(b0 <= a.start.time() and a.end.time() <= b1 for b0, b1 in row.blocks_on(a.start.date())), a


def test_world_is_deterministic() -> None:
    """(How fast a world is built is a benchmark's question, not a test's: a clock reading fails when the
    machine is loaded.)"""
    clock = FakeClock(dt.datetime(2027, 3, 10, 15, tzinfo=dt.timezone.utc))
    first = SikkaSandbox(seed=11, clock=clock)
    second = SikkaSandbox(seed=11, clock=clock)
    other = SikkaSandbox(seed=12, clock=clock)
    assert first.world.patients == second.world.patients
    assert first.world.appointments == second.world.appointments
    assert first.world.patients != other.world.patients
    # worlds are independent: changing one never leaks into another
    first.world.patients.pop(next(iter(first.world.patients)))
    assert len(second.world.patients) == len(first.world.patients) + 1
