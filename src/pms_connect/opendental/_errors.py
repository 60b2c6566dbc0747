"""Open Dental's answers that are errors, mapped onto the SDK's error tree.

Open Dental answers ``400``, ``401``, ``404``, ``410`` or ``504`` "with explanation": a short English
sentence, as plain text or as a JSON string (its docs show no envelope). The sentence can echo what the
request carried (a name, a date, a phone number), so it is never passed on as it came: every word that is
not in a closed vocabulary of Open Dental's own words (its resources, fields, enum values and the English of
its messages) is masked, and so is every number. ``"Patient Jane Smith already exists"`` becomes
``"Patient … already exists"``; ``"Patient does not exist"`` stays as it is.

* 400: the eConnector being down is a [PreconditionFailedError][pms_connect.errors.PreconditionFailedError]
  (nothing was done), a database too old for the method an
  [UnsupportedOperationError][pms_connect.errors.UnsupportedOperationError], a timeout between Open Dental
  and the office a [PmsTimeoutError][pms_connect.errors.PmsTimeoutError] (a write may have reached the
  office), anything else a [BadRequestError][pms_connect.errors.BadRequestError];
* 401: a missing API permission (the explanation says so) is a
  [PermissionDeniedError][pms_connect.errors.PermissionDeniedError] naming the permission the method needs;
  any other 401 an [AuthenticationError][pms_connect.errors.AuthenticationError];
* 404 [NotFoundError][pms_connect.errors.NotFoundError], 410 (a retired method)
  [UnsupportedOperationError][pms_connect.errors.UnsupportedOperationError], 504 and other 5xx
  [ServerError][pms_connect.errors.ServerError];
* a 429, or any answer whose explanation speaks of throttling, is a
  [RateLimitError][pms_connect.errors.RateLimitError] (Open Dental documents neither).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx

from pms_connect.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PmsError,
    PmsStatusError,
    PmsTimeoutError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
    UnsupportedOperationError,
)

__all__ = ["MASK", "classifier", "permission_area", "safe_explanation", "template_path"]

MASK = "…"
"""What stands for a masked word (or run of words) of an explanation."""
_MAX_EXPLANATION = 200

# Open Dental's own words: resources, fields, enum values, and the English its explanations are written in.
# Deliberately closed: a word outside it may be what the request carried, and is masked.
_WORDS = """
    a about above access added after again all allowed already also an and any api apikey appointment
    appointments appt appts are as at attached authorization available be because been before being below
    between blank both broken but by can cannot cant can't category change changed clinic clinics could
    create created credentials current customer database date dates datetime day days deleted denied
    deprecated developer did disabled do does doesnt doesn't duplicate duplicates either empty enabled
    error exceeded exist exists expected failed field fields for format found from future greater has have
    header headers if in incorrect invalid is isnt isn't it its key keys later length less limit longer
    match matches method methods minute minutes missing more must no none not null of on one only or
    other out past per permission permissions please provided range reached request requests required
    requires resource resources retry running same second seconds should since so specified still than
    that the their then there this throttle throttled throttling time times to too type unable
    unassigned unauthorized unknown update updated use used valid value values version versions was were
    when which while with within without would wrong yet
    yyyy mm dd hh ss
    econnector opendental open dental office server service local remote
    aptnum aptstatus aptdatetime pattern patternsecondary confirmed confirmval defnum op opnum operatory
    operatories operatorynum provnum provhyg prov provider providers clinicnum note notes ishygiene
    isnewpatient priority appointmenttypenum appointmenttype unschedstatus coloroverride
    patnum patient patients lname fname middlei preferred patstatus gender position birthdate ssn address
    city state zip hmphone wkphone wirelessphone email guarantor priprov secprov billingtype superfamily
    txtmsgok language
    payment payments paynum payamt paytype paydate checknum paynote bankbranch procnums payplannum
    refund paysplit paysplits
    schedule schedules schedulenum schedtype scheduleop scheduleops blockout blockouts
    carrier carriers carriernum carriername insplan insplans plannum inssub inssubs inssubnum subscriber
    subscriberid patplan patplans patplannum ordinal relationship benefit benefits
    definition definitions itemname itemvalue
    datetstamp dateformatstring datetimeformatstring offset limit
    scheduled complete unschedlist planned ptnote ptnotecompleted asap normal
    sendtounscheduledlist breaktype missed cancelled
    true false
    add added allow amount apt available body book booked break cancel character characters confirm
    content contenttype delete digits enter entered existing first greater hygiene hygienist id ids integer
    json last link linked maximum minimum name names negative new number numbers overlap overlaps parameter
    parameters percentage phone phones positive primary reschedule secondary set status statuses string
    support supported zero ppo flat copay capitation
