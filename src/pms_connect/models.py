"""Provider-neutral domain models.

Every model is a frozen pydantic model. Money is ``decimal.Decimal``; times are time-zone aware, in the
practice's zone. Fields that hold PHI (names, birthdates, phones, emails, free text) are declared with
``repr=False`` so that a model's repr (and so a log line or traceback that prints one) never shows them.
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, TypeVar

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


Model = TypeVar("Model", bound=BaseModel)


def prevalidated(model: type[Model], values: dict[str, Any]) -> Model:
    """``model`` built from ``values`` that a provider's wire model has already proved: every field given,
    each of its exact type. This is what ``model_construct`` does, without its per-field Python: a list of
    20,000 appointments is built 3x faster than by ``model_construct`` or validation. Nothing is checked, so
    anything not proved must be validated instead (tests compare both ways for every model built so)."""
    built = _new(model)
    _set_dict(built, values)
    _set_fields_set(built, set(values))
    _set_extra(built, None)
    _set_private(built, None)
    return built


# ``BaseModel``'s slots, set through their descriptors: a third cheaper than ``object.__setattr__`` (which
# looks each one up by name), and this runs for every row of a list.
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


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
    """The practice's PMS as the provider names it (e.g. ``"Dentrix"``), None when unknown."""
    capabilities: frozenset[Capability] = frozenset()

    def supports(self, capability: Capability) -> bool:
        """Whether the practice supports ``capability``: ask before a write, so that an unsupported one can be
        offered differently (a call-back, a message to the front desk) instead of failing at the PMS."""
        return capability in self.capabilities

    def __contains__(self, capability: object) -> bool:
        """``capability in features``, the same test as [supports][pms_connect.models.FeatureSet.supports]."""
        return capability in self.capabilities


class Practice(_Model):
    """A practice (a location) the credentials give access to."""

    id: str
    name: str
    pms_name: str | None = None
    """The practice's PMS, when the provider reports it with the practice."""
    account_id: str | None = None
    """The PMS-side account the practice belongs to, where the provider has one (Sikka: the office id)."""


class ProviderKind(str, enum.Enum):
    """What a provider does, as far as scheduling cares: hygiene visits go to hygienists, the rest to dentists.

    Derived from the PMS's provider type and specialty; ``other`` is staff or anything unrecognised.
    """

    DENTIST = "dentist"
    HYGIENIST = "hygienist"
    OTHER = "other"


class Provider(_Model):
    """A dentist, hygienist or other provider of the practice, as the PMS lists them."""

    id: str
    first_name: str = ""
    last_name: str = ""
    kind: ProviderKind = ProviderKind.OTHER
    specialty: str | None = None
    active: bool = True
    """False for a provider the PMS marks inactive (left the practice); such a provider is offered no slots."""
    hidden: bool = False
    """True for a provider the PMS hides from its appointment book."""
    practice_id: str | None = None

    @property
    def display_name(self) -> str:
        """``first_name last_name``, or the id when the PMS has no name: never empty, so always printable."""
        return f"{self.first_name} {self.last_name}".strip() or self.id


class Operatory(_Model):
    """A chair (operatory) of the practice; appointments and slots name it by ``id``."""

    id: str
    name: str
    """The PMS's short name for the chair (e.g. ``"OP1"``); the id when it has none."""
    practice_id: str | None = None
    hidden: bool = False
    """True for a chair the PMS hides from its appointment book: never booked by the SDK unless named."""


