"""The sandbox's world: typed records of one fake Sikka tenant, and the mutable state that holds them.

Records are frozen dataclasses so that a seeded world can be cached and shared between sandboxes; a change
(a completed writeback) replaces a record in the owning dict instead of mutating it. Dates and times are
practice-local wall-clock values (naive), exactly as a PMS stores them; Sikka adds no zone either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "BLOCKING_EXEMPT_STATUSES",
    "WEEKDAYS",
    "AppointmentRecord",
    "InsuranceCompany",
    "Office",
    "OperatoryRecord",
    "PatientRecord",
    "PaymentType",
    "PmsSupport",
    "PracticeRecord",
    "ProviderRecord",
    "SandboxApp",
    "Schedule",
    "Subscriber",
    "TransactionRecord",
    "World",
]

#: Sikka's weekday order in ``practice_schedule`` (Sunday first).
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

#: Statuses that free an appointment's chair time (``cancelled`` is "True" for them).
BLOCKING_EXEMPT_STATUSES = frozenset({"cancelled", "broken"})

HoursBlock = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class SandboxApp:
    """A Sikka application (app-level credentials) and the APIs its plan allows."""

    app_id: str
    app_key: str
    name: str
    scope: tuple[str, ...]


@dataclass(frozen=True)
class Office:
    """A Sikka office (one install of the practice utility); it can hold several practices."""

    office_id: str
    secret_key: str
    practice_ids: tuple[str, ...]
    authorized_app_ids: tuple[str, ...]


@dataclass(frozen=True)
class PracticeRecord:
    practice_id: str
    office_id: str
    name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    zipcode: str
    phone: str
    email: str
    website: str
    cust_id: str
    pms_name: str
    pms_version: str
    is_main_office: bool


@dataclass(frozen=True)
class ProviderRecord:
    practice_id: str
    provider_id: str
    firstname: str
    lastname: str
    provider_type: str
    specialty: str
    status: str
    is_hidden: bool
    national_provider_identifier: str
    email: str
    phone: str

    @property
    def active(self) -> bool:
        return self.status == "Active"


@dataclass(frozen=True)
class OperatoryRecord:
    practice_id: str
    operatory: str
    abbreviation: str
    is_hidden: bool
    cust_id: str


@dataclass(frozen=True)
class Schedule:
    """Weekly working hours of a practice, provider or operatory for the week starting ``week_start``.

    ``hours[i]`` holds up to three blocks for weekday ``WEEKDAYS[i]``; ``holidays[i]`` marks a closure.
    """

    practice_id: str
    resource_type: str
    resource_id: str
    week_start: dt.date
    hours: tuple[tuple[HoursBlock, ...], ...]
    holidays: tuple[bool, ...]
    cust_id: str

    def blocks_on(self, day: dt.date) -> tuple[HoursBlock, ...]:
        index = (day.weekday() + 1) % 7
        return () if self.holidays[index] else self.hours[index]


@dataclass(frozen=True)
class PatientRecord:
    practice_id: str
    patient_id: str
    guarantor_id: str
    firstname: str
    middlename: str
    lastname: str
    preferred_name: str
    salutation: str
    birthdate: dt.date | None
    gender: str
    status: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    zipcode: str
    homephone: str
    workphone: str
    cell: str
    email: str
    provider_id: str
    first_visit: dt.date | None
    last_visit: dt.date | None
    primary_insurance_company_id: str
    subscriber_id: str
    primary_relationship: str
    created_date: dt.date
    last_changed: dt.datetime


@dataclass(frozen=True)
class AppointmentRecord:
    practice_id: str
    appointment_sr_no: str
    patient_id: str
    guarantor_id: str
    provider_id: str
    hygienist: str
    operatory: str
    start: dt.datetime
    length: int
    status: str
    description: str
    type: str
    note: str
    procedure_codes: tuple[str, ...]
    procedure_amounts: tuple[Decimal, ...]
    appointment_made_date: dt.date
    confirmed_on_date: dt.date | None
    cancelled_date: dt.date | None
    last_changed: dt.datetime
    patient_name: str
    guarantor_name: str

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.length)

    @property
    def cancelled(self) -> bool:
        return self.status.lower() in BLOCKING_EXEMPT_STATUSES

    @property
    def is_confirmed(self) -> bool:
        return self.status.lower() == "confirmed"

    @property
    def amount(self) -> Decimal:
        return sum(self.procedure_amounts, Decimal(0))

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class InsuranceCompany:
    practice_id: str
    insurance_company_id: str
    name: str
    address_line1: str
    city: str
    state: str
    zipcode: str
    phone: str
    payer_id: str
    group_plan_name: str
    group_plan_number: str
    plan_type: str
    maximum_yearly_benefit: Decimal
    individual_deductible_limit: Decimal
    family_deductible_limit: Decimal
    renew_month: str


@dataclass(frozen=True)
class Subscriber:
    practice_id: str
    patient_id: str
    subscriber_id: str
    type: str
    insurance_company_id: str
    employer_name: str
    patient_relation: str
    individual_used: Decimal
    individual_deductible_remaining: Decimal
    insurance_effective_date: dt.date | None


@dataclass(frozen=True)
class TransactionRecord:
    practice_id: str
    transaction_sr_no: str
    transaction_type: str
    transaction_date: dt.date
    entry_date: dt.date
    patient_id: str
    guarantor_id: str
    provider_id: str
    procedure_code: str
    procedure_description: str
    amount: Decimal
    payment_type: str
    note: str
    appointment_sr_no: str
    last_changed: dt.datetime


@dataclass(frozen=True)
class PaymentType:
    practice_id: str
    code: str
    description: str
    kind: str  # "payment", "insurance", "credit_adjustment", "debit_adjustment"


@dataclass(frozen=True)
class PmsSupport:
    """One row of ``supported_pmses``: which writebacks a PMS accepts."""

    practice_management_system: str
    practice_management_system_version: str
    new_appointment_writeback: bool
    appointment_status_writeback: bool
    new_patient_writeback: bool
    payment_writeback: bool
    note_writeback: bool = False
    insurance_payment_writeback: bool = False


@dataclass
class World:
    """Everything the fake Sikka knows. Big collections are dicts keyed by id; small ones are lists."""

    today: dt.date
    apps: dict[str, SandboxApp]
    offices: dict[str, Office]
    practices: dict[str, PracticeRecord]
    providers: list[ProviderRecord]
    operatories: list[OperatoryRecord]
    schedules: list[Schedule]
    patients: dict[str, PatientRecord]
    appointments: dict[str, AppointmentRecord]
    carriers: dict[str, InsuranceCompany]
    subscribers: list[Subscriber]
    transactions: dict[str, TransactionRecord]
    payment_types: list[PaymentType]
    appointment_statuses: tuple[str, ...]
    supported_pmses: list[PmsSupport]
    _next_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def practices_of_office(self, office_id: str) -> list[PracticeRecord]:
        return [p for p in self.practices.values() if p.office_id == office_id]

    def provider(self, practice_id: str, provider_id: str) -> ProviderRecord | None:
        for provider in self.providers:
            if provider.practice_id == practice_id and provider.provider_id == provider_id:
                return provider
        return None

    def operatory(self, practice_id: str, name: str) -> OperatoryRecord | None:
        for operatory in self.operatories:
            if operatory.practice_id == practice_id and operatory.operatory == name:
                return operatory
        return None

    def patient(self, practice_id: str, patient_id: str) -> PatientRecord | None:
        patient = self.patients.get(patient_id)
        return patient if patient is not None and patient.practice_id == practice_id else None

    def legal_status(self, value: str) -> str | None:
        """The canonical spelling of an appointment status, or None when the PMS does not know it."""
        for status in self.appointment_statuses:
            if status.lower() == value.strip().lower():
                return status
        return None

    def pms_support(self, pms_name: str) -> PmsSupport | None:
        for row in self.supported_pmses:
            if row.practice_management_system.lower() == pms_name.lower():
                return row
        return None

    def next_id(self, kind: str) -> str:
        """Allocate the next id of a kind ("appointment", "patient", "transaction")."""
        if kind not in self._next_ids:
            pools: dict[str, list[str]] = {
                "appointment": list(self.appointments),
                "patient": list(self.patients),
                "transaction": list(self.transactions),
            }
            self._next_ids[kind] = max((int(i) for i in pools[kind]), default=0) + 1
        value = self._next_ids[kind]
        self._next_ids[kind] = value + 1
        return str(value)

    def blocking_appointments(
        self, practice_id: str, operatory: str, start: dt.datetime, end: dt.datetime, *, ignore: str = ""
    ) -> list[AppointmentRecord]:
        """Non-cancelled appointments in ``operatory`` that overlap ``[start, end)``."""
        return [
            a
            for a in self.appointments.values()
            if a.practice_id == practice_id
            and a.operatory == operatory
            and a.appointment_sr_no != ignore
            and not a.cancelled
            and a.overlaps(start, end)
        ]
