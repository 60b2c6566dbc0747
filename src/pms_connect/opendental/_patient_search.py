"""Patient search and caller matching at Open Dental: few requests, then the policy of [pms_connect.matching][].

``GET /patients`` is the Patient Select window's search: "Most string parameters support partial match and
are not case sensitive". Phone numbers are stored as typed (``"(536)624-5871"``), and the docs do not say
whether ``Phone`` compares digits or the stored text. So a phone search sends the number's last four digits,
the only run of digits every way of writing it keeps together: that matches either way, and the answer, a
small superset (charts whose other numbers hold the same four digits), is filtered locally by the
normalized number across ``WirelessPhone``, ``HmPhone`` and ``WkPhone``. One request, whatever the format.

Other criteria: ``Email`` (partial), ``Birthdate`` (added to whatever else is sent, since it narrows and the
chart must match it anyway); a name alone is searched by its most distinctive word as ``LName`` and, with
each of its nickname variants, as ``FName`` (the search does not know nicknames). Whatever the query, every
criterion is then checked locally: the server's search narrows, it never decides.

The search is not limited to the credentials' clinic: a caller registered at another clinic of the practice
is still the same chart, and missing them would make a duplicate.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pms_connect.matching import (
    NICKNAMES,
    keep_matching,
    match_caller,
    patient_has_phone,
    search_criteria,
    unique_patients,
)
from pms_connect.models import Patient, PatientMatch
from pms_connect.opendental import _mapping as m
from pms_connect.opendental import _wire as w

if TYPE_CHECKING:
    from pms_connect.opendental.provider import OpenDentalProvider

__all__ = ["PHONE_FRAGMENT", "match", "phone_candidates", "search"]

PHONE_FRAGMENT = 4
"""How many trailing digits of a phone number go into Open Dental's ``Phone`` search."""


async def query(pms: OpenDentalProvider, params: dict[str, str]) -> list[Patient]:
    """Every chart the Patient Select search returns for ``params`` (all pages)."""
    return await pms.client.pager("patients", params, w.PatientRow, m.patient, page_size=pms.page_size).all()


async def phone_candidates(
    pms: OpenDentalProvider, digits: str, *, birthdate: date | None = None
) -> list[Patient]:
    """Every chart with the (normalized) number in a phone field: one search, filtered by digits."""
    params = {"Phone": digits[-PHONE_FRAGMENT:]}
    if birthdate is not None:
        params["Birthdate"] = m.wire_date(birthdate)
    rows = await query(pms, params)
    return unique_patients(p for p in rows if patient_has_phone(p, digits))


def _name_variants(tokens: tuple[str, ...]) -> tuple[str, list[str]]:
    """The name's most distinctive word (fewest nickname variants, then the longest), and its variants."""
    word = min(tokens, key=lambda t: (len(NICKNAMES.get(t, ())), -len(t)))
    return word, sorted({word, *NICKNAMES.get(word, ())})


async def search(
    pms: OpenDentalProvider,
    *,
    phone: str | None = None,
    name: str | None = None,
    birthdate: date | None = None,
    email: str | None = None,
) -> list[Patient]:
    """Charts satisfying every given criterion, each once (see the module docstring for the requests)."""
    criteria = search_criteria(phone=phone, name=name, birthdate=birthdate, email=email)
    born = {"Birthdate": m.wire_date(criteria.birthdate)} if criteria.birthdate is not None else {}
    if criteria.phone_digits is not None:
        found = await phone_candidates(pms, criteria.phone_digits, birthdate=criteria.birthdate)
    elif criteria.email is not None:
        found = await query(pms, {"Email": criteria.email, **born})
    elif criteria.birthdate is not None:
        found = await query(pms, born)
    else:
        word, variants = _name_variants(criteria.name_tokens)
        found = await query(pms, {"LName": word})
        for variant in variants:
            found.extend(await query(pms, {"FName": variant}))
    return keep_matching(found, criteria)


async def match(
    pms: OpenDentalProvider,
    *,
    phone: str,
    first_name: str | None = None,
    last_name: str | None = None,
    birthdate: date | None = None,
) -> PatientMatch:
    """The caller's chart by phone, with birthdate and name as tie-breakers: one request."""
    return await match_caller(
        lambda digits: phone_candidates(pms, digits),
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        birthdate=birthdate,
    )
