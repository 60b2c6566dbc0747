"""``ProviderConformance``: the checks as a pytest test class that a provider's tests subclass."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from pms_connect.testing.conformance import checks
from pms_connect.testing.conformance._target import ConformanceTarget

__all__ = ["ProviderConformance"]


class ProviderConformance:
    """The behaviour every provider must show, as tests: subclass it as ``Test...`` and give one fixture.

    ```python
    import pytest

    from pms_connect.stores import MemoryStore
    from pms_connect.testing import FakeClock, SikkaSandbox
    from pms_connect.testing.conformance import ConformanceTarget, ProviderConformance


    class TestMyProvider(ProviderConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def conformance_target(cls) -> ConformanceTarget:
            clock = FakeClock()
            sandbox = SikkaSandbox(clock=clock)
            return ConformanceTarget(
                connect=lambda: sandbox.provider(store=MemoryStore(), page_size=200),
                advance=clock.sleep,
                requests=lambda: len(sandbox.requests),
                refuse_next_write=lambda: sandbox.faults.fail_next_writebacks(1),
            )
    ```

    The fixture ``conformance_target`` returns a
    [ConformanceTarget][pms_connect.testing.conformance.ConformanceTarget]:

    * ``connect`` (required): a factory of async context managers, each opening an independent provider
      instance (its own store) on the same PMS data;
    * ``advance``: lets the provider's time pass so that queued writes complete (``clock.sleep`` of a
      [FakeClock][pms_connect.testing.FakeClock]; None when the PMS applies writes at once);
    * ``requests``: a request counter, to prove bad arguments are refused before anything is sent;
    * ``refuse_next_write``: makes the PMS refuse the next write (else that check is skipped);
    * ``slot_window``, ``dst_day``, ``payment_type``: data the kit finds by itself unless the practice's data
      needs them named (days with working hours and open time; a daylight-saving day with appointments, for a
      PMS that refuses bookings outside working hours; a payment type code).

    Give the fixture ``scope="class"`` to share one PMS (one sandbox) between the checks: each check opens its
    own instances and follows its writes to their end, so they do not disturb each other.

    The class's name does not start with ``Test``, so pytest collects only subclasses. Each test is a plain
    function that runs its check under ``asyncio.run``, whatever the pytest-asyncio (or anyio) configuration;
    a check the target cannot support is skipped. To mark a known failure of a provider, override the test:

    ```python
    @pytest.mark.xfail(strict=True, reason="...")
    def test_write_times_are_local(self, conformance_target: ConformanceTarget) -> None:
        super().test_write_times_are_local(conformance_target)
    ```
    """

    check_timeout: float = 120.0
    """Real seconds after which a check that hangs fails (virtual time over a FakeClock passes much faster)."""

    def run_check(self, check: checks.Check, target: ConformanceTarget) -> None:
        """Run one check in a fresh event loop, failing it after ``check_timeout`` real seconds."""
        asyncio.run(self._bounded(check(target)))

    async def _bounded(self, check: Awaitable[None]) -> None:
        try:
            await asyncio.wait_for(check, self.check_timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the check did not finish within {self.check_timeout:g} s") from None

    def test_provider_surface(self, conformance_target: ConformanceTarget) -> None:
        """The object implements PmsProvider, its zone, clock and connection check. See
        [check_provider_surface][pms_connect.testing.conformance.checks.check_provider_surface].
        """
        self.run_check(checks.check_provider_surface, conformance_target)

    def test_no_duplicate_rows(self, conformance_target: ConformanceTarget) -> None:
        """Every list yields each row once, across pages. See
        [check_no_duplicate_rows][pms_connect.testing.conformance.checks.check_no_duplicate_rows].
        """
        self.run_check(checks.check_no_duplicate_rows, conformance_target)

    def test_pager_views_agree(self, conformance_target: ConformanceTarget) -> None:
        """Iterating, ``all()``, ``pages()``, ``await pager`` and ``first()`` agree. See
        [check_pager_views_agree][pms_connect.testing.conformance.checks.check_pager_views_agree].
        """
        self.run_check(checks.check_pager_views_agree, conformance_target)

    def test_appointments_stay_in_their_window(self, conformance_target: ConformanceTarget) -> None:
        """A window and the filters return exactly what they should. See
        [check_appointments_stay_in_their_window][pms_connect.testing.conformance.checks.check_appointments_stay_in_their_window].
        """
        self.run_check(checks.check_appointments_stay_in_their_window, conformance_target)

    def test_times_are_aware_and_local(self, conformance_target: ConformanceTarget) -> None:
        """Every datetime read is aware, in the practice's zone. See
        [check_times_are_aware_and_local][pms_connect.testing.conformance.checks.check_times_are_aware_and_local].
        """
        self.run_check(checks.check_times_are_aware_and_local, conformance_target)

    def test_write_times_are_local(self, conformance_target: ConformanceTarget) -> None:
        """A write's handle and result times are in the practice's zone. See
        [check_write_times_are_local][pms_connect.testing.conformance.checks.check_write_times_are_local].
        """
        self.run_check(checks.check_write_times_are_local, conformance_target)

    def test_durations_are_elapsed_time_across_dst(self, conformance_target: ConformanceTarget) -> None:
        """A booking across a daylight-saving change keeps its instant and elapsed length. See
        [check_durations_are_elapsed_time_across_dst][pms_connect.testing.conformance.checks.check_durations_are_elapsed_time_across_dst].
        """
        self.run_check(checks.check_durations_are_elapsed_time_across_dst, conformance_target)

    def test_slots_are_never_in_the_past(self, conformance_target: ConformanceTarget) -> None:
        """No slot before now. See
        [check_slots_are_never_in_the_past][pms_connect.testing.conformance.checks.check_slots_are_never_in_the_past].
        """
        self.run_check(checks.check_slots_are_never_in_the_past, conformance_target)

    def test_slots_are_whole_and_free(self, conformance_target: ConformanceTarget) -> None:
        """Whole slots of the asked length, over nothing booked. See
        [check_slots_are_whole_and_free][pms_connect.testing.conformance.checks.check_slots_are_whole_and_free].
        """
        self.run_check(checks.check_slots_are_whole_and_free, conformance_target)

    def test_booking_guard_refuses_the_same_slot(self, conformance_target: ConformanceTarget) -> None:
        """A slot is booked once. See
        [check_booking_guard_refuses_the_same_slot][pms_connect.testing.conformance.checks.check_booking_guard_refuses_the_same_slot].
        """
        self.run_check(checks.check_booking_guard_refuses_the_same_slot, conformance_target)

    def test_recheck_refuses_a_slot_booked_elsewhere(self, conformance_target: ConformanceTarget) -> None:
        """A slot another worker booked since it was found is refused. See
        [check_recheck_refuses_a_slot_booked_elsewhere][pms_connect.testing.conformance.checks.check_recheck_refuses_a_slot_booked_elsewhere].
        """
        self.run_check(checks.check_recheck_refuses_a_slot_booked_elsewhere, conformance_target)

    def test_patient_matching(self, conformance_target: ConformanceTarget) -> None:
        """Exact, ambiguous and none. See
        [check_patient_matching][pms_connect.testing.conformance.checks.check_patient_matching].
        """
        self.run_check(checks.check_patient_matching, conformance_target)

    def test_booking_and_cancelling_are_written(self, conformance_target: ConformanceTarget) -> None:
        """A booking and its cancellation reach ``written`` and read back. See
        [check_booking_and_cancelling_are_written][pms_connect.testing.conformance.checks.check_booking_and_cancelling_are_written].
        """
        self.run_check(checks.check_booking_and_cancelling_are_written, conformance_target)

    def test_rescheduling_is_written(self, conformance_target: ConformanceTarget) -> None:
        """A booked appointment moved to another slot reaches ``written`` and reads back moved. See
        [check_rescheduling_is_written][pms_connect.testing.conformance.checks.check_rescheduling_is_written].
        """
        self.run_check(checks.check_rescheduling_is_written, conformance_target)

    def test_new_patient_is_written(self, conformance_target: ConformanceTarget) -> None:
        """A new chart reaches ``written`` and reads back. See
        [check_new_patient_is_written][pms_connect.testing.conformance.checks.check_new_patient_is_written].
        """
        self.run_check(checks.check_new_patient_is_written, conformance_target)

    def test_payment_is_written(self, conformance_target: ConformanceTarget) -> None:
        """A payment reaches ``written`` and is on the ledger. See
        [check_payment_is_written][pms_connect.testing.conformance.checks.check_payment_is_written].
        """
        self.run_check(checks.check_payment_is_written, conformance_target)

    def test_refused_write_fails(self, conformance_target: ConformanceTarget) -> None:
        """A write the PMS refuses ends ``failed``. See
        [check_refused_write_fails][pms_connect.testing.conformance.checks.check_refused_write_fails].
        """
        self.run_check(checks.check_refused_write_fails, conformance_target)

    def test_writes_complete_in_the_background(self, conformance_target: ConformanceTarget) -> None:
        """``on_complete`` and ``status`` without ``wait``. See
        [check_writes_complete_in_the_background][pms_connect.testing.conformance.checks.check_writes_complete_in_the_background].
        """
        self.run_check(checks.check_writes_complete_in_the_background, conformance_target)

    def test_bad_arguments_raise_before_any_request(self, conformance_target: ConformanceTarget) -> None:
        """InvalidArgumentError, nothing sent. See
        [check_bad_arguments_raise_before_any_request][pms_connect.testing.conformance.checks.check_bad_arguments_raise_before_any_request].
        """
        self.run_check(checks.check_bad_arguments_raise_before_any_request, conformance_target)

    def test_unknown_ids_raise_not_found(self, conformance_target: ConformanceTarget) -> None:
        """NotFoundError. See
        [check_unknown_ids_raise_not_found][pms_connect.testing.conformance.checks.check_unknown_ids_raise_not_found].
        """
        self.run_check(checks.check_unknown_ids_raise_not_found, conformance_target)

    def test_no_phi_in_logs_errors_or_reprs(self, conformance_target: ConformanceTarget) -> None:
        """No canary in a log record, an error or a repr. See
        [check_no_phi_in_logs_errors_or_reprs][pms_connect.testing.conformance.checks.check_no_phi_in_logs_errors_or_reprs].
        """
        self.run_check(checks.check_no_phi_in_logs_errors_or_reprs, conformance_target)
