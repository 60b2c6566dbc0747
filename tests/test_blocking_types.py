"""The synchronous surface is typed as the async protocol is: the same methods with the same parameters, and a
type checker that sees every result type and reports every typo."""

from __future__ import annotations

import contextlib
import inspect
import re
import sqlite3
from pathlib import Path

import mypy.api
import pytest

from pms_connect import blocking, protocol

ROOT = Path(__file__).resolve().parents[1]

# Each protocol and the class that gives its surface to synchronous code.
MIRRORS: dict[type, type] = {
    protocol.PracticesResource: blocking.BlockingPractices,
    protocol.ProvidersResource: blocking.BlockingProviders,
    protocol.OperatoriesResource: blocking.BlockingOperatories,
    protocol.AppointmentsResource: blocking.BlockingAppointments,
    protocol.PatientsResource: blocking.BlockingPatients,
    protocol.InsuranceResource: blocking.BlockingInsurance,
    protocol.PaymentsResource: blocking.BlockingPayments,
    protocol.WritebacksResource: blocking.BlockingWritebacks,
    protocol.PmsProvider: blocking.BlockingProvider,
}
# The async lifecycle, which the facade replaces with close() and with.
LIFECYCLE = {"aclose", "__aenter__", "__aexit__"}


def synchronous(annotation: str) -> str:
    """What an annotation of the async protocol becomes on the synchronous surface."""
    annotation = re.sub(r"\bAsyncPager\[", "SyncPager[", annotation)
    for proto, mirror in MIRRORS.items():
        annotation = re.sub(rf"\b{proto.__name__}\b", mirror.__name__, annotation)
    return annotation


def members(proto: type) -> list[str]:
    return sorted(name for name in vars(proto) if not name.startswith("_") and name not in LIFECYCLE)


@pytest.mark.parametrize("proto", list(MIRRORS), ids=lambda p: p.__name__)
def test_every_protocol_member_has_its_synchronous_twin(proto: type) -> None:
    mirror = MIRRORS[proto]
    assert members(proto), proto
    for name in members(proto):
        want, have = inspect.getattr_static(proto, name), inspect.getattr_static(mirror, name, None)
        assert have is not None, f"{mirror.__name__} lacks {name}"
        where = f"{mirror.__name__}.{name}"
        if isinstance(want, property):
            assert isinstance(have, property), where
            assert have.fget is not None
            assert want.fget is not None
            want_returns = want.fget.__annotations__["return"]
            assert have.fget.__annotations__["return"] == synchronous(want_returns), where
            doc = have.fget.__doc__ or ""
        else:
            assert not inspect.iscoroutinefunction(have), where
            theirs, ours = inspect.signature(want), inspect.signature(have)
            assert [
                (p.name, p.kind, p.default, synchronous(str(p.annotation))) for p in theirs.parameters.values()
            ] == [(p.name, p.kind, p.default, str(p.annotation)) for p in ours.parameters.values()], where
            assert ours.return_annotation == synchronous(theirs.return_annotation), where
            doc = have.__doc__ or ""
        assert f"[pms_connect.protocol.{proto.__name__}.{name}]" in doc, (
            f"{where}: its docstring refers to the protocol"
        )


SAMPLE = """\
from datetime import date, timedelta

from pms_connect.blocking import connect
from pms_connect.sikka import SikkaProvider


def use(provider: SikkaProvider) -> None:
    with connect(provider) as pms:
        start, end = date(2026, 12, 1), date(2026, 12, 8)
        # reveal: builtins.list[pms_connect.models.TimeSlot]
        reveal_type(pms.appointments.find_slots(start=start, end=end, duration=timedelta(minutes=30)))
        # reveal: pms_connect.blocking.SyncPager[pms_connect.models.Appointment]
        reveal_type(pms.appointments.list(start=start, end=end))
        # reveal: pms_connect.models.Patient | None
        reveal_type(pms.patients.list().first())
        # reveal: pms_connect.blocking.BlockingWritebacks
        reveal_type(pms.writebacks)
        # reveal: pms_connect.sikka.provider.SikkaProvider
        reveal_type(pms.provider)
        # reveal: pms_connect.scheduling.PracticeHours
        reveal_type(pms.call(pms.provider.schedules))
        # reveal: pms_connect.blocking.SyncPager[pms_connect.models.Patient]
        reveal_type(pms.pager(pms.provider.patients.query, {"cell": "5550102030"}))
        # reveal: builtins.int
        reveal_type(pms.call(lambda: pms.provider.writebacks.pending_count))
        # error: attr-defined
        pms.appointmentz.list()
        # error: attr-defined
        pms.appointments.lisst()
        # error: call-arg
        pms.providers.list(active=True)
        # error: call-overload
        pms.call(pms.provider.status_value, 3)
"""


def expectations(source: str) -> dict[int, tuple[str, str]]:
    """``# reveal: <type>`` or ``# error: <code>`` on a line: what mypy must say of the next line."""
    found = {}
    for number, line in enumerate(source.splitlines(), start=1):
        mark = re.fullmatch(r"\s*# (reveal|error): (.+)", line)
        if mark:
            found[number + 1] = (mark.group(1), mark.group(2))
    return found


def unqualified(type_name: str) -> str:
    """Newer mypy versions print builtins without their module (``list[...]`` for ``builtins.list[...]``)."""
    return type_name.replace("builtins.", "")


def seed_mypy_cache(into: Path) -> None:
    """Copy the project's mypy cache, when there is one, so that the run checks little beyond the sample (mypy
    still re-checks whatever is stale in it); from a fresh clone the run checks all the sample imports (~10 s).
    Copied with SQLite's backup, which reads a consistent snapshot even while another mypy writes the cache."""
    source = ROOT / ".mypy_cache"
    for database in source.glob("*/*.db"):
        target = into / database.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with (
                contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as theirs,
                contextlib.closing(sqlite3.connect(target)) as ours,
            ):
                theirs.backup(ours)
        except sqlite3.Error:  # locked or broken: mypy fills in what is missing
            target.unlink(missing_ok=True)


def test_mypy_sees_every_type_and_reports_every_typo(tmp_path: Path) -> None:
    """One strict mypy run, with the project's configuration, over a script using the synchronous surface."""
    cache = tmp_path / "mypy_cache"
    seed_mypy_cache(cache)
    script = tmp_path / "sample.py"
    script.write_text(SAMPLE, encoding="utf-8")
    out, err, status = mypy.api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--strict", "--cache-dir", str(cache), str(script)]
    )
    assert err == ""
    reported: dict[int, list[tuple[str, str]]] = {}
    for line in out.splitlines():
        parsed = re.match(rf"{re.escape(str(script))}:(\d+): (note|error): (.*)$", line)
        if parsed:
            reported.setdefault(int(parsed.group(1)), []).append((parsed.group(2), parsed.group(3)))
    want = expectations(SAMPLE)
    assert status == 1, out
    for number, (kind, expected) in want.items():
        messages = reported.get(number, [])
        if kind == "reveal":
            revealed = [m for k, m in messages if k == "note" and m.startswith("Revealed type is")]
            assert revealed, (number, out)
            assert unqualified(revealed[0]) == f'Revealed type is "{unqualified(expected)}"', (number, revealed[0])
            assert not [m for k, m in messages if k == "error"], (number, messages)
        else:
            assert [m for k, m in messages if k == "error" and m.endswith(f"[{expected}]")], (number, messages)
    unexpected = {n: m for n, m in reported.items() if n not in want and any(k == "error" for k, _ in m)}
    assert unexpected == {}, out
