"""Sikka rows -> domain models, the parts that decide something: provider kinds, status-derived flags, zones."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from pms_connect.models import ProviderKind
from pms_connect.sikka import _mapping as m
from pms_connect.sikka import _wire as w

read_appointment = TypeAdapter(w.AppointmentRow).validate_python


@pytest.mark.parametrize(
    ("provider_type", "specialty", "kind"),
    [
        ("Dentist", "", ProviderKind.DENTIST),
        ("DDS", None, ProviderKind.DENTIST),
        ("Provider", "General", ProviderKind.DENTIST),
        ("", "Orthodontics", ProviderKind.DENTIST),
        ("", "Oral Surgery", ProviderKind.DENTIST),
        ("Hygienist", "", ProviderKind.HYGIENIST),
        ("Provider", "Dental Hygiene", ProviderKind.HYGIENIST),
        ("Provider", "Dental Assistant", ProviderKind.OTHER),
        ("Staff", "", ProviderKind.OTHER),
        ("", "", ProviderKind.OTHER),
        (None, None, ProviderKind.OTHER),
    ],
)
def test_provider_kind(provider_type, specialty, kind):
    assert m.provider_kind(provider_type, specialty) is kind


@pytest.mark.parametrize(
    ("status", "active"),
    [("Active", True), ("ACTIVE", True), ("Inactive", False), ("INACTIVE", False), ("", True)],
)
def test_provider_status_decides_active(status, active):
    row = w.ProviderRow.model_validate({"provider_id": "P", "status": status})

    assert m.provider(row).active is active


@pytest.mark.parametrize(
    ("status", "cancelled", "confirmed"),
    [
        ("Scheduled", False, False),
        ("Cancelled", True, False),
        ("Broken", True, False),
        ("Confirmed", False, True),
        ("Unconfirmed", False, False),
        ("", False, False),
    ],
)
def test_appointment_flags_fall_back_to_the_status_text(status, cancelled, confirmed):
    row = read_appointment(
        {
            "appointment_sr_no": "1",
            "date": "2026-12-02T00:00:00",
            "time": "09:00",
            "length": "30",
            "status": status,
        }
    )

    appointment = m.appointment(row, ZoneInfo("America/Chicago"))

    assert (appointment.cancelled, appointment.confirmed) == (cancelled, confirmed)


def test_appointment_explicit_flags_win_over_the_status_text():
    row = read_appointment(
        {
            "appointment_sr_no": "1",
            "date": "2026-12-02T00:00:00",
            "time": "09:00",
            "length": "30",
            "status": "Cancelled",
            "cancelled": "False",
            "is_confirmed": "True",
        }
    )

    appointment = m.appointment(row, ZoneInfo("America/Chicago"))

    assert (appointment.cancelled, appointment.confirmed) == (False, True)


@pytest.mark.parametrize(
    ("zone", "day", "at", "utc_offset"),
    [
        ("America/Chicago", "2026-12-02T00:00:00", "10:30", timedelta(hours=-6)),
        ("America/Chicago", "2026-07-02T00:00:00", "10:30", timedelta(hours=-5)),
        ("Europe/London", "2026-07-02T00:00:00", "10:30", timedelta(hours=1)),
        ("Australia/Sydney", "2026-12-02T00:00:00", "10:30", timedelta(hours=11)),
    ],
)
def test_appointment_wall_clock_time_is_placed_in_the_practice_zone(zone, day, at, utc_offset):
    row = read_appointment({"appointment_sr_no": "1", "date": day, "time": at, "length": "45"})

    appointment = m.appointment(row, ZoneInfo(zone))

    assert appointment.start.replace(tzinfo=None) == datetime.fromisoformat(day).replace(hour=10, minute=30)
    assert appointment.start.utcoffset() == utc_offset
    assert appointment.end - appointment.start == timedelta(minutes=45)


def test_appointment_date_with_a_time_and_no_time_field_keeps_the_date_time():
    row = read_appointment({"appointment_sr_no": "1", "date": "2026-12-02T14:15:00", "time": "", "length": "30"})

    appointment = m.appointment(row, ZoneInfo("America/Chicago"))

    assert appointment.start == datetime(2026, 12, 2, 14, 15, tzinfo=ZoneInfo("America/Chicago"))
