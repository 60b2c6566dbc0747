"""Static tables behind the sandbox's invented practices: name pools, carriers, procedures, staff, hours.

Names are common given names and surnames, combined at random later; phones use the fictional 555 area code;
carriers and practices are made up. Look-alike names (Jon/John, Smith/Smyth, Katherine/Catherine) are here on
purpose, so that patient matching meets the cases it must not get wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from pms_connect.sikka.sandbox.data import (
    HoursBlock,
    OperatoryRecord,
    PmsSupport,
    PracticeRecord,
    ProviderRecord,
    SandboxApp,
)


def token(label: str) -> str:
    return hashlib.sha256(f"pms-connect-sandbox:{label}".encode()).hexdigest()[:32]


#: APIs the demo app's plan may call: every endpoint the sandbox serves.
DEMO_SCOPE = (
    "start",
    "end",
    "appointment_statuses",
    "appointments",
    "appointments_available_slots",
    "authorized_practices",
    "data_sync_status",
    "insurance_companies",
    "operatories",
    "patients",
    "payment_types",
    "practice_schedule",
    "practice_variables",
    "practices",
    "providers",
    "request_keys",
    "subscribers",
    "supported_pmses",
    "transactions",
    "writeback_status",
    "writebacks",
    "POST appointment",
    "PUT appointments",
    "PATCH appointments",
    "POST patient",
    "POST transaction",
)
DEMO_APP = SandboxApp(app_id=token("app-id"), app_key=token("app-key"), name="Sandbox Demo App", scope=DEMO_SCOPE)
OTHER_APP = SandboxApp(
    app_id=token("other-app-id"), app_key=token("other-app-key"), name="Another Vendor", scope=("patients",)
)
DEMO_OFFICE_ID = "D10042"
OTHER_OFFICE_ID = "D20913"

APPOINTMENT_STATUSES = ("Scheduled", "Confirmed", "Arrived", "Complete", "Cancelled", "Broken")

SUPPORTED_PMSES = (
    PmsSupport("Dentrix", "G7", True, True, True, True, True, True),
    PmsSupport("Dentrix Enterprise", "11.0", True, True, True, False),
    PmsSupport("Eaglesoft", "22.00", True, True, True, True, True, False),
    PmsSupport("Open Dental", "23.1", True, True, True, True, True, True),
    PmsSupport("OrthoTrac", "11.8", True, True, True, False),
    PmsSupport("Dolphin Management", "V12", True, True, True, False),
    PmsSupport("Planet DDS", "WebV3.0", True, True, True, True),
    PmsSupport("Curve Dental", "Hero", False, True, True, False),
    PmsSupport("Practice-Web", "21.1", False, False, False, False),
)

MALE_NAMES = (
    "James", "John", "Jon", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Stephen", "Paul", "Andrew", "Joshua",
    "Kevin", "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Geoffrey", "Ryan", "Jacob",
    "Gary", "Nicholas", "Eric", "Jonathan", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel",
    "Gregory", "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Tyler", "Aaron", "Jose", "Adam",
    "Nathan", "Henry", "Zachary", "Kyle", "Noah", "Ethan", "Luis", "Mateo", "Omar", "Wei", "Arjun", "Kwame",
)  # fmt: skip
FEMALE_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Sara",
    "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
    "Katherine", "Catherine", "Kathryn", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma",
    "Nicole", "Helen", "Samantha", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Maria", "Olivia",
    "Sophia", "Isabella", "Mia", "Ava", "Grace", "Chloe", "Camila", "Priya", "Mei", "Aisha", "Fatima", "Ana",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Smyth", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Andersen", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "Thomson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Reid", "Reed", "Meyer", "Meier", "Kowalski", "Novak", "Okafor", "Patel", "Chen", "Kim", "Singh",
    "O'Brien", "McCarthy", "Schmidt", "Murphy", "Cook", "Morgan", "Bell", "Cooper", "Howard", "Ward",
)  # fmt: skip
PREFERRED_NAMES = {
    "Katherine": "Kate",
    "Catherine": "Cathy",
    "Kathryn": "Katie",
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Margaret": "Peggy",
    "Michael": "Mike",
    "Jonathan": "Jon",
    "Alexander": "Alex",
    "Christopher": "Chris",
    "Samantha": "Sam",
    "Rebecca": "Becky",
    "Richard": "Rick",
    "Joseph": "Joe",
    "Nicholas": "Nick",
    "Jennifer": "Jen",
    "Benjamin": "Ben",
    "Patricia": "Trish",
    "Timothy": "Tim",
}
STREETS = (
    "Maple Ave", "Oak St", "Cedar Ln", "Elm St", "Lakeview Dr", "Prairie Rd", "Willow Ct", "Birch Way",
    "Hillside Ave", "Orchard Ln", "Sunset Blvd", "Park Pl", "River Rd", "Meadow Dr", "Chestnut St",
)  # fmt: skip
CITIES = (
    ("Maplewood", "IL", "60101"), ("Fairview", "IL", "60102"), ("Lakeside", "IL", "60103"),
    ("Brookfield Hills", "IL", "60104"), ("Cedar Grove", "IL", "60105"), ("Riverton", "IL", "60106"),
)  # fmt: skip
EMPLOYERS = ("Northwind Logistics", "Contoso Foods", "Fabrikam Health", "Tailspin Schools", "Litware Inc", "")
CARRIERS = (
    ("Lakeshore Dental Mutual", "PPO"), ("Prairie Benefit Plan", "PPO"), ("Summit Dental Alliance", "HMO"),
    ("Great Plains Dental", "PPO"), ("Beacon Mutual Dental", "Indemnity"), ("Heartland Smiles Plan", "PPO"),
    ("Keystone Dental Trust", "PPO"), ("Northstar Dental Care", "HMO"), ("State Dental Assistance", "Medicaid"),
    ("Evergreen Dental Group", "PPO"),
)  # fmt: skip

# (code, description, fee)
PROCEDURES = {
    "D0120": ("Periodic oral evaluation", "55.00"),
    "D0140": ("Limited oral evaluation", "85.00"),
    "D0150": ("Comprehensive oral evaluation", "95.00"),
    "D0274": ("Bitewings - four films", "75.00"),
    "D1110": ("Prophylaxis - adult", "110.00"),
    "D1120": ("Prophylaxis - child", "80.00"),
    "D1208": ("Topical application of fluoride", "35.00"),
    "D2391": ("Resin composite - one surface, posterior", "185.00"),
    "D2740": ("Crown - porcelain/ceramic", "1250.00"),
    "D2950": ("Core buildup", "285.00"),
    "D4341": ("Periodontal scaling and root planing", "240.00"),
    "D4910": ("Periodontal maintenance", "150.00"),
    "D7140": ("Extraction, erupted tooth", "195.00"),
}
# (description, type, procedure codes, candidate lengths)
DENTIST_VISITS = (
    ("Comp Exam", "New Patient", ("D0150", "D0274"), (60,)),
    ("Limited Exam", "Emergency", ("D0140",), (30,)),
    ("Filling", "General", ("D2391",), (30, 60)),
    ("Filling x2", "General", ("D2391", "D2391"), (60,)),
    ("Crown Prep", "General", ("D2740", "D2950"), (90,)),
    ("Seat Crown", "General", ("D2740",), (30,)),
    ("Extraction", "General", ("D7140",), (30, 60)),
)
HYGIENE_VISITS = (
    ("Prophy, BWX", "Hygiene", ("D1110", "D0274", "D0120"), (60,)),
    ("Prophy", "Hygiene", ("D1110", "D0120"), (50, 60)),
    ("Child Prophy, Fl", "Hygiene", ("D1120", "D1208", "D0120"), (30,)),
    ("Perio Maint", "Hygiene", ("D4910",), (60,)),
    ("SRP", "Hygiene", ("D4341",), (60,)),
)
PAYMENT_TYPES = (
    ("1", "Cash Payment", "payment"),
    ("2", "Check Payment", "payment"),
    ("3", "Credit Card Payment", "payment"),
    ("4", "Care Credit Payment", "payment"),
    ("5", "Dental Insurance Payment", "insurance"),
    ("6", "Professional Courtesy", "credit_adjustment"),
    ("7", "Returned Check Charge", "debit_adjustment"),
)


def _t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _blocks(*pairs: str) -> tuple[HoursBlock, ...]:
    return tuple((_t(a), _t(b)) for a, b in (p.split("-") for p in pairs))


@dataclass(frozen=True)
class ProviderSpec:
    provider: ProviderRecord
    days: dict[int, tuple[HoursBlock, ...]]  # Python weekday -> blocks
    operatories: tuple[str, ...]


@dataclass(frozen=True)
class PracticeSpec:
    practice: PracticeRecord
    providers: tuple[ProviderSpec, ...]
    operatories: tuple[OperatoryRecord, ...]
    hours: dict[int, tuple[HoursBlock, ...]]  # Python weekday -> blocks
    patient_count: int
    first_patient_id: int
    first_carrier_id: int


def practice_specs(pms_name: str) -> tuple[PracticeSpec, ...]:
    version = next(
        (
            r.practice_management_system_version
            for r in SUPPORTED_PMSES
            if r.practice_management_system == pms_name
        ),
        "1.0",
    )
    full = _blocks("07:30-12:30", "13:00-17:30")
    friday = _blocks("07:30-12:30", "13:00-15:00")
    main = PracticeRecord(
        "1",
        DEMO_OFFICE_ID,
        "Maplewood Family Dental",
        "100 Sandbox Way",
        "Suite 200",
        "Maplewood",
        "IL",
        "60101",
        "555-010-0100",
        "frontdesk@maplewood-dental.example.com",
        "https://maplewood-dental.example.com",
        "1",
        pms_name,
        version,
        True,
    )
    second = PracticeRecord(
        "2",
        DEMO_OFFICE_ID,
        "Riverton Dental Studio",
        "7 Harbor St",
        "",
        "Riverton",
        "IL",
        "60106",
        "555-010-0200",
        "hello@riverton-dental.example.com",
        "",
        "1",
        pms_name,
        version,
        False,
    )

    def prov(
        pid: str,
        first: str,
        last: str,
        kind: str,
        spec: str,
        status: str = "Active",
        hidden: bool = False,
        practice: str = "1",
    ) -> ProviderRecord:
        npi = str(1_000_000_000 + int(hashlib.sha256(pid.encode()).hexdigest()[:6], 16))
        return ProviderRecord(
            practice, pid, first, last, kind, spec, status, hidden, npi, f"{first.lower()}@example.org", ""
        )

    mon_thu = {
        0: _blocks("08:00-12:00", "13:00-17:00"),
        1: _blocks("08:00-12:00", "13:00-17:00"),
        2: _blocks("08:00-12:00", "13:00-17:00"),
        3: _blocks("08:00-12:00", "13:00-17:00"),
    }
    tue_fri = {
        1: _blocks("07:30-12:00", "13:00-17:30"),
        2: _blocks("07:30-12:00", "13:00-17:30"),
        3: _blocks("07:30-12:00", "13:00-17:30"),
        4: _blocks("07:30-12:30", "13:00-15:00"),
    }
    part_time = {
        0: _blocks("09:00-12:00", "13:00-17:00"),
        2: _blocks("09:00-12:00", "13:30-17:30"),
        3: _blocks("09:00-12:30", "13:30-17:00"),
    }
    hyg_a = {
        0: _blocks("07:30-12:00", "13:00-16:30"),
        1: _blocks("07:30-12:00", "13:00-16:30"),
        2: _blocks("07:30-12:00", "13:00-16:30"),
        4: _blocks("07:30-12:30", "13:00-15:00"),
    }
    hyg_b = {
        1: _blocks("08:00-12:00", "13:00-17:30"),
        2: _blocks("08:00-12:00", "13:00-17:30"),
        3: _blocks("08:00-12:00", "13:00-17:30"),
        4: _blocks("07:30-12:30", "13:00-15:00"),
    }
    hyg_c = {0: _blocks("08:00-12:00", "13:00-17:00"), 3: _blocks("08:00-12:00", "13:00-17:00")}
    providers_1 = (
        ProviderSpec(prov("DMD1", "Evelyn", "Hartwell", "Dentist", "General Dentistry"), mon_thu, ("OP1", "OP2")),
        ProviderSpec(prov("DMD2", "Marcus", "Lindqvist", "Dentist", "General Dentistry"), tue_fri, ("OP3", "OP4")),
        ProviderSpec(prov("DMD3", "Priya", "Raman", "Dentist", "Endodontics"), part_time, ("OP2", "OP4")),
        ProviderSpec(prov("DMD4", "Harold", "Benning", "Dentist", "General Dentistry", status="Inactive"), {}, ()),
        ProviderSpec(prov("HYG1", "Tessa", "Morales", "Hygienist", "Dental Hygienist"), hyg_a, ("OP5",)),
        ProviderSpec(prov("HYG2", "Dana", "Okonkwo", "Hygienist", "Dental Hygienist"), hyg_b, ("OP6",)),
        ProviderSpec(prov("HYG3", "Lena", "Fischbach", "Hygienist", "Dental Hygienist"), hyg_c, ("OP6", "OP5")),
        ProviderSpec(prov("STF1", "Front", "Desk", "Staff", "Office Staff", hidden=True), {}, ()),
    )
    ops_1 = (
        *(OperatoryRecord("1", f"OP{i}", f"OP-{i}", False, "1") for i in range(1, 7)),
        OperatoryRecord("1", "OP7", "OP-7", True, "1"),
    )
    providers_2 = (
        ProviderSpec(
            prov("DMD5", "Tomas", "Iversen", "Dentist", "General Dentistry", practice="2"),
            {0: full, 1: full, 2: full, 3: full},
            ("RV1",),
        ),
        ProviderSpec(
            prov("HYG4", "Nadia", "Brandt", "Hygienist", "Dental Hygienist", practice="2"),
            {1: full, 2: full, 3: full, 4: friday},
            ("RV2",),
        ),
    )
    ops_2 = (OperatoryRecord("2", "RV1", "RV-1", False, "1"), OperatoryRecord("2", "RV2", "RV-2", False, "1"))
    hours = {0: full, 1: full, 2: full, 3: full, 4: friday}
    return (
        PracticeSpec(main, providers_1, ops_1, hours, 2100, 1001, 101),
        PracticeSpec(second, providers_2, ops_2, hours, 240, 5001, 201),
    )
