"""What some PMSs behind Sikka require beyond the common body of a write (``writeback.txt``'s notes).

Sikka queues any body; the PMS refuses a booking or a new patient without these fields minutes later. So a
write to such a PMS either carries them (the practice's own values, given once as
``SikkaProvider(pms_fields={...})``, or values the SDK can know) or is refused at once, before sending, naming
what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PmsRules", "rules_for"]


@dataclass(frozen=True)
class PmsRules:
    """One PMS's rules. ``*_fields`` are practice configuration the caller names in ``pms_fields``."""

    name: str
    booking_fields: tuple[str, ...] = ()
    patient_fields: tuple[str, ...] = ()
    per_patient_fields: tuple[str, ...] = ()
    """Fields a new patient needs that NewPatient does not carry: such a PMS cannot take new patients here."""
    native_slots: bool = False
    """Sikka's ``appointments_available_slots`` holds this PMS's openings (and bookings must match one)."""
    booking_flags: bool = False
    """Planet DDS: ``is_new_patient`` and ``has_insurance`` on every booking (the SDK knows both)."""
    description: bool = True
    """Whether the booking's ``description`` is a field of this PMS."""
    cancellation_note: bool = False
    """Whether ``cancellation_note`` is a field of this PMS's status change."""


_RULES = (
    PmsRules(
        "orthotrac",
        booking_fields=("staff", "type"),
        patient_fields=("staff", "status", "type"),
        per_patient_fields=("gender", "primary_relationship"),
        native_slots=True,
    ),
    PmsRules(
        "dolphin",
        booking_fields=("user", "status", "type"),
        patient_fields=("user",),
        native_slots=True,
        description=False,
    ),
    PmsRules(
        "planet dds",
        booking_fields=("production_type",),
        native_slots=True,
        booking_flags=True,
        description=False,
        cancellation_note=True,
    ),
    PmsRules("cleardent", booking_fields=("status", "type", "user")),
)
_COMMON = PmsRules("")


def rules_for(pms_name: str | None) -> PmsRules:
    """The rules of the practice's PMS, by its name as Sikka gives it (``"Dolphin Management"``)."""
    lowered = (pms_name or "").strip().lower()
    return next((r for r in _RULES if r.name in lowered), _COMMON)
