"""A mocked Open Dental for wire-level tests: respx answers with the example requests' answers of Open Dental's
own API pages (``/work/shared/reference/opendental/``, mirrored from opendental.com), and providers on a
FakeClock. No network.

The examples are kept as Open Dental prints them (numbers as strings where it sends strings), except where a
page's sample is not valid JSON (Operatories GET lacks a comma after ``"IsWebSched": "false"``; Schedules GET
ends objects with a trailing comma): those are repaired, nothing else is changed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
import respx

from pms_connect.opendental import OpenDentalCredentials, OpenDentalProvider
from pms_connect.testing.clock import FakeClock

REMOTE = "https://api.opendental.com/api/v1"
SERVICE = "http://localhost:30223/api/v1"
LOCAL = "http://localhost:30222/api/v1"
ZONE = "America/Chicago"
DEVELOPER_KEY = "NFF6i0KrXrxDkZHt"  # Open Dental's documented test keys ("API Developer Setup")
CUSTOMER_KEY = "VzkmZEaUWOjnQX2z"
AUTHORIZATION = f"ODFHIR {DEVELOPER_KEY}/{CUSTOMER_KEY}"

# -- Open Dental's example answers ----------------------------------------------------------------------------

# Appointments GET (single): GET /appointments/18
APPOINTMENT_18 = json.loads("""
{"serverDateTime":"2021-05-04 09:32:45","AptNum": 18,"PatNum": 17,"AptStatus": "Scheduled",
"Pattern": "//XXXX//","Confirmed": 19,"confirmed": "Not Called","TimeLocked": "false","Op": 3,"Note": "",
"ProvNum": 1,"provAbbr": "DOC1","ProvHyg": 0,"AptDateTime": "2020-07-31 08:30:00","NextAptNum": 0,
"UnschedStatus": 0,"unschedStatus": "","IsNewPatient": "false","ProcDescript": "Seal, Seal","ClinicNum": 0,
"IsHygiene": "false","DateTStamp":"2021-05-03 08:30:12","DateTimeArrived": "0001-01-01 00:00:00",
"DateTimeSeated": "0001-01-01 00:00:00","DateTimeDismissed": "0001-01-01 00:00:00","InsPlan1": 35,
"InsPlan2": 0,"DateTimeAskedToArrive": "0001-01-01 00:00:00","colorOverride": "0,0,0",
"AppointmentTypeNum": 0,"SecDateTEntry":"2020-07-04 09:12:05","Priority": "Normal",
"PatternSecondary": "//////X/","ItemOrderPlanned": 0}
""")

# Appointments GET (multiple): GET /appointments?...
APPOINTMENTS = json.loads("""
[{"serverDateTime":"2021-05-04 09:32:45","AptNum": 4,"PatNum": 20,"AptStatus": "Scheduled",
"Pattern": "//XXXX//","Confirmed": 19,"confirmed": "Not Called","TimeLocked": "false","Op": 2,"Note": "",
"ProvNum": 3,"provAbbr": "DOC2","ProvHyg": 0,"AptDateTime": "2020-07-31 09:00:00","NextAptNum": 0,
"UnschedStatus": 0,"unschedStatus": "","IsNewPatient": "false","ProcDescript": "Ex, PA","ClinicNum": 0,
"IsHygiene": "false","DateTStamp":"2021-05-03 08:30:12","DateTimeArrived": "0001-01-01 00:00:00",
"DateTimeSeated": "0001-01-01 00:00:00","DateTimeDismissed": "0001-01-01 00:00:00","InsPlan1": 35,
"InsPlan2": 0,"DateTimeAskedToArrive": "0001-01-01 00:00:00","colorOverride": "0,0,0",
"AppointmentTypeNum": 0,"SecDateTEntry":"2020-07-04 09:12:05","Priority": "Normal",
"PatternSecondary": "////////","ItemOrderPlanned": 0},
{"serverDateTime":"2021-05-04 09:32:45","AptNum": 3,"PatNum": 21,"AptStatus": "Complete",
"Pattern": "//XXXXXX//","Confirmed": 19,"confirmed": "Not Called","TimeLocked": "false","Op": 6,"Note": "",
"ProvNum": 3,"provAbbr": "DOC2","ProvHyg": 4,"AptDateTime": "2020-07-31 09:00:00","NextAptNum": 0,
"UnschedStatus": 0,"unschedStatus": "","IsNewPatient": "false","ProcDescript": "Ex","ClinicNum": 0,
"IsHygiene": "true","DateTStamp":"2021-05-03 08:30:12","DateTimeArrived": "2020-07-31 08:52:31",
"DateTimeSeated": "2020-07-31 09:01:15","DateTimeDismissed": "2020-07-31 09:55:42","InsPlan1": 19,
"InsPlan2": 48,"DateTimeAskedToArrive": "2020-07-31 09:00:00","colorOverride": "0,0,0",
"AppointmentTypeNum": 1,"SecDateTEntry":"2020-07-04 09:12:05","Priority": "Normal",
"PatternSecondary": "//////////","ItemOrderPlanned": 0}]
""")

# Patients GET (single): GET /patients/48
PATIENT_48 = json.loads("""
{"PatNum": 48,"LName": "Smith","FName": "Jane","MiddleI": "","Preferred": "","PatStatus": "Patient",
"Gender": "Female","Position": "Single","Birthdate": "1976-05-24","SSN": "","Address": "125 Satin Heights",
"Address2": "","City": "San Jose","State": "CA","Zip": "97301","HmPhone": "(536)624-5871",
"WkPhone": "(536)987-4822","WirelessPhone": "(536)987-4822","Guarantor": 48,"Email": "smithfam@yahoo.com",
"EstBalance": 0.0,"PriProv": 1,"priProvAbbr": "DOC","SecProv": 0,"secProvAbbr": "",
"BillingType": "Standard Account","ImageFolder": "SmithJane48","FamFinUrgNote": "CC on file expiring soon",
"ChartNumber": "","MedicaidID": "","BalTotal": 111.9,"EmployerNum": 0,"DateFirstVisit": "2021-12-16",
"ClinicNum": 0,"clinicAbbr": "","Ward": "","PreferConfirmMethod": "None","PreferContactMethod": "WirelessPh",
"PreferRecallMethod": "TextMessage","Language": "spa","AdmitDate": "0001-01-01","siteDesc": "",
"DateTStamp": "2021-12-08 15:34:34","SuperFamily": 0,"TxtMsgOk": "Unknown","SecDateEntry":"2021-12-04"}
""")

# Patients GET (multiple): GET /patients?LName=smi (the Patient Select window's fields; Zip a number)
PATIENTS_SELECT = json.loads("""
[{"PatNum": 16,"LName": "Smith","FName": "Jane","MiddleI": "","Preferred": "","PatStatus": "Patient",
"Birthdate": "1976-05-24","SSN": "632458956","Address": "125 Satin Heights","Address2": "","City": "San Jose",
"State": "CA","Zip": 90011,"HmPhone": "(536)624-5871","WkPhone": "(536)987-4822","WirelessPhone": "",
"Email": "smithfam@yahoo.com","priProvAbbr": "DOC1","secProvAbbr": "","BillingType": "Standard Account",
"ChartNumber": "","ClinicNum": 0,"clinicAbbr": "","siteDesc": "","TxtMsgOk": "Unknown"},
{"PatNum": 15,"LName": "Smith","FName": "John","MiddleI": "","Preferred": "","PatStatus": "Patient",
"Birthdate": "1979-06-23","SSN": "352664588","Address": "125 Satin Heights","Address2": "","City": "San Jose",
"State": "CA","Zip": 90011,"HmPhone": "(536)624-5871","WkPhone": "(536)265-8587",
"WirelessPhone": "(536)987-5621","Email": "johns@hotmail.com","priProvAbbr": "DOC1","secProvAbbr": "",
"BillingType": "Standard Account","ChartNumber": "","ClinicNum": 0,"clinicAbbr": "","siteDesc": "",
"TxtMsgOk": "Yes"}]
""")

# Patients GET Simple: GET /patients/Simple?DateTStamp=... (the page's sample lacks a comma after
# "serverDateTime")
PATIENTS_SIMPLE = json.loads("""
[{"serverDateTime": "2021-08-05 09:05:42","PatNum": 1,"LName": "Smith","FName": "John","MiddleI": "",
"Preferred": "","PatStatus": "Patient","Gender": "Male","Position": "Single","Birthdate": "1976-05-24","SSN": "",
"Address": "123 Elm St","Address2": "","City": "Salem","State": "OR","Zip": "97301","HmPhone": "",
"WkPhone": "(123)456-7890","WirelessPhone": "","Guarantor": 1,"Email": "name@web.com","EstBalance": 40.11,
"PriProv": 1,"priProvAbbr": "DOC1","SecProv": 0,"secProvAbbr": "","BillingType": "Standard Account",
"ImageFolder": "SmithJohn1","FamFinUrgNote": "","ChartNumber": "","MedicaidID": "022419552","BalTotal": 40.11,
"EmployerNum": 1,"DateFirstVisit": "2021-08-19","ClinicNum": 1,"clinicAbbr": "Southside","Ward": "",
"PreferConfirmMethod": "None","PreferContactMethod": "None","PreferRecallMethod": "None","Language": "",
"AdmitDate": "0001-01-01","siteDesc": "","DateTStamp": "2021-07-26 14:22:55","SuperFamily": 0,"TxtMsgOk": "Yes",
"SecDateEntry":"2021-01-04"},
{"serverDateTime": "2021-08-05 09:05:42","PatNum": 2,"LName": "Johnson","FName": "Brody","MiddleI": "",
"Preferred": "","PatStatus": "Patient","Gender": "Male","Position": "Single","Birthdate": "0001-01-01","SSN": "",
"Address": "","Address2": "","City": "","State": "","Zip": "","HmPhone": "","WkPhone": "5035035030",
"WirelessPhone": "","Guarantor": 2,"Email": "","EstBalance": 0.0,"PriProv": 1,"priProvAbbr": "DOC1","SecProv": 0,
"secProvAbbr": "","BillingType": "Standard Account","ImageFolder": "JohnsonBrody2","FamFinUrgNote": "",
"ChartNumber": "","MedicaidID": "052510275","BalTotal": 0.0,"EmployerNum": 0,"DateFirstVisit": "2021-08-29",
"ClinicNum": 1,"clinicAbbr": "Southside","Ward": "","PreferConfirmMethod": "None","PreferContactMethod": "None",
"PreferRecallMethod": "None","Language": "","AdmitDate": "0001-01-01","siteDesc": "",
"DateTStamp": "2021-07-23 14:52:07","SuperFamily": 0,"TxtMsgOk": "Yes","SecDateEntry":"2021-02-04"}]
""")

# Providers GET (multiple): GET /providers
PROVIDERS = json.loads("""
[{"ProvNum": 1,"Abbr": "DOC1","LName": "Albert","FName": "Brian","MI": "L","Suffix": "","FeeSched": 53,
"Specialty": 263,"SSN": "1522864182","StateLicense": "D7601","IsSecondary": "false","provColor": "164,255,164",
"IsHidden": "false","UsingTIN": "true","SigOnFile": "true","NationalProvID": "1679608723",
"DateTStamp": "2021-08-04 08:33:01","IsNotPerson": "false","ProvStatus": "Active","IsHiddenReport": "false",
"Birthdate": "0001-01-01","SchedNote": "","PreferredName": "","serverDateTime": "2021-08-31 12:05:31"},
{"ProvNum": 2,"Abbr": "HYG1","LName": "Jones","FName": "Tina","MI": "","Suffix": "","FeeSched": 53,
"Specialty": 264,"SSN": "","StateLicense": "D7601","IsSecondary": "true","provColor": "203,151,255",
"IsHidden": "false","UsingTIN": "false","SigOnFile": "false","NationalProvID": "1657398425",
"DateTStamp": "2021-08-15 13:18:51","IsNotPerson": "false","ProvStatus": "Deleted","IsHiddenReport": "false",
"Birthdate": "0001-01-01","SchedNote": "","PreferredName": "","serverDateTime": "2021-08-31 12:05:31"}]
""")

# Operatories GET (multiple): GET /operatories (the page's sample lacks a comma after "IsWebSched")
OPERATORIES = json.loads("""
[{"OperatoryNum": 1,"OpName": "Dr. Brian Albert","Abbrev": "OP-1","ItemOrder": 0,"IsHidden": "false",
"ProvDentist": 1,"ProvHygienist": 0,"IsHygiene": "false","ClinicNum": 0,"SetProspective": "false",
"IsWebSched": "false","OperatoryType": 0,"operatoryType": ""},
{"OperatoryNum": 2,"OpName": "Dr. Sarah Lexington","Abbrev": "OP-2","ItemOrder": 1,"IsHidden": "false",
"ProvDentist": 3,"ProvHygienist": 0,"IsHygiene": "false","ClinicNum": 0,"SetProspective": "false",
"IsWebSched": "false","OperatoryType": 0,"operatoryType": ""}]
""")

# Clinics GET: GET /clinics
CLINICS = json.loads("""
[{"ClinicNum": 1,"Description": "Clinic1","Address": "333 Blackwood St","Address2": "","City": "Salem",
"State": "Oregon","Zip": "97301","BillingAddress": "333 Blackwood St ","BillingAddress2": "",
"BillingCity": " Salem ","BillingState": " Oregon ","BillingZip": "97301","PayToAddress": "",
"PayToAddress2": "","PayToCity": "","PayToState": "","PayToZip": "","Phone": "5105552005","Abbr": "Clinic1",
"IsHidden": "false"}]
""")


# Preferences GET: GET /preferences?PrefName=... (the page's row shape)
def preference(name: str, value: str, num: int = 14) -> list[dict[str, Any]]:
    return [{"PrefNum": num, "PrefName": name, "ValueString": value}]


# Definitions GET: GET /definitions?Category=2 (the page's row shape, confirmation statuses)
CONFIRMATIONS = [
    {"DefNum": 19, "ItemName": "Not Called", "ItemValue": "", "Category": 2, "category": "ApptConfirmed",
     "isHidden": "false"},
    {"DefNum": 21, "ItemName": "Confirmed", "ItemValue": "Conf", "Category": 2, "category": "ApptConfirmed",
     "isHidden": "false"},
    {"DefNum": 22, "ItemName": "Unconfirmed", "ItemValue": "", "Category": 2, "category": "ApptConfirmed",
     "isHidden": "false"},
]  # fmt: skip

# Schedules GET (multiple): GET /schedules?dateStart=2022-03-07&dateEnd=2022-03-11 (trailing commas removed)
SCHEDULES = json.loads("""
[{"ScheduleNum": "25888","SchedDate": "2022-03-11","StartTime": "00:00:00","StopTime": "00:00:00",
"SchedType": "Practice","ProvNum": "0","BlockoutType": "0","blockoutType": "","Note": "3 Day Weekend",
"operatories": "","EmployeeNum": "0"},
{"ScheduleNum": "25884","SchedDate": "2022-03-07","StartTime": "13:30:00","StopTime": "14:00:00",
"SchedType": "Blockout","ProvNum": "0","BlockoutType": "248","blockoutType": "Staff Meeting",
"Note": "Weekly Meet","operatories": "5,6","EmployeeNum": "0"},
{"ScheduleNum": "24420","SchedDate": "2022-03-07","StartTime": "14:00:00","StopTime": "18:00:00",
"SchedType": "Provider","ProvNum": "3","BlockoutType": "0","blockoutType": "","Note": "","operatories": "2",
"EmployeeNum": "0"},
{"ScheduleNum": "25887","SchedDate": "2022-03-08","StartTime": "15:30:00","StopTime": "16:00:00",
"SchedType": "Employee","ProvNum": "0","BlockoutType": "0","blockoutType": "","Note": "Leaving early",
"operatories": "","EmployeeNum": "2"}]
""")

# Carriers GET (multiple): GET /carriers
CARRIERS = json.loads("""
[{"CarrierNum": 1,"CarrierName": "Dental Guard","Address": "123 Elen St","Address2": "","City": "Portland",
"State": "OR","Zip": "97035","Phone": "(503)456-8910","ElectID": "54651","NoSendElect": "SendElect",
"IsHidden": "false"},
{"CarrierNum": 2,"CarrierName": "Out of Network Insurance","Address": "365 Tree Top St","Address2": "",
"City": "Salem","State": "OR","Zip": "18911","Phone": "(503)456-8910","ElectID": "","NoSendElect": "SendElect",
"IsHidden": "false"}]
""")

# FamilyModules GET Insurance: GET /familymodules/13/Insurance (Open Dental's "API FamilyModules" page, as
# mirrored in AojdevStudio/open-dental-scrape docs/api-documentation/API Familymodule.txt)
FAMILY_INSURANCE_13 = json.loads("""
[{"PatNum": 13,"InsSubNum": 7,"Subscriber": 10,"subscriber": "Eve Wilkins","SubscriberID": "541147842",
"SubscNote": "","PatPlanNum": 17,"Ordinal": 1,"ordinal": "Primary","IsPending": "false",
"Relationship": "LifePartner","PatID": "","CarrierNum": 8,"CarrierName": "BCBS","PlanNum": 7,"GroupName": "",
"GroupNum": "","PlanNote": "","FeeSched": 53,"feeSchedule": "Standard","PlanType": "",
"planType": "Category Percentage","CopayFeeSched": 0,"EmployerNum": 0,"employer": "","IsMedical": "false"},
{"PatNum": 13,"InsSubNum": 16,"Subscriber": 13,"subscriber": "John Wilkins","SubscriberID": "987654",
"SubscNote": "","PatPlanNum": 18,"Ordinal": 2,"ordinal": "Secondary","IsPending": "false",
"Relationship": "Self","PatID": "","CarrierNum": 9,"CarrierName": "Metlife Dental","PlanNum": 11,
"GroupName": "","GroupNum": "","PlanNote": "Insurance plan note.","FeeSched": 0,"feeSchedule": "",
"PlanType": "p","planType": "PPO Percentage","CopayFeeSched": 0,"EmployerNum": 2,"employer": "Happy Dental",
"IsMedical": "false"}]
""")

# Payments GET: GET /payments?PatNum=1337&DateEntry=2022-06-24
PAYMENTS = json.loads("""
[{"PayNum": 56734,"PayType": 69,"payType": "Check","PayDate": "2022-06-24","PayAmt": "339","CheckNum": "12798",
"BankBranch": "20-6","PayNote": "","PatNum": 1337,"ClinicNum": "0","DateEntry": "2022-06-24","DepositNum": 0,
"Receipt": "","IsRecurringCC": "true","SecUserNumEntry": 0,"SecDateTEdit": "2022-06-24 07:34:31",
"PaymentSource": "None","ProcessStatus": "OfficeProcessed","RecurringChargeDate": "0001-01-01",
"IsCcCompleted": "false","serverDateTime": "2022-08-26 11:55:44"},
{"PayNum": 56952,"PayType": 69,"payType": "Check","PayDate": "2022-07-24","PayAmt": "239","CheckNum": "12816",
"BankBranch": "20-6","PayNote": "","PatNum": 1337,"ClinicNum": "0","DateEntry": "2022-07-24","DepositNum": 0,
"Receipt": "","IsRecurringCC": "true","SecUserNumEntry": 0,"SecDateTEdit": "2022-07-24 07:34:31",
"PaymentSource": "API","ProcessStatus": "OfficeProcessed","RecurringChargeDate": "0001-01-01",
"IsCcCompleted": "false","serverDateTime": "2022-08-26 11:55:44"}]
""")


def rows_of(template: Mapping[str, Any], count: int, key: str) -> list[dict[str, Any]]:
    """``count`` copies of a documented row, numbered 1.. in ``key``."""
    return [{**template, key: n} for n in range(1, count + 1)]


# -- the mocked server ----------------------------------------------------------------------------------------


class FakeOpenDental:
    """The respx router, the requests it saw, and Open Dental-shaped answers."""

    def __init__(self, router: respx.MockRouter, clock: FakeClock) -> None:
        self.router = router
        self.clock = clock
        self.arrivals: list[tuple[float, httpx.Request]] = []

    def route(self, method: str, path: str, *, base: str = REMOTE) -> respx.Route:
        return self.router.route(method=method, url=f"{base}/{path}")

    def get(self, path: str, *, base: str = REMOTE) -> respx.Route:
        return self.route("GET", path, base=base)

    def answer(self, body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
        """A side effect that records when (on the virtual clock) each request arrived."""

        def respond(request: httpx.Request) -> httpx.Response:
            self.arrivals.append((self.clock.monotonic(), request))
            if isinstance(body, str):
                return httpx.Response(status, text=body)
            return httpx.Response(status, json=body)

        return respond

    def paged(self, rows: Sequence[Mapping[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
        """Serve ``rows`` honestly by ``Offset`` and ``Limit`` (at most ``cap`` a request, as remote)."""

        def respond(request: httpx.Request) -> httpx.Response:
            self.arrivals.append((self.clock.monotonic(), request))
            offset = int(request.url.params.get("Offset", "0"))
            limit = min(
                int(request.url.params.get("Limit", "100")), 100 if request.url.host.endswith(".com") else 1000
            )
            return httpx.Response(200, json=list(rows[offset : offset + limit]))

        return respond

    def confirmations(self) -> respx.Route:
        return self.get("definitions").mock(side_effect=self.answer(CONFIRMATIONS))


def assert_od_request(
    request: httpx.Request, method: str, path: str, params: Mapping[str, str] | None = None, *, base: str = REMOTE
) -> None:
    """One request, exactly: method, URL, every query parameter once, and the headers every call carries."""
    assert request.method == method
    assert str(request.url.copy_with(query=None)) == f"{base}/{path}"
    if params is not None:
        assert dict(request.url.params) == dict(params)
        assert len(request.url.params.multi_items()) == len(params), "no query parameter may repeat"
    assert request.headers["Authorization"] == AUTHORIZATION
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "pms-connect-python"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def credentials() -> OpenDentalCredentials:
    return OpenDentalCredentials(developer_key=DEVELOPER_KEY, customer_key=CUSTOMER_KEY)


@pytest.fixture
def od(clock: FakeClock) -> Iterator[FakeOpenDental]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield FakeOpenDental(router, clock)


@pytest.fixture
async def make_provider(
    od: FakeOpenDental, clock: FakeClock, credentials: OpenDentalCredentials
) -> AsyncIterator[Callable[..., OpenDentalProvider]]:
    """Build OpenDentalProviders on the FakeClock against the mocked Open Dental; closed afterwards."""
    made: list[OpenDentalProvider] = []

    def make(**overrides: Any) -> OpenDentalProvider:
        kwargs: dict[str, Any] = {"timezone": ZONE, "clock": clock}
        kwargs.update(overrides)
        creds = kwargs.pop("credentials", credentials)
        pms = OpenDentalProvider(creds, **kwargs)
        made.append(pms)
        return pms

    yield make
    for pms in made:
        await pms.aclose()


@pytest.fixture
def provider(make_provider: Callable[..., OpenDentalProvider]) -> OpenDentalProvider:
    return make_provider()
