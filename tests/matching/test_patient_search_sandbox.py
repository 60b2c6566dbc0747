"""patients.match / patients.search end to end against SikkaSandbox, and a PHI canary."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date

import pytest

from pms_connect.errors import InvalidArgumentError, PmsError
from pms_connect.matching import normalize_phone
from pms_connect.models import MatchStatus
from pms_connect.sikka import SikkaProvider
from pms_connect.sikka.sandbox.data import PatientRecord
from pms_connect.testing import FakeClock, SikkaSandbox


@pytest.fixture
def sandbox() -> SikkaSandbox:
    return SikkaSandbox(seed=7, clock=FakeClock())


@pytest.fixture
async def pms(sandbox: SikkaSandbox) -> AsyncIterator[SikkaProvider]:
    async with sandbox.provider() as provider:
        yield provider


def by_phone(sandbox: SikkaSandbox) -> dict[str, list[PatientRecord]]:
    index: dict[str, list[PatientRecord]] = defaultdict(list)
    for p in sandbox.world.patients.values():
        if p.practice_id == "1":
            for digits in {normalize_phone(x) for x in (p.cell, p.homephone, p.workphone)} - {None}:
                index[digits].append(p)  # type: ignore[index]
    return index


def patient_requests(sandbox: SikkaSandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path.endswith("/patients"))


def pretty(digits: str) -> str:
    return f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}"


async def test_household_phone_is_ambiguous_and_a_birthdate_makes_it_exact(
    sandbox: SikkaSandbox, pms: SikkaProvider
) -> None:
    digits, members = next(
        (d, m) for d, m in by_phone(sandbox).items()
        if len(m) >= 2 and all(p.birthdate for p in m) and len({p.birthdate for p in m}) == len(m)
    )  # fmt: skip
    result = await pms.patients.match(phone=pretty(digits))
    assert result.status is MatchStatus.AMBIGUOUS
    assert sorted(p.id for p in result.candidates) == sorted(p.patient_id for p in members)
    assert patient_requests(sandbox) == 1, "one request finds every chart on the phone"

    target = members[-1]
    exact = await pms.patients.match(phone=pretty(digits), birthdate=target.birthdate)
    assert exact.status is MatchStatus.EXACT
    assert exact.patient is not None
    assert exact.patient.id == target.patient_id


@pytest.mark.parametrize(
    "stored",
    ["555-019-4477", "(555) 019-4477", "(555)019-4477", "5550194477", "555.019.4477", "555-019-4477 x301"],
)
@pytest.mark.parametrize("field", ["cell", "homephone", "workphone"])
async def test_every_stored_format_in_every_phone_field_is_found(
    sandbox: SikkaSandbox, pms: SikkaProvider, stored: str, field: str
) -> None:
    assert "5550194477" not in by_phone(sandbox)
    chosen = next(p for p in sandbox.world.patients.values() if p.practice_id == "1" and p.birthdate)
    phones = {"cell": "", "homephone": "", "workphone": "", field: stored}
    changed = dataclasses.replace(chosen, **phones)
    sandbox.world.patients[chosen.patient_id] = changed
    for asked in ("1-555-019-4477", "+1 (555) 019-4477 ext. 9", "555.019.4477"):
        result = await pms.patients.match(phone=asked)
        assert result.status is MatchStatus.EXACT, asked
        assert result.patient is not None
        assert result.patient.id == chosen.patient_id
    assert [p.id for p in await pms.patients.search(phone="5550194477")] == [chosen.patient_id]


async def test_an_unknown_phone_is_none(pms: SikkaProvider) -> None:
    assert (await pms.patients.match(phone="555-000-0000")).status is MatchStatus.NONE


async def test_search_every_criterion_must_hold(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    target = next(
        p for p in sandbox.world.patients.values()
        if p.practice_id == "1" and p.cell and p.email and p.birthdate and p.firstname == "William"
    )  # fmt: skip
    assert [p.id for p in await pms.patients.search(phone=target.cell, name=f"Bill {target.lastname}")] == [
        target.patient_id
    ]
    assert target.patient_id in [p.id for p in await pms.patients.search(email=target.email.upper())]
    assert target.patient_id in [p.id for p in await pms.patients.search(birthdate=target.birthdate)]
    assert await pms.patients.search(phone=target.cell, birthdate=date(1901, 1, 2)) == []
    found = await pms.patients.search(name="Bill")
    assert target.patient_id in [p.id for p in found]
    assert all("william" in (p.first_name.lower(), (p.preferred_name or "").lower()) or
               "bill" in (p.first_name.lower(), (p.preferred_name or "").lower()) or
               p.last_name.lower() == "bill" for p in found)  # fmt: skip
    assert len({p.id for p in found}) == len(found), "de-duplicated"


async def test_search_needs_a_criterion_and_refuses_before_any_request(
    sandbox: SikkaSandbox, pms: SikkaProvider
) -> None:
    for bad in ({}, {"name": "  "}, {"phone": "12"}, {"email": ""}, {"name": "1234"}):
        with pytest.raises(InvalidArgumentError):
            await pms.patients.search(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await pms.patients.match(phone="555-0100")
    assert sandbox.requests == []


async def test_no_phi_in_logs_or_errors(
    sandbox: SikkaSandbox, pms: SikkaProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """A canary chart's name, phone and birthdate must never reach a log line or an exception message."""
    canary = dataclasses.replace(
        next(iter(sandbox.world.patients.values())),
        firstname="Zebulonius",
        lastname="Quackenbushwick",
        preferred_name="Zeb",
        birthdate=date(1977, 7, 17),
        cell="(555) 013-7799",
        homephone="",
        workphone="",
        practice_id="1",
    )
    sandbox.world.patients[canary.patient_id] = canary
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    assert (await pms.patients.match(phone="555-013-7799", first_name="Zeb")).status is MatchStatus.EXACT
    await pms.patients.search(name="Zebulonius Quackenbushwick", birthdate=date(1977, 7, 17))
    await pms.patients.search(phone="5550137799", name="Zeb")
    for bad in (
        {"phone": "Zebulonius 013-7799"},
        {"phone": "5550137799", "name": "--"},
        {"birthdate": "1977-07-17"},
        {"email": "   "},
    ):
        with pytest.raises(PmsError) as caught:
            await pms.patients.search(**bad)  # type: ignore[arg-type]
        messages += [str(caught.value), repr(caught.value)]
    with pytest.raises(PmsError) as caught:
        await pms.patients.match(phone="Quackenbushwick 013-7799")
    messages += [str(caught.value), repr(caught.value)]
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join([*messages, *(r.getMessage() for r in ours)])
    assert ours, "the pipeline logged the requests"
    for secret in ("Zebulonius", "Quackenbushwick", "Zeb ", "1977", "013-7799", "0137799", "7799"):
        assert secret not in text, secret
    assert not re.search(r"555\D?013", text)


async def test_httpx_request_log_has_no_query_values(pms: SikkaProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await pms.patients.search(phone="555-013-7799", birthdate=date(1977, 7, 17))
    await pms.patients.search(birthdate=date(1977, 7, 17))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "7799" not in text
    assert "1977-07-17" not in text
