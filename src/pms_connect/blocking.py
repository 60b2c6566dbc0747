"""The synchronous surface: the whole [PmsProvider][pms_connect.protocol.PmsProvider], typed, for scripts,
Django/Flask and notebooks.

There is no second implementation. [connect][pms_connect.blocking.connect] starts an event loop in a background
thread (anyio's ``BlockingPortal``) and returns a [BlockingProvider][pms_connect.blocking.BlockingProvider]:
each of its methods, and each method of its resources (``pms.appointments`` is a
[BlockingAppointments][pms_connect.blocking.BlockingAppointments], ...), is one call of the async method in that
loop, with the same parameters. A coroutine gives its result; a pager becomes a
[SyncPager][pms_connect.blocking.SyncPager] (iterate it with ``for``):

    from pms_connect.blocking import connect

    with connect(SikkaProvider(creds, timezone="America/Chicago")) as pms:
        print(pms.test_connection())
        for appointment in pms.appointments.list(start=date(2026, 12, 1), end=date(2026, 12, 7)):
            ...

Every name is typed, so a type checker (and an IDE) knows ``pms.appointments.find_slots(...)`` returns a
``list[TimeSlot]`` and reports ``pms.appointmentz`` as an error. What a provider offers beyond the protocol is
reached through ``pms.provider`` (typed as the provider given) and run in the loop with
[call][pms_connect.blocking.BlockingProvider.call] (or [pager][pms_connect.blocking.BlockingProvider.pager] for
a list): ``pms.call(pms.provider.schedules)``.

Calls may come from several threads at once; they all run in the one loop.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Generic, ParamSpec, TypeVar, overload
from zoneinfo import ZoneInfo

from anyio.from_thread import BlockingPortal, start_blocking_portal

from pms_connect.models import (
    Appointment,
    BookingRequest,
    ConnectionCheck,
    FeatureSet,
    InsuranceCarrier,
    InsuranceCoverage,
    NewPatient,
    Operatory,
    Patient,
    PatientMatch,
    PaymentRequest,
    Practice,
    Provider,
    ProviderKind,
    TimeSlot,
    Transaction,
    Writeback,
    WritebackResult,
)
from pms_connect.pagination import AsyncPager, Page
from pms_connect.protocol import (
    AppointmentsResource,
    InsuranceResource,
    OperatoriesResource,
    PatientsResource,
    PaymentsResource,
    PmsProvider,
    PracticesResource,
    ProvidersResource,
    WritebackCallback,
    WritebacksResource,
)

__all__ = [
    "BlockingAppointments",
    "BlockingInsurance",
    "BlockingOperatories",
    "BlockingPatients",
    "BlockingPayments",
    "BlockingPractices",
    "BlockingProvider",
    "BlockingProviders",
    "BlockingWritebacks",
    "SyncPager",
    "connect",
]

T = TypeVar("T")
ProviderT = TypeVar("ProviderT", bound=PmsProvider)
Params = ParamSpec("Params")


def _await(
    portal: BlockingPortal, function: Callable[Params, Awaitable[T]], *args: Params.args, **kwargs: Params.kwargs
) -> T:
    """``await function(*args, **kwargs)`` in the loop."""
    return portal.call(functools.partial(function, *args, **kwargs))


def _run(portal: BlockingPortal, function: Callable[Params, T], *args: Params.args, **kwargs: Params.kwargs) -> T:
    """``function(*args, **kwargs)`` (a plain function) in the loop."""
    return portal.call(functools.partial(function, *args, **kwargs))


def _paged(
    portal: BlockingPortal, function: Callable[Params, AsyncPager[T]], *args: Params.args, **kwargs: Params.kwargs
) -> SyncPager[T]:
    """The pager ``function`` makes (in the loop), for synchronous code. A pager is awaitable (its first page),
    so it is wrapped before it leaves the loop, lest the portal await it."""

    def make() -> SyncPager[T]:
        return SyncPager(function(*args, **kwargs), portal)

    return portal.call(make)


class SyncPager(Generic[T]):
    """An [AsyncPager][pms_connect.pagination.AsyncPager] for synchronous code: iterate it, or call ``all()``,
    ``first()`` or ``pages()``."""

    def __init__(self, pager: AsyncPager[T], portal: BlockingPortal) -> None:
        self._pager = pager
        self._portal = portal

    def pages(self) -> Generator[Page[T], None, None]:
        """Every page in order, as [AsyncPager.pages][pms_connect.pagination.AsyncPager.pages]; leaving the
        loop early (``break``, an exception, ``close()``) cancels the pages fetched ahead."""
        pages = self._pager.pages()
        try:
            while True:
                try:
                    yield self._portal.call(pages.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(pages.aclose)

    def __iter__(self) -> Iterator[T]:
        """``for item in pager``: every item, page by page (one call into the loop per page, not per item)."""
        with contextlib.closing(self.pages()) as pages:
            for page in pages:
                yield from page.items

    def all(self) -> builtins.list[T]:
        """Every item in one list (one call into the loop for the whole list)."""
        return self._portal.call(self._pager.all)

    def first(self) -> T | None:
        """The first item, or None; fetches one page."""
        return self._portal.call(self._pager.first)


class BlockingPractices:
    """``pms.practices``: [PracticesResource][pms_connect.protocol.PracticesResource], synchronously."""

    def __init__(self, resource: PracticesResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(self) -> SyncPager[Practice]:
        """[PracticesResource.list][pms_connect.protocol.PracticesResource.list]."""
        return _paged(self._portal, self._resource.list)


class BlockingProviders:
    """``pms.providers``: [ProvidersResource][pms_connect.protocol.ProvidersResource], synchronously."""

    def __init__(self, resource: ProvidersResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(self, *, active_only: bool = False) -> SyncPager[Provider]:
        """[ProvidersResource.list][pms_connect.protocol.ProvidersResource.list]."""
        return _paged(self._portal, self._resource.list, active_only=active_only)


class BlockingOperatories:
    """``pms.operatories``: [OperatoriesResource][pms_connect.protocol.OperatoriesResource], synchronously."""

    def __init__(self, resource: OperatoriesResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(self, *, include_hidden: bool = False) -> SyncPager[Operatory]:
        """[OperatoriesResource.list][pms_connect.protocol.OperatoriesResource.list]."""
        return _paged(self._portal, self._resource.list, include_hidden=include_hidden)


class BlockingAppointments:
    """``pms.appointments``: [AppointmentsResource][pms_connect.protocol.AppointmentsResource],
    synchronously."""

    def __init__(self, resource: AppointmentsResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: str | None = None,
    ) -> SyncPager[Appointment]:
        """[AppointmentsResource.list][pms_connect.protocol.AppointmentsResource.list]."""
        return _paged(
            self._portal,
            self._resource.list,
            start=start,
            end=end,
            provider_id=provider_id,
            patient_id=patient_id,
            status=status,
        )

    def get(self, appointment_id: str) -> Appointment:
        """[AppointmentsResource.get][pms_connect.protocol.AppointmentsResource.get]."""
        return _await(self._portal, self._resource.get, appointment_id)

    def find_slots(
        self,
        *,
        start: date | datetime,
        end: date | datetime,
        duration: timedelta,
        provider_id: str | None = None,
        operatory: str | None = None,
        kinds: Iterable[ProviderKind] | None = None,
        limit: int | None = None,
    ) -> builtins.list[TimeSlot]:
        """[AppointmentsResource.find_slots][pms_connect.protocol.AppointmentsResource.find_slots]."""
        return _await(
            self._portal,
            self._resource.find_slots,
            start=start,
            end=end,
            duration=duration,
            provider_id=provider_id,
            operatory=operatory,
            kinds=kinds,
            limit=limit,
        )

    def book(self, request: BookingRequest) -> Writeback:
        """[AppointmentsResource.book][pms_connect.protocol.AppointmentsResource.book]."""
        return _await(self._portal, self._resource.book, request)

    def reschedule(
        self,
        appointment_id: str,
        *,
        start: datetime | None = None,
        duration: timedelta | None = None,
        provider_id: str | None = None,
        operatory: str | None = None,
    ) -> Writeback:
        """[AppointmentsResource.reschedule][pms_connect.protocol.AppointmentsResource.reschedule]."""
        return _await(
            self._portal,
            self._resource.reschedule,
            appointment_id,
            start=start,
            duration=duration,
            provider_id=provider_id,
            operatory=operatory,
        )

    def cancel(self, appointment_id: str, *, reason: str | None = None) -> Writeback:
        """[AppointmentsResource.cancel][pms_connect.protocol.AppointmentsResource.cancel]."""
        return _await(self._portal, self._resource.cancel, appointment_id, reason=reason)

    def confirm(self, appointment_id: str) -> Writeback:
        """[AppointmentsResource.confirm][pms_connect.protocol.AppointmentsResource.confirm]."""
        return _await(self._portal, self._resource.confirm, appointment_id)


class BlockingPatients:
    """``pms.patients``: [PatientsResource][pms_connect.protocol.PatientsResource], synchronously."""

    def __init__(self, resource: PatientsResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(self, *, changed_since: date | datetime | None = None) -> SyncPager[Patient]:
        """[PatientsResource.list][pms_connect.protocol.PatientsResource.list]."""
        return _paged(self._portal, self._resource.list, changed_since=changed_since)

    def get(self, patient_id: str) -> Patient:
        """[PatientsResource.get][pms_connect.protocol.PatientsResource.get]."""
        return _await(self._portal, self._resource.get, patient_id)

    def search(
        self,
        *,
        phone: str | None = None,
        name: str | None = None,
        birthdate: date | None = None,
        email: str | None = None,
    ) -> builtins.list[Patient]:
        """[PatientsResource.search][pms_connect.protocol.PatientsResource.search]."""
        return _await(
            self._portal, self._resource.search, phone=phone, name=name, birthdate=birthdate, email=email
        )

    def match(
        self,
        *,
        phone: str,
        first_name: str | None = None,
        last_name: str | None = None,
        birthdate: date | None = None,
    ) -> PatientMatch:
        """[PatientsResource.match][pms_connect.protocol.PatientsResource.match]."""
        return _await(
            self._portal,
            self._resource.match,
            phone=phone,
            first_name=first_name,
            last_name=last_name,
            birthdate=birthdate,
        )

    def create(self, patient: NewPatient) -> Writeback:
        """[PatientsResource.create][pms_connect.protocol.PatientsResource.create]."""
        return _await(self._portal, self._resource.create, patient)


class BlockingInsurance:
    """``pms.insurance``: [InsuranceResource][pms_connect.protocol.InsuranceResource], synchronously."""

    def __init__(self, resource: InsuranceResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def carriers(self) -> SyncPager[InsuranceCarrier]:
        """[InsuranceResource.carriers][pms_connect.protocol.InsuranceResource.carriers]."""
        return _paged(self._portal, self._resource.carriers)

    def coverage(self, patient_id: str) -> list[InsuranceCoverage]:
        """[InsuranceResource.coverage][pms_connect.protocol.InsuranceResource.coverage]."""
        return _await(self._portal, self._resource.coverage, patient_id)


class BlockingPayments:
    """``pms.payments``: [PaymentsResource][pms_connect.protocol.PaymentsResource], synchronously."""

    def __init__(self, resource: PaymentsResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def list(
        self, *, start: date | datetime, end: date | datetime, patient_id: str | None = None
    ) -> SyncPager[Transaction]:
        """[PaymentsResource.list][pms_connect.protocol.PaymentsResource.list]."""
        return _paged(self._portal, self._resource.list, start=start, end=end, patient_id=patient_id)

    def post(self, payment: PaymentRequest) -> Writeback:
        """[PaymentsResource.post][pms_connect.protocol.PaymentsResource.post]."""
        return _await(self._portal, self._resource.post, payment)


class BlockingWritebacks:
    """``pms.writebacks``: [WritebacksResource][pms_connect.protocol.WritebacksResource], synchronously.
    ``wait`` blocks only the calling thread: other threads' calls go on meanwhile."""

    def __init__(self, resource: WritebacksResource, portal: BlockingPortal) -> None:
        self._resource = resource
        self._portal = portal

    def status(self, handle: Writeback) -> WritebackResult:
        """[WritebacksResource.status][pms_connect.protocol.WritebacksResource.status]."""
        return _await(self._portal, self._resource.status, handle)

    def wait(self, handle: Writeback, *, timeout: float | timedelta | None = None) -> WritebackResult:
        """[WritebacksResource.wait][pms_connect.protocol.WritebacksResource.wait]."""
        return _await(self._portal, self._resource.wait, handle, timeout=timeout)

    def cancel(self, handle: Writeback) -> WritebackResult:
        """[WritebacksResource.cancel][pms_connect.protocol.WritebacksResource.cancel]."""
        return _await(self._portal, self._resource.cancel, handle)

    def on_complete(self, handle: Writeback, callback: WritebackCallback) -> None:
        """[WritebacksResource.on_complete][pms_connect.protocol.WritebacksResource.on_complete]. The callback
        runs in the facade's loop thread: keep it short, and do not call the facade from it (that would
        wait on the loop it is running in; anyio refuses with ``RuntimeError``)."""
        _run(self._portal, self._resource.on_complete, handle, callback)


