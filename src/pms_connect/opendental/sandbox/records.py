"""The practice's database as the sandbox holds it: one mutable record a row, keyed by its primary key.

Records keep typed values (dates, decimals, booleans); ``render`` turns them into Open Dental's wire shapes.
Writes change the records in place, at once: Open Dental applies a write while its request runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "DbAppointment",
    "DbAppointmentType",
    "DbCarrier",
    "DbClinic",
    "DbDefinition",
    "DbInsPlan",
    "DbInsSub",
    "DbOperatory",
    "DbPatPlan",
    "DbPatient",
    "DbPayment",
    "DbProvider",
    "DbSchedule",
    "PracticeData",
]

#: definition.Category numbers and their names [OD-defs]
CATEGORY_NAMES: dict[int, str] = {
    1: "AdjTypes",
    2: "ApptConfirmed",
    4: "BillingTypes",
    10: "PaymentTypes",
    13: "RecallUnschedStatus",
    25: "BlockoutTypes",
    35: "ProviderSpecialties",
}


@dataclass
class DbClinic:
    clinic_num: int
    description: str
    address: str
    city: str
    state: str
    zip: str
    phone: str
    abbr: str
    is_hidden: bool = False


@dataclass
class DbProvider:
    prov_num: int
    abbr: str
    lname: str
    fname: str
    mi: str
    suffix: str
    specialty: int
    is_secondary: bool
    color: str
    stamp: dt.datetime
    state_license: str = ""
    npi: str = ""
    ssn: str = ""
    fee_sched: int = 53
    is_hidden: bool = False
    status: str = "Active"
    using_tin: bool = False
    sig_on_file: bool = False
    is_not_person: bool = False
    is_hidden_report: bool = False
    birthdate: dt.date | None = None
    sched_note: str = ""
    preferred_name: str = ""
    clinics: tuple[int, ...] = ()
    """The clinics the provider is restricted to (none: unrestricted)."""


@dataclass
class DbOperatory:
    op_num: int
    name: str
    abbrev: str
    item_order: int
    prov_dentist: int = 0
    prov_hygienist: int = 0
    is_hygiene: bool = False
    clinic_num: int = 0
    is_hidden: bool = False
    set_prospective: bool = False
    is_web_sched: bool = False


@dataclass
class DbSchedule:
    schedule_num: int
    day: dt.date
    start: dt.time
    stop: dt.time
    sched_type: str  # Practice | Provider | Blockout | Employee | WebSchedASAP
    prov_num: int = 0
    blockout_type: int = 0
    note: str = ""
    ops: tuple[int, ...] = ()
    employee_num: int = 0


@dataclass
class DbDefinition:
    def_num: int
    category: int
    item_name: str
    item_value: str = ""
    item_order: int = 0
    is_hidden: bool = False


@dataclass
class DbAppointmentType:
    num: int
    name: str
    color: str
    pattern: str
    code_str: str = ""
    code_str_required: str = ""
    required_needed: str = "None"  # None | AtLeastOne | All
    blockout_types: str = ""
    is_hidden: bool = False


@dataclass
class DbPatient:
    pat_num: int
    lname: str
    fname: str
    birthdate: dt.date | None
    gender: str
    position: str
    guarantor: int
    stamp: dt.datetime
    sec_date_entry: dt.date
    middle_i: str = ""
    preferred: str = ""
    status: str = "Patient"
    ssn: str = ""
    address: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    hm_phone: str = ""
    wk_phone: str = ""
    wireless_phone: str = ""
    email: str = ""
    est_balance: Decimal = Decimal("0")
    pri_prov: int = 0
    sec_prov: int = 0
    billing_type: str = "Standard Account"
    fam_fin_urg_note: str = ""
    chart_number: str = ""
    medicaid_id: str = ""
    employer_num: int = 0
    date_first_visit: dt.date | None = None
    clinic_num: int = 0
    ward: str = ""
    prefer_confirm: str = "None"
    prefer_contact: str = "None"
    prefer_recall: str = "None"
    language: str = ""
    admit_date: dt.date | None = None
    super_family: int = 0
    txt_msg_ok: str = "Unknown"
    site_desc: str = ""

    @property
    def phones(self) -> tuple[str, str, str]:
        return (self.hm_phone, self.wk_phone, self.wireless_phone)


@dataclass
class DbAppointment:
    apt_num: int
    pat_num: int
    status: str  # Scheduled | Complete | UnschedList | ASAP | Broken | Planned | PtNote | PtNoteCompleted
    pattern: str
    confirmed: int
    op: int
    prov_num: int
    start: dt.datetime
    stamp: dt.datetime
    entered: dt.datetime
    note: str = ""
    prov_hyg: int = 0
    time_locked: bool = False
    next_apt_num: int = 0
    unsched_status: int = 0
    is_new_patient: bool = False
    proc_descript: str = ""
    clinic_num: int = 0
    is_hygiene: bool = False
    arrived: dt.datetime | None = None
    seated: dt.datetime | None = None
    dismissed: dt.datetime | None = None
    asked_to_arrive: dt.datetime | None = None
    ins_plan1: int = 0
    ins_plan2: int = 0
    color_override: str = "0,0,0"
    appointment_type_num: int = 0
    priority: str = "Normal"
    pattern_secondary: str = ""
    item_order_planned: int = 0

    @property
    def length(self) -> dt.timedelta:
        """One pattern character is five minutes [OD-appts]."""
        return dt.timedelta(minutes=5 * len(self.pattern))

    @property
    def end(self) -> dt.datetime:
        return self.start + self.length


@dataclass
class DbCarrier:
    carrier_num: int
    name: str
    address: str
    city: str
    state: str
    zip: str
    phone: str
    elect_id: str
    address2: str = ""
    no_send_elect: str = "SendElect"
    is_hidden: bool = False


@dataclass
class DbInsPlan:
    plan_num: int
    carrier_num: int
    group_name: str
    group_num: str
    plan_type: str  # "" (percentage) | p | f | c
    employer_num: int
    edited: dt.datetime
    entered: dt.date
    plan_note: str = ""
    fee_sched: int = 0
    claim_form_num: int = 1
    copay_fee_sched: int = 0
    is_medical: bool = False
    code_subst_none: bool = False
    is_hidden: bool = False
    month_renew: int = 0
    sec_user_num_entry: int = 0
    is_blue_book_enabled: bool = False


@dataclass
class DbInsSub:
    ins_sub_num: int
    plan_num: int
    subscriber: int
    subscriber_id: str
    date_effective: dt.date | None
    edited: dt.datetime
    date_term: dt.date | None = None
    benefit_notes: str = ""
    release_info: bool = True
    assign_ben: bool = True
    subsc_note: str = ""


@dataclass
class DbPatPlan:
    pat_plan_num: int
    pat_num: int
    ordinal: int
    relationship: str
    ins_sub_num: int
    entered: dt.datetime
    edited: dt.datetime
    is_pending: bool = False
    pat_id: str = ""


@dataclass
class DbPayment:
    pay_num: int
    pay_type: int
    pay_date: dt.date
    amount: Decimal
    pat_num: int
    date_entry: dt.date
    edited: dt.datetime
    check_num: str = ""
    bank_branch: str = ""
    note: str = ""
    clinic_num: int = 0
    deposit_num: int = 0
    receipt: str = ""
    is_recurring_cc: bool = False
    sec_user_num_entry: int = 0
    source: str = "None"
    process_status: str = "OfficeProcessed"
    is_cc_completed: bool = False


@dataclass
class PracticeData:
    """Every table of the seeded practice, and the counters that give new rows their numbers."""

    clinics: dict[int, DbClinic] = field(default_factory=dict)
    providers: dict[int, DbProvider] = field(default_factory=dict)
    operatories: dict[int, DbOperatory] = field(default_factory=dict)
    schedules: dict[int, DbSchedule] = field(default_factory=dict)
    definitions: dict[int, DbDefinition] = field(default_factory=dict)
    appointment_types: dict[int, DbAppointmentType] = field(default_factory=dict)
    patients: dict[int, DbPatient] = field(default_factory=dict)
    appointments: dict[int, DbAppointment] = field(default_factory=dict)
    carriers: dict[int, DbCarrier] = field(default_factory=dict)
    plans: dict[int, DbInsPlan] = field(default_factory=dict)
    subs: dict[int, DbInsSub] = field(default_factory=dict)
    patplans: dict[int, DbPatPlan] = field(default_factory=dict)
    payments: dict[int, DbPayment] = field(default_factory=dict)
    preferences: dict[str, str] = field(default_factory=dict)
    """PrefName -> ValueString (PracticeDefaultProv, ApiPaymentType, PracticeTitle, ...)."""
    first_schedule_op_num: int = 156

    @property
    def default_provider(self) -> int:
        return int(self.preferences.get("PracticeDefaultProv", "0") or 0)

    @property
    def uses_clinics(self) -> bool:
        return any(not c.is_hidden for c in self.clinics.values())

    def next_num(self, table: Mapping[int, object]) -> int:
        """The next primary key of ``table`` (one past the largest; Open Dental's are auto-increment)."""
        return max(table, default=0) + 1

    def category(self, number: int, *, hidden: bool = False) -> list[DbDefinition]:
        """A definition category's items in their order (hidden ones only when asked)."""
        rows = [d for d in self.definitions.values() if d.category == number and (hidden or not d.is_hidden)]
        return sorted(rows, key=lambda d: (d.item_order, d.def_num))

    def def_name(self, def_num: int) -> str:
        row = self.definitions.get(def_num)
        return row.item_name if row else ""

    def prov_abbr(self, prov_num: int) -> str:
        row = self.providers.get(prov_num)
        return row.abbr if row else ""

    def clinic_abbr(self, clinic_num: int) -> str:
        row = self.clinics.get(clinic_num)
        return row.abbr if row else ""

    def family(self, guarantor: int) -> list[DbPatient]:
        return [p for p in self.patients.values() if p.guarantor == guarantor]

    def schedule_ops(self) -> list[tuple[int, int, int]]:
        """``(ScheduleOpNum, ScheduleNum, OperatoryNum)`` for every schedule's operatories, numbered in order."""
        rows: list[tuple[int, int, int]] = []
        number = self.first_schedule_op_num
        for schedule in sorted(self.schedules.values(), key=lambda s: s.schedule_num):
            for op in schedule.ops:
                rows.append((number, schedule.schedule_num, op))
                number += 1
        return rows

    def coverage(self, pat_num: int) -> list[DbPatPlan]:
        """The patient's patplans by ordinal: no row, no coverage [OD-patplans]."""
        return sorted((p for p in self.patplans.values() if p.pat_num == pat_num), key=lambda p: p.ordinal)

    def plans_of(self, pat_num: int) -> tuple[int, int]:
        """``(InsPlan1, InsPlan2)``: the PlanNums of the patient's primary and secondary coverage."""
        nums = []
        for patplan in self.coverage(pat_num):
            sub = self.subs.get(patplan.ins_sub_num)
            if sub is not None:
                nums.append(sub.plan_num)
        nums += [0, 0]
        return nums[0], nums[1]
