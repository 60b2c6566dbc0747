"""What Sikka's docs say the provider must honour, end to end against the sandbox (issue: wire fidelity)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from pms_connect import (
    BookingRequest,
    DataReloadingError,
    NewPatient,
    UnsupportedOperationError,
    WritebackState,
)
from pms_connect.sikka import SikkaWriteOptions
from pms_connect.testing import FakeClock, SikkaSandbox


@pytest.fixture
def sandbox() -> SikkaSandbox:
    return SikkaSandbox(seed=11, clock=FakeClock())


async def test_data_insert_in_progress_is_raised_never_read_as_partial_data(sandbox: SikkaSandbox) -> None:
    """gs.txt: "User should not fetch data when data insert is in progress"."""
    async with sandbox.provider() as pms:
        patient = (await pms.patients.list()).items[0]
        await pms.known_providers()
        await pms.features()
        sandbox.faults.data_insert_in_progress = True
        with pytest.raises(DataReloadingError, match="reloading"):
            await pms.patients.list().all()
        day = pms.today() + timedelta(days=3)
        start = datetime.combine(day, time(6, 0), tzinfo=pms.timezone)
        with pytest.raises(DataReloadingError):  # the slot check cannot trust a partial appointment list
            await pms.appointments.book(
                BookingRequest(
                    patient_id=patient.id, provider_id="DMD1", start=start, duration=timedelta(minutes=30)
                )
            )
        sandbox.faults.data_insert_in_progress = False
        assert await pms.patients.list().all()
    assert not [r for r in sandbox.requests if r.method == "POST" and r.path == "/v4/appointment"]


@pytest.mark.parametrize("cap", [10, 4999])
async def test_every_patient_comes_back_under_a_licence_page_cap(cap: int) -> None:
    sandbox = SikkaSandbox(seed=11, clock=FakeClock(), page_cap=cap)
    async with sandbox.provider() as pms:
        rows = await pms.patients.list().all()
    expected = sorted(p.patient_id for p in sandbox.world.patients.values() if p.practice_id == "1")
    assert sorted(p.id for p in rows) == expected
    assert len({p.id for p in rows}) == len(rows)
    limits = [r.params.get("limit") for r in sandbox.requests if r.path == "/v4/patients"]
    assert limits[0] == "5000"
    assert set(limits[1:]) == ({str(cap)} if len(expected) > cap else set())


async def test_a_day_of_appointments_at_one_row_a_page_is_the_whole_day() -> None:
    sandbox = SikkaSandbox(seed=11, clock=FakeClock())
    async with sandbox.provider() as pms:
        day = pms.today() + timedelta(days=1)
        whole = await pms.appointments.list(start=day, end=day).all()
        sandbox.page_cap = 1
        capped = await pms.appointments.list(start=day, end=day).all()
    assert len(whole) > 5
    assert [a.id for a in capped] == [a.id for a in whole]


NATIVE = [
    ("OrthoTrac", {"staff": "STF1", "type": "5"}),
    ("Dolphin Management", {"user": "U1", "status": "Scheduled", "type": "NP"}),
    ("Planet DDS", {"production_type": "Hygiene"}),
]


@pytest.mark.parametrize(("pms_name", "fields"), NATIVE, ids=[n for n, _ in NATIVE])
async def test_a_pms_that_needs_more_fields_gets_them_or_nothing_is_sent(
    pms_name: str, fields: dict[str, str]
) -> None:
    """writeback.txt: OrthoTrac needs staff and type, Dolphin user, status and type, Planet DDS production_type,
    is_new_patient and has_insurance; without them the PMS refuses the booking minutes later."""
    sandbox = SikkaSandbox(seed=7, clock=FakeClock(), pms_name=pms_name)
    async with (
        sandbox.provider() as bare,
        sandbox.provider(writes=SikkaWriteOptions(pms_fields=fields)) as configured,
    ):
        week = {"start": sandbox.today, "end": sandbox.today + timedelta(days=6)}
        [slot] = await configured.appointments.find_slots(**week, duration=timedelta(minutes=30), limit=1)
        patient = next(p for p in sandbox.world.patients.values() if p.practice_id == "1" and p.status == "Active")
        request = BookingRequest(
            patient_id=patient.patient_id,
            provider_id=slot.provider_id or "",
            operatory=slot.operatory,
            start=slot.start,
            duration=timedelta(minutes=30),
        )
        with pytest.raises(UnsupportedOperationError, match=", ".join(fields)):
            await bare.appointments.book(request)
        assert sandbox.writebacks == []
        result = await configured.writebacks.wait(await configured.appointments.book(request))
    assert result.status is WritebackState.WRITTEN
    [sent] = sandbox.writebacks
    assert {k: sent.body[k] for k in fields} == fields
    if pms_name == "Planet DDS":
        assert sent.body["is_new_patient"] == "false"
        has = any(c.patient_id == patient.patient_id for c in sandbox.world.subscribers)
        assert sent.body["has_insurance"] == ("true" if has else "false")
        assert "description" not in sent.body  # not a field of Planet DDS


async def test_the_sandbox_refuses_what_the_pms_would_at_completion() -> None:
    """A client that sends a Dolphin patient without ``user`` (straight through the transport, not the SDK's
    checks): Sikka queues it, the PMS refuses it when the utility applies it."""
    sandbox = SikkaSandbox(seed=7, clock=FakeClock(), pms_name="Dolphin Management")
    body = {"firstname": "Nofields", "lastname": "Client", "provider_id": "DMD1", "practice_id": "1"}
    sandbox.writeback_delay = timedelta(0)
    async with sandbox.provider() as pms:
        response = await pms.client.practice_call("POST", "patient", json_body=body, idempotent=False)
        assert response.status_code == 201
        await sandbox.run_writebacks()
    [record] = sandbox.writebacks
    assert record.state == "failed"
    assert "user" in record.result


async def test_new_patients_at_orthotrac_are_refused_at_once_and_dolphin_needs_its_user() -> None:
    for pms_name, fields, ok in [
        ("OrthoTrac", {"staff": "S", "status": "A", "type": "T"}, False),  # gender etc. per patient
        ("Dolphin Management", {}, False),
        ("Dolphin Management", {"user": "U1"}, True),
    ]:
        sandbox = SikkaSandbox(seed=7, clock=FakeClock(), pms_name=pms_name)
        async with sandbox.provider(writes=SikkaWriteOptions(pms_fields=fields)) as pms:
            if ok:
                handle = await pms.patients.create(NewPatient(first_name="Ada", last_name="Lovelace"))
                assert (await pms.writebacks.wait(handle)).status is WritebackState.WRITTEN
                assert sandbox.writebacks[0].body["user"] == "U1"
            else:
                with pytest.raises(UnsupportedOperationError):
                    await pms.patients.create(NewPatient(first_name="Ada", last_name="Lovelace"))
                assert sandbox.writebacks == []
