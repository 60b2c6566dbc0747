"""End to end: ``SikkaProvider`` against the in-process ``SikkaSandbox``, compared record by record with
``sandbox.world``, through pagination, request-key expiry, 429s and injected 5xx/dropped connections.

Everything runs on a ``FakeClock``: backoffs, rate-limit waits, latency and key lifetimes advance virtual
time, nothing really waits and nothing leaves the process.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from pms_connect.errors import RateLimitError
from pms_connect.http import RetryPolicy
from pms_connect.sikka import SikkaProvider
from pms_connect.testing import FakeClock, SikkaSandbox

PRACTICE = "1"  # the practice the sandbox's credentials pick
REFRESH_SKEW = dt.timedelta(hours=1)  # TokenManager's default: refresh this long before expiry
KEY_LIFETIME = dt.timedelta(hours=24)  # SikkaSandbox's default key lifetime


# ------------------------------------------------------------------------------------------------- helpers
@dataclass
class Exchange:
    """One request the provider sent and what came back (as the client saw it)."""

    method: str
    path: str
    grant_type: str | None
    status: int
    reset_hint: str | None


class SpyTransport(httpx.AsyncBaseTransport):
    """The sandbox's transport, recording each exchange: the grant type of key requests (the sandbox log has
    no bodies) and the ``X-Rate-Limit-Reset`` hint of each answer (the sandbox log has no headers)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        grant_type = None
        if request.method == "POST" and request.url.path.endswith("/request_key"):
            grant_type = json.loads(request.content).get("grant_type")
        response = await self.inner.handle_async_request(request)
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.path,
                grant_type,
                response.status_code,
                response.headers.get("X-Rate-Limit-Reset"),
            )
        )
        return response

    def grants(self) -> list[str | None]:
        return [e.grant_type for e in self.exchanges if e.path == "/v4/request_key"]


def provider_over(sandbox: SikkaSandbox, transport: httpx.AsyncBaseTransport, **kw: Any) -> SikkaProvider:
    """What ``sandbox.provider()`` builds, over a transport wrapped around the sandbox's."""
    return SikkaProvider(
        sandbox.credentials,
        timezone=sandbox.timezone,
        base_url=sandbox.base_url,
        transport=transport,
        clock=sandbox.clock,
        **kw,
    )


def practice_patient_ids(sandbox: SikkaSandbox) -> list[str]:
    """The practice's patients in the order Sikka lists them (by numeric id)."""
    ids = [p.patient_id for p in sandbox.world.patients.values() if p.practice_id == PRACTICE]
    return sorted(ids, key=int)


def key_posts(sandbox: SikkaSandbox) -> int:
    return sum(1 for r in sandbox.requests if (r.method, r.path) == ("POST", "/v4/request_key"))


@pytest.fixture
async def pms(sandbox: SikkaSandbox) -> AsyncIterator[SikkaProvider]:
    async with sandbox.provider() as provider:
        yield provider


@pytest.fixture
def zone(sandbox: SikkaSandbox) -> ZoneInfo:
    return ZoneInfo(sandbox.timezone)