class BlockingProvider(Generic[ProviderT]):
    """A provider driven synchronously: [PmsProvider][pms_connect.protocol.PmsProvider]'s surface, each call run
    in the facade's loop. Use it as a context manager (``with connect(provider) as pms``: entering it enters
    the async provider, leaving it leaves the provider and stops the loop), or call
    [close][pms_connect.blocking.BlockingProvider.close]."""

    def __init__(self, provider: ProviderT, portal: BlockingPortal, stack: contextlib.ExitStack) -> None:
        self._provider = provider
        self._portal = portal
        self._stack = stack
        self._lock = threading.Lock()
        self._entered: contextlib.AbstractContextManager[object] | None = None
        self._closed = False
        self._practices = BlockingPractices(provider.practices, portal)
        self._providers = BlockingProviders(provider.providers, portal)
        self._operatories = BlockingOperatories(provider.operatories, portal)
        self._appointments = BlockingAppointments(provider.appointments, portal)
        self._patients = BlockingPatients(provider.patients, portal)
        self._insurance = BlockingInsurance(provider.insurance, portal)
        self._payments = BlockingPayments(provider.payments, portal)
        self._writebacks = BlockingWritebacks(provider.writebacks, portal)

    # -- what the provider offers beyond the protocol -------------------------------------------------------

    @property
    def provider(self) -> ProviderT:
        """The async provider underneath, typed as it was given, for what it offers beyond the protocol: run
        its coroutines with [call][pms_connect.blocking.BlockingProvider.call] (its objects belong to the
        facade's loop; don't await them in another)."""
        return self._provider

    @overload
    def call(
        self, function: Callable[Params, Awaitable[T]], /, *args: Params.args, **kwargs: Params.kwargs
    ) -> T: ...

    @overload
    def call(self, function: Callable[Params, T], /, *args: Params.args, **kwargs: Params.kwargs) -> T: ...

    def call(self, function: Callable[Params, object], /, *args: Params.args, **kwargs: Params.kwargs) -> object:
        """``function(*args, **kwargs)`` run in the facade's loop, its result awaited there when it is
        awaitable: e.g. ``pms.call(pms.provider.schedules)``. A function that returns a pager would give its
        first page: use [pager][pms_connect.blocking.BlockingProvider.pager] for one."""
        return self._portal.call(functools.partial(function, *args, **kwargs))

    def pager(
        self, function: Callable[Params, AsyncPager[T]], /, *args: Params.args, **kwargs: Params.kwargs
    ) -> SyncPager[T]:
        """The pager ``function(*args, **kwargs)`` returns, for synchronous code: e.g.
        ``pms.pager(pms.provider.patients.query, {"cell": "5550102030"})``."""
        return _paged(self._portal, function, *args, **kwargs)

    # -- the protocol ---------------------------------------------------------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        """[PmsProvider.timezone][pms_connect.protocol.PmsProvider.timezone]."""
        provider = self._provider
        return _run(self._portal, lambda: provider.timezone)

    def now(self) -> datetime:
        """[PmsProvider.now][pms_connect.protocol.PmsProvider.now]."""
        return _run(self._portal, self._provider.now)

    def today(self) -> date:
        """[PmsProvider.today][pms_connect.protocol.PmsProvider.today]."""
        return _run(self._portal, self._provider.today)

    def known_providers(self) -> builtins.list[Provider]:
        """[PmsProvider.known_providers][pms_connect.protocol.PmsProvider.known_providers]."""
        return _await(self._portal, self._provider.known_providers)

    def known_operatories(self) -> builtins.list[Operatory]:
        """[PmsProvider.known_operatories][pms_connect.protocol.PmsProvider.known_operatories]."""
        return _await(self._portal, self._provider.known_operatories)

    def clear_cache(self) -> None:
        """[PmsProvider.clear_cache][pms_connect.protocol.PmsProvider.clear_cache]."""
        _run(self._portal, self._provider.clear_cache)

    @property
    def practices(self) -> BlockingPractices:
        """[PmsProvider.practices][pms_connect.protocol.PmsProvider.practices]."""
        return self._practices

    @property
    def providers(self) -> BlockingProviders:
        """[PmsProvider.providers][pms_connect.protocol.PmsProvider.providers]."""
        return self._providers

    @property
    def operatories(self) -> BlockingOperatories:
        """[PmsProvider.operatories][pms_connect.protocol.PmsProvider.operatories]."""
        return self._operatories

    @property
    def appointments(self) -> BlockingAppointments:
        """[PmsProvider.appointments][pms_connect.protocol.PmsProvider.appointments]."""
        return self._appointments

    @property
    def patients(self) -> BlockingPatients:
        """[PmsProvider.patients][pms_connect.protocol.PmsProvider.patients]."""
        return self._patients

    @property
    def insurance(self) -> BlockingInsurance:
        """[PmsProvider.insurance][pms_connect.protocol.PmsProvider.insurance]."""
        return self._insurance

    @property
    def payments(self) -> BlockingPayments:
        """[PmsProvider.payments][pms_connect.protocol.PmsProvider.payments]."""
        return self._payments

    @property
    def writebacks(self) -> BlockingWritebacks:
        """[PmsProvider.writebacks][pms_connect.protocol.PmsProvider.writebacks]."""
        return self._writebacks

    def test_connection(self) -> ConnectionCheck:
        """[PmsProvider.test_connection][pms_connect.protocol.PmsProvider.test_connection]."""
        return _await(self._portal, self._provider.test_connection)

    def get_features(self) -> FeatureSet:
        """[PmsProvider.get_features][pms_connect.protocol.PmsProvider.get_features]."""
        return _await(self._portal, self._provider.get_features)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Leave the provider (its ``__aexit__`` if the facade was entered, else its
        [aclose][pms_connect.protocol.PmsProvider.aclose]) and stop the loop's thread; without it the thread
        outlives the script's work. Safe to call more than once; calls after it raise ``RuntimeError``."""
        self._close(None, None, None)

    def __enter__(self) -> BlockingProvider[ProviderT]:
        """``with connect(...) as pms``: enter the async provider (``async with provider``, in the loop) and
        return the facade."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this blocking provider is closed")
            if self._entered is not None:
                raise RuntimeError("this blocking provider is entered already")
            entered = self._portal.wrap_async_context_manager(self._provider)
            try:
                entered.__enter__()
            except BaseException:
                self._closed = True
                try:
                    self._portal.call(self._provider.aclose)
                finally:
                    self._stack.close()
                raise
            self._entered = entered
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Leave the async provider (its ``__aexit__`` sees the exception, if any) and stop the loop."""
        self._close(exc_type, exc, tb)

    def _close(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            entered, self._entered = self._entered, None
        try:
            if entered is not None:
                entered.__exit__(exc_type, exc, tb)
            else:
                self._portal.call(self._provider.aclose)
        finally:
            self._stack.close()

    def __repr__(self) -> str:
        return f"blocking({self._provider!r})"


def connect(provider: ProviderT) -> BlockingProvider[ProviderT]:
    """Drive ``provider`` (any async [PmsProvider][pms_connect.protocol.PmsProvider]) from synchronous code:
    starts the loop's thread, to be stopped by ``with`` or [close][pms_connect.blocking.BlockingProvider.close].
    """
    stack = contextlib.ExitStack()
    portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
    try:
        # Made in the loop: a provider may build its resources on first access, with the loop's objects.
        return _run(portal, BlockingProvider, provider, portal, stack)
    except BaseException:
        stack.close()
        raise
