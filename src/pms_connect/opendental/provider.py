"""``OpenDentalProvider``: one Open Dental practice (or one clinic of it), behind the provider-neutral
[PmsProvider][pms_connect.protocol.PmsProvider] surface."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import httpx

from pms_connect import windows
from pms_connect.booking import BookingGuard
from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import InvalidArgumentError, PmsError
from pms_connect.http import RetryPolicy
from pms_connect.models import Appointment, Capability, ConnectionCheck, FeatureSet, Operatory, Provider
from pms_connect.opendental import _mapping as m
from pms_connect.opendental import _slots
from pms_connect.opendental import _wire as w
from pms_connect.opendental._client import OpenDentalClient, largest_page, read_rows
from pms_connect.opendental._resources import (
    Appointments,
    Insurance,
    Operatories,
    Patients,
    Payments,
    Practices,
    Providers,
)
from pms_connect.opendental._writebacks import OpenDentalWritebackSource
from pms_connect.opendental._writes import OpenDentalWrites
from pms_connect.opendental.credentials import OpenDentalCredentials
from pms_connect.opendental.options import MODES, OpenDentalMode, parse_permissions
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.reference import ReferenceCache
from pms_connect.stores import MemoryStore, Store
from pms_connect.writeback import BoundWritebacks, WritebackPoller

if TYPE_CHECKING:
    from pms_connect.protocol import PmsProvider

T = TypeVar("T")

__all__ = ["OpenDentalProvider"]

#: Every read is a GET, and Read All (every key has it) grants every GET.
_READS = frozenset(
    {
        Capability.READ_PRACTICES,
        Capability.READ_PROVIDERS,
        Capability.READ_OPERATORIES,
        Capability.READ_APPOINTMENTS,
        Capability.READ_PATIENTS,
        Capability.READ_INSURANCE,
        Capability.READ_PAYMENTS,
        Capability.READ_SCHEDULES,
    }
)
#: Each write and the API permission group its method needs (Open Dental's "API Permissions" table): a
#: booking is Appointments POST, a reschedule Appointments PUT, a cancellation or confirmation Appointments
#: PUT Break / PUT Confirm (Comm).
_WRITES: dict[Capability, str] = {
    Capability.BOOK_APPOINTMENT: "Appointments",
    Capability.RESCHEDULE_APPOINTMENT: "Appointments",
    Capability.CHANGE_APPOINTMENT_STATUS: "Comm",
    Capability.CREATE_PATIENT: "Patients",
    Capability.POST_PAYMENT: "Payments",
}
_CONFIRMATIONS = 2  # definition category of appointment confirmation statuses


@dataclass(frozen=True)
class PracticeInfo:
    """What the SDK knows of the practice itself; cached per provider instance."""

    practice_id: str
    """The clinic's ``ClinicNum``, ``"0"`` for the whole office."""
    name: str | None