"""
_VOCABULARY = frozenset(_WORDS.split())
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+|\s+|.", re.DOTALL)
_ADDRESS = re.compile(r"\S*@\S*|\b\w+://\S*")
_KEPT_MARKS = frozenset(".,:;()-/\"'[]?!")
_MASK_RUN = re.compile(f"{MASK}(?:[\\s.,:;\\-/]*{MASK})+")


def safe_explanation(text: str | None) -> str:
    """``text`` with every word outside Open Dental's own vocabulary, and every number, masked (a run of them
    as one ``…``), whitespace collapsed. Nothing of the request's values survives."""
    if not text:
        return ""
    pieces: list[str] = []
    text = _ADDRESS.sub(MASK, text[: _MAX_EXPLANATION * 2])  # an email or a URL is masked whole
    for token in _TOKEN.findall(text):
        if token.isspace():
            pieces.append(" ")
        elif token in _KEPT_MARKS or (token[0].isalpha() and token.casefold().replace("’", "'") in _VOCABULARY):
            pieces.append(token)
        else:
            pieces.append(MASK)  # a word not Open Dental's, digits, @, any other symbol
    cleaned = _MASK_RUN.sub(MASK, " ".join("".join(pieces).split()))
    if len(cleaned) > _MAX_EXPLANATION:
        cleaned = cleaned[:_MAX_EXPLANATION].rstrip() + MASK
    return cleaned if any(ch.isalpha() for ch in cleaned) else ""


def explanation_text(response: httpx.Response) -> str:
    """The explanation as Open Dental sent it: a JSON string, the string values of a JSON object, or the
    plain text. Never shown as is: pass it through [safe_explanation][]."""
    try:
        raw = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        return " ".join(str(v) for v in data.values() if isinstance(v, str))
    return ""


# -- the permission each method needs (Open Dental's "API Permissions" table) ---------------------------------

_ID = r"/\d+"
_SETUP = "providers|clinics|definitions|userods|allergydefs|apptfielddefs|diseasedefs|medications|covcats|covspans"
_AREAS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(f"^{pattern}$", re.IGNORECASE), area)
    for method, pattern, area in (
        ("PUT", rf"appointments{_ID}/(break|confirm|note)", "Comm"),
        ("POST", r"appointments(/planned|/scheduleplanned|/websched)?", "Appointments"),
        ("PUT", rf"appointments{_ID}", "Appointments"),
        ("POST", r"commlogs|popups", "Comm"),
        ("PUT", rf"recalls{_ID}/status|apptfields", "Comm"),
        ("POST", r"patients", "Patients"),
        ("PUT", rf"patients{_ID}", "Patients"),
        ("POST", r"payments(/refund)?", "Payments"),
        ("PUT", rf"payments{_ID}(/partial)?", "Payments"),
        ("POST", r"payplans(/dynamic)?", "PayPlans"),
        (
            "POST|PUT|DELETE",
            rf"(inssubs|patplans)({_ID})?|claimprocs/insadjust|insverifies({_ID})?",
            "InsuranceSimple",
        ),
        ("POST|PUT|DELETE", r"(insplans|benefits|claims|claimpayments|claimtrackings)(.*)", "Insurance"),
        ("POST|PUT|DELETE", rf"procedurelogs({_ID})?(/insurancehistory)?", "ProcedureLogs"),
        ("POST|PUT", rf"({_SETUP})({_ID})?", "Setup"),
        ("POST|PUT", r"queries(/shortquery)?", "Queries"),
        ("POST", r"documents/upload", "Documents"),
        ("POST", r"asapcomms", "TextingASAP"),
        ("POST|PUT", rf"subscriptions({_ID})?", "ReadAll"),
    )
)


