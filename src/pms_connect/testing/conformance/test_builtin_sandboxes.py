"""The conformance kit against every built-in sandbox:
``python -m pytest --pyargs pms_connect.testing.conformance``.

Each sandbox runs in process (its httpx transport) on a [FakeClock][pms_connect.testing.FakeClock], each
provider instance with its own [MemoryStore][pms_connect.stores.MemoryStore]; one sandbox serves a whole class.
"""

from __future__ import annotations

import pytest

from pms_connect.stores import MemoryStore
from pms_connect.testing import FakeClock, OpenDentalSandbox, SikkaSandbox
from pms_connect.testing.conformance import ConformanceTarget, ProviderConformance

__all__ = ["TestOpenDentalSandbox", "TestSikkaSandbox", "opendental_sandbox_target", "sikka_sandbox_target"]


def sikka_sandbox_target(sandbox: SikkaSandbox | None = None, *, page_size: int = 200) -> ConformanceTarget:
    """The target for [SikkaProvider][pms_connect.sikka.SikkaProvider] on a
    [SikkaSandbox][pms_connect.sikka.sandbox.SikkaSandbox] (a new one on a ``FakeClock`` when none is given).
    ``page_size`` is small, so that the patients and the appointment book span several pages."""
    if sandbox is None:
        sandbox = SikkaSandbox(seed=7, clock=FakeClock())
    clock = sandbox.clock
    if not isinstance(clock, FakeClock):
        raise TypeError("the conformance kit runs a sandbox on a FakeClock")
    chosen = sandbox

    def refuse_next_write() -> None:
        chosen.faults.fail_next_writebacks(1, "Refused by the conformance kit.")

    return ConformanceTarget(
        connect=lambda: chosen.provider(store=MemoryStore(), page_size=page_size),
        advance=clock.sleep,
        requests=lambda: len(chosen.requests),
        refuse_next_write=refuse_next_write,
    )


class TestSikkaSandbox(ProviderConformance):
    """[SikkaProvider][pms_connect.sikka.SikkaProvider] against the Sikka sandbox (a Dentrix practice)."""

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_target(cls) -> ConformanceTarget:
        """One sandbox for the class: every check opens its own provider instances on it."""
        return sikka_sandbox_target()


def opendental_sandbox_target(
    sandbox: OpenDentalSandbox | None = None, *, page_size: int = 50
) -> ConformanceTarget:
    """The target for [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider] on an
    [OpenDentalSandbox][pms_connect.opendental.sandbox.OpenDentalSandbox] (a new one, remote mode, on a
    ``FakeClock`` when none is given): its writes are synchronous, so ``advance`` only lets the clock run for
    the pacing. ``page_size`` is below the remote cap of 100, so that lists span several pages."""
    if sandbox is None:
        sandbox = OpenDentalSandbox(seed=7, clock=FakeClock())
    clock = sandbox.clock
    if not isinstance(clock, FakeClock):
        raise TypeError("the conformance kit runs a sandbox on a FakeClock")
    chosen = sandbox

    def refuse_next_write() -> None:
        chosen.faults.refuse_next_write(message="Refused by the conformance kit.")

    return ConformanceTarget(
        connect=lambda: chosen.provider(store=MemoryStore(), page_size=page_size),
        advance=clock.sleep,
        requests=lambda: len(chosen.requests),
        refuse_next_write=refuse_next_write,
    )


class TestOpenDentalSandbox(ProviderConformance):
    """[OpenDentalProvider][pms_connect.opendental.OpenDentalProvider] against the Open Dental sandbox."""

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_target(cls) -> ConformanceTarget:
        """One sandbox for the class: every check opens its own provider instances on it."""
        return opendental_sandbox_target()
