"""Patient matching policy: who is calling from this phone? (provider-neutral, pure)

A wrong-patient match is one of the costliest bugs in this domain, so the policy is conservative:

* phones compare by their digits, on the last 10 for North American numbers (``+1 (555) 010-2030``,
  ``555.010.2030`` and ``5550102030 x12`` are one number), across cell, home and work phone;
* a birthdate that disagrees with a chart rules that chart out; one that agrees counts for it;
* names break ties: first names compare with the chart's first *and* preferred name, nickname-aware
  (Bill and William, Kate and Katherine), case- and accent-insensitive; last names by their letters;
* when the best candidates tie (a household sharing one phone), the answer is ``AMBIGUOUS`` with the tied
  charts, never a guess; so is a single chart that contradicts the name the caller gave.

Look-alikes stay apart: the nickname table is a relation between a nickname and its full names, not a set
of synonyms, so Jon (short for Jonathan) is not John, and Katherine is not Catherine although "Kate" may be
either. Smith is not Smyth. Nothing here logs or raises with a patient's data.

A provider supplies only its query for the charts on a phone (and for search criteria): the checks of the
caller's input ([search_criteria][pms_connect.matching.search_criteria]), the local filter that decides
([keep_matching][pms_connect.matching.keep_matching]) and the match itself
([match_caller][pms_connect.matching.match_caller]) are shared, so that a server's fuzzy search only
narrows and never decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from pms_connect.errors import InvalidArgumentError
from pms_connect.models import MatchStatus, Patient, PatientMatch

__all__ = [
    "NICKNAMES",
    "SearchCriteria",
    "check_phone",
    "keep_matching",
    "match_caller",
    "match_patients",
    "name_tokens",
    "normalize_name",
    "normalize_phone",
    "patient_has_phone",
    "patient_matches",
    "same_first_name",
    "same_last_name",
    "search_criteria",
    "unique_patients",
    "validate_birthdate",
]

# -- phones ---------------------------------------------------------------------------------------------------

_EXTENSION = re.compile(
    r"""(?:
        ;\s*ext\s*=            # RFC 3966: tel:+1-555-010-2030;ext=12
      | (?<![a-z])(?:ext(?:ension)?|x)\.?\s*[:.]?
      | \#
    )\s*\d+\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MIN_DIGITS = 10


def normalize_phone(text: str | None) -> str | None:
    """The digits a phone number compares by, or None when there are too few to identify a line.

    North American numbers become their 10 digits (a leading ``1`` or ``+1`` is dropped); an extension
    (``x123``, ``ext. 45``, ``#12``) is dropped; other international numbers keep all their digits.
    """
    if not text:
        return None
    text = _EXTENSION.sub("", str(text).strip())
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= _MIN_DIGITS else None


def patient_has_phone(patient: Patient, digits: str) -> bool:
    """Whether any of the patient's phones is the (normalized) number ``digits``."""
    return any(normalize_phone(p) == digits for p in patient.phones)


# -- names ----------------------------------------------------------------------------------------------------

