"""Elapsed-time arithmetic on models is right across DST changes (Python's aware arithmetic is wall-clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pms_connect.models import Appointment, Patient, TimeSlot
from pms_connect.windows import window

CHICAGO = ZoneInfo("America/Chicago")


def test_appointment_end_is_elapsed_time_across_the_fall_back_change() -> None:
    # 2026-11-01 01:30 CDT + 60 min of real time = 01:30 CST (the clock fell back at 02:00 CDT).
    start = datetime(2026, 11, 1, 1, 30, tzinfo=CHICAGO)
    appointment = Appointment(id="1", start=start, duration=timedelta(minutes=60))
    assert (appointment.end.hour, appointment.end.minute, appointment.end.fold) == (1, 30, 1)
    assert (appointment.end.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))) == timedelta(hours=1)
    assert appointment.end.utcoffset() == timedelta(hours=-6)


def test_appointment_end_is_elapsed_time_across_the_spring_forward_change() -> None:
    start = datetime(2026, 3, 8, 1, 30, tzinfo=CHICAGO)
    appointment = Appointment(id="1", start=start, duration=timedelta(minutes=60))
    assert (appointment.end.hour, appointment.end.minute) == (3, 30)  # 02:30 does not exist that night


def test_time_slot_duration_counts_real_minutes() -> None:
    slot = TimeSlot(
        start=datetime(2026, 3, 8, 1, 30, tzinfo=CHICAGO), end=datetime(2026, 3, 8, 3, 30, tzinfo=CHICAGO)
    )
    assert slot.duration == timedelta(hours=1)


def test_window_overlap_compares_real_instants() -> None:
    span = window(
        datetime(2026, 11, 1, 1, 0, tzinfo=CHICAGO), datetime(2026, 11, 1, 1, 59, tzinfo=CHICAGO), CHICAGO
    )
    # 01:30 CST (fold=1) is after the window's 01:59 CDT in real time.
    later = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=CHICAGO)
    assert not span.overlaps(later, later + timedelta(minutes=10))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        Appointment(id="1", start=datetime(2026, 1, 1, 9), duration=timedelta(minutes=30))


def test_patient_repr_shows_no_phi() -> None:
    patient = Patient(id="7", first_name="Canaryfirst", last_name="Canarylast", cell_phone="555-010-9999")
    for text in (repr(patient), str(patient)):
        assert "Canary" not in text
        assert "9999" not in text
