"""Provider-neutral domain models.

Every model is a frozen pydantic model. Money is :class:`~decimal.Decimal`; times are time-zone aware, in the
practice's zone. Fields that hold PHI (names, birthdates, phones, emails, free text) are declared with
``repr=False`` so that a model's repr (and so a log line or traceback that prints one) never shows them.
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator

__all__ = [
    "Appointment",
    "BookingRequest",
    "Capability",
    "ConnectionCheck",
    "FeatureSet",
    "InsuranceCarrier",
    "InsuranceCoverage",
    "MatchStatus",
    "NewPatient",
    "Operatory",
    "Patient",
    "PatientMatch",
    "PaymentRequest",
    "Practice",
    "Provider",
    "ProviderKind",
    "TimeSlot",
    "Transaction",
    "Writeback",
    "WritebackKind",
    "WritebackResult",
    "WritebackState",
]


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be time-zone aware (naive datetimes are ambiguous)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_aware)]


def elapsed_after(start: datetime, duration: timedelta) -> datetime:
    """The moment ``duration`` of real time after ``start``, in ``start``'s zone. Python adds timedeltas to
    aware datetimes by wall clock, which is an hour off across a DST change."""
    return (start.astimezone(timezone.utc) + duration).astimezone(start.tzinfo)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _phi(default: Any = None) -> Any:
    """A field holding PHI: kept out of reprs."""
    return Field(default=default, repr=False)


class Capability(str, enum.Enum):
    """An operation a practice's PMS may or may not support through its provider."""

    READ_PRACTICES = "read_practices"
    READ_PROVIDERS = "read_providers"
    READ_OPERATORIES = "read_operatories"
    READ_APPOINTMENTS = "read_appointments"
    READ_PATIENTS = "read_patients"
    READ_INSURANCE = "read_insurance"
    READ_PAYMENTS = "read_payments"
    READ_SCHEDULES = "read_schedules"
    NATIVE_OPEN_SLOTS = "native_open_slots"
    BOOK_APPOINTMENT = "book_appointment"
    RESCHEDULE_APPOINTMENT = "reschedule_appointment"
    CHANGE_APPOINTMENT_STATUS = "change_appointment_status"
    CREATE_PATIENT = "create_patient"
    POST_PAYMENT = "post_payment"


class FeatureSet(_Model):
    """Which reads and writes the practice's PMS supports."""

    pms_name: str | None = None
    capabilities: frozenset[Capability] = frozenset()

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def __contains__(self, capability: object) -> bool:
        return capability in self.capabilities


class Practice(_Model):
    id: str
    name: str
    pms_name: str | None = None
    office_id: str | None = None


class ProviderKind(str, enum.Enum):
    DENTIST = "dentist"
    HYGIENIST = "hygienist"
    OTHER = "other"


class Provider(_Model):
    id: str
    first_name: str = ""
    last_name: str = ""
    kind: ProviderKind = ProviderKind.OTHER
    specialty: str | None = None
    active: bool = True
    hidden: bool = False
    practice_id: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.id


class Operatory(_Model):
    id: str
    name: str
    practice_id: str | None = None
    hidden: bool = False


class Appointment(_Model):
    id: str
    practice_id: str | None = None
    patient_id: str | None = None
    provider_id: str | None = None
    hygienist_id: str | None = None
    operatory: str | None = None
    start: AwareDatetime
    duration: timedelta
    status: str | None = None
    description: str | None = _phi()
    cancelled: bool = False
    confirmed: bool = False
    kind: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end(self) -> datetime:
        """``start + duration`` in elapsed time (in UTC, then back to the start's zone): right across DST."""
        return elapsed_after(self.start, self.duration)


class Patient(_Model):
    id: str
    first_name: str = _phi("")
    last_name: str = _phi("")
    preferred_name: str | None = _phi()
    birthdate: date | None = _phi()
    cell_phone: str | None = _phi()
    home_phone: str | None = _phi()
    work_phone: str | None = _phi()
    email: str | None = _phi()
    status: str | None = None
    practice_id: str | None = None
    provider_id: str | None = None
    guarantor_id: str | None = None

    @property
    def phones(self) -> tuple[str, ...]:
        return tuple(p for p in (self.cell_phone, self.home_phone, self.work_phone) if p)


class InsuranceCarrier(_Model):
    id: str
    name: str
    payer_id: str | None = None
    phone: str | None = None


class InsuranceCoverage(_Model):
    patient_id: str
    carrier_id: str | None = None
    subscriber_id: str | None = _phi()
    kind: str | None = None
    relationship: str | None = None
    effective_date: date | None = None
    deductible_remaining: Decimal | None = None


