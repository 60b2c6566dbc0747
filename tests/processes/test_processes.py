"""Exactly-once writes with real processes: four workers racing for one dentist, and workers killed (SIGKILL)
at every point of a write, then a new worker finishing what they left, all on one SqliteStore file."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pms_connect.stores import SqliteStore
from pms_connect.testing import FakeClock

from ..served import Served
from .conftest import Worker

pytestmark = pytest.mark.slow


def far_weekday(today: date, days: int) -> date:
    day = today + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def patients(served: Served, n: int) -> list[str]:
    world = served.sandbox.world
    return sorted(p.patient_id for p in world.patients.values() if p.practice_id == "1")[:n]


@pytest.mark.parametrize("store", ["sqlite", "redis"])
@pytest.mark.parametrize("chairs", ["same chair", "different chairs"])
def test_four_processes_book_one_dentist_once_per_slot(
    frozen: Served, workers: list[Worker], tmp_path: Path, chairs: str, store: str, request: pytest.FixtureRequest
) -> None:
    """Four worker processes sharing a SqliteStore, or sharing nothing but a Redis (each with its own
    directory: two hosts or four), race for one dentist at one time in each of 10 rounds."""
    sandbox = frozen.sandbox
    zone = ZoneInfo(sandbox.timezone)
    if store == "redis":
        url, prefix = request.getfixturevalue("redis_url"), f"fleet{secrets.token_hex(4)}"
        workers.extend(
            Worker(frozen, tmp_path / f"host{i}" / "unused.db", redis_url=url, prefix=prefix) for i in range(4)
        )
    else:
        workers.extend(Worker(frozen, tmp_path / "pms.db") for _ in range(4))
    for worker in workers:
        worker.ready()
    who = patients(frozen, 4)
    day = far_weekday(sandbox.today, 60)
    sandbox.requests.clear()
    rounds: list[list[dict[str, Any] | None]] = []
    starts = [datetime.combine(day, time(5, 0), tzinfo=zone) + timedelta(minutes=40 * r) for r in range(10)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for start in starts:
            commands = [
                {
                    "op": "book",
                    "patient_id": who[i],
                    "provider_id": "DMD1",
                    "start": start.isoformat(),
                    "operatory": "OP1" if chairs == "same chair" else f"OP{i + 1}",
                }
                for i in range(4)
            ]
            for worker, command in zip(workers, commands, strict=True):
                worker.send(command)  # all four at once: they race at the practice's booking lock
            rounds.append(list(pool.map(lambda w: w.answer(), workers)))

    for answers in rounds:
        handles = [a for a in answers if a and "handle" in a]
        refused = [a for a in answers if a and a.get("error") == "SlotUnavailableError"]
        assert len(handles) == 1, answers
        assert len(refused) == 3, answers
        assert handles[0]["acknowledged"] is True
    posted = [r for r in sandbox.requests if (r.method, r.path) == ("POST", "/v4/appointment")]
    assert len(posted) == 10, "the refused callers sent nothing"
    # The PMS accepts overlaps (reject_overlaps is off): one appointment per slot is the store's doing.
    for worker in workers:  # first the workers stop polling: the sandbox's queue is not for two threads
        assert worker.stop() == 0
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(timedelta(minutes=5))
    applied = sandbox._state.queue.process()
    assert len(applied) == 10
    booked = Counter(
        a.start
        for a in sandbox.world.appointments.values()
        if a.provider_id == "DMD1" and a.start.date() == day and not a.cancelled
    )
    assert sorted(booked) == [s.replace(tzinfo=None) for s in starts]
    assert set(booked.values()) == {1}


CRASH_POINTS = ("before_intent", "after_intent", "after_sending", "after_answer", "while_tracking")
KINDS = ("book", "reschedule", "cancel", "create", "pay")


def commands_for(live: Served) -> dict[tuple[str, str], dict[str, Any]]:
    """One distinct write for every crash point and kind."""
    sandbox = live.sandbox
    zone = ZoneInfo(sandbox.timezone)
    who = patients(live, len(CRASH_POINTS))
    upcoming = sorted(
        (
            a
            for a in sandbox.world.appointments.values()
            if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today + timedelta(days=2)
        ),
        key=lambda a: a.appointment_sr_no,
    )
    book_day, move_day = far_weekday(sandbox.today, 70), far_weekday(sandbox.today, 75)
    commands = {}
    for n, point in enumerate(CRASH_POINTS):
        slot = datetime.combine(book_day, time(5, 0), tzinfo=zone) + timedelta(minutes=40 * n)
        moved = upcoming[n]
        new_time = datetime.combine(move_day, time(4, 0), tzinfo=zone) + timedelta(hours=2 * n)
        commands[point, "book"] = {
            "op": "book",
            "patient_id": who[n],
            "provider_id": "DMD1",
            "start": slot.isoformat(),
        }
        commands[point, "reschedule"] = {
            "op": "reschedule",
            "appointment_id": moved.appointment_sr_no,
            "start": new_time.isoformat(),
        }
        commands[point, "cancel"] = {
            "op": "cancel",
            "appointment_id": upcoming[len(CRASH_POINTS) + n].appointment_sr_no,
        }
        commands[point, "create"] = {
            "op": "create",
            "first_name": f"Crash{n}",
            "last_name": point.replace("_", ""),
        }
        commands[point, "pay"] = {"op": "pay", "patient_id": who[n], "amount": f"{11 + n}.{n}0"}
    return commands


def test_workers_killed_at_every_point_of_a_write_leave_nothing_lost_and_nothing_twice(
    live: Served, tmp_path: Path
) -> None:
    sandbox = live.sandbox
    db = tmp_path / "pms.db"
    commands = commands_for(live)

    def crash(key: tuple[str, str]) -> tuple[tuple[str, str], int]:
        point = key[0]
        worker = Worker(live, db, crash_at=point)
        worker.ready()
        assert worker.ask({**commands[key], "crash_after_write": point == "while_tracking"}) is None, "it died"
        return key, worker.stop()

    with ThreadPoolExecutor(max_workers=4) as pool:
        exits = dict(pool.map(crash, commands))
    assert {k: c for k, c in exits.items() if c != -signal.SIGKILL} == {}

    # A new worker on the same store resumes every open entry and follows it to its end.
    survivor = Worker(live, db, reconcile_window=6)
    survivor.ready()
    answer = survivor.ask({"op": "settle_all"}, timeout=120)
    assert answer is not None
    results: dict[str, dict[str, Any]] = answer["results"]
    survivor.stop()

    records = sandbox.writebacks
    by_id = {r.id: r for r in records}
    kinds = Counter(r.kind for r in records)
    assert kinds == {
        k: 3 for k in ("new_appointment", "update_appointment", "appointment_status", "new_patient", "payment")
    }
    # Nothing was ever sent twice: one queued writeback per write that reached the PMS.
    assert len(records) == len({(r.method, tuple(sorted(r.body.items()))) for r in records})
    reached = {"after_sending", "after_answer", "while_tracking"}
    assert len(records) == len(reached) * len(KINDS)
    # Every write that reached the PMS ended written, tracked by its own writeback id.
    written = {v["writeback_id"]: v for v in results.values() if v["status"] == "written"}
    assert set(written) == set(by_id)
    assert all(by_id[wid].state == "success" for wid in written)
    # What never left ended not_applied; what crashed before its intent left no entry at all.
    not_applied = [v for v in results.values() if v["status"] == "not_applied"]
    assert len(not_applied) == len(KINDS)  # the after_intent crashes
    assert len(results) == (len(reached) + 1) * len(KINDS)
    assert asyncio.run(open_entries(db)) == 0


async def open_entries(db: Path) -> int:
    store = SqliteStore(db)
    try:
        return len(await store.journal.open_entries())
    finally:
        await store.aclose()


async def test_over_http_writes_that_time_out_after_the_pms_logged_them_end_written_once(live: Served) -> None:
    """A client timeout shorter than the PMS's answer: every write errors at the client after the PMS
    queued it. Each of the six kinds (5 of each) is followed from the log to ``written``; none is sent
    twice."""
    from decimal import Decimal

    from pms_connect import BookingRequest, NewPatient, PaymentRequest, WritebackState
    from pms_connect.sikka import SikkaProvider
    from pms_connect.writeback import PollSchedule

    sandbox = live.sandbox
    zone = ZoneInfo(sandbox.timezone)
    who = patients(live, 5)
    fast = PollSchedule(min_interval=timedelta(seconds=0.2), max_interval=timedelta(seconds=0.5))
    pms = SikkaProvider(
        sandbox.credentials, timezone=sandbox.timezone, base_url=live.base_url, timeout=0.3, poller=fast
    )
    async with pms:
        await pms.features()
        await pms.known_providers()
        await pms.known_operatories()
        code = next(iter(await pms.payment_types()))
        for n in range(5):
            await pms.patients.get(who[n])  # cached by nothing: read now, while answers come at once
        upcoming = sorted(
            (
                a.appointment_sr_no
                for a in sandbox.world.appointments.values()
                if a.practice_id == "1" and not a.cancelled and a.start.date() > sandbox.today + timedelta(days=2)
            ),
            key=int,
        )[:15]
        for appointment_id in upcoming:  # the reads a reschedule, cancel or confirm makes, cached or not
            await pms.appointments.get(appointment_id)
        sandbox.faults.write_answer_loss = 1.0
        sandbox.faults.write_answer_loss_mode = "timeout"
        sandbox.faults.answer_hold = 1.0
        day = far_weekday(sandbox.today, 65)
        handles = []
        for n in range(5):
            start = datetime.combine(day, time(5, 0), tzinfo=zone) + timedelta(minutes=40 * n)
            handles.append(
                await pms.appointments.book(
                    BookingRequest(
                        patient_id=who[n], provider_id="DMD1", start=start, duration=timedelta(minutes=30)
                    )
                )
            )
            handles.append(await pms.patients.create(NewPatient(first_name=f"Http{n}", last_name="Timeout")))
            handles.append(
                await pms.payments.post(
                    PaymentRequest(patient_id=who[n], amount=Decimal(f"{20 + n}.00"), payment_type=code)
                )
            )
            moved = datetime.combine(far_weekday(sandbox.today, 90), time(5, 0), tzinfo=zone)
            handles.append(await pms.appointments.reschedule(upcoming[n], start=moved + timedelta(hours=n)))
            handles.append(await pms.appointments.cancel(upcoming[5 + n]))
            handles.append(await pms.appointments.confirm(upcoming[10 + n]))
        sandbox.faults.write_answer_loss = 0.0
        assert not any(h.acknowledged for h in handles)
        results = [await pms.writebacks.wait(h) for h in handles]
    assert [r.status for r in results] == [WritebackState.WRITTEN] * 30, [r.message for r in results]
    records = sandbox.writebacks
    assert len(records) == 30, "nothing was sent twice"
    assert sorted(r.writeback_id or "" for r in results) == sorted(r.id for r in records)