def template_path(path: str) -> str:
    """A path relative to the API root with every id replaced: ``appointments/18/Break`` ->
    ``appointments/{id}/Break``. Ids are record numbers (a PatNum is a chart number), kept out of messages."""
    return "/".join("{id}" if part.isdigit() else part for part in path.strip("/").split("/"))


def permission_area(method: str, path: str) -> str:
    """The API permission group a request needs: ``ReadAll`` for every GET, the table's group for a write,
    ``AllOthers`` for a write the table does not list."""
    method = method.upper()
    if method == "GET":
        return "ReadAll"
    relative = path.strip("/")
    for methods, pattern, area in _AREAS:
        if method in methods.split("|") and pattern.match(relative):
            return area
    return "AllOthers"


# -- the classifier -------------------------------------------------------------------------------------------

_THROTTLE = re.compile(r"throttl|too many requests|rate limit|request limit", re.IGNORECASE)
_PERMISSION = re.compile(r"permission", re.IGNORECASE)
_ECONNECTOR = re.compile(r"econnector", re.IGNORECASE)
_VERSION = re.compile(r"version", re.IGNORECASE)
_OFFICE_TIMEOUT = re.compile(r"time[sd]? ?out|timed out|did not respond|not respond", re.IGNORECASE)


def _said(base: str, safe: str) -> str:
    return f"{base}: {safe}" if safe else base


def classifier(
    *, base_path: str, throttle_seconds: Callable[[], float], refused: set[str]
) -> Callable[[httpx.Response, str], PmsError | None]:
    """The ``classify`` of one route's pipeline: its answers' paths start with ``base_path`` (``/api/v1``).
    ``throttle_seconds()`` is the pacing period in force (a throttled request waits at least that long);
    ``refused`` collects the permission groups a 401 showed the key lacks."""
    prefix = base_path.rstrip("/")

    def classify(response: httpx.Response, _summary: str) -> PmsError | None:
        status = response.status_code
        if status < 400:
            return None
        request = response.request
        path = request.url.path
        relative = path[len(prefix) :] if prefix and path.startswith(prefix) else path
        summary = f"{request.method} /{template_path(relative)}"
        text = explanation_text(response)
        safe = safe_explanation(text)
        body = {"explanation": safe} if safe else {}

        def status_error(kind: type[PmsStatusError], base: str, *, retryable: bool = True) -> PmsStatusError:
            return kind(_said(base, safe), status_code=status, request=summary, body=body, retryable=retryable)

        def other_error(kind: type[PmsError], base: str) -> PmsError:
            return kind(_said(base, safe), status_code=status, request=summary)

        if status == 429 or _THROTTLE.search(text):
            seconds = throttle_seconds()
            return RateLimitError(
                _said(
                    f"Open Dental throttled the request (this key may send one request per {seconds:g} s)", safe
                ),
                status_code=status,
                request=summary,
                body=body,
                retry_after=None if status == 429 and "Retry-After" in response.headers else seconds,
            )
        if status == 401:
            area = permission_area(request.method, relative)
            if _PERMISSION.search(text):
                refused.add(area)
                return status_error(
                    PermissionDeniedError,
                    f"the Open Dental developer key lacks the {area} API permission",
                    retryable=False,
                )
            return status_error(
                AuthenticationError,
                "Open Dental refused the developer or customer key (invalid, unassigned or disabled)",
                retryable=False,
            )
        if status == 400:
            if _ECONNECTOR.search(text):
                return status_error(
                    PreconditionFailedError,
                    "the office's eConnector is not running or not reachable; nothing was done",
                    retryable=False,
                )
            if _VERSION.search(text):
                return other_error(
                    UnsupportedOperationError, "the practice's Open Dental version is too old for this method"
                )
            if _OFFICE_TIMEOUT.search(text):
                return other_error(PmsTimeoutError, "Open Dental could not reach the office in time")
            return status_error(BadRequestError, "Open Dental refused the request", retryable=False)
        if status == 404:
            return status_error(NotFoundError, "Open Dental has no such record", retryable=False)
        if status == 410:
            return other_error(UnsupportedOperationError, "Open Dental retired this API method")
        if status == 504:
            return status_error(
                ServerError, "the office did not finish the request within Open Dental's 60-second limit"
            )
        if status >= 500:
            return status_error(ServerError, "Open Dental failed")
        return status_error(PmsStatusError, "Open Dental answered with an error")

    return classify