class Appointment(_Model):
    """An appointment in the practice's book, cancelled ones included (``cancelled`` says so)."""

    id: str
    practice_id: str | None = None
    patient_id: str | None = None
    provider_id: str | None = None
    hygienist_id: str | None = None
    """The hygienist booked alongside the provider, if any: that hygienist is busy for the visit too."""
    operatory: str | None = None
    """The chair's [Operatory.id][pms_connect.models.Operatory.id]."""
    start: AwareDatetime
    """Aware, in the practice's zone."""
    duration: timedelta
    status: str | None = None
    """The practice's own status name, as its PMS spells it (statuses differ from practice to practice)."""
    description: str | None = _phi()
    """Free text from the PMS, None when there is none (PHI: kept out of the repr)."""
    cancelled: bool = False
    """Whether the appointment is cancelled or broken (from the PMS's flag, else from its status name)."""
    confirmed: bool = False
    """Whether the patient confirmed (from the PMS's flag, else from its status name)."""
    kind: str | None = None
    """The PMS's appointment type, as it names it."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end(self) -> datetime:
        """``start + duration`` in elapsed time (in UTC, then back to the start's zone): right across DST."""
        return elapsed_after(self.start, self.duration)


class Patient(_Model):
    """A patient's chart. Only ``id`` is required: the names default to ``""``, every other field to None.
    Every personal field is PHI and kept out of the repr."""

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
    """The PMS's own patient status (e.g. active, inactive), as it spells it."""
    practice_id: str | None = None
    provider_id: str | None = None
    """The patient's primary provider, when the PMS records one."""
    guarantor_id: str | None = None
    """The patient responsible for the account (the PMS's guarantor); None when the PMS names none."""

    @property
    def phones(self) -> tuple[str, ...]:
        """The phones on file (cell, home, work, in that order), blanks left out: what caller matching and
        search compare a number with."""
        return tuple(p for p in (self.cell_phone, self.home_phone, self.work_phone) if p)


class InsuranceCarrier(_Model):
    """An insurance company the practice bills."""

    id: str
    name: str
    payer_id: str | None = None
    """The carrier's electronic payer id (for claims), when the PMS has one."""
    phone: str | None = None


class InsuranceCoverage(_Model):
    """One insurance plan covering a patient."""

    patient_id: str
    carrier_id: str | None = None
    """The [InsuranceCarrier.id][pms_connect.models.InsuranceCarrier.id] of the plan's carrier."""
    subscriber_id: str | None = _phi()
    """The subscriber's member id at the carrier, None when unknown (PHI: kept out of the repr)."""
    kind: str | None = None
    """The coverage's type, as the PMS names it."""
    relationship: str | None = None
    """The patient's relationship to the subscriber, as the PMS names it (e.g. self, spouse, child)."""
    effective_date: date | None = None
    deductible_remaining: Decimal | None = None


class Transaction(_Model):
    """A ledger entry: a charge, a payment or an adjustment, as the PMS records it."""

    id: str
    patient_id: str | None = None
    provider_id: str | None = None
    kind: str
    """The PMS's transaction type (e.g. procedure, payment, adjustment), as it names it."""
    date: dt.date
    amount: Decimal
    """The amount as the PMS's ledger shows it (its sign is the PMS's convention)."""
    payment_type: str | None = None
    """For a payment, the practice's payment type code."""
    description: str | None = _phi()
    """The procedure or entry description, None when there is none (PHI: kept out of the repr)."""


class ConnectionCheck(_Model):
    """The outcome of [PmsProvider.test_connection][pms_connect.protocol.PmsProvider.test_connection]: never
    raised, always returned, so that a health check or a setup screen can show why a practice is unreachable."""

    ok: bool
    practice_name: str | None = None
    pms_name: str | None = None
    latency_ms: float | None = None
    """How long the whole check took, in milliseconds."""
    error: str | None = None
    """Why the check failed (no secrets, no PHI), None when ``ok``."""


class TimeSlot(_Model):
    """An open slot: a provider free for the whole visit, in a chair that is free too."""

    start: AwareDatetime
    end: AwareDatetime
    provider_id: str | None = None
    operatory: str | None = None
    """The chair to book it in, when the slot was found with one."""

    @property
    def duration(self) -> timedelta:
        """Elapsed time, right across a DST change."""
        return self.end.astimezone(timezone.utc) - self.start.astimezone(timezone.utc)


class MatchStatus(str, enum.Enum):
    """How a caller matched: one chart (``exact``), several tied ones (``ambiguous``) or none (``none``)."""

    EXACT = "exact"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


class PatientMatch(_Model):
    """Who is calling: the matched chart when ``exact``, the tied charts when ``ambiguous``. The SDK never
    guesses between tied charts: ask the caller one more question (a birthdate) and match again."""

    status: MatchStatus
    patient: Patient | None = None
    """The chart, when ``status`` is ``exact``."""
    candidates: tuple[Patient, ...] = ()
    """The charts that tie, when ``status`` is ``ambiguous``."""


class BookingRequest(_Model):
    """A new appointment. ``start`` must be aware and in the future (checked when it is booked)."""

    patient_id: str = Field(min_length=1)
    provider_id: str = Field(min_length=1)
    start: AwareDatetime
    duration: timedelta
    """Positive, whole minutes."""
    operatory: str | None = None
    """The chair to book; None lets the SDK pick a free one."""
    reason: str | None = _phi()
    """The visit's reason or note, sent to the PMS; optional (PHI: kept out of the repr)."""
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
    """A patient to create: ``first_name`` and ``last_name`` are required, every other field defaults to None.
    Every personal field is PHI and kept out of the repr."""

    first_name: str = Field(min_length=1, repr=False)
    last_name: str = Field(min_length=1, repr=False)
    birthdate: date | None = _phi()
    cell_phone: str | None = _phi()
    email: str | None = _phi()
    provider_id: str | None = None
    """The patient's primary provider."""
    practice_id: str | None = None


class PaymentRequest(_Model):
    """A payment to post to a patient's ledger."""

    patient_id: str = Field(min_length=1)
    amount: Decimal
    """Above zero, at most two decimal places (checked when it is posted); the provider decides the sign it
    takes on the wire."""
    payment_type: str = Field(min_length=1)
    """One of the practice's payment type codes."""
    provider_id: str | None = None
    guarantor_id: str | None = None
    date: dt.date | None = None
    """The ledger date, not in the future; None means today in the practice's zone."""
    practice_id: str | None = None
    note: str | None = _phi()
    """Sent to the PMS with the payment; optional (PHI: kept out of the repr)."""

    @field_validator("amount")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("amount must be a finite, non-negative Decimal")
        return value


class WritebackKind(str, enum.Enum):
    """Which kind of write a [Writeback][pms_connect.models.Writeback] handle follows."""

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
        """Whether the state is final: anything but ``pending`` never changes again."""
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
    """When a still-pending write stops being useful (a booking: its start); it then ends ``timed_out``."""
    appointment_id: str | None = None
    """The appointment a reschedule or status change is about."""
    writeback_id: str | None = None
    acknowledged: bool = True


class WritebackResult(_Model):
    """The outcome of a write. ``handle_id`` is [Writeback.id][pms_connect.models.Writeback.id];
    ``writeback_id`` the PMS's tracking id when one is known."""

    handle_id: str
    status: WritebackState
    writeback_id: str | None = None
    created_id: str | None = None
    """The id of the record the write created (a new appointment or patient), when the PMS reports it."""
    message: str | None = None
    """The PMS's reason for a failure, or the SDK's for ``not_applied`` and ``timed_out``."""
    completed_at: AwareDatetime | None = None
    """When the write reached its terminal state; None while ``pending``."""
