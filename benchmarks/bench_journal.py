"""What the write journal costs per write: SqliteStore (with and without a vault) against MemoryStore.

Run: ``python benchmarks/bench_journal.py [--writes 300] [--runs 5]``

Two measures, medians of ``--runs``, in one run so that the ratios compare like with like:

* the journal alone: one write's journal work (record the intent, acknowledge the writeback id, a poller
  heartbeat, settle), one write after another;
* whole writes: ``payments.post`` against the in-process sandbox (validation, reads that are cached after the
  first write, the journal, the request), each store in turn.

SqliteStore commits every step before the next (WAL, ``synchronous=NORMAL``): that is the price of a
journal that survives a crash, and the figures say what it is on this machine's disk.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from pms_connect import CredentialVault, PaymentRequest
from pms_connect.models import WritebackKind, WritebackResult, WritebackState
from pms_connect.stores import JournalEntry, MemoryStore, SqliteStore, Store, new_entry_id
from pms_connect.testing import FakeClock, SikkaSandbox

VAULT = CredentialVault.from_string(f"k1:{CredentialVault.generate_key()}")


def stores(directory: Path) -> dict[str, Callable[[], Store]]:
    return {
        "MemoryStore": MemoryStore,
        "SqliteStore": lambda: SqliteStore(directory / f"plain-{time.perf_counter_ns()}.db"),
        "SqliteStore + vault": lambda: SqliteStore(directory / f"sealed-{time.perf_counter_ns()}.db", vault=VAULT),
    }


async def journal_alone(store: Store, writes: int, clock: FakeClock) -> float:
    """Seconds of wall time per write for the journal's four steps."""
    started = time.perf_counter()
    for n in range(writes):
        now = clock.now()
        entry = JournalEntry(
            id=new_entry_id(),
            kind=WritebackKind.POST_PAYMENT,
            practice="sikka:bench:1",
            practice_id="1",
            method="POST",
            path="transaction",
            body={"patient_id": "79", "amount": "25.00", "note": "bench", "firstname": "Ada"},
            created_at=now,
            touched_at=now,
        )
        await store.journal.record(entry)
        await store.journal.acknowledge(entry.id, str(500000 + n), at=now)
        await store.journal.touch([entry.id], at=now + timedelta(seconds=5))
        await store.journal.settle(
            entry.id, WritebackResult(handle_id=entry.id, status=WritebackState.WRITTEN), at=now
        )
    return (time.perf_counter() - started) / writes


async def whole_writes(store: Store, writes: int) -> float:
    """Seconds of wall time per ``payments.post`` against the in-process sandbox (after a warm-up write)."""
    sandbox = SikkaSandbox(seed=5, clock=FakeClock())
    async with sandbox.provider(store=store) as pms:
        patient = (await pms.patients.list()).items[0]
        code = next(iter(await pms.payment_types()))
        request = PaymentRequest(patient_id=patient.id, amount=Decimal("25.00"), payment_type=code)
        await pms.payments.post(request)  # warm the caches: what follows is the steady state
        started = time.perf_counter()
        for _ in range(writes):
            await pms.payments.post(request)
        elapsed = (time.perf_counter() - started) / writes
        await pms.writebacks.aclose()
    return elapsed


async def measure(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in stores(Path(tmp)).items():
            alone, whole = [], []
            for _ in range(args.runs):
                store = make()
                alone.append(await journal_alone(store, args.writes, FakeClock()))
                await store.aclose()
                store = make()
                whole.append(await whole_writes(store, args.writes))
                await store.aclose()
            results[name] = (statistics.median(alone), statistics.median(whole))
    return results


def report(results: dict[str, tuple[float, float]], args: argparse.Namespace) -> None:
    base_alone, base_whole = results["MemoryStore"]
    print(f"{args.writes} writes, median of {args.runs} runs (wall time per write)")
    header = f"{'store':22} {'journal alone':>14} {'x Memory':>9} {'whole write':>12} {'x Memory':>9}"
    print(header)
    print("-" * len(header))
    for name, (alone, whole) in results.items():
        print(
            f"{name:22} {alone * 1e6:11.0f} us {alone / base_alone:8.1f}x "
            f"{whole * 1e3:9.2f} ms {whole / base_whole:8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main()
