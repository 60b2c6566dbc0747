"""The synchronous facade drives the async provider over every read, from one thread or many."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from pms_connect.blocking import BlockingProvider, SyncPager, connect
from pms_connect.models import ConnectionCheck, FeatureSet, Patient
from pms_connect.testing import FakeClock, SikkaSandbox


@pytest.fixture
def sandbox() -> SikkaSandbox:
    return SikkaSandbox(seed=5, clock=FakeClock())


@pytest.fixture
def pms(sandbox: SikkaSandbox) -> Iterator[BlockingProvider]:
    with connect(sandbox.provider()) as blocking:
        yield blocking


def test_every_read_matches_the_async_provider(sandbox: SikkaSandbox, pms: BlockingProvider) -> None:
    async def expected() -> dict[str, object]:
        async with sandbox.provider() as a:
            today = a.today()
            patients = await a.patients.list().all()
            appointments = await a.appointments.list(start=today, end=today + timedelta(days=3)).all()
            return {
                "practices": await a.practices.list().all(),
                "providers": await a.providers.list(active_only=True).all(),
                "operatories": await a.operatories.list().all(),
                "patients": patients,
                "appointments": appointments,
                "appointment": await a.appointments.get(appointments[0].id),
                "patient": await a.patients.get(patients[3].id),
                "carriers": await a.insurance.carriers().all(),
                "coverage": await a.insurance.coverage(patients[3].id),
                "payments": await a.payments.list(start=today - timedelta(days=30), end=today).all(),
            }

    want = asyncio.run(expected())
    today = pms.today()
    assert list(pms.practices.list()) == want["practices"]
    assert pms.providers.list(active_only=True).all() == want["providers"]
    assert list(pms.operatories.list()) == want["operatories"]
    patients = pms.patients.list()
    assert isinstance(patients, SyncPager)
    assert list(patients) == want["patients"]
    appointments = pms.appointments.list(start=today, end=today + timedelta(days=3)).all()
    assert appointments == want["appointments"]
    assert pms.appointments.get(appointments[0].id) == want["appointment"]
    assert pms.patients.get(want["patients"][3].id) == want["patient"]  # type: ignore[index]
    assert list(pms.insurance.carriers()) == want["carriers"]
    assert pms.insurance.coverage(want["patients"][3].id) == want["coverage"]  # type: ignore[index]
    assert pms.payments.list(start=today - timedelta(days=30), end=today).all() == want["payments"]
    first = pms.patients.list().first()
    assert isinstance(first, Patient)
    pages = list(pms.patients.list().pages())
    assert sum(len(p.items) for p in pages) == len(want["patients"])  # type: ignore[arg-type]


def test_connection_check_features_and_search(pms: BlockingProvider) -> None:
    check = pms.test_connection()
    assert isinstance(check, ConnectionCheck)
    assert check.ok
    assert isinstance(pms.get_features(), FeatureSet)
    someone = pms.patients.list().first()
    assert someone.cell_phone
    found = pms.patients.search(phone=someone.cell_phone)
    assert someone.id in {p.id for p in found}


def test_calls_from_many_threads_share_one_loop(pms: BlockingProvider) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(len(pms.providers.list().all()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert len(results) == 8


def test_errors_surface_as_the_sdks_own(pms: BlockingProvider) -> None:
    from pms_connect.errors import InvalidArgumentError, NotFoundError

    with pytest.raises(NotFoundError):
        pms.patients.get("no-such-patient")
    from datetime import datetime

    with pytest.raises(InvalidArgumentError):
        pms.appointments.list(start=datetime(2026, 1, 1), end=datetime(2026, 1, 2)).all()


def test_close_is_idempotent_and_stops_the_loop(sandbox: SikkaSandbox) -> None:
    blocking = connect(sandbox.provider())
    assert blocking.test_connection().ok
    blocking.close()
    blocking.close()
    with pytest.raises(RuntimeError):
        blocking.providers.list().all()