# ------------------------------------------------------------------------------------- 1. reads vs the world
async def test_practices_are_the_offices_practices(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    office = sandbox.world.offices[sandbox.credentials.office_id]
    expected = [(pid, sandbox.world.practices[pid].name) for pid in office.practice_ids]
    practices = await pms.practices.list().all()
    assert [(p.id, p.name) for p in practices] == expected


async def test_providers_match_the_world_including_inactive_and_hidden(
    sandbox: SikkaSandbox, pms: SikkaProvider
) -> None:
    world = [p for p in sandbox.world.providers if p.practice_id == PRACTICE]
    assert any(not p.active for p in world), "precondition: the seed has an inactive provider"
    assert any(p.is_hidden for p in world), "precondition: the seed has a hidden provider"
    expected = [(p.provider_id, p.firstname, p.lastname, p.active, p.is_hidden, PRACTICE) for p in world]
    providers = await pms.providers.list().all()
    assert [(p.id, p.first_name, p.last_name, p.active, p.hidden, p.practice_id) for p in providers] == expected


async def test_active_only_drops_inactive_providers(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    expected = [p.provider_id for p in sandbox.world.providers if p.practice_id == PRACTICE and p.active]
    assert [p.id for p in await pms.providers.list(active_only=True).all()] == expected


async def test_operatories_exclude_hidden_ones_by_default(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    world = [o for o in sandbox.world.operatories if o.practice_id == PRACTICE]
    assert any(o.is_hidden for o in world), "precondition: the seed has a hidden operatory"
    operatories = await pms.operatories.list().all()
    assert [(o.id, o.name, o.hidden) for o in operatories] == [
        (o.operatory, o.abbreviation, False) for o in world if not o.is_hidden
    ]


async def test_operatories_include_hidden_ones_when_asked(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    world = [o for o in sandbox.world.operatories if o.practice_id == PRACTICE]
    operatories = await pms.operatories.list(include_hidden=True).all()
    assert [(o.id, o.name, o.hidden) for o in operatories] == [
        (o.operatory, o.abbreviation, o.is_hidden) for o in world
    ]


async def test_appointments_in_a_window_match_the_world(
    sandbox: SikkaSandbox, pms: SikkaProvider, zone: ZoneInfo
) -> None:
    # Ten days back (completed, cancelled, broken) to four ahead (scheduled, confirmed), as aware datetimes.
    start = dt.datetime.combine(sandbox.today - dt.timedelta(days=10), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(sandbox.today + dt.timedelta(days=4), dt.time(0), tzinfo=zone)
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
    world = sorted(
        (a for a in sandbox.world.appointments.values() if a.practice_id == PRACTICE and a.overlaps(lo, hi)),
        key=lambda a: int(a.appointment_sr_no),
    )
    assert {a.cancelled for a in world} == {True, False}, "precondition: the window mixes cancelled and not"
    appointments = await pms.appointments.list(start=start, end=end).all()
    # Sikka sends practice-local wall-clock times: equal instants mean the practice's zone was attached.
    assert [(a.id, a.start, a.duration, a.cancelled) for a in appointments] == [
        (a.appointment_sr_no, a.start.replace(tzinfo=zone), dt.timedelta(minutes=a.length), a.cancelled)
        for a in world
    ]


async def test_patients_match_the_world(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    patients = {p.id: p for p in await pms.patients.list().all()}
    assert len(patients) == len(practice_patient_ids(sandbox))
    for patient_id in ("1001", "1500", practice_patient_ids(sandbox)[-1]):
        world = sandbox.world.patients[patient_id]
        got = patients[patient_id]
        assert (
            got.first_name,
            got.last_name,
            got.birthdate,
            got.email,
            got.cell_phone or "",
            got.home_phone or "",
            got.guarantor_id,
            got.provider_id,
            got.status,
        ) == (
            world.firstname,
            world.lastname,
            world.birthdate,
            world.email,
            world.cell,
            world.homephone,
            world.guarantor_id,
            world.provider_id,
            world.status,
        ), patient_id


async def test_carriers_match_the_world(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    world = sorted(
        (c for c in sandbox.world.carriers.values() if c.practice_id == PRACTICE),
        key=lambda c: int(c.insurance_company_id),
    )
    carriers = await pms.insurance.carriers().all()
    assert [(c.id, c.name, c.payer_id, c.phone) for c in carriers] == [
        (c.insurance_company_id, c.name, c.payer_id, c.phone) for c in world
    ]


async def test_coverage_of_a_patient_with_two_plans(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    by_patient: dict[str, list[Any]] = {}
    for s in sandbox.world.subscribers:
        if s.practice_id == PRACTICE:
            by_patient.setdefault(s.patient_id, []).append(s)
    patient_id, world = next((pid, subs) for pid, subs in by_patient.items() if len(subs) >= 2)
    coverage = await pms.insurance.coverage(patient_id)
    assert sorted(
        (c.patient_id, c.carrier_id, c.subscriber_id, c.kind, c.effective_date, c.deductible_remaining)
        for c in coverage
    ) == sorted(
        (
            s.patient_id,
            s.insurance_company_id,
            s.subscriber_id,
            s.type,
            s.insurance_effective_date,
            s.individual_deductible_remaining,
        )
        for s in world
    )


async def test_payments_in_a_window_match_the_world(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    first, last = sandbox.today - dt.timedelta(days=30), sandbox.today
    world = sorted(
        (
            t
            for t in sandbox.world.transactions.values()
            if t.practice_id == PRACTICE and first <= t.transaction_date <= last
        ),
        key=lambda t: int(t.transaction_sr_no),
    )
    transactions = await pms.payments.list(start=first, end=last).all()
    assert [(t.id, t.date, t.kind, t.amount, t.patient_id) for t in transactions] == [
        (t.transaction_sr_no, t.transaction_date, t.transaction_type, t.amount, t.patient_id) for t in world
    ]


# ------------------------------------------------------------------------------------------- 2. pagination
async def test_fifty_row_pages_yield_every_patient_once_in_order(sandbox: SikkaSandbox) -> None:
    expected = practice_patient_ids(sandbox)
    assert len(expected) >= 2000
    async with sandbox.provider(page_size=50) as pms:
        ids = [p.id async for p in pms.patients.list()]
    assert ids == expected


async def test_fifty_row_pages_are_one_request_per_page_index(sandbox: SikkaSandbox) -> None:
    pages = math.ceil(len(practice_patient_ids(sandbox)) / 50)
    async with sandbox.provider(page_size=50) as pms:
        await pms.patients.list().all()
    gets = [r for r in sandbox.requests if (r.method, r.path) == ("GET", "/v4/patients")]
    assert sorted(int(r.params["offset"]) for r in gets) == list(range(pages))
    assert {r.params["limit"] for r in gets} == {"50"}


# ---------------------------------------------------------------------------------------- 3. key expiry
async def test_expired_key_is_renewed_by_one_refresh_grant(sandbox: SikkaSandbox) -> None:
    spy = SpyTransport(sandbox.transport)
    async with provider_over(sandbox, spy) as pms:
        before = await pms.providers.list().all()
        assert spy.grants() == ["request_key"]
        sandbox.faults.expire_keys()
        after = await pms.providers.list().all()
    assert after == before
    assert spy.grants() == ["request_key", "refresh_key"]


async def _read_patients_expiring_the_key_after_page_0(sandbox: SikkaSandbox) -> list[str]:
    """Every patient id over 500-row pages; the key expires once page 0 is in hand (async iteration: no
    other page has been asked for yet), so the next pages, fetched concurrently, all meet API1025."""
    ids: list[str] = []
    async with sandbox.provider(page_size=500) as pms:
        async for patient in pms.patients.list():
            if not ids:
                sandbox.faults.expire_keys()
                sandbox.requests.clear()
            ids.append(patient.id)
    return ids


async def test_key_expiring_mid_pagination_still_yields_every_patient_once(sandbox: SikkaSandbox) -> None:
    ids = await _read_patients_expiring_the_key_after_page_0(sandbox)
    refused = [r for r in sandbox.requests if r.path == "/v4/patients" and r.status == 400]
    assert refused, "precondition: no page met the expired key"
    assert ids == practice_patient_ids(sandbox)


async def test_pages_refused_together_share_one_key_refresh(sandbox: SikkaSandbox) -> None:
    await _read_patients_expiring_the_key_after_page_0(sandbox)
    refused = [r for r in sandbox.requests if r.path == "/v4/patients" and r.status == 400]
    assert len(refused) >= 2, "precondition: several pages must meet the expired key"
    assert key_posts(sandbox) == 1


async def test_key_is_refreshed_before_it_expires(sandbox: SikkaSandbox, clock: FakeClock) -> None:
    spy = SpyTransport(sandbox.transport)
    async with provider_over(sandbox, spy) as pms:
        await pms.providers.list().all()
        clock.advance(KEY_LIFETIME - REFRESH_SKEW + dt.timedelta(seconds=1))  # due, still valid at Sikka
        spy.exchanges.clear()
        await pms.providers.list().all()
    # The refresh comes first: the sandbox never had to refuse the key (API1025 is a 400).
    assert [(e.path, e.grant_type, e.status) for e in spy.exchanges] == [
        ("/v4/request_key", "refresh_key", 200),
        ("/v4/providers", None, 200),
    ]


async def test_key_not_yet_due_is_reused(sandbox: SikkaSandbox, clock: FakeClock) -> None:
    async with sandbox.provider() as pms:
        await pms.providers.list().all()
        clock.advance(KEY_LIFETIME - REFRESH_SKEW - dt.timedelta(minutes=1))
        await pms.providers.list().all()
    assert key_posts(sandbox) == 1


# ----------------------------------------------------------------------------------------------- 4. 429s
async def test_rate_limit_storm_is_absorbed_without_a_failed_call(sandbox: SikkaSandbox) -> None:
    async with sandbox.provider() as pms:
        calm = await pms.providers.list().all()  # holds a key now: the storm hits reads, not the grant
        sandbox.faults.rate_limit_storm(3)  # the default RetryPolicy makes 4 attempts
        stormy = await pms.providers.list().all()
        carriers = await pms.insurance.carriers().all()
    world_carriers = [c for c in sandbox.world.carriers.values() if c.practice_id == PRACTICE]
    assert (stormy, len(carriers)) == (calm, len(world_carriers))
    stormed = [r for r in sandbox.requests if r.status == 429]
    assert [(r.path, r.fault) for r in stormed] == [("/v4/providers", "rate_limit_storm")] * 3


async def test_rate_limit_storm_waits_exactly_the_reset_hints(sandbox: SikkaSandbox, clock: FakeClock) -> None:
    spy = SpyTransport(sandbox.transport)
    async with provider_over(sandbox, spy) as pms:
        await pms.providers.list().all()  # opens the sandbox's 60 s window
        clock.advance(25)  # so the first hint is 35 s, the next ones a whole fresh window
        sandbox.faults.rate_limit_storm(3)
        spy.exchanges.clear()
        before = clock.monotonic()
        await pms.providers.list().all()
        waited = clock.monotonic() - before
    hints = [float(e.reset_hint or "nan") for e in spy.exchanges if e.status == 429]
    assert hints == [35.0, 60.0, 60.0]
    assert waited == sum(hints)


async def test_provider_adapts_to_a_server_budget_smaller_than_its_own() -> None:
    clock = FakeClock()
    sandbox = SikkaSandbox(seed=7, clock=clock, rate_limit=30)
    async with sandbox.provider(rate_limit=200) as pms:
        for _ in range(100):
            await pms.providers.list().all()
    # 100 reads at 30 per 60 s window need at least three window resets: the server's budget was binding.
    assert clock.monotonic() >= 180
    # Every answer carries X-Rate-Limit-Remaining/Reset and the limiter stops at Remaining 0 until the reset
    # (rounded up to whole seconds by the server, so never early): we expect no 429 at all. One is tolerated
    # for a client that only learns the window's edge from a refusal; a refusal is retried after its hint,
    # so it costs time, never a call.
    rejected = [r for r in sandbox.requests if r.status == 429]
    assert len(rejected) <= 1


class DailyQuotaSpent(httpx.AsyncBaseTransport):
    """The sandbox, except that provider reads meet Sikka's daily data quota refusal (API2011, HTTP 429)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v4/providers":
            return await self.inner.handle_async_request(request)
        self.refused += 1
        body = {
            "http_code": "429",
            "http_code_desc": "Too Many Requests",
            "error_code": "API2011",
            "short_message": "Data limit exceeded",
            "long_message": "Data size per practice per day exceeded",
            "more_information": "Please make request to the datalimit API for more information.",
        }
        return httpx.Response(429, json=body, headers={"X-Rate-Limit-Reset": "30"})


async def test_daily_data_quota_refusal_is_not_retried(sandbox: SikkaSandbox) -> None:
    quota = DailyQuotaSpent(sandbox.transport)
    async with provider_over(sandbox, quota) as pms:
        with pytest.raises(RateLimitError):
            await pms.providers.list().all()
    assert quota.refused == 1


# ------------------------------------------------------------------------------------------ 5. fault runs
async def _read_everything(sandbox: SikkaSandbox, **kw: Any) -> dict[str, list[Any]]:
    first = sandbox.today - dt.timedelta(days=7)
    last = sandbox.today + dt.timedelta(days=7)
    async with sandbox.provider(page_size=250, **kw) as pms:
        return {
            "providers": await pms.providers.list().all(),
            "patients": await pms.patients.list().all(),
            "appointments": await pms.appointments.list(start=first, end=last).all(),
            "carriers": await pms.insurance.carriers().all(),
            "payments": await pms.payments.list(start=first - dt.timedelta(days=21), end=first).all(),
        }


# Faults are drawn from the sandbox seed, but which request draws which fault depends on how the concurrent
# page fetches interleave (backoff jitter). For these seeds no request met more than 3 faults in a row in
# 20 differently interleaved runs each; 8 attempts leave a wide margin (a fresh draw fails 8 times in a row
# with probability 0.44**8, about 0.1%).
@pytest.mark.parametrize("seed", [1, 2, 4, 11])
async def test_faulty_run_reads_exactly_what_a_fault_free_run_reads(seed: int) -> None:
    expected = await _read_everything(SikkaSandbox(seed=seed, clock=FakeClock()))
    sandbox = SikkaSandbox(seed=seed, clock=FakeClock())
    sandbox.faults.error_rate = 0.3
    sandbox.faults.drop_rate = 0.2
    sandbox.faults.latency = dt.timedelta(milliseconds=200)
    got = await _read_everything(sandbox, retry=RetryPolicy(max_attempts=8))
    injected = {r.fault for r in sandbox.requests if r.fault}
    assert {"error", "dropped", "connect_error"} <= injected, f"precondition: faults not all injected: {injected}"
    assert got == expected


# ---------------------------------------------------------------------------------- 6. test_connection()
async def test_connection_reports_practice_name_and_pms(sandbox: SikkaSandbox, pms: SikkaProvider) -> None:
    check = await pms.test_connection()
    assert (check.ok, check.practice_name, check.pms_name, check.error) == (
        True,
        sandbox.world.practices[PRACTICE].name,
        sandbox.pms_name,
        None,
    )


WRONG_SECRET = "wrong-secret-8c1f0e5d2b"


def wrong_secret_provider(sandbox: SikkaSandbox) -> SikkaProvider:
    credentials = sandbox.credentials.model_copy(update={"secret_key": SecretStr(WRONG_SECRET)})
    return SikkaProvider(
        credentials,
        timezone=sandbox.timezone,
        base_url=sandbox.base_url,
        transport=sandbox.transport,
        clock=sandbox.clock,
    )


async def test_connection_with_a_wrong_secret_reports_the_refusal(sandbox: SikkaSandbox) -> None:
    async with wrong_secret_provider(sandbox) as pms:
        check = await pms.test_connection()  # must not raise
    assert not check.ok
    assert check.error is not None
    assert "refused the credentials" in check.error
    assert "API2003" in check.error


async def test_connection_check_never_shows_the_wrong_secret(sandbox: SikkaSandbox) -> None:
    async with wrong_secret_provider(sandbox) as pms:
        check = await pms.test_connection()
    assert not check.ok, "precondition: the check must fail"
    for rendering in (check.model_dump_json(), repr(check), str(check), str(check.model_dump())):
        assert WRONG_SECRET not in rendering