# nickname -> the full names it may stand for (a relation, deliberately not transitive).
_NICKNAME_TABLE: dict[str, tuple[str, ...]] = {
    "abby": ("abigail",),
    "al": ("albert", "alan", "allen", "alfred"),
    "alex": ("alexander", "alexandra", "alexis"),
    "andy": ("andrew",),
    "barb": ("barbara",),
    "becky": ("rebecca",),
    "beth": ("elizabeth", "bethany"),
    "betty": ("elizabeth",),
    "ben": ("benjamin",),
    "bill": ("william",),
    "billy": ("william",),
    "bob": ("robert",),
    "bobby": ("robert",),
    "cathy": ("catherine", "cathleen"),
    "chris": ("christopher", "christine", "christina"),
    "cindy": ("cynthia",),
    "dan": ("daniel",),
    "danny": ("daniel",),
    "dave": ("david",),
    "deb": ("deborah", "debra"),
    "debbie": ("deborah", "debra"),
    "dick": ("richard",),
    "don": ("donald",),
    "drew": ("andrew",),
    "ed": ("edward", "edwin"),
    "eddie": ("edward",),
    "greg": ("gregory",),
    "harry": ("henry", "harold"),
    "jack": ("john",),
    "jake": ("jacob",),
    "jamie": ("james",),
    "jeff": ("jeffrey", "geoffrey"),
    "jen": ("jennifer",),
    "jenny": ("jennifer",),
    "jerry": ("gerald", "jerome"),
    "jim": ("james",),
    "jimmy": ("james",),
    "joe": ("joseph",),
    "joey": ("joseph",),
    "johnny": ("john", "jonathan"),
    "jon": ("jonathan",),
    "josh": ("joshua",),
    "kate": ("katherine", "catherine", "kathryn"),
    "kathy": ("katherine", "kathryn", "kathleen"),
    "katie": ("katherine", "kathryn", "catherine"),
    "ken": ("kenneth",),
    "kim": ("kimberly",),
    "larry": ("lawrence",),
    "liz": ("elizabeth",),
    "lizzie": ("elizabeth",),
    "maggie": ("margaret",),
    "mandy": ("amanda",),
    "matt": ("matthew",),
    "meg": ("margaret", "megan"),
    "mike": ("michael",),
    "mikey": ("michael",),
    "nate": ("nathan", "nathaniel"),
    "nick": ("nicholas",),
    "pam": ("pamela",),
    "pat": ("patricia", "patrick"),
    "patty": ("patricia",),
    "peggy": ("margaret",),
    "rich": ("richard",),
    "rick": ("richard",),
    "rob": ("robert",),
    "ron": ("ronald",),
    "sam": ("samuel", "samantha"),
    "sandy": ("sandra",),
    "steve": ("steven", "stephen"),
    "sue": ("susan",),
    "susie": ("susan",),
    "ted": ("edward", "theodore"),
    "tim": ("timothy",),
    "tom": ("thomas",),
    "tommy": ("thomas",),
    "tony": ("anthony",),
    "trish": ("patricia",),
    "will": ("william",),
    "zach": ("zachary",),
}


