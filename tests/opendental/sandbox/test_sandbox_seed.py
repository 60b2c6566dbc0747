"""The seeded practice: deterministic per seed, laid out around the clock's today."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from pms_connect.opendental.sandbox.seed import WINDOW_AHEAD, WINDOW_BACK
from pms_connect.testing import FakeClock, OpenDentalSandbox


def snapshot(sandbox: OpenDentalSandbox) -> dict[str, object]:
    return dataclasses.asdict(sandbox.data)


def test_the_same_seed_and_day_give_the_same_practice() -> None:
    first = OpenDentalSandbox(seed=11, clock=FakeClock())
    assert snapshot(first) == snapshot(OpenDentalSandbox(seed=11, clock=FakeClock()))
    assert snapshot(first) != snapshot(OpenDentalSandbox(seed=12, clock=FakeClock()))


def test_the_practice_moves_with_the_clock() -> None:
    later = OpenDentalSandbox(seed=7, clock=FakeClock(dt.datetime(2027, 3, 2, 15, tzinfo=dt.timezone.utc)))
    assert later.today == dt.date(2027, 3, 2)
    days = sorted(s.day for s in later.data.schedules.values())
    assert days[0] >= later.today - dt.timedelta(days=WINDOW_BACK)
    assert days[-1] <= later.today + dt.timedelta(days=WINDOW_AHEAD)


def test_what_the_practice_holds(sandbox: OpenDentalSandbox) -> None:
    data = sandbox.data
    assert 4 <= len(data.providers) <= 6
    assert 4 <= len(data.operatories) <= 6
    assert 75 <= len(data.patients) <= 85
    statuses = Counter(a.status for a in data.appointments.values())
    assert {"Scheduled", "Complete", "Broken", "UnschedList", "Planned"} <= set(statuses)
    assert statuses["Complete"] > statuses["Broken"]
    assert data.carriers
    assert data.plans
    assert data.subs
    assert data.patplans
    assert data.payments
    assert data.category(2)[0].item_name == "Not Called"
    assert {d.item_name for d in data.category(10)} >= {"Check", "Cash", "Credit Card"}
    days = {s.day for s in data.schedules.values() if s.sched_type == "Provider"}
    assert all(day.weekday() < 5 for day in days)
    assert min(days) <= sandbox.today - dt.timedelta(days=WINDOW_BACK - 3)
    assert max(days) >= sandbox.today + dt.timedelta(days=WINDOW_AHEAD - 3)
    assert not data.clinics
    assert {o.clinic_num for o in data.operatories.values()} == {0}


def test_one_appointment_spans_the_windows_dst_change(sandbox: OpenDentalSandbox) -> None:
    zone = ZoneInfo(sandbox.timezone)

    def offset(moment: dt.datetime) -> dt.timedelta | None:
        return moment.replace(tzinfo=zone).utcoffset()

    spanning = [a for a in sandbox.data.appointments.values() if offset(a.start) != offset(a.end)]
    assert len(spanning) == 1
    assert spanning[0].start.date() == dt.date(2026, 11, 1)  # the fall-back Sunday in the FakeClock's window


def test_clinics_are_a_switch() -> None:
    sandbox = OpenDentalSandbox(clock=FakeClock(), clinics=True)
    assert sorted(sandbox.data.clinics) == [1, 2]
    assert {o.clinic_num for o in sandbox.data.operatories.values()} == {0, 1, 2}
    assert {a.clinic_num for a in sandbox.data.appointments.values() if a.op} <= {1, 2}
