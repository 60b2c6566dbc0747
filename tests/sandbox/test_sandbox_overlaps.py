"""Overlap rejection is a switch: off by default (the chair then holds both), ``reject_overlaps=True`` refuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from pms_connect.testing import FakeClock, SikkaSandbox


def a_workday(sandbox: SikkaSandbox, operatory: str) -> Any:
    """A booked, non-cancelled appointment of practice 1 in ``operatory``, a few days ahead."""
    return min(
        (
            a
            for a in sandbox.world.appointments.values()
            if a.practice_id == "1"
            and a.operatory == operatory
            and not a.cancelled
            and a.start.date() > sandbox.today + dt.timedelta(days=1)
        ),
        key=lambda a: (a.start, a.appointment_sr_no),
    )


def another_patient(sandbox: SikkaSandbox, not_this: str) -> str:
    return next(
        p.patient_id
        for p in sandbox.world.patients.values()
        if p.practice_id == "1" and p.status == "Active" and p.patient_id != not_this
    )


def booking(patient_id: str, start: dt.datetime, *, provider: str, op: str, length: int = 30) -> dict[str, str]:
    return {
        "patient_id": patient_id,
        "provider_id": provider,
        "practice_id": "1",
        "operatory": op,
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "length": str(length),
        "description": "Limited Exam",
    }


def an_active_dentist_other_than(sandbox: SikkaSandbox, provider_id: str) -> str:
    return next(
        p.provider_id
        for p in sandbox.world.providers
        if p.practice_id == "1" and p.active and p.provider_id != provider_id and p.provider_id.startswith("DMD")
    )


async def completed(client: httpx.AsyncClient, sandbox: SikkaSandbox, headers: dict[str, str], answer: Any) -> Any:
    wid = str(answer.json()["long_message"]).removeprefix("Id:")
    response = await client.get("/writeback_status", params={"id": wid}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()[0]["items"][0]


async def book_over(
    wire: Any, headers: dict[str, str], clock: FakeClock, *, operatory: str = "OP2"
) -> tuple[Any, dict[str, str]]:
    """Book another patient, with another dentist, into a chair time that is already taken."""
    sandbox = wire.sandbox
    taken = a_workday(sandbox, operatory)
    body = booking(
        another_patient(sandbox, taken.patient_id),
        taken.start,
        provider=an_active_dentist_other_than(sandbox, taken.provider_id),
        op=operatory,
    )
    answer = await wire.client.post("/appointment", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    clock.advance(90)
    return taken, await completed(wire.client, sandbox, headers, answer)


async def test_overlapping_booking_is_applied_by_default(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    assert sandbox.reject_overlaps is False
    taken, item = await book_over(wire, headers, clock)
    assert (item["status"], item["has_error"]) == ("Success", "False"), item["result"]
    new = sandbox.world.appointments[item["created_id"]]
    assert (new.operatory, new.start) == (taken.operatory, taken.start)
    both = sandbox.world.blocking_appointments("1", taken.operatory, taken.start, taken.end)
    assert {a.appointment_sr_no for a in both} >= {taken.appointment_sr_no, new.appointment_sr_no}
    # and the reads show both in the chair
    answer = await wire.client.get(
        "/appointments",
        params={"startdate": taken.start.date().isoformat(), "enddate": taken.start.date().isoformat()}
        | {"fields": "operatory", "operatory": taken.operatory, "limit": "500"},
        headers=headers,
    )
    at_that_time = [
        i["appointment_sr_no"] for i in answer.json()["items"] if i["time"] == taken.start.strftime("%H:%M")
    ]
    assert {taken.appointment_sr_no, new.appointment_sr_no} <= set(at_that_time)


async def test_reject_overlaps_refuses_at_completion(clock: FakeClock, wire_for: Any) -> None:
    sandbox = SikkaSandbox(seed=7, clock=clock, reject_overlaps=True)
    assert sandbox.reject_overlaps is True
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        wire = wire_for(sandbox, client)
        before = len(sandbox.world.appointments)
        _, item = await book_over(wire, await wire.key_headers(), clock)
    assert (item["status"], item["has_error"]) == ("Failed", "True")
    assert item["result"].startswith("Operatory double-booked: OP2 already has appointment")
    assert len(sandbox.world.appointments) == before


async def test_an_overlapping_move_is_applied_by_default(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    taken = a_workday(sandbox, "OP3")
    mover = next(
        a
        for a in sandbox.world.appointments.values()
        if a.practice_id == "1" and a.operatory == "OP1" and not a.cancelled and a.start.date() > sandbox.today
    )
    body = {
        "practice_id": "1",
        "provider_id": mover.provider_id,
        "date": taken.start.date().isoformat(),
        "time": taken.start.strftime("%H:%M"),
        "operatory": "OP3",
    }
    answer = await wire.client.put(f"/appointments/{mover.appointment_sr_no}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    clock.advance(90)
    item = await completed(wire.client, sandbox, headers, answer)
    assert item["status"] == "Success", item["result"]
    moved = sandbox.world.appointments[mover.appointment_sr_no]
    assert (moved.operatory, moved.start) == ("OP3", taken.start)
    assert sandbox.world.appointments[taken.appointment_sr_no] == taken


@pytest.mark.parametrize(("reject", "expected"), [(False, "Success"), (True, "Failed")])
async def test_uncancelling_into_a_taken_chair(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock, reject: bool, expected: str
) -> None:
    sandbox.reject_overlaps = reject
    world = sandbox.world
    cancelled = next(
        a
        for a in world.appointments.values()
        if a.practice_id == "1"
        and a.cancelled
        and a.start.date() > sandbox.today
        and world.blocking_appointments("1", a.operatory, a.start, a.end)
    )
    body = {"op": "replace", "path": "/appointment_status", "value": "Scheduled", "practice_id": "1"}
    answer = await wire.client.patch(f"/appointments/{cancelled.appointment_sr_no}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    clock.advance(90)
    item = await completed(wire.client, sandbox, headers, answer)
    assert item["status"] == expected, item["result"]
    assert world.appointments[cancelled.appointment_sr_no].cancelled is reject


async def test_the_switch_applies_to_writebacks_completing_after_it_changes(
    wire: Any, headers: dict[str, str], sandbox: SikkaSandbox, clock: FakeClock
) -> None:
    taken = a_workday(sandbox, "OP2")
    other = an_active_dentist_other_than(sandbox, taken.provider_id)
    first = booking(another_patient(sandbox, taken.patient_id), taken.start, provider=other, op="OP2")
    early = await wire.client.post("/appointment", json=first, headers=headers)
    clock.advance(90)  # due, not yet processed (nothing ran since)
    sandbox.reject_overlaps = True  # the one already due completes under the old rule
    late = await wire.client.post("/appointment", json=first, headers=headers)
    clock.advance(90)
    assert (await completed(wire.client, sandbox, headers, early))["status"] == "Success"
    late_item = await completed(wire.client, sandbox, headers, late)
    assert late_item["status"] == "Failed"
    assert "double-booked" in late_item["result"]
    sandbox.reject_overlaps = False
    again = await wire.client.post("/appointment", json=first, headers=headers)
    clock.advance(90)
    assert (await completed(wire.client, sandbox, headers, again))["status"] == "Success"


async def test_one_provider_in_two_chairs_is_always_accepted(clock: FakeClock, wire_for: Any) -> None:
    sandbox = SikkaSandbox(seed=7, clock=clock, reject_overlaps=True)
    world = sandbox.world
    chairs = sorted(o.operatory for o in world.operatories if o.practice_id == "1" and not o.is_hidden)
    taken, free_chair = next(
        (a, op)
        for a in sorted(world.appointments.values(), key=lambda a: (a.start, a.appointment_sr_no))
        if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today + dt.timedelta(days=1)
        for op in chairs
        if op != a.operatory and not world.blocking_appointments("1", op, a.start, a.end)
    )
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        headers = await wire_for(sandbox, client).key_headers()
        body = booking(
            another_patient(sandbox, taken.patient_id),
            taken.start,
            provider=taken.provider_id,
            op=free_chair,
            length=taken.length,
        )
        answer = await client.post("/appointment", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        clock.advance(90)
        item = await completed(client, sandbox, headers, answer)
    assert item["status"] == "Success", item["result"]
    new = world.appointments[item["created_id"]]
    assert (new.provider_id, new.start, new.operatory) == (taken.provider_id, taken.start, free_chair)
