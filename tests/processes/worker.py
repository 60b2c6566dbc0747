"""A worker process for the multi-process tests: one SikkaProvider on a shared SqliteStore, driven by JSON lines.

Run as ``python worker.py CONFIG_JSON``; CONFIG holds ``base_url``, ``db``, the credentials, and optionally
``crash_at`` (a point at which the process kills itself with SIGKILL, as a crash would) and
``reconcile_window`` (seconds). It prints ``{"ready": true}``, then answers one JSON line per command read
from stdin:

* ``{"op": "book", "patient_id", "provider_id", "start", "minutes", "operatory"}``
* ``{"op": "reschedule", "appointment_id", "start"}``, ``{"op": "cancel", "appointment_id"}``
* ``{"op": "create", "first_name", "last_name"}``, ``{"op": "pay", "patient_id", "amount"}``
* ``{"op": "settle_all"}``: wait for every open entry of the practice's journal; their results
* ``{"op": "reads", "n"}``: ``n`` cheap reads through the rate budget, all at once
* ``{"op": "leading"}``: the apps whose poller lease this worker holds
* ``{"op": "sent"}``: how many requests this worker sent, by method and path, and when it read writebacks
* ``{"op": "exit"}``

A write answers ``{"handle", "acknowledged", "writeback_id"}`` or ``{"error": "<ErrorType>"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from pms_connect import BookingRequest, NewPatient, PaymentRequest, PmsError
from pms_connect.clock import SystemClock
from pms_connect.ratelimit import RateLimit
from pms_connect.sikka import SikkaCredentials, SikkaProvider, SikkaWriteOptions
from pms_connect.sikka._wire import PracticeRow
from pms_connect.stores import MemoryStore, RedisStore, SqliteStore
from pms_connect.writeback import PollSchedule, WritebackPoller, handle_from_entry

CRASH_POINTS = ("before_intent", "after_intent", "after_sending", "after_answer", "while_tracking")


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Counting(httpx.AsyncBaseTransport):
    """Counts what this worker sends, by method and path (the sandbox sees every worker's requests as one)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: Counter[str] = Counter()
        self.poll_times: list[float] = []  # wall-clock times of writeback reads, comparable across processes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent[f"{request.method} {request.url.path}"] += 1
        if request.method == "GET" and request.url.path.endswith(("/writebacks", "/writeback_status")):
            self.poll_times.append(time.time())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CrashAfterSending(httpx.AsyncBaseTransport):
    """Sends a write to the server, which handles it, and dies before its answer is read."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method in {"POST", "PUT", "PATCH"} and request.url.path != "/v4/request_key":
            die()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def install_crash(pms: SikkaProvider, store: SqliteStore | RedisStore | MemoryStore, point: str) -> None:
    """Kill this process at ``point`` of its own write. The worker also follows what crashed workers left
    open (its poller acknowledges and touches their entries): those never trigger the crash."""
    journal = store.journal
    record, acknowledge, mark_sent, touch = journal.record, journal.acknowledge, journal.mark_sent, journal.touch
    own: set[str] = set()

    async def recording(entry: Any) -> None:
        if point == "before_intent":
            die()
        own.add(entry.id)
        await record(entry)
        if point == "after_intent":
            die()

    async def acknowledging(entry_id: str, *args: Any, **kwargs: Any) -> bool:
        if point == "after_answer" and entry_id in own:
            die()
        return await acknowledge(entry_id, *args, **kwargs)

    async def marking_sent(entry_id: str, **kwargs: Any) -> None:
        if point == "after_answer" and entry_id in own:
            die()
        await mark_sent(entry_id, **kwargs)

    async def touching(entry_ids: Any, **kwargs: Any) -> None:
        await touch(entry_ids, **kwargs)
        if point == "while_tracking" and own & set(entry_ids):
            die()

    journal.record = recording  # type: ignore[method-assign]
    journal.acknowledge = acknowledging  # type: ignore[method-assign]
    journal.mark_sent = marking_sent  # type: ignore[method-assign]
    journal.touch = touching  # type: ignore[method-assign]


async def write(pms: SikkaProvider, cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    try:
        if op == "book":
            handle = await pms.appointments.book(
                BookingRequest(
                    patient_id=cmd["patient_id"],
                    provider_id=cmd["provider_id"],
                    start=datetime.fromisoformat(cmd["start"]),
                    duration=timedelta(minutes=cmd.get("minutes", 30)),
                    operatory=cmd.get("operatory"),
                    reason="Process test",
                )
            )
        elif op == "reschedule":
            handle = await pms.appointments.reschedule(
                cmd["appointment_id"], start=datetime.fromisoformat(cmd["start"])
            )
        elif op == "cancel":
            handle = await pms.appointments.cancel(cmd["appointment_id"])
        elif op == "create":
            handle = await pms.patients.create(
                NewPatient(first_name=cmd["first_name"], last_name=cmd["last_name"])
            )
        elif op == "pay":
            code = next(iter(await pms.payment_types()))
            handle = await pms.payments.post(
                PaymentRequest(patient_id=cmd["patient_id"], amount=Decimal(cmd["amount"]), payment_type=code)
            )
        else:
            return {"error": f"unknown op {op}"}
    except PmsError as exc:
        return {"error": type(exc).__name__}
    if cmd.get("crash_after_write"):
        await asyncio.sleep(0.5)  # let the poller's first round run (and crash, for while_tracking)
    return {"handle": handle.id, "acknowledged": handle.acknowledged, "writeback_id": handle.writeback_id}


async def reads(pms: SikkaProvider, n: int) -> dict[str, Any]:
    """``n`` cheap reads of the practice, all at once, through the rate budget."""

    async def one() -> None:
        await pms.client.fetch_page(
            "practices", {"practice_id": pms.practice_id}, PracticeRow, index=0, page_size=1
        )

    await asyncio.gather(*(one() for _ in range(n)))
    return {"reads": n}


async def settle_all(pms: SikkaProvider, store: SqliteStore | RedisStore | MemoryStore) -> dict[str, Any]:
    """Wait for every open entry of the practice, then report every entry the journal holds."""
    for entry in await store.journal.open_entries(pms.practice_key):
        await pms.writebacks.wait(handle_from_entry(entry))
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:  # every id, settled ones included (the test's own view)
            ids = [row[0] for row in db.execute("SELECT id FROM pms_connect_journal")]
    elif isinstance(store, RedisStore):
        ids = [k.split(":")[-1] for k in await store._redis.client.keys(store._redis.key("journal", "*"))]
    else:
        ids = list(store.journal._entries)
    results = {}
    for entry_id, entry in (await store.journal.get_many(ids)).items():
        assert entry.result is not None, "an entry is still open"
        results[entry_id] = {
            "status": entry.result.status.value,
            "writeback_id": entry.result.writeback_id or entry.writeback_id,
            "created_id": entry.result.created_id,
            "settled_at": entry.settled_at.isoformat() if entry.settled_at else None,
        }
    return {"results": results}


def dump_tasks() -> None:
    """On SIGUSR1: every task's stack on stderr (to see where a stuck worker waits)."""
    for task in asyncio.all_tasks():
        print(f"task {task.get_name()}:", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None and hasattr(awaited, "cr_frame"):
            frame = awaited.cr_frame or getattr(awaited, "ag_frame", None)
            if frame is not None:
                print(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}", file=sys.stderr)
            awaited = getattr(awaited, "cr_await", None)
        print(f"  awaiting {awaited!r}"[:300], file=sys.stderr)
    sys.stderr.flush()


async def main(config: dict[str, Any]) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    creds = SikkaCredentials.model_validate(config["credentials"])
    store: SqliteStore | RedisStore | MemoryStore
    if config.get("memory"):
        store = MemoryStore()
    elif config.get("redis_url"):
        store = RedisStore(config["redis_url"], prefix=config.get("prefix", "pms_connect"), lock_timeout=60)
    else:
        store = SqliteStore(config["db"], lock_timeout=60)
    point = config.get("crash_at")
    fast = PollSchedule(min_interval=timedelta(seconds=0.2), max_interval=timedelta(seconds=0.5))
    counting = Counting(CrashAfterSending() if point == "after_sending" else httpx.AsyncHTTPTransport())
    extra: dict[str, Any] = {"transport": counting}
    if config.get("rate_limit"):
        extra["rate_limit"] = RateLimit(
            requests=config["rate_limit"],
            per_seconds=config["per_seconds"],
            margin_seconds=config.get("margin_seconds", 1.0),
        )
    poller: PollSchedule | WritebackPoller = fast
    if config.get("lease_ttl"):
        poller = WritebackPoller(
            journal=store.journal,
            clock=SystemClock(),
            schedule=fast,
            leases=store,
            lease_ttl=timedelta(seconds=config["lease_ttl"]),
        )
    pms = SikkaProvider(
        creds,
        timezone=config["timezone"],
        base_url=config["base_url"],
        store=store,
        writes=SikkaWriteOptions(reconcile_window=timedelta(seconds=config.get("reconcile_window", 600))),
        poller=poller,
        timeout=30,
        **extra,
    )
    async with pms:
        if not config.get("cold"):
            await pms.features()  # warm the caches, so that the racing calls race at the booking lock
            await pms.known_providers()
            await pms.known_operatories()
        if point is not None:
            install_crash(pms, store, point)
        print(json.dumps({"ready": True}), flush=True)
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            if cmd["op"] == "exit":
                break
            if cmd["op"] == "settle_all":
                answer = await settle_all(pms, store)
            elif cmd["op"] == "reads":
                answer = await reads(pms, cmd["n"])
            elif cmd["op"] == "leading":
                answer = {"leading": sorted(pms.writebacks.poller.leading)}
            elif cmd["op"] == "sent":
                answer = {"sent": dict(counting.sent), "poll_times": counting.poll_times}
            else:
                answer = await write(pms, cmd)
            print(json.dumps(answer), flush=True)
    await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