def _build_relation(table: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = {}
    for nickname, full_names in table.items():
        for full in full_names:
            related.setdefault(nickname, set()).add(full)
            related.setdefault(full, set()).add(nickname)
    return {name: frozenset(names) for name, names in related.items()}


NICKNAMES: Mapping[str, frozenset[str]] = _build_relation(_NICKNAME_TABLE)
"""Each name and the names it may stand for or be short for (nickname <-> full name only)."""


def normalize_name(text: str | None) -> str:
    """Case- and accent-free letters and single spaces: ``"  José-Luis O'Brien"`` -> ``"jose luis obrien"``."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = re.sub(r"['’`.]", "", plain)  # O'Brien -> obrien, St. -> st
    return " ".join(re.sub(r"[^\w]|[\d_]", " ", plain).split())


def name_tokens(text: str | None) -> tuple[str, ...]:
    """The words of a normalized name (``"José-Luis"`` -> ``("jose", "luis")``), so that a name part can match
    on its own."""
    return tuple(normalize_name(text).split())


def _same_given(a: str, b: str) -> bool:
    return a == b or b in NICKNAMES.get(a, frozenset())


def same_first_name(given: str | None, stored: str | None) -> bool:
    """A given first name against a chart's first (or preferred) name, nickname-aware."""
    a, b = normalize_name(given), normalize_name(stored)
    if not a or not b:
        return False
    if _same_given(a, b) or a.replace(" ", "") == b.replace(" ", ""):
        return True
    # "Mary Ann" against "Mary": the first given name decides.
    return _same_given(a.split()[0], b.split()[0]) and (len(a.split()) == 1 or len(b.split()) == 1)


def same_last_name(given: str | None, stored: str | None) -> bool:
    """Last names by their letters (``O'Brien`` = ``OBrien``, ``Smith-Jones`` = ``Smith Jones``); a part of
    a double surname counts (``Garcia`` against ``Garcia Lopez``). ``Smith`` is not ``Smyth``."""
    a, b = name_tokens(given), name_tokens(stored)
    if not a or not b:
        return False
    if "".join(a) == "".join(b):
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    # Particles ("de", "la", "van") alone are not a surname.
    return all(len(t) > 2 for t in shorter) and set(shorter) <= set(longer)


def validate_birthdate(value: object) -> date | None:
    """``value`` if it is None or a date; a datetime is refused, because its time and zone could shift the
    day it names."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidArgumentError("birthdate must be a date")
    return value


# -- matching -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Evidence:
    patient: Patient
    birthdate_agrees: bool
    name_agrees: int
    name_conflicts: int

    @property
    def rank(self) -> tuple[bool, bool, int]:
        """Charts that contradict nothing first, then a confirmed birthdate, then agreeing name parts."""
        return (self.name_conflicts == 0, self.birthdate_agrees, self.name_agrees)


def _first_name_verdict(given: str, patient: Patient) -> bool | None:
    stored = [n for n in (patient.first_name, patient.preferred_name) if normalize_name(n)]
    if not stored:
        return None
    return any(same_first_name(given, n) for n in stored)


def _evidence(
    patient: Patient, first_name: str | None, last_name: str | None, birthdate: date | None
) -> _Evidence | None:
    if birthdate is not None and patient.birthdate is not None and patient.birthdate != birthdate:
        return None
    agrees = conflicts = 0
    verdicts = []
    if normalize_name(first_name):
        verdicts.append(_first_name_verdict(first_name or "", patient))
    if normalize_name(last_name):
        verdicts.append(
            same_last_name(last_name, patient.last_name) if normalize_name(patient.last_name) else None
        )
    for verdict in verdicts:
        if verdict is True:
            agrees += 1
        elif verdict is False:
            conflicts += 1
    return _Evidence(
        patient=patient,
        birthdate_agrees=birthdate is not None and patient.birthdate == birthdate,
        name_agrees=agrees,
        name_conflicts=conflicts,
    )


def match_patients(
    candidates: Iterable[Patient],
    *,
    phone: str,
    first_name: str | None = None,
    last_name: str | None = None,
    birthdate: date | None = None,
) -> PatientMatch:
    """Decide who is calling from ``phone`` among ``candidates`` (any superset of the phone's charts).

    ``EXACT`` when one chart ranks strictly best and contradicts nothing the caller said; ``AMBIGUOUS`` with
    the tied charts when several rank best (or with the charts on the phone when every one contradicts the
    caller's name); ``NONE`` when no chart has the phone, or a birthdate rules them all out.
    """
    digits = normalize_phone(phone)
    if digits is None:
        raise InvalidArgumentError("phone must have at least 10 digits")
    birthdate = validate_birthdate(birthdate)
    unique = {p.id: p for p in candidates if patient_has_phone(p, digits)}
    evidence = [e for p in unique.values() if (e := _evidence(p, first_name, last_name, birthdate)) is not None]
    if not evidence:
        return PatientMatch(status=MatchStatus.NONE)
    best = max(e.rank for e in evidence)
    top = [e for e in evidence if e.rank == best]
    if len(top) == 1 and top[0].name_conflicts == 0:
        return PatientMatch(status=MatchStatus.EXACT, patient=top[0].patient)
    return PatientMatch(status=MatchStatus.AMBIGUOUS, candidates=tuple(e.patient for e in top))


def _name_token_matches(token: str, patient: Patient) -> bool:
    for given in (patient.first_name, patient.preferred_name):
        if any(_same_given(token, part) for part in name_tokens(given)):
            return True
    last = name_tokens(patient.last_name)
    return token in last or token == "".join(last)


def patient_matches(
    patient: Patient,
    *,
    phone_digits: str | None = None,
    name: str | None = None,
    birthdate: date | None = None,
    email: str | None = None,
) -> bool:
    """Whether a chart satisfies every given search criterion.

    ``name`` may be a first, last or full name ("Bill Smith", "Smith, Bill"): every word must be one of the
    chart's first, preferred or last names (nickname-aware for given names).
    """
    if phone_digits is not None and not patient_has_phone(patient, phone_digits):
        return False
    if birthdate is not None and patient.birthdate != birthdate:
        return False
    if email is not None and (patient.email or "").strip().casefold() != email.strip().casefold():
        return False
    if name is not None:
        tokens = name_tokens(name)
        if not tokens or not all(_name_token_matches(t, patient) for t in tokens):
            return False
    return True


# -- what a provider's search and match build on --------------------------------------------------------------


def check_phone(phone: object, name: str = "phone") -> str:
    """A caller's phone as its normalized digits, or InvalidArgumentError before any request."""
    if not isinstance(phone, str):
        raise InvalidArgumentError(f"{name} must be a string")
    digits = normalize_phone(phone)
    if digits is None:
        raise InvalidArgumentError(f"{name} must have at least 10 digits")
    return digits


@dataclass(frozen=True)
class SearchCriteria:
    """A patient search's checked criteria (at least one is given)."""

    phone_digits: str | None
    name: str | None
    name_tokens: tuple[str, ...]
    birthdate: date | None
    email: str | None


def search_criteria(
    *, phone: object = None, name: object = None, birthdate: object = None, email: object = None
) -> SearchCriteria:
    """Check a search's criteria before any request: a phone of 10 digits or more, a name with letters,
    a date (not a datetime), a non-empty email; at least one of them."""
    digits = check_phone(phone) if phone is not None else None
    tokens: tuple[str, ...] = ()
    if name is not None and (not isinstance(name, str) or not (tokens := name_tokens(name))):
        raise InvalidArgumentError("name must contain letters")
    if email is not None and (not isinstance(email, str) or not email.strip()):
        raise InvalidArgumentError("email must be a non-empty string")
    day = validate_birthdate(birthdate)
    if digits is None and not tokens and day is None and email is None:
        raise InvalidArgumentError("give at least one of phone, name, birthdate or email")
    return SearchCriteria(
        phone_digits=digits,
        name=name if isinstance(name, str) else None,
        name_tokens=tokens,
        birthdate=day,
        email=email.strip() if isinstance(email, str) else None,
    )


def unique_patients(patients: Iterable[Patient]) -> list[Patient]:
    """Each chart once (the first seen), in order: several queries may return one chart."""
    seen: dict[str, Patient] = {}
    for patient in patients:
        seen.setdefault(patient.id, patient)
    return list(seen.values())


def keep_matching(patients: Iterable[Patient], criteria: SearchCriteria) -> list[Patient]:
    """The charts (each once) satisfying every criterion: what a server's search found only narrows."""
    return [
        p
        for p in unique_patients(patients)
        if patient_matches(
            p,
            phone_digits=criteria.phone_digits,
            name=criteria.name,
            birthdate=criteria.birthdate,
            email=criteria.email,
        )
    ]


async def match_caller(
    charts_on_phone: Callable[[str], Awaitable[list[Patient]]],
    *,
    phone: object,
    first_name: object = None,
    last_name: object = None,
    birthdate: object = None,
) -> PatientMatch:
    """Who is calling from ``phone``: every argument checked before any request, then the provider's
    ``charts_on_phone(digits)`` (any superset of the charts with that number), then
    [match_patients][pms_connect.matching.match_patients]."""
    digits = check_phone(phone)
    day = validate_birthdate(birthdate)
    names: list[str | None] = []
    for value, label in ((first_name, "first_name"), (last_name, "last_name")):
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(f"{label} must be a string or None")
        names.append(value)
    return match_patients(
        await charts_on_phone(digits), phone=digits, first_name=names[0], last_name=names[1], birthdate=day
    )