class Transaction(_Model):
    id: str
    patient_id: str | None = None
    provider_id: str | None = None
    kind: str
    date: dt.date
    amount: Decimal
    payment_type: str | None = None
    description: str | None = _phi()


class ConnectionCheck(_Model):
    """The outcome of :meth:`PmsProvider.test_connection`: never raised, always returned."""

    ok: bool
    practice_name: str | None = None
    pms_name: str | None = None
    latency_ms: float | None = None
    error: str | None = None


class TimeSlot(_Model):
    start: AwareDatetime
    end: AwareDatetime
    provider_id: str | None = None
    operatory: str | None = None

    @property
    def duration(self) -> timedelta:
        """Elapsed time, right across a DST change."""
        return self.end.astimezone(timezone.utc) - self.start.astimezone(timezone.utc)


class MatchStatus(str, enum.Enum):
    EXACT = "exact"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


class PatientMatch(_Model):
    status: MatchStatus
    patient: Patient | None = None
    candidates: tuple[Patient, ...] = ()


class BookingRequest(_Model):
    """A new appointment. ``start`` must be aware and in the future (checked when it is booked)."""

    patient_id: str = Field(min_length=1)
    provider_id: str = Field(min_length=1)
    start: AwareDatetime
    duration: timedelta
    operatory: str | None = None
    reason: str | None = _phi()
    practice_id: str | None = None

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("duration must be positive")
        if value % timedelta(minutes=1):
            raise ValueError("duration must be a whole number of minutes")
        return value


class NewPatient(_Model):
    first_name: str = Field(min_length=1, repr=False)
    last_name: str = Field(min_length=1, repr=False)
    birthdate: date | None = _phi()
    cell_phone: str | None = _phi()
    email: str | None = _phi()
    provider_id: str | None = None
    practice_id: str | None = None


class PaymentRequest(_Model):
    patient_id: str = Field(min_length=1)
    amount: Decimal
    payment_type: str = Field(min_length=1)
    provider_id: str | None = None
    guarantor_id: str | None = None
    date: dt.date | None = None
    practice_id: str | None = None
    note: str | None = _phi()

    @field_validator("amount")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("amount must be a finite, non-negative Decimal")
        return value


class WritebackKind(str, enum.Enum):
    BOOK_APPOINTMENT = "book_appointment"
    RESCHEDULE_APPOINTMENT = "reschedule_appointment"
    CHANGE_APPOINTMENT_STATUS = "change_appointment_status"
    CREATE_PATIENT = "create_patient"
    POST_PAYMENT = "post_payment"


class WritebackState(str, enum.Enum):
    """Where a write stands. Every state but ``pending`` is terminal.

    * ``written``: the PMS applied it (``created_id`` names a created record).
    * ``failed``: the PMS refused it; the reason is in ``message``.
    * ``not_applied``: the PMS never logged it within the reconcile window after an ambiguous failure (or
      refused it before logging it): it is not in the PMS, and sending it again is safe. The SDK never
      sends it again by itself; only the caller decides to.
    * ``timed_out``: its deadline passed while it was pending; it was withdrawn where the PMS allowed it.
    * ``cancelled``: withdrawn at the caller's request before it was applied.
    """

    PENDING = "pending"
    WRITTEN = "written"
    FAILED = "failed"
    NOT_APPLIED = "not_applied"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self is not WritebackState.PENDING


class Writeback(_Model):
    """A handle on a write, returned by every write call before the PMS has applied it.

    ``id`` is the SDK's own id of the write (its entry in the store's write journal), known before anything
    is sent. ``writeback_id`` is the PMS's tracking id, ``None`` while unknown. ``acknowledged`` is False
    when the PMS's answer was lost (a timeout, a dropped connection, a 5xx after sending): the write may or
    may not have reached the PMS, and the poller finds out from the PMS's own log, ending it ``written``,
    ``failed`` or ``not_applied``. Nothing is ever sent twice on the SDK's own initiative.
    """

    id: str
    kind: WritebackKind
    practice_id: str | None = None
    submitted_at: AwareDatetime
    deadline: AwareDatetime | None = None
    appointment_id: str | None = None
    writeback_id: str | None = None
    acknowledged: bool = True


class WritebackResult(_Model):
    """The outcome of a write. ``handle_id`` is :attr:`Writeback.id`; ``writeback_id`` the PMS's tracking id
    when one is known."""

    handle_id: str
    status: WritebackState
    writeback_id: str | None = None
    created_id: str | None = None
    message: str | None = None
    completed_at: AwareDatetime | None = None
