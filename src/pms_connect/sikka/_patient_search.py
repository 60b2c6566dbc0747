"""Patient search and caller matching at Sikka: few requests, then the policy of [pms_connect.matching][].

Finding a phone number. Sikka's ``cell``/``homephone``/``workphone`` filters (and ``phone``, which only looks
at ``cell``) compare the stored string exactly, and practices store numbers as they were typed:
``555-010-2030``, ``(555) 010-2030``, ``5550102030``, ``555.010.2030``, with `` x123`` on work numbers. Trying
every format against every field costs 15 requests and still misses extensions. Instead one ``search``
request carries the number's last four digits, the only run of digits every format keeps together; Sikka's
``search`` matches inside names, email, city, zip code and all three phone fields, so the answer is a small
superset (a few charts whose zip code or another number holds the same four digits) that is then filtered
locally by normalized digits. One request, every format, extensions included.

Other criteria. ``email`` uses Sikka's ``email`` filter; a birthdate alone uses ``find=birthdate=like_...``
(patients have no birthdate filter); a name alone uses ``search`` with its most distinctive word, once per
nickname variant (``search`` does not look at preferred names). Whatever the query, every criterion is
then checked locally, so the server only narrows and never decides.
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

if TYPE_CHECKING:
    from pms_connect.sikka.provider import SikkaProvider

__all__ = ["match", "phone_candidates", "search"]

#: How many trailing digits of a phone number go into Sikka's ``search``.
PHONE_FRAGMENT = 4


async def _query(pms: SikkaProvider, filters: dict[str, str]) -> list[Patient]:
    return await pms.patients.query(filters).all()


async def phone_candidates(pms: SikkaProvider, digits: str) -> list[Patient]:
    """Every chart with the (normalized) number in its cell, home or work phone: one ``search`` request."""
    rows = await _query(pms, {"search": digits[-PHONE_FRAGMENT:]})
    return unique_patients(p for p in rows if patient_has_phone(p, digits))


def _name_variants(tokens: tuple[str, ...]) -> list[str]:
    """The search terms for a name: the word with the fewest nickname variants (then the longest), with
    its variants, since Sikka's ``search`` matches stored spellings only."""
    word = min(tokens, key=lambda t: (len(NICKNAMES.get(t, ())), -len(t)))
    return sorted({word, *NICKNAMES.get(word, ())})


async def search(
    pms: SikkaProvider,
    *,
    phone: str | None = None,
    name: str | None = None,
    birthdate: date | None = None,
    email: str | None = None,
) -> list[Patient]:
    """Charts satisfying every given criterion, each once (see the module docstring for the requests)."""
    criteria = search_criteria(phone=phone, name=name, birthdate=birthdate, email=email)
    if criteria.phone_digits is not None:
        found = await phone_candidates(pms, criteria.phone_digits)
    elif criteria.email is not None:
        found = await _query(pms, {"email": criteria.email})
    elif criteria.birthdate is not None:
        found = await _query(pms, {"find": f"birthdate=like_{criteria.birthdate.isoformat()}"})
    else:
        found = []
        for term in _name_variants(criteria.name_tokens):
            found.extend(await _query(pms, {"search": term}))
    return keep_matching(found, criteria)


async def match(
    pms: SikkaProvider,
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
