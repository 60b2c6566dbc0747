"""``OpenDentalSandbox``: a faithful offline fake of Open Dental's API, in process (an httpx transport) or served.

It models the server independently of the provider (it imports none of ``pms_connect.opendental``'s private
modules), from Open Dental's own API pages, so that the provider is tested against Open Dental's behaviour,
not against its own reading of it. It needs the ``sandbox`` extra (Starlette, uvicorn);
``import pms_connect.opendental`` does not import it. Tests usually take it from [pms_connect.testing][].
The guide "The Open Dental sandbox" (``docs/guides/opendental-sandbox.md``) has the same lists with examples.

Sources, tagged as in the wire sheet (opendental.com/site/api*.html): OD-impl = API Implementation, OD-setup =
API Developer Setup, OD-modes = API Modes, OD-perms = API Permissions, and the resource pages OD-appts
(Appointments), OD-pats (Patients), OD-sched (Schedules), OD-schedops (ScheduleOps), OD-ops (Operatories),
OD-clinics (Clinics), OD-prov (Providers), OD-defs (Definitions), OD-appttypes (AppointmentTypes), OD-carriers
(Carriers), OD-insplans (InsPlans), OD-inssubs (InsSubs), OD-patplans (PatPlans), OD-famins (FamilyModules),
OD-pay (Payments).

Documented behaviour it follows:

* ``Authorization: ODFHIR {DeveloperKey}/{CustomerKey}`` on every request, else 401; permissions per key by
  area, a call without its permission 401 "Invalid Permissions" (OD-setup, OD-impl, OD-perms).
* Remote mode throttles per customer key: one request per 5 s with ``ReadAll`` only, one a second with any
  other permission, 500 ms with ``Enterprise``, the interval counted from a request's arrival; the API Service
  and the Local API are not throttled (OD-impl, OD-perms).
* Pages of at most 100 items remote, 1000 local or service (``Limit``/``Offset``, default items 0-99);
  Enterprise 1000 and 10,000 (OD-impl, OD-perms).
* PascalCase fields, lower-case derived strings, enums as strings, booleans ``"true"``/``"false"``, naive local
  ``yyyy-MM-dd HH:mm:ss``, ``0001-01-01`` sentinels, ``\\r\\n`` sent as a space (OD-impl); each resource's
  number/string quirks as its examples show them (Schedules all strings, Payments ``PayAmt``/``ClinicNum``
  strings, Patients list ``Zip`` a number) (OD-sched, OD-pay, OD-pats); ``serverDateTime`` on Appointments,
  Providers (``""`` with ``ClinicNum``), Patients Simple and Payments rows (OD-appts, OD-prov, OD-pats, OD-pay).
* ``GET /clinics`` ``[]`` without clinics (OD-clinics); Schedules ``date`` defaulting to today, sorted by
  StartTime, a Practice 00:00-00:00 row with a note as a closure (OD-sched); Slots as whole open slots over the
  next 14 days by default (OD-appts); Patients search partial and case-insensitive, phones as typed (OD-pats).
* Appointments POST defaults (AptStatus Scheduled, Pattern ``/XX/``, Confirmed the first ``ApptConfirmed``
  definition, ProvNum the patient's PriProv else the practice default, ClinicNum the operatory's else the
  patient's, patterns trimmed to nine hours), 201 with ``location``; PUT partial with Note overwriting; Break
  only from Scheduled (``sendToUnscheduledList`` required), Note appending after a CR, Confirm with exactly one
  of ``confirmVal``/``defNum`` (OD-appts). Patients POST with LName and FName required and a duplicate check;
  PUT clearing a field on ``""`` except LName/FName (OD-pats). Payments POST with PayAmt and PatNum required,
  ``PaymentSource`` ``"API"``, PayType defaulting to the ApiPaymentType preference (OD-pay).
* Errors 400/401/404/410/504 with an explanation (OD-impl).

Switches (constructor keywords and attributes of
[OpenDentalSandbox][pms_connect.opendental.sandbox.OpenDentalSandbox]; their defaults first):

* ``mode="remote"`` | ``"service"`` | ``"local"``.
* ``clinics=False``: no clinics (``[]``, ClinicNum 0); ``True`` seeds two.
* ``reject_overlaps=False``: overlapping appointments in one operatory are accepted, as the docs imply;
  ``True`` refuses them with 400 "Appointment overlaps another appointment in operatory N.".
* ``duplicate_patients="reject"``: 400 "Patient already exists (PatNum N): ..."; ``"existing"``: 200 with the
  existing patient; ``"allow"``: a second record.
* ``error_body="text"``: plain text; ``"json"``: a JSON string.
* ``throttle=True`` (remote mode only); ``throttle_answer="429"``: 429 with a text; ``"400"``: 400 with the same
  text; ``"delay"``: the request waits its turn (on the clock) and is served.
* ``require_content_type=True``: 400 without ``Content-Type: application/json``.
* ``broken_appointment_procedures=False``: Break refuses ``breakType`` (the office's procedure type is "None").
* Keys: ``credentials`` (all but the special permissions), ``read_only_credentials`` (``ReadAll``),
  ``add_key(name, permissions)``, ``set_permissions``, ``disable_key``.
* Faults (``sandbox.faults``, all off): ``latency``, ``error_rate`` (500 or 504), ``drop_rate`` (in process),
  ``econnector_down`` (remote: 400), ``write_answer_loss`` with ``write_answer_loss_mode`` ``"drop"`` |
  ``"timeout"`` | ``"error"`` (504) (the write applied, its answer lost), ``refuse_next_writes(n, status,
  message)``/``refuse_next_write()``, ``reset()``.

Where the docs are silent, the sandbox decides:

* Over-rate answer: 429 "Too many requests: ... throttled to one per N seconds." with no ``Retry-After``
  (switchable, above). A throttled request does not restart the interval.
* Order of checks: injected error, authentication (401), throttle, permission (401), Content-Type (400),
  eConnector (400), then the endpoint's own checks.
* Error texts: "<Thing> not found" for a missing record (Appointment, Patient, Provider, Operatory,
  Schedule, Carrier, InsPlan, InsSub; "Patient does not exist" for PatPlans, as documented); a missing
  required field "<Field> is required."; a bad value "<Field> must be ..."; a referenced patient or operatory
  that does not exist on a POST is 404, any other bad reference 400. An unknown resource or method is 404 "The
  specified API resource does not exist.". ``POST /payplans`` is 410 (deprecated in 23.3).
* Query parameter names and body keys match case-insensitively (ASP.NET's habit; the docs' examples mix
  ``NationalProvId``/``NationalProvID``); paths match case-sensitively, spelled as documented (``/Slots``).
  Unknown parameters and body keys are ignored. Body numbers may be JSON numbers or digit strings; booleans
  must be the strings ``"true"``/``"false"`` (any case).
* ``Limit`` above the cap is cut to the cap; ``Limit`` < 1 or a negative ``Offset`` is 400.
* Lists are in primary-key order, except Schedules (by StartTime, the time of day, then date) and Patients
  search (LName, FName). ``date`` wins over ``dateStart``/``dateEnd``; either end of a range may be open.
* ``DateTStamp`` filters are strict ("altered after"); InsSubs ``SecDateTEdit`` and Payments ``DateEntry``
  are "on or after", as documented. ``DateTStamp`` takes ``yyyy-MM-dd HH:mm:ss`` or a bare date.
* Providers with ``ClinicNum`` ignore ``DateTStamp`` ("Two different queries are used").
* Patients GET (multiple): LName, FName, City, State and ChartNumber match from the start, Address, Email,
  SSN and SubscriberId anywhere, Phone by its digits anywhere in any of the three phone fields; Archived and
  Deceased patients only with ``showArchived=true``; ``hideInactive`` drops Inactive ones; ``Zip`` is a
  number only when it is all digits. Patients Simple matches LName/FName anywhere (its example: "eter").
* Duplicate patient: same LName, FName (case-insensitive) and Birthdate (both missing counts as the same),
  and the same email or a phone number in common by its last ten digits.
* Occupying appointments (for Slots and ``reject_overlaps``): Scheduled and Complete ones with an operatory;
  Broken, UnschedList, Planned and note appointments hold no time. Hygiene appointments carry the dentist in
  ``ProvNum`` and the hygienist in ``ProvHyg`` (as the docs' example does); Slots counts both.
* Slots: free time in the provider's schedule rows (in ``OpNum`` when given, else in the operatories the row
  names, reported as the first of them), less that provider's appointments anywhere, the operatories'
  appointments, blockouts on them, closure days and the past; a range starting in the past starts today.
* A closure day keeps its provider rows (Schedules shows them); Slots offers nothing on it.
* Break with ``sendToUnscheduledList`` ``"true"`` sets AptStatus UnschedList, ``"false"`` Broken; the time and
  operatory stay. No CommLog is kept. Confirm's ``confirmVal`` maps to the eConfirm preferences
  (``ApptEConfirmStatus*``); ``"None"`` to the first ``ApptConfirmed`` definition. Any other key in a
  Confirm body is refused (the docs: "Only one field is allowed").
* POST and PUT answers have no ``serverDateTime``; a PUT answers the same keys as a POST (the PUT example's
  missing ``ItemOrderPlanned`` is taken for an omission). Payments POST answers ``serverDateTime`` ``""``
  and no ``location`` (the example shows none).
* Payments POST: PayAmt must be above zero (refunds are Payments POST Refund), a future PayDate is refused
  (the office does not allow future-dated payments), the amount lowers the patient's EstBalance.
* Patients POST: PriProv defaults to the practice default provider, BillingType to the default billing type;
  the Zip formats of the docs are enforced.
* AppointmentTypes' ``RequiredProcCodesNeeded`` is ``0`` when no codes are required and the enum's name
  otherwise, as the two examples show.
* Not modelled: procedures, CommLogs, ``DateFormatString``/``DateTimeFormatString`` (ignored), WebSched,
  subscriptions and events.
"""

from pms_connect.opendental.sandbox.server import OpenDentalSandbox, OpenDentalTransport
from pms_connect.opendental.sandbox.state import LoggedRequest, OpenDentalFaults

__all__ = ["LoggedRequest", "OpenDentalFaults", "OpenDentalSandbox", "OpenDentalTransport"]