class OpenDentalProvider:
    """One Open Dental practice (or, with ``credentials.clinic_num``, one of its clinics).

    ``timezone`` is the practice's IANA zone: Open Dental keeps wall-clock times without one.

    ``mode`` is how Open Dental is reached ([OpenDentalMode][pms_connect.opendental.OpenDentalMode]):
    ``"remote"`` (Open Dental's cloud API, the default), ``"service"`` (the office's API Service),
    ``"local"`` (the Local API of a running Open Dental program) or ``"waterfall"`` (the API Service when
    it answers, else the remote API). ``base_url`` replaces the mode's URL (in ``"waterfall"``, the
    service's: usually ``http://{server IP}:30223/api/v1``).

    ``permissions`` are the developer key's API permission groups, from the Developer Portal
    (``{"ReadAll", "Appointments", "Comm", "Patients"}``): they set the remote API's pacing (one request
    per 5 s for Read All alone, per second otherwise, two a second with Enterprise) and which writes
    [get_features][pms_connect.opendental.OpenDentalProvider.get_features] reports. Not given, the key is
    taken to hold every write permission (paced at one request a second). ``rate_limit`` replaces the
    pacing of every server: requests per minute, a [RateLimit][pms_connect.ratelimit.RateLimit], or a
    shared [RateLimiter][pms_connect.ratelimit.RateLimiter].

    ``store`` is what the deployment's workers share (the rate budget, the write journal, slot claims, the
    booking lock): [MemoryStore][pms_connect.stores.MemoryStore] by default. The connection: a
    ``transport`` (e.g. the sandbox's) or an ``http_client`` you own (not closed by
    [aclose][pms_connect.opendental.OpenDentalProvider.aclose]; its own timeouts apply, so ``timeout`` or
    ``transport`` beside it raises). ``page_size`` is the rows a list asks for (default and most: 100 remote,
    1000 on the API Service and Local API); ``reference_ttl`` how long providers, chairs, definitions,
    schedules and features are cached.
    """

    def __init__(
        self,
        credentials: OpenDentalCredentials,
        *,
        timezone: str | tzinfo,
        mode: OpenDentalMode = "remote",
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        page_size: int | None = None,
        reference_ttl: timedelta = timedelta(minutes=15),
        rate_limit: int | RateLimit | RateLimiter | None = None,
        permissions: Iterable[str] | None = None,
    ) -> None:
        if not isinstance(credentials, OpenDentalCredentials):
            raise InvalidArgumentError("credentials must be OpenDentalCredentials")
        self.credentials = credentials
        """The developer and customer keys (secrets) and the clinic this provider reads and writes."""
        self.timezone = windows.resolve_zone(timezone)
        """The practice's zone (a ``ZoneInfo``): Open Dental's wall-clock times are read, and written, in it."""
        self.permissions = parse_permissions(permissions)
        """The developer key's declared API permission groups (``ReadAll`` always among them), None when not
        declared."""
        if mode not in MODES:
            raise InvalidArgumentError(f"mode must be one of {', '.join(MODES)}")
        largest = largest_page(mode, self.permissions)
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= largest
        ):
            raise InvalidArgumentError(f"page_size must be between 1 and {largest} in this mode")
        clock = clock or SystemClock()
        self.reference = ReferenceCache(clock, reference_ttl)
        """The [ReferenceCache][pms_connect.reference.ReferenceCache] of providers, chairs, definitions,
        features and the practice itself."""
        self.store: Store = store if store is not None else MemoryStore()
        """What the deployment's workers share: the rate budget, the write journal, slot claims, locks."""
        self.client = OpenDentalClient(
            credentials,
            mode=mode,
            base_url=base_url,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            rate_limit=rate_limit,
            permissions=self.permissions,
            budget=self.store.budget,
            clock=clock,
        )
        """The Open Dental HTTP client (servers, pacing, retries, errors) the resources send through."""
        self.mode: OpenDentalMode = mode
        """How Open Dental is reached."""
        self.clock = self.client.clock
        """The time source (the system clock unless one was given): every cache, deadline and pace uses it."""
        self.page_size = page_size
        """Rows a list asks for per page; None: each server's most (100 remote, 1000 service and local)."""
        self._schedules = _slots.ScheduleCache(self.clock, self.reference.ttl)
        self.practices = Practices(self)
        """[Practices][pms_connect.opendental._resources.Practices]: the clinics (or the office itself)."""
        self.providers = Providers(self)
        """[Providers][pms_connect.opendental._resources.Providers]: the practice's providers."""
        self.operatories = Operatories(self)
        """[Operatories][pms_connect.opendental._resources.Operatories]: the practice's chairs."""
        self.appointments = Appointments(self)
        """[Appointments][pms_connect.opendental._resources.Appointments]: the book, open slots, appointment
        writes."""
        self.patients = Patients(self)
        """[Patients][pms_connect.opendental._resources.Patients]: charts, search, caller matching, new
        patients."""
        self.insurance = Insurance(self)
        """[Insurance][pms_connect.opendental._resources.Insurance]: carriers and coverage."""
        self.payments = Payments(self)
        """[Payments][pms_connect.opendental._resources.Payments]: payments and payment posting."""
        self.guard = BookingGuard(self.store, practice=self.practice_key, clock=self.clock)
        """The [BookingGuard][pms_connect.booking.BookingGuard] that checks and claims a slot for every write
        that books or moves an appointment."""
        self.writeback_source = OpenDentalWritebackSource(self)
        """How the poller learns the fate of a write whose answer was lost (by reading it back); internal."""
        self.writebacks = BoundWritebacks(
            WritebackPoller(journal=self.store.journal, clock=self.clock, leases=self.store),
            self.writeback_source,
            practice=self.practice_key,
            owns_poller=True,
        )
        """[BoundWritebacks][pms_connect.writeback.BoundWritebacks]: following this practice's writes to their
        outcome (``status``, ``wait``, ``cancel``, ``on_complete``)."""
        self.writes = OpenDentalWrites(self)
        """The writes behind the resources' write methods (validated, journaled, sent once); internal."""

    @property
    def clinic_num(self) -> str | None:
        """The clinic this provider reads and writes (from the credentials), None for the whole office."""
        return self.credentials.clinic_num

    @property
    def practice_id(self) -> str:
        """The practice's id as [practices.list][pms_connect.opendental._resources.Practices.list] names it:
        the clinic's ``ClinicNum``, or ``"0"`` for the whole office."""
        return self.credentials.clinic_num or m.NO_CLINIC

    @property
    def practice_key(self) -> str:
        """The practice's key in the store: its locks, slot claims and journal entries."""
        return f"opendental:{self.credentials.key_digest}:{self.practice_id}"

    def now(self) -> datetime:
        """The current time in the practice's zone."""
        return self.clock.now().astimezone(self.timezone)

    def today(self) -> date:
        """Today in the practice's zone: what "today" means for its book, whatever the server's zone."""
        return self.now().date()

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop following writes (their journal entries stay open for the next worker to resume) and close
        the HTTP client, unless it was passed in as ``http_client``."""
        await self.writebacks.aclose()
        await self.client.aclose()

    async def __aenter__(self) -> OpenDentalProvider:
        """Resume following the writes this practice's journal holds open (left by a previous or crashed
        worker)."""
        await self.writebacks.resume()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """[aclose][pms_connect.opendental.OpenDentalProvider.aclose]."""
        await self.aclose()

    # -- reference data -----------------------------------------------------------------------------------

    async def _cached(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        return await self.reference.get(name, load)

    def clear_cache(self) -> None:
        """Forget cached reference data (after the practice changes providers, chairs, definitions or
        schedules)."""
        self.reference.clear()
        self._schedules.clear()

    async def known_providers(self) -> list[Provider]:
        """Every provider of the practice, cached for ``reference_ttl``."""
        return await self._cached("providers", self.providers.list().all)

    async def known_operatories(self) -> list[Operatory]:
        """Every visible chair of the practice, cached for ``reference_ttl``."""
        return await self._cached("operatories", self.operatories.list().all)

    async def confirmation_definitions(self) -> list[w.DefinitionRow]:
        """The practice's appointment confirmation statuses (``GET /definitions?Category=2``, hidden ones
        too: old appointments may carry them), cached for ``reference_ttl``."""

        async def load() -> list[w.DefinitionRow]:
            params = {"Category": str(_CONFIRMATIONS), "includeHidden": "true"}
            return await self.client.pager(
                "definitions", params, w.DefinitionRow, lambda row: row, page_size=self.page_size
            ).all()

        return await self._cached("confirmations", load)

    async def confirmations(self) -> dict[str, str]:
        """The confirmation statuses by ``DefNum`` (an appointment's ``Confirmed``): their ``ItemName``."""
        return {d.DefNum: d.ItemName or "" for d in await self.confirmation_definitions()}

    async def schedules(self, span: windows.Window) -> _slots.Schedules:
        """The schedules of the window's days (hours, the chairs they name, closures, blockouts), cached
        for ``reference_ttl`` (the last few windows)."""
        key = (span.first_day, span.last_day)
        return await self._schedules.get(key, lambda: _slots.load_schedules(self, *key))

    async def seated_chairs(self, provider_id: str, start: datetime, end: datetime) -> frozenset[str]:
        """The chairs the provider's schedule names for all of [start, end) (none: it names none, or the
        provider has no hours then): where a booking seats the provider first."""
        span = windows.window(start, end, self.timezone)
        return (await self.schedules(span)).chairs_of(provider_id, start, end, self.timezone)

    async def busy(self, start: datetime, end: datetime) -> list[Appointment]:
        """What holds time over [start, end): the book's appointments (cancelled ones included, so marked)
        and the blockouts (appointments with no provider, ``status`` ``"Blockout"``)."""
        return await _slots.busy(self, windows.window(start, end, self.timezone))

    async def practice_info(self, *, refresh: bool = False) -> PracticeInfo:
        """The practice's id and name (the clinic's ``Description``, else the ``PracticeTitle``
        preference), cached with the reference data: one request."""
        return await self.reference.get("practice", self._read_practice_info, refresh=refresh)

    async def _read_practice_info(self) -> PracticeInfo:
        clinic = self.clinic_num
        if clinic is None:
            return PracticeInfo(practice_id=m.NO_CLINIC, name=await self._practice_title())
        rows = await self.client.pager("clinics", {}, w.ClinicRow, lambda row: row, page_size=self.page_size).all()
        named = [r for r in rows if r.ClinicNum == clinic]
        return PracticeInfo(practice_id=clinic, name=(named[0].Description or named[0].Abbr) if named else None)

    async def _practice_title(self) -> str | None:
        summary = self.client.summary("GET", "preferences")
        response = await self.client.request("GET", "preferences", params={"PrefName": "PracticeTitle"})
        rows = read_rows(response, w.PreferenceRow, summary)
        return next((r.ValueString for r in rows if r.PrefName == "PracticeTitle" and r.ValueString), None)

    async def practice_title(self) -> str | None:
        """The office's name (its ``PracticeTitle`` preference), cached."""
        return await self._cached("practice_title", self._practice_title)

    # -- checks -------------------------------------------------------------------------------------------

    async def features(self) -> FeatureSet:
        """[get_features][pms_connect.opendental.OpenDentalProvider.get_features], cached for
        ``reference_ttl``: what every write checks first."""
        return await self._cached("features", self.get_features)

    async def test_connection(self) -> ConnectionCheck:
        """Read the practice's name (one request); never raises. ``latency_ms`` is the whole check's time."""
        started = time.perf_counter()
        try:
            info = await self.practice_info(refresh=True)
        except PmsError as exc:
            return ConnectionCheck(ok=False, latency_ms=_elapsed_ms(started), error=str(exc))
        except Exception as exc:  # a check reports, it does not raise
            return ConnectionCheck(
                ok=False, latency_ms=_elapsed_ms(started), error=f"unexpected {type(exc).__name__}"
            )
        return ConnectionCheck(
            ok=True, practice_name=info.name, pms_name=m.PMS_NAME, latency_ms=_elapsed_ms(started)
        )

    async def get_features(self) -> FeatureSet:
        """Reads: one read proves the keys and Read All, which grants every GET. Writes: Open Dental's API
        does not tell a customer key's permissions, so those declared as ``permissions`` decide (all of them
        when none were declared), less any a refusal (401 "Invalid Permissions") has shown missing."""
        await self.practice_info(refresh=True)
        granted = self.permissions
        refused = self.client.refused_permissions
        writes = {
            capability
            for capability, area in _WRITES.items()
            if (granted is None or area in granted) and area not in refused
        }
        return FeatureSet(pms_name=m.PMS_NAME, capabilities=frozenset(_READS | writes))

    def __repr__(self) -> str:
        """Mode, clinic and zone only: no keys, so a provider can be logged."""
        return (
            f"OpenDentalProvider(mode={self.mode!r}, clinic_num={self.clinic_num!r}, "
            f"timezone={self.timezone.key!r})"
        )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


if TYPE_CHECKING:  # mypy proves here that OpenDentalProvider implements the provider-neutral protocol

    def _implements_the_protocol(pms: OpenDentalProvider) -> PmsProvider:
        return pms
