"""What Sikka's docs say the provider must honour, end to end against the sandbox (issue: wire fidelity)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from pms_connect import BookingRequest, DataReloadingError
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
