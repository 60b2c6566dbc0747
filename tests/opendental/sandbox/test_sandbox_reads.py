"""The read filters, as each resource page lists them, and the decisions where the pages are silent."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from pms_connect.opendental.sandbox.seed import closure_day
from pms_connect.testing import FakeClock

from .conftest import Od


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# ------------------------------------------------------------------------------------------------ appointments
async def test_appointments_by_date_range_patient_status_and_operatory(od: Od) -> None:
    today = od.sandbox.today
    start, end = today, today + dt.timedelta(days=6)
    rows = await od.get("/appointments", dateStart=start.isoformat(), dateEnd=end.isoformat())
    assert rows
    assert all(start.isoformat() <= r["AptDateTime"][:10] <= end.isoformat() for r in rows)
    one_day = await od.get("/appointments", date=rows[0]["AptDateTime"][:10])
    assert {r["AptDateTime"][:10] for r in one_day} == {rows[0]["AptDateTime"][:10]}
    pat = rows[0]["PatNum"]
    assert {r["PatNum"] for r in await od.get("/appointments", PatNum=pat)} == {pat}
    assert {r["AptStatus"] for r in await od.get("/appointments", AptStatus="Broken")} == {"Broken"}
    assert {r["Op"] for r in await od.get("/appointments", Op=3)} == {3}
    assert "AptStatus" in await od.refused("GET", "/appointments", 400, AptStatus="Cancelled")
    assert "yyyy-MM-dd" in await od.refused("GET", "/appointments", 400, date="12/01/2026")


async def test_appointments_date_t_stamp_is_strictly_after(od: Od) -> None:
    stamps = sorted({r["DateTStamp"] for r in await od.get("/appointments")})
    pivot = stamps[len(stamps) // 2]
    later = await od.get("/appointments", DateTStamp=pivot)
    assert later
    assert all(r["DateTStamp"] > pivot for r in later)
    assert await od.get("/appointments", DateTStamp=pivot[:10])  # a bare date works as in the docs' example
    text = await od.refused("GET", "/appointments", 400, DateTStamp="yesterday")
    assert text == "DateTStamp format must be yyyy-MM-dd HH:mm:ss"


async def test_a_written_appointment_shows_in_the_next_sync(od: Od, clock: FakeClock) -> None:
    watermark = (await od.get("/appointments", Limit=1))[0]["serverDateTime"]
    clock.advance(5)
    await od.put("/appointments/2/Note", {"Note": "Called back"})
    changed = await od.get("/appointments", DateTStamp=watermark)
    assert [r["AptNum"] for r in changed] == [2]


async def test_asap_list(od: Od) -> None:
    rows = await od.get("/appointments/ASAP")
    assert rows
    assert {r["Priority"] for r in rows} == {"ASAP"}


async def test_hygiene_appointments_carry_the_hygienist_as_prov_hyg(od: Od) -> None:
    rows = [r for r in await od.get("/appointments") if r["IsHygiene"] == "true"]
    assert rows
    assert {r["ProvHyg"] for r in rows} <= {3, 4}
    assert {r["ProvNum"] for r in rows} <= {1, 2}


# -------------------------------------------------------------------------------------------------- schedules
async def test_schedules_default_to_today_and_sort_by_start_time(od: Od) -> None:
    rows = await od.get("/schedules")
    assert rows
    assert {r["SchedDate"] for r in rows} == {od.sandbox.today.isoformat()}
    week = await od.get(
        "/schedules",
        dateStart=od.sandbox.today.isoformat(),
        dateEnd=(od.sandbox.today + dt.timedelta(days=6)).isoformat(),
    )
    starts = [r["StartTime"] for r in week]
    assert starts == sorted(starts)  # by the time of day, whatever the date
    assert len({r["SchedDate"] for r in week}) > 1


async def test_schedules_filters_and_the_doc_shapes(od: Od) -> None:
    today = od.sandbox.today
    span = {"dateStart": today.isoformat(), "dateEnd": (today + dt.timedelta(days=13)).isoformat()}
    doc1 = await od.get("/schedules", SchedType="Provider", ProvNum=1, **span)
    assert doc1
    assert {r["ProvNum"] for r in doc1} == {"1"}
    assert {r["operatories"] for r in doc1} == {"1,2"}  # a provider row naming two chairs, as "5,6"
    blockouts = await od.get("/schedules", SchedType="Blockout", **span)
    assert {r["ProvNum"] for r in blockouts} == {"0"}
    assert {r["blockoutType"] for r in blockouts} >= {"Staff Meeting"}
    meetings = await od.get("/schedules", BlockoutDefNum=248, **span)
    assert meetings == [r for r in blockouts if r["BlockoutType"] == "248"]
    assert "SchedType" in await od.refused("GET", "/schedules", 400, SchedType="Holiday")
    assert await od.refused("GET", "/schedules/1", 404) == "Schedule not found"


async def test_the_closure_day_is_a_practice_row_with_a_note(od: Od) -> None:
    day = closure_day(od.sandbox.today)
    rows = await od.get("/schedules", date=day.isoformat())
    practice = [r for r in rows if r["SchedType"] == "Practice"]
    assert len(practice) == 1
    assert (practice[0]["StartTime"], practice[0]["StopTime"]) == ("00:00:00", "00:00:00")
    assert practice[0]["Note"]
    assert any(r["SchedType"] == "Provider" for r in rows)  # the usual rows stay; the Practice row closes the day
    slots = await od.get("/appointments/Slots", date=day.isoformat(), ProvNum=1)
    assert slots == []


async def test_scheduleops_link_schedules_to_operatories(od: Od) -> None:
    row = (await od.get("/schedules", SchedType="Provider", ProvNum=1))[0]
    links = await od.get("/scheduleops", ScheduleNum=row["ScheduleNum"])
    assert [link["OperatoryNum"] for link in links] == [1, 2]
    assert {link["OperatoryNum"] for link in await od.get("/scheduleops", OperatoryNum=4)} == {4}


# --------------------------------------------------------------------------------------- providers and others
async def test_providers_hygienists_hidden_and_deleted(od: Od) -> None:
    rows = await od.get("/providers")
    assert len(rows) == 6
    assert {r["Abbr"] for r in rows if r["IsSecondary"] == "true"} == {"HYG1", "HYG2", "HYG3"}
    assert [r["Abbr"] for r in rows if r["IsHidden"] == "true"] == ["DOC3"]
    assert [r["Abbr"] for r in rows if r["ProvStatus"] == "Deleted"] == ["HYG3"]
    visible = await od.get("/providers", ClinicNum=0)
    assert "DOC3" not in {r["Abbr"] for r in visible}  # ClinicNum: non-hidden providers only
    assert await od.refused("GET", "/providers", 404, ClinicNum=7) == "Clinic not found"
    assert await od.refused("GET", "/providers", 400, DateTStamp="2021-08-01T05:30") == (
        "DateTStamp format must be yyyy-MM-dd HH:mm:ss"
    )
    newest = max(r["DateTStamp"] for r in rows)
    assert await od.get("/providers", DateTStamp=newest) == []


async def test_operatories_include_the_hidden_one(od: Od) -> None:
    rows = await od.get("/operatories")
    assert [r["Abbrev"] for r in rows if r["IsHidden"] == "true"] == ["OP-6"]
    assert {r["Abbrev"] for r in rows if r["IsHygiene"] == "true"} == {"HYG-1", "HYG-2"}
    assert "Operatory not found" in await od.refused("GET", "/operatories/99", 404)


async def test_definitions_by_category_and_hidden(od: Od) -> None:
    labels = await od.get("/definitions", Category=2)
    assert labels[0]["ItemName"] == "Not Called"  # the first one is the default of new appointments
    assert {r["category"] for r in labels} == {"ApptConfirmed"}
    assert "Texted (old)" not in {r["ItemName"] for r in labels}
    assert "Texted (old)" in {
        r["ItemName"] for r in await od.get("/definitions", Category=2, includeHidden="true")
    }
    pay_types = {r["ItemName"] for r in await od.get("/definitions", Category=10)}
    assert {"Check", "Cash", "Credit Card"} <= pay_types


async def test_preferences_by_name(od: Od) -> None:
    rows = await od.get("/preferences", PrefName="PracticeDefaultProv")
    assert [(r["PrefName"], r["ValueString"]) for r in rows] == [("PracticeDefaultProv", "1")]


# ---------------------------------------------------------------------------------------------------- patients
async def test_patient_search_is_partial_and_case_insensitive(od: Od) -> None:
    patient = await od.get("/patients/5")
    rows = await od.get("/patients", LName=patient["LName"][:3].lower(), FName=patient["FName"][:1].upper())
    assert 5 in {r["PatNum"] for r in rows}
    assert all(r["LName"].lower().startswith(patient["LName"][:3].lower()) for r in rows)
    names = [(r["LName"], r["FName"]) for r in await od.get("/patients")]
    assert names == sorted(names, key=lambda n: (n[0].lower(), n[1].lower()))
    assert await od.get("/patients", LName="zzzz") == []


async def test_phones_are_stored_as_typed_and_searched_by_their_digits(od: Od) -> None:
    patients = [await od.get(f"/patients/{n}") for n in range(1, 81)]
    phones = [p[field] for p in patients for field in ("HmPhone", "WkPhone", "WirelessPhone") if p[field]]
    styles = {re.sub(r"\d", "9", phone) for phone in phones}
    assert {"(999)999-9999", "999-999-9999", "9999999999"} <= styles
    typed = next(p for p in phones if "(" in p or "-" in p)
    found = await od.get("/patients", Phone=f"{digits(typed)[:3]}.{digits(typed)[3:6]}.{digits(typed)[6:]}")
    assert found
    assert all(any(digits(typed) in digits(r[f]) for f in ("HmPhone", "WkPhone", "WirelessPhone")) for r in found)


async def test_a_household_shares_a_phone_and_two_patients_share_name_and_phone(od: Od) -> None:
    patients = [await od.get(f"/patients/{n}") for n in range(1, 81)]
    homes: dict[str, set[int]] = {}
    for p in patients:
        if p["HmPhone"]:
            homes.setdefault(digits(p["HmPhone"]), set()).add(p["Guarantor"])
    assert any(len([q for q in patients if digits(q["HmPhone"]) == d]) > 1 for d in homes)
    twins = {}
    for p in patients:
        twins.setdefault((p["LName"], p["FName"], digits(p["WirelessPhone"])), []).append(p)
    same = [group for key, group in twins.items() if key[2] and len(group) > 1]
    assert same
    assert len({p["Birthdate"] for p in same[0]}) == 2  # told apart only by birthdate


async def test_patient_search_filters(od: Od) -> None:
    everyone = await od.get("/patients", showArchived="true")
    assert "Archived" in {r["PatStatus"] for r in everyone}
    assert "Archived" not in {r["PatStatus"] for r in await od.get("/patients")}
    if "Inactive" in {r["PatStatus"] for r in everyone}:
        assert "Inactive" not in {r["PatStatus"] for r in await od.get("/patients", hideInactive="true")}
    some = everyone[3]
    assert some["PatNum"] in {r["PatNum"] for r in await od.get("/patients", Birthdate=some["Birthdate"])}
    guarantors = await od.get("/patients", guarOnly="true")
    full = {n: await od.get(f"/patients/{n}") for n in (r["PatNum"] for r in guarantors)}
    assert all(p["Guarantor"] == n for n, p in full.items())
    nobody = next(p for p in everyone if p["Birthdate"] == "0001-01-01")  # no birthdate on file
    assert nobody


async def test_patients_simple(od: Od) -> None:
    patient = await od.get("/patients/5")
    inner = patient["FName"][1:4]  # Simple matches anywhere: its example searches FName=eter
    rows = await od.get("/patients/Simple", FName=inner)
    assert 5 in {r["PatNum"] for r in rows}
    assert all(r["serverDateTime"] for r in rows)
    assert {r["PatStatus"] for r in await od.get("/patients/Simple", PatStatus="Archived")} == {"Archived"}
    stamps = sorted(r["DateTStamp"] for r in await od.get("/patients/Simple"))
    assert all(r["DateTStamp"] > stamps[40] for r in await od.get("/patients/Simple", DateTStamp=stamps[40]))
    assert await od.refused("GET", "/patients/999", 404) == "Patient not found"


# --------------------------------------------------------------------------------------------------- insurance
async def test_insurance_filters(od: Od) -> None:
    assert {r["PlanType"] for r in await od.get("/insplans", PlanType="percentage")} == {""}
    assert {r["PlanType"] for r in await od.get("/insplans", PlanType="p")} == {"p"}
    assert {r["CarrierNum"] for r in await od.get("/insplans", CarrierNum=2)} == {2}
    assert [r["IsHidden"] for r in await od.get("/carriers")].count("true") == 1
    sub = (await od.get("/inssubs"))[0]
    assert sub["InsSubNum"] in {s["InsSubNum"] for s in await od.get("/inssubs", Subscriber=sub["Subscriber"])}
    assert all(
        r["SecDateTEdit"] >= sub["SecDateTEdit"]
        for r in await od.get("/inssubs", SecDateTEdit=sub["SecDateTEdit"])
    )
    plans = await od.get("/patplans", PatNum=sub["Subscriber"])
    assert plans
    assert plans[0]["Relationship"] == "Self"
    assert await od.refused("GET", "/patplans", 404, PatNum=9999) == "Patient does not exist"


async def test_coverage_is_patplan_rows(od: Od) -> None:
    covered = {r["PatNum"] for r in await od.get("/patplans")}
    uncovered = next(n for n in range(1, 81) if n not in covered)
    assert await od.get(f"/familymodules/{uncovered}/Insurance") == []
    insured = min(covered)
    rows = await od.get(f"/familymodules/{insured}/Insurance")
    assert [r["Ordinal"] for r in rows] == sorted(r["Ordinal"] for r in rows)
    assert await od.refused("GET", "/familymodules/9999/Insurance", 404) == "Patient not found"


# ---------------------------------------------------------------------------------------------------- payments
async def test_payments_filters(od: Od) -> None:
    rows = await od.get("/payments")
    pat = rows[0]["PatNum"]
    assert {r["PatNum"] for r in await od.get("/payments", PatNum=pat)} == {pat}
    assert {r["PayType"] for r in await od.get("/payments", PayType=69)} == {69}
    since = sorted(r["DateEntry"] for r in rows)[20]
    assert all(r["DateEntry"] >= since for r in await od.get("/payments", DateEntry=since))
    assert await od.refused("GET", "/payments", 404, PatNum=9999) == "Patient not found"


# ------------------------------------------------------------------------------------------------------- slots
async def test_slots_are_whole_free_and_in_the_provider_schedule(od: Od) -> None:
    today = od.sandbox.today
    slots = await od.get("/appointments/Slots", ProvNum=2, OpNum=3)
    assert slots
    days = {s["DateTimeStart"][:10] for s in slots}
    assert min(days) >= today.isoformat()
    assert max(days) <= (today + dt.timedelta(days=13)).isoformat()  # the next 14 days by default
    booked = [
        a
        for a in await od.get("/appointments", dateStart=today.isoformat(), dateEnd=max(days))
        if a["AptStatus"] in ("Scheduled", "Complete") and (a["Op"] == 3 or a["ProvNum"] == 2)
    ]
    for slot in slots:
        assert {slot["ProvNum"], slot["OpNum"]} == {2, 3}
        for a in booked:
            start = dt.datetime.fromisoformat(a["AptDateTime"])
            end = start + dt.timedelta(minutes=5 * len(a["Pattern"]))
            assert not (
                start < dt.datetime.fromisoformat(slot["DateTimeEnd"])
                and dt.datetime.fromisoformat(slot["DateTimeStart"]) < end
            )
    long = await od.get("/appointments/Slots", ProvNum=2, OpNum=3, lengthMinutes=120)
    assert all(
        dt.datetime.fromisoformat(s["DateTimeEnd"]) - dt.datetime.fromisoformat(s["DateTimeStart"])
        >= dt.timedelta(hours=2)
        for s in long
    )
    assert len(long) < len(slots)


async def test_slots_refuse_a_past_date_and_default_to_the_practice_provider(od: Od) -> None:
    yesterday = (od.sandbox.today - dt.timedelta(days=1)).isoformat()
    assert "today or a future date" in await od.refused("GET", "/appointments/Slots", 400, date=yesterday)
    assert {s["ProvNum"] for s in await od.get("/appointments/Slots")} == {1}


async def test_a_blockout_takes_its_time_out_of_the_slots(od: Od) -> None:
    today = od.sandbox.today
    wednesday = today + dt.timedelta(days=(2 - today.weekday()) % 7 or 7)
    slots = await od.get("/appointments/Slots", date=wednesday.isoformat(), ProvNum=2, OpNum=3)
    meeting = (dt.datetime.combine(wednesday, dt.time(13, 30)), dt.datetime.combine(wednesday, dt.time(14)))
    for s in slots:
        start, end = dt.datetime.fromisoformat(s["DateTimeStart"]), dt.datetime.fromisoformat(s["DateTimeEnd"])
        assert not (start < meeting[1] and meeting[0] < end)


@pytest.mark.parametrize("path", ["/patients/abc", "/appointments/-1"])
async def test_a_non_numeric_key_is_not_found(od: Od, path: str) -> None:
    assert "not found" in await od.refused("GET", path, 404)
